import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { stringify } from 'csv-stringify/sync';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { loweredForTests } from '../core/test-override.js';
import { failpoint } from '../core/failpoint.js';
import { privateDir } from '../core/files.js';
import { log } from '../core/log.js';
import type { Progress } from '../core/progress.js';
import { inTransaction, queryStep, quoteIdent, quoteLiteral, runStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, type DatasetName } from '../ingest/datasets.js';
import { createSnapshotViews, newestSnapshots } from '../match/match.js';
import { CATEGORIES, compareRules } from '../rules/catalogue.js';
import { answerMeaningSql, csvSafeSql, DEFAULT_STALE_DAYS, DEFAULT_VERIFICATION_DAYS, EVIDENCE_SIGNATURE, UNKNOWN_TOWNSHIP } from './list-format.js';
import { abandonOutput, beginOutput, checkOutputDir, commitOutput, recoverOutputDir } from './output-dir.js';
import { writeManifest } from './manifest.js';
import { datasetQuality, writeQualityWorkbooks } from './quality.js';
import { writeSummary } from './summary.js';
import { type TownshipPassword, writeTownshipLists } from './township.js';
import { WorkbookPool } from './workbook.js';

/**
 * Report: from one recorded run to the files people act on. Every file is written in a fixed
 * order with no timestamps inside, so reporting the same run twice gives the same bytes.
 */
export { UNKNOWN_TOWNSHIP };

/** Where a run's rows are read from: the store's tables, or a re-run's temp tables. */
export interface RunTables {
  runRule: string;
  lead: string;
  evidence: string;
}
export const STORE_TABLES: RunTables = { runRule: 'run_rule', lead: 'lead', evidence: 'evidence' };

export interface ReportOptions {
  runId: number;
  out: string;
  maskIds: boolean;
  progress: Progress;
  /** Default: the store's tables; a re-run passes its temp tables. */
  tables?: RunTables;
  /** Keep the manifest in the store for bidui verify (default true; false for re-runs). */
  recordManifest?: boolean;
  /** Township workbooks with open passwords (config output.encrypt; round: output.passwordRound). */
  encrypt?: { round: number } | undefined;
}

export interface ReportResult {
  out: string;
  files: string[];
  townships: string[];
  leads: Record<string, number>;
  newLeads: number;
  continuing: number;
  resolved: number;
  previousRunId: number | undefined;
  /** Township workbooks written with open passwords. */
  encrypted: boolean;
  /** With output.encrypt: the owner-only file in the workspace that lists the townships' passwords (not for re-runs). */
  passwordsFile?: string | undefined;
  /** Leads answered 不属实 whose evidence has not changed: counted in `leads`, not issued again. */
  withheld: number;
  /** Evidence rows when "auto" left out the analyst twins (too many rows), else undefined. */
  analystTwinsSkipped?: number | undefined;
}

export interface RunRow {
  run_id: number;
  as_of: string;
  data_as_of: string | null;
  started_at: string;
  finished_at: string;
  status: string;
  bidui_version: string;
  duckdb_version: string;
  config_hash: string;
  params_json: string;
  snapshots_json: string;
  leads: string;
  leads_by_category: string;
  quality_json: string;
  purpose: 'nightly' | 'analysis';
  baseline_run_id: number | null;
  /** The validated config the run was made with (canonical JSON, defaults filled in). */
  config_json: string;
  /** Records linked, ambiguous and without a candidate, per dataset (match/linkage.ts). */
  linkage_json: string;
}

/** What the run's recorded config says about the lists (defaults where it says nothing). */
export function listSettings(run: Pick<RunRow, 'config_json'>): { verificationDays: number; monitoringVerificationDays: number; staleDays: number; analystWorkbooks: boolean | 'auto' } {
  const raw = JSON.parse(run.config_json || '{}') as { output?: { verificationDays?: number; monitoringVerificationDays?: number; analystWorkbooks?: boolean | 'auto' }; quality?: { staleDays?: number } };
  const verificationDays = raw.output?.verificationDays ?? DEFAULT_VERIFICATION_DAYS;
  return {
    verificationDays,
    // 监测预警 leads: their own limit when set (some provinces: 20 working days), else the lists'.
    monitoringVerificationDays: raw.output?.monitoringVerificationDays ?? verificationDays,
    staleDays: raw.quality?.staleDays ?? DEFAULT_STALE_DAYS,
    analystWorkbooks: raw.output?.analystWorkbooks ?? 'auto',
  };
}

/**
 * `output.analystWorkbooks: "auto"` (the default) writes the XLSX twins when evidence.csv has at
 * most this many rows: a county's run (100,000 households give about 27,000). Above it the
 * twins cost more than the rest of the report at prefecture scale (exceljs writes about 40,000
 * rows a second a thread: 6.4 s of a 1M-household run's 18 s report, docs/BENCHMARKS.md), and a
 * workbook of hundreds of thousands of evidence rows is for a database, not a spreadsheet; the
 * township workbooks keep IDs as text for spreadsheet users. `true` always writes them.
 */
export const ANALYST_AUTO_MAX_ROWS = 100_000;
/** ANALYST_AUTO_MAX_ROWS, or `BIDUI_ANALYST_AUTO_ROWS` for tests only (a test county is small). */
export function analystAutoMaxRows(): number {
  return loweredForTests('BIDUI_ANALYST_AUTO_ROWS', ANALYST_AUTO_MAX_ROWS, 0);
}

/** Whether a run's report writes the analyst twins, and why (the summary says which). */
export interface AnalystTwins {
  written: boolean;
  setting: boolean | 'auto';
  evidenceRows: number;
}

/** The analyst CSVs that get an XLSX twin (analyst-workbook.ts): sheet name, column widths, numeric columns. */
const ANALYST_TWINS = [
  {
    csv: 'evidence.csv', xlsx: 'evidence.xlsx', sheet: 'evidence', numeric: [] as string[],
    widths: { lead_key: 20, category: 9, rule: 6, township: 12, village: 12, household_key: 21, id_number: 21, name: 10, dataset: 18, record_ref: 24, detail: 60, linkage: 8 } as Record<string, number>,
  },
  {
    csv: 'leads.csv', xlsx: 'leads.xlsx', sheet: 'leads', numeric: ['priority', 'members'],
    widths: { lead_key: 20, category: 9, township: 12, village: 12, household_key: 21, rules: 14, priority: 8, members: 8, flags: 14, status: 12, verification: 12, linkage: 8 } as Record<string, number>,
  },
];

/** A rule as the run recorded it (run_rule, or a re-run's x_run_rule). */
export interface RunRuleRow {
  rule_id: string;
  category: string;
  title: string;
  explain: string;
  outcome: string;
  reason: string | null;
  sql_hash: string;
  params_json: string;
  leads: string;
  evidence_rows: string;
}

/** The run's rules, in catalogue order: read once, used by the lists, the summary and the manifest. */
async function loadRunRules(store: Store, runId: number, table: string): Promise<RunRuleRow[]> {
  const rows = await queryStep<RunRuleRow>(store.conn, 'report: rules',
    `SELECT rule_id, category, title, explain, outcome, reason, sql_hash, params_json, leads, evidence_rows FROM ${table} WHERE run_id = $run ORDER BY rule_id`, { run: runId });
  return rows.sort((a, b) => compareRules({ category: a.category, id: a.rule_id }, { category: b.category, id: b.rule_id }));
}

const CATEGORY_ORDER = `CASE category ${CATEGORIES.map((c, i) => `WHEN ${quoteLiteral(c)} THEN ${i}`).join(' ')} END`;
const DATASET_ZH = `CASE dataset ${DATASETS.map((d) => `WHEN ${quoteLiteral(d.name)} THEN ${quoteLiteral(d.zh)}`).join(' ')} END`;

/** SQL expressions that mask an ID (first 6 and last 4 kept) when masking is on. */
export function maskSql(expr: string, mask: boolean): string {
  if (!mask) return expr;
  return `CASE WHEN length(${expr}) > 10 THEN left(${expr}, 6) || repeat('*', length(${expr}) - 10) || right(${expr}, 4) ELSE ${expr} END`;
}
/** Mask every 15- or 18-character ID inside free text (Q6 suggestions). */
export function maskTextSql(expr: string, mask: boolean): string {
  if (!mask) return expr;
  // Every run of 11 to 18 ID characters (IDs, 户编号, 户号 …) as maskSql masks a column: the
  // first 6 and last 4 kept, one * per hidden character. Longest first; each twice, since a
  // match takes the character before it and two numbers one character apart need two passes.
  let out = expr;
  for (let len = 18; len >= 11; len--) {
    const re = `(^|[^0-9])([0-9]{6})[0-9]{${len - 10}}([0-9]{3}[0-9Xx])([^0-9Xx]|$)`;
    const rep = `\\1\\2${'*'.repeat(len - 10)}\\3\\4`;
    for (let pass = 0; pass < 2; pass++) out = `regexp_replace(${out}, '${re}', '${rep}', 'g')`;
  }
  return out;
}

/**
 * Build the report tables for one run (temp tables r_*), shared by every output:
 * r_lead (with status against the previous run), r_evidence (display columns), r_resolved.
 */
async function prepareTables(store: Store, run: RunRow, previousRunId: number | undefined, mask: boolean, tables: RunTables): Promise<void> {
  const runId = run.run_id;
  const { verificationDays, monitoringVerificationDays } = listSettings(run);
  const { conn } = store;
  const prev = previousRunId ?? -1;
  // Township answers imported before the run finished (so reports of a run never change).
  await runStep(conn, 'report: feedback', `
    CREATE OR REPLACE TEMP TABLE r_feedback AS
    SELECT f.category, f.household_key,
           arg_max(f.result, {'i': f.import_id, 'r': f.source_row}) AS last_result,
           -- What the answer means (监测预警's 纳入监测 / 不纳入 / 已消除风险 = 属实 / 不属实 / 已整改).
           ${answerMeaningSql("arg_max(f.result, {'i': f.import_id, 'r': f.source_row})")} AS last_outcome,
           arg_max(f.note, {'i': f.import_id, 'r': f.source_row}) AS last_note,
           arg_max(f.evidence_refs, {'i': f.import_id, 'r': f.source_row}) AS answered_refs
    FROM feedback f JOIN feedback_import i USING (import_id)
    WHERE i.imported_at <= (SELECT finished_at FROM run WHERE run_id = $run)
    GROUP BY f.category, f.household_key`, { run: runId });
  // A lead answered 不属实 is not issued again unless a new piece of evidence appeared. 核实期限
  // (deadline): the day the lead was first issued plus output.verificationDays; overdue when it
  // is before the as-of date and the lead, issued, has no answer yet.
  await runStep(conn, 'report: leads', `
    CREATE OR REPLACE TEMP TABLE r_lead AS
    SELECT *, (deadline < $asOf::DATE AND last_result IS NULL AND status <> '已核实不属实') AS overdue FROM (
    SELECT l.*, coalesce(l.township, ${quoteLiteral(UNKNOWN_TOWNSHIP)}) AS township_name,
           coalesce(l.first_issued, $asOf::DATE) + (CASE WHEN l.category = '监测预警' THEN ${monitoringVerificationDays} ELSE ${verificationDays} END)::INTEGER AS deadline,
           CASE WHEN fb.last_outcome = '不属实' AND list_has_all(fb.answered_refs, ev.refs) THEN '已核实不属实'
                WHEN p.prev_key IS NULL THEN '新增' ELSE '持续' END AS status,
           fb.last_result, fb.last_outcome, fb.last_note,
           coalesce(rh.head_name, mh.head_name, hh.head_name, se.head_name) AS head_name,
           ${CATEGORY_ORDER} AS category_order
    FROM ${tables.lead} l
    -- 户主: the roster household's head, else the monitoring household's, else the 户籍 household's, else (a person without 户籍,
    -- whose household key is the ID) the person. Only the run's households are looked up.
    LEFT JOIN (SELECT household_id AS household_key, min(name) AS head_name FROM roster
               WHERE relation IN ('户主', '本人') AND household_id IN (SELECT household_key FROM ${tables.lead} WHERE run_id = $run) GROUP BY ALL) rh USING (household_key)
    LEFT JOIN (SELECT household_id AS household_key, min(name) AS head_name FROM monitoring
               WHERE relation IN ('户主', '本人') AND household_id IN (SELECT household_key FROM ${tables.lead} WHERE run_id = $run) GROUP BY ALL) mh USING (household_key)
    LEFT JOIN (SELECT hukou_id AS household_key, min(name) AS head_name FROM hukou
               WHERE relation IN ('户主', '本人') AND hukou_id IN (SELECT household_key FROM ${tables.lead} WHERE run_id = $run) GROUP BY ALL) hh USING (household_key)
    LEFT JOIN (SELECT id_number AS household_key, min(name) AS head_name FROM ${tables.evidence}
               WHERE run_id = $run AND id_number = household_key GROUP BY ALL) se USING (household_key)
    LEFT JOIN (SELECT category, household_key, lead_key AS prev_key FROM lead WHERE run_id = $prev) p USING (category, household_key)
    LEFT JOIN r_feedback fb USING (category, household_key)
    LEFT JOIN (SELECT lead_key, list(DISTINCT ${EVIDENCE_SIGNATURE}) AS refs FROM ${tables.evidence} WHERE run_id = $run GROUP BY lead_key) ev ON ev.lead_key = l.lead_key
    WHERE l.run_id = $run)`, { run: runId, prev, asOf: run.as_of });
  await runStep(conn, 'report: evidence', `
    CREATE OR REPLACE TEMP TABLE r_evidence AS
    SELECT e.lead_key, e.category, e.rule, l.township_name AS township, coalesce(l.village, '') AS village,
           ${maskSql('e.household_key', mask)} AS household_key,
           ${maskSql('e.id_number', mask)} AS id_number, e.name, e.dataset,
           ${DATASET_ZH} AS dataset_zh, e.record_ref,
           CASE WHEN f.path IS NULL THEN e.record_ref
                ELSE regexp_extract(f.path, '[^/]+$') || coalesce('「' || f.sheet || '」', '') || ' 第' || e.source_row || '行' END AS record_place,
           ${maskTextSql('e.detail', mask)} AS detail,
           l.priority, l.status, l.rules, l.flags, l.category_order, e.source_row, e.file_no, e.snapshot_id,
           l.last_result, l.last_note, l.head_name, l.deadline, l.linkage AS lead_linkage, e.linkage
    FROM ${tables.evidence} e
    JOIN r_lead l USING (lead_key)
    LEFT JOIN snapshot_file f ON f.snapshot_id = e.snapshot_id AND f.file_no = e.file_no
    WHERE e.run_id = $run`, { run: runId });
  await runStep(conn, 'report: resolved', `
    CREATE OR REPLACE TEMP TABLE r_resolved AS
    SELECT p.lead_key, p.category, coalesce(p.township, ${quoteLiteral(UNKNOWN_TOWNSHIP)}) AS township, coalesce(p.village, '') AS village,
           ${maskSql('p.household_key', mask)} AS household_key, p.rules, ${CATEGORY_ORDER.replace(/category/g, 'p.category')} AS category_order
    FROM lead p
    WHERE p.run_id = $prev AND NOT EXISTS (SELECT 1 FROM ${tables.lead} x WHERE x.run_id = $run AND x.category = p.category AND x.household_key = p.household_key)`, { run: runId, prev });
}

/**
 * A CSV (UTF-8 with BOM) of `columns` (output name, SQL expression) of `from`, in the order of
 * `orderBy` (over `from`'s columns: qualify them, since a bare name would sort by the output
 * column of that name); every text cell safe to open in a spreadsheet (list-format.ts csvSafe).
 * The ORDER BY is the query's outermost operator: DuckDB keeps a subquery's order under a
 * projection only by habit, and with some projections it did not (blocks of 2,048 rows out of
 * place, differently on each run).
 */
export async function copyCsv(conn: DuckDBConnection, step: string, columns: [string, string][], from: string, orderBy: string, file: string): Promise<void> {
  const list = columns.map(([name, expr]) => `${expr} AS ${quoteIdent(name)}`).join(', ');
  const varchar = (await queryStep<{ column_type: string }>(conn, `${step}: columns`, `DESCRIBE SELECT ${list} FROM ${from}`)).map((c) => c.column_type === 'VARCHAR');
  // UTF-8 with a byte-order mark, so that Excel and WPS on Chinese Windows read UTF-8 (without
  // it they take the file for GBK and show mojibake): the mark is the first character of the
  // first column's name, which DuckDB writes first and unquoted.
  const safe = columns.map(([name, expr], i) => `${varchar[i] ? csvSafeSql(`(${expr})`) : expr} AS ${quoteIdent(i === 0 ? `\uFEFF${name}` : name)}`).join(', ');
  await runStep(conn, step, `COPY (SELECT ${safe} FROM ${from} ORDER BY ${orderBy}) TO ${quoteLiteral(file)} (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', NULL '')`);
  fs.chmodSync(file, 0o600);
}

/** An analyst CSV: its file name, columns (name, SQL expression), source table and sort. */
export interface AnalystCsv {
  file: string;
  columns: [string, string][];
  from: string;
  orderBy: string;
}

/**
 * evidence.csv, leads.csv and resolved.csv from the report tables (r_evidence, r_lead,
 * r_resolved). Each sort ends in a key unique to its row: with --mask-ids, households whose keys
 * mask alike (522625*****0947) sort by the key itself, else their order changed from run to run
 * (a 1M-household county has 5,317 such groups); the sort columns are the table's, not the masked
 * output's, except where the order has always been that of the text as written (leads: the
 * village coalesced, the key masked).
 */
export function analystCsvs(maskIds: boolean): AnalystCsv[] {
  const same = (names: string, table: string) => names.split(' ').map((n): [string, string] => [n, `${table}.${n}`]);
  return [
    {
      file: 'evidence.csv',
      columns: [...same('lead_key category rule township village household_key id_number name dataset record_ref detail', 'e'), ['linkage', "coalesce(e.linkage, '')"]],
      from: 'r_evidence e',
      orderBy: 'e.category_order, e.township, e.village, e.household_key, e.rule, e.dataset, e.snapshot_id, e.file_no, e.source_row, e.id_number, e.lead_key',
    },
    {
      file: 'leads.csv',
      columns: [
        ['lead_key', 'l.lead_key'], ['category', 'l.category'], ['township', 'l.township_name'], ['village', "coalesce(l.village, '')"],
        ['household_key', maskSql('l.household_key', maskIds)], ['rules', 'l.rules'], ['priority', 'l.priority'], ['members', 'l.members'],
        ['flags', "coalesce(l.flags, '')"], ['status', 'l.status'], ['verification', "coalesce(l.last_result, '')"], ['linkage', "coalesce(l.linkage, '')"],
      ],
      from: 'r_lead l',
      orderBy: `l.category_order, l.township_name, l.priority DESC, coalesce(l.village, ''), ${maskSql('l.household_key', maskIds)}, l.household_key`,
    },
    {
      file: 'resolved.csv',
      columns: same('lead_key category township village household_key rules', 'r'),
      from: 'r_resolved r',
      orderBy: 'r.category_order, r.township, r.village, r.household_key, r.lead_key',
    },
  ];
}

export async function report(store: Store, options: ReportOptions): Promise<ReportResult> {
  const { conn } = store;
  const { runId, out, maskIds, progress } = options;
  const runs = await queryStep<RunRow>(conn, 'report: run', 'SELECT *, data_as_of::VARCHAR AS data_as_of FROM run WHERE run_id = $run', { run: runId });
  const run = runs[0];
  if (!run) {
    throw new UserError('E_NO_RUN', `工作区中没有编号为 ${runId} 的运行`, { hint: '用 bidui runs 或 bidui match 的输出查看运行编号。' });
  }
  // 新增/持续/已消失 compare with the run's baseline, fixed when the run was made: the last
  // delivered nightly run before it (match.ts lastDeliveredNightly).
  const previousRunId: number | undefined = run.baseline_run_id ?? undefined;
  if (previousRunId !== undefined) {
    const [base] = await queryStep<{ n: string }>(conn, 'report: baseline present', 'SELECT count(*) AS n FROM run WHERE run_id = $id', { id: previousRunId });
    if (Number(base?.n ?? 0) === 0) {
      throw new UserError('E_BASELINE_GONE', `运行 ${runId} 的比较基准（运行 ${previousRunId}）已被 bidui gc 清理，无法重新生成它的报告（新增、持续、已消失无从比较）`, {
        hint: '需要时从备份恢复工作区；以后用 bidui gc 时保留更长的天数。',
      });
    }
  }
  const staging = beginOutput(out);
  try {
    const result = await writeReport(store, run, previousRunId, staging, options);
    const manifest = await writeManifest(store, run, result.rules, result.result, maskIds, path.join(staging, 'manifest.json'), options.encrypt);
    commitOutput(staging, out);
    failpoint('report:after-swap');
    if (options.recordManifest !== false) {
      await inTransaction(conn, 'report: delivered', async () => {
        await runStep(conn, 'report: keep manifest', 'DELETE FROM report_manifest WHERE run_id = $run AND masked = $masked', { run: runId, masked: maskIds });
        await runStep(conn, 'report: keep manifest', 'INSERT INTO report_manifest VALUES ($run, $masked, $json)', { run: runId, masked: maskIds, json: manifest });
        await runStep(conn, 'report: delivered', 'INSERT INTO report_delivery VALUES ($run, $masked, $out, now()::TIMESTAMP)', { run: runId, masked: maskIds, out: path.resolve(out) });
      });
    }
    let passwordsFile: string | undefined;
    if (options.encrypt && options.recordManifest !== false) passwordsFile = writePasswordsFile(store, result.passwords, options.encrypt.round, path.resolve(out));
    progress.done();
    log().info({ runId, files: result.result.files.length + 1, townships: result.result.townships.length }, 'report written');
    return { ...result.result, out: path.resolve(out), files: result.result.files.map((f) => path.join(path.resolve(out), path.relative(staging, f))), passwordsFile };
  } catch (error) {
    abandonOutput(staging);
    throw error;
  }
}

/** Every output file of a run into `out` (the staging folder), the manifest excepted. */
async function writeReport(store: Store, run: RunRow, previousRunId: number | undefined, out: string, options: ReportOptions): Promise<{ result: ReportResult; rules: RunRuleRow[]; passwords: TownshipPassword[] }> {
  const { conn } = store;
  const { runId, maskIds, progress } = options;
  progress.step(`生成运行 ${runId} 的报告…`);
  await createSnapshotViews(store, JSON.parse(run.snapshots_json) as Partial<Record<DatasetName, number>>, run.as_of);
  const tables = options.tables ?? STORE_TABLES;
  await prepareTables(store, run, previousRunId, maskIds, tables);
  const rules = await loadRunRules(store, runId, tables.runRule);

  const files: string[] = [];
  const setting = listSettings(run).analystWorkbooks;
  const [{ n: evidenceRows }] = (await queryStep<{ n: string }>(conn, 'report: evidence rows', 'SELECT count(*) AS n FROM r_evidence')) as [{ n: string }];
  const analyst: AnalystTwins = { setting, evidenceRows: Number(evidenceRows), written: setting === true || (setting === 'auto' && Number(evidenceRows) <= analystAutoMaxRows()) };

  progress.step('生成乡镇清单…');
  failpoint('report:townships');
  const pool = new WorkbookPool();
  let townships: Awaited<ReturnType<typeof writeTownshipLists>>;
  // The XLSX twins of evidence.csv and leads.csv (IDs as text cells), on the same threads.
  let twinJobs: Promise<void>[] = [];
  let twinFiles: string[] = [];
  try {
    townships = await writeTownshipLists(store, run, rules, path.join(out, 'townships'), options.encrypt, pool, listSettings(run).monitoringVerificationDays);
    // While the worker threads write the workbooks, this thread and DuckDB do the rest: the
    // analyst CSVs (then their XLSX twins, when written), the quality workbooks, the summary.
    progress.step('写证据表和线索表…');
    for (const csv of analystCsvs(maskIds)) {
      const file = path.join(out, csv.file);
      await copyCsv(conn, `report: ${csv.file}`, csv.columns, csv.from, csv.orderBy, file);
      files.push(file);
    }
    const twins = analyst.written ? ANALYST_TWINS.map((t) => ({ ...t, csvFile: path.join(out, t.csv), file: path.join(out, t.xlsx) })) : [];
    twinJobs = twins.map((t) => pool.write({ kind: 'table', csvFile: t.csvFile, file: t.file, sheet: t.sheet, widths: t.widths, numeric: t.numeric }));
    for (const j of twinJobs) j.catch(() => {}); // observed by Promise.all below
    twinFiles = twins.map((t) => t.file);
    // The datasets' quality (the summary shows it; quality/ holds workbooks only of datasets with rejects or warnings).
    progress.step('汇总数据质量…');
    const quality = await datasetQuality(store, JSON.parse(run.snapshots_json) as Partial<Record<DatasetName, number>>, run.as_of);
    files.push(...(await writeQualityWorkbooks(store, quality, maskIds, path.join(out, 'quality'))));
    progress.step('生成汇总页…');
    files.push(await writeSummary(store, run, rules, previousRunId, quality, analyst, path.join(out, 'summary.html')));
    progress.step('写完乡镇清单…');
    await townships.written;
    await Promise.all(twinJobs);
    files.push(...twinFiles);
  } finally {
    await pool.close();
  }
  files.push(...townships.files);

  const counts = await queryStep<{ category: string; n: string; new: string; continuing: string; withheld: string }>(conn, 'report: counts',
    `SELECT category, count(*) AS n, count(*) FILTER (WHERE status = '新增') AS new, count(*) FILTER (WHERE status = '持续') AS continuing,
            count(*) FILTER (WHERE status = '已核实不属实') AS withheld FROM r_lead GROUP BY category`);
  const [{ resolved }] = (await queryStep<{ resolved: string }>(conn, 'report: resolved count', 'SELECT count(*) AS resolved FROM r_resolved')) as [{ resolved: string }];
  const leads = Object.fromEntries(CATEGORIES.map((c) => [c, Number(counts.find((x) => x.category === c)?.n ?? 0)]));
  const result: ReportResult = {
    out,
    files,
    townships: townships.names,
    leads,
    newLeads: counts.reduce((s, c) => s + Number(c.new), 0),
    continuing: counts.reduce((s, c) => s + Number(c.continuing), 0),
    resolved: Number(resolved),
    previousRunId,
    encrypted: Boolean(options.encrypt),
    withheld: counts.reduce((s, c) => s + Number(c.withheld), 0),
    analystTwinsSkipped: !analyst.written && analyst.setting === 'auto' ? analyst.evidenceRows : undefined,
  };
  return { result, rules, passwords: townships.passwords };
}

/**
 * The townships' open passwords, for the office to send by another channel than the workbooks:
 * a CSV (UTF-8 with BOM) in the workspace, owner-only, never in the output folder that travels.
 * The same file every night of a password round.
 */
function writePasswordsFile(store: Store, passwords: TownshipPassword[], round: number, out: string): string {
  const dir = path.join(store.ws.dir, 'passwords');
  privateDir(dir);
  const file = path.join(dir, `township-passwords-round-${round}.csv`);
  const rows = [['乡镇', '工作簿', '打开密码', '密码轮次', '输出目录'], ...passwords.map((p) => [p.township, p.file, p.password, String(round), out])];
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `\uFEFF${stringify(rows)}`, { mode: 0o600 });
  fs.renameSync(temp, file);
  return file;
}

/**
 * When a run stops at the quality gate: the rejected rows and warnings of the newest snapshots,
 * written whole to `<out>/quality-gate/` (the previous report in `out` stays as it was). Returns
 * the files written, at their final paths.
 */
export async function writeGateWorkbooks(store: Store, out: string, asOf: string, maskIds: boolean): Promise<{ dir: string; files: string[] }> {
  checkOutputDir(out);
  recoverOutputDir(out);
  if (!fs.existsSync(out)) {
    const staging = beginOutput(out);
    commitOutput(staging, out);
  }
  const dir = path.join(path.resolve(out), 'quality-gate');
  const staging = beginOutput(dir);
  try {
    const files = await writeQualityWorkbooks(store, await datasetQuality(store, await newestSnapshots(store), asOf), maskIds, staging);
    commitOutput(staging, dir);
    return { dir, files: files.map((f) => path.join(dir, path.relative(staging, f))) };
  } catch (error) {
    abandonOutput(staging);
    throw error;
  }
}

/**
 * A report moved into place whose delivery was not recorded (the process was killed between the
 * two): found by its manifest in `out` — the same run, started at the same moment with the same
 * configuration — and recorded now, before the next run chooses its baseline.
 */
export async function repairDelivery(store: Store, out: string): Promise<number | undefined> {
  let manifest: { run_id?: unknown; run_started_at?: unknown; config_hash?: unknown; ids_masked?: unknown };
  let text: string;
  try {
    text = fs.readFileSync(path.join(out, 'manifest.json'), 'utf8');
    manifest = JSON.parse(text) as typeof manifest;
  } catch {
    return undefined;
  }
  if (typeof manifest.run_id !== 'number' || typeof manifest.ids_masked !== 'boolean') return undefined;
  const [run] = await queryStep<{ started_at: string; config_hash: string; delivered: boolean }>(store.conn, 'report: delivered?',
    `SELECT started_at, config_hash, EXISTS (SELECT 1 FROM report_delivery d WHERE d.run_id = r.run_id AND d.masked = $masked) AS delivered
     FROM run r WHERE run_id = $run`, { run: manifest.run_id, masked: manifest.ids_masked });
  if (!run || run.delivered || run.started_at !== manifest.run_started_at || run.config_hash !== manifest.config_hash) return undefined;
  const runId = manifest.run_id;
  const masked = manifest.ids_masked;
  await inTransaction(store.conn, 'report: delivery found', async () => {
    await runStep(store.conn, 'report: keep manifest', 'DELETE FROM report_manifest WHERE run_id = $run AND masked = $masked', { run: runId, masked });
    await runStep(store.conn, 'report: keep manifest', 'INSERT INTO report_manifest VALUES ($run, $masked, $json)', { run: runId, masked, json: text });
    await runStep(store.conn, 'report: delivered', 'INSERT INTO report_delivery VALUES ($run, $masked, $out, now()::TIMESTAMP)', { run: runId, masked, out: path.resolve(out) });
  });
  log().warn({ runId }, 'delivery of a report already in place recorded');
  return runId;
}
