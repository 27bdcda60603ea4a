import crypto from 'node:crypto';

/**
 * The format of the township lists as they leave the office and come back with answers: the
 * columns (report writes them, audit's feedback import reads them) and the evidence signature an
 * answer is attached to. Below both report and audit, so that neither imports the other for it.
 */
export const VERIFY_RESULT = '核实结果';
export const VERIFY_NOTE = '核实说明';
/** The checksum of a list row (see rowCheck): a township's answer is accepted only for an unedited row. */
export const ROW_CHECK = '校验码';
/**
 * Days a township has to verify a lead, counted from the day it was first issued (config
 * output.verificationDays). 15 days is the limit commonly set for verifying a 防止返贫动态监测
 * lead (some provinces set 20 working days); it is not in the seeds or DOMAIN.md, so the office
 * should set its own.
 */
export const DEFAULT_VERIFICATION_DAYS = 15;
/**
 * A dataset whose export is older than this many days on the as-of date is flagged as stale in
 * the summary (config quality.staleDays): departments push their data monthly, so an export two
 * months old has missed at least one push.
 */
export const DEFAULT_STALE_DAYS = 45;
/** Where the household's township is unknown, its leads go to this list. */
export const UNKNOWN_TOWNSHIP = '未知乡镇';

export interface Column {
  header: string;
  key: string;
  /** Width in Excel's character units (a Han character takes about two). */
  width: number;
  /** Text-formatted cells (IDs and keys: Excel never turns them into numbers). */
  text?: boolean;
  /** Wrapped: every line shows and prints (the row is made tall enough). */
  wrap?: boolean;
  /** Hidden in the workbook (still there for feedback import; not printed). */
  hidden?: boolean;
}

/**
 * The columns of a township list. The visible widths add up to about 211 characters (an 18-digit 户号 and a name with an ID fit their columns), which
 * prints on one A4 landscape page wide at about 70% (the workbooks are set to fit the width).
 */
export const LIST_COLUMNS: Column[] = [
  { header: '线索编号', key: 'lead_key', width: 19, text: true },
  { header: '状态', key: 'status', width: 6 },
  { header: '关联', key: 'linkage', width: 8, wrap: true },
  { header: '优先级', key: 'priority', width: 6 },
  { header: '村', key: 'village', width: 10, wrap: true },
  { header: '户编号/户号', key: 'household_key', width: 20, text: true },
  { header: '户主', key: 'head_name', width: 8, text: true },
  { header: '涉及规则', key: 'rules_text', width: 18, wrap: true },
  { header: '涉及成员', key: 'members_text', width: 26, text: true, wrap: true },
  { header: '证据', key: 'evidence_text', width: 42, wrap: true },
  { header: '四有提示', key: 'flags', width: 9, wrap: true },
  { header: '上次核实', key: 'last_answer', width: 11, wrap: true },
  { header: '核实期限', key: 'deadline', width: 11 },
  { header: VERIFY_RESULT, key: 'verify_result', width: 9 },
  { header: VERIFY_NOTE, key: 'verify_note', width: 18, wrap: true },
  { header: ROW_CHECK, key: 'row_check', width: 17, text: true, hidden: true },
];

/** An ID or household key masked as the lists mask it (first 6 and last 4 kept; the JS twin of report.ts maskSql). */
export function maskId(value: string): string {
  return value.length > 10 ? value.slice(0, 6) + '*'.repeat(value.length - 10) + value.slice(-4) : value;
}

/** Answers a township may give (the drop-down of 核实结果, and what feedback import accepts). */
export const ANSWERS = ['属实', '不属实', '已整改'] as const;
/**
 * The answers of a 监测预警 lead (防止返贫动态监测's own words): 纳入监测 (the household is taken
 * into monitoring: the lead was right), 不纳入 (verified, no risk that calls for monitoring), 已消除风险
 * (the risk is gone or was dealt with: the lead is closed).
 */
export const MONITORING_ANSWERS = ['纳入监测', '不纳入', '已消除风险'] as const;

/** The answers of a category's list (the drop-down of its sheet, and what import accepts for its rows). */
export function answersFor(category: string): readonly string[] {
  return category === '监测预警' ? MONITORING_ANSWERS : ANSWERS;
}

/**
 * What an answer means for the lead, in the classic words: 属实 (confirmed), 不属实 (not issued
 * again while its evidence stays the same), 已整改 (closed, 销号).
 */
export const ANSWER_MEANING: Readonly<Record<string, (typeof ANSWERS)[number]>> = {
  属实: '属实', 不属实: '不属实', 已整改: '已整改', 纳入监测: '属实', 不纳入: '不属实', 已消除风险: '已整改',
};

/** SQL of ANSWER_MEANING over an answer column (NULL stays NULL). */
export function answerMeaningSql(expr: string): string {
  return `CASE ${expr} ${Object.entries(ANSWER_MEANING).filter(([a, m]) => a !== m).map(([a, m]) => `WHEN '${a}' THEN '${m}'`).join(' ')} ELSE ${expr} END`;
}

/**
 * How many lines a wrapped cell takes at a column width (Excel character units; a character
 * outside ASCII counts two): each line of the text, broken where it passes the width.
 */
export function wrappedLines(text: string, width: number): number {
  const usable = Math.max(1, width - 1);
  let lines = 0;
  for (const line of text.split('\n')) {
    let units = 0;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      // A surrogate pair is one character: its low half adds nothing.
      if (c < 0xdc00 || c > 0xdfff) units += c < 0x80 ? 1 : 2;
    }
    lines += Math.max(1, Math.ceil(units / usable));
  }
  return lines;
}

/** The columns a row's checksum covers: what names the lead and the evidence a township answers. */
export const CHECKED_COLUMNS = ['lead_key', 'household_key', 'village', 'rules_text', 'members_text', 'evidence_text'] as const;

/** The key of the list checksums, derived from the workspace's secret once per secret (a report checks every row). */
const listKeys = new WeakMap<Buffer, Buffer>();
function listKey(secret: Buffer): Buffer {
  let key = listKeys.get(secret);
  if (!key) listKeys.set(secret, (key = crypto.createHmac('sha256', secret).update('bidui township list row check v1').digest()));
  return key;
}

/** A cell as rowCheck reads it: CR LF and CR as LF, outer space trimmed (the regular expression only where there is a CR: most cells have none). */
function norm(v: unknown): string {
  const text = v === null || v === undefined ? '' : String(v);
  return (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).trim();
}

/**
 * The checksum of a township list row: HMAC-SHA-256, under a key derived from the workspace's
 * secret, of the township the list was written for, the category and the CHECKED_COLUMNS as
 * written (masked or not), cut to 16 hex digits after a K. Feedback import recomputes it from the row as
 * it comes back: a row edited in those columns, moved to another township's file or brought
 * from another workspace does not match. Line breaks (CR LF or LF) and outer spaces do not count.
 */
export function rowCheck(secret: Buffer, township: string, category: string, cells: Record<string, unknown>): string {
  const text = [norm(township), norm(category), ...CHECKED_COLUMNS.map((k) => norm(cells[k]))].join('\x1f');
  // A letter first: 16 hex digits can be all digits, or digits around one e, which a
  // spreadsheet would turn into a number.
  return `K${crypto.createHmac('sha256', listKey(secret)).update(text).digest('hex').slice(0, 16)}`;
}

/**
 * A public mark of the workspace, shown in each township workbook's 说明 sheet so that a list
 * brought back to another workspace is recognised as such (8 hex digits of an HMAC of a fixed
 * text under the secret: it tells nothing about the secret or the data).
 */
export function workspaceMark(secret: Buffer): string {
  return crypto.createHmac('sha256', secret).update('bidui workspace mark v1').digest('hex').slice(0, 8).toUpperCase();
}


/**
 * What identifies a piece of evidence across runs and re-exports: the rule, the dataset, the
 * person and the values that triggered it (not the snapshot or row, which change with every
 * new export of the same record). An SQL expression over an evidence row.
 */
export const EVIDENCE_SIGNATURE = "rule || '|' || dataset || '|' || coalesce(id_number, '') || '|' || coalesce(detail, '')";

/**
 * CSV cells that a spreadsheet would run as a formula (OWASP "CSV injection"): a value starting
 * with =, +, -, @, tab or carriage return gets a leading apostrophe, which Excel and WPS show as
 * text. Every CSV bidui writes goes through it (csvSafeSql is the SQL twin); feedback import
 * takes the apostrophe off again (csvUnsafe). A value that already starts with apostrophes
 * before such a character gets one more, so that the two undo each other on every value.
 */
export const CSV_FORMULA_START = /^'*[=+\-@\t\r]/;
export function csvSafe(value: string): string {
  return CSV_FORMULA_START.test(value) ? `'${value}` : value;
}
export function csvUnsafe(value: string): string {
  return value.startsWith("'") && CSV_FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;
}
/**
 * The SQL twin of csvSafe, for a text expression x. The first character is tested before the
 * pattern (it must be one of the pattern's): most values start otherwise, and the test costs a
 * tenth of the pattern's (evidence.csv of 3 million rows, 2.8 → 1.2 s).
 */
export const csvSafeSql = (x: string) =>
  `CASE WHEN left(${x}, 1) IN ('''', '=', '+', '-', '@', chr(9), chr(13)) AND regexp_matches(${x}, '^''*[=+\\-@\\t\\r]') THEN '''' || ${x} ELSE ${x} END`;

/**
 * A township's list rows as the workbook writer needs them, from the rows of r_list (as parsed
 * from the JSON the report hands to the worker): rules spelt out in catalogue order, empty answer
 * columns, and each row's checksum (list-format.ts rowCheck).
 */
export function completeListRows(rows: Record<string, string | number | null>[], township: string, secret: Buffer, rules: { rule_id: string; title: string }[]): Record<string, string | number | null>[] {
  const ruleOrder = new Map(rules.map((r, i) => [r.rule_id, i]));
  const title = new Map(rules.map((r) => [r.rule_id, r.title]));
  for (const row of rows) {
    row.rules_text = String(row.rules).split(',').sort((a, b) => (ruleOrder.get(a) ?? 0) - (ruleOrder.get(b) ?? 0)).map((r) => `${r} ${title.get(r) ?? ''}`).join('；');
    row.priority = Number(row.priority);
    row.verify_result = '';
    row.verify_note = '';
    row.row_check = rowCheck(secret, township, String(row.category), row);
  }
  return rows;
}
