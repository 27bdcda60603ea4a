import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS, { resetXlsxDecoder } from '../core/exceljs.js';
import { UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import { inTransaction, queryStep, runStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { CATEGORIES } from '../rules/catalogue.js';
import { csvUnsafe, EVIDENCE_SIGNATURE, LIST_COLUMNS, VERIFY_NOTE, VERIFY_RESULT } from '../report/list-format.js';

/**
 * Township feedback: the lists bidui wrote come back with 核实结果 (属实 / 不属实 / 已整改) and
 * 核实说明 filled in. Each answer is attached to its lead key with the file, its SHA-256 and the
 * import, and with the evidence records it answered for (so a 不属实 lead comes back only when
 * a new source record appears). Every row of every file is checked first; any problem and
 * nothing is imported.
 */
export const ANSWERS = ['属实', '不属实', '已整改'] as const;


export interface FeedbackResult {
  files: { file: string; status: 'imported' | 'already'; answered: number; unanswered: number }[];
}

interface Answer {
  leadKey: string;
  result: string;
  note: string;
  sheet: string;
  row: number;
  household: string;
  village: string;
  rules: string;
}

interface ParsedFile {
  file: string;
  sha256: string;
  runId: number | null;
  answers: Answer[];
  unanswered: number;
}

const header = (key: string) => LIST_COLUMNS.find((c) => c.key === key)!.header;
const text = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && v && 'richText' in v) return (v as { richText: { text: string }[] }).richText.map((r) => r.text).join('');
  if (typeof v === 'object' && v && 'result' in v) return String((v as { result: unknown }).result ?? '');
  return String(v);
};

async function readRows(file: string, problems: string[]): Promise<{ rows: { sheet: string; row: number; cells: Record<string, string> }[]; runId: number | null }> {
  const name = path.basename(file);
  const rows: { sheet: string; row: number; cells: Record<string, string> }[] = [];
  if (/\.xlsx$/i.test(file)) {
    const wb = new ExcelJS.Workbook();
    resetXlsxDecoder();
    try {
      await wb.xlsx.readFile(file);
    } catch (error) {
      problems.push(`${name}：无法读取（不是有效的 .xlsx 工作簿，可能已损坏或不是 bidui 生成的清单）`);
      return { rows, runId: null };
    }
    const about = wb.getWorksheet('说明');
    const runCell = about ? text(about.getCell('B3').value) : '';
    for (const category of CATEGORIES) {
      const ws = wb.getWorksheet(category);
      if (!ws) {
        problems.push(`${name}：缺少工作表「${category}」——这不是 bidui 生成的乡镇清单`);
        continue;
      }
      const headers = (ws.getRow(1).values as unknown[]).slice(1).map(text);
      ws.eachRow((row, n) => {
        if (n === 1) return;
        const values = (row.values as unknown[]).slice(1);
        rows.push({ sheet: category, row: n, cells: Object.fromEntries(headers.map((h, i) => [h, text(values[i]).trim()])) });
      });
    }
    return { rows, runId: /^[0-9]+$/.test(runCell) ? Number(runCell) : null };
  }
  if (/\.csv$/i.test(file)) {
    let records: Record<string, string>[];
    try {
      records = parse(fs.readFileSync(file), { columns: true, bom: true, relax_column_count: true }) as Record<string, string>[];
    } catch (error) {
      problems.push(`${name}：不是有效的 CSV（${/Quote|quote/.test((error as Error).message) ? '引号不配对' : '格式无法识别'}）`);
      return { rows, runId: null };
    }
    // The apostrophe report put before values a spreadsheet would run as formulas comes off.
    records.forEach((r, i) => rows.push({ sheet: r['类别'] ?? '', row: i + 2, cells: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, csvUnsafe((v ?? '').trim())])) }));
    return { rows, runId: null };
  }
  problems.push(`${name}：只接受 bidui 生成的乡镇清单（.xlsx 或 .csv）`);
  return { rows, runId: null };
}

async function parseFile(file: string, problems: string[]): Promise<ParsedFile> {
  const name = path.basename(file);
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const { rows, runId } = await readRows(file, problems);
  const answers: Answer[] = [];
  let unanswered = 0;
  const required = [header('lead_key'), header('household_key'), header('rules_text'), VERIFY_RESULT, VERIFY_NOTE];
  const firstRow = rows[0];
  if (firstRow) {
    const missing = required.filter((h) => !(h in firstRow.cells));
    if (missing.length) problems.push(`${name}：缺少列 ${missing.map((m) => `「${m}」`).join('、')}——请使用 bidui 生成的清单，不要删改表头`);
  }
  for (const r of rows) {
    const result = r.cells[VERIFY_RESULT] ?? '';
    if (result === '') {
      unanswered++;
      continue;
    }
    const where = `${name} ${r.sheet ? `「${r.sheet}」` : ''}第 ${r.row} 行`;
    if (!(ANSWERS as readonly string[]).includes(result)) {
      problems.push(`${where}：核实结果「${result}」无效，应为 ${ANSWERS.join('、')} 之一`);
      continue;
    }
    answers.push({
      leadKey: r.cells[header('lead_key')] ?? '', result, note: r.cells[VERIFY_NOTE] ?? '', sheet: r.sheet, row: r.row,
      household: r.cells[header('household_key')] ?? '', village: r.cells[header('village')] ?? '', rules: r.cells[header('rules_text')] ?? '',
    });
  }
  return { file, sha256, runId, answers, unanswered };
}

/** Import township answers; all files are checked before anything is written. */
export async function importFeedback(store: Store, files: string[]): Promise<FeedbackResult> {
  const { conn } = store;
  const problems: string[] = [];
  const parsed: ParsedFile[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) {
      problems.push(`${file}：文件不存在`);
      continue;
    }
    parsed.push(await parseFile(path.resolve(file), problems));
  }
  const already = new Set((await queryStep<{ sha256: string }>(conn, 'feedback: imported files', 'SELECT sha256 FROM feedback_import')).map((r) => r.sha256));
  // Check each answer against the lead it names, in the run the list came from (or the latest
  // run that has the lead): the key columns must be as bidui wrote them.
  for (const f of parsed) {
    if (already.has(f.sha256)) continue;
    for (const a of f.answers) {
      const where = `${path.basename(f.file)} ${a.sheet ? `「${a.sheet}」` : ''}第 ${a.row} 行`;
      const [lead] = await queryStep<{ run_id: number; household_key: string; village: string | null; rules: string }>(conn, 'feedback: lead',
        `SELECT run_id, household_key, village, rules FROM lead WHERE lead_key = $key AND ($run IS NULL OR run_id = $run) ORDER BY run_id DESC LIMIT 1`,
        { key: a.leadKey, run: f.runId });
      if (!lead) {
        problems.push(`${where}：线索编号「${a.leadKey}」不是本工作区${f.runId ? `运行 ${f.runId}` : ''}的线索`);
        continue;
      }
      const masked = lead.household_key.length > 10 && a.household.includes('*')
        ? `${lead.household_key.slice(0, 6)}${'*'.repeat(lead.household_key.length - 10)}${lead.household_key.slice(-4)}`
        : lead.household_key;
      const ruleIds = a.rules.split('；').map((x) => x.split(' ')[0]).sort().join(',');
      const edited = [
        a.household !== masked ? header('household_key') : '',
        (lead.village ?? '') !== a.village ? header('village') : '',
        ruleIds !== lead.rules.split(',').sort().join(',') ? header('rules_text') : '',
      ].filter(Boolean);
      if (edited.length) problems.push(`${where}：${edited.map((e) => `「${e}」`).join('、')}与线索「${a.leadKey}」不符——清单中除核实结果和核实说明外的列不能修改`);
    }
  }
  if (problems.length) {
    const shown = problems.slice(0, 50);
    throw new UserError('E_FEEDBACK', `核实结果有 ${problems.length} 处问题，本次没有导入任何内容：\n  ${shown.join('\n  ')}${problems.length > shown.length ? `\n  ……另有 ${problems.length - shown.length} 处` : ''}`, {
      hint: '按行号修正后重新导入；核实结果只能填 属实、不属实 或 已整改，其他列保持 bidui 生成时的内容。',
    });
  }
  const result: FeedbackResult = { files: [] };
  await inTransaction(conn, 'feedback import', async () => {
    for (const f of parsed) {
      if (already.has(f.sha256)) {
        result.files.push({ file: f.file, status: 'already', answered: 0, unanswered: f.unanswered });
        continue;
      }
      const [{ id }] = (await queryStep<{ id: number }>(conn, 'feedback: next id', "SELECT nextval('feedback_import_seq')::INTEGER AS id")) as [{ id: number }];
      await runStep(conn, 'feedback: import', 'INSERT INTO feedback_import VALUES ($id, $file, $sha, now()::TIMESTAMP, $n)', { id, file: f.file, sha: f.sha256, n: f.answers.length });
      for (const a of f.answers) {
        await runStep(conn, 'feedback: answer', `
          INSERT INTO feedback
          SELECT $id, $key, $result, $note, $sheet, $row, $run,
                 coalesce((SELECT list(DISTINCT ${EVIDENCE_SIGNATURE} ORDER BY ${EVIDENCE_SIGNATURE}) FROM evidence
                           WHERE lead_key = $key AND run_id = coalesce($run, (SELECT max(run_id) FROM lead WHERE lead_key = $key))), []),
                 (SELECT any_value(category) FROM lead WHERE lead_key = $key), (SELECT any_value(household_key) FROM lead WHERE lead_key = $key)`,
          { id, key: a.leadKey, result: a.result, note: a.note || null, sheet: a.sheet || null, row: a.row, run: f.runId });
      }
      result.files.push({ file: f.file, status: 'imported', answered: f.answers.length, unanswered: f.unanswered });
    }
  });
  log().info({ files: result.files.length, answered: result.files.reduce((s, f) => s + f.answered, 0) }, 'feedback imported');
  return result;
}
