import { log } from '../core/log.js';
import { inTransaction, queryStep, quoteIdent, runStep, sqlTimestamp } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, dataTable } from '../ingest/datasets.js';
import { unrecordedRowTables } from '../ingest/rows.js';

/**
 * Retention. Kept, each with its reason:
 * - every run finished within `keepDays`;
 * - the baseline of each of them (the run their 新增/持续/已消失 compare with, so that their
 *   reports can be reproduced); a kept baseline whose own baseline goes loses its report
 *   manifests (verify then checks its leads and evidence only);
 * - the last delivered nightly run (the baseline of the next run) and the newest run;
 * - every snapshot one of those runs uses, the newest snapshot of each dataset, anything
 *   loaded within `keepDays`, and every snapshot whose rows a kept snapshot reuses (its file
 *   names and rows appear in the kept runs' reports).
 * Removed: the other runs (their leads, evidence, manifests and delivery records), the other
 * snapshots, and the rows, rejects and warnings those snapshots loaded, unless a kept snapshot
 * reuses them. Township feedback is kept (it belongs to lead keys, not runs). One transaction.
 */
export interface GcRun {
  runId: number;
  asOf: string;
  finishedAt: string;
  keep: boolean;
  /** Why it is kept (Chinese), or undefined when removed. */
  reason: string | undefined;
}

export interface GcSnapshot {
  snapshotId: number;
  dataset: string;
  createdAt: string;
  keep: boolean;
  reason: string | undefined;
}

export interface GcResult {
  dryRun: boolean;
  /** False when the user declined at the prompt: nothing was removed. */
  done: boolean;
  runs: GcRun[];
  snapshots: GcSnapshot[];
  runsRemoved: number;
  snapshotsRemoved: number;
  rowsRemoved: number;
  runsKept: number;
  snapshotsKept: number;
}

export interface GcOptions {
  dryRun?: boolean;
  now?: Date;
  /** Asked once with the plan before anything is removed (the CLI on a terminal); false cancels. */
  confirm?: (plan: GcResult) => Promise<boolean>;
}

export async function gc(store: Store, keepDays: number, options: GcOptions = {}): Promise<GcResult> {
  const { conn } = store;
  const now = options.now ?? new Date();
  const cutoff = sqlTimestamp(new Date(now.getTime() - keepDays * 86_400_000));
  // The plan: kept runs and snapshots with their reasons (the first reason that applies).
  await runStep(conn, 'gc: kept runs', `
    CREATE OR REPLACE TEMP TABLE gc_run AS
    WITH recent AS (SELECT run_id FROM run WHERE finished_at >= $cutoff::TIMESTAMP),
    reasons AS (
      SELECT run_id, 1 AS o, '最近 ' || $days || ' 天内的运行' AS reason FROM recent
      UNION ALL SELECT r.baseline_run_id, 2, '运行 ' || min(r.run_id) || ' 的比较基准' FROM run r WHERE r.run_id IN (SELECT run_id FROM recent) AND r.baseline_run_id IS NOT NULL GROUP BY r.baseline_run_id
      UNION ALL SELECT max(run_id), 3, '下一次运行的比较基准（最近一次交付了报告的每晚运行）' FROM run WHERE purpose = 'nightly' AND run_id IN (SELECT run_id FROM report_delivery)
      UNION ALL SELECT max(run_id), 4, '最新的运行' FROM run)
    SELECT run_id, arg_min(reason, o) AS reason FROM reasons WHERE run_id IS NOT NULL GROUP BY run_id`, { cutoff, days: String(keepDays) });
  await runStep(conn, 'gc: kept snapshots', `
    CREATE OR REPLACE TEMP TABLE gc_snapshot AS
    WITH reasons AS (
      SELECT CAST(s.value AS INTEGER) AS snapshot_id, 1 AS o, '保留的运行 ' || min(r.run_id) || ' 使用' AS reason
        FROM run r, json_each(r.snapshots_json) s WHERE r.run_id IN (SELECT run_id FROM gc_run) GROUP BY 1
      UNION ALL SELECT max(snapshot_id), 2, '该数据集最新的快照' FROM snapshot GROUP BY dataset
      UNION ALL SELECT snapshot_id, 3, '最近 ' || $days || ' 天内导入' FROM snapshot WHERE created_at >= $cutoff::TIMESTAMP)
    SELECT snapshot_id, arg_min(reason, o) AS reason FROM reasons GROUP BY snapshot_id`, { cutoff, days: String(keepDays) });
  // A kept snapshot may reuse the rows another loaded (a file that came back unchanged): that
  // snapshot's records stay too, since reports name the file and row the rows came from.
  await runStep(conn, 'gc: snapshots whose rows are reused', `
    INSERT INTO gc_snapshot
    SELECT f.rows_from_snapshot, '保留的快照 ' || min(f.snapshot_id) || ' 复用它导入的行' FROM snapshot_file f
    WHERE f.snapshot_id IN (SELECT snapshot_id FROM gc_snapshot) AND f.rows_from_snapshot NOT IN (SELECT snapshot_id FROM gc_snapshot)
    GROUP BY f.rows_from_snapshot`);
  const runs = (await queryStep<{ run_id: number; as_of: string; finished: string; reason: string | null }>(conn, 'gc: runs',
    `SELECT r.run_id, r.as_of::VARCHAR AS as_of, r.finished_at::VARCHAR AS finished, g.reason FROM run r LEFT JOIN gc_run g USING (run_id) ORDER BY r.run_id`))
    .map((r) => ({ runId: r.run_id, asOf: r.as_of, finishedAt: r.finished, keep: r.reason !== null, reason: r.reason ?? undefined }));
  const snapshots = (await queryStep<{ snapshot_id: number; dataset: string; created: string; reason: string | null }>(conn, 'gc: snapshots',
    `SELECT s.snapshot_id, s.dataset, s.created_at::VARCHAR AS created, g.reason FROM snapshot s LEFT JOIN gc_snapshot g USING (snapshot_id) ORDER BY s.dataset, s.snapshot_id`))
    .map((s) => ({ snapshotId: s.snapshot_id, dataset: s.dataset, createdAt: s.created, keep: s.reason !== null, reason: s.reason ?? undefined }));
  await runStep(conn, 'gc: loads still used', `
    CREATE OR REPLACE TEMP TABLE gc_load AS
    SELECT DISTINCT rows_from_snapshot AS snapshot_id, rows_from_file_no AS file_no FROM snapshot_file
    WHERE snapshot_id IN (SELECT snapshot_id FROM gc_snapshot)`);
  const unused = `(snapshot_id, file_no) NOT IN (SELECT snapshot_id, file_no FROM gc_load)`;
  let rowsRemoved = 0;
  for (const def of DATASETS) {
    const [r] = await queryStep<{ n: string }>(conn, `gc: count ${def.name}`, `SELECT count(*) AS n FROM ${quoteIdent(dataTable(def.name))} WHERE ${unused}`);
    rowsRemoved += Number(r!.n);
  }
  // Loads of store v7 and later: each file's rows are a table of their own (ingest/rows.ts).
  const tablesUnused = await queryStep<{ rows_table: string; n: string }>(conn, 'gc: row tables no longer used',
    `SELECT rows_table, rows_loaded AS n FROM snapshot_file WHERE rows_table IS NOT NULL AND ${unused} ORDER BY rows_table`);
  rowsRemoved += tablesUnused.reduce((sum, t) => sum + Number(t.n), 0);
  // And the tables of an ingest that never finished (killed before its commit): no snapshot's.
  const unrecorded = await unrecordedRowTables(conn);
  for (const t of unrecorded) {
    const [r] = await queryStep<{ n: string }>(conn, `gc: count ${t}`, `SELECT count(*) AS n FROM ${quoteIdent(t)}`);
    rowsRemoved += Number(r!.n);
  }
  const result: GcResult = {
    dryRun: Boolean(options.dryRun), done: false, runs, snapshots, rowsRemoved,
    runsRemoved: runs.filter((r) => !r.keep).length, snapshotsRemoved: snapshots.filter((s) => !s.keep).length,
    runsKept: runs.filter((r) => r.keep).length, snapshotsKept: snapshots.filter((s) => s.keep).length,
  };
  const nothing = result.runsRemoved === 0 && result.snapshotsRemoved === 0 && rowsRemoved === 0;
  if (options.dryRun || nothing) {
    log().info({ keepDays, dryRun: Boolean(options.dryRun), runsRemoved: result.runsRemoved, snapshotsRemoved: result.snapshotsRemoved }, 'gc planned');
    return { ...result, done: !options.dryRun };
  }
  if (options.confirm && !(await options.confirm(result))) {
    log().info({ keepDays }, 'gc cancelled');
    return result;
  }
  await inTransaction(conn, 'gc', async () => {
    // A kept run whose baseline goes: its leads.csv statuses and resolved.csv can no longer be
    // reproduced, so its report manifests go (verify then checks its leads and evidence only).
    await runStep(conn, 'gc: manifests without baseline', `
      DELETE FROM report_manifest WHERE run_id IN (
        SELECT run_id FROM run WHERE run_id IN (SELECT run_id FROM gc_run) AND baseline_run_id IS NOT NULL AND baseline_run_id NOT IN (SELECT run_id FROM gc_run))`);
    for (const table of ['evidence', 'lead', 'run_rule', 'report_manifest', 'report_delivery', 'run']) {
      await runStep(conn, `gc: ${table}`, `DELETE FROM ${table} WHERE run_id NOT IN (SELECT run_id FROM gc_run)`);
    }
    for (const def of DATASETS) await runStep(conn, `gc: ${def.name}`, `DELETE FROM ${quoteIdent(dataTable(def.name))} WHERE ${unused}`);
    for (const t of tablesUnused) await runStep(conn, `gc: ${t.rows_table}`, `DROP TABLE ${quoteIdent(t.rows_table)}`);
    for (const t of unrecorded) await runStep(conn, `gc: ${t}`, `DROP TABLE IF EXISTS ${quoteIdent(t)}`);
    await runStep(conn, 'gc: rejects', `DELETE FROM reject WHERE ${unused}`);
    await runStep(conn, 'gc: warnings', `DELETE FROM ingest_warning WHERE ${unused}`);
    await runStep(conn, 'gc: snapshot files', 'DELETE FROM snapshot_file WHERE snapshot_id NOT IN (SELECT snapshot_id FROM gc_snapshot)');
    await runStep(conn, 'gc: snapshots', 'DELETE FROM snapshot WHERE snapshot_id NOT IN (SELECT snapshot_id FROM gc_snapshot)');
  });
  log().info({ keepDays, runsRemoved: result.runsRemoved, snapshotsRemoved: result.snapshotsRemoved, rowsRemoved }, 'gc finished');
  return { ...result, done: true };
}
