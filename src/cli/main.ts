import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT, StepError, UserError, redact } from '../core/errors.js';
import { log } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { queryStep } from '../core/sql.js';
import { releaseCachedBlocks } from '../core/store.js';
import { DATASET_NAMES, isDatasetName } from '../ingest/datasets.js';
import { datasetGuess, datasetLabel } from '../config/config-errors.js';
import { ingest } from '../ingest/ingest.js';
import { printGateNote, printIngestReport } from './ingest-report.js';
export { printIngestReport } from './ingest-report.js';
import { match, type RunResult } from '../match/match.js';
import { repairDelivery, report, writeGateWorkbooks, type ReportResult } from '../report/report.js';
import { importFeedback } from '../audit/feedback.js';
import { gc, type GcResult } from '../audit/gc.js';
import readline from 'node:readline/promises';
import { rerun, verify } from '../audit/rerun.js';
import { CATEGORIES } from '../rules/catalogue.js';
import type { Config } from '../config/config.js';
import { BIDUI_VERSION } from '../version.js';
import { formatLocal, localDate } from '../core/time.js';
import { diskFullError, isDiskFull, noteFolders } from '../core/disk.js';
import { checkOutputDir } from '../report/output-dir.js';
import { isInside } from '../core/files.js';
import { withStore } from './context.js';
import { table } from './format.js';
import { prepareDemo } from './demo.js';
import { registerFixturesCommands } from './fixtures-commands.js';

/** Commander's "(Did you mean …?)" in Chinese. */
function didYouMean(message: string): string {
  return message
    .replace(/\s*\(Did you mean one of (.*)\?\)$/s, (_, list: string) => `（是不是：${list.split(', ').join('、')}？）`)
    .replace(/\s*\(Did you mean (.*)\?\)$/s, (_, one: string) => `（是不是 ${one}？）`);
}

const COMMANDER_ZH: Record<string, (e: CommanderError) => string> = {
  'commander.unknownOption': (e) => `未知的选项：${didYouMean(e.message.replace(/^error: unknown option /, ''))}`,
  'commander.unknownCommand': (e) => `未知的命令：${didYouMean(e.message.replace(/^error: unknown command /, ''))}`,
  'commander.missingMandatoryOptionValue': (e) => `缺少必需的选项：${e.message.replace(/^error: required option /, '').replace(/ not specified$/, '')}`,
  'commander.optionMissingArgument': (e) => `选项缺少取值：${e.message.replace(/^error: option /, '').replace(/ argument missing$/, '')}`,
  'commander.missingArgument': (e) => `缺少参数：${e.message.replace(/^error: missing required argument /, '')}`,
  'commander.excessArguments': () => '参数过多',
  'commander.invalidArgument': (e) => {
    const m = /option '([^' ]+)[^']*' argument '([^']*)' is invalid\. Allowed choices are (.*)\.$/.exec(e.message);
    return m ? `选项 ${m[1]} 的取值「${m[2]}」无效，可用的值：${m[3]!.split(', ').join('、')}` : `参数取值无效：${e.message.replace(/^error: /, '')}`;
  },
};

/** An as-of date as written: YYYY-MM-DD and a real date (the default and the future: resolveAsOf). */
export function parseAsOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== value) {
    throw new UserError('E_USAGE', `比对日期「${value}」无效`, { hint: '写成 YYYY-MM-DD，例如 --as-of 2020-06-30。' });
  }
  return value;
}

/**
 * The as-of date of a run: as given, or today in the office's time zone. A date after today is
 * refused unless allowFuture (a typo such as 2062 would make every age and window wrong).
 */
export function resolveAsOf(value: string | undefined, config: Config, allowFuture: boolean): string {
  const today = localDate(config.timeZone);
  if (value === undefined) return today;
  if (value > today && !allowFuture) {
    throw new UserError('E_FUTURE_DATE', `比对日期 ${value} 在今天（${today}，时区 ${config.timeZone}）之后`, {
      hint: '比对日期应是今天或过去的某一天；如果确实要按将来的日期比对，加上 --allow-future。',
    });
  }
  return value;
}

const ALLOW_FUTURE_HELP = '允许比对日期晚于今天';

const ACCEPT_REJECTS_HELP = '某数据集拒收行的比例超过上限（quality.maxRejectedShare，默认 1%）时仍继续比对（运行会记录这一点）';

const OUTCOME_ZH: Record<string, string> = { Success: '已执行', NotExecuted: '未执行', Error: '出错' };

function parseDataAsOf(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return parseAsOf(value)!;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) && !Number.isNaN(Date.parse(`${value}Z`))) return value;
  throw new UserError('E_USAGE', `数据时间「${value}」无效`, { hint: '写成 YYYY-MM-DD（当天结束时）或 YYYY-MM-DDTHH:MM[:SS]（办公室所在时区，配置 timeZone），例如 --data-as-of 2020-07-01。' });
}

function parseRunId(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new UserError('E_USAGE', `运行编号「${value}」无效`, { hint: '运行编号是正整数，用 bidui runs 查看。' });
  return Number(value);
}

/** The output folder, noted for a disk-full message. */
function noteOut(dir: string): string {
  noteFolders({ out: dir });
  return dir;
}

/**
 * The output folder of a command: --out, else output.dir. Never the workspace, inside it, or
 * around it (a report replaces its folder whole). Checked before any work (checkOutputDir).
 */
function outDir(option: string | undefined, config: Config): string {
  if (option !== undefined && option.trim() === '') throw new UserError('E_USAGE', '--out 的取值是空的', { hint: '写明输出目录，例如 --out ./out；不写 --out 时使用配置中的 output.dir。' });
  const dir = option !== undefined ? path.resolve(option) : config.output.dir;
  if (!dir) throw new UserError('E_USAGE', '没有指定输出目录', { hint: '用 --out 指定，或在配置文件中设置 output.dir。' });
  if (isInside(dir, config.workspace) || isInside(config.workspace, dir)) {
    throw new UserError('E_OUT_DIR', `输出目录不能在工作区里面，也不能包含工作区：${dir}`, { hint: '输出目录每次会被整体替换：另选一个与工作区分开的目录，例如 ./out。' });
  }
  checkOutputDir(dir);
  return noteOut(dir);
}

export function printReportResult(result: ReportResult, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`\n报告已写入：${result.out}\n`);
  out.write(`  汇总页：${path.join(result.out, 'summary.html')}\n`);
  if (result.encrypted) {
    out.write(`  乡镇清单：${path.join(result.out, 'townships')}（${result.townships.length} 个乡镇，每个乡镇一个加了打开密码的 .xlsx）\n`);
    if (result.passwordsFile) out.write(`  各乡镇的打开密码：${result.passwordsFile}（只有本机用户可读；请通过与清单不同的渠道告知乡镇，例如电话）\n`);
  } else {
    out.write(`  乡镇清单：${path.join(result.out, 'townships')}（${result.townships.length} 个乡镇，每个乡镇一个 .xlsx 和一个 .csv）\n`);
  }
  const twins = result.files.some((f) => path.basename(f) === 'evidence.xlsx');
  out.write(`  证据表：evidence.csv${twins ? '（及 evidence.xlsx）' : ''}；线索表：leads.csv${twins ? '（及 leads.xlsx）' : ''}；已消失线索：resolved.csv；清单：manifest.json\n`);
  if (!twins && result.analystTwinsSkipped) out.write(`  证据表行数较多（${result.analystTwinsSkipped.toLocaleString('en-US')} 行，超过自动生成上限），未生成 evidence.xlsx、leads.xlsx；如需生成，请在配置中将 output.analystWorkbooks 设为 true\n`);
  out.write(`  线索：${Object.entries(result.leads).map(([c, n]) => `${c} ${n}`).join('，')}；${result.previousRunId === undefined ? '没有比较基准（此前没有交付过报告的每晚运行），全部为新增' : `与运行 ${result.previousRunId} 相比：新增 ${result.newLeads}，持续 ${result.continuing}，已消失 ${result.resolved}`}${result.withheld ? `；已核实不属实、不再下发 ${result.withheld}` : ''}\n`);
}

function printGcPlan(plan: GcResult, timeZone: string, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${table(['运行', '比对日期', '完成时间', '处理', '原因'], plan.runs.map((r) => [r.runId, r.asOf, formatLocal(r.finishedAt, timeZone), r.keep ? '保留' : '删除', r.reason ?? '超过保留天数']))}\n`);
  out.write(`${table(['快照', '数据集', '导入时间', '处理', '原因'], plan.snapshots.map((s) => [s.snapshotId, s.dataset, formatLocal(s.createdAt, timeZone), s.keep ? '保留' : '删除', s.reason ?? '超过保留天数，没有保留的运行使用']))}\n`);
}

export function printRunResult(result: RunResult, out: NodeJS.WritableStream = process.stdout): void {
  const purpose = result.purpose === 'nightly' ? '每晚运行' : `分析运行${result.analysisBecause ? `（${result.analysisBecause}）` : ''}，不作为以后运行的比较基准`;
  out.write(`运行 ${result.runId}，比对日期 ${result.asOf}，${purpose}；比较基准：${result.baselineRunId === undefined ? '无' : `运行 ${result.baselineRunId}`}\n`);
  for (const note of result.notes) out.write(`注意：${note}\n`);
  out.write(`${table(['规则', '类别', '名称', '结果', '线索户数', '证据条数', '说明'], result.rules.map((r) => [r.id, r.category, r.title, OUTCOME_ZH[r.outcome] ?? r.outcome, r.leads, r.evidence, r.reason ?? '']))}\n`);
  out.write(`线索合计 ${result.leads} 条：${Object.entries(result.leadsByCategory).map(([c, n]) => `${c} ${n}`).join('，')}\n`);
}

/** A run with a rule in Error is recorded but incomplete: say so and exit as an internal error. */
function failIfPartial(result: RunResult): void {
  if (result.status === 'complete') return;
  throw new UserError('E_RULE_FAILED', `有规则执行出错，本次运行（${result.runId}）不完整`, {
    hint: '查看上表中结果为「出错」的规则；这通常是 bidui 的缺陷，请把工作区 logs/bidui.log 发给维护者。',
    exitCode: EXIT.internal,
  });
}

/** The nightly job (bidui run, bidui demo): ingest what changed, match, report, under one lock. */
async function nightly(configFile: string, command: string, opts: { asOf: string | undefined; allowFuture: boolean; out: string | undefined; maskIds: boolean; acceptRejects: boolean; progress: ReturnType<typeof createProgress> }): Promise<void> {
  const { progress } = opts;
  const { ingested, result, written } = await withStore(configFile, command, { lock: true }, async (store, config) => {
    const out = outDir(opts.out, config);
    const asOf = resolveAsOf(opts.asOf, config, opts.allowFuture);
    // Last night's report in place but its delivery not recorded (killed between the two).
    await repairDelivery(store, out);
    const ingested = await ingest(store, config, { progress, asOf });
    await releaseCachedBlocks(store);
    let result: RunResult;
    try {
      result = await match(store, config, { intent: 'nightly', asOf, progress, acceptRejects: opts.acceptRejects });
    } catch (error) {
      if (!(error instanceof UserError) || error.code !== 'E_QUALITY_GATE') throw error;
      // Stopped at the quality gate: what was loaded is committed and explains the stop, and the
      // rejected rows go where the office can send them back to the department.
      printIngestReport(ingested);
      const { dir, files } = await writeGateWorkbooks(store, out, asOf, opts.maskIds || config.output.maskIds);
      throw new UserError(error.code, `${error.message}\n拒收行和警告的明细（文件、行号、原值）已写入：${files.map((f) => path.basename(f)).join('、')}（${dir}），可发回有关部门核对。`, {
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
    const written = await report(store, { runId: result.runId, out, maskIds: opts.maskIds || config.output.maskIds, progress, encrypt: config.output.encrypt });
    return { ingested, result, written };
  });
  printIngestReport(ingested);
  process.stdout.write('\n');
  printRunResult(result);
  printGateNote(result.quality);
  printReportResult(written);
  failIfPartial(result);
}

/** The headings of commander's help. */
const HELP_TITLES_ZH: Record<string, string> = { 'Usage:': '用法：', 'Options:': '选项：', 'Commands:': '命令：', 'Arguments:': '参数：', 'Global Options:': '全局选项：' };

export function buildProgram(): Command {
  const program = new Command('bidui')
    .description('部门数据比对：把各部门登记数据与建档立卡名册按身份证号比对，生成漏评、错评、错退线索')
    .version(BIDUI_VERSION, '-V, --version', '显示版本号')
    // Help in Chinese, inherited by every command created below.
    .helpOption('-h, --help', '显示帮助')
    .helpCommand('help [command]', '显示某个命令的帮助')
    .configureHelp({
      styleTitle: (title: string) => HELP_TITLES_ZH[title] ?? title,
      styleUsage: (usage: string) => usage.replace('[options]', '[选项]').replace('[command]', '[命令]'),
      // Commander appends defaults in English: "(default: 1)" → "（默认 1）".
      styleOptionDescription: (text: string) => text.replace(/ \(default: (.*)\)$/, '（默认 $1）'),
    })
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .showHelpAfterError(false);

  program
    .command('ingest')
    .description('导入配置中各数据集的文件，每个数据集生成一个快照')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .option('--dataset <name>', '只导入这个数据集（与 FILE… 一起用）')
    .argument('[files...]', '与 --dataset 一起：要导入的文件（代替配置中的 files）')
    .option('--quiet', '不显示进度')
    .action(async (files: string[], opts: { config: string; dataset?: string; quiet?: boolean }) => {
      if (opts.dataset !== undefined && !isDatasetName(opts.dataset)) throw unknownDataset(opts.dataset);
      if (files.length > 0 && !opts.dataset) throw new UserError('E_USAGE', '给出了文件但没有用 --dataset 指明数据集', { hint: '例如：bidui ingest --config bidui.config.json --dataset roster 名册.xlsx' });
      if (opts.dataset && files.length === 0) throw new UserError('E_USAGE', '--dataset 需要同时给出要导入的文件', { hint: '例如：bidui ingest --config bidui.config.json --dataset roster 名册.xlsx' });
      const only = opts.dataset && isDatasetName(opts.dataset) ? { dataset: opts.dataset, files } : undefined;
      const report = await withStore(opts.config, 'ingest', { lock: true }, (store, config) =>
        ingest(store, config, { only, progress: createProgress(process.stderr, Boolean(opts.quiet)) }),
      );
      printIngestReport(report);
    });

  program
    .command('snapshots')
    .description('列出工作区中已导入的快照')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .option('--dataset <name>', '只列这个数据集')
    .action(async (opts: { config: string; dataset?: string }) => {
      if (opts.dataset !== undefined && !isDatasetName(opts.dataset)) throw unknownDataset(opts.dataset);
      const { rows, timeZone } = await withStore(opts.config, 'snapshots', { lock: false, existing: true }, async (store, config) => ({
        timeZone: config.timeZone,
        rows: await queryStep<Record<string, string | number>>(store.conn, 'list snapshots',
          `SELECT s.snapshot_id, s.dataset, s.created_at::VARCHAR AS created_at, s.files,
                  s.rows_read, s.rows_loaded, s.rows_rejected, s.rows_skipped, s.warnings, s.invalid_ids,
                  s.snapshot_id = max(s.snapshot_id) OVER (PARTITION BY s.dataset) AS newest
           FROM snapshot s WHERE $dataset IS NULL OR s.dataset = $dataset ORDER BY s.dataset, s.snapshot_id`,
          { dataset: opts.dataset ?? null }),
      }));
      if (rows.length === 0) {
        process.stdout.write('工作区中还没有快照：先运行 bidui ingest。\n');
        return;
      }
      process.stdout.write(`${table(
        ['快照', '数据集', '导入时间', '文件数', '读取行数', '导入行数', '拒收行数', '跳过行数', '警告', '无效证件号', '最新'],
        rows.map((r) => [Number(r.snapshot_id), String(r.dataset), formatLocal(String(r.created_at), timeZone), Number(r.files), Number(r.rows_read), Number(r.rows_loaded), Number(r.rows_rejected), Number(r.rows_skipped), Number(r.warnings), Number(r.invalid_ids), r.newest ? '是' : '']),
      )}\n`);
    });

  program
    .command('match')
    .description('按比对日期运行全部规则，生成线索（一次“运行”）')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .option('--as-of <date>', '比对日期 YYYY-MM-DD（默认今天，按配置的时区）')
    .option('--allow-future', ALLOW_FUTURE_HELP)
    .option('--data-as-of <time>', '使用当时已导入的数据（YYYY-MM-DD 表示当天结束时，或 YYYY-MM-DDTHH:MM[:SS]；按配置的时区）')
    .option('--accept-rejects', ACCEPT_REJECTS_HELP)
    .option('--quiet', '不显示进度')
    .action(async (opts: { config: string; asOf?: string; allowFuture?: boolean; dataAsOf?: string; acceptRejects?: boolean; quiet?: boolean }) => {
      const asOfArg = parseAsOf(opts.asOf);
      const dataAsOf = opts.dataAsOf === undefined ? undefined : parseDataAsOf(opts.dataAsOf);
      const result = await withStore(opts.config, 'match', { lock: true }, (store, config) =>
        match(store, config, {
          intent: 'analysis', asOf: resolveAsOf(asOfArg, config, Boolean(opts.allowFuture)), dataAsOf, acceptRejects: Boolean(opts.acceptRejects),
          progress: createProgress(process.stderr, Boolean(opts.quiet)),
        }),
      );
      printRunResult(result);
      printGateNote(result.quality);
      failIfPartial(result);
    });

  program
    .command('report')
    .description('把一次运行的结果写成乡镇清单、证据表、汇总页和清单文件（manifest）')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .requiredOption('--run <id>', '运行编号（bidui runs 可查）', (v) => parseRunId(v))
    .option('--out <dir>', '输出目录（默认：配置中的 output.dir）')
    .option('--mask-ids', '证件号码只保留前 6 位和后 4 位（用于发往乡镇以外）')
    .option('--quiet', '不显示进度')
    .action(async (opts: { config: string; run: number; out?: string; maskIds?: boolean; quiet?: boolean }) => {
      const result = await withStore(opts.config, 'report', { lock: true, existing: true }, (store, config) =>
        report(store, { runId: opts.run, out: outDir(opts.out, config), maskIds: Boolean(opts.maskIds || config.output.maskIds), progress: createProgress(process.stderr, Boolean(opts.quiet)), encrypt: config.output.encrypt }),
      );
      printReportResult(result);
    });

  program
    .command('run')
    .description('每晚运行的入口：导入有变化的文件、比对、生成报告')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .option('--as-of <date>', '比对日期 YYYY-MM-DD（默认今天，按配置的时区）')
    .option('--allow-future', ALLOW_FUTURE_HELP)
    .option('--out <dir>', '输出目录（默认：配置中的 output.dir）')
    .option('--mask-ids', '证件号码只保留前 6 位和后 4 位')
    .option('--accept-rejects', ACCEPT_REJECTS_HELP)
    .option('--quiet', '不显示进度')
    .action(async (opts: { config: string; asOf?: string; allowFuture?: boolean; out?: string; maskIds?: boolean; acceptRejects?: boolean; quiet?: boolean }) => {
      await nightly(opts.config, 'run', {
        asOf: parseAsOf(opts.asOf), allowFuture: Boolean(opts.allowFuture), out: opts.out, maskIds: Boolean(opts.maskIds), acceptRejects: Boolean(opts.acceptRejects),
        progress: createProgress(process.stderr, Boolean(opts.quiet)),
      });
    });

  program
    .command('rerun')
    .description('按一次过去运行记录的数据快照、规则和参数重新计算，输出与当时逐字节一致的文件')
    .argument('<run>', '运行编号', (v) => parseRunId(v))
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .requiredOption('--out <dir>', '输出目录')
    .option('--mask-ids', '证件号码只保留前 6 位和后 4 位（与当时的报告一致时才可比）')
    .option('--quiet', '不显示进度')
    .action(async (runId: number, opts: { config: string; out: string; maskIds?: boolean; quiet?: boolean }) => {
      const result = await withStore(opts.config, 'rerun', { lock: true, existing: true }, (store, config) =>
        rerun(store, runId, outDir(opts.out, config), Boolean(opts.maskIds), createProgress(process.stderr, Boolean(opts.quiet))),
      );
      printReportResult(result);
    });

  program
    .command('verify')
    .description('重新计算一次过去的运行，逐项核对线索、证据和当时输出文件的 SHA-256')
    .argument('<run>', '运行编号', (v) => parseRunId(v))
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .option('--quiet', '不显示进度')
    .action(async (runId: number, opts: { config: string; quiet?: boolean }) => {
      const result = await withStore(opts.config, 'verify', { lock: true, existing: true }, (store) => verify(store, runId, createProgress(process.stderr, Boolean(opts.quiet))));
      process.stdout.write(`${table(['核对项', '结果', '说明'], result.checks.map((c) => [c.item, c.ok ? '一致' : '不一致', c.detail]))}\n`);
      if (result.versionNote) process.stdout.write(`注意：${result.versionNote}\n`);
      if (!result.ok) {
        throw new UserError('E_VERIFY_MISMATCH', `运行 ${runId} 重新计算的结果与记录不一致（见上表）`, { hint: '确认工作区没有被改动过；如果程序版本不同，请用当时的版本核对。', exitCode: EXIT.mismatch });
      }
      process.stdout.write(result.filesChecked > 0
        ? `运行 ${runId} 核对通过：重新计算的线索和证据与记录一致，${result.filesChecked} 个输出文件与当时的输出逐字节一致。\n`
        : `运行 ${runId} 的线索和证据与记录一致；没有可核对的输出文件，因此无法确认当时交付的文件逐字节一致。\n`);
    });

  program
    .command('gc')
    .description('清理过期的运行和数据快照（保留仍被保留运行使用的快照）')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .requiredOption('--keep-days <n>', '保留最近多少天的运行和快照', (v) => {
      if (!/^[0-9]+$/.test(v)) throw new UserError('E_USAGE', `--keep-days「${v}」无效`, { hint: '写一个非负整数，例如 --keep-days 365。' });
      return Number(v);
    })
    .option('--dry-run', '只列出将删除和保留的运行、快照及原因，不做删除')
    .option('--yes', '在终端上运行时也不再询问确认')
    .action(async (opts: { config: string; keepDays: number; dryRun?: boolean; yes?: boolean }) => {
      const ask = !opts.dryRun && !opts.yes && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const r = await withStore(opts.config, 'gc', { lock: true, existing: true }, (store, config) => gc(store, opts.keepDays, {
        dryRun: Boolean(opts.dryRun),
        ...(ask ? { confirm: async (plan: GcResult) => {
          printGcPlan(plan, config.timeZone);
          const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
          try {
            return /^(y|yes|是)$/i.test((await rl.question(`确认删除以上 ${plan.runsRemoved} 次运行和 ${plan.snapshotsRemoved} 个快照（${plan.rowsRemoved} 行数据）？输入 y 确认：`)).trim());
          } finally {
            rl.close();
          }
        } } : {}),
      }).then((result) => ({ result, timeZone: config.timeZone })));
      const { result, timeZone } = r;
      if (result.dryRun) {
        printGcPlan(result, timeZone);
        process.stdout.write(`试运行（--dry-run）：将删除运行 ${result.runsRemoved} 次、数据快照 ${result.snapshotsRemoved} 个、数据行 ${result.rowsRemoved} 行；什么都没有删除。\n`);
      } else if (!result.done) {
        process.stdout.write('已取消，什么都没有删除。\n');
      } else {
        if (!ask) printGcPlan(result, timeZone);
        process.stdout.write(`已清理：运行 ${result.runsRemoved} 次，数据快照 ${result.snapshotsRemoved} 个，数据行 ${result.rowsRemoved} 行。保留：运行 ${result.runsKept} 次，快照 ${result.snapshotsKept} 个。\n`);
      }
    });

  const feedback = program.command('feedback').description('乡镇核实结果');
  feedback
    .command('import')
    .description('导入乡镇填好“核实结果”“核实说明”的清单（.xlsx 或 .csv）')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .argument('<files...>', '乡镇清单文件')
    .action(async (files: string[], opts: { config: string }) => {
      const result = await withStore(opts.config, 'feedback import', { lock: true, existing: true }, (store, config) => importFeedback(store, files, config.output.encrypt?.round ?? 1));
      process.stdout.write(`${table(['文件', '结果', '已答复', '未答复'], result.files.map((f) => (f.status === 'imported'
        ? [path.basename(f.file), '已导入', f.answered, f.unanswered]
        : [path.basename(f.file), '以前已导入过（内容相同），这次没有再导入', '', ''])))}\n`);
      for (const note of result.notes) process.stdout.write(`注意：${note}\n`);
    });

  program
    .command('runs')
    .description('列出工作区中的运行')
    .requiredOption('--config <file>', '配置文件 bidui.config.json')
    .action(async (opts: { config: string }) => {
      const { rows, timeZone } = await withStore(opts.config, 'runs', { lock: false, existing: true }, async (store, config) => ({
        timeZone: config.timeZone,
        rows: await queryStep<Record<string, string | number | null>>(store.conn, 'list runs',
          `SELECT run_id, as_of::VARCHAR AS as_of, data_as_of::VARCHAR AS data_as_of, finished_at::VARCHAR AS finished, status, purpose, baseline_run_id,
                  (SELECT min(delivered_at) FROM report_delivery d WHERE d.run_id = r.run_id)::VARCHAR AS delivered,
                  snapshots_json, leads_by_category FROM run r ORDER BY run_id`),
      }));
      if (rows.length === 0) {
        process.stdout.write('工作区中还没有运行：先运行 bidui match 或 bidui run。\n');
        return;
      }
      process.stdout.write(`${table(['运行', '比对日期', '性质', '完成时间', '状态', '报告', '比较基准', '数据', ...CATEGORIES], rows.map((r) => {
        const counts = JSON.parse(String(r.leads_by_category)) as Record<string, number>;
        const snaps = Object.entries(JSON.parse(String(r.snapshots_json)) as Record<string, number>).map(([d, id]) => `${d}:${id}`).join(' ');
        return [
          Number(r.run_id), String(r.as_of), r.purpose === 'nightly' ? '每晚' : '分析', formatLocal(String(r.finished), timeZone), r.status === 'complete' ? '完整' : '不完整',
          r.delivered ? `已交付 ${formatLocal(String(r.delivered), timeZone)}` : '未交付', r.baseline_run_id === null ? '' : `运行 ${r.baseline_run_id}`,
          `${r.data_as_of ? `截至 ${formatLocal(String(r.data_as_of), timeZone, { seconds: true })}：` : ''}${snaps}`, ...CATEGORIES.map((c) => counts[c] ?? 0),
        ];
      }))}\n`);
      process.stdout.write('性质：每晚 = bidui run 在最新数据上的运行；分析 = bidui match、--data-as-of 或比对日期早于上次交付的每晚运行。比较基准：新增、持续、已消失与之比较的运行（此前最近一次交付了报告的每晚运行）。\n');
    });

  program
    .command('demo')
    .description('用内置的演示县（fixtures/demo）在一个新的工作区里完整运行一遍')
    .option('--out <dir>', '演示输出目录', 'bidui-demo')
    .action(async (opts: { out: string }) => {
      const out = path.resolve(opts.out);
      const { configFile, asOf } = prepareDemo(out);
      await nightly(configFile, 'demo', { asOf, allowFuture: false, out: undefined, maskIds: false, acceptRejects: false, progress: createProgress(process.stderr, false) });
      process.stdout.write(`\n演示县（镇远县合成数据）已比对完毕，比对日期 ${asOf}。\n配置文件：${configFile}\n工作区：${path.join(out, 'workspace')}\n`);
    });

  registerFixturesCommands(program);
  return program;
}

/**
 * The one place that turns failures into messages and exit codes (README "Exit codes"): 0 done;
 * 2 bad input, configuration or usage, a full disk; 3 the workspace is in use; 4 verify found a
 * difference; 70 a bug in bidui. Anything that escapes (an error in a callback or a stream) goes
 * the same way, never Node's default exit 1; 'exit' handlers release the lock and temp files.
 */
export async function main(argv: string[]): Promise<number> {
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.on(event, (error: unknown) => process.exit(reportFailure(error)));
  }
  // Output cut off by the reader (bidui … | head): the job goes on to its end, silently, and
  // exits with its own code (a nightly run piped into head must still be recorded and written).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') return;
      (stream as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
        const done = args.find((a) => typeof a === 'function') as (() => void) | undefined;
        done?.();
        return true;
      };
    });
  }
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error);
  }
}

/** Errors of the machine, not of bidui: a path that cannot be read or written. */
const ACCESS_ZH: Record<string, string> = {
  EACCES: '没有权限', EPERM: '操作不被允许', EROFS: '磁盘是只读的', ENOTDIR: '路径中有一段不是目录', EISDIR: '这是一个目录，不是文件',
  ELOOP: '符号链接循环', ENAMETOOLONG: '路径太长', EMFILE: '打开的文件过多', ENFILE: '打开的文件过多', EBUSY: '文件正被占用',
};

function accessError(error: unknown): UserError | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  const why = e && typeof e.code === 'string' ? ACCESS_ZH[e.code] : undefined;
  if (!why) return undefined;
  return new UserError('E_ACCESS', `无法访问${e!.path ? ` ${e!.path}` : '文件或目录'}（${why}）`, {
    hint: '检查该文件或目录的权限、是否存在、磁盘是否可写；bidui 以运行它的用户身份读写文件。',
  });
}

function reportFailure(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
    const zh = COMMANDER_ZH[error.code];
    process.stderr.write(`错误 [E_USAGE]：${zh ? zh(error) : error.message}\n运行 bidui --help 查看用法。\n`);
    return EXIT.badInput;
  }
  if (error instanceof UserError) {
    process.stderr.write(`${error.format()}\n`);
    return error.exitCode;
  }
  if (isDiskFull(error)) {
    log().error({ error: redact(error instanceof Error ? error.message : String(error)) }, 'disk full');
    process.stderr.write(`${diskFullError(error).format()}\n`);
    return EXIT.badInput;
  }
  const access = accessError(error);
  if (access) {
    process.stderr.write(`${access.format()}\n`);
    return access.exitCode;
  }
  // The engine's message can quote a value of the data: it is redacted on the terminal too.
  const detail = redact(error instanceof StepError ? `step "${error.step}" failed: ${error.message}` : error instanceof Error ? (error.stack ?? error.message) : String(error));
  log().fatal({ error: redact(error instanceof Error ? error.message : String(error)) }, 'internal error');
  process.stderr.write(`内部错误：这是 bidui 的缺陷，不是您的数据或操作问题。请把以下信息和工作区 logs/bidui.log 发给维护者。\n${detail}\n`);
  return EXIT.internal;
}

/** An unknown dataset name given on the command line: the nearest known one, and all with their Chinese labels. */
function unknownDataset(name: string): UserError {
  // A Chinese label (户籍, 低保) points at its dataset too.
  const guess = datasetGuess(name);
  return new UserError('E_USAGE', `没有名为「${name}」的数据集${guess ? `，是不是 ${datasetLabel(guess)}？` : ''}`, { hint: `可用的数据集：${DATASET_NAMES.map(datasetLabel).join('、')}。` });
}
