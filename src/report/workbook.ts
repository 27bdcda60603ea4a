import fs from 'node:fs';
import type ExcelJSNamespace from 'exceljs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { stringify } from 'csv-stringify/sync';
import { encryptWorkbook } from '../core/office-crypto.js';
import { type TableJob, writeTableWorkbook } from './analyst-workbook.js';
import { createDeterministicWorkbookWriter, finishDeterministicWorkbook } from '../core/xlsx-write.js';
import { CATEGORIES } from '../rules/catalogue.js';
import { columnLetter } from '../ingest/headers.js';
import { ANSWERS, answersFor, type Column, completeListRows, csvSafe, MONITORING_ANSWERS, wrappedLines } from './list-format.js';
import { SHEET_DATA_ROWS } from './sheet-limit.js';
import type { ListRow } from './township.js';

/**
 * Township workbooks and their CSV twins are independent and CPU-bound (exceljs serialising XML),
 * so they are written on worker threads, one per core. The same function runs in a worker or, when the compiled
 * worker file is not there (tests running the TypeScript sources), in this thread: same bytes.
 */
export interface WorkbookJob {
  file: string;
  /** The CSV twin (UTF-8 with BOM, so Excel and WPS open it without garbling); none when encrypted. */
  csvFile: string | undefined;
  /** An open password on the workbook (core/office-crypto.ts). */
  encrypt?: { password: string; seed: string } | undefined;
  township: string;
  /** The workspace's public mark (list-format.ts workspaceMark), shown in 说明. */
  workspaceMark: string;
  asOf: string;
  runId: number;
  rules: { rule_id: string; category: string; title: string; explain: string; outcome: string; reason: string | null }[];
  columns: Column[];
  /** The township's rows of r_list as a JSON array (township.ts), finished here by completeListRows. */
  rowsJson: string;
  /** The workspace secret (hex), for the rows' checksums. */
  secretHex: string;
  /** Days to verify a 监测预警 lead (output.monitoringVerificationDays), stated in 说明. */
  monitoringVerificationDays?: number;
}

/**
 * The height of one line of wrapped text, in points. Excel's Calibri 11 needs 15; LibreOffice
 * with a CJK font (Noto Sans CJK) needs up to 17 for lines of Chinese (measured: its optimal
 * row heights on the demo's lists were up to 1.14 × 15), so rows are sized for the larger.
 */
const LINE_POINTS = 17.5;

export async function writeWorkbook(job: WorkbookJob): Promise<void> {
  const { file, township, rules, columns } = job;
  const rows = completeListRows(JSON.parse(job.rowsJson) as ListRow[], township, Buffer.from(job.secretHex, 'hex'), rules);
  if (job.csvFile) writeCsvTwin(job.csvFile, township, rows, columns);
  const wb = createDeterministicWorkbookWriter(file);
  wb.creator = 'bidui';
  const answerColumn = columns.findIndex((c) => c.key === 'verify_result');
  const wrapped = columns.filter((c) => c.wrap);
  // A category with more leads than a worksheet holds continues on 漏评 (2), 漏评 (3) …
  const limit = SHEET_DATA_ROWS();
  const parts: { category: string; sheet: string; rows: ListRow[] }[] = [];
  for (const category of CATEGORIES) {
    const mine = rows.filter((r) => r.category === category);
    for (let i = 0; i === 0 || i * limit < mine.length; i++) parts.push({ category, sheet: i === 0 ? category : `${category} (${i + 1})`, rows: mine.slice(i * limit, (i + 1) * limit) });
  }
  for (const { category, sheet, rows: sheetRows } of parts) {
    const count = sheetRows.length;
    const ws = wb.addWorksheet(sheet, {
      views: [{ state: 'frozen', ySplit: 1 }],
      // Printing: A4 landscape, every column on one page wide (as many pages tall as needed),
      // the header row on every page, page numbers in the footer.
      pageSetup: {
        paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '1:1',
        margins: { left: 0.4, right: 0.4, top: 0.5, bottom: 0.5, header: 0.3, footer: 0.3 },
      },
      headerFooter: { oddHeader: `&L${township} ${category}线索&R比对日期 ${job.asOf}`, oddFooter: '&C第 &P 页，共 &N 页' },
    });
    // Thin borders, so that rows can be followed on paper; 优先级 centred, apart from 村.
    const border = { top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } } as const;
    ws.columns = columns.map((c) => ({
      header: c.header, key: c.key, width: c.width, hidden: Boolean(c.hidden),
      style: { ...(c.text ? { numFmt: '@' } : {}), border, alignment: { vertical: 'top', ...(c.key === 'priority' ? { horizontal: 'center' } : {}), ...(c.wrap ? { wrapText: true } : {}) } },
    }));
    ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: columns.length } };
    const header = ws.getRow(1);
    header.font = { bold: true };
    header.alignment = { vertical: 'middle', wrapText: true };
    header.height = LINE_POINTS;
    header.commit();
    // 核实结果: a drop-down of the category's three answers that refuses other text.
    if (answerColumn >= 0 && count > 0) {
      const letter = columnLetter(answerColumn);
      const answers = answersFor(category);
      (ws as unknown as { dataValidations: { add(range: string, v: ExcelJSNamespace.DataValidation): void } }).dataValidations.add(`${letter}2:${letter}${count + 1}`, {
        type: 'list', allowBlank: true, formulae: [`"${answers.join(',')}"`],
        showErrorMessage: true, errorStyle: 'stop', errorTitle: '核实结果', error: `请从下拉列表中选择：${answers.join('、')}`,
        showInputMessage: true, promptTitle: '核实结果', prompt: `入户核实后选择：${answers.join('、')}`,
      });
    }
    // Cells take their column's style (text format for IDs, wrapped evidence). exceljs copies it
    // into a new object per cell and then renders and looks up each copy; handing every cell of
    // a column the same object lets its style cache (keyed by object) answer instead. Each column
    // holds one cell type, so the style ids, and the bytes, are the same.
    const shared = columns.map((_, i) => ({ ...ws.getColumn(i + 1).style }));
    for (const row of sheetRows) {
      const added = ws.addRow(columns.map((c) => row[c.key] ?? ''));
      for (let i = 0; i < columns.length; i++) added.getCell(i + 1).style = shared[i]!;
      // Tall enough for every line of the wrapped cells (Excel and WPS do not grow a row when
      // they open a file, and print only what the row shows): LINE_POINTS a line, at most 409.
      let lines = 1;
      for (const c of wrapped) lines = Math.max(lines, wrappedLines(String(row[c.key] ?? ''), c.width));
      if (lines > 1) added.height = Math.min(409, LINE_POINTS * lines);
      added.commit();
    }
    ws.commit();
  }
  const about = wb.addWorksheet('说明', {
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, margins: { left: 0.4, right: 0.4, top: 0.5, bottom: 0.5, header: 0.3, footer: 0.3 } },
  });
  const widths = [12, 12, 24, 80];
  about.columns = widths.map((width) => ({ width, style: { alignment: { vertical: 'top', wrapText: true } } }));
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, new Set(rows.filter((r) => r.category === c).map((r) => r.lead_key)).size]));
  const lines: (string | number)[][] = [
    ['乡镇', township],
    ['比对日期', job.asOf],
    ['运行编号', job.runId],
    ['线索数', CATEGORIES.map((c) => `${c} ${counts[c]}`).join('，')],
    ['工作区标识', job.workspaceMark],
    [],
    ['填写说明', `每户每类线索一行，「户主」是该户户主，「涉及成员」和「证据」列出触发规则的各条记录。请入户核实后在「核实结果」下拉列表中选择：${ANSWERS.join('、')}（监测预警见下）；在「核实说明」写明情况（填了核实说明就要选核实结果）。不要修改其他列，也不要增删列：隐藏的「校验码」列用来确认清单没有被改动，改过的行导入时会被退回。`],
    ['', `「监测预警」工作表是防止返贫动态监测的预警线索，核实结果选择：${MONITORING_ANSWERS.join('、')}（纳入监测 = 经核实应纳入监测，已在监测的户为确认风险、继续监测帮扶；不纳入 = 经核实不需要纳入，证据不变不再下发；已消除风险 = 风险已消除或已帮扶到位，销号）。${job.monitoringVerificationDays !== undefined ? `核实期限为首次下发后 ${job.monitoringVerificationDays} 天。` : ''}`],
    ['', '打印：每个工作表按 A4 横向、所有列在一页宽内打印，每页重复表头。'],
    ['', '「状态」：新增 = 上次运行没有的线索；持续 = 上次运行已有。「优先级」越大越应优先核实（命中规则越多、越严重越高）。「核实期限」之前请答复。'],
    ...CATEGORIES.map((c) => parts.filter((p) => p.category === c)).filter((ps) => ps.length > 1)
      .map((ps) => ['', `「${ps[0]!.category}」线索较多，分在 ${ps.map((p) => `「${p.sheet}」`).join('、')} ${ps.length} 张工作表中（每张最多 ${limit.toLocaleString('en-US')} 行）。`]),
    ['', '「关联」：写着“疑似（关联）”的线索，其证据来自证件号码受损（被 Excel 损坏或录错）的部门记录，是按姓名、乡镇和号码的其余部分关联到本人的，可信度分高、中、低；请先核对此人是否就是记录中的人，再核实线索。空白的线索按证件号码精确比对。'],
    [],
    ['规则', '类别', '名称', '说明'],
    ...rules.map((r) => [r.rule_id, r.category, r.title, r.outcome === 'Success' ? r.explain : `${r.explain}（本次未执行：${r.reason ?? ''}）`]),
  ];
  const ruleHeader = lines.findIndex((l) => l[0] === '规则');
  for (const [i, line] of lines.entries()) {
    const added = about.addRow(line);
    if (i === ruleHeader) added.font = { bold: true };
    // A text in column B with nothing after it runs across B:D, wrapped (it prints whole).
    if (line.length === 2 && String(line[1]).length > 20) {
      about.mergeCells(added.number, 2, added.number, 4);
      added.height = Math.min(409, LINE_POINTS * wrappedLines(String(line[1]), widths[1]! + widths[2]! + widths[3]!));
    } else if (line.length === 4) {
      added.height = Math.min(409, LINE_POINTS * Math.max(1, ...line.map((v, j) => wrappedLines(String(v), widths[j]!))));
    }
    added.commit();
  }
  about.commit();
  await finishDeterministicWorkbook(wb, file);
  if (job.encrypt) fs.writeFileSync(file, encryptWorkbook(fs.readFileSync(file), job.encrypt.password, job.encrypt.seed), { mode: 0o600 });
}

/** The CSV twin: 类别 and 乡镇 first (a CSV has no 说明 sheet to say which township it is for). */
function writeCsvTwin(file: string, township: string, rows: ListRow[], columns: Column[]): void {
  const header = ['类别', '乡镇', ...columns.map((c) => c.header)];
  const body = rows.map((r) => [String(r.category), csvSafe(township), ...columns.map((c) => (r[c.key] === null || r[c.key] === undefined ? '' : csvSafe(String(r[c.key]))))]);
  fs.writeFileSync(file, `\uFEFF${stringify([header, ...body])}`, { mode: 0o600 });
}

const WORKER_FILE = fileURLToPath(new URL('./workbook-worker.js', import.meta.url));

/** A job for the pool: a township workbook, or the XLSX twin of an analyst CSV. */
export type PoolJob = WorkbookJob | TableJob;
export function runJob(job: PoolJob): Promise<void> {
  return 'kind' in job && job.kind === 'table' ? writeTableWorkbook(job) : writeWorkbook(job as WorkbookJob);
}

export class WorkbookPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { job: PoolJob; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly useThreads = fs.existsSync(WORKER_FILE);

  constructor(size = Math.max(1, Math.min(4, os.availableParallelism()))) {
    if (!this.useThreads) return;
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_FILE);
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  write(job: PoolJob): Promise<void> {
    if (!this.useThreads) return runJob(job);
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    const worker = this.idle.pop();
    const task = worker ? this.queue.shift() : undefined;
    if (!worker) return;
    if (!task) {
      this.idle.push(worker);
      return;
    }
    const done = (error?: Error) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      this.idle.push(worker);
      if (error) task.reject(error);
      else task.resolve();
      this.next();
    };
    const onMessage = (m: { error?: string }) => done(m.error ? new Error(m.error) : undefined);
    const onError = (e: Error) => done(e);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage(task.job);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
