import type { DuckDBConnection } from '@duckdb/node-api';
import { log } from '../core/log.js';
import { queryStep, quoteIdent, runStep } from '../core/sql.js';
import { type DatasetName, dataTable, datasetDef } from './datasets.js';
import { columnTypes } from './store-schema.js';

/**
 * Where the loaded rows of a dataset are, for every stage that reads them (match, the quality
 * report, gc, the benchmark's baseline).
 *
 * Since store version 7 each loaded file (or sheet) keeps its typed rows in a table of its own,
 * `rows_<dataset>_<load>_<k>`: the table ingest staged the file into, before its transaction, with the
 * rows it skipped or rejected still in it (skip_reason, reject_key) and working columns of its
 * own. The transaction that records the snapshot makes it part of the store by naming it in
 * snapshot_file.rows_table, so the rows are written once instead of staged and then copied.
 * Rows loaded by earlier versions stay in `ds_<dataset>` under (snapshot_id, file_no).
 *
 * A table nobody names (an ingest killed before its commit) is never read, and the next ingest or
 * gc drops it (sweepUnrecordedRows).
 *
 * Row numbers: a file DuckDB read directly has none in the table; its rows were inserted in the
 * file's order, and the row number is rowid + rows_offset. Rows are never deleted from these
 * tables (gc drops whole tables), so rowids stay as they were written; a staged table that was
 * updated had its row numbers written down first (rows_offset NULL).
 */

/** Prefix of the per-file row tables. */
const PREFIX = 'rows_';

/** The table name of the `k`th file (or sheet) read by ingest number `load` (load_seq) of a dataset. */
export function rowsTableName(dataset: DatasetName, load: number, k: number): string {
  return `${PREFIX}${dataset}_${load}_${k}`;
}

/**
 * The SQL expression of a row's number in its file, in a rows table: rowid + offset for a file
 * DuckDB read directly and whose table was not updated, else (offset null) its source_row column.
 */
export function sourceRowSql(offset: number | null): string {
  return offset === null ? 'source_row' : `(rowid + ${Number(offset)})`;
}

/** Where one file's rows are: its own table, or (loads before store v7) ds_<dataset>. */
export interface RowsPart {
  /** The load the rows came from: snapshot_file (rows_from_snapshot, rows_from_file_no). */
  snapshotId: number;
  fileNo: number;
  table: string | null;
  /** source_row = rowid + offset; null when the table has the row numbers in source_row. */
  offset: number | null;
}

/** The SELECT of one part's loaded rows, as ds_<dataset>'s columns in its order. */
function partSql(dataset: DatasetName, part: RowsPart): string {
  const def = datasetDef(dataset);
  const cols = def.fields.flatMap(columnTypes);
  if (part.table === null) {
    return `SELECT snapshot_id, file_no, source_row, ${cols.map(([c]) => quoteIdent(c)).join(', ')} FROM ${quoteIdent(dataTable(dataset))}
      WHERE snapshot_id = ${Number(part.snapshotId)} AND file_no = ${Number(part.fileNo)}`;
  }
  return `SELECT ${Number(part.snapshotId)}::INTEGER AS snapshot_id, ${Number(part.fileNo)}::INTEGER AS file_no, CAST(${sourceRowSql(part.offset)} AS BIGINT) AS source_row,
      ${cols.map(([c, type]) => `CAST(${quoteIdent(c)} AS ${type}) AS ${quoteIdent(c)}`).join(', ')}
    FROM ${quoteIdent(part.table)} WHERE skip_reason IS NULL AND reject_key IS NULL`;
}

/** The SELECT of the rows of these parts (an empty SELECT of the same columns when none). */
export function rowsSql(dataset: DatasetName, parts: RowsPart[]): string {
  if (parts.length === 0) return `SELECT * FROM (${partSql(dataset, { snapshotId: 0, fileNo: 0, table: null, offset: null })}) WHERE false`;
  return parts.map((p) => partSql(dataset, p)).join('\nUNION ALL\n');
}

interface PartRow {
  s: number;
  n: number;
  rows_table: string | null;
  rows_offset: string | null;
}

const toPart = (r: PartRow): RowsPart => ({ snapshotId: r.s, fileNo: r.n, table: r.rows_table, offset: r.rows_offset === null ? null : Number(r.rows_offset) });

/**
 * Where the rows of a snapshot are, reused files included, in file order. The load a reused
 * file points at is looked up for its table; a load whose own snapshot_file row is gone (the gc
 * of bidui 0.1 removed it while keeping the ds_<dataset> rows a kept snapshot reused) is read
 * from ds_<dataset>, where every load of that time is.
 */
export async function snapshotParts(conn: DuckDBConnection, snapshotId: number): Promise<RowsPart[]> {
  const rows = await queryStep<PartRow>(conn, `rows of snapshot ${snapshotId}`,
    `SELECT f.rows_from_snapshot AS s, f.rows_from_file_no AS n, o.rows_table, o.rows_offset
     FROM snapshot_file f LEFT JOIN snapshot_file o ON o.snapshot_id = f.rows_from_snapshot AND o.file_no = f.rows_from_file_no
     WHERE f.snapshot_id = $sid ORDER BY f.file_no`, { sid: snapshotId });
  return rows.map(toPart);
}

/** The SELECT of a snapshot's loaded rows (columns as ds_<dataset>: snapshot_id, file_no, source_row, the fields). */
export async function snapshotRowsSql(conn: DuckDBConnection, dataset: DatasetName, snapshotId: number): Promise<string> {
  return rowsSql(dataset, await snapshotParts(conn, snapshotId));
}

/** Every load of a dataset (each file read once, whatever the snapshots that reuse it). */
export async function datasetParts(conn: DuckDBConnection, dataset: DatasetName): Promise<RowsPart[]> {
  const rows = await queryStep<PartRow>(conn, `loads of ${dataset}`,
    `SELECT f.snapshot_id AS s, f.file_no AS n, f.rows_table, f.rows_offset FROM snapshot_file f JOIN snapshot s USING (snapshot_id)
     WHERE s.dataset = $dataset AND f.rows_from_snapshot = f.snapshot_id AND f.rows_from_file_no = f.file_no ORDER BY f.snapshot_id, f.file_no`, { dataset });
  return rows.map(toPart);
}

/** The row tables that no snapshot_file row names: those of an ingest killed or failed before its commit. */
export async function unrecordedRowTables(conn: DuckDBConnection): Promise<string[]> {
  return (await queryStep<{ table_name: string }>(conn, 'unrecorded row tables',
    `SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' AND starts_with(table_name, '${PREFIX}')
       AND table_name NOT IN (SELECT rows_table FROM snapshot_file WHERE rows_table IS NOT NULL)
     ORDER BY table_name`)).map((r) => r.table_name);
}

/** Drop the row tables no snapshot names (unrecordedRowTables). Run by the process that holds the workspace (ingest). */
export async function sweepUnrecordedRows(conn: DuckDBConnection): Promise<number> {
  const orphans = await unrecordedRowTables(conn);
  for (const o of orphans) await runStep(conn, `drop unrecorded ${o}`, `DROP TABLE IF EXISTS ${quoteIdent(o)}`);
  if (orphans.length) log().info({ tables: orphans.length }, 'row tables of an unfinished ingest dropped');
  return orphans.length;
}
