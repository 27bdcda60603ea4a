import { checkQualityGate, type GateResult } from '../ingest/quality.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DATE, DOUBLE, type DuckDBType, DuckDBDateValue, INTEGER, LIST, MAP, VARCHAR, type DuckDBValue, listValue, mapValue } from '@duckdb/node-api';
import type { Config } from '../config/config.js';
import { formatLocal, localDate } from '../core/time.js';
import { canonicalJson } from '../config/config.js';
import { StepError, UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import { packageRoot } from '../core/paths.js';
import type { Progress } from '../core/progress.js';
import { inTransaction, queryStep, quoteIdent, quoteLiteral, runStep, sqlTimestamp, type TypedParams } from '../core/sql.js';
import { type Store, workspaceSecret } from '../core/store.js';
import { DATASETS, type DatasetName, datasetDef } from '../ingest/datasets.js';
import { rowsSql, snapshotRowsSql } from '../ingest/rows.js';
import { CATEGORIES, CATEGORY_CODE, type Category, type Rule, compareRules, loadCatalogue } from '../rules/catalogue.js';
import { PARAMETERS, type ParameterName, type ParameterValues } from '../rules/parameters.js';
import { BIDUI_VERSION } from '../version.js';
import { LANE_DATASETS, linkageSql, METHOD_ZH } from './linkage.js';

/**
 * Match: from pinned snapshots to leads and evidence, as of a date. Stages meet in the store:
 * this reads snapshot tables and the loaded rows (ingest/rows.ts) and writes run, run_rule, lead and evidence.
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
  /** The quality gate's outcome (datasets over the limit, accepted with --accept-rejects). */
  quality: GateResult;
  runId: number;
  asOf: string;
  snapshots: Partial<Record<DatasetName, number>>;
  rules: RuleResult[];
  leadsByCategory: Record<Category, number>;
  leads: number;
  status: 'complete' | 'partial';
  purpose: Purpose;
  /** Why a run asked for as nightly is an analysis (Chinese), when it is. */
  analysisBecause: string | undefined;
  /** The last delivered nightly run before this one: what its 新增/持续/已消失 compare with. */
  baselineRunId: number | undefined;
  /** Warnings for the user (Chinese): an as-of date before the roster's first 识别时间. */
  notes: string[];
}

/** What a run is for (see store-schema.ts). */
export type Purpose = 'nightly' | 'analysis';

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

/**
 * The values and types of exactly the parameters a statement references ($asOf and the rule
 * parameters); DuckDB refuses parameters a statement does not use.
 */
export function bindParams(sql: string, parameters: ParameterValues, asOf: string): TypedParams {
  const values: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType> = {};
  for (const [, name] of sql.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (name === undefined || name in values) continue;
    if (name === 'asOf') {
      values.asOf = isoDate(asOf);
      types.asOf = DATE;
      continue;
    }
    if (!(name in parameters)) throw new Error(`statement references unknown parameter $${name}`);
    const v = parameters[name as ParameterName] as unknown;
    if (Array.isArray(v)) {
      values[name] = listValue(v as string[]);
      types[name] = LIST(VARCHAR);
    } else if (typeof v === 'number') {
      values[name] = v;
      types[name] = INTEGER;
    } else if (v && typeof v === 'object') {
      values[name] = mapValue(Object.entries(v as Record<string, number>).sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => ({ key, value })));
      types[name] = MAP(VARCHAR, DOUBLE);
    } else {
      throw new Error(`parameter ${name} has an unsupported type`);
    }
  }
  return { values, types };
}

/**
 * The snapshot of each dataset a new run uses: the newest, or the newest created at or before
 * `dataAsOf` ("what would we have found with the data we had on day T").
 */
async function pinSnapshots(store: Store, dataAsOf: string | null): Promise<Partial<Record<DatasetName, number>>> {
  const rows = await queryStep<{ dataset: DatasetName; snapshot_id: number }>(
    store.conn,
    'pin snapshots',
    `SELECT dataset, max(snapshot_id) AS snapshot_id FROM snapshot
     WHERE $dataAsOf IS NULL OR created_at <= $dataAsOf::TIMESTAMP GROUP BY dataset ORDER BY dataset`,
    { dataAsOf },
  );
  return Object.fromEntries(rows.map((r) => [r.dataset, r.snapshot_id]));
}

/** The newest snapshot of each dataset (what a new run would pin). */
export function newestSnapshots(store: Store): Promise<Partial<Record<DatasetName, number>>> {
  return pinSnapshots(store, null);
}

/** Per dataset of the pinned snapshots: the files (names, with their sheet) and the fields each has. */
type SnapshotFields = Map<DatasetName, { file: string; fields: Set<string> }[]>;

/** Canonical fields of every file of each pinned snapshot (a rule needs a field in all of them). */
async function snapshotFields(store: Store, snapshots: Partial<Record<DatasetName, number>>): Promise<SnapshotFields> {
  const ids = Object.values(snapshots);
  const rows = ids.length === 0 ? [] : await queryStep<{ dataset: DatasetName; path: string; sheet: string | null; header_map: string }>(
    store.conn,
    'snapshot fields',
    `SELECT s.dataset, f.path, f.sheet, f.header_map FROM snapshot s JOIN snapshot_file f USING (snapshot_id)
     WHERE s.snapshot_id IN (SELECT unnest($ids::INTEGER[])) ORDER BY s.dataset, f.file_no`,
    { ids: `[${ids.join(',')}]` },
  );
  const out: SnapshotFields = new Map();
  for (const r of rows) {
    const list = out.get(r.dataset) ?? [];
    list.push({ file: `${path.basename(r.path)}${r.sheet ? `「${r.sheet}」` : ''}`, fields: new Set(Object.keys(JSON.parse(r.header_map) as Record<string, string>)) });
    out.set(r.dataset, list);
  }
  return out;
}

/** The ID filter of the views outside the roster: only rows whose ID is valid on the as-of date. */
const validOn = (asOf: string) => `bidui_id_valid_on(id_number_problem, id_number_birth, DATE ${quoteLiteral(asOf)})`;

/**
 * The linked records of the lane (linkage.ts m_link) added to the views of the datasets they
 * belong to, with the linked person's ID (and birth date) in place of the invalid one: the rules
 * read them like any other record, and their hits are marked afterwards.
 */
async function addLinkedRecords(store: Store, snapshots: Partial<Record<DatasetName, number>>, asOf: string): Promise<void> {
  const withLinks = new Set((await queryStep<{ dataset: string }>(store.conn, 'datasets with links', 'SELECT DISTINCT dataset FROM m_link')).map((r) => r.dataset));
  for (const name of LANE_DATASETS) {
    const id = snapshots[name];
    // Only views that gain records change (the others stay as plain as without linkage).
    if (id === undefined || !withLinks.has(name)) continue;
    const all = quoteIdent(`all_${name}`);
    await runStep(store.conn, `view ${name} with linked records`, `CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS
      SELECT * FROM ${all} WHERE ${validOn(asOf)}
      UNION ALL
      SELECT d.* REPLACE (l.linked_id AS id_number, NULL AS id_number_problem, l.linked_birth AS id_number_birth)
      FROM ${all} d JOIN m_link l ON l.dataset = ${quoteLiteral(name)} AND l.snapshot_id = d.snapshot_id AND l.file_no = d.file_no AND l.source_row = d.source_row`);
  }
}

/**
 * Two views per dataset over its pinned snapshot (empty ones when absent, so shared SQL such as
 * the flags can always run): `all_<dataset>`, every loaded row (linkage reads the invalid IDs
 * too), and `<dataset>`, outside the roster only the rows whose ID is valid on D: invalid IDs
 * never join. The rows are where rows.ts says.
 */
export async function createSnapshotViews(store: Store, snapshots: Partial<Record<DatasetName, number>>, asOf: string): Promise<void> {
  for (const def of DATASETS) {
    const id = snapshots[def.name];
    const rows = id !== undefined ? await snapshotRowsSql(store.conn, def.name, id) : rowsSql(def.name, []);
    const all = quoteIdent(`all_${def.name}`);
    await runStep(store.conn, `view all_${def.name}`, `CREATE OR REPLACE TEMP VIEW ${all} AS ${rows}`);
    const body = def.name === 'roster' ? `SELECT * FROM ${all}` : `SELECT * FROM ${all} WHERE ${validOn(asOf)}`;
    await runStep(store.conn, `view ${def.name}`, `CREATE OR REPLACE TEMP VIEW ${quoteIdent(def.name)} AS ${body}`);
  }
}

const DATASET_ZH = Object.fromEntries(DATASETS.map((d) => [d.name, d.zh])) as Record<DatasetName, string>;

/** Why a rule cannot be evaluated on this data and these parameters, or undefined when it can. */
function notExecutedReason(rule: PlannedRule, fields: SnapshotFields, params: ParameterValues, asOf: string): string | undefined {
  const missing: string[] = [];
  for (const [dataset, columns] of Object.entries(rule.needs) as [DatasetName, string[]][]) {
    const files = fields.get(dataset);
    if (!files || files.length === 0) {
      missing.push(`未导入数据集 ${dataset}（${DATASET_ZH[dataset]}）`);
      continue;
    }
    const def = datasetDef(dataset);
    for (const c of columns) {
      const fd = def.fields.find((f) => f.name === c);
      if (!fd) continue;
      const lacking = files.filter((f) => !f.fields.has(c)).map((f) => f.file);
      if (lacking.length === 0) continue;
      missing.push(`${DATASET_ZH[dataset]}文件 ${lacking.slice(0, 3).join('、')}${lacking.length > 3 ? ` 等 ${lacking.length} 个` : ''} 中没有「${fd.zh}」列`);
    }
  }
  for (const name of rule.requiresNonEmpty) {
    const v = params[name] as unknown;
    if (Array.isArray(v) && v.length === 0) missing.push(`配置 rules.${name}（${PARAMETERS[name].zh}）为空`);
  }
  // A table by year read at the as-of date's year (monitoringLines): that year must be in it.
  const year = asOf.slice(0, 4);
  for (const name of rule.params) {
    const def = PARAMETERS[name] as { yearOfAsOf?: boolean; zh: string };
    if (def.yearOfAsOf && !(year in (params[name] as Record<string, number>))) missing.push(`配置 rules.${name}（${def.zh}）中没有 ${year} 年`);
  }
  return missing.length ? missing.join('；') : undefined;
}

const HIT_COLUMNS = 'rule, key, id_number, name, township, village, dataset, snapshot_id, file_no, source_row, detail';

export interface MatchOptions {
  /**
   * 'nightly' for `bidui run` (it stays nightly only on the newest data and an as-of date not
   * before that of the last delivered nightly run); 'analysis' for `bidui match`.
   */
  intent: Purpose;
  asOf: string;
  /** Use the snapshots as they stood at this moment (YYYY-MM-DD = end of that day, UTC). */
  dataAsOf?: string | undefined;
  /** Go on although a dataset's share of rejected rows is above the limit (recorded with the run). */
  acceptRejects?: boolean;
  progress: Progress;
}

/** A rule as a run uses it: from the rule files for a new run, from run_rule for a re-run. */
export interface PlannedRule {
  id: string;
  category: Category;
  title: string;
  explain: string;
  weight: number;
  target: Rule['target'];
  sql: string;
  sqlHash: string;
  params: ParameterName[];
  needs: Partial<Record<DatasetName, string[]>>;
  requiresNonEmpty: ParameterName[];
}

/**
 * How lead keys are made: 'hmac-sha256' (keyed with the workspace's secret; runs from version
 * 0.2) or 'sha256' (runs made before, replayed as they were).
 */
export type LeadKeyScheme = 'hmac-sha256' | 'sha256';

/** The inner and outer pads of HMAC-SHA-256 for a key (hex), for the SQL in executePlan. */
export function hmacPads(key: Buffer): { ipad: string; opad: string } {
  const block = Buffer.alloc(64);
  (key.length > 64 ? crypto.createHash('sha256').update(key).digest() : key).copy(block);
  return { ipad: Buffer.from(block.map((b) => b ^ 0x36)).toString('hex'), opad: Buffer.from(block.map((b) => b ^ 0x5c)).toString('hex') };
}

/** Everything that decides a run's result. Recorded with the run; a re-run replays it. */
export interface RunPlan {
  leadKeyScheme: LeadKeyScheme;
  asOf: string;
  dataAsOf: string | null;
  snapshots: Partial<Record<DatasetName, number>>;
  rules: PlannedRule[];
  parameters: ParameterValues;
  prelude: string;
  flags: string;
  /** The linkage of damaged IDs (linkage.ts); '' for runs made before it existed. */
  linkage: string;
  configHash: string;
  configJson: string;
}

export interface Executed {
  results: Map<string, RuleResult>;
  /** Records linked, ambiguous and without a candidate, per dataset (linkage.ts). */
  linkage: Record<string, { linked: number; ambiguous: number; unmatched: number }>;
  leadsByCategory: Record<Category, number>;
  total: number;
  status: 'complete' | 'partial';
  duckdbVersion: string;
}

const FLAGS_FILE = () => path.join(packageRoot(), 'src', 'match', 'sql', 'flags.sql');

/**
 * The moment a --data-as-of value means, as a UTC timestamp: the end of the day for a bare date,
 * else the moment given; both in the office's time zone (converted by DuckDB's ICU).
 */
export async function dataAsOfTimestamp(store: Store, value: string, timeZone: string): Promise<string> {
  const local = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value} 23:59:59.999999` : value.replace('T', ' ');
  const [row] = await queryStep<{ utc: string }>(store.conn, 'data-as-of in UTC', 'SELECT timezone($tz, $local::TIMESTAMP)::TIMESTAMP::VARCHAR AS utc', { tz: timeZone, local });
  return row!.utc;
}

/** A new run: rules from the rule files, parameters from the config, the newest snapshots. */
export async function planFromConfig(store: Store, config: Config, asOf: string, dataAsOf?: string): Promise<RunPlan> {
  const { rules, problems } = loadCatalogue();
  if (problems.length) throw new UserError('E_RULES', `规则文件有 ${problems.length} 处问题：\n  ${problems.join('\n  ')}`, { hint: '修正 src/rules/sql 中的规则文件。' });
  const pinnedAt = dataAsOf ? await dataAsOfTimestamp(store, dataAsOf, config.timeZone) : null;
  if (pinnedAt !== null && pinnedAt > sqlTimestamp(new Date())) {
    throw new UserError('E_USAGE', `--data-as-of ${dataAsOf} 在现在之后：那时的数据还不存在`, { hint: '要使用最新导入的数据，不写 --data-as-of；要看过去某时的数据，写那个时间。' });
  }
  const snapshots = await pinSnapshots(store, pinnedAt);
  if (pinnedAt !== null && snapshots.roster === undefined) {
    const [first] = await queryStep<{ at: string | null }>(store.conn, 'first roster snapshot', "SELECT min(created_at)::VARCHAR AS at FROM snapshot WHERE dataset = 'roster'");
    if (first?.at) {
      throw new UserError('E_NO_DATA_THEN', `--data-as-of ${dataAsOf} 时还没有导入过建档立卡名册（最早的一次导入在 ${formatLocal(first.at, config.timeZone, { seconds: true })}）`, {
        hint: '用 bidui snapshots 查看各数据集的导入时间，选一个此后的时间。',
      });
    }
  }
  return {
    asOf,
    dataAsOf: pinnedAt,
    snapshots,
    rules: rules.map((r) => ({
      id: r.id, category: r.category, title: r.title, explain: r.explain, weight: r.weight, target: r.target, sql: r.sql, sqlHash: r.sqlHash,
      params: r.params, needs: r.needs, requiresNonEmpty: r.requiresNonEmpty ?? [],
    })),
    parameters: config.rules,
    leadKeyScheme: 'hmac-sha256',
    prelude: fs.readFileSync(PRELUDE_FILE(), 'utf8'),
    flags: fs.readFileSync(FLAGS_FILE(), 'utf8'),
    linkage: linkageSql(config.linkage.recoverDamagedIds),
    configHash: config.hash,
    configJson: canonicalJson(config.raw),
  };
}

interface RecordedRun {
  run_id: number;
  lead_key_scheme: LeadKeyScheme;
  as_of: string;
  data_as_of: string | null;
  config_hash: string;
  config_json: string;
  params_json: string;
  snapshots_json: string;
  prelude_sql: string;
  flags_sql: string;
  linkage_sql: string;
  duckdb_version: string;
  bidui_version: string;
}

/** A past run, exactly as it was recorded: its snapshots, rule SQL, parameters and config. */
export async function planFromRun(store: Store, runId: number): Promise<{ plan: RunPlan; recorded: RecordedRun }> {
  const [run] = await queryStep<RecordedRun>(store.conn, 'recorded run', 'SELECT *, as_of::VARCHAR AS as_of, data_as_of::VARCHAR AS data_as_of FROM run WHERE run_id = $run', { run: runId });
  if (!run) throw new UserError('E_NO_RUN', `工作区中没有编号为 ${runId} 的运行`, { hint: '用 bidui runs 查看运行编号。' });
  const rows = await queryStep<{ rule_id: string; category: Category; title: string; explain: string; weight: number; target: Rule['target']; sql_text: string; sql_hash: string; params_json: string; needs_json: string; requires_json: string }>(
    store.conn, 'recorded rules', 'SELECT * FROM run_rule WHERE run_id = $run', { run: runId });
  const rules = rows.map((r) => ({
    id: r.rule_id, category: r.category, title: r.title, explain: r.explain, weight: Number(r.weight), target: r.target, sql: r.sql_text, sqlHash: r.sql_hash,
    params: Object.keys(JSON.parse(r.params_json) as object) as ParameterName[],
    needs: JSON.parse(r.needs_json) as Partial<Record<DatasetName, string[]>>,
    requiresNonEmpty: JSON.parse(r.requires_json) as ParameterName[],
  }));
  rules.sort(compareRules);
  const snapshots = JSON.parse(run.snapshots_json) as Partial<Record<DatasetName, number>>;
  const missing = await queryStep<{ n: string }>(store.conn, 'recorded snapshots present',
    'SELECT count(*) AS n FROM (SELECT unnest($ids::INTEGER[]) AS id) WHERE id NOT IN (SELECT snapshot_id FROM snapshot)', { ids: `[${Object.values(snapshots).join(',')}]` });
  if (Number(missing[0]!.n) > 0) {
    throw new UserError('E_SNAPSHOT_GONE', `运行 ${runId} 用到的数据快照已被清理，无法重新运行`, { hint: 'bidui gc 只保留仍被保留运行使用的快照；请从备份恢复工作区。' });
  }
  return {
    recorded: run,
    plan: {
      leadKeyScheme: run.lead_key_scheme,
      asOf: run.as_of, dataAsOf: run.data_as_of, snapshots, rules, parameters: JSON.parse(run.params_json) as ParameterValues,
      prelude: run.prelude_sql, flags: run.flags_sql, linkage: run.linkage_sql ?? '', configHash: run.config_hash, configJson: run.config_json,
    },
  };
}

/**
 * Run a plan: views over its snapshots, the people tables, every rule, then households, leads
 * and flags, left in the temp tables m_evidence and m_lead. Nothing is written to the store.
 */
export async function executePlan(store: Store, plan: RunPlan, progress: Progress): Promise<Executed> {
  const { conn } = store;
  const { asOf } = plan;
  for (const required of ['roster', 'hukou'] as const) {
    if (plan.snapshots[required] === undefined) {
      throw new UserError('E_NO_DATA', `工作区中没有${DATASET_ZH[required]}（${required}）数据，无法比对`, { hint: '先用 bidui ingest 导入各部门数据。' });
    }
  }
  progress.step(`比对日期 ${asOf}：准备数据…`);
  await createSnapshotViews(store, plan.snapshots, asOf);
  for (const step of splitSteps(plan.prelude)) await runStep(conn, `people: ${step.name}`, step.sql, bindParams(step.sql, plan.parameters, asOf));
  // Linkage of damaged IDs (linkage.ts): links, then the lane's records in the datasets' views.
  if (plan.linkage) {
    progress.step('关联证件号码受损的记录…');
    for (const step of splitSteps(plan.linkage)) await runStep(conn, `linkage: ${step.name}`, step.sql, bindParams(step.sql, plan.parameters, asOf));
    await addLinkedRecords(store, plan.snapshots, asOf);
  } else {
    await runStep(conn, 'linkage: none', `CREATE OR REPLACE TEMP TABLE m_member_link (household_id VARCHAR, id_number VARCHAR, confidence VARCHAR, raw_id VARCHAR, method VARCHAR, place VARCHAR, linked_birth DATE, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT);
      CREATE OR REPLACE TEMP VIEW m_member_lane AS SELECT * FROM m_member;
      CREATE OR REPLACE TEMP TABLE m_link (dataset VARCHAR, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT, linked_id VARCHAR, linked_birth DATE, method VARCHAR, confidence VARCHAR, raw_id VARCHAR, norm_id VARCHAR, ref STRUCT(s INTEGER, f INTEGER, r BIGINT), place VARCHAR);
      CREATE OR REPLACE TEMP TABLE m_link_stats (dataset VARCHAR, linked BIGINT, ambiguous BIGINT, unmatched BIGINT)`);
  }

  // Prepare every runnable rule first and report all problems together.
  const fields = await snapshotFields(store, plan.snapshots);
  const runnable: PlannedRule[] = [];
  const results = new Map<string, RuleResult>();
  const prepareProblems: string[] = [];
  for (const rule of plan.rules) {
    const reason = notExecutedReason(rule, fields, plan.parameters, asOf);
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

  await runStep(conn, 'hits table', `CREATE OR REPLACE TEMP TABLE m_hit (rule VARCHAR, key VARCHAR, id_number VARCHAR, name VARCHAR, township VARCHAR, village VARCHAR, dataset VARCHAR, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT, detail VARCHAR, linkage VARCHAR)`);
  for (const rule of runnable) {
    progress.step(`规则 ${rule.id} ${rule.title}`);
    const t = performance.now();
    const p = bindParams(rule.sql, plan.parameters, asOf);
    try {
      await conn.run(`INSERT INTO m_hit SELECT ${quoteLiteral(rule.id)}, *, NULL FROM (SELECT key, id_number, name, township, village, dataset, snapshot_id, file_no, source_row, detail FROM (${rule.sql}))`, p.values, p.types);
    } catch (error) {
      const r = results.get(rule.id)!;
      r.outcome = 'Error';
      r.reason = (error as Error).message.split('\n')[0];
      log().error({ rule: rule.id, step: 'rule' }, 'rule failed');
    }
    results.get(rule.id)!.ms = Math.round(performance.now() - t);
    log().debug({ rule: rule.id, ms: results.get(rule.id)!.ms }, 'rule done');
  }

  // Hits on a linked record (the lane of linkage.ts): marked with the link's confidence, and
  // their detail says how the record was linked. Roster records only suggest corrections (Q6).
  await runStep(conn, 'mark linked hits', `
    UPDATE m_hit SET linkage = l.confidence,
      detail = ${linkedDetail('原证件号码', 'l.norm_id')}
    FROM m_link l
    WHERE m_hit.dataset <> 'roster' AND l.dataset = m_hit.dataset AND l.snapshot_id = m_hit.snapshot_id AND l.file_no = m_hit.file_no AND l.source_row = m_hit.source_row`);
  // Hits of the rules on members (m_member_lane) on a roster member linked by name and place.
  const memberRules = plan.rules.filter((r) => r.sql.includes('m_member_lane')).map((r) => r.id);
  if (memberRules.length) {
    await runStep(conn, 'mark hits on linked members', `
      UPDATE m_hit SET linkage = l.confidence,
        detail = ${linkedDetail('名册中此人的证件号码', 'l.raw_id')}
      FROM m_member_link l
      WHERE m_hit.linkage IS NULL AND m_hit.rule IN (${memberRules.map(quoteLiteral).join(', ')}) AND m_hit.key = l.household_id AND m_hit.id_number = l.id_number`);
  }

  // Households: 漏评 people go to their 户籍 household on D (or stand alone), and households with
  // a roster member are dropped; roster rules already name their household, and 监测预警's
  // their monitoring or roster household (people.sql m_watch_place; runs recorded before 0.6
  // have no such rule, and their replayed people.sql no such table).
  progress.step('汇总线索…');
  await runStep(conn, 'rule table', 'CREATE OR REPLACE TEMP TABLE m_rule (rule VARCHAR, category VARCHAR, weight INTEGER, target VARCHAR)');
  for (const r of plan.rules) {
    await runStep(conn, `rule table ${r.id}`, 'INSERT INTO m_rule VALUES ($rule, $category, $weight, $target)', { rule: r.id, category: r.category, weight: r.weight, target: r.target });
  }
  await runStep(conn, 'evidence by household', `
    CREATE OR REPLACE TEMP TABLE m_evidence AS
    SELECT r.category, h.rule, coalesce(u.hukou_id, h.key) AS household_key,
           coalesce(pl.township, h.township) AS township, coalesce(pl.village, h.village) AS village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail, h.linkage
    FROM m_hit h JOIN m_rule r USING (rule)
    LEFT JOIN m_hukou_unit u ON u.id_number = h.key
    LEFT JOIN m_unit_place pl ON pl.hukou_id = u.hukou_id
    WHERE r.target = 'person'
      AND (CASE WHEN u.hukou_id IS NULL THEN h.key NOT IN (SELECT id_number FROM m_in_roster)
                ELSE u.hukou_id NOT IN (SELECT hukou_id FROM m_unit_in_roster) END)
    UNION ALL
    SELECT r.category, h.rule, h.key, h.township, h.village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail, h.linkage
    FROM m_hit h JOIN m_rule r USING (rule)
    WHERE r.target = 'hukou_household' AND h.key NOT IN (SELECT hukou_id FROM m_unit_in_roster)
    UNION ALL
    SELECT r.category, h.rule, h.key, hh.township, hh.village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail, h.linkage
    FROM m_hit h JOIN m_rule r USING (rule) JOIN m_household hh ON hh.household_id = h.key
    WHERE r.target = 'roster_household'${plan.rules.some((r) => r.target === 'watch_household') ? `
    UNION ALL
    SELECT r.category, h.rule, h.key, wp.township, wp.village,
           h.id_number, h.name, h.dataset, h.snapshot_id, h.file_no, h.source_row, h.detail, h.linkage
    FROM m_hit h JOIN m_rule r USING (rule) JOIN m_watch_place wp ON wp.household_id = h.key
    WHERE r.target = 'watch_household'` : ''}`);

  // One lead per (category, household); its key depends on nothing but those two and the
  // workspace's secret (keyed: a masked ID cannot be found by hashing candidates). Priority: the
  // sum of the weights of its distinct rules (more rules and graver ones first).
  const code = Object.entries(CATEGORY_CODE).map(([c, k]) => `WHEN ${quoteLiteral(c)} THEN ${quoteLiteral(k)}`).join(' ');
  const keyed = plan.leadKeyScheme === 'hmac-sha256' ? hmacPads(await workspaceSecret(store)) : undefined;
  const digest = keyed
    ? `sha256(unhex(${quoteLiteral(keyed.opad)}) || unhex(sha256(unhex(${quoteLiteral(keyed.ipad)}) || encode(category || '|' || household_key))))`
    : `sha256(category || '|' || household_key)`;
  await runStep(conn, 'leads', `
    CREATE OR REPLACE TEMP TABLE m_lead AS
    WITH hr AS (SELECT DISTINCT category, household_key, rule FROM m_evidence),
    pr AS (
      SELECT category, household_key, string_agg(rule, ',' ORDER BY rule) AS rules, count(*)::INTEGER AS rule_count, sum(weight)::INTEGER AS priority
      FROM hr JOIN m_rule USING (rule, category) GROUP BY category, household_key
    ),
    pl AS (
      SELECT category, household_key, min(township) AS township, min(village) AS village, count(DISTINCT id_number)::INTEGER AS members,
             -- A lead that rests only on linked records: the lowest confidence of them.
             CASE WHEN bool_and(linkage IS NOT NULL) THEN CASE WHEN bool_or(linkage = '低') THEN '低' WHEN bool_or(linkage = '中') THEN '中' ELSE '高' END END AS linkage
      FROM m_evidence GROUP BY category, household_key
    )
    SELECT (CASE category ${code} END) || '-' || substr(${digest}, 1, 16) AS lead_key,
           category, household_key, township, village, rules, rule_count, priority, members, NULL::VARCHAR AS flags, linkage
    FROM pr JOIN pl USING (category, household_key)`);

  // 四有 counter-evidence on 漏评 households, shown as a flag, never used to suppress the lead;
  // from exact records only (the views as they were before linked records joined them).
  if (plan.linkage) await createSnapshotViews(store, plan.snapshots, asOf);
  for (const step of splitSteps(plan.flags)) await runStep(conn, `flags: ${step.name}`, step.sql, bindParams(step.sql, plan.parameters, asOf));

  const ruleCounts = await queryStep<{ rule: string; households: string; rows: string }>(conn, 'count per rule',
    'SELECT rule, count(DISTINCT household_key) AS households, count(*) AS rows FROM m_evidence GROUP BY rule');
  for (const c of ruleCounts) {
    const r = results.get(c.rule)!;
    r.leads = Number(c.households);
    r.evidence = Number(c.rows);
  }
  const byCategory = await queryStep<{ category: Category; n: string }>(conn, 'count per category', 'SELECT category, count(*) AS n FROM m_lead GROUP BY category');
  const leadsByCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const c of byCategory) leadsByCategory[c.category] = Number(c.n);
  const total = Object.values(leadsByCategory).reduce((a, b) => a + b, 0);
  const status = [...results.values()].some((r) => r.outcome === 'Error') ? 'partial' : 'complete';
  const [{ v: duckdbVersion }] = (await queryStep<{ v: string }>(conn, 'duckdb version', 'SELECT version() AS v')) as [{ v: string }];
  const linkage = Object.fromEntries((await queryStep<{ dataset: string; linked: string; ambiguous: string; unmatched: string }>(conn, 'linkage counts', 'SELECT * FROM m_link_stats ORDER BY dataset'))
    .map((r) => [r.dataset, { linked: Number(r.linked), ambiguous: Number(r.ambiguous), unmatched: Number(r.unmatched) }]));
  return { results, leadsByCategory, total, status, duckdbVersion, linkage };
}

/**
 * The run's rules, leads and evidence as rows of the store's tables (run_rule, lead, evidence),
 * into `prefix`-named tables: the store's own when recording, temp x_* tables for a re-run.
 */
async function writeRunRows(store: Store, plan: RunPlan, executed: Executed, runId: number, tables: { runRule: string; lead: string; evidence: string }, issued: FirstIssued): Promise<void> {
  const { conn } = store;
  for (const rule of plan.rules) {
    const r = executed.results.get(rule.id)!;
    await runStep(conn, `insert run_rule ${rule.id}`,
      `INSERT INTO ${tables.runRule} VALUES ($id, $rule, $category, $title, $explain, $weight, $target, $needs, $requires, $outcome, $reason, $sql, $hash, $params, $leads, $evidence, $ms)`,
      {
        id: runId, rule: rule.id, category: rule.category, title: rule.title, explain: rule.explain, weight: rule.weight, target: rule.target,
        needs: canonicalJson(rule.needs), requires: canonicalJson(rule.requiresNonEmpty), outcome: r.outcome, reason: r.reason ?? null, sql: rule.sql, hash: rule.sqlHash,
        params: canonicalJson(Object.fromEntries(rule.params.map((p) => [p, plan.parameters[p]]))), leads: r.leads, evidence: r.evidence, ms: r.ms,
      });
  }
  // first_issued: a new run's leads carry the date of the same lead in the baseline, else the
  // as-of date; a re-run takes the recorded dates (history, not recomputed from data).
  const firstIssued = issued.from === 'baseline' ? 'least(coalesce(p.first_issued, $asOf::DATE), $asOf::DATE)' : 'p.first_issued';
  await runStep(conn, 'insert leads', `
    INSERT INTO ${tables.lead}
    SELECT $id, m.lead_key, m.category, m.household_key, m.township, m.village, m.rules, m.rule_count, m.priority, m.members, m.flags, ${firstIssued}, m.linkage
    FROM m_lead m LEFT JOIN (SELECT category, household_key, first_issued FROM lead WHERE run_id = $source) p USING (category, household_key)`,
  { id: runId, source: issued.runId ?? -1, ...(issued.from === 'baseline' ? { asOf: plan.asOf } : {}) });
  await runStep(conn, 'insert evidence', `
    INSERT INTO ${tables.evidence}
    SELECT $id, l.lead_key, e.category, e.rule, e.household_key, e.id_number, e.name, e.dataset, e.snapshot_id, e.file_no, e.source_row,
           e.dataset || ':' || coalesce(e.snapshot_id::VARCHAR, '') || ':' || coalesce(e.file_no::VARCHAR, '') || ':' || coalesce(e.source_row::VARCHAR, ''),
           e.detail, e.linkage
    FROM m_evidence e JOIN m_lead l USING (category, household_key)`, { id: runId });
}

/** The last nightly run whose report was completely written (the next run's baseline). */
export async function lastDeliveredNightly(store: Store): Promise<{ runId: number; asOf: string } | undefined> {
  const [row] = await queryStep<{ run_id: number; as_of: string }>(store.conn, 'last delivered nightly run',
    `SELECT run_id, as_of::VARCHAR AS as_of FROM run WHERE purpose = 'nightly' AND run_id IN (SELECT run_id FROM report_delivery)
     ORDER BY run_id DESC LIMIT 1`);
  return row ? { runId: row.run_id, asOf: row.as_of } : undefined;
}

/** Warnings about the as-of date: before the pinned roster's first 识别时间, nobody was on it. */
async function asOfNotes(store: Store, plan: RunPlan): Promise<string[]> {
  if (plan.snapshots.roster === undefined) return [];
  const [row] = await queryStep<{ first: string | null }>(store.conn, 'roster first identified',
    `SELECT min(identified_on)::VARCHAR AS first FROM (${await snapshotRowsSql(store.conn, 'roster', plan.snapshots.roster)})`);
  if (row?.first && plan.asOf < row.first) {
    return [`比对日期 ${plan.asOf} 早于名册中最早的识别时间（${row.first}）：那时还没有建档立卡户，各规则的结果没有意义。`];
  }
  return [];
}

/** A new run's purpose, and why a run asked for as nightly is an analysis. */
function purposeOf(options: Pick<MatchOptions, 'intent' | 'asOf' | 'dataAsOf'>, baseline: { asOf: string } | undefined, today: string): { purpose: Purpose; because: string | undefined } {
  if (options.intent === 'analysis') return { purpose: 'analysis', because: undefined };
  if (options.dataAsOf !== undefined) return { purpose: 'analysis', because: '使用了 --data-as-of 指定的历史数据' };
  // A run dated after today (--allow-future) is a projection: were it a baseline, every night
  // until that date would be dated before it, and so an analysis.
  if (options.asOf > today) return { purpose: 'analysis', because: `比对日期在今天（${today}）之后` };
  if (baseline && options.asOf < baseline.asOf) return { purpose: 'analysis', because: `比对日期早于上次交付的每晚运行的比对日期（${baseline.asOf}）` };
  return { purpose: 'nightly', because: undefined };
}

/**
 * The detail of a hit on a linked record (alias l: a row of m_link or m_member_link): how it was
 * linked, then the rule's own detail. `subject` names the ID quoted (`idExpr`, normalised, so
 * that masking finds it).
 */
function linkedDetail(subject: string, idExpr: string): string {
  const byMethod = (i: 0 | 1) => `CASE l.method ${Object.entries(METHOD_ZH).map(([k, v]) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(v[i])}`).join(' ')} END`;
  return `printf('【关联，可信度%s】${subject} %s %s，按姓名、%s和%s关联到户籍中的此人；', l.confidence, ${idExpr}, ${byMethod(0)}, l.place, ${byMethod(1)}) || coalesce(m_hit.detail, '')`;
}

/** Where a run's leads take their first_issued from: the baseline's leads (a new run) or the run's own recorded leads (a re-run). */
type FirstIssued = { from: 'baseline' | 'recorded'; runId: number | undefined };

/** Record an executed plan as a new run, in one transaction. */
export async function recordRun(store: Store, plan: RunPlan, executed: Executed, started: Date, quality: GateResult, purpose: Purpose, baselineRunId: number | undefined): Promise<number> {
  const { conn } = store;
  return inTransaction(conn, 'record run', async () => {
    const [{ id }] = (await queryStep<{ id: number }>(conn, 'next run id', "SELECT nextval('run_seq')::INTEGER AS id")) as [{ id: number }];
    await runStep(conn, 'insert run',
      `INSERT INTO run (run_id, as_of, data_as_of, started_at, finished_at, status, bidui_version, duckdb_version, config_hash, config_json,
         params_json, snapshots_json, prelude_sql, flags_sql, leads, leads_by_category, quality_json, purpose, baseline_run_id, lead_key_scheme, linkage_sql, linkage_json)
       VALUES ($id, $asOf::DATE, $dataAsOf::TIMESTAMP, $started, now()::TIMESTAMP, $status, $version, $duckdb, $hash, $config, $params, $snapshots, $prelude, $flags, $leads, $byCategory, $quality,
         $purpose, $baseline, $scheme, $linkage, $linkageJson)`,
      {
        id, asOf: plan.asOf, dataAsOf: plan.dataAsOf, started: sqlTimestamp(started), status: executed.status, version: BIDUI_VERSION,
        duckdb: executed.duckdbVersion, hash: plan.configHash, config: plan.configJson, params: canonicalJson(plan.parameters), snapshots: canonicalJson(plan.snapshots),
        prelude: plan.prelude, flags: plan.flags, leads: executed.total, byCategory: canonicalJson(executed.leadsByCategory), quality: canonicalJson(quality),
        purpose, baseline: baselineRunId ?? null, scheme: plan.leadKeyScheme, linkage: plan.linkage, linkageJson: canonicalJson(executed.linkage),
      });
    await writeRunRows(store, plan, executed, id, { runRule: 'run_rule', lead: 'lead', evidence: 'evidence' }, { from: 'baseline', runId: baselineRunId });
    return id;
  });
}

/** For a re-run: the recomputed rows of run `runId` in temp tables x_run_rule, x_lead, x_evidence. */
export const RERUN_TABLES = { runRule: 'x_run_rule', lead: 'x_lead', evidence: 'x_evidence' } as const;
export async function stageRerun(store: Store, plan: RunPlan, executed: Executed, runId: number): Promise<void> {
  for (const [name, source] of [['x_run_rule', 'run_rule'], ['x_lead', 'lead'], ['x_evidence', 'evidence']] as const) {
    await runStep(store.conn, `stage ${name}`, `CREATE OR REPLACE TEMP TABLE ${name} AS SELECT * FROM ${source} WHERE false`);
  }
  await writeRunRows(store, plan, executed, runId, RERUN_TABLES, { from: 'recorded', runId });
}

/**
 * Drop executePlan's working tables and views (temporary, m_…) once the run is recorded: at
 * province scale they hold gigabytes (the 户籍 households of 32 million people) that the report,
 * in the same process after `bidui run`, would otherwise have to work beside.
 */
async function dropWorkingTables(store: Store): Promise<void> {
  const rows = await queryStep<{ name: string; kind: string }>(store.conn, 'working tables',
    `SELECT view_name AS name, 'VIEW' AS kind FROM duckdb_views() WHERE temporary AND starts_with(view_name, 'm_')
     UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary AND starts_with(table_name, 'm_') ORDER BY kind DESC, name`);
  for (const r of rows) await runStep(store.conn, `drop ${r.name}`, `DROP ${r.kind === 'VIEW' ? 'VIEW' : 'TABLE'} IF EXISTS temp.${quoteIdent(r.name)}`);
}

export async function match(store: Store, config: Config, options: MatchOptions): Promise<RunResult> {
  const started = new Date();
  const plan = await planFromConfig(store, config, options.asOf, options.dataAsOf);
  // The quality gate: a dataset that lost too many rows to rejects stops the run here.
  const quality = await checkQualityGate(store.conn, plan.snapshots, config.quality.maxRejectedShare, Boolean(options.acceptRejects));
  const notes = await asOfNotes(store, plan);
  const executed = await executePlan(store, plan, options.progress);
  const baseline = await lastDeliveredNightly(store);
  const { purpose, because } = purposeOf(options, baseline, localDate(config.timeZone));
  const runId = await recordRun(store, plan, executed, started, quality, purpose, baseline?.runId);
  await dropWorkingTables(store);
  options.progress.done();
  log().info({ runId, asOf: plan.asOf, purpose, baseline: baseline?.runId ?? null, leads: executed.total, status: executed.status }, 'match finished');
  return {
    runId, asOf: plan.asOf, snapshots: plan.snapshots, rules: plan.rules.map((r) => executed.results.get(r.id)!),
    leadsByCategory: executed.leadsByCategory, leads: executed.total, status: executed.status, quality,
    purpose, analysisBecause: because, baselineRunId: baseline?.runId, notes,
  };
}
