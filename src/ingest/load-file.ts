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

/** Column holding a field's value as trimmed, width-folded text (level 1). */
const textCol = (field: FieldDef) => quoteIdent(`_t_${field.name}`);
/** Column: does any text value of the row need folding or trimming (level 0)? */
const DIRTY = quoteIdent('_dirty');
/** Column holding a date field's parts (level 2). */
const partsCol = (field: FieldDef) => quoteIdent(`_p_${field.name}`);

/**
 * The typing is built in levels, each a projection over the one below, so that every value is
 * computed once per row and later levels only refer to columns (DuckDB macros are textual, and
 * repeated sub-expressions inside CASE are not shared):
 *   0. whether any text value of the row needs folding or trimming (one pattern test per row);
 *   1. per field, its trimmed, width-folded text; the normalised ID;
 *   2. enum and number values, date parts, the ID as written (only when different), its birth
 *      date and expected check character;
 *   3. dates from their parts, the ID's problem (without the as-of date).
 * Levels 4 and 5 (reject and warning keys, the raw row of rejects) are added by typedSelectSql.
 */
function fieldLevels(col: string | undefined, field: FieldDef): [string[], string[], string[]] {
  const name = quoteIdent(field.name);
  const source = col ?? 'NULL::VARCHAR';
  switch (field.type) {
    case 'id': {
      const [id, raw, problem, birth] = idColumns(field).map(quoteIdent) as [string, string, string, string];
      const check = quoteIdent(`_c_${field.name}`);
      return [
        [`bidui_norm_id(${source}) AS ${id}`],
        [`CASE WHEN ${source} IS DISTINCT FROM ${id} THEN ${source} END AS ${raw}`, `bidui_id_birth(${id}) AS ${birth}`, `bidui_check_char(${id}) AS ${check}`],
        [`bidui_id_problem_static_bc(${id}, ${birth}, ${check}) AS ${problem}`],
      ];
    }
    case 'name':
      return [[`bidui_name_in(${source}, ${DIRTY}) AS ${name}`], [], []];
    case 'text':
    case 'place':
      return [[`bidui_text_in(${source}, ${DIRTY}) AS ${name}`], [], []];
    case 'date':
      return [[`bidui_text_in(${source}, ${DIRTY}) AS ${textCol(field)}`], [`bidui_date_parts_text(${textCol(field)}) AS ${partsCol(field)}`], [`bidui_date_from_parts(${partsCol(field)}) AS ${name}`]];
    case 'number':
      return [[`bidui_text_in(${source}, ${DIRTY}) AS ${textCol(field)}`], [`bidui_parse_number(${textCol(field)}) AS ${name}`], []];
    case 'enum':
      return [[`bidui_text_in(${source}, ${DIRTY}) AS ${textCol(field)}`], [`${enumCase(textCol(field), field)} AS ${name}`], []];
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
  /** CREATE TEMP TABLE body: source_row (XLSX only), store columns, reject_key, row_json (rejects only), warning_keys. */
  select: string;
  /** CASE mapping a reject_key to its Chinese reason. */
  reasonOf: (keyColumn: string) => string;
  /** CASE mapping a warning key to its Chinese message. */
  warningOf: (keyColumn: string) => string;
}

function readCsvSql(input: CsvInput, rejectsTable: string): string {
  const columns = Array.from({ length: input.columnCount }, (_, i) => `${quoteLiteral(`c${i}`)}: 'VARCHAR'`).join(', ');
  return `read_csv(${quoteLiteral(input.csvPath)},
    header = true, auto_detect = false, all_varchar = true, delim = ${quoteLiteral(input.delimiter)},
    quote = '"', escape = '"', columns = {${columns}}, null_padding = false,
    store_rejects = true, rejects_table = ${quoteLiteral(rejectsTable)}, rejects_scan = ${quoteLiteral(`${rejectsTable}_scans`)},
    max_line_size = 10000000)`;
}

/** The store columns of a dataset, in table order (after snapshot_id, file_no, source_row). */
export const storeColumns = (def: DatasetDef): string[] => def.fields.flatMap((fd) => (fd.type === 'id' ? idColumns(fd) : [fd.name]));

/**
 * The SELECT that reads and types one file's rows and gives each a reject key or none. No window
 * function: the scan and the expressions run in parallel, and the staging table's rowid
 * (insertion order is preserved) gives the row number.
 */
export function typedSelectSql(def: DatasetDef, input: CsvInput, rejectsTable: string): TypedSql {
  const levels: [string[], string[], string[]] = [[], [], []];
  const checks: Check[] = [];
  const warnings: Check[] = [];
  const raw: string[] = [];
  for (const field of def.fields) {
    const col = fieldColumn(input, field);
    fieldLevels(col, field).forEach((exprs, i) => levels[i]!.push(...exprs));
    if (col === undefined) continue;
    raw.push(`${quoteLiteral(field.name)}, ${col}`);
    if (field.required) checks.push(...requiredChecks(field, input.mapping.fieldHeaders[field.name]));
    const w = optionalCheck(field);
    if (!field.required && w) warnings.push(w);
  }
  const sourceRow = input.sourceRowInFirstColumn ? 'CAST("c0" AS BIGINT)' : 'NULL::BIGINT';
  const rejectKey = checks.length ? `CASE ${checks.map((c) => `WHEN ${c.when} THEN ${quoteLiteral(checkKey(c))}`).join(' ')} END` : 'NULL::VARCHAR';
  const warningKeys = warnings.length
    ? `nullif(concat_ws(';', ${warnings.map((w) => `CASE WHEN ${w.when} THEN ${quoteLiteral(checkKey(w))} END`).join(', ')}), '')`
    : 'NULL::VARCHAR';
  const project = (exprs: string[], from: string) => `(SELECT *${exprs.map((e) => `, ${e}`).join('')} FROM ${from})`;
  // Level 0: the row's text values (not IDs, which have their own normaliser) joined for one test.
  const textValues = def.fields.filter((fd) => fd.type !== 'id').flatMap((fd) => fieldColumn(input, fd) ?? []);
  const dirty = textValues.length ? `bidui_row_dirty(concat_ws(chr(1), ${textValues.join(', ')}))` : 'false';
  let from = project([`${dirty} AS ${DIRTY}`], readCsvSql(input, rejectsTable));
  for (const exprs of levels) from = project(exprs, from);
  from = project([`${rejectKey} AS reject_key`, `${warningKeys} AS warning_keys`], from);
  const select = `SELECT ${sourceRow} AS source_row, ${storeColumns(def).map(quoteIdent).join(', ')}, reject_key,
    CASE WHEN reject_key IS NOT NULL THEN json_object(${raw.join(', ')})::VARCHAR END AS row_json, warning_keys
  FROM ${from}`;
  const mapCase = (list: Check[]) => (key: string) =>
    list.length ? `CASE ${key} ${list.map((c) => `WHEN ${quoteLiteral(checkKey(c))} THEN ${quoteLiteral(c.reason)}`).join(' ')} END` : 'NULL';
  return { select, reasonOf: mapCase(checks), warningOf: mapCase(warnings) };
}

/** One file read and typed into a private temp table, waiting to be stored. */
export interface StagedFile {
  def: DatasetDef;
  table: string;
  typed: TypedSql;
  /** SQL expression of a staged row's row number in its file. */
  sourceRow: string;
  counts: FileLoadResult;
}

/**
 * Read and type one file into the temp table `table`, outside the ingest's transaction: temp
 * tables belong to this connection and never reach the store, and the inserts inside the
 * transaction read a table created before it about twice as fast as one written inside it
 * (hukou at 1M households: 7.9 s against 16.5 s). Ragged rows are a user error found here, before
 * anything is written (the caller checks the counts for header-only files). On failure the table
 * is dropped here; once staged, the caller drops it (dropStaged) whatever happens next.
 */
export async function stageCsvFile(
  conn: DuckDBConnection,
  def: DatasetDef,
  input: CsvInput,
  table: string,
  asOfForStats: string,
): Promise<StagedFile> {
  const step = `stage ${def.name} into ${table}`;
  const rejects = `${table}_ragged`;
  const typed = typedSelectSql(def, input, rejects);
  const t = quoteIdent(table);
  try {
    try {
      await runStep(conn, `${step}: read and type`, `CREATE OR REPLACE TEMP TABLE ${t} AS ${typed.select}`);
      const ragged = await queryStep<{ line: string; error_type: string; n: string }>(
        conn,
        `${step}: ragged rows`,
        `SELECT line, error_type, count(*) OVER () AS n FROM ${quoteIdent(rejects)} ORDER BY line LIMIT 5`,
      );
      if (ragged.length > 0) {
        const lines = ragged.map((r) => `第 ${r.line} 行（${RAGGED_ZH[r.error_type] ?? r.error_type}）`).join('、');
        throw new UserError('E_RAGGED_ROWS', `有 ${ragged[0]!.n} 行的列数与表头不一致，例如：${lines}`, {
          file: input.displayPath,
          hint: '这些行通常含有未加引号的逗号或换行：在 Excel/WPS 中检查并修正这些行，或重新导出为 .xlsx，然后重新导入。',
        });
      }
    } finally {
      await runStep(conn, `${step}: drop ragged`, `DROP TABLE IF EXISTS ${quoteIdent(rejects)}; DROP TABLE IF EXISTS ${quoteIdent(`${rejects}_scans`)}`);
    }
    // CSV rows: the header is row 1, so the first record is row 2. The staging table keeps the
    // file's order and its rowids are contiguous.
    const [{ base }] = (await queryStep<{ base: string | null }>(conn, `${step}: row base`, `SELECT min(rowid) AS base FROM ${t}`)) as [{ base: string | null }];
    const sourceRow = input.sourceRowInFirstColumn ? 'source_row' : `(rowid - ${BigInt(base ?? 0)} + 2)`;
    const [counts] = await queryStep<{ read: string; loaded: string; rejected: string }>(
      conn,
      `${step}: count`,
      `SELECT count(*) AS read, count(*) FILTER (WHERE reject_key IS NULL) AS loaded,
              count(*) FILTER (WHERE reject_key IS NOT NULL) AS rejected FROM ${t}`,
    );
    const problems = await queryStep<{ problem: IdProblem; n: string }>(
      conn,
      `${step}: id problems`,
      `SELECT problem, count(*) AS n FROM (
         SELECT bidui_id_problem_on(id_number_problem, id_number_birth, $asOf::DATE) AS problem FROM ${t} WHERE reject_key IS NULL
       ) WHERE problem IS NOT NULL GROUP BY ALL ORDER BY problem`,
      { asOf: asOfForStats },
    );
    return {
      def,
      table,
      typed,
      sourceRow,
      counts: {
        rowsRead: Number(counts!.read),
        rowsLoaded: Number(counts!.loaded),
        rowsRejected: Number(counts!.rejected),
        invalidIds: problems.reduce((sum, p) => sum + Number(p.n), 0),
        idProblems: Object.fromEntries(problems.map((p) => [p.problem, Number(p.n)])),
      },
    };
  } catch (error) {
    await dropStaged(conn, table);
    throw error;
  }
}

export async function dropStaged(conn: DuckDBConnection, table: string): Promise<void> {
  await runStep(conn, `drop ${table}`, `DROP TABLE IF EXISTS ${quoteIdent(table)}`);
}

/**
 * Store a staged file's rows, rejects and warnings under (snapshotId, fileNo). Runs inside the
 * caller's transaction: on any error nothing of it remains.
 */
export async function storeStagedFile(conn: DuckDBConnection, staged: StagedFile, snapshotId: number, fileNo: number): Promise<void> {
  const { def, typed, sourceRow } = staged;
  const step = `store ${def.name} file ${fileNo}`;
  const t = quoteIdent(staged.table);
  const cols = storeColumns(def).map(quoteIdent).join(', ');
  // Rows carry their own source_row, so their physical order in the store does not matter: let
  // DuckDB write them in parallel.
  await runStep(conn, `${step}: unordered insert`, 'SET preserve_insertion_order = false');
  try {
    await runStep(
      conn,
      `${step}: insert rows`,
      `INSERT INTO ${quoteIdent(dataTable(def.name))} (snapshot_id, file_no, source_row, ${cols})
       SELECT $snapshot, $file, ${sourceRow}, ${cols} FROM ${t} WHERE reject_key IS NULL`,
      { snapshot: snapshotId, file: fileNo },
    );
  } finally {
    await runStep(conn, `${step}: ordered again`, 'RESET preserve_insertion_order');
  }
  await runStep(
    conn,
    `${step}: insert rejects`,
    `INSERT INTO reject SELECT $snapshot, $file, ${sourceRow}, split_part(reject_key, ':', 1), ${typed.reasonOf('reject_key')}, row_json
     FROM ${t} WHERE reject_key IS NOT NULL`,
    { snapshot: snapshotId, file: fileNo },
  );
  await runStep(
    conn,
    `${step}: insert warnings`,
    `INSERT INTO ingest_warning SELECT $snapshot, $file, source_row, split_part(w, ':', 2), split_part(w, ':', 1), ${typed.warningOf('w')}
     FROM (SELECT ${sourceRow} AS source_row, unnest(string_split(warning_keys, ';')) AS w FROM ${t}
           WHERE reject_key IS NULL AND warning_keys IS NOT NULL)`,
    { snapshot: snapshotId, file: fileNo },
  );
}
