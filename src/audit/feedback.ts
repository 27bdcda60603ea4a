import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS, { resetXlsxDecoder } from '../core/exceljs.js';
import { maskDigitRuns, quotable, UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import { inTransaction, queryStep, runStep } from '../core/sql.js';
import { type Store, workspaceSecret } from '../core/store.js';
import { decryptWorkbook, isEncryptedWorkbook, townshipPassword } from '../core/office-crypto.js';
import { scanFile } from '../ingest/file-scan.js';
import { safeFileName } from '../report/township.js';
import { chooseEncoding } from '../ingest/readers/decode.js';
import { CATEGORIES } from '../rules/catalogue.js';
import { ANSWERS, answersFor, csvUnsafe, EVIDENCE_SIGNATURE, LIST_COLUMNS, maskId, ROW_CHECK, rowCheck, UNKNOWN_TOWNSHIP, VERIFY_NOTE, VERIFY_RESULT, workspaceMark } from '../report/list-format.js';

/**
 * Township feedback: the lists bidui wrote come back with 核实结果 (属实 / 不属实 / 已整改) and
 * 核实说明 filled in. Each answer is attached to its lead key with the file, its SHA-256 and the
 * import, and with the evidence records it answered for (so a 不属实 lead comes back only when
 * a new source record appears). Every row of every file is checked first; any problem and
 * nothing is imported.
 */
export { ANSWERS };


export interface FeedbackResult {
  files: { file: string; status: 'imported' | 'already'; answered: number; unanswered: number }[];
  /** What the office should know about files that were imported (e.g. lists from an older version). */
  notes: string[];
}

interface Answer {
  leadKey: string;
  result: string;
  note: string;
  sheet: string;
  row: number;
  /** The township the row's list was written for (说明 of a workbook, 乡镇 of a CSV row). */
  township: string | null;
  cells: Record<string, string>;
}

interface ParsedFile {
  file: string;
  sha256: string;
  runId: number | null;
  /** The workspace mark in a workbook's 说明 sheet. */
  mark: string | null;
  /** Every lead key in the file, answered or not. */
  keys: string[];
  answers: Answer[];
  unanswered: number;
}

interface FileRows {
  rows: { sheet: string; row: number; township: string | null; cells: Record<string, string> }[];
  runId: number | null;
  township: string | null;
  mark: string | null;
}

const header = (key: string) => LIST_COLUMNS.find((c) => c.key === key)!.header;
const text = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && v && 'richText' in v) return (v as { richText: { text: string }[] }).richText.map((r) => r.text).join('');
  if (typeof v === 'object' && v && 'result' in v) return String((v as { result: unknown }).result ?? '');
  return String(v);
};

/**
 * A feedback CSV's text: UTF-8 with or without BOM, GBK/GB18030 (what Excel on Chinese Windows
 * saves as "CSV") or UTF-16 with BOM, told apart as ingest tells them (readers/decode.ts).
 */
async function decodeCsv(file: string): Promise<string> {
  const encoding = chooseEncoding(await scanFile(file), 'auto');
  return new TextDecoder(encoding).decode(fs.readFileSync(file));
}

/** Open passwords to try on an encrypted workbook, the likeliest first (output.encrypt). */
type PasswordsFor = (fileName: string) => Promise<string[]>;

async function readRows(file: string, problems: string[], passwordsFor: PasswordsFor): Promise<FileRows> {
  const name = path.basename(file);
  const out: FileRows = { rows: [], runId: null, township: null, mark: null };
  if (/\.xlsx$/i.test(file)) {
    const wb = new ExcelJS.Workbook();
    resetXlsxDecoder();
    try {
      let bytes: Buffer = fs.readFileSync(file);
      if (isEncryptedWorkbook(bytes)) {
        // A workbook bidui wrote with its township's open password comes back with it (Excel
        // and WPS keep the password when the file is saved).
        let plain: Buffer | undefined;
        for (const password of await passwordsFor(name)) if ((plain = await decryptWorkbook(bytes, password))) break;
        if (!plain) {
          problems.push(`${name}：工作簿加了打开密码，但不是本工作区发给任何乡镇的密码——请导入本工作区生成的清单（密码不要改）`);
          return out;
        }
        bytes = plain;
      }
      await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    } catch (error) {
      problems.push(`${name}：无法读取（不是有效的 .xlsx 工作簿，可能已损坏或不是 bidui 生成的清单）`);
      return out;
    }
    const about = wb.getWorksheet('说明');
    const aboutValue = (label: string): string | null => {
      if (!about) return null;
      for (let r = 1; r <= Math.min(about.rowCount, 12); r++) if (text(about.getCell(r, 1).value).trim() === label) return text(about.getCell(r, 2).value).trim();
      return null;
    };
    const runCell = aboutValue('运行编号') ?? '';
    out.runId = /^[0-9]+$/.test(runCell) ? Number(runCell) : null;
    out.township = aboutValue('乡镇') || null;
    out.mark = aboutValue('工作区标识') || null;
    for (const category of CATEGORIES) {
      if (!wb.getWorksheet(category)) {
        // Lists written before version 0.6 have no 监测预警 sheet.
        if (category !== '监测预警') problems.push(`${name}：缺少工作表「${category}」——这不是 bidui 生成的乡镇清单`);
        continue;
      }
      // A category too long for one worksheet continues on 漏评 (2), 漏评 (3) …
      for (let k = 1; ; k++) {
        const sheet = k === 1 ? category : `${category} (${k})`;
        const ws = wb.getWorksheet(sheet);
        if (!ws) break;
        const headers = (ws.getRow(1).values as unknown[]).slice(1).map(text);
        ws.eachRow((row, n) => {
          if (n === 1) return;
          const values = (row.values as unknown[]).slice(1);
          out.rows.push({ sheet, row: n, township: out.township, cells: Object.fromEntries(headers.map((h, i) => [h, text(values[i]).trim()])) });
        });
      }
    }
    return out;
  }
  if (/\.csv$/i.test(file)) {
    let records: Record<string, string>[];
    try {
      const text = await decodeCsv(file);
      const [first] = parse(text, { bom: true, to_line: 1, relax_column_count: true }) as string[][];
      const names = (first ?? []).map((h) => h.trim()).filter(Boolean);
      const twice = [...new Set(names.filter((h, i) => names.indexOf(h) !== i))];
      if (twice.length) {
        problems.push(`${name}：表头中 ${twice.map((h) => `「${maskDigitRuns(h)}」`).join('、')} 出现了不止一次——请使用 bidui 生成的清单，不要增删列`);
        return out;
      }
      records = parse(text, { columns: true, bom: true, relax_column_count: true, skip_empty_lines: true }) as Record<string, string>[];
    } catch (error) {
      problems.push(`${name}：不是有效的 CSV（${/Quote|quote/.test((error as Error).message) ? '引号不配对' : '格式无法识别'}）`);
      return out;
    }
    // The apostrophe report put before values a spreadsheet would run as formulas comes off.
    // A CSV list is for the township its first row names (lists before version 0.3 have no
    // 乡镇 column: then the township is not known and not checked).
    records.forEach((r, i) => {
      const cells = Object.fromEntries(Object.entries(r).map(([k, v]) => [k.trim(), csvUnsafe((v ?? '').trim())]));
      if (i === 0) out.township = cells['乡镇'] || null;
      // 类别 names the row in messages only when it is one (a cell may hold anything).
      const category = cells['类别'] ?? '';
      out.rows.push({ sheet: (CATEGORIES as readonly string[]).includes(category) ? category : '', row: i + 2, township: out.township, cells });
    });
    return out;
  }
  problems.push(`${name}：只接受 bidui 生成的乡镇清单（.xlsx 或 .csv）`);
  return out;
}

async function parseFile(file: string, problems: string[], passwordsFor: PasswordsFor): Promise<ParsedFile> {
  const name = path.basename(file);
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const { rows, runId, mark } = await readRows(file, problems, passwordsFor);
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
    const where = `${name} ${r.sheet ? `「${r.sheet}」` : ''}第 ${r.row} 行`;
    // The row's category (its sheet, 监测预警 (2) included; a CSV's 类别 column) decides its answers.
    const allowed = answersFor(r.sheet.replace(/ \([0-9]+\)$/, '') || (r.cells['类别'] ?? ''));
    if (result === '') {
      // A note without an answer is an answer forgotten, not a row left for later.
      if ((r.cells[VERIFY_NOTE] ?? '') !== '') problems.push(`${where}：填了核实说明，但没有选择核实结果（${allowed.join('、')}）`);
      else unanswered++;
      continue;
    }
    if (!allowed.includes(result)) {
      // Quoted only when short and close to an answer (属 实, 已经整改): a sentence may name people.
      const shown = result.length <= 6 && !/[0-9]/.test(result) && quotable(result, allowed);
      problems.push(`${where}：核实结果${shown ? `「${result}」` : ''}无效，应为 ${allowed.join('、')} 之一`);
      continue;
    }
    answers.push({ leadKey: r.cells[header('lead_key')] ?? '', result, note: r.cells[VERIFY_NOTE] ?? '', sheet: r.sheet, row: r.row, township: r.township, cells: r.cells });
  }
  const keys = [...new Set(rows.map((r) => r.cells[header('lead_key')] ?? '').filter(Boolean))];
  return { file, sha256, runId, mark, keys, answers, unanswered };
}

/**
 * A key column that a spreadsheet turned into a number (Excel shows and saves an 18-digit
 * 户编号 as 5.22625E+17, or keeps 15 digits and writes zeros after them): the same number as
 * the lead's key to the digits that survive. Then it is the lead's key, not an edit.
 */
export function numberDamageOf(cell: string, key: string): boolean {
  if (!/^[0-9]+$/.test(key) || cell === key) return false;
  const m = /^([0-9])(?:\.([0-9]+))?[eE]\+?([0-9]+)$/.exec(cell) ?? /^([0-9]+?)(0*)$/.exec(cell);
  if (!m) return false;
  const digits = cell.includes('E') || cell.includes('e') ? `${m[1]}${m[2] ?? ''}` : m[1]!;
  const sig = digits.replace(/0+$/, '').length || 1;
  if (sig > 15) return false;
  return Number(cell) === Number(Number(key).toPrecision(sig)) && Math.abs(Number(cell) - Number(key)) < 10 ** (key.length - sig + 1);
}

/**
 * Import township answers; all files are checked before anything is written. `passwordRound`:
 * config output.passwordRound, for workbooks that come back with their open password (the
 * passwords of every round up to it are tried, the township the file is named after first).
 */
export async function importFeedback(store: Store, files: string[], passwordRound = 1): Promise<FeedbackResult> {
  const { conn } = store;
  const problems: string[] = [];
  const parsed: ParsedFile[] = [];
  const secret = await workspaceSecret(store);
  // The workspace's townships: whose passwords to try, and which names may be quoted.
  const townships = (await queryStep<{ t: string }>(conn, 'feedback: townships', 'SELECT DISTINCT coalesce(township, $unknown) AS t FROM lead ORDER BY t', { unknown: UNKNOWN_TOWNSHIP })).map((r) => r.t);
  const passwordsFor: PasswordsFor = async (fileName) => {
    const named = (t: string) => fileName.startsWith(safeFileName(t));
    const ordered = [...townships.filter(named), ...townships.filter((t) => !named(t))];
    return Array.from({ length: passwordRound }, (_, i) => passwordRound - i).flatMap((round) => ordered.map((t) => townshipPassword(secret, t, round)));
  };
  for (const file of files) {
    if (!fs.existsSync(file)) {
      problems.push(`${file}：文件不存在`);
      continue;
    }
    parsed.push(await parseFile(path.resolve(file), problems, passwordsFor));
  }
  const mark = workspaceMark(secret);
  const already = new Set((await queryStep<{ sha256: string }>(conn, 'feedback: imported files', 'SELECT sha256 FROM feedback_import')).map((r) => r.sha256));
  const notes: string[] = [];
  // Check each answer against the lead it names, in the run the list came from (or the latest
  // run that has the lead): the key columns must be as bidui wrote them, the lead must belong to
  // the township the list was written for, and the row's checksum must hold.
  const knownTownships = new Set(townships);
  // A value from the file is quoted only when it is what it should be (a lead key, a township of
  // this workspace, a mark): a cell may hold a name or an ID.
  const keyText = (k: string) => (/^[A-Z]-[0-9a-f]{16}$/.test(k) ? `「${k}」` : '（该格的内容不是线索编号）');
  const townText = (t: string) => (knownTownships.has(t) ? `「${t}」` : '（乡镇列的内容不是本工作区的乡镇）');
  const seenFiles = new Set<string>();
  // The same file named twice in one import is imported once.
  const sameAsEarlier = new Set<ParsedFile>();
  // Each lead answered once in one import: answer → where.
  const answeredAt = new Map<string, { result: string; note: string; where: string }>();
  for (const f of parsed) {
    if (already.has(f.sha256)) continue;
    if (seenFiles.has(f.sha256)) {
      sameAsEarlier.add(f);
      continue;
    }
    seenFiles.add(f.sha256);
    const name = path.basename(f.file);
    const known = f.keys.length === 0 ? 0 : Number((await queryStep<{ n: number }>(conn, 'feedback: known keys',
      'SELECT count(DISTINCT lead_key)::INTEGER AS n FROM lead WHERE lead_key IN (SELECT unnest(from_json($keys, \'["VARCHAR"]\')))', { keys: JSON.stringify(f.keys) }))[0]!.n);
    if ((f.mark !== null && f.mark !== mark) || (f.keys.length > 0 && known === 0)) {
      problems.push(`${name}：这份清单不是本工作区生成的（${f.mark !== null && f.mark !== mark ? `工作区标识${/^[0-9A-F]{8}$/.test(f.mark) ? ` ${f.mark}` : '不对'}，本工作区为 ${mark}` : '其中的线索编号都不属于本工作区'}）——可能来自另一个县或另一个工作区，请导入到生成它的工作区；如果表头被移动或删改过，请使用原清单`);
      continue;
    }
    let legacyAnswers = 0;
    for (const a of f.answers) {
      const where = `${name} ${a.sheet ? `「${a.sheet}」` : ''}第 ${a.row} 行`;
      const [lead] = await queryStep<{ run_id: number; household_key: string; village: string | null; rules: string; township: string; category: string; scheme: string }>(conn, 'feedback: lead',
        `SELECT l.run_id, household_key, village, rules, coalesce(township, $unknown) AS township, category, r.lead_key_scheme AS scheme
         FROM lead l JOIN run r USING (run_id)
         WHERE lead_key = $key AND ($run IS NULL OR l.run_id = $run)
         ORDER BY (coalesce(township, $unknown) = $township) DESC, l.run_id DESC LIMIT 1`,
        { key: a.leadKey, run: f.runId, township: a.township ?? '', unknown: UNKNOWN_TOWNSHIP });
      if (!lead) {
        problems.push(`${where}：线索编号${keyText(a.leadKey)}不是本工作区${f.runId ? `运行 ${f.runId}` : ''}的线索`);
        continue;
      }
      // Lists of runs made since version 0.3 carry their township and a checksum on every row:
      // without them (a column or sheet deleted, renamed or emptied) the row is not accepted.
      const checkedList = lead.scheme === 'hmac-sha256';
      if (checkedList && (a.township === null || (a.cells[ROW_CHECK] ?? '') === '')) {
        problems.push(`${where}：清单的${a.township === null ? '「乡镇」（工作簿的「说明」表或 CSV 的「乡镇」列）' : `「${ROW_CHECK}」`}被删除或清空了——请在 bidui 生成的原清单上填写，不要增删列或工作表`);
        continue;
      }
      if (!checkedList) legacyAnswers++;
      if (a.township !== null && a.township !== lead.township) {
        problems.push(`${where}：线索${keyText(a.leadKey)}属于「${lead.township}」，不是这份${townText(a.township)}清单的线索——每个乡镇只能答复发给本乡镇的线索`);
        continue;
      }
      const previous = answeredAt.get(a.leadKey);
      if (previous && (previous.result !== a.result || previous.note !== a.note)) {
        problems.push(`${where}：线索${keyText(a.leadKey)}在 ${previous.where} 已有不同的答复——同一线索只能答复一次，请删去其中一个`);
        continue;
      }
      answeredAt.set(a.leadKey, { result: a.result, note: a.note, where });
      const masked = (a.cells[header('household_key')] ?? '').includes('*') ? maskId(lead.household_key) : lead.household_key;
      // A household key that a spreadsheet turned into a number is the lead's key, not an edit.
      const cells = { ...a.cells };
      const household = cells[header('household_key')] ?? '';
      if (numberDamageOf(household, masked)) cells[header('household_key')] = masked;
      const ruleIds = (cells[header('rules_text')] ?? '').split('；').map((x) => x.split(' ')[0]).sort().join(',');
      const edited = [
        cells[header('household_key')] !== masked ? header('household_key') : '',
        (lead.village ?? '') !== (cells[header('village')] ?? '') ? header('village') : '',
        ruleIds !== lead.rules.split(',').sort().join(',') ? header('rules_text') : '',
      ].filter(Boolean);
      if (edited.length) {
        problems.push(`${where}：${edited.map((e) => `「${e}」`).join('、')}与线索${keyText(a.leadKey)}不符——清单中除核实结果和核实说明外的列不能修改`);
        continue;
      }
      if (checkedList) {
        const byKey = Object.fromEntries(LIST_COLUMNS.map((c) => [c.key, cells[c.header] ?? '']));
        const expected = rowCheck(secret, a.township!, lead.category, byKey);
        if ((cells[ROW_CHECK] ?? '') !== expected) {
          const gbkHint = /\.csv$/i.test(name) && Object.values(cells).some((v) => v.includes('?'))
            ? '；如果是用 Excel 另存的 CSV，生僻字可能变成了「?」：请另存为「CSV UTF-8」或交回 .xlsx 工作簿'
            : '；请在原清单上填写';
          problems.push(`${where}：「${header('members_text')}」「${header('evidence_text')}」等列与 bidui 生成时不同（${ROW_CHECK}不符）——清单中除核实结果和核实说明外的列不能修改${gbkHint}`);
        }
      }
    }
    if (legacyAnswers > 0) notes.push(`${name}：由旧版本 bidui 生成，没有「${ROW_CHECK}」：只核对了户编号、村、涉及规则${f.answers.some((a) => a.township !== null) ? '和乡镇' : ''}，没有核对「涉及成员」「证据」列`);
  }
  if (problems.length) {
    const shown = problems.slice(0, 50);
    throw new UserError('E_FEEDBACK', `核实结果有 ${problems.length} 处问题，本次没有导入任何内容：\n  ${shown.join('\n  ')}${problems.length > shown.length ? `\n  ……另有 ${problems.length - shown.length} 处` : ''}`, {
      hint: '按上面所列逐项修正后重新导入（整个文件的问题换用正确的文件）；核实结果只能填 属实、不属实 或 已整改（监测预警：纳入监测、不纳入 或 已消除风险），其他列保持 bidui 生成时的内容。',
    });
  }
  const result: FeedbackResult = { files: [], notes: [] };
  await inTransaction(conn, 'feedback import', async () => {
    for (const f of parsed) {
      if (already.has(f.sha256) || sameAsEarlier.has(f)) {
        result.files.push({ file: f.file, status: 'already', answered: 0, unanswered: f.unanswered });
        continue;
      }
      // A row repeated with the same answer counts once.
      const seenKeys = new Set<string>();
      f.answers = f.answers.filter((a) => !seenKeys.has(a.leadKey) && Boolean(seenKeys.add(a.leadKey)));
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
  result.notes = notes;
  log().info({ files: result.files.length, answered: result.files.reduce((s, f) => s + f.answered, 0) }, 'feedback imported');
  return result;
}
