/** The store table report writes: the manifest of the latest report of each run (plain and masked), for verify. */
export const REPORT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS report_manifest (
  run_id INTEGER NOT NULL,
  masked BOOLEAN NOT NULL,
  manifest_json VARCHAR NOT NULL,
  PRIMARY KEY (run_id, masked)
);
`;
