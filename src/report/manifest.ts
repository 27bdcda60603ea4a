import fs from 'node:fs';
import path from 'node:path';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { sha256File } from '../core/files.js';
import type { ReportResult, RunRow, RunRuleRow } from './report.js';

/**
 * manifest.json: what an auditor needs to check a report: the run, versions, configuration
 * hash and parameters, every input snapshot with its files and SHA-256, every rule's SQL hash and
 * outcome, every output file's SHA-256, and the counts. No wall-clock time of the report itself.
 */
export async function writeManifest(store: Store, run: RunRow, runRules: RunRuleRow[], result: ReportResult, masked: boolean, file: string, encrypt?: { round: number }): Promise<string> {
  const snapshots = JSON.parse(run.snapshots_json) as Record<string, number>;
  const files = await queryStep<{ snapshot_id: number; file_no: number; path: string; sha256: string; size_bytes: string; format: string; encoding: string; sheet: string | null; rows_read: string; rows_loaded: string; rows_rejected: string; rows_skipped: string; warnings: string }>(
    store.conn, 'manifest: files',
    `SELECT snapshot_id, file_no, path, sha256, size_bytes, format, encoding, sheet, rows_read, rows_loaded, rows_rejected, rows_skipped, warnings FROM snapshot_file
     WHERE snapshot_id IN (SELECT unnest($ids::INTEGER[])) ORDER BY snapshot_id, file_no`,
    { ids: `[${Object.values(snapshots).join(',')}]` });
  const rules = [...runRules].sort((a, b) => (a.rule_id < b.rule_id ? -1 : a.rule_id > b.rule_id ? 1 : 0));
  const manifest = {
    run_id: run.run_id,
    as_of: run.as_of,
    data_as_of: run.data_as_of,
    status: run.status,
    run_started_at: run.started_at,
    versions: { bidui: run.bidui_version, duckdb: run.duckdb_version },
    config_hash: run.config_hash,
    quality_gate: JSON.parse(run.quality_json || '{}') as unknown,
    parameters: JSON.parse(run.params_json) as unknown,
    ids_masked: masked,
    // Only when on (a manifest without it reads as before): verify re-encrypts with the same round.
    ...(encrypt ? { township_workbooks_encrypted: { password_round: encrypt.round } } : {}),
    snapshots: Object.entries(snapshots)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([dataset, id]) => ({
        dataset,
        snapshot_id: id,
        files: files.filter((f) => f.snapshot_id === id).map((f) => ({
          path: f.path, sha256: f.sha256, size_bytes: Number(f.size_bytes), format: f.format, encoding: f.encoding, sheet: f.sheet,
          rows_read: Number(f.rows_read), rows_loaded: Number(f.rows_loaded), rows_rejected: Number(f.rows_rejected),
          rows_skipped: Number(f.rows_skipped), warnings: Number(f.warnings),
        })),
      })),
    rules: rules.map((r) => ({
      id: r.rule_id, category: r.category, outcome: r.outcome, reason: r.reason, sql_sha256: r.sql_hash,
      parameters: JSON.parse(r.params_json) as unknown, households: Number(r.leads), evidence_rows: Number(r.evidence_rows),
    })),
    outputs: result.files
      .map((f) => path.relative(result.out, f).split(path.sep).join('/'))
      .sort()
      .map((rel) => ({ file: rel, sha256: sha256File(path.join(result.out, rel)), bytes: fs.statSync(path.join(result.out, rel)).size })),
    counts: {
      leads: result.leads,
      new: result.newLeads,
      continuing: result.continuing,
      resolved: result.resolved,
      previous_run_id: result.previousRunId ?? null,
      townships: result.townships.length,
    },
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  fs.writeFileSync(file, text, { mode: 0o600 });
  return text;
}
