import { quoteIdent } from '../core/sql.js';
import { DATASETS, type DatasetDef, type FieldDef, dataTable } from './datasets.js';

/**
 * The store's tables. Stages meet only here:
 * - ingest writes `snapshot`, `snapshot_file`, `reject`, `ingest_warning` and one `ds_<dataset>`
 *   table per dataset (typed canonical columns + snapshot_id, file_no, source_row);
 * - match reads `ds_*` through the snapshots a run pins, and writes `run*`, `lead*` tables.
 *
 * A snapshot is one version of one dataset: the set of files that made it. A file whose SHA-256
 * was loaded before for the same dataset (with the same read options) is not read again: its
 * snapshot_file row points at the rows loaded earlier (rows_from_snapshot, rows_from_file_no).
 */
export const STORE_SCHEMA_VERSION = 1;

/**
 * The store columns of an ID field: the normalised ID; as written (only when different); its
 * problem regardless of date; its birth date.
 */
export function idColumns(field: FieldDef): [string, string, string, string] {
  return [field.name, `${field.name}_raw`, `${field.name}_problem`, `${field.name}_birth`];
}

export function columnSql(field: FieldDef): string[] {
  const name = quoteIdent(field.name);
  switch (field.type) {
    case 'id': {
      const [id, raw, problem, birth] = idColumns(field).map(quoteIdent);
      return [`${id} VARCHAR`, `${raw} VARCHAR`, `${problem} VARCHAR`, `${birth} DATE`];
    }
    case 'date':
      return [`${name} DATE`];
    case 'number':
      return [`${name} DECIMAL(18, 2)`];
    default:
      return [`${name} VARCHAR`];
  }
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

export const STORE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS ingest_seq START 1;
CREATE SEQUENCE IF NOT EXISTS snapshot_seq START 1;
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
  invalid_ids BIGINT NOT NULL
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
  PRIMARY KEY (snapshot_id, file_no)
);
CREATE TABLE IF NOT EXISTS reject (
  snapshot_id INTEGER NOT NULL,
  file_no INTEGER NOT NULL,
  source_row BIGINT NOT NULL,
  reason_code VARCHAR NOT NULL,
  reason VARCHAR NOT NULL,
  row_json VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_warning (
  snapshot_id INTEGER NOT NULL,
  file_no INTEGER NOT NULL,
  source_row BIGINT NOT NULL,
  field VARCHAR NOT NULL,
  code VARCHAR NOT NULL,
  message VARCHAR NOT NULL
);
${DATASETS.map(datasetTableSql).join('\n')}
CREATE SEQUENCE IF NOT EXISTS run_seq START 1;
CREATE TABLE IF NOT EXISTS run (
  run_id INTEGER PRIMARY KEY,
  as_of DATE NOT NULL,
  data_as_of TIMESTAMP,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP NOT NULL,
  status VARCHAR NOT NULL,
  bidui_version VARCHAR NOT NULL,
  duckdb_version VARCHAR NOT NULL,
  config_hash VARCHAR NOT NULL,
  config_json VARCHAR NOT NULL,
  params_json VARCHAR NOT NULL,
  snapshots_json VARCHAR NOT NULL,
  prelude_sql VARCHAR NOT NULL,
  flags_sql VARCHAR NOT NULL,
  leads BIGINT NOT NULL,
  leads_by_category VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS run_rule (
  run_id INTEGER NOT NULL,
  rule_id VARCHAR NOT NULL,
  category VARCHAR NOT NULL,
  title VARCHAR NOT NULL,
  explain VARCHAR NOT NULL,
  weight INTEGER NOT NULL,
  target VARCHAR NOT NULL,
  needs_json VARCHAR NOT NULL,
  requires_json VARCHAR NOT NULL,
  outcome VARCHAR NOT NULL,
  reason VARCHAR,
  sql_text VARCHAR NOT NULL,
  sql_hash VARCHAR NOT NULL,
  params_json VARCHAR NOT NULL,
  leads BIGINT NOT NULL,
  evidence_rows BIGINT NOT NULL,
  ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, rule_id)
);
CREATE TABLE IF NOT EXISTS report_manifest (
  run_id INTEGER NOT NULL,
  masked BOOLEAN NOT NULL,
  manifest_json VARCHAR NOT NULL,
  PRIMARY KEY (run_id, masked)
);
CREATE SEQUENCE IF NOT EXISTS feedback_import_seq START 1;
CREATE TABLE IF NOT EXISTS feedback_import (
  import_id INTEGER PRIMARY KEY,
  file VARCHAR NOT NULL,
  sha256 VARCHAR NOT NULL,
  imported_at TIMESTAMP NOT NULL,
  rows_answered INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
  import_id INTEGER NOT NULL,
  lead_key VARCHAR NOT NULL,
  result VARCHAR NOT NULL,
  note VARCHAR,
  sheet VARCHAR,
  source_row INTEGER NOT NULL,
  list_run_id INTEGER,
  evidence_refs VARCHAR[] NOT NULL
);
CREATE TABLE IF NOT EXISTS lead (
  run_id INTEGER NOT NULL,
  lead_key VARCHAR NOT NULL,
  category VARCHAR NOT NULL,
  household_key VARCHAR NOT NULL,
  township VARCHAR,
  village VARCHAR,
  rules VARCHAR NOT NULL,
  rule_count INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  members INTEGER NOT NULL,
  flags VARCHAR,
  PRIMARY KEY (run_id, lead_key)
);
CREATE TABLE IF NOT EXISTS evidence (
  run_id INTEGER NOT NULL,
  lead_key VARCHAR NOT NULL,
  category VARCHAR NOT NULL,
  rule VARCHAR NOT NULL,
  household_key VARCHAR NOT NULL,
  id_number VARCHAR,
  name VARCHAR,
  dataset VARCHAR NOT NULL,
  snapshot_id INTEGER,
  file_no INTEGER,
  source_row BIGINT,
  record_ref VARCHAR NOT NULL,
  detail VARCHAR
);
`;
