import type { DuckDBConnection } from '@duckdb/node-api';
import { UserError } from '../core/errors.js';
import { queryStep, quoteIdent, quoteLiteral, runStep } from '../core/sql.js';
import { type DatasetDef, type FieldDef, dataTable } from './datasets.js';
import type { HeaderMapping } from './headers.js';
import { foldWidth, type IdProblem } from './id-number.js';
import { idColumns } from './store-schema.js';

export interface CsvInput {
  /** UTF-8 CSV that DuckDB reads (the original file or a private transcoded/converted copy). */
  csvPath: string;
  /** The user's file, named in messages. */
  displayPath: string;
  delimiter: string;
  columnCount: number;
  mapping: HeaderMapping;
  /** XLSX conversions carry the sheet row number in their first column. */
  sourceRowInFirstColumn: boolean;
}

export interface FileLoadResult {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  invalidIds: number;
  idProblems: Partial<Record<IdProblem, number>>;
}

const RAGGED_ZH: Record<string, string> = {
  'TOO MANY COLUMNS': '列数多于表头',
  'MISSING COLUMNS': '列数少于表头',
  'UNQUOTED VALUE': '引号不配对',
  'LINE SIZE OVER MAXIMUM': '一行过长',
  'INVALID UNICODE': '含无法解码的字符',
  'CAST ERROR': '无法读取',
};

function fieldColumn(input: CsvInput, field: FieldDef): string | undefined {
  const i = input.mapping.fields[field.name];
  if (i === undefined) return undefined;
  return quoteIdent(`c${i + (input.sourceRowInFirstColumn ? 1 : 0)}`);
}

function enumCase(text: string, field: FieldDef): string {
  const whens = Object.entries(field.values ?? {}).flatMap(([canonical, spellings]) =>
    spellings.map((s) => `WHEN ${quoteLiteral(foldWidth(s))} THEN ${quoteLiteral(canonical)}`),
  );
  return `CASE ${text} ${whens.join(' ')} END`;
}

/** Column of the inner projection holding a field's value as trimmed, width-folded text. */
const textCol = (field: FieldDef) => quoteIdent(`_t_${field.name}`);

/**
 * Inner projection, per field: the typed value, plus (where checks need it) the trimmed text.
 * Each macro is evaluated once per value; the outer projection only tests these columns.
 */
function innerExprs(col: string | undefined, field: FieldDef): string[] {
  const name = quoteIdent(field.name);
  if (col === undefined) {
    return field.type === 'id' ? [`NULL::VARCHAR AS ${name}`, `NULL::VARCHAR AS ${quoteIdent(`${field.name}_raw`)}`] : [`NULL AS ${name}`];
  }
  const text = `bidui_text(${col}) AS ${textCol(field)}`;
  switch (field.type) {
    case 'id':
      // Problem and birth date are derived from the normalised ID in the outer projection.
      return [`bidui_norm_id(${col}) AS ${name}`, `CASE WHEN ${col} IS DISTINCT FROM bidui_norm_id(${col}) THEN ${col} END AS ${quoteIdent(`${field.name}_raw`)}`];
    case 'name':
      return [`bidui_name(${col}) AS ${name}`];
    case 'text':
    case 'place':
      return [`bidui_text(${col}) AS ${name}`];
    case 'date':
      return [`bidui_parse_date(${col}) AS ${name}`, text];
    case 'number':
      return [`bidui_parse_number(${col}) AS ${name}`, text];
    case 'enum':
      return [text, `${enumCase(textCol(field), field)} AS ${name}`];
  }
}

interface Check {
  /** Condition on the inner projection's columns. */
  when: string;
  /** Code stored in reject.reason_code / ingest_warning.code. */
  code: string;
  /** Chinese reason. */
  reason: string;
  field: string;
}

/** Checks of a required field, in order: present, then readable. */
function requiredChecks(field: FieldDef, header: string | undefined): Check[] {
  const name = quoteIdent(field.name);
  const label = `「${field.zh}」（列「${header}」）`;
  const missing: Check = { when: '', code: 'missing_field', reason: `缺少必填字段${label}`, field: field.name };
  switch (field.type) {
    case 'id':
      return [{ ...missing, when: `coalesce(${name}, '') = ''` }];
    case 'date':
      return [{ ...missing, when: `${textCol(field)} IS NULL` }, { when: `${name} IS NULL`, code: 'bad_date', reason: `${label}不是可识别的日期`, field: field.name }];
    case 'enum': {
      const allowed = Object.values(field.values ?? {}).flat().join('、');
      return [{ ...missing, when: `${textCol(field)} IS NULL` }, { when: `${name} IS NULL`, code: 'bad_value', reason: `${label}的值无法识别（可用值：${allowed}）`, field: field.name }];
    }
    case 'number':
      return [{ ...missing, when: `${textCol(field)} IS NULL` }, { when: `${name} IS NULL`, code: 'bad_number', reason: `${label}不是数字`, field: field.name }];
    default:
      return [{ ...missing, when: `${name} IS NULL` }];
  }
}

/** Checks of an optional field that load the row but leave a warning. */
function optionalCheck(field: FieldDef): Check | undefined {
  const name = quoteIdent(field.name);
  const present = `${textCol(field)} IS NOT NULL AND ${name} IS NULL`;
  if (field.type === 'date') return { when: present, code: 'bad_date', reason: `「${field.zh}」不是可识别的日期，按空值处理`, field: field.name };
  if (field.type === 'number') return { when: present, code: 'bad_number', reason: `「${field.zh}」不是数字，按空值处理`, field: field.name };
  if (field.type === 'enum') return { when: present, code: 'bad_value', reason: `「${field.zh}」的值无法识别，按空值处理`, field: field.name };
  return undefined;
}

/** Key of a check in the staging table: "<code>:<field>". */
const checkKey = (c: Check) => `${c.code}:${c.field}`;

export interface TypedSql {
  /** CREATE TEMP TABLE body: typed columns, reject_key, row_json (rejects only), warning_keys. */
  select: string;
  /** CASE mapping a reject_key to its Chinese reason. */
  reasonOf: (keyColumn: string) => string;
  /** CASE mapping a warning key to its Chinese message. */
  warningOf: (keyColumn: string) => string;
}

function readCsvSql(input: CsvInput): string {
  const columns = Array.from({ length: input.columnCount }, (_, i) => `${quoteLiteral(`c${i}`)}: 'VARCHAR'`).join(', ');
  return `read_csv(${quoteLiteral(input.csvPath)},
    header = true, auto_detect = false, all_varchar = true, delim = ${quoteLiteral(input.delimiter)},
    quote = '"', escape = '"', columns = {${columns}}, null_padding = false,
    store_rejects = true, rejects_table = 'stg_rejects', rejects_scan = 'stg_reject_scans', max_line_size = 10000000)`;
}

/**
 * The SELECT that types one file's rows and gives each a reject key or none. No window function:
 * the scan and the expressions run in parallel, and the staging table's rowid (insertion order
 * is preserved) gives the row number.
 */
export function typedSelectSql(def: DatasetDef, input: CsvInput): TypedSql {
  const inner: string[] = [];
  const checks: Check[] = [];
  const warnings: Check[] = [];
  const raw: string[] = [];
  for (const field of def.fields) {
    const col = fieldColumn(input, field);
    inner.push(...innerExprs(col, field));
    if (col === undefined) continue;
    raw.push(`${quoteLiteral(field.name)}, ${col}`);
    if (field.required) checks.push(...requiredChecks(field, input.mapping.fieldHeaders[field.name]));
    const w = optionalCheck(field);
    if (!field.required && w) warnings.push(w);
  }
  const typedCols = def.fields.flatMap((fd) => (fd.type === 'id' ? [fd.name, `${fd.name}_raw`] : [fd.name])).map(quoteIdent);
  const sourceRow = input.sourceRowInFirstColumn ? 'CAST("c0" AS BIGINT)' : 'NULL::BIGINT';
  const rejectKey = checks.length ? `CASE ${checks.map((c) => `WHEN ${c.when} THEN ${quoteLiteral(checkKey(c))}`).join(' ')} END` : 'NULL::VARCHAR';
  const warningKeys = warnings.length
    ? `nullif(concat_ws(';', ${warnings.map((w) => `CASE WHEN ${w.when} THEN ${quoteLiteral(checkKey(w))} END`).join(', ')}), '')`
    : 'NULL::VARCHAR';
  const select = `SELECT ${sourceRow} AS source_row, ${typedCols.join(', ')},
    ${rejectKey} AS reject_key,
    CASE WHEN reject_key IS NOT NULL THEN json_object(${raw.join(', ')})::VARCHAR END AS row_json,
    ${warningKeys} AS warning_keys
  FROM (SELECT *, ${inner.join(', ')} FROM ${readCsvSql(input)})`;
  const mapCase = (list: Check[]) => (key: string) =>
    list.length ? `CASE ${key} ${list.map((c) => `WHEN ${quoteLiteral(checkKey(c))} THEN ${quoteLiteral(c.reason)}`).join(' ')} END` : 'NULL';
  return { select, reasonOf: mapCase(checks), warningOf: mapCase(warnings) };
}

/**
 * Load one CSV (UTF-8) into the dataset table under (snapshotId, fileNo). Runs inside the
 * caller's transaction: on any error nothing of it remains.
 */
export async function loadCsvFile(
  conn: DuckDBConnection,
  def: DatasetDef,
  input: CsvInput,
  snapshotId: number,
  fileNo: number,
  asOfForStats: string,
): Promise<FileLoadResult> {
  const step = `load ${def.name} file ${fileNo}`;
  await runStep(conn, `${step}: reset staging`, 'DROP TABLE IF EXISTS stg_typed; DROP TABLE IF EXISTS stg_rejects; DROP TABLE IF EXISTS stg_reject_scans;');
  const typed = typedSelectSql(def, input);
  await runStep(conn, `${step}: read and type`, `CREATE TEMP TABLE stg_typed AS ${typed.select}`);
  const ragged = await queryStep<{ line: string; error_type: string; n: string }>(
    conn,
    `${step}: ragged rows`,
    `SELECT line, error_type, count(*) OVER () AS n FROM stg_rejects ORDER BY line LIMIT 5`,
  );
  if (ragged.length > 0) {
    const lines = ragged.map((r) => `第 ${r.line} 行（${RAGGED_ZH[r.error_type] ?? r.error_type}）`).join('、');
    throw new UserError('E_RAGGED_ROWS', `有 ${ragged[0]!.n} 行的列数与表头不一致，例如：${lines}`, {
      file: input.displayPath,
      hint: '这些行通常含有未加引号的逗号或换行：在 Excel/WPS 中检查并修正这些行，或重新导出为 .xlsx，然后重新导入。',
    });
  }
  // CSV rows: the header is row 1, so the first record is row 2. The staging table keeps the
  // file's order; its rowids are contiguous from a base that is not 0 inside a transaction.
  const [{ base }] = (await queryStep<{ base: string | null }>(conn, `${step}: row base`, 'SELECT min(rowid) AS base FROM stg_typed')) as [{ base: string | null }];
  const sourceRow = input.sourceRowInFirstColumn ? 'source_row' : `(rowid - ${BigInt(base ?? 0)} + 2)`;
  // ID problem (regardless of date) and birth date are derived here, from the normalised ID as a
  // stored column: computed once per row, in parallel, and never again at match time.
  const targetCols = def.fields.flatMap((fd) => (fd.type === 'id' ? idColumns(fd) : [fd.name])).map(quoteIdent).join(', ');
  const sourceCols = def.fields
    .flatMap((fd) => {
      if (fd.type !== 'id') return [quoteIdent(fd.name)];
      const [id, raw] = idColumns(fd).map(quoteIdent) as [string, string];
      return [id, raw, `bidui_id_problem_static(${id})`, `bidui_id_birth(${id})`];
    })
    .join(', ');
  // Rows carry their own source_row, so their physical order in the store does not matter: let
  // DuckDB write them in parallel (the staging read above must keep the file's order).
  await runStep(conn, `${step}: unordered insert`, 'SET preserve_insertion_order = false');
  try {
    await runStep(
      conn,
      `${step}: insert rows`,
      `INSERT INTO ${quoteIdent(dataTable(def.name))} (snapshot_id, file_no, source_row, ${targetCols})
       SELECT $snapshot, $file, ${sourceRow}, ${sourceCols} FROM stg_typed WHERE reject_key IS NULL`,
      { snapshot: snapshotId, file: fileNo },
    );
  } finally {
    await runStep(conn, `${step}: ordered again`, 'RESET preserve_insertion_order');
  }
  await runStep(
    conn,
    `${step}: insert rejects`,
    `INSERT INTO reject SELECT $snapshot, $file, ${sourceRow}, split_part(reject_key, ':', 1), ${typed.reasonOf('reject_key')}, row_json
     FROM stg_typed WHERE reject_key IS NOT NULL`,
    { snapshot: snapshotId, file: fileNo },
  );
  await runStep(
    conn,
    `${step}: insert warnings`,
    `INSERT INTO ingest_warning SELECT $snapshot, $file, source_row, split_part(w, ':', 2), split_part(w, ':', 1), ${typed.warningOf('w')}
     FROM (SELECT ${sourceRow} AS source_row, unnest(string_split(warning_keys, ';')) AS w FROM stg_typed
           WHERE reject_key IS NULL AND warning_keys IS NOT NULL)`,
    { snapshot: snapshotId, file: fileNo },
  );
  const [counts] = await queryStep<{ read: string; loaded: string; rejected: string }>(
    conn,
    `${step}: count`,
    `SELECT count(*) AS read, count(*) FILTER (WHERE reject_key IS NULL) AS loaded,
            count(*) FILTER (WHERE reject_key IS NOT NULL) AS rejected FROM stg_typed`,
  );
  const problems = await queryStep<{ problem: IdProblem; n: string }>(
    conn,
    `${step}: id problems`,
    `SELECT problem, count(*) AS n FROM (
       SELECT bidui_id_problem_on(id_number_problem, id_number_birth, $asOf::DATE) AS problem FROM ${quoteIdent(dataTable(def.name))}
       WHERE snapshot_id = $snapshot AND file_no = $file
     ) WHERE problem IS NOT NULL GROUP BY ALL ORDER BY problem`,
    { asOf: asOfForStats, snapshot: snapshotId, file: fileNo },
  );
  await runStep(conn, `${step}: drop staging`, 'DROP TABLE IF EXISTS stg_typed');
  const idProblems = Object.fromEntries(problems.map((p) => [p.problem, Number(p.n)]));
  return {
    rowsRead: Number(counts!.read),
    rowsLoaded: Number(counts!.loaded),
    rowsRejected: Number(counts!.rejected),
    invalidIds: problems.reduce((s, p) => s + Number(p.n), 0),
    idProblems,
  };
}


