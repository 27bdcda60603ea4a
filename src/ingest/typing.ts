import { quoteIdent, quoteLiteral } from '../core/sql.js';
import type { DatasetDef, FieldDef } from './datasets.js';
import type { StageInput } from './readers/csv.js';
import { idColumns } from './store-schema.js';
import { cleanText } from './values.js';

/**
 * The SQL that reads one file's rows and types them (DOMAIN.md "Precise semantics" and "Real
 * exports"): every value cleaned, IDs normalised and checked, dates and amounts parsed, coded
 * values mapped; each row skipped (empty, footer, repeated header), rejected (with a reason) or
 * loaded, with warnings for optional values that could not be read.
 *
 * Performance traps (see CONTEXT.md): DuckDB macros are text substitution and CASE branches
 * share no sub-expressions, and expressions inside a CASE branch run slower. So the typing is
 * built in levels, each a projection over the one below, every value computed once per row and
 * later levels referring only to columns; heavy work (check digit, birth date) is a column of its
 * own. No window function: the scan and the expressions run in parallel, and the staging table's
 * rowid (insertion order is preserved) gives the row number of a file DuckDB reads directly.
 */

/** Config `values`: field → cleaned spelling → canonical value. */
export type ValueMap = Record<string, Record<string, string>>;

const src = (input: StageInput, field: FieldDef): string | undefined => {
  const i = input.mapping.fields[field.name];
  return i === undefined ? undefined : quoteIdent(`c${i}`);
};
const col = (prefix: string, field: FieldDef) => quoteIdent(`_${prefix}_${field.name}`);
const DIRTY = quoteIdent('_dirty');
const SKIP = quoteIdent('skip_reason');

/**
 * Reasons of a value that is present but not usable, by code. `{f}` is the field's label.
 * Issue codes come from values.ts (CellIssue); the others from typing.
 */
export const VALUE_REASONS: Record<string, (label: string) => string> = {
  missing_field: (l) => `缺少必填字段${l}`,
  excel_error: (l) => `${l}是 Excel 错误值（如 #N/A，多为查找公式没有找到匹配）`,
  formula_no_value: (l) => `${l}是没有保存计算结果的公式（文件由程序生成后未在 Excel/WPS 中打开保存）`,
  ambiguous_date: (l) => `${l}是带小数的数字（如 2014.07），无法确定是哪一天`,
  excel_number: (l) => `${l}被 Excel 当作数字保存过，后几位已丢失`,
  bad_date: (l) => `${l}不是可识别的日期`,
  bad_number: (l) => `${l}不是数字`,
  bad_value: (l) => `${l}的值无法识别`,
};
const ISSUE_CODE: Record<string, string> = { error: 'excel_error', formula: 'formula_no_value', ambiguous_date: 'ambiguous_date', excel_number: 'excel_number' };

interface Check {
  /** Condition on the level's columns. */
  when: string;
  /** reason code:field */
  key: string;
  /** SQL expression of the value as written (warnings only). */
  value?: string;
}

/** Reject/warning keys of an issue column: one key per possible issue. */
function issueChecks(field: FieldDef, issue: string): Check[] {
  return Object.entries(ISSUE_CODE).map(([code, reason]) => ({ when: `${issue} = ${quoteLiteral(code)}`, key: `${reason}:${field.name}` }));
}

/** Expression mapping a coded value's cleaned text to its canonical value (or NULL). */
function enumSql(text: string, field: FieldDef, mapped: Record<string, string> | undefined): string {
  const standard = Object.entries(field.values ?? {}).flatMap(([canonical, spellings]) =>
    spellings.map((s) => `WHEN ${quoteLiteral(cleanText(s)!)} THEN ${quoteLiteral(canonical)}`),
  );
  const base = field.notes ? `bidui_strip_note(${text})` : text;
  const std = `CASE ${base} ${standard.join(' ')} END`;
  const entries = Object.entries(mapped ?? {});
  if (entries.length === 0) return std;
  return `coalesce(CASE ${text} ${entries.map(([k, v]) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(v)}`).join(' ')} END, ${std})`;
}

export interface TypedSql {
  /** CREATE TEMP TABLE … AS body; bind $header (the header cells joined by U+0001). */
  select: string;
  /** CASE mapping a reject/warning key to its Chinese reason. */
  reasonOf: (keyColumn: string) => string;
  /** The household fields left to stage.ts (roster): their text and issue columns are kept. */
  householdFields: FieldDef[];
}

/** Options of one file's typing. */
export interface TypingOptions {
  values: ValueMap;
  /** Roster: rows are never rejected for their ID (missing → Q1), household fields filled later. */
  roster: boolean;
}

/**
 * The SELECT that reads and types one file's rows. Columns: source_row, the store columns,
 * skip_reason, reject_key, row_json (rejects only), warnings (list of {code, field, value}), and
 * for the roster the text (_t_*) and issue (_i_*) columns of the household fields.
 */
export function typedSelectSql(def: DatasetDef, input: StageInput, readSql: string, options: TypingOptions): TypedSql {
  const normalised = input.kind === 'normalised';
  const L: string[][] = [[], [], [], [], [], []];
  const checks: Check[] = [];
  const warnings: Check[] = [];
  const raw: string[] = [];
  const labels = new Map<string, string>();
  const householdFields: FieldDef[] = [];
  const issueOf = (i: number) => `CASE WHEN "__issues" IS NOT NULL THEN nullif(regexp_extract("__issues", '(?:^|;)${i}:([a-z_]+)', 1), '') END`;
  const textValues: string[] = [];
  for (const field of def.fields) {
    const c = src(input, field);
    labels.set(field.name, `「${field.zh}」（列「${input.mapping.fieldHeaders[field.name] ?? field.zh}」）`);
    if (c === undefined) {
      // Absent optional column: NULL store columns.
      if (field.type === 'id') {
        const [id, rawCol, problem, birth, digits] = idColumns(field).map(quoteIdent) as [string, string, string, string, string];
        L[2]!.push(`NULL::VARCHAR AS ${id}`);
        L[3]!.push(`NULL::DATE AS ${birth}`, `NULL::VARCHAR AS ${rawCol}`);
        L[4]!.push(`NULL::VARCHAR AS ${problem}`);
        L[5]!.push(`NULL::VARCHAR AS ${digits}`);
      } else {
        L[2]!.push(`NULL::${field.type === 'date' ? 'DATE' : field.type === 'number' ? 'DECIMAL(18, 2)' : 'VARCHAR'} AS ${quoteIdent(field.name)}`);
      }
      continue;
    }
    const index = input.mapping.fields[field.name]!;
    raw.push(`${quoteLiteral(field.name)}, ${c}`);
    const t = col('t', field);
    const iss = col('i', field);
    const name = quoteIdent(field.name);
    const household = options.roster && field.household === true;
    if (household) householdFields.push(field);
    if (field.type === 'id') {
      const [id, rawCol, problem, birth, digits] = idColumns(field).map(quoteIdent) as [string, string, string, string, string];
      const n = col('n', field);
      const check = col('c', field);
      L[0]!.push(`bidui_norm_id(${c}) AS ${n}`, `${normalised ? issueOf(index) : 'NULL::VARCHAR'} AS ${col('x', field)}`);
      L[1]!.push(`coalesce(${col('x', field)}, CASE WHEN starts_with(${n}, '#') OR starts_with(${n}, '=') THEN bidui_cell_issue(${c}) END) AS ${iss}`);
      L[2]!.push(`CASE WHEN ${iss} IN ('error', 'formula') THEN NULL ELSE ${n} END AS ${id}`);
      L[3]!.push(`bidui_id_birth(${id}) AS ${birth}`, `bidui_check_char(${id}) AS ${check}`, `CASE WHEN ${c} IS DISTINCT FROM ${id} THEN ${c} END AS ${rawCol}`);
      L[4]!.push(`CASE WHEN ${iss} = 'excel_number' THEN 'excel' ELSE bidui_id_problem_static_bc(${id}, ${birth}, ${check}) END AS ${problem}`);
      L[5]!.push(`CASE WHEN ${problem} = 'excel' THEN bidui_excel_digits(${id}) END AS ${digits}`);
      const isPerson = field.name === 'id_number';
      if (field.required && !(options.roster && isPerson)) {
        checks.push(...issueChecks(field, iss).filter((k) => !k.key.startsWith('excel_number')), { when: `${id} IS NULL OR ${id} = ''`, key: `missing_field:${field.name}` });
      } else if (!field.required) {
        warnings.push(...issueChecks(field, iss).filter((k) => !k.key.startsWith('excel_number')).map((k) => ({ ...k, value: c })));
      }
      continue;
    }
    textValues.push(c);
    const issue = normalised ? `coalesce(${issueOf(index)}, bidui_issue_in(${c}, ${DIRTY}))` : `bidui_issue_in(${c}, ${DIRTY})`;
    const text = field.type === 'name' ? `bidui_name_in(${c}, ${DIRTY})` : `bidui_text_in(${c}, ${DIRTY})`;
    L[0]!.push(`${text} AS ${t}`, `${issue} AS ${iss}`);
    const usable = `CASE WHEN ${iss} IS NULL THEN ${t} END`;
    switch (field.type) {
      case 'date': {
        const parts = col('p', field);
        L[1]!.push(`bidui_date_parts_text(${usable}) AS ${parts}`);
        L[2]!.push(`bidui_date_from_parts(${parts}) AS ${name}`);
        break;
      }
      case 'number':
        L[1]!.push(`bidui_parse_number(${usable}) AS ${name}`);
        break;
      case 'enum':
        L[1]!.push(`${enumSql(usable, field, options.values[field.name])} AS ${name}`);
        break;
      default:
        L[1]!.push(`${field.code ? `bidui_code(${usable})` : usable} AS ${name}`);
    }
    if (household) continue; // stage.ts fills and checks them per household
    const unreadable = field.type === 'date' ? 'bad_date' : field.type === 'number' ? 'bad_number' : field.type === 'enum' ? 'bad_value' : undefined;
    if (field.required) {
      checks.push(
        { when: `${t} IS NULL AND ${iss} IS NULL`, key: `missing_field:${field.name}` },
        ...issueChecks(field, iss),
        ...(unreadable ? [{ when: `${name} IS NULL`, key: `${unreadable}:${field.name}` }] : []),
      );
    } else {
      warnings.push(...issueChecks(field, iss).map((k) => ({ ...k, value: c })));
      if (unreadable) warnings.push({ when: `${iss} IS NULL AND ${t} IS NOT NULL AND ${name} IS NULL`, key: `${unreadable}:${field.name}`, value: c });
    }
  }

  // Skipped rows: no ID value, and every cell blank, or a footer word in a cell, or the header again.
  const person = def.fields.find((fd) => fd.name === 'id_number')!;
  const all = Array.from({ length: input.columnCount }, (_, i) => quoteIdent(`c${i}`));
  const joined = `concat_ws(chr(1), ${all.join(', ')})`;
  const personProblem = quoteIdent(idColumns(person)[2]);
  const skip = `CASE WHEN ${personProblem} IN ('missing', 'length', 'chars', 'excel') AND NOT bidui_has_id(${col('n', person)}) THEN
      CASE WHEN bidui_row_blank(${joined}) THEN 'empty'
           WHEN bidui_row_footer(${joined}) THEN 'footer'
           WHEN concat_ws(chr(1), ${all.map((a) => `coalesce(${a}, '')`).join(', ')}) = $header THEN 'header' END END`;

  const rejectKey = checks.length ? `CASE WHEN ${SKIP} IS NOT NULL THEN NULL ${checks.map((c) => `WHEN ${c.when} THEN ${quoteLiteral(c.key)}`).join(' ')} END` : 'NULL::VARCHAR';
  const warningList = warnings.length
    ? `CASE WHEN ${SKIP} IS NULL AND (${warnings.map((w) => `(${w.when})`).join(' OR ')}) THEN list_filter([${warnings
        .map((w) => `CASE WHEN ${w.when} THEN {'code': ${quoteLiteral(w.key.split(':')[0]!)}, 'field': ${quoteLiteral(w.key.split(':')[1]!)}, 'value': ${w.value}::VARCHAR} END`)
        .join(', ')}], x -> x IS NOT NULL) END`
    : 'NULL::STRUCT(code VARCHAR, field VARCHAR, value VARCHAR)[]';
  const project = (exprs: string[], from: string) => `(SELECT *${exprs.map((e) => `, ${e}`).join('')} FROM ${from})`;
  const dirty = textValues.length ? `bidui_row_dirty(concat_ws(chr(1), ${textValues.join(', ')}))` : 'false';
  let from = project([`${dirty} AS ${DIRTY}`], readSql);
  for (const exprs of L) from = project(exprs, from);
  from = project([`${skip} AS ${SKIP}`], from);
  from = project([`${rejectKey} AS reject_key`], from);
  const sourceRow = normalised ? 'CAST("__row" AS BIGINT)' : 'NULL::BIGINT';
  const keep = householdFields.flatMap((fd) => [col('t', fd), col('i', fd)]);
  // Rows stage.ts may still reject (a household value missing) keep their values as written too.
  const mayReject = householdFields.filter((fd) => fd.required).map((fd) => `${quoteIdent(fd.name)} IS NULL`);
  const select = `SELECT ${sourceRow} AS source_row, ${storeColumns(def).map(quoteIdent).join(', ')}, ${SKIP}, reject_key,
    CASE WHEN reject_key IS NOT NULL${mayReject.map((m) => ` OR (${SKIP} IS NULL AND ${m})`).join('')} THEN json_object(${raw.join(', ')})::VARCHAR END AS row_json,
    ${warningList} AS warnings${keep.length ? `, ${keep.join(', ')}` : ''}
  FROM ${from}`;
  const keys = [...new Set([...checks, ...warnings].map((c) => c.key).concat(householdKeys(householdFields)))];
  const reasonOf = (key: string) =>
    keys.length ? `CASE ${key} ${keys.map((k) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(reasonText(k, labels, def))}`).join(' ')} END` : 'NULL';
  return { select, reasonOf, householdFields };
}

/** Keys stage.ts can give the household fields of the roster. */
function householdKeys(fields: FieldDef[]): string[] {
  const codes = ['missing_field', 'excel_error', 'formula_no_value', 'ambiguous_date', 'excel_number', 'bad_date', 'bad_number', 'bad_value'];
  return fields.flatMap((fd) => [...codes, ...codes.map((c) => `${c}_filled`), 'household_missing'].map((c) => `${c}:${fd.name}`));
}

function reasonText(key: string, labels: Map<string, string>, def: DatasetDef): string {
  const [code, field] = key.split(':') as [string, string];
  const label = labels.get(field) ?? field;
  if (code === 'household_missing') return `本户（户编号相同的各行）都没有可用的${label}`;
  if (code.endsWith('_filled')) return `${reasonText(`${code.slice(0, -'_filled'.length)}:${field}`, labels, def)}，已按本户其他行（户主行）的值补全`;
  const text = (VALUE_REASONS[code] ?? ((l: string) => `${l}：${code}`))(label);
  const values = def.fields.find((fd) => fd.name === field)?.values;
  if (code === 'bad_value' && values) return `${text}（可用值：${Object.values(values).flat().join('、')}）`;
  return text;
}

/** The store columns of a dataset, in table order (after snapshot_id, file_no, source_row). */
export const storeColumns = (def: DatasetDef): string[] => def.fields.flatMap((fd) => (fd.type === 'id' ? idColumns(fd) : [fd.name]));

/**
 * The read_csv call of a staged input: DuckDB reads every column as text, no detection. With a
 * rejects table, refused rows are kept there (and counted by the caller); header = false reads
 * the header record as a row (the check of a direct read).
 */
export function readCsvSql(input: StageInput, rejectsTable: string | undefined, header = true): string {
  const names = input.kind === 'normalised' ? ['__row', '__issues'] : [];
  names.push(...Array.from({ length: input.columnCount }, (_, i) => `c${i}`));
  const columns = names.map((n) => `${quoteLiteral(n)}: 'VARCHAR'`).join(', ');
  const layout = input.kind === 'raw'
    ? `delim = ${quoteLiteral(input.delimiter)}, new_line = ${quoteLiteral(input.newline === '\r\n' ? '\\r\\n' : input.newline === '\r' ? '\\r' : '\\n')}, skip = ${input.skip}`
    : `delim = ',', new_line = '\\n'`;
  return `read_csv(${quoteLiteral(input.csvPath)},
    header = ${header}, auto_detect = false, all_varchar = true, ${layout},
    quote = '"', escape = '"', columns = {${columns}}, null_padding = false,
    ${rejectsTable ? `store_rejects = true, rejects_table = ${quoteLiteral(rejectsTable)}, rejects_scan = ${quoteLiteral(`${rejectsTable}_scans`)},` : ''}
    max_line_size = 10000000)`;
}
