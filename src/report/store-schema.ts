/**
 * The store tables report writes:
 * - `report_manifest`: the manifest of the latest report of each run (plain and masked), for
 *   verify;
 * - `report_delivery`: each time a run's report was completely written and moved into place
 *   (the run is then *delivered*: a nightly run becomes the baseline of the next runs).
 */
export const REPORT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS report_manifest (
  run_id INTEGER NOT NULL,
  masked BOOLEAN NOT NULL,
  manifest_json VARCHAR NOT NULL,
  PRIMARY KEY (run_id, masked)
);
CREATE TABLE IF NOT EXISTS report_delivery (
  run_id INTEGER NOT NULL,
  masked BOOLEAN NOT NULL,
  out_dir VARCHAR NOT NULL,
  delivered_at TIMESTAMP NOT NULL
);
`;

/**
 * Store version 2 → 3 (report's part): a run with a recorded manifest was completely reported
 * (the manifest was recorded after every file was written).
 */
export const REPORT_MIGRATION_V3 = `
INSERT INTO report_delivery SELECT m.run_id, m.masked, '', r.finished_at FROM report_manifest m JOIN run r USING (run_id);
`;
