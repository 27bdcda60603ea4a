import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DATE, DOUBLE, type DuckDBType, DuckDBDateValue, INTEGER, LIST, MAP, VARCHAR, type DuckDBValue, listValue, mapValue } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import { canonicalJson } from '../config/config.js';
import { StepError, UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import { packageRoot } from '../core/paths.js';
import type { Progress } from '../core/progress.js';
import { inTransaction, queryStep, quoteIdent, quoteLiteral, runStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, type DatasetName, dataTable, datasetDef } from '../ingest/datasets.js';
import { CATEGORY_CODE, type Category, type Rule, loadCatalogue } from '../rules/catalogue.js';
import { PARAMETERS, type ParameterName, type ParameterValues } from '../rules/parameters.js';
import { BIDUI_VERSION } from '../version.js';

/**
 * Match: from pinned snapshots to leads and evidence, as of a date. Stages meet in the store:
 * this reads snapshot/ds_* tables and writes run, run_rule, lead and evidence.
 */
export type Outcome = 'Success' | 'NotExecuted' | 'Error';

export interface RuleResult {
  id: string;
  category: Category;
  title: string;
  outcome: Outcome;
  reason: string | undefined;
  leads: number;
  evidence: number;
  ms: number;
}

export interface RunResult {
  runId: number;
  asOf: string;
  snapshots: Partial<Record<DatasetName, number>>;
  rules: RuleResult[];
  leadsByCategory: Record<Category, number>;
  leads: number;
  status: 'complete' | 'partial';
}

export interface MatchOptions {
  asOf: string;
  progress: Progress;
}

const PRELUDE_FILE = () => path.join(packageRoot(), 'src', 'match', 'sql', 'people.sql');

/** Split a step file into named statements ("-- step: name" starts each). */
export function splitSteps(text: string): { name: string; sql: string }[] {
  const steps: { name: string; sql: string }[] = [];
  for (const block of text.split(/^-- step: /m).slice(1)) {
    const nl = block.indexOf('\n');
    const name = block.slice(0, nl).trim();
    const sql = block.slice(nl + 1).replace(/^--.*$/gm, '').trim().replace(/;\s*$/, '');
    steps.push({ name, sql });
  }
  return steps;
}

function isoDate(value: string): DuckDBDateValue {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  return DuckDBDateValue.fromParts({ year: y, month: m, day: d });
}

/** Bound values and types for the parameters a statement uses ($asOf always). */
export function bindParams(names: readonly ParameterName[], values: ParameterValues, asOf: string): { values: Record<string, DuckDBValue>; types: Record<string, DuckDBType> } {
  const out: Record<string, DuckDBValue> = { asOf: isoDate(asOf) };
  const types: Record<string, DuckDBType> = { asOf: DATE };
  for (const name of names) {
    const v = values[name] as unknown;
    if (Array.isArray(v)) {
      out[name] = listValue(v as string[]);
      types[name] = LIST(VARCHAR);
    } else if (typeof v === 'number') {
      out[name] = v;
      types[name] = INTEGER;
    } else if (v && typeof v === 'object') {
      out[name] = mapValue(Object.entries(v as Record<string, number>).sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => ({ key, value })));
      types[name] = MAP(VARCHAR, DOUBLE);
    } else {
      throw new Error(`parameter ${name} has an unsupported type`);
    }
  }
  return { values: out, types };
}

/** Only the named parameters a statement uses (DuckDB refuses unused ones). */
function usedParams(sql: string, values: Record<string, DuckDBValue>): Record<string, DuckDBValue> {
  const used = new Set([...sql.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
  return Object.fromEntries(Object.entries(values).filter(([k]) => used.has(k)));
}

interface Pinned {
  snapshotId: number;
  /** Canonical fields present in every file of the snapshot. */
  fields: Set<string>;
}

async function pinSnapshots(store: Store): Promise<Map<DatasetName, Pinned>> {
  const rows = await queryStep<{ dataset: DatasetName; snapshot_id: number; header_maps: string[] }>(
    store.conn,
    'pin newest snapshots',
    `SELECT s.dataset, s.snapshot_id, list(f.header_map ORDER BY f.file_no) AS header_maps
     FROM snapshot s JOIN snapshot_file f USING (snapshot_id)
     WHERE s.snapshot_id = (SELECT max(snapshot_id) FROM snapshot x WHERE x.dataset = s.dataset)
     GROUP BY ALL ORDER BY s.dataset`,
  );
  const pinned = new Map<DatasetName, Pinned>();
  for (const r of rows) {
    const maps = r.header_maps.map((m) => new Set(Object.keys(JSON.parse(m) as Record<string, string>)));
    const fields = new Set([...maps[0]!].filter((f) => maps.every((m) => m.has(f))));
    pinned.set(r.dataset, { snapshotId: r.snapshot_id, fields });
  }
  return pinned;
}

/**
 * One view per dataset over its pinned snapshot (an empty one when absent, so shared SQL such
 * as the flags can always run). Outside the roster, only rows whose ID is valid on D: invalid
 * IDs never join.
 */
export async function createSnapshotViews(store: Store, snapshots: Partial<Record<DatasetName, number>>, asOf: string): Promise<void> {
  for (const def of DATASETS) {
    const id = snapshots[def.name];
    const table = quoteIdent(dataTable(def.name));
    const body = id !== undefined
      ? `SELECT d.* FROM ${table} d JOIN snapshot_file f ON d.snapshot_id = f.rows_from_snapshot AND d.file_no = f.rows_from_file_no
         WHERE f.snapshot_id = ${Number(id)}${def.name === 'roster' ? '' : ` AND bidui_id_valid_on(d.id_number_problem, d.id_number_birth, DATE ${quoteLiteral(asOf)})`}`
      : `SELECT * FROM ${table} WHERE false`;
    await runStep(store.conn, `view ${def.name}`, `CREATE OR REPLACE TEMP VIEW ${quoteIdent(def.name)} AS ${body}`);
  }
}

const DATASET_ZH = Object.fromEntries(DATASETS.map((d) => [d.name, d.zh])) as Record<DatasetName, string>;

/** Why a rule cannot be evaluated on this data and config, or undefined when it can. */
function notExecutedReason(rule: Rule, pinned: Map<DatasetName, Pinned>, params: ParameterValues): string | undefined {
  const missing: string[] = [];
  for (const [dataset, columns] of Object.entries(rule.needs) as [DatasetName, string[]][]) {
    const p = pinned.get(dataset);
    if (!p) {
      missing.push(`未导入数据集 ${dataset}（${DATASET_ZH[dataset]}）`);
      continue;
    }
    const def = datasetDef(dataset);
    const absent = columns.filter((c) => def.fields.some((f) => f.name === c) && !p.fields.has(c));
    if (absent.length) missing.push(`${DATASET_ZH[dataset]}文件中没有 ${absent.map((c) => `「${def.fields.find((f) => f.name === c)!.zh}」`).join('、')} 列`);
  }
  for (const name of rule.requiresNonEmpty ?? []) {
    const v = params[name] as unknown;
    if (Array.isArray(v) && v.length === 0) missing.push(`配置 rules.${name}（${PARAMETERS[name].zh}）为空`);
  }
  return missing.length ? missing.join('；') : undefined;
}

const HIT_COLUMNS = 'rule, key, id_number, name, township, village, dataset, snapshot_id, file_no, source_row, detail';

export async function match(store: Store, config: Config, options: MatchOptions): Promise<RunResult> {
  const { conn } = store;
  const { asOf, progress } = options;
  const started = new Date();
  const { rules, problems } = loadCatalogue();
  if (problems.length) throw new UserError('E_RULES', `规则文件有 ${problems.length} 处问题：\n  ${problems.join('\n  ')}`, { hint: '修正 src/rules/sql 中的规则文件。' });

  const pinned = await pinSnapshots(store);
  for (const required of ['roster', 'hukou'] as const) {
    if (!pinned.has(required)) {
      throw new UserError('E_NO_DATA', `工作区中没有${DATASET_ZH[required]}（${required}）数据，无法比对`, { hint: '先用 bidui ingest 导入各部门数据。' });
    }
  }
  progress.step(`比对日期 ${asOf}：准备数据…`);
  await createSnapshotViews(store, Object.fromEntries([...pinned.entries()].map(([d, p]) => [d, p.snapshotId])), asOf);
  const preludeText = fs.readFileSync(PRELUDE_FILE(), 'utf8');
  const asOfParams = bindParams([], config.rules, asOf);
  for (const step of splitSteps(preludeText)) await runStep(conn, `people: ${step.name}`, step.sql, usedParams(step.sql, asOfParams.values));

  // Prepare every runnable rule first and report all problems together.
  const runnable: Rule[] = [];
  const results = new Map<string, RuleResult>();
  const prepareProblems: string[] = [];
  for (const rule of rules) {
    const reason = notExecutedReason(rule, pinned, config.rules);
    results.set(rule.id, { id: rule.id, category: rule.category, title: rule.title, outcome: reason ? 'NotExecuted' : 'Success', reason, leads: 0, evidence: 0, ms: 0 });
    if (reason) continue;
    try {
      const prepared = await conn.prepare(`SELECT ${HIT_COLUMNS.replace('rule, ', '')} FROM (${rule.sql})`);
      prepared.destroySync();
      runnable.push(rule);
    } catch (error) {
      prepareProblems.push(`${rule.id}（${rule.title}）：${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (prepareProblems.length) {
    throw new StepError('prepare rules', prepareProblems.join('\n'), new Error(`${prepareProblems.length} rule(s) failed to prepare:\n${prepareProblems.join('\n')}`));
  }

  await runStep(conn, 'hits table', `CREATE OR REPLACE TEMP TABLE m_hit (rule VARCHAR, key VARCHAR, id_number VARCHAR, name VARCHAR, township VARCHAR, village VARCHAR, dataset VARCHAR, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT, detail VARCHAR)`);
  for (const rule of runnable) {
    progress.step(`规则 ${rule.id} ${rule.title}`);
    const t = performance.now();
    const p = bindParams(rule.params, config.rules, asOf);
    const used = usedParams(rule.sql, p.values);
    const types = Object.fromEntries(Object.entries(p.types).filter(([k]) => k in used));
    try {
      await conn.run(`INSERT INTO m_hit SELECT ${quoteLiteral(rule.id)}, * FROM (SELECT key, id_number, name, township, village, dataset, snapshot_id, file_no, source_row, detail FROM (${rule.sql}))`, used, types);
    } catch (error) {
      const r = results.get(rule.id)!;
      r.outcome = 'Error';
      r.reason = (error as Error).message.split('\n')[0];
      log().error({ rule: rule.id, step: 'rule' }, 'rule failed');
    }
    results.get(rule.id)!.ms = Math.round(performance.now() - t);
    log().debug({ rule: rule.id, ms: results.get(rule.id)!.ms }, 'rule done');
  }

  // Households: 漏评 people go to their 户籍 household on D (or stand alone), and households with
  // a roster member are dropped; roster rules already name their household.
  progress.step('汇总线索…');
  await runStep(conn, 'rule table', 'CREATE OR REPLACE TEMP TABLE m_rule (rule VARCHAR, category VARCHAR, weight INTEGER, target VARCHAR)');
  for (const r of rules) {
    await runStep(conn, `rule table ${r.id}`, 'INSERT INTO m_rule VALUES ($rule, $category, $weight, $target)', { rule: r.id, category: r.category, weight: r.weight, target: r.target });
  }
  await runStep(conn, 'evidence by household', `
    CREATE OR REPLACE TEMP TABLE m_evidence AS
    SELECT r.category, h.rule, coalesce(u.hukou_id, h.key) AS household_key,
           coalesce(pl.township, h.township) AS township, coalesce(pl.village, h.village) AS village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail
    FROM m_hit h JOIN m_rule r USING (rule)
    LEFT JOIN m_hukou_unit u ON u.id_number = h.key
    LEFT JOIN m_unit_place pl ON pl.hukou_id = u.hukou_id
    WHERE r.target = 'person'
      AND (CASE WHEN u.hukou_id IS NULL THEN h.key NOT IN (SELECT id_number FROM m_in_roster)
                ELSE u.hukou_id NOT IN (SELECT hukou_id FROM m_unit_in_roster) END)
    UNION ALL
    SELECT r.category, h.rule, h.key, h.township, h.village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail
    FROM m_hit h JOIN m_rule r USING (rule)
    WHERE r.target = 'hukou_household' AND h.key NOT IN (SELECT hukou_id FROM m_unit_in_roster)
    UNION ALL
    SELECT r.category, h.rule, h.key, hh.township, hh.village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail
    FROM m_hit h JOIN m_rule r USING (rule) JOIN m_household hh ON hh.household_id = h.key
    WHERE r.target = 'roster_household'`);

  // One lead per (category, household); its key depends on nothing but those two. Priority: the
  // sum of the weights of its distinct rules (more rules and graver ones first).
  const code = Object.entries(CATEGORY_CODE).map(([c, k]) => `WHEN ${quoteLiteral(c)} THEN ${quoteLiteral(k)}`).join(' ');
  await runStep(conn, 'leads', `
    CREATE OR REPLACE TEMP TABLE m_lead AS
    WITH hr AS (SELECT DISTINCT category, household_key, rule FROM m_evidence),
    pr AS (
      SELECT category, household_key, string_agg(rule, ',' ORDER BY rule) AS rules, count(*)::INTEGER AS rule_count, sum(weight)::INTEGER AS priority
      FROM hr JOIN m_rule USING (rule, category) GROUP BY category, household_key
    ),
    pl AS (
      SELECT category, household_key, min(township) AS township, min(village) AS village, count(DISTINCT id_number)::INTEGER AS members
      FROM m_evidence GROUP BY category, household_key
    )
    SELECT (CASE category ${code} END) || '-' || substr(sha256(category || '|' || household_key), 1, 16) AS lead_key,
           category, household_key, township, village, rules, rule_count, priority, members, NULL::VARCHAR AS flags
    FROM pr JOIN pl USING (category, household_key)`);

  // 四有 counter-evidence on 漏评 households, shown as a flag, never used to suppress the lead.
  const flagsSql = fs.readFileSync(path.join(packageRoot(), 'src', 'match', 'sql', 'flags.sql'), 'utf8');
  const flagParams = bindParams(['passengerCarTypes', 'excludedEntityTypes'], config.rules, asOf);
  for (const step of splitSteps(flagsSql)) await runStep(conn, `flags: ${step.name}`, step.sql, usedParams(step.sql, flagParams.values));

  // Record the run, its rules, leads and evidence in one transaction.
  const ruleCounts = await queryStep<{ rule: string; households: string; rows: string }>(conn, 'count per rule',
    'SELECT rule, count(DISTINCT household_key) AS households, count(*) AS rows FROM m_evidence GROUP BY rule');
  for (const c of ruleCounts) {
    const r = results.get(c.rule)!;
    r.leads = Number(c.households);
    r.evidence = Number(c.rows);
  }
  const byCategory = await queryStep<{ category: Category; n: string }>(conn, 'count per category', 'SELECT category, count(*) AS n FROM m_lead GROUP BY category');
  const leadsByCategory = { 漏评: 0, 错评: 0, 错退: 0, 信息核对: 0 } as Record<Category, number>;
  for (const c of byCategory) leadsByCategory[c.category] = Number(c.n);
  const total = Object.values(leadsByCategory).reduce((a, b) => a + b, 0);
  const status = [...results.values()].some((r) => r.outcome === 'Error') ? 'partial' : 'complete';
  const snapshots = Object.fromEntries([...pinned.entries()].map(([d, p]) => [d, p.snapshotId])) as Partial<Record<DatasetName, number>>;
  const [{ v: duckdbVersion }] = (await queryStep<{ v: string }>(conn, 'duckdb version', 'SELECT version() AS v')) as [{ v: string }];

  const runId = await inTransaction(conn, 'record run', async () => {
    const [{ id }] = (await queryStep<{ id: number }>(conn, 'next run id', "SELECT nextval('run_seq')::INTEGER AS id")) as [{ id: number }];
    await runStep(conn, 'insert run',
      `INSERT INTO run VALUES ($id, $asOf::DATE, $started, now()::TIMESTAMP, $status, $version, $duckdb, $hash, $config, $params, $snapshots, $prelude, $leads, $byCategory)`,
      {
        id, asOf, started: started.toISOString().replace('T', ' ').replace('Z', ''), status, version: BIDUI_VERSION, duckdb: duckdbVersion,
        hash: config.hash, config: canonicalJson(config.raw), params: canonicalJson(config.rules), snapshots: canonicalJson(snapshots),
        prelude: preludeText + '\n' + flagsSql, leads: total, byCategory: canonicalJson(leadsByCategory),
      });
    for (const rule of rules) {
      const r = results.get(rule.id)!;
      await runStep(conn, `insert run_rule ${rule.id}`,
        'INSERT INTO run_rule VALUES ($id, $rule, $category, $title, $explain, $weight, $outcome, $reason, $sql, $hash, $params, $leads, $evidence, $ms)',
        {
          id, rule: rule.id, category: rule.category, title: rule.title, explain: rule.explain, weight: rule.weight, outcome: r.outcome, reason: r.reason ?? null, sql: rule.sql, hash: rule.sqlHash,
          params: canonicalJson(Object.fromEntries(rule.params.map((p) => [p, config.rules[p]]))), leads: r.leads, evidence: r.evidence, ms: r.ms,
        });
    }
    await runStep(conn, 'insert leads', 'INSERT INTO lead SELECT $id, lead_key, category, household_key, township, village, rules, rule_count, priority, members, flags FROM m_lead', { id });
    await runStep(conn, 'insert evidence', `
      INSERT INTO evidence
      SELECT $id, l.lead_key, e.category, e.rule, e.household_key, e.id_number, e.name, e.dataset, e.snapshot_id, e.file_no, e.source_row,
             e.dataset || ':' || coalesce(e.snapshot_id::VARCHAR, '') || ':' || coalesce(e.file_no::VARCHAR, '') || ':' || coalesce(e.source_row::VARCHAR, ''),
             e.detail
      FROM m_evidence e JOIN m_lead l USING (category, household_key)`, { id });
    return id;
  });
  progress.done();
  log().info({ runId, asOf, leads: total, status }, 'match finished');
  return { runId, asOf, snapshots, rules: rules.map((r) => results.get(r.id)!), leadsByCategory, leads: total, status };
}

/** A stable digest of the rules a run used (for manifests). */
export function rulesDigest(rules: Rule[]): string {
  return crypto.createHash('sha256').update(rules.map((r) => `${r.id}:${r.sqlHash}`).join('\n')).digest('hex');
}
