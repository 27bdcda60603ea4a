import type { DuckDBConnection } from '@duckdb/node-api';
import { UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import { queryStep, quoteIdent, quoteLiteral, runStep } from '../core/sql.js';
import { type DatasetDef, personIdField } from './datasets.js';
import { ID_PROBLEMS, type IdProblem } from './id-number.js';
import type { SkipReason } from './layout.js';
import type { StageInput } from './readers/csv.js';
import { sourceRowSql } from './rows.js';
import { idColumns } from './store-schema.js';
import { readCsvSql, type TypedSql, typedSelectSql, type ValueMap } from './typing.js';

/**
 * Staging: one file (or sheet) read and typed into its own table of the store (`rows_<dataset>_<load>_<k>`,
 * see rows.ts), outside the ingest's transaction, then checked and completed in SQL:
 * - a file DuckDB read directly is checked (header, row count, ragged rows) and read again in
 *   normalised form when a check fails (see readers/csv.ts);
 * - the `…000` rule marks the IDs of an Excel-damaged file (DOMAIN.md "Values");
 * - roster households get their missing household values from the head's row.
 * The table is no part of the store until the transaction names it in snapshot_file (with the
 * file's rejects and warnings, copied from it by recordStagedFile); the caller drops it if that
 * transaction does not commit. Its rows are written once: the rules read the table itself.
 */

export interface FileCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsSkipped: number;
  warnings: number;
  skipped: Partial<Record<SkipReason, number>>;
  invalidIds: number;
  idProblems: Partial<Record<IdProblem, number>>;
}

/** Facts about a file's reading that the office should see (snapshot_file.layout_json). */
export interface FileNotes {
  /** ID fields whose values ending in 000 were marked Excel-damaged: damaged of 18-digit IDs. */
  excel000?: { field: string; damaged: number; of: number }[];
  /** Household values taken from the head's row (roster), per field. */
  filled?: Record<string, number>;
  /** The file was parsed by bidui because DuckDB could not read it as it is (why). */
  normalisedBecause?: string;
  /** Rows shorter than the header, read with empty cells at their end. */
  paddedRows?: number;
}

export interface StagedFile {
  def: DatasetDef;
  table: string;
  typed: TypedSql;
  input: StageInput;
  /** A row's number in its file is rowid + rowOffset (a file DuckDB read directly, not updated); null: the table's source_row (rows.ts sourceRowSql). */
  rowOffset: number | null;
  /** Per ID field: 18-character IDs, and those ending in 000 (see finishFile). */
  ids: Record<string, { n18: number; n000: number }>;
  /** Set by finishFile. */
  counts: FileCounts;
  notes: FileNotes;
  /** Writes the row numbers down (UPDATE moves the rows it changes, and rowids with them). */
  beforeUpdate(): Promise<void>;
}

export interface StageOptions {
  /** Date for the ID statistics (a birth date after it is invalid). */
  asOf: string;
  values: ValueMap;
  /** limits.maxCellChars (named in the reason of a too long cell). */
  maxCellChars?: number;
}

/** DuckDB's reasons for refusing a CSV row, in Chinese. */
const REFUSED_ZH: Record<string, string> = {
  'TOO MANY COLUMNS': '列数多于表头',
  'MISSING COLUMNS': '列数少于表头',
  'UNQUOTED VALUE': '引号不配对',
  'LINE SIZE OVER MAXIMUM': '一行超过 10 MB',
  'INVALID UNICODE': '含无法解码的字符',
  'CAST ERROR': '无法读取',
};

const EXCEL000_MIN = 3;
const EXCEL000_SHARE = 0.02;

/**
 * Read and type one input into the new store table `table`. A file DuckDB reads directly falls back
 * to its normalised form when DuckDB refuses rows or its read fails a check; ragged rows of the
 * normalised form are a UserError (thrown by the normaliser, naming the rows). On failure the
 * table is dropped here; once staged, the caller drops it (dropStaged) unless the transaction
 * that names it commits.
 */
export async function stageFile(conn: DuckDBConnection, def: DatasetDef, input: StageInput, table: string, options: StageOptions): Promise<StagedFile> {
  const step = `stage ${def.name} into ${table}`;
  const rejects = `${table}_ragged`;
  const typed = typedSelectSql(def, input, readCsvSql(input, rejects), { values: options.values, roster: def.name === 'roster', maxCellChars: options.maxCellChars });
  const t = quoteIdent(table);
  let fallback: string | undefined;
  try {
    try {
      try {
        await runStep(conn, `${step}: read and type`, `CREATE OR REPLACE TABLE ${t} AS ${typed.select}`, { header: input.headerCells.join('\u0001') });
      } catch (error) {
        // A record DuckDB cannot hold (a quoted cell of many lines, over 10 MB in all): the
        // normalised form cuts such cells (values.ts MAX_CELL_CHARS).
        if (input.kind !== 'raw' || !(error instanceof Error && /Invalid Input Error/.test(error.message))) throw error;
        fallback = 'DuckDB 无法直接读取（一条记录过长）';
      }
      const refused = fallback !== undefined ? [] : await queryStep<{ n: string; error_type: string; row: string }>(conn, `${step}: refused rows`,
        `SELECT count(*) OVER () AS n, error_type, split_part(csv_line, ',', 1) AS row FROM ${quoteIdent(rejects)} ORDER BY line LIMIT 3`);
      if (refused.length > 0 && input.kind === 'normalised') {
        // bidui wrote this file itself: what DuckDB refuses is a row it cannot hold (a line
        // longer than it reads). The first column is the row number in the user's file.
        throw new UserError('E_RAGGED_ROWS', `有 ${refused[0]!.n} 行无法读取，例如：${refused.map((r) => `第 ${r.row} 行（${REFUSED_ZH[r.error_type] ?? r.error_type}）`).join('、')}`, {
          file: input.displayPath,
          hint: '检查这些行是否有异常长的单元格或多余的内容，修正后重新导入。',
        });
      }
      if (refused.length > 0) fallback = 'DuckDB 拒绝了部分行（列数不一致或引号不配对）';
    } finally {
      await runStep(conn, `${step}: drop ragged`, `DROP TABLE IF EXISTS ${quoteIdent(rejects)}; DROP TABLE IF EXISTS ${quoteIdent(`${rejects}_scans`)}`);
    }
    // One pass for what the next steps need: the first rowid, the row count, and per ID field
    // how many 18-character IDs there are and how many end in 000 (cheap tests; see markExcel000).
    const ids = def.fields.filter((fd) => fd.type === 'id');
    const [look] = fallback !== undefined ? [] : await queryStep<Record<string, string | null>>(conn, `${step}: first look`,
      `SELECT min(rowid) AS base, count(*) AS n${input.kind === 'raw' && input.expectedRows === undefined ? ', count(*) FILTER (WHERE _swallow) AS swallow' : ''}${input.kind === 'raw' && input.namedColumns < input.columnCount ? ', count(*) FILTER (WHERE _beyond) AS beyond' : ''}${ids.map((fd) => {
        const id = quoteIdent(fd.name);
        return `, count(*) FILTER (WHERE skip_reason IS NULL AND strlen(${id}) = 18) AS ${quoteIdent(`n18_${fd.name}`)}, count(*) FILTER (WHERE skip_reason IS NULL AND strlen(${id}) = 18 AND ends_with(${id}, '000')) AS ${quoteIdent(`n000_${fd.name}`)}`;
      }).join('')} FROM ${t}`);
    if (input.kind === 'raw' && !fallback && Number(look?.swallow ?? 0) > 0) fallback = '有单元格跨越多行并含有其他记录的内容';
    if (input.kind === 'raw' && !fallback && Number(look?.beyond ?? 0) > 0) fallback = '有行在表头最后一个列名之后的列中有内容';
    if (input.kind === 'raw' && !fallback) fallback = await checkDirectRead(conn, step, input, Number(look?.n ?? 0));
    if (fallback !== undefined) {
      if (input.kind !== 'raw') throw new Error(`normalised input of ${def.name} refused by DuckDB`);
      log().info({ dataset: def.name, file: input.displayPath, because: fallback }, 'file read in normalised form');
      await dropStaged(conn, table);
      const normalised = await input.normalise();
      const staged = await stageFile(conn, def, normalised, table, options);
      staged.notes.normalisedBecause = fallback;
      if (normalised.padded) staged.notes.paddedRows = normalised.padded;
      return staged;
    }
    // The header is row `skip + 1`, so the first record is row `skip + 2`; the staging table keeps
    // the file's order and its rowids are contiguous.
    const rowOffset = input.kind === 'raw' ? input.skip + 2 - Number(look?.base ?? 0) : null;
    const staged: StagedFile = {
      def, table, typed, input, rowOffset,
      ids: Object.fromEntries(ids.map((fd) => [fd.name, { n18: Number(look?.[`n18_${fd.name}`] ?? 0), n000: Number(look?.[`n000_${fd.name}`] ?? 0) }])),
      counts: undefined as unknown as FileCounts,
      notes: {},
      async beforeUpdate() {
        // UPDATE moves the rows it changes (new rowids): before the first one, the row numbers
        // that come from rowids are written down.
        if (staged.rowOffset === null) return;
        await runStep(conn, `${step}: row numbers`, `UPDATE ${t} SET source_row = ${pastBlankLines(sourceRowSql(staged.rowOffset), blankLines)}`);
        staged.rowOffset = null;
      },
    };
    // Rows after blank lines (which DuckDB skipped): their numbers are written down now.
    const blankLines = input.kind === 'raw' ? input.blankLines : [];
    if (blankLines.length > 0) await staged.beforeUpdate();
    if (def.name === 'roster') await fillHouseholds(conn, step, typed, t, staged.notes, staged);
    return staged;
  } catch (error) {
    await dropStaged(conn, table);
    throw error;
  }
}

/**
 * The line number of a row DuckDB read directly from a file with blank lines, which it skipped:
 * `n` is the row's number counted as if there were none (an SQL expression), `blankLines` the
 * blank lines' numbers (ascending). The jth blank line (0-based) has `line - j` rows before it, so
 * a row whose uncorrected number reaches that comes after it.
 */
export function pastBlankLines(n: string, blankLines: readonly number[]): string {
  if (blankLines.length === 0) return n;
  return `(${n} + ${blankLines.map((line, j) => `(${n} >= ${Number(line) - j})::BIGINT`).join(' + ')})`;
}

/**
 * Checks of a file DuckDB read directly: for a file without quotes, one row per line below the
 * header; for one with quotes, the record it took as the header is the header found here. A
 * failed check sends the file to the normalised form; the reason is logged and kept in the notes.
 */
async function checkDirectRead(conn: DuckDBConnection, step: string, input: Extract<StageInput, { kind: 'raw' }>, rows: number): Promise<string | undefined> {
  if (input.expectedRows !== undefined) {
    // Without quotes, records are lines: the row count checks the whole read.
    if (rows !== input.expectedRows) return `DuckDB 读到 ${rows} 行，文件有 ${input.expectedRows} 行`;
    return undefined;
  }
  // With quotes (a record may span lines): the record DuckDB took as the header is the header.
  try {
    const [first] = await queryStep<Record<string, string | null>>(conn, `${step}: header check`, `SELECT * FROM ${readCsvSql(input, undefined, false)} LIMIT 1`);
    const cells = Array.from({ length: input.columnCount }, (_, i) => first?.[`c${i}`] ?? '');
    if (cells.some((c, i) => c !== (input.headerCells[i] ?? ''))) return 'DuckDB 读到的表头与文件不一致';
  } catch {
    return 'DuckDB 无法读取表头行';
  }
  return undefined;
}

/**
 * Finish a file's staged parts (one per sheet): the `…000` rule over the whole file, then the
 * counts of each part.
 *
 * The `…000` rule (DOMAIN.md): Excel keeps 15 significant digits, so IDs that went through a
 * number cell end in 000. When at least 3 of a file's 18-digit IDs, and more than 2% of them,
 * end in 000, every ID of the file ending in 000 is Excel-damaged, its first 15 digits kept.
 * (The counts of the first look are cheap tests, string length and suffix; the exact pattern is
 * only counted when a file has 3 or more candidates.)
 */
export async function finishFile(conn: DuckDBConnection, parts: StagedFile[], asOf: string): Promise<void> {
  const def = parts[0]?.def;
  if (!def) return;
  for (const field of def.fields.filter((fd) => fd.type === 'id')) {
    const n18 = parts.reduce((sum, p) => sum + (p.ids[field.name]?.n18 ?? 0), 0);
    if (parts.reduce((sum, p) => sum + (p.ids[field.name]?.n000 ?? 0), 0) < EXCEL000_MIN) continue;
    const [id, , problem, , digits] = idColumns(field).map(quoteIdent) as [string, string, string, string, string];
    const damaged = `skip_reason IS NULL AND ends_with(${id}, '000') AND regexp_full_match(${id}, '[0-9]{15}000')`;
    let n000 = 0;
    for (const p of parts) {
      const [exact] = await queryStep<{ n: string }>(conn, `finish ${p.table}: ${field.name} ending in 000`, `SELECT count(*) AS n FROM ${quoteIdent(p.table)} WHERE ${damaged}`);
      n000 += Number(exact?.n ?? 0);
    }
    if (n000 < EXCEL000_MIN || n000 <= EXCEL000_SHARE * n18) continue;
    for (const p of parts) {
      await p.beforeUpdate();
      await runStep(conn, `finish ${p.table}: ${field.name} Excel-damaged`, `UPDATE ${quoteIdent(p.table)} SET ${problem} = 'excel', ${digits} = left(${id}, 15) WHERE ${damaged}`);
      (p.notes.excel000 ??= []).push({ field: field.name, damaged: n000, of: n18 });
    }
  }
  for (const p of parts) {
    p.counts = await countStaged(conn, `finish ${p.table}`, def, quoteIdent(p.table), asOf);
    // Blank lines DuckDB skipped (between the records and after them) are rows read and skipped
    // as empty, as in a file read normalised.
    const blank = p.input.kind === 'raw' ? p.input.blankLines.length + p.input.trailingBlankLines : 0;
    if (blank > 0) {
      p.counts.rowsRead += blank;
      p.counts.rowsSkipped += blank;
      p.counts.skipped.empty = (p.counts.skipped.empty ?? 0) + blank;
    }
  }
}

/**
 * Roster households (DOMAIN.md "The roster loses no one"): a household field empty or unreadable
 * on a member's row is taken from the head's row of the same 户编号 (与户主关系 = 户主), else from
 * the household's other rows when they agree. An unreadable value that was replaced is a warning;
 * a required value the whole household lacks rejects the row; an unreadable optional value the
 * household cannot supply is a warning.
 */
async function fillHouseholds(conn: DuckDBConnection, step: string, typed: TypedSql, t: string, notes: FileNotes, staged: StagedFile): Promise<void> {
  const fields = typed.householdFields;
  if (fields.length === 0) return;
  const beforeUpdate = () => staged.beforeUpdate();
  await fillHouseholdIds(conn, step, t, fields.map((f) => f.name), notes, staged);
  const h = quoteIdent(`${t.replace(/"/g, '')}_hh`);
  const q = (name: string) => quoteIdent(name);
  const ic = (f: string) => q(`_i_${f}`);
  /** The cell as written (where no value was read). */
  const cc = (f: string) => q(`_c_${f}`);
  const problemCode = (f: (typeof fields)[number], on = '') =>
    `CASE ${on}${ic(f.name)} WHEN 'error' THEN 'excel_error' WHEN 'formula' THEN 'formula_no_value' WHEN 'ambiguous_date' THEN 'ambiguous_date' WHEN 'excel_number' THEN 'excel_number' WHEN 'number_date' THEN 'number_date' WHEN 'too_long' THEN 'too_long'
       ELSE ${quoteLiteral(f.type === 'date' ? 'bad_date' : f.type === 'number' ? 'bad_number' : f.type === 'enum' ? 'bad_value' : 'missing_field')} END`;
  /** Something was written but no value could be read from it (as opposed to an empty cell). */
  const unreadable = (f: string, on = '') => `(${on}${ic(f)} IS NOT NULL OR bidui_text(${on}${cc(f)}) IS NOT NULL)`;
  // Rows that may need a value of their household: a field empty or unreadable (an exit date
  // only where the row does not say 未脱贫). Only their households are looked at.
  const needs = fields.map((f) => (f.name === 'exited_on' ? `(${q(f.name)} IS NULL AND status IS DISTINCT FROM '未脱贫')` : `${q(f.name)} IS NULL`)).join(' OR ');
  try {
    await runStep(conn, `${step}: household values`, `CREATE OR REPLACE TEMP TABLE ${h} AS
      SELECT household_id, ${fields.map((f) => `coalesce(
          arg_min(${q(f.name)}, rowid) FILTER (WHERE relation = '户主' AND ${q(f.name)} IS NOT NULL),
          CASE WHEN count(DISTINCT ${q(f.name)}) = 1 THEN min(${q(f.name)}) END) AS ${q(f.name)}`).join(',\n        ')}
      FROM ${t} WHERE skip_reason IS NULL AND household_id IN (SELECT household_id FROM ${t} WHERE skip_reason IS NULL AND reject_key IS NULL AND (${needs}))
      GROUP BY household_id`);
    const [filled] = await queryStep<Record<string, string>>(conn, `${step}: household values filled`,
      `SELECT ${fields.map((f) => `count(*) FILTER (WHERE s.${q(f.name)} IS NULL AND h.${q(f.name)} IS NOT NULL) AS ${q(f.name)}`).join(', ')}
       FROM ${t} s JOIN ${h} h USING (household_id) WHERE s.skip_reason IS NULL AND s.reject_key IS NULL`);
    const counts = Object.fromEntries(fields.map((f) => [f.name, Number(filled?.[f.name] ?? 0)]).filter(([, n]) => Number(n) > 0));
    if (Object.keys(counts).length) notes.filled = { ...(notes.filled ?? {}), ...counts };
    const required = fields.filter((f) => f.required);
    const optional = fields.filter((f) => !f.required);
    const [left] = await queryStep<{ n: string }>(conn, `${step}: household values still missing`,
      `SELECT count(*) AS n FROM ${t} WHERE skip_reason IS NULL AND reject_key IS NULL AND (${[
        ...required.map((f) => `${q(f.name)} IS NULL`),
        ...optional.map((f) => `(${q(f.name)} IS NULL AND ${unreadable(f.name)})`),
      ].join(' OR ')})`);
    if (Object.keys(counts).length === 0 && Number(left?.n ?? 0) === 0) return;
    await beforeUpdate();
    const filledWarning = (f: (typeof fields)[number]) =>
      `CASE WHEN s.${q(f.name)} IS NULL AND ${unreadable(f.name, 's.')} AND h.${q(f.name)} IS NOT NULL
         THEN {'code': ${problemCode(f, 's.')} || '_filled', 'field': ${quoteLiteral(f.name)}, 'value': s.${cc(f.name)}} END`;
    await runStep(conn, `${step}: fill from household`, `UPDATE ${t} AS s SET
        ${fields.map((f) => `${q(f.name)} = coalesce(s.${q(f.name)}, h.${q(f.name)})`).join(', ')},
        warnings = CASE WHEN ${fields.map((f) => `(s.${q(f.name)} IS NULL AND h.${q(f.name)} IS NOT NULL AND ${unreadable(f.name, 's.')})`).join(' OR ')}
          THEN list_concat(coalesce(s.warnings, []), list_filter([${fields.map(filledWarning).join(', ')}], x -> x IS NOT NULL)) ELSE s.warnings END
      FROM ${h} h WHERE s.household_id = h.household_id AND s.skip_reason IS NULL AND s.reject_key IS NULL
        AND (${fields.map((f) => `(s.${q(f.name)} IS NULL AND h.${q(f.name)} IS NOT NULL)`).join(' OR ')})`);
    if (required.length) {
      await runStep(conn, `${step}: households lacking a value`, `UPDATE ${t} SET reject_key = CASE
          ${required.map((f) => `WHEN ${q(f.name)} IS NULL THEN CASE WHEN ${unreadable(f.name)} THEN ${problemCode(f)} ELSE 'household_missing' END || ':${f.name}'`).join('\n          ')} END
        WHERE skip_reason IS NULL AND reject_key IS NULL AND (${required.map((f) => `${q(f.name)} IS NULL`).join(' OR ')})`);
    }
    if (optional.length) {
      await runStep(conn, `${step}: unreadable household values`, `UPDATE ${t} SET warnings = list_concat(coalesce(warnings, []), list_filter([${optional
        .map((f) => `CASE WHEN ${q(f.name)} IS NULL AND ${unreadable(f.name)} THEN {'code': ${problemCode(f)}, 'field': ${quoteLiteral(f.name)}, 'value': ${cc(f.name)}} END`)
        .join(', ')}], x -> x IS NOT NULL))
        WHERE skip_reason IS NULL AND reject_key IS NULL AND (${optional.map((f) => `(${q(f.name)} IS NULL AND ${unreadable(f.name)})`).join(' OR ')})`);
    }
  } finally {
    await runStep(conn, `${step}: drop household values`, `DROP TABLE IF EXISTS ${h}`);
  }
}

/**
 * A 花名册 saved as CSV (or re-typed from a printed list) writes the 户编号 and household cells on
 * the head's row only: a member row (one with a name) with no 户编号 and no household value at
 * all belongs to the household of the nearest row above that has one (as the merged cell did). It
 * is kept, with a warning, instead of being rejected; a row with household values of its own but
 * no 户编号 is still rejected (it is another household whose number is missing), and so is a row
 * without a name.
 */
async function fillHouseholdIds(conn: DuckDBConnection, step: string, t: string, householdFields: string[], notes: FileNotes, staged: StagedFile): Promise<void> {
  const q = quoteIdent;
  // A member row has a name or an ID. One with an ID but no name (lost to #N/A, left empty) is
  // rejected for its name, with the name's own reason (its 户编号 is on the head's row); a row
  // with neither (a template row numbered down the sheet) stays rejected, never a nameless
  // member of the household above.
  const candidate = `skip_reason IS NULL AND reject_key = 'missing_field:household_id' AND ("name" IS NOT NULL OR coalesce("id_number", '') <> '') AND ${householdFields.map((f) => `${q(f)} IS NULL AND ${q(`_i_${f}`)} IS NULL`).join(' AND ')}`;
  const [c] = await queryStep<{ n: string }>(conn, `${step}: rows without 户编号`, `SELECT count(*) AS n FROM ${t} WHERE ${candidate}`);
  if (Number(c?.n ?? 0) === 0) return;
  await staged.beforeUpdate();
  // The name's reason from the cell as written (row_json: the row was a reject when typed).
  const nameReject = `CASE bidui_cell_issue(json_extract_string(s.row_json, '$.name')) WHEN 'error' THEN 'excel_error:name' WHEN 'formula' THEN 'formula_no_value:name' WHEN 'too_long' THEN 'too_long:name' ELSE 'missing_field:name' END`;
  await runStep(conn, `${step}: 户编号 from the row above`, `UPDATE ${t} AS s SET household_id = f.hid, reject_key = CASE WHEN s."name" IS NULL THEN ${nameReject} END,
      warnings = CASE WHEN s."name" IS NULL THEN s.warnings ELSE list_append(coalesce(s.warnings, []), {'code': 'household_id_filled', 'field': 'household_id', 'value': NULL::VARCHAR}) END
    FROM (SELECT source_row, last_value(household_id IGNORE NULLS) OVER (ORDER BY source_row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS hid,
                 ${candidate} AS is_candidate
          FROM ${t} WHERE skip_reason IS NULL) f
    WHERE s.source_row = f.source_row AND f.is_candidate AND f.hid IS NOT NULL`);
  const [n] = await queryStep<{ n: string }>(conn, `${step}: 户编号 filled`, `SELECT count(*) AS n FROM ${t} WHERE list_contains(list_transform(warnings, w -> w.code), 'household_id_filled')`);
  if (Number(n?.n ?? 0) > 0) notes.filled = { ...(notes.filled ?? {}), household_id: Number(n!.n) };
}

async function countStaged(conn: DuckDBConnection, step: string, def: DatasetDef, t: string, asOf: string): Promise<FileCounts> {
  const [, , problem, birth] = idColumns(personIdField(def)).map(quoteIdent) as [string, string, string, string];
  const [c] = await queryStep<Record<string, string>>(conn, `${step}: count`,
    `SELECT count(*) AS read,
            count(*) FILTER (WHERE skip_reason IS NULL AND reject_key IS NULL) AS loaded,
            count(*) FILTER (WHERE skip_reason IS NULL AND reject_key IS NOT NULL) AS rejected,
            count(*) FILTER (WHERE skip_reason = 'empty') AS empty,
            count(*) FILTER (WHERE skip_reason = 'footer') AS footer,
            count(*) FILTER (WHERE skip_reason = 'header') AS header,
            coalesce(sum(len(warnings)) FILTER (WHERE skip_reason IS NULL AND reject_key IS NULL), 0) AS warnings,
            ${ID_PROBLEMS.map((p) => `count(*) FILTER (WHERE p = ${quoteLiteral(p)}) AS ${quoteIdent(`p_${p}`)}`).join(', ')}
     FROM (SELECT skip_reason, reject_key, warnings,
                  CASE WHEN skip_reason IS NULL AND reject_key IS NULL THEN bidui_id_problem_on(${problem}, ${birth}, $asOf::DATE) END AS p
           FROM ${t})`, { asOf });
  const skipped = Object.fromEntries((['empty', 'footer', 'header'] as const).map((k) => [k, Number(c![k])]).filter(([, n]) => Number(n) > 0));
  const idProblems: Partial<Record<IdProblem, number>> = Object.fromEntries(ID_PROBLEMS.map((p) => [p, Number(c![`p_${p}`])]).filter(([, n]) => Number(n) > 0));
  return {
    rowsRead: Number(c!.read),
    rowsLoaded: Number(c!.loaded),
    rowsRejected: Number(c!.rejected),
    rowsSkipped: Number(c!.empty) + Number(c!.footer) + Number(c!.header),
    warnings: Number(c!.warnings),
    skipped,
    invalidIds: Object.values(idProblems).reduce((sum: number, n) => sum + (n ?? 0), 0),
    idProblems,
  };
}

export async function dropStaged(conn: DuckDBConnection, table: string): Promise<void> {
  await runStep(conn, `drop ${table}`, `DROP TABLE IF EXISTS ${quoteIdent(table)}`);
}

/**
 * Record a staged file's rejects and warnings under (snapshotId, fileNo); its loaded rows stay in
 * its table (rows.ts). Runs inside the caller's transaction: on any error nothing of it remains.
 */
export async function recordStagedFile(conn: DuckDBConnection, staged: StagedFile, snapshotId: number, fileNo: number): Promise<void> {
  const { def, typed } = staged;
  const sourceRow = sourceRowSql(staged.rowOffset);
  const step = `record ${def.name} file ${fileNo}`;
  const t = quoteIdent(staged.table);
  await runStep(conn, `${step}: insert rejects`,
    `INSERT INTO reject (snapshot_id, file_no, source_row, reason_code, reason, row_json, field)
     SELECT $snapshot, $file, ${sourceRow}, split_part(reject_key, ':', 1), ${typed.reasonOf('reject_key')}, row_json, split_part(reject_key, ':', 2)
     FROM ${t} WHERE skip_reason IS NULL AND reject_key IS NOT NULL`,
    { snapshot: snapshotId, file: fileNo });
  await runStep(conn, `${step}: insert warnings`,
    `INSERT INTO ingest_warning (snapshot_id, file_no, source_row, field, code, message, value)
     SELECT $snapshot, $file, source_row, w.field, w.code, ${typed.reasonOf("w.code || ':' || w.field")}, w.value
     FROM (SELECT ${sourceRow} AS source_row, unnest(warnings) AS w FROM ${t}
           WHERE skip_reason IS NULL AND reject_key IS NULL AND warnings IS NOT NULL)`,
    { snapshot: snapshotId, file: fileNo });
}
