import { quoteIdent } from '../core/sql.js';
import { DATASETS, type DatasetDef, type FieldDef, dataTable } from './datasets.js';

/**
 * The store tables ingest writes (the other stages' tables are in their own store-schema.ts; the
 * store assembles them in src/core/store.ts):
 * - `snapshot`, `snapshot_file`, `reject`, `ingest_warning`, `ingest`;
 * - the typed rows of each loaded file (or sheet): since store version 7 a table of its own,
 *   `rows_<dataset>_<load>_<k>` (the file's staging table, written before the ingest's transaction and
 *   made part of the store by it: snapshot_file.rows_table names it); rows loaded by earlier
 *   versions stay in one `ds_<dataset>` table per dataset (typed canonical columns + snapshot_id,
 *   file_no, source_row). Match reads both through `rows.ts`, by the snapshots a run pins.
 *
 * A snapshot is one version of one dataset: the set of files (and sheets) that made it. A file
 * whose SHA-256 was loaded before for the same dataset (with the same read options) is not read
 * again: its snapshot_file rows point at the rows loaded earlier (rows_from_snapshot,
 * rows_from_file_no). A workbook read sheet by sheet has one snapshot_file row per sheet.
 */

/**
 * The store columns of an ID field: the normalised ID; as written (only when different); its
 * problem regardless of date; its birth date; the digits Excel kept of an Excel-damaged ID (for
 * linking it later to the person it belongs to).
 */
export function idColumns(field: FieldDef): [string, string, string, string, string] {
  return [field.name, `${field.name}_raw`, `${field.name}_problem`, `${field.name}_birth`, `${field.name}_excel_digits`];
}

/** A field's store columns with their DuckDB types, in table order. */
export function columnTypes(field: FieldDef): [string, string][] {
  switch (field.type) {
    case 'id': {
      const [id, raw, problem, birth, digits] = idColumns(field);
      return [[id, 'VARCHAR'], [raw, 'VARCHAR'], [problem, 'VARCHAR'], [birth, 'DATE'], [digits, 'VARCHAR']];
    }
    case 'date':
      return [[field.name, 'DATE']];
    case 'number':
      return [[field.name, 'DECIMAL(18, 2)']];
    default:
      return [[field.name, 'VARCHAR']];
  }
}

export function columnSql(field: FieldDef): string[] {
  return columnTypes(field).map(([name, type]) => `${quoteIdent(name)} ${type}`);
}

function datasetTableSql(def: DatasetDef): string {
  const cols = [
    'snapshot_id INTEGER NOT NULL',
    'file_no INTEGER NOT NULL',
    'source_row BIGINT NOT NULL',
    ...def.fields.flatMap(columnSql),
  ];
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(dataTable(def.name))} (\n  ${cols.join(',\n  ')}\n);`;
}

export const INGEST_SCHEMA_SQL = `
CREATE SEQUENCE IF NOT EXISTS ingest_seq START 1;
CREATE SEQUENCE IF NOT EXISTS snapshot_seq START 1;
CREATE SEQUENCE IF NOT EXISTS load_seq START 1;
CREATE TABLE IF NOT EXISTS ingest (
  ingest_id INTEGER PRIMARY KEY,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP NOT NULL,
  bidui_version VARCHAR NOT NULL,
  config_hash VARCHAR
);
CREATE TABLE IF NOT EXISTS snapshot (
  snapshot_id INTEGER PRIMARY KEY,
  dataset VARCHAR NOT NULL,
  ingest_id INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL,
  files INTEGER NOT NULL,
  rows_read BIGINT NOT NULL,
  rows_loaded BIGINT NOT NULL,
  rows_rejected BIGINT NOT NULL,
  invalid_ids BIGINT NOT NULL,
  rows_skipped BIGINT NOT NULL DEFAULT 0,
  warnings BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS snapshot_file (
  snapshot_id INTEGER NOT NULL,
  file_no INTEGER NOT NULL,
  path VARCHAR NOT NULL,
  sha256 VARCHAR NOT NULL,
  size_bytes BIGINT NOT NULL,
  format VARCHAR NOT NULL,
  encoding VARCHAR NOT NULL,
  sheet VARCHAR,
  header_map VARCHAR NOT NULL,
  read_options_hash VARCHAR NOT NULL,
  rows_read BIGINT NOT NULL,
  rows_loaded BIGINT NOT NULL,
  rows_rejected BIGINT NOT NULL,
  invalid_ids BIGINT NOT NULL,
  id_problems VARCHAR NOT NULL,
  rows_from_snapshot INTEGER NOT NULL,
  rows_from_file_no INTEGER NOT NULL,
  rows_skipped BIGINT NOT NULL DEFAULT 0,
  warnings BIGINT NOT NULL DEFAULT 0,
  layout_json VARCHAR NOT NULL DEFAULT '{}',
  file_mtime TIMESTAMP,
  rows_table VARCHAR,
  rows_offset BIGINT,
  PRIMARY KEY (snapshot_id, file_no)
);
CREATE TABLE IF NOT EXISTS reject (
  snapshot_id INTEGER NOT NULL,
  file_no INTEGER NOT NULL,
  source_row BIGINT NOT NULL,
  reason_code VARCHAR NOT NULL,
  reason VARCHAR NOT NULL,
  row_json VARCHAR,
  field VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_warning (
  snapshot_id INTEGER NOT NULL,
  file_no INTEGER NOT NULL,
  source_row BIGINT NOT NULL,
  field VARCHAR NOT NULL,
  code VARCHAR NOT NULL,
  message VARCHAR NOT NULL,
  value VARCHAR
);
${DATASETS.map(datasetTableSql).join('\n')}
`;

/**
 * Store version 1 → 2 (ingest's part): the columns of "Real exports" (skipped rows, warnings and
 * layout per file, the value of a warning, the digits an Excel-damaged ID kept) and the ID
 * problem `empty`, now `missing`.
 */
export const INGEST_MIGRATION_V2 = `
ALTER TABLE snapshot ADD COLUMN IF NOT EXISTS rows_skipped BIGINT DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN IF NOT EXISTS warnings BIGINT DEFAULT 0;
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS rows_skipped BIGINT DEFAULT 0;
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS warnings BIGINT DEFAULT 0;
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS layout_json VARCHAR DEFAULT '{}';
ALTER TABLE ingest_warning ADD COLUMN IF NOT EXISTS value VARCHAR;
ALTER TABLE reject ADD COLUMN IF NOT EXISTS field VARCHAR;
${DATASETS.flatMap((def) => def.fields.filter((fd) => fd.type === 'id').map((fd) => {
  const [, , problem, , digits] = idColumns(fd).map(quoteIdent);
  return `ALTER TABLE ${quoteIdent(dataTable(def.name))} ADD COLUMN IF NOT EXISTS ${digits} VARCHAR;
UPDATE ${quoteIdent(dataTable(def.name))} SET ${problem} = 'missing' WHERE ${problem} = 'empty';`;
})).join('\n')}
`;

/**
 * Store version 4 → 5 (ingest's part): each file's modification time (UTC) as it was loaded,
 * for the summary's freshness of each dataset; unknown (NULL) for files loaded before.
 */
export const INGEST_MIGRATION_V5 = `
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS file_mtime TIMESTAMP;
`;

/**
 * Store version 5 → 6 (ingest's part): the datasets of 防止返贫动态监测, `monitoring` (监测对象)
 * and `medical_expense` (医保结算). Their tables are also made by INGEST_SCHEMA_SQL on opening;
 * the version step records that a store may now hold them (an older bidui refuses it).
 */
export const INGEST_MIGRATION_V6 = DATASETS.filter((d) => d.name === 'monitoring' || d.name === 'medical_expense').map(datasetTableSql).join('\n');

/**
 * Store version 6 → 7 (ingest's part): each file loaded from now on keeps its typed rows in a
 * table of its own (snapshot_file.rows_table; rows_offset gives the row numbers of a file DuckDB
 * read directly, from the table's rowid). Rows loaded before stay in `ds_<dataset>`.
 */
export const INGEST_MIGRATION_V7 = `
CREATE SEQUENCE IF NOT EXISTS load_seq START 1;
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS rows_table VARCHAR;
ALTER TABLE snapshot_file ADD COLUMN IF NOT EXISTS rows_offset BIGINT;
`;
