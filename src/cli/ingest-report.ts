import path from 'node:path';
import { datasetDef } from '../ingest/datasets.js';
import { ID_PROBLEM_ZH, type IdProblem } from '../ingest/id-number.js';
import type { FileReport, IngestReport } from '../ingest/ingest.js';
import { SKIP_REASON_ZH, type SkipReason } from '../ingest/layout.js';
import { rowList, unknownValueText } from '../ingest/quality.js';
import type { GateResult } from '../ingest/quality.js';
import { table } from './format.js';

/**
 * What `bidui ingest` and `bidui run` print of a load: a table of every file (or sheet) with rows
 * read / loaded / rejected / skipped and warnings, then per file the reasons with counts and the
 * first row numbers, how the file was read (header row, sheet, encoding) and what to do about
 * unknown coded values. Never a name or an ID.
 */
const STATUS_ZH: Record<FileReport['status'], string> = { loaded: '已导入', reused: '已导入过，复用', duplicate: '重复文件，跳过' };
const ENCODING_ZH: Record<string, string> = { 'utf-8': 'UTF-8', gb18030: 'GBK', 'utf-16le': 'UTF-16', 'utf-16be': 'UTF-16', workbook: '工作簿', html: 'HTML 表格', xml: 'XML 表格' };
const SHEET_SKIP_ZH = { hidden: '隐藏', empty: '空白', no_header: '没有表头' } as const;

function fileLines(dataset: string, f: FileReport): string[] {
  const def = datasetDef(dataset as Parameters<typeof datasetDef>[0]);
  const label = (field: string | null) => (field ? (def.fields.find((x) => x.name === field)?.zh ?? field) : '');
  const out: string[] = [];
  const l = f.layout;
  const how: string[] = [];
  if (l.headerRow && l.headerRow > 1) how.push(`表头在第 ${l.headerRow} 行${l.headerConfigured ? '（按配置）' : `（上面 ${l.headerRow - 1} 行是标题，未读取）`}`);
  if (l.twoLevel) how.push('两行表头：字段名取下面一行');
  // The sheet is in the table; named here when there was a choice (other sheets, a hidden one).
  if (f.sheet && (l.hidden || (l.sheetsSkipped ?? []).length > 0)) how.push(`读取工作表「${f.sheet}」${l.hidden ? '（隐藏的工作表，按配置读取）' : ''}`);
  for (const s of l.sheetsSkipped ?? []) how.push(`未读取${SHEET_SKIP_ZH[s.why]}工作表「${s.sheet}」`);
  if (l.date1904) how.push('工作簿使用 1904 日期系统');
  if (l.normalisedBecause) how.push(`由 bidui 逐行解析（${l.normalisedBecause}）`);
  if (l.paddedRows) how.push(`${l.paddedRows} 行比表头少了末尾的单元格（Excel 另存 CSV 时会去掉行末的空单元格），按空值读取`);
  if (how.length) out.push(`  读取方式：${how.join('；')}`);
  if (f.rowsRejected > 0 && f.issues) {
    out.push(`  拒收 ${f.rowsRejected} 行：${f.issues.rejects.map((r) => `${r.reason} ${r.count} 行（${rowList(r.rows, r.count)}）`).join('；')}`);
  }
  if (f.warnings > 0 && f.issues) {
    out.push(`  警告 ${f.warnings} 条（已导入，相应值按空值处理或已补全）：${f.issues.warnings.map((r) => `${r.reason} ${r.count} 条（${rowList(r.rows, r.count)}）`).join('；')}`);
  }
  for (const u of f.issues?.unknownValues ?? []) {
    out.push(`  ${unknownValueText(def.name, u, label(u.field))}`);
  }
  if (f.rowsSkipped > 0) {
    out.push(`  跳过 ${f.rowsSkipped} 行（不是记录，不算拒收）：${Object.entries(l.skipped ?? {}).map(([k, n]) => `${SKIP_REASON_ZH[k as SkipReason]} ${n} 行`).join('，')}`);
  }
  for (const e of l.excel000 ?? []) {
    out.push(`  ${label(e.field)}：${e.damaged} 个（共 ${e.of} 个 18 位号码）以 000 结尾，判定为经过 Excel 数字格式、后 3 位已丢失，按无效号码处理（保留前 15 位）`);
  }
  if (l.filled) out.push(`  按本户户主行（或同户其他行）补全的空值：${Object.entries(l.filled).map(([k, n]) => `${label(k)} ${n} 行`).join('，')}`);
  for (const s of l.suggestions ?? []) {
    out.push(`  未使用的第 ${s.column} 列「${s.header}」可能是「${label(s.field)}」（${s.field}）：如果是，在配置该数据集下加 "columns": { "${s.header}": "${s.field}" }`);
  }
  const problems = Object.entries(f.idProblems);
  if (problems.length) out.push(`  无效证件号码 ${f.invalidIds} 个：${problems.map(([k, n]) => `${ID_PROBLEM_ZH[k as IdProblem] ?? k} ${n}`).join('；')}`);
  return out;
}

export function printIngestReport(report: IngestReport, out: NodeJS.WritableStream = process.stdout): void {
  const rows: (string | number)[][] = [];
  const details: string[] = [];
  for (const d of report.datasets) {
    if (d.status === 'unchanged') {
      rows.push([d.dataset, d.snapshotId, '未变化，沿用', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    for (const f of d.files) {
      const name = path.basename(f.path);
      rows.push([d.dataset, d.snapshotId, STATUS_ZH[f.status], name, f.sheet ?? '', f.layout.headerRow ?? '', ENCODING_ZH[f.encoding] ?? f.encoding, f.rowsRead, f.rowsLoaded, f.rowsRejected, f.rowsSkipped, f.warnings]);
      const lines = f.status === 'duplicate' ? [] : fileLines(d.dataset, f);
      if (lines.length) details.push(`${datasetDef(d.dataset).zh}（${d.dataset}）${name}${f.sheet ? `「${f.sheet}」` : ''}：`, ...lines);
    }
  }
  out.write(`${table(['数据集', '快照', '状态', '文件', '工作表', '表头行', '编码', '读取行数', '导入行数', '拒收行数', '跳过行数', '警告'], rows)}\n`);
  if (details.length) out.write(`\n${details.join('\n')}\n`);
  const files = report.datasets.flatMap((d) => d.files);
  if (files.some((f) => f.rowsSkipped > 0)) out.write('读取行数 = 导入 + 拒收 + 跳过（空行、表尾合计行等不是记录，不算拒收）。\n');
  if (files.some((f) => f.rowsRejected > 0 || f.warnings > 0)) {
    out.write('每一条拒收行和警告（文件、行号、原值）在 bidui run 或 bidui report 生成报告时写入输出目录的 quality/ 文件夹（问题数据工作簿）。\n');
  }
}

/** One line when a run went on although a dataset's rejects were over the limit. */
export function printGateNote(quality: GateResult, out: NodeJS.WritableStream = process.stdout): void {
  if (!quality.accepted || quality.over.length === 0) return;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  out.write(`注意：按 --accept-rejects 继续比对，以下数据集的拒收比例超过上限 ${pct(quality.limit)}（本次运行已记录）：${quality.over.map((d) => `${datasetDef(d.dataset).zh} ${pct(d.share)}`).join('，')}\n`);
}
