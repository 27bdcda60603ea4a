import fs from 'node:fs';
import path from 'node:path';
import { log } from '../core/log.js';
import type { Progress } from '../core/progress.js';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { tempFile } from '../core/workspace.js';
import { RERUN_TABLES, executePlan, planFromRun, stageRerun } from '../match/match.js';
import { sha256File } from '../core/files.js';
import { type ReportResult, report } from '../report/report.js';
import { MARKER } from '../report/output-dir.js';
import { BIDUI_VERSION } from '../version.js';

/**
 * The audit trail. A run records everything that decides its result (snapshots, rule SQL and
 * parameters, the people/flags SQL, config, versions); a re-run replays exactly that — whatever
 * was ingested or edited since — and reports it as the original run, recording nothing new.
 */
export async function rerun(store: Store, runId: number, out: string, maskIds: boolean, progress: Progress): Promise<ReportResult> {
  const { plan } = await planFromRun(store, runId);
  const executed = await executePlan(store, plan, progress);
  await stageRerun(store, plan, executed, runId);
  return report(store, { runId, out, maskIds, progress, tables: RERUN_TABLES, recordManifest: false, encrypt: await originalEncryption(store, runId, maskIds) });
}

/**
 * Whether the original report of a run had its township workbooks encrypted, and in which password
 * round: its manifest says (the report delivered with these masking settings), else the
 * configuration the run recorded. Never today's configuration: a re-run is the original.
 */
async function originalEncryption(store: Store, runId: number, masked: boolean): Promise<{ round: number } | undefined> {
  const [m] = await queryStep<{ manifest_json: string }>(store.conn, 'rerun: manifest', 'SELECT manifest_json FROM report_manifest WHERE run_id = $run AND masked = $masked', { run: runId, masked });
  if (m) {
    const round = (JSON.parse(m.manifest_json) as Manifest).township_workbooks_encrypted?.password_round;
    return round ? { round } : undefined;
  }
  const [r] = await queryStep<{ config_json: string }>(store.conn, 'rerun: recorded config', 'SELECT config_json FROM run WHERE run_id = $run', { run: runId });
  const output = (JSON.parse(r?.config_json ?? '{}') as { output?: { encrypt?: boolean; passwordRound?: number } }).output;
  return output?.encrypt ? { round: output.passwordRound ?? 1 } : undefined;
}

export interface VerifyCheck {
  /** What was compared (Chinese, shown to the auditor). */
  item: string;
  ok: boolean;
  detail: string;
}

export interface VerifyResult {
  runId: number;
  checks: VerifyCheck[];
  ok: boolean;
  versionNote: string | undefined;
  /** Output files compared with a manifest (0: only the leads and evidence were checked). */
  filesChecked: number;
}

interface Manifest {
  outputs: { file: string; sha256: string }[];
  township_workbooks_encrypted?: { password_round: number };
}

/**
 * Re-run a past run and compare: its leads and evidence row for row with what was recorded, and
 * every output file of each report written for it (plain and masked) with the SHA-256 in that
 * report's manifest.
 */
export async function verify(store: Store, runId: number, progress: Progress): Promise<VerifyResult> {
  const { plan, recorded } = await planFromRun(store, runId);
  const executed = await executePlan(store, plan, progress);
  await stageRerun(store, plan, executed, runId);
  const checks: VerifyCheck[] = [];
  for (const [item, table, stored] of [['线索（lead）', 'x_lead', 'lead'], ['证据（evidence）', 'x_evidence', 'evidence']] as const) {
    const [diff] = await queryStep<{ missing: string; extra: string; n: string }>(store.conn, `verify ${table}`, `
      SELECT (SELECT count(*) FROM (SELECT * FROM ${stored} WHERE run_id = $run EXCEPT ALL SELECT * FROM ${table})) AS missing,
             (SELECT count(*) FROM (SELECT * FROM ${table} EXCEPT ALL SELECT * FROM ${stored} WHERE run_id = $run)) AS extra,
             (SELECT count(*) FROM ${table}) AS n`, { run: runId });
    const ok = Number(diff!.missing) === 0 && Number(diff!.extra) === 0;
    checks.push({ item, ok, detail: ok ? `${diff!.n} 行一致` : `记录中有而重算没有 ${diff!.missing} 行，重算多出 ${diff!.extra} 行` });
  }
  const manifests = await queryStep<{ masked: boolean; manifest_json: string }>(store.conn, 'verify manifests',
    'SELECT masked, manifest_json FROM report_manifest WHERE run_id = $run ORDER BY masked', { run: runId });
  for (const m of manifests) {
    const dir = tempFile(store.ws, '-verify');
    try {
      const manifest = JSON.parse(m.manifest_json) as Manifest;
      const round = manifest.township_workbooks_encrypted?.password_round;
      await report(store, { runId, out: dir, maskIds: m.masked, progress, tables: RERUN_TABLES, recordManifest: false, encrypt: round ? { round } : undefined });
      const label = m.masked ? '（证件号码脱敏版）' : '';
      const expected = new Map(manifest.outputs.map((o) => [o.file, o.sha256]));
      const produced = new Set<string>();
      const walk = (d: string, prefix = ''): void => {
        for (const name of fs.readdirSync(d).sort()) {
          const rel = prefix ? `${prefix}/${name}` : name;
          if (fs.statSync(path.join(d, name)).isDirectory()) walk(path.join(d, name), rel);
          else if (rel !== 'manifest.json' && rel !== MARKER) produced.add(rel);
        }
      };
      walk(dir);
      for (const [file, sha] of expected) {
        const actual = produced.has(file) ? sha256File(path.join(dir, file)) : undefined;
        checks.push({ item: `${file}${label}`, ok: actual === sha, detail: actual === undefined ? '重算时没有生成该文件' : actual === sha ? 'SHA-256 一致' : `SHA-256 不一致（清单 ${sha.slice(0, 12)}…，重算 ${actual.slice(0, 12)}…）` });
      }
      for (const file of produced) if (!expected.has(file)) checks.push({ item: `${file}${label}`, ok: false, detail: '清单中没有该文件' });
      const manifestNow = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
      checks.push({ item: `manifest.json${label}`, ok: manifestNow === m.manifest_json, detail: manifestNow === m.manifest_json ? '与当时的清单逐字节一致' : '与当时的清单不一致' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const filesChecked = checks.length - 2;
  if (manifests.length === 0) checks.push({ item: '报告文件', ok: true, detail: '没有可核对的输出文件：这次运行没有交付过报告，或其比较基准已被 bidui gc 清理' });
  const versionNote = recorded.bidui_version !== BIDUI_VERSION || recorded.duckdb_version !== executed.duckdbVersion
    ? `该运行由 bidui ${recorded.bidui_version}（DuckDB ${recorded.duckdb_version}）生成，现在是 bidui ${BIDUI_VERSION}（DuckDB ${executed.duckdbVersion}）：不同版本的结果可能不同。`
    : undefined;
  const ok = checks.every((c) => c.ok);
  log().info({ runId, ok, checks: checks.length }, 'verify finished');
  return { runId, checks, ok, versionNote, filesChecked };
}
