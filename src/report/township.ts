import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from '../core/exceljs.js';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { writeDeterministicXlsx } from '../core/xlsx-write.js';
import { CATEGORIES } from '../rules/catalogue.js';
import type { RunRow } from './report.js';
import { privateDir } from './report.js';

/**
 * One workbook per township (乡镇): a sheet per category, sorted by priority then village, and a
 * 说明 sheet; plus a CSV twin in UTF-8 with BOM (Excel and WPS open it without garbling). IDs are
 * text cells in text-formatted columns so that Excel never shows 5.2E+17.
 */
export const VERIFY_RESULT = '核实结果';
export const VERIFY_NOTE = '核实说明';

interface Column {
  header: string;
  key: string;
  width: number;
  text?: boolean;
}

export const LIST_COLUMNS: Column[] = [
  { header: '线索编号', key: 'lead_key', width: 22, text: true },
  { header: '状态', key: 'status', width: 7 },
  { header: '优先级', key: 'priority', width: 7 },
  { header: '村', key: 'village', width: 14 },
  { header: '户编号/户号', key: 'household_key', width: 21, text: true },
  { header: '涉及规则', key: 'rules_text', width: 34 },
  { header: '本条规则', key: 'rule_text', width: 24 },
  { header: '证件号码', key: 'id_number', width: 21, text: true },
  { header: '姓名', key: 'name', width: 10 },
  { header: '数据来源', key: 'dataset_zh', width: 12 },
  { header: '来源记录', key: 'record_place', width: 26 },
  { header: '详情', key: 'detail', width: 48 },
  { header: '四有提示', key: 'flags', width: 16 },
  { header: VERIFY_RESULT, key: 'verify_result', width: 10 },
  { header: VERIFY_NOTE, key: 'verify_note', width: 30 },
];

type ListRow = Record<string, string | number | null>;

/** A township name made safe as a file name (it is also the sheet's title). */
export function townshipFileName(name: string): string {
  return name.replace(/[\\/:*?"<>|\x00-\x1f]/g, '_').trim() || '_';
}

export async function writeTownshipLists(store: Store, run: RunRow, dir: string): Promise<{ files: string[]; names: string[] }> {
  privateDir(dir);
  const rules = await queryStep<{ rule_id: string; category: string; title: string; explain: string; outcome: string; reason: string | null }>(
    store.conn, 'township: rules', 'SELECT rule_id, category, title, explain, outcome, reason FROM run_rule WHERE run_id = $run', { run: run.run_id });
  const ruleOrder = new Map(rules.map((r, i) => [r.rule_id, i]));
  rules.sort((a, b) => CATEGORIES.indexOf(a.category as (typeof CATEGORIES)[number]) - CATEGORIES.indexOf(b.category as (typeof CATEGORIES)[number]) || Number(a.rule_id.slice(1)) - Number(b.rule_id.slice(1)));
  const title = new Map(rules.map((r) => [r.rule_id, r.title]));
  const names = (await queryStep<{ township: string }>(store.conn, 'township: names', 'SELECT DISTINCT township FROM r_evidence ORDER BY township')).map((r) => r.township);
  const files: string[] = [];
  for (const township of names) {
    const rows = await queryStep<ListRow>(store.conn, 'township: rows', `
      SELECT category, lead_key, status, priority, village, household_key, rules, rule, id_number, name, dataset_zh, record_place, detail, coalesce(flags, '') AS flags
      FROM r_evidence WHERE township = $township
      ORDER BY category_order, priority DESC, village, household_key, lead_key, rule, dataset, snapshot_id, file_no, source_row, id_number`, { township });
    for (const row of rows) {
      row.rules_text = String(row.rules).split(',').sort((a, b) => (ruleOrder.get(a) ?? 0) - (ruleOrder.get(b) ?? 0)).map((r) => `${r} ${title.get(r) ?? ''}`).join('；');
      row.rule_text = `${row.rule} ${title.get(String(row.rule)) ?? ''}`;
      row.priority = Number(row.priority);
      row.verify_result = '';
      row.verify_note = '';
    }
    const base = path.join(dir, townshipFileName(township));
    await writeWorkbook(`${base}.xlsx`, township, run, rules, rows);
    writeCsvTwin(`${base}.csv`, rows);
    files.push(`${base}.xlsx`, `${base}.csv`);
  }
  return { files, names };
}

async function writeWorkbook(
  file: string,
  township: string,
  run: RunRow,
  rules: { rule_id: string; category: string; title: string; explain: string; outcome: string; reason: string | null }[],
  rows: ListRow[],
): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'bidui';
  for (const category of CATEGORIES) {
    const ws = wb.addWorksheet(category, { views: [{ state: 'frozen', ySplit: 1 }] });
    ws.columns = LIST_COLUMNS.map((c) => ({ header: c.header, key: c.key, width: c.width, style: c.text ? { numFmt: '@' } : {} }));
    ws.getRow(1).font = { bold: true };
    for (const row of rows.filter((r) => r.category === category)) {
      const added = ws.addRow(row);
      for (const [i, c] of LIST_COLUMNS.entries()) if (c.text) added.getCell(i + 1).numFmt = '@';
    }
    ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: LIST_COLUMNS.length } };
  }
  const about = wb.addWorksheet('说明');
  about.columns = [{ width: 10 }, { width: 12 }, { width: 24 }, { width: 80 }];
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, new Set(rows.filter((r) => r.category === c).map((r) => r.lead_key)).size]));
  const lines: (string | number)[][] = [
    ['乡镇', township],
    ['比对日期', run.as_of],
    ['运行编号', run.run_id],
    ['线索数', CATEGORIES.map((c) => `${c} ${counts[c]}`).join('，')],
    [],
    ['填写说明', '每条证据一行，同一线索编号的各行属于同一户。请入户核实后在「核实结果」填写：属实、不属实 或 已整改；在「核实说明」写明情况。不要修改其他列。'],
    ['', '「状态」：新增 = 上次运行没有的线索；持续 = 上次运行已有。「优先级」越大越应优先核实（命中规则越多、越严重越高）。'],
    [],
    ['规则', '类别', '名称', '说明'],
    ...rules.map((r) => [r.rule_id, r.category, r.title, r.outcome === 'Success' ? r.explain : `${r.explain}（本次未执行：${r.reason ?? ''}）`]),
  ];
  for (const line of lines) about.addRow(line);
  about.getRow(9).font = { bold: true };
  await writeDeterministicXlsx(wb, file);
}

function writeCsvTwin(file: string, rows: ListRow[]): void {
  const header = ['类别', ...LIST_COLUMNS.map((c) => c.header)];
  const body = rows.map((r) => [String(r.category), ...LIST_COLUMNS.map((c) => (r[c.key] === null || r[c.key] === undefined ? '' : String(r[c.key])))]);
  fs.writeFileSync(file, `\uFEFF${stringify([header, ...body])}`, { mode: 0o600 });
}
