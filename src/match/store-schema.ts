/**
 * The store tables match writes: one row per run (`run`) and per run and rule (`run_rule`), the
 * run's leads (`lead`) and their evidence (`evidence`). Report and audit read them.
 *
 * A run's `purpose` is 'nightly' (`bidui run` on the newest data) or 'analysis' (`match` alone,
 * `--data-as-of`, or an as-of date before that of the last delivered nightly run). Its
 * `baseline_run_id`, fixed when the run is made, is the last *delivered* nightly run before it
 * (report's `report_delivery`): the run its 新增/持续/已消失 compare with. Analysis runs and runs
 * whose report was never completely written never become a baseline.
 */
export const MATCH_SCHEMA_SQL = `
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
  leads_by_category VARCHAR NOT NULL,
  quality_json VARCHAR NOT NULL DEFAULT '{}',
  purpose VARCHAR NOT NULL DEFAULT 'analysis',
  baseline_run_id INTEGER,
  lead_key_scheme VARCHAR NOT NULL DEFAULT 'hmac-sha256',
  linkage_sql VARCHAR NOT NULL DEFAULT '',
  linkage_json VARCHAR NOT NULL DEFAULT '{}'
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
  first_issued DATE,
  linkage VARCHAR,
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
  detail VARCHAR,
  linkage VARCHAR
);
`;

/** Store version 1 → 2 (match's part): the quality gate's outcome recorded with each run. */
export const MATCH_MIGRATION_V2 = `
ALTER TABLE run ADD COLUMN IF NOT EXISTS quality_json VARCHAR DEFAULT '{}';
`;

/**
 * Store version 2 → 3 (match's part): purposes and baselines. Runs made before compared with the
 * run just before them, whatever it was: they keep that baseline, so that their reports can still
 * be reproduced; a run pinned with --data-as-of was an analysis, the others count as nightly.
 */
export const MATCH_MIGRATION_V3 = `
ALTER TABLE run ADD COLUMN IF NOT EXISTS purpose VARCHAR DEFAULT 'analysis';
ALTER TABLE run ADD COLUMN IF NOT EXISTS baseline_run_id INTEGER;
UPDATE run SET purpose = CASE WHEN data_as_of IS NULL THEN 'nightly' ELSE 'analysis' END,
  baseline_run_id = (SELECT max(p.run_id) FROM run p WHERE p.run_id < run.run_id);
`;

/**
 * Store version 3 → 4 (match's part): lead keys keyed with the workspace's secret from now on;
 * the runs made before keep the unkeyed keys their reports carry.
 */
export const MATCH_MIGRATION_V4 = `
ALTER TABLE run ADD COLUMN IF NOT EXISTS lead_key_scheme VARCHAR DEFAULT 'hmac-sha256';
UPDATE run SET lead_key_scheme = 'sha256';
`;

/**
 * Store version 4 → 5 (match's part): linkage of damaged IDs (the run's linkage SQL and counts,
 * each lead's and evidence row's confidence when it rests on a linked record; none before), and
 * the day each lead was first issued (its 核实期限 counts from it). A lead carries the date of the same lead (category and household) in the run's
 * baseline, else it is the run's as-of date (never later). The runs made before get the dates
 * their baselines give, walked down the chain of baselines.
 */
export const MATCH_MIGRATION_V5 = `
ALTER TABLE lead ADD COLUMN IF NOT EXISTS first_issued DATE;
ALTER TABLE lead ADD COLUMN IF NOT EXISTS linkage VARCHAR;
ALTER TABLE evidence ADD COLUMN IF NOT EXISTS linkage VARCHAR;
ALTER TABLE run ADD COLUMN IF NOT EXISTS linkage_sql VARCHAR DEFAULT '';
ALTER TABLE run ADD COLUMN IF NOT EXISTS linkage_json VARCHAR DEFAULT '{}';
CREATE OR REPLACE TEMP TABLE m5_first AS
WITH RECURSIVE chain(run_id, category, household_key, first_issued) AS (
  SELECT l.run_id, l.category, l.household_key, r.as_of
  FROM lead l JOIN run r USING (run_id)
  WHERE NOT EXISTS (SELECT 1 FROM lead p WHERE p.run_id = r.baseline_run_id AND p.category = l.category AND p.household_key = l.household_key)
  UNION ALL
  SELECT l.run_id, l.category, l.household_key, least(c.first_issued, r.as_of)
  FROM chain c JOIN run r ON r.baseline_run_id = c.run_id JOIN lead l ON l.run_id = r.run_id AND l.category = c.category AND l.household_key = c.household_key
)
SELECT * FROM chain;
UPDATE lead SET first_issued = f.first_issued FROM m5_first f
WHERE lead.run_id = f.run_id AND lead.category = f.category AND lead.household_key = f.household_key;
DROP TABLE m5_first;
`;
