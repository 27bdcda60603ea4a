import fs from 'node:fs';
import path from 'node:path';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { createDeterministicWorkbookWriter, finishDeterministicWorkbook } from '../core/xlsx-write.js';
import { DATASETS, type DatasetName } from '../ingest/datasets.js';
import { ID_PROBLEM_ZH, type IdProblem } from '../ingest/id-number.js';
import { snapshotRowsSql } from '../ingest/rows.js';
import { SKIP_REASON_ZH, type SkipReason } from '../ingest/layout.js';
import { privateDir } from '../core/files.js';
import { maskId } from './list-format.js';

/**
 * Data quality of a run's inputs (DOMAIN.md "Counting"; the seeds' 问题数据反馈): per dataset, a
 * workbook of the rejected rows and the warnings that the office can send back to the
 * department — file, sheet, row, reason and the values as written (IDs masked with --mask-ids) —
 * and the figures the summary page shows: rows by outcome, reasons, and invalid IDs counted for
 * the run's as-of date (so that they agree with Q1).
 */

/** A sheet holds 1,048,576 rows; the header takes one. */
const SHEET_ROWS = 1_048_575;

export interface DatasetQuality {
  dataset: DatasetName;
  snapshot: number;
  files: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsSkipped: number;
  warnings: number;
  skipped: Partial<Record<SkipReason, number>>;
  /** Invalid person IDs among the loaded rows, by problem, on the run's as-of date. */
  invalidIds: Partial<Record<IdProblem, number>>;
  /** Reasons of rejects and warnings with their counts. */
  reasons: { kind: '拒收' | '警告'; reason: string; count: number }[];
  /** When the snapshot was loaded (UTC, as the store writes it). */
  loadedAt: string;
  /** The oldest and newest modification time of its files (UTC; null when not recorded, before store v5). */
  fileTimes: { oldest: string | null; newest: string | null };
}

interface FileRow {
  file_no: number;
  path: string;
  sheet: string | null;
  s: number;
  f: number;
  header_map: string;
  rows_read: string;
  rows_loaded: string;
  rows_rejected: string;
  rows_skipped: string;
  warnings: string;
  layout_json: string;
}

const snapshotFiles = (store: Store, snapshot: number) =>
  queryStep<FileRow>(store.conn, 'quality: files',
    `SELECT file_no, path, sheet, rows_from_snapshot AS s, rows_from_file_no AS f, header_map, rows_read, rows_loaded, rows_rejected, rows_skipped, warnings, layout_json
     FROM snapshot_file WHERE snapshot_id = $sid ORDER BY file_no`, { sid: snapshot });

/** A file's rows in reject/ingest_warning: (rows_from_snapshot, rows_from_file_no) of the run's snapshot files. */
const FILE_JOIN = (alias: string) => `JOIN snapshot_file sf ON ${alias}.snapshot_id = sf.rows_from_snapshot AND ${alias}.file_no = sf.rows_from_file_no AND sf.snapshot_id = $sid`;

export async function datasetQuality(store: Store, snapshots: Partial<Record<DatasetName, number>>, asOf: string): Promise<DatasetQuality[]> {
  const out: DatasetQuality[] = [];
  for (const def of DATASETS) {
    const sid = snapshots[def.name];
    if (sid === undefined) continue;
    const files = await snapshotFiles(store, sid);
    const sum = (k: keyof FileRow) => files.reduce((s, f) => s + Number(f[k]), 0);
    const skipped: Partial<Record<SkipReason, number>> = {};
    for (const f of files) {
      for (const [k, n] of Object.entries((JSON.parse(f.layout_json) as { skipped?: Record<string, number> }).skipped ?? {})) {
        skipped[k as SkipReason] = (skipped[k as SkipReason] ?? 0) + n;
      }
    }
    const problems = await queryStep<{ p: IdProblem; n: string }>(store.conn, `quality: invalid IDs ${def.name}`,
      `SELECT bidui_id_problem_on(d.id_number_problem, d.id_number_birth, $asOf::DATE) AS p, count(*) AS n
       FROM (${await snapshotRowsSql(store.conn, def.name, sid)}) d GROUP BY p HAVING p IS NOT NULL ORDER BY p`, { asOf });
    const reasons = await queryStep<{ kind: '拒收' | '警告'; reason: string; n: string }>(store.conn, `quality: reasons ${def.name}`,
      `SELECT '拒收' AS kind, r.reason, count(*) AS n FROM reject r ${FILE_JOIN('r')} GROUP BY r.reason
       UNION ALL
       SELECT '警告', w.message, count(*) FROM ingest_warning w ${FILE_JOIN('w')} GROUP BY w.message
       ORDER BY kind DESC, n DESC, reason`, { sid });
    const [when] = await queryStep<{ loaded: string; oldest: string | null; newest: string | null }>(store.conn, `quality: freshness ${def.name}`,
      `SELECT s.created_at::VARCHAR AS loaded, min(f.file_mtime)::VARCHAR AS oldest, max(f.file_mtime)::VARCHAR AS newest
       FROM snapshot s JOIN snapshot_file f USING (snapshot_id) WHERE s.snapshot_id = $sid GROUP BY s.created_at`, { sid });
    out.push({
      dataset: def.name, snapshot: sid, files: files.length,
      loadedAt: when?.loaded ?? '', fileTimes: { oldest: when?.oldest ?? null, newest: when?.newest ?? null },
      rowsRead: sum('rows_read'), rowsLoaded: sum('rows_loaded'), rowsRejected: sum('rows_rejected'), rowsSkipped: sum('rows_skipped'), warnings: sum('warnings'),
      skipped, invalidIds: Object.fromEntries(problems.map((p) => [p.p, Number(p.n)])),
      reasons: reasons.map((r) => ({ kind: r.kind, reason: r.reason, count: Number(r.n) })),
    });
  }
  return out;
}


/**
 * quality/<数据集>.xlsx for every dataset of the run with rejected rows or warnings. Returns the
 * files written (the manifest hashes them; same bytes for the same run).
 */
export async function writeQualityWorkbooks(store: Store, quality: DatasetQuality[], mask: boolean, dir: string): Promise<string[]> {
  fs.rmSync(dir, { recursive: true, force: true });
  const written: string[] = [];
  for (const q of quality) {
    if (q.rowsRejected === 0 && q.warnings === 0) continue;
    privateDir(dir);
    const def = DATASETS.find((d) => d.name === q.dataset)!;
    const idFields = new Set(def.fields.filter((f) => f.type === 'id').map((f) => f.name));
    const files = await snapshotFiles(store, q.snapshot);
    const file = path.join(dir, `${def.zh}.xlsx`);
    const wb = createDeterministicWorkbookWriter(file);
    wb.creator = 'bidui';

    // Rejected rows: one column per field, headed as the department's file names it.
    const rejects = await queryStep<{ file_no: number; source_row: string; reason: string; row_json: string | null }>(store.conn, `quality: rejects ${q.dataset}`,
      `SELECT sf.file_no, r.source_row, r.reason, r.row_json FROM reject r ${FILE_JOIN('r')} ORDER BY sf.file_no, r.source_row LIMIT ${SHEET_ROWS}`, { sid: q.snapshot });
    const headerOf = new Map<string, string>();
    for (const f of files) for (const [field, header] of Object.entries(JSON.parse(f.header_map) as Record<string, string>)) if (!headerOf.has(field)) headerOf.set(field, header);
    const fields = def.fields.filter((f) => headerOf.has(f.name)).map((f) => f.name);
    const byNo = new Map(files.map((f) => [f.file_no, f]));
    const text = { numFmt: '@' };
    const rejectSheet = wb.addWorksheet('拒收记录', { views: [{ state: 'frozen', ySplit: 1 }] });
    rejectSheet.columns = [
      { header: '文件', key: 'file', width: 24 }, { header: '工作表', key: 'sheet', width: 12 }, { header: '行号', key: 'row', width: 7 },
      { header: '原因', key: 'reason', width: 48 },
      ...fields.map((f) => ({ header: headerOf.get(f)!, key: `f_${f}`, width: idFields.has(f) ? 21 : 14, style: text })),
    ];
    rejectSheet.getRow(1).font = { bold: true };
    rejectSheet.getRow(1).commit();
    for (const r of rejects) {
      const values = (r.row_json ? JSON.parse(r.row_json) : {}) as Record<string, string | null>;
      const f = byNo.get(r.file_no)!;
      const row = rejectSheet.addRow([
        path.basename(f.path), f.sheet ?? '', Number(r.source_row), r.reason,
        ...fields.map((k) => {
          const v = values[k] ?? '';
          return mask && idFields.has(k) ? maskId(v) : v;
        }),
      ]);
      row.commit();
    }
    rejectSheet.commit();

    const warnings = await queryStep<{ file_no: number; source_row: string; field: string; message: string; value: string | null }>(store.conn, `quality: warnings ${q.dataset}`,
      `SELECT sf.file_no, w.source_row, w.field, w.message, w.value FROM ingest_warning w ${FILE_JOIN('w')} ORDER BY sf.file_no, w.source_row, w.field LIMIT ${SHEET_ROWS}`, { sid: q.snapshot });
    const warnSheet = wb.addWorksheet('警告', { views: [{ state: 'frozen', ySplit: 1 }] });
    warnSheet.columns = [
      { header: '文件', key: 'file', width: 24 }, { header: '工作表', key: 'sheet', width: 12 }, { header: '行号', key: 'row', width: 7 },
      { header: '列', key: 'column', width: 14 }, { header: '说明', key: 'message', width: 56 }, { header: '原值', key: 'value', width: 21, style: text },
    ];
    warnSheet.getRow(1).font = { bold: true };
    warnSheet.getRow(1).commit();
    for (const w of warnings) {
      const f = byNo.get(w.file_no)!;
      const v = w.value ?? '';
      warnSheet.addRow([path.basename(f.path), f.sheet ?? '', Number(w.source_row), headerOf.get(w.field) ?? w.field, w.message, mask && idFields.has(w.field) ? maskId(v) : v]).commit();
    }
    warnSheet.commit();

    const about = wb.addWorksheet('说明');
    about.columns = [{ width: 26 }, { width: 12 }, { width: 8 }, { width: 10 }, { width: 10 }, { width: 10 }, { width: 10 }, { width: 10 }];
    const lines: (string | number)[][] = [
      ['问题数据反馈', `${def.zh}（${def.department}）`],
      ['数据快照', q.snapshot],
      [],
      ['说明', '以下记录在导入比对系统时被拒收（未参与比对）或有无法识别的值（已导入，该值按空值处理或已按同户其他行补全）。请核对原始数据，修正后重新导出。'],
      ['', '「行号」是原文件（或工作表）中的行号，与 Excel/WPS 显示的一致；「原值」「拒收记录」各列是文件中原样写的内容。'],
      ...(mask ? [['', '证件号码只显示前 6 位和后 4 位。']] : []),
      [],
      ['文件', '工作表', '表头行', '读取行数', '导入行数', '拒收行数', '跳过行数', '警告'],
      ...files.map((f) => [path.basename(f.path), f.sheet ?? '', (JSON.parse(f.layout_json) as { headerRow?: number }).headerRow ?? '', Number(f.rows_read), Number(f.rows_loaded), Number(f.rows_rejected), Number(f.rows_skipped), Number(f.warnings)]),
      [],
      ['原因', '类别', '行数'],
      ...q.reasons.map((r) => [r.reason, r.kind, r.count]),
      ...(Object.keys(q.skipped).length ? [[], ['跳过的行（不是记录）'], ...Object.entries(q.skipped).map(([k, n]) => [SKIP_REASON_ZH[k as SkipReason], '', n])] : []),
      ...(q.rowsRejected > SHEET_ROWS || q.warnings > SHEET_ROWS ? [[], ['注意', `超过 ${SHEET_ROWS} 行的部分未列出。`]] : []),
    ];
    for (const line of lines) about.addRow(line).commit();
    about.commit();
    await finishDeterministicWorkbook(wb, file);
    written.push(file);
  }
  return written;
}

/** Invalid IDs by reason, as the summary shows them. */
export function invalidIdText(problems: Partial<Record<IdProblem, number>>): string {
  return Object.entries(problems).map(([k, v]) => `${ID_PROBLEM_ZH[k as IdProblem] ?? k}：${v}`).join('；') || '无';
}
