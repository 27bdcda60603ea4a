import { quoteIdent, quoteLiteral } from '../core/sql.js';
import type { DatasetDef, FieldDef } from './datasets.js';
import type { StageInput } from './readers/csv.js';
import { idColumns } from './store-schema.js';
import { cleanText, MAX_CELL_CHARS } from './values.js';

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

/** Warning key of a roster member row whose 户编号 was taken from the row above (花名册 saved as CSV). */
export const HOUSEHOLD_ID_FILLED = 'household_id_filled:household_id';

/** The __issues marker of a title row repeated below the header (a printed export's page break). */
export const REPEATED_TITLE = 'row:title';

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
  excel_error: (l) => `${l}是 Excel 错误值（公式出错：#N/A 多为查找公式没有找到匹配，#REF! 为引用的单元格已删除；LibreOffice 显示为 Err:5xx）`,
  formula_no_value: (l) => `${l}是没有保存计算结果的公式：请在 Excel/WPS 中打开该文件、保存后重新导出`,
  ambiguous_date: (l) => `${l}是带小数的数字（如 2014.07），无法确定是哪一天`,
  excel_number: (l) => `${l}被 Excel 当作数字保存过，后几位已丢失`,
  number_date: (l) => `${l}是数字，但不是可识别的日期（按 Excel 日期序号换算不在 1900–2100 年之间）`,
  too_long: (l) => `${l}超过单元格长度的上限（limits.maxCellChars）：多半是文件损坏或引号不配对`,
  bad_date: (l) => `${l}不是可识别的日期`,
  bad_number: (l) => `${l}不是数字`,
  bad_value: (l) => `${l}的值无法识别`,
};
const ISSUE_CODE: Record<string, string> = { error: 'excel_error', formula: 'formula_no_value', ambiguous_date: 'ambiguous_date', excel_number: 'excel_number', number_date: 'number_date', too_long: 'too_long' };

interface Check {
  /** Condition on the level's columns. */
  when: string;
  /** The key ("reason_code:field"), or an SQL expression giving it (keyExpr) among keys. */
  key?: string;
  keyExpr?: string;
  keys: string[];
  /** SQL expression of the value as written (warnings only). */
  value?: string;
}

const literalCheck = (when: string, key: string, value?: string): Check => ({ when, key, keys: [key], ...(value ? { value } : {}) });

/**
 * One check for a cell's issue (an Excel error value, a formula without result …): a single
 * test per row for clean rows, the reason code chosen only for the rare row with an issue.
 */
function issueCheck(field: FieldDef, issue: string, exclude: string[] = [], value?: string): Check {
  const codes = Object.entries(ISSUE_CODE).filter(([code]) => !exclude.includes(code));
  return {
    when: exclude.length ? `${issue} IN (${codes.map(([code]) => quoteLiteral(code)).join(', ')})` : `${issue} IS NOT NULL`,
    keyExpr: `CASE ${issue} ${codes.map(([code, reason]) => `WHEN ${quoteLiteral(code)} THEN ${quoteLiteral(`${reason}:${field.name}`)}`).join(' ')} END`,
    keys: codes.map(([, reason]) => `${reason}:${field.name}`),
    ...(value ? { value } : {}),
  };
}
const keyOf = (c: Check) => c.keyExpr ?? quoteLiteral(c.key!);

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
  /** limits.maxCellChars, named in the reason of a too long cell. */
  maxCellChars?: number;
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
  /** Columns kept for stage.ts (the roster's household fields). */
  const keep: string[] = [];
  // A value as written, shown in a reject's row or a warning: cut to the cell limit, as the
  // normalised form's cells already are (values.ts limitCell).
  const shown = (c: string) => (input.kind === 'raw' ? `left(${c}, ${Math.trunc(options.maxCellChars ?? MAX_CELL_CHARS)})` : c);
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
        L[3]!.push(`NULL::${field.type === 'date' ? 'DATE' : field.type === 'number' ? 'DECIMAL(18, 2)' : 'VARCHAR'} AS ${quoteIdent(field.name)}`);
      }
      continue;
    }
    const index = input.mapping.fields[field.name]!;
    raw.push(`${quoteLiteral(field.name)}, ${shown(c)}`);
    const t = col('t', field);
    const iss = col('i', field);
    const name = quoteIdent(field.name);
    const household = options.roster && field.household === true;
    if (household) householdFields.push(field);
    if (field.type === 'id') {
      const [id, rawCol, problem, birth, digits] = idColumns(field).map(quoteIdent) as [string, string, string, string, string];
      const n = col('n', field);
      const check = col('c', field);
      // Most IDs are written well-formed: one pattern test (a column) lets the normalisation, the
      // issue, the birth date and the as-written copy skip their own tests for them.
      const wellFormed = col('w', field);
      L[0]!.push(`regexp_full_match(${c}, '[0-9]{17}[0-9X]') AS ${wellFormed}`);
      L[1]!.push(`CASE WHEN ${wellFormed} THEN ${c} ELSE bidui_norm_id(${c}) END AS ${n}`);
      const textIssue = `CASE WHEN NOT ${wellFormed} THEN bidui_cell_issue(${c}) END`;
      L[1]!.push(`${normalised ? `coalesce(${issueOf(index)}, ${textIssue})` : textIssue} AS ${iss}`);
      L[2]!.push(`CASE WHEN ${iss} IN ('error', 'formula', 'too_long') THEN NULL ELSE ${n} END AS ${id}`);
      L[3]!.push(
        `CASE WHEN ${wellFormed} THEN try_strptime(substr(${id}, 7, 8), '%Y%m%d')::DATE ELSE bidui_id_birth(${id}) END AS ${birth}`,
        `bidui_check_char(${id}) AS ${check}`,
        `CASE WHEN ${wellFormed} THEN NULL WHEN ${c} IS DISTINCT FROM ${id} THEN ${c} END AS ${rawCol}`,
      );
      L[4]!.push(`CASE WHEN ${iss} = 'excel_number' THEN 'excel' ELSE bidui_id_problem_static_bc(${id}, ${birth}, ${check}) END AS ${problem}`);
      L[5]!.push(`CASE WHEN ${problem} = 'excel' THEN bidui_excel_digits(${id}) END AS ${digits}`);
      const isPerson = field.name === 'id_number';
      if (field.required && !(options.roster && isPerson)) {
        checks.push(issueCheck(field, iss, ['excel_number']), literalCheck(`${id} IS NULL OR ${id} = ''`, `missing_field:${field.name}`));
      } else if (!field.required) {
        warnings.push(issueCheck(field, iss, ['excel_number'], shown(c)));
      }
      continue;
    }
    textValues.push(c);
    // The cleaned text, NULL for an empty cell and for a cell with an issue (an Excel error value,
    // a formula without result; a spreadsheet's own issues from __issues). The issue itself is
    // worked out only where the text is NULL and the cell is not (rare), in CASE branches.
    const valueIn = field.type === 'name' ? `bidui_name_value_in(${c}, ${DIRTY})` : `bidui_value_in(${c}, ${DIRTY})`;
    L[0]!.push(`${normalised ? `CASE WHEN ${issueOf(index)} IS NOT NULL THEN NULL ELSE ${valueIn} END` : valueIn} AS ${t}`);
    const issueExpr = normalised ? `coalesce(${issueOf(index)}, bidui_cell_issue(${c}))` : `bidui_cell_issue(${c})`;
    // A column of its own: the checks below refer to it several times, and the expression is
    // large (binding it once per reference cost more than typing a small file).
    L[1]!.push(`CASE WHEN ${t} IS NULL AND ${c} IS NOT NULL THEN ${issueExpr} END AS ${iss}`);
    switch (field.type) {
      case 'date': {
        const parts = col('p', field);
        L[1]!.push(`bidui_date_parts_text(${t}) AS ${parts}`);
        L[2]!.push(`bidui_date_from_parts(${parts}) AS ${name}`);
        break;
      }
      case 'number':
        L[1]!.push(`bidui_parse_number(${t}) AS ${name}`);
        break;
      case 'enum':
        L[1]!.push(`${enumSql(t, field, options.values[field.name])} AS ${name}`);
        break;
      default:
        L[1]!.push(`${field.code ? `bidui_code(${t})` : t} AS ${name}`);
    }
    if (household) {
      // stage.ts fills and checks them per household: the issue, and where no value was read
      // the cell as written.
      keep.push(iss, `CASE WHEN ${name} IS NULL THEN ${shown(c)} END AS ${col('c', field)}`);
      continue;
    }
    const unreadable = field.type === 'date' ? 'bad_date' : field.type === 'number' ? 'bad_number' : field.type === 'enum' ? 'bad_value' : field.code ? 'excel_number' : undefined;
    if (field.required) {
      // No text: the cell's issue if it has one, else the value is missing.
      const issue = issueCheck(field, iss);
      const missing = `missing_field:${field.name}`;
      checks.push(
        { when: `${t} IS NULL`, keyExpr: `coalesce(${issue.keyExpr}, ${quoteLiteral(missing)})`, keys: [...issue.keys, missing] },
        ...(unreadable ? [literalCheck(`${name} IS NULL`, `${unreadable}:${field.name}`)] : []),
      );
    } else {
      warnings.push(issueCheck(field, iss, [], shown(c)));
      if (unreadable) warnings.push(literalCheck(`${t} IS NOT NULL AND ${name} IS NULL`, `${unreadable}:${field.name}`, shown(c)));
    }
  }

  // Skipped rows: no ID value, and every cell blank, or a footer word in a cell, or the header again
  // (format characters aside: two exports joined into one file have a byte-order mark, U+FEFF,
  // before the second header).
  const person = def.fields.find((fd) => fd.name === 'id_number')!;
  const all = Array.from({ length: input.columnCount }, (_, i) => quoteIdent(`c${i}`));
  const joined = `concat_ws(chr(1), ${all.join(', ')})`;
  const personProblem = quoteIdent(idColumns(person)[2]);
  // A footer starts its row (合计, 制表人：, 注：), or has a footer word and no person's name
  // (3人, 制表人：): a member written without an ID but with a name is a record (the roster loses no one).
  const nameField = def.fields.find((fd) => fd.type === 'name' && input.mapping.fields[fd.name] !== undefined);
  const noName = nameField ? `bidui_not_a_name(${col('t', nameField)})` : 'true';
  // A title row again below the header (a page break): marked by the normaliser, or for a direct
  // read compared here with the title rows (csv.ts rowKey: cells trimmed, trailing empty ones dropped).
  const rowKeySql = `regexp_replace(concat_ws(chr(1), ${all.map((a) => `bidui_trim_space(coalesce(${a}, ''))`).join(', ')}), '\x01+$', '')`;
  const pageRepeat = normalised ? `WHEN "__issues" = ${quoteLiteral(REPEATED_TITLE)} THEN 'header' `
    : input.kind === 'raw' && input.titleKeys.length ? `WHEN ${rowKeySql} IN (${input.titleKeys.map(quoteLiteral).join(', ')}) THEN 'header' ` : '';
  // A row whose fields are all blank is empty even with something in a column no field reads (a
  // template row numbered down the sheet, 序号 only; a section label in the 序号 column), unless
  // that is a footer (制表人：… in a 备注 column).
  const fieldCells = [...new Set(Object.values(input.mapping.fields))].sort((a, b) => a - b).map((i) => quoteIdent(`c${i}`));
  const fieldsJoined = fieldCells.length ? `concat_ws(chr(1), ${fieldCells.join(', ')})` : joined;
  const skip = `CASE WHEN ${personProblem} IN ('missing', 'length', 'chars', 'excel') AND NOT bidui_has_id(${col('n', person)}) THEN
      CASE ${pageRepeat}WHEN bidui_row_blank(${joined}) THEN 'empty'
           WHEN bidui_row_footer_start(${joined}) OR (${noName} AND bidui_row_footer(${joined})) THEN 'footer'
           WHEN bidui_strip_cf(concat_ws(chr(1), ${all.map((a) => `coalesce(${a}, '')`).join(', ')})) = bidui_strip_cf($header) THEN 'header'
           ${fieldsJoined === joined ? '' : `WHEN bidui_row_blank(${fieldsJoined}) THEN 'empty' `}END END`;

  const rejectKey = checks.length ? `CASE WHEN ${SKIP} IS NOT NULL THEN NULL ${checks.map((c) => `WHEN ${c.when} THEN ${keyOf(c)}`).join(' ')} END` : 'NULL::VARCHAR';
  const warningList = warnings.length
    ? `CASE WHEN ${SKIP} IS NULL AND (${warnings.map((w) => `(${w.when})`).join(' OR ')}) THEN list_filter([${warnings
        .map((w) => `CASE WHEN ${w.when} THEN list_transform([${keyOf(w)}], k -> {'code': split_part(k, ':', 1), 'field': split_part(k, ':', 2), 'value': ${w.value}::VARCHAR})[1] END`)
        .join(', ')}], x -> x IS NOT NULL) END`
    : 'NULL::STRUCT(code VARCHAR, field VARCHAR, value VARCHAR)[]';
  const project = (exprs: string[], from: string) => `(SELECT *${exprs.map((e) => `, ${e}`).join('')} FROM ${from})`;
  const dirty = textValues.length ? `bidui_row_dirty(concat_ws(chr(1), ${textValues.join(', ')}))` : 'false';
  let from = project([`${dirty} AS ${DIRTY}`], readSql);
  for (const exprs of L) from = project(exprs, from);
  from = project([`${skip} AS ${SKIP}`], from);
  from = project([`${rejectKey} AS reject_key`], from);
  const sourceRow = normalised ? 'CAST("__row" AS BIGINT)' : 'NULL::BIGINT';
  // Rows stage.ts may still reject (a household value missing) keep their values as written too.
  const mayReject = householdFields.filter((fd) => fd.required).map((fd) => `${quoteIdent(fd.name)} IS NULL`);
  // A file with quotes read directly: a cell holding a line break followed by a line with an ID
  // and delimiters may be a stray quote swallowing records (stage.ts reads the file again,
  // normalised, where swallowsRecords decides and names the rows).
  // Content in the columns after the header's last named one (a direct read takes every column
  // of the header line): stage.ts reads such a file normalised, which refuses the row.
  if (input.kind === 'raw' && input.namedColumns < input.columnCount) {
    keep.push(`NOT bidui_row_blank(concat_ws(chr(1), ${all.slice(input.namedColumns).join(', ')})) AS _beyond`);
  }
  const quoted = input.kind === 'raw' && input.expectedRows === undefined;
  if (quoted) {
    const d = input.delimiter.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
    const any = '[^\\x01\\n\\r]*';
    const id = '[0-9]{17}[0-9Xx]';
    keep.push(`contains(${joined}, chr(10)) AND regexp_matches(${joined}, '[\\n\\r]${any}(?:${id}${any}${d}${any}${d}|${d}${any}${id}${any}${d}|${d}${any}${d}${any}${id})') AS _swallow`);
  }
  const select = `SELECT ${sourceRow} AS source_row, ${storeColumns(def).map(quoteIdent).join(', ')}, ${SKIP}, reject_key,
    CASE WHEN reject_key IS NOT NULL${mayReject.map((m) => ` OR (${SKIP} IS NULL AND ${m})`).join('')} THEN json_object(${raw.join(', ')})::VARCHAR END AS row_json,
    ${warningList} AS warnings${keep.length ? `, ${keep.join(', ')}` : ''}
  FROM ${from}`;
  const keys = [...new Set([...checks, ...warnings].flatMap((c) => c.keys).concat(householdKeys(householdFields), options.roster ? [HOUSEHOLD_ID_FILLED] : []))];
  const reasonOf = (key: string) =>
    keys.length ? `CASE ${key} ${keys.map((k) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(reasonText(k, labels, def, options.maxCellChars ?? MAX_CELL_CHARS))}`).join(' ')} END` : 'NULL';
  return { select, reasonOf, householdFields };
}

/** Keys stage.ts can give the household fields of the roster. */
function householdKeys(fields: FieldDef[]): string[] {
  const codes = ['missing_field', 'excel_error', 'formula_no_value', 'ambiguous_date', 'excel_number', 'number_date', 'too_long', 'bad_date', 'bad_number', 'bad_value'];
  return fields.flatMap((fd) => [...codes, ...codes.map((c) => `${c}_filled`), 'household_missing'].map((c) => `${c}:${fd.name}`));
}

function reasonText(key: string, labels: Map<string, string>, def: DatasetDef, maxCellChars: number): string {
  const [code, field] = key.split(':') as [string, string];
  if (code === 'too_long') return `${labels.get(field) ?? field}超过 ${maxCellChars} 个字符（单元格长度的上限 limits.maxCellChars${maxCellChars === MAX_CELL_CHARS ? '，即 Excel 的上限' : ''}），多半是文件损坏或引号不配对`;
  const label = labels.get(field) ?? field;
  if (code === 'household_missing') return `本户（户编号相同的各行）都没有可用的${label}`;
  if (key === HOUSEHOLD_ID_FILLED) return `${label}为空，本行也没有本户的其他信息：按花名册格式取上方最近一行的户编号`;
  if (code.endsWith('_filled')) return `${reasonText(`${code.slice(0, -'_filled'.length)}:${field}`, labels, def, maxCellChars)}，已按本户其他行（户主行）的值补全`;
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
    max_line_size = ${input.kind === 'normalised' ? Math.max(10_000_000, input.columnCount * (input.maxCellChars ?? MAX_CELL_CHARS) * 4 + 65_536) : 10_000_000})`;
}
