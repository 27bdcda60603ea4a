/** The store tables audit writes: imported township feedback files and their answers. */
export const AUDIT_SCHEMA_SQL = `
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
  evidence_refs VARCHAR[] NOT NULL,
  category VARCHAR,
  household_key VARCHAR
);
`;

/**
 * Store version 3 → 4 (audit's part): an answer is attached to its lead's category and household
 * (lead keys of runs before and after the keyed scheme differ for the same lead).
 */
export const AUDIT_MIGRATION_V4 = `
ALTER TABLE feedback ADD COLUMN IF NOT EXISTS category VARCHAR;
ALTER TABLE feedback ADD COLUMN IF NOT EXISTS household_key VARCHAR;
UPDATE feedback SET category = l.category, household_key = l.household_key
  FROM (SELECT DISTINCT lead_key, category, household_key FROM lead) l WHERE feedback.lead_key = l.lead_key;
`;
