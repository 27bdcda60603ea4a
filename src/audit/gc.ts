import { log } from '../core/log.js';
import { inTransaction, queryStep, quoteIdent, runStep, sqlTimestamp } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, dataTable } from '../ingest/datasets.js';

/**
 * Retention. Kept: every run finished within `keepDays`, and the run just before the oldest of
 * them (the baseline of their 新增/持续 status, so they stay verifiable; the baseline itself
 * can then only be verified by its leads and evidence); every snapshot one of
 * those runs uses; the newest snapshot of each dataset; anything younger than `keepDays`.
 * Removed: older runs (their leads, evidence and manifests), older snapshots nobody keeps, and
 * the rows, rejects and warnings those snapshots loaded — unless a kept snapshot reuses them.
 * Township feedback is kept (it belongs to lead keys, not runs). One transaction.
 */
export interface GcResult {
  runsRemoved: number;
  snapshotsRemoved: number;
  rowsRemoved: number;
  runsKept: number;
  snapshotsKept: number;
}

export async function gc(store: Store, keepDays: number, now = new Date()): Promise<GcResult> {
  const { conn } = store;
  const cutoff = sqlTimestamp(new Date(now.getTime() - keepDays * 86_400_000));
  return inTransaction(conn, 'gc', async () => {
    await runStep(conn, 'gc: kept runs', `
      CREATE OR REPLACE TEMP TABLE gc_run AS
      WITH recent AS (SELECT run_id FROM run WHERE finished_at >= $cutoff::TIMESTAMP)
      SELECT run_id FROM recent
      UNION SELECT max(run_id) FROM run WHERE run_id < (SELECT coalesce(min(run_id), (SELECT max(run_id) + 1 FROM run)) FROM recent)
      UNION SELECT max(run_id) FROM run`, { cutoff });
    await runStep(conn, 'gc: kept snapshots', `
      CREATE OR REPLACE TEMP TABLE gc_snapshot AS
      SELECT DISTINCT CAST(s.value AS INTEGER) AS snapshot_id
      FROM run r, json_each(r.snapshots_json) s WHERE r.run_id IN (SELECT run_id FROM gc_run)
      UNION SELECT max(snapshot_id) FROM snapshot GROUP BY dataset
      UNION SELECT snapshot_id FROM snapshot WHERE created_at >= $cutoff::TIMESTAMP`, { cutoff });
    await runStep(conn, 'gc: loads still used', `
      CREATE OR REPLACE TEMP TABLE gc_load AS
      SELECT DISTINCT rows_from_snapshot AS snapshot_id, rows_from_file_no AS file_no FROM snapshot_file
      WHERE snapshot_id IN (SELECT snapshot_id FROM gc_snapshot)`);
    const [counts] = await queryStep<{ runs: string; snapshots: string; kept_runs: string; kept_snapshots: string }>(conn, 'gc: counts', `
      SELECT (SELECT count(*) FROM run WHERE run_id NOT IN (SELECT run_id FROM gc_run WHERE run_id IS NOT NULL)) AS runs,
             (SELECT count(*) FROM snapshot WHERE snapshot_id NOT IN (SELECT snapshot_id FROM gc_snapshot WHERE snapshot_id IS NOT NULL)) AS snapshots,
             (SELECT count(*) FROM run WHERE run_id IN (SELECT run_id FROM gc_run)) AS kept_runs,
             (SELECT count(*) FROM snapshot WHERE snapshot_id IN (SELECT snapshot_id FROM gc_snapshot)) AS kept_snapshots`);
    // The oldest kept run loses its own previous run: its leads.csv statuses and resolved.csv can
    // no longer be reproduced, so its report manifests go (verify then checks its leads and
    // evidence only). It stays as the baseline of the next run's 新增/持续.
    await runStep(conn, 'gc: baseline manifests', `
      DELETE FROM report_manifest WHERE run_id = (SELECT min(run_id) FROM gc_run)
        AND EXISTS (SELECT 1 FROM run WHERE run_id < (SELECT min(run_id) FROM gc_run))`);
    for (const table of ['evidence', 'lead', 'run_rule', 'report_manifest', 'run']) {
      await runStep(conn, `gc: ${table}`, `DELETE FROM ${table} WHERE run_id NOT IN (SELECT run_id FROM gc_run WHERE run_id IS NOT NULL)`);
    }
    let rowsRemoved = 0;
    const unused = `(snapshot_id, file_no) NOT IN (SELECT snapshot_id, file_no FROM gc_load)`;
    for (const def of DATASETS) {
      const [r] = await queryStep<{ n: string }>(conn, `gc: count ${def.name}`, `SELECT count(*) AS n FROM ${quoteIdent(dataTable(def.name))} WHERE ${unused}`);
      rowsRemoved += Number(r!.n);
      await runStep(conn, `gc: ${def.name}`, `DELETE FROM ${quoteIdent(dataTable(def.name))} WHERE ${unused}`);
    }
    await runStep(conn, 'gc: rejects', `DELETE FROM reject WHERE ${unused}`);
    await runStep(conn, 'gc: warnings', `DELETE FROM ingest_warning WHERE ${unused}`);
    await runStep(conn, 'gc: snapshot files', 'DELETE FROM snapshot_file WHERE snapshot_id NOT IN (SELECT snapshot_id FROM gc_snapshot WHERE snapshot_id IS NOT NULL)');
    await runStep(conn, 'gc: snapshots', 'DELETE FROM snapshot WHERE snapshot_id NOT IN (SELECT snapshot_id FROM gc_snapshot WHERE snapshot_id IS NOT NULL)');
    const result = {
      runsRemoved: Number(counts!.runs), snapshotsRemoved: Number(counts!.snapshots), rowsRemoved,
      runsKept: Number(counts!.kept_runs), snapshotsKept: Number(counts!.kept_snapshots),
    };
    log().info({ keepDays, ...result }, 'gc finished');
    return result;
  });
}
