import path from 'node:path';
import { parseConfig } from '../src/config/config.js';
import { createProgress } from '../src/core/progress.js';
import { queryStep, quoteIdent, runStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { type DatasetName, dataTable, datasetDef } from '../src/ingest/datasets.js';
import { checkChar } from '../src/ingest/id-number.js';
import { type RunResult, match } from '../src/match/match.js';
import { report } from '../src/report/report.js';
import { loadCatalogue } from '../src/rules/catalogue.js';
import { testDir } from './helpers.js';

export type Row = Record<string, string | number | null>;
export type Tables = Partial<Record<DatasetName, Row[]>>;

let seq = 0;
/** A fresh valid ID of someone born on `birth` (YYYY-MM-DD), region 522625 unless given. */
export function newId(birth: string, region = '522625'): string {
  seq++;
  const body = `${region}${birth.replace(/-/g, '')}${String(seq % 1000).padStart(3, '0')}`;
  return body + checkChar(body);
}

export interface RuleRun {
  result: RunResult;
  /** "rule|household_key" for every evidence row of the run */
  hits: Set<string>;
  evidence: Record<string, string | null>[];
  leads: Record<string, string | number | null>[];
}

/**
 * Load literal rows as one snapshot per dataset (IDs normalised and validated by the same
 * macros ingest uses), run match as of `asOf`, and return what it found.
 */
export async function runRules(tables: Tables, asOf: string, rules: Record<string, unknown> = {}, reportDir?: string, maskIds = false): Promise<RuleRun> {
  const t = testDir('bidui-rules-');
  const config = parseConfig({ workspace: 'ws', datasets: [{ dataset: 'roster', files: ['unused.csv'] }], rules }, path.join(t.dir, 'bidui.config.json'));
  const store = await openStore(ensureWorkspace(config.workspace), { memoryLimit: '1GB', threads: 1 });
  try {
    let snapshot = 0;
    for (const [dataset, rows] of Object.entries(tables) as [DatasetName, Row[]][]) {
      snapshot++;
      const def = datasetDef(dataset);
      const table = quoteIdent(dataTable(dataset));
      const fields = new Set<string>();
      for (const [i, row] of rows.entries()) {
        const cols = Object.keys(row);
        cols.forEach((c) => fields.add(c));
        const names = cols.map((c) => (def.fields.find((f) => f.name === c)?.type === 'id' ? `${c}_raw` : c));
        await runStep(store.conn, 'harness insert',
          `INSERT INTO ${table} (snapshot_id, file_no, source_row, ${names.map(quoteIdent).join(', ')}) VALUES ($s, 1, $r, ${cols.map((c) => `$v_${c}`).join(', ')})`,
          { s: snapshot, r: i + 2, ...Object.fromEntries(cols.map((c) => [`v_${c}`, row[c] === null ? null : String(row[c])])) });
      }
      for (const f of def.fields.filter((x) => x.type === 'id')) {
        const c = quoteIdent(f.name);
        const raw = quoteIdent(`${f.name}_raw`);
        await runStep(store.conn, 'harness ids', `UPDATE ${table} SET ${c} = bidui_norm_id(${raw}), ${quoteIdent(`${f.name}_problem`)} = bidui_id_problem_static(bidui_norm_id(${raw})), ${quoteIdent(`${f.name}_birth`)} = bidui_id_birth(bidui_norm_id(${raw})) WHERE snapshot_id = $s`, { s: snapshot });
      }
      const headerMap = JSON.stringify(Object.fromEntries([...fields].map((f) => [f, f])));
      await runStep(store.conn, 'harness snapshot', 'INSERT INTO snapshot (snapshot_id, dataset, ingest_id, created_at, files, rows_read, rows_loaded, rows_rejected, invalid_ids) VALUES ($s, $d, 1, now()::TIMESTAMP, 1, $n, $n, 0, 0)', { s: snapshot, d: dataset, n: rows.length });
      await runStep(store.conn, 'harness file',
        "INSERT INTO snapshot_file (snapshot_id, file_no, path, sha256, size_bytes, format, encoding, sheet, header_map, read_options_hash, rows_read, rows_loaded, rows_rejected, invalid_ids, id_problems, rows_from_snapshot, rows_from_file_no) VALUES ($s, 1, $p, 'sha', 0, 'csv', 'utf-8', NULL, $m, 'roh', $n, $n, 0, 0, '{}', $s, 1)",
        { s: snapshot, p: `${dataset}.csv`, m: headerMap, n: rows.length });
    }
    const result = await match(store, config, { intent: 'nightly', asOf, progress: createProgress(process.stderr, true) });
    if (reportDir) await report(store, { runId: result.runId, out: reportDir, maskIds, progress: createProgress(process.stderr, true) });
    const evidence = await queryStep<Record<string, string | null>>(store.conn, 'harness evidence', 'SELECT * FROM evidence WHERE run_id = $r ORDER BY rule, household_key, source_row', { r: result.runId });
    const leads = await queryStep<Record<string, string | number | null>>(store.conn, 'harness leads', 'SELECT * FROM lead WHERE run_id = $r ORDER BY lead_key', { r: result.runId });
    return { result, evidence, leads, hits: new Set(evidence.map((e) => `${e.rule}|${e.household_key}`)) };
  } finally {
    store.close();
    t.cleanup();
  }
}

/** The households one rule found, sorted. */
export function keysOf(run: RuleRun, rule: string): string[] {
  return [...run.hits].filter((h) => h.startsWith(`${rule}|`)).map((h) => h.slice(rule.length + 1)).sort();
}

/** A failure message that shows the rule's SQL and the rows it ran on. */
export function explain(rule: string, tables: Tables): string {
  const sql = loadCatalogue().rules.find((r) => r.id === rule)?.sql ?? '(no such rule)';
  return `rule ${rule}\n--- SQL ---\n${sql}\n--- rows ---\n${JSON.stringify(tables, null, 1)}`;
}
