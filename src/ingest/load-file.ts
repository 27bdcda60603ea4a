import type { DuckDBConnection } from '@duckdb/node-api';
import { UserError } from '../core/errors.js';
import { queryStep, quoteIdent, quoteLiteral, runStep } from '../core/sql.js';
import { type DatasetDef, type FieldDef, dataTable } from './datasets.js';
import type { HeaderMapping } from './headers.js';
import { ID_PROBLEM_ZH, type IdProblem } from './id-number.js';
import { foldWidth } from './id-number.js';

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

function enumCase(col: string, field: FieldDef): string {
  const whens = Object.entries(field.values ?? {}).flatMap(([canonical, spellings]) =>
    spellings.map((s) => `WHEN ${quoteLiteral(foldWidth(s))} THEN ${quoteLiteral(canonical)}`),
  );
  return `CASE bidui_text(${col}) ${whens.join(' ')} END`;
}

/** The typed value of one field, from its text column (NULL when the file has no such column). */
function typedExpr(col: string | undefined, field: FieldDef): string[] {
  const name = quoteIdent(field.name);
  if (col === undefined) {
    return field.type === 'id' ? [`NULL::VARCHAR AS ${name}`, `NULL::VARCHAR AS ${quoteIdent(`${field.name}_raw`)}`] : [`NULL AS ${name}`];
  }
  switch (field.type) {
    case 'id':
      return [`bidui_norm_id(${col}) AS ${name}`, `${col} AS ${quoteIdent(`${field.name}_raw`)}`];
    case 'name':
      return [`bidui_name(${col}) AS ${name}`];
    case 'text':
    case 'place':
      return [`bidui_text(${col}) AS ${name}`];
    case 'date':
      return [`bidui_parse_date(${col}) AS ${name}`];
    case 'number':
      return [`bidui_parse_number(${col}) AS ${name}`];
    case 'enum':
      return [`${enumCase(col, field)} AS ${name}`];
  }
}

/** Checks of a required field, in order: present, then parseable. [condition, code, Chinese reason] */
function requiredChecks(col: string | undefined, field: FieldDef, header: string | undefined): [string, string, string][] {
  if (!field.required || col === undefined) return [];
  const label = `「${field.zh}」（列「${header}」）`;
  const checks: [string, string, string][] = [[`bidui_trim(${col}) IS NULL`, 'missing_field', `缺少必填字段${label}`]];
  if (field.type === 'date') {
    checks.push([`bidui_parse_date(${col}) IS NULL`, 'bad_date', `${label}不是可识别的日期`]);
  } else if (field.type === 'enum') {
    const allowed = Object.values(field.values ?? {}).flat().join('、');
    checks.push([`(${enumCase(col, field)}) IS NULL`, 'bad_value', `${label}的值无法识别（可用值：${allowed}）`]);
  }
  return checks;
}

/** Checks of an optional field that load the row but leave a warning. */
function optionalWarning(col: string | undefined, field: FieldDef): [string, string, string] | undefined {
  if (field.required || col === undefined) return undefined;
  if (field.type === 'date') return [`bidui_trim(${col}) IS NOT NULL AND bidui_parse_date(${col}) IS NULL`, 'bad_date', `「${field.zh}」不是可识别的日期，按空值处理`];
  if (field.type === 'number') return [`bidui_trim(${col}) IS NOT NULL AND bidui_parse_number(${col}) IS NULL`, 'bad_number', `「${field.zh}」不是数字，按空值处理`];
  if (field.type === 'enum') return [`bidui_trim(${col}) IS NOT NULL AND (${enumCase(col, field)}) IS NULL`, 'bad_value', `「${field.zh}」的值无法识别，按空值处理`];
  return undefined;
}

export function readCsvSql(input: CsvInput): string {
  const columns = Array.from({ length: input.columnCount }, (_, i) => `${quoteLiteral(`c${i}`)}: 'VARCHAR'`).join(', ');
  const sourceRow = input.sourceRowInFirstColumn ? 'CAST("c0" AS BIGINT)' : '(row_number() OVER () + 1)';
  return `SELECT ${sourceRow} AS source_row, * FROM read_csv(${quoteLiteral(input.csvPath)},
    header = true, auto_detect = false, all_varchar = true, delim = ${quoteLiteral(input.delimiter)},
    quote = '"', escape = '"', columns = {${columns}}, null_padding = false,
    store_rejects = true, rejects_table = 'stg_rejects', rejects_scan = 'stg_reject_scans', max_line_size = 10000000)`;
}

/** The SELECT that types one file's rows and gives each a reject reason or none. */
export function typedSelectSql(def: DatasetDef, input: CsvInput): string {
  const exprs: string[] = [];
  const checks: [string, string, string][] = [];
  const json: string[] = [];
  for (const field of def.fields) {
    const col = fieldColumn(input, field);
    exprs.push(...typedExpr(col, field));
    checks.push(...requiredChecks(col, field, input.mapping.fieldHeaders[field.name]));
    if (col) json.push(`${quoteLiteral(field.name)}, ${col}`);
  }
  const code = checks.length ? `CASE ${checks.map(([c, k]) => `WHEN ${c} THEN ${quoteLiteral(k)}`).join(' ')} END` : 'NULL';
  const reason = checks.length ? `CASE ${checks.map(([c, , r]) => `WHEN ${c} THEN ${quoteLiteral(r)}`).join(' ')} END` : 'NULL';
  const warnings = def.fields
    .map((field) => [field, optionalWarning(fieldColumn(input, field), field)] as const)
    .filter((x): x is readonly [FieldDef, [string, string, string]] => x[1] !== undefined)
    .map(([field, [cond, wcode, msg]]) =>
      `CASE WHEN ${cond} THEN {'field': ${quoteLiteral(field.name)}, 'code': ${quoteLiteral(wcode)}, 'message': ${quoteLiteral(msg)}} END`,
    );
  const warningList = warnings.length
    ? `list_filter([${warnings.join(', ')}], w -> w IS NOT NULL)`
    : '[]::STRUCT(field VARCHAR, code VARCHAR, message VARCHAR)[]';
  return `SELECT source_row, ${exprs.join(', ')},
    ${code} AS reject_code, ${reason} AS reject_reason,
    json_object(${json.join(', ')})::VARCHAR AS row_json,
    ${warningList} AS warnings
  FROM (${readCsvSql(input)})`;
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
  await runStep(conn, `${step}: read and type`, `CREATE TEMP TABLE stg_typed AS ${typedSelectSql(def, input)}`);
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
  const cols = def.fields.flatMap((fd) => (fd.type === 'id' ? [fd.name, `${fd.name}_raw`] : [fd.name])).map(quoteIdent).join(', ');
  await runStep(
    conn,
    `${step}: insert rows`,
    `INSERT INTO ${quoteIdent(dataTable(def.name))} (snapshot_id, file_no, source_row, ${cols})
     SELECT $snapshot, $file, source_row, ${cols} FROM stg_typed WHERE reject_code IS NULL`,
    { snapshot: snapshotId, file: fileNo },
  );
  await runStep(
    conn,
    `${step}: insert rejects`,
    `INSERT INTO reject SELECT $snapshot, $file, source_row, reject_code, reject_reason, row_json
     FROM stg_typed WHERE reject_code IS NOT NULL`,
    { snapshot: snapshotId, file: fileNo },
  );
  await runStep(
    conn,
    `${step}: insert warnings`,
    `INSERT INTO ingest_warning SELECT $snapshot, $file, source_row, w.field, w.code, w.message
     FROM (SELECT source_row, unnest(warnings) AS w FROM stg_typed WHERE reject_code IS NULL AND len(warnings) > 0)`,
    { snapshot: snapshotId, file: fileNo },
  );
  const [counts] = await queryStep<{ read: string; loaded: string; rejected: string }>(
    conn,
    `${step}: count`,
    `SELECT count(*) AS read, count(*) FILTER (WHERE reject_code IS NULL) AS loaded,
            count(*) FILTER (WHERE reject_code IS NOT NULL) AS rejected FROM stg_typed`,
  );
  const problems = await queryStep<{ problem: IdProblem; n: string }>(
    conn,
    `${step}: id problems`,
    `SELECT bidui_id_problem(id_number, $asOf::DATE) AS problem, count(*) AS n FROM stg_typed
     WHERE reject_code IS NULL AND bidui_id_problem(id_number, $asOf::DATE) IS NOT NULL GROUP BY ALL ORDER BY problem`,
    { asOf: asOfForStats },
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


