import type { DuckDBConnection } from '@duckdb/node-api';
import { quotable, UserError } from '../core/errors.js';
import { queryStep } from '../core/sql.js';
import { type DatasetName, datasetDef } from './datasets.js';

/**
 * What the office sees of a load without opening the store (DOMAIN.md "Counting"): per file, the
 * reasons rows were rejected and values warned about, with counts and the first row numbers —
 * never a name or an ID — and each unknown coded value once with the config entry that maps it.
 * Also the quality gate that stops `bidui run` when a dataset lost too many rows.
 */

export interface ReasonCount {
  code: string;
  field: string | null;
  reason: string;
  count: number;
  /** The first row numbers (at most five). */
  rows: number[];
}

export interface UnknownValue {
  field: string;
  /** The spelling, or null when it does not look like one (errors.ts quotable): then not shown. */
  value: string | null;
  count: number;
  rows: number[];
  /** Whether the rows were rejected (a required field) or loaded with a warning. */
  rejected: boolean;
}

export interface FileIssues {
  rejects: ReasonCount[];
  warnings: ReasonCount[];
  unknownValues: UnknownValue[];
}

/** A file's rows in the store: the snapshot and file number its rows were loaded under. */
export interface RowsRef {
  snapshot: number;
  fileNo: number;
}

/** Rejects and warnings of one loaded file, grouped by reason (largest first). */
export async function fileIssues(conn: DuckDBConnection, dataset: DatasetName, ref: RowsRef, limit = 8): Promise<FileIssues> {
  const params = { s: ref.snapshot, f: ref.fileNo, limit };
  // Excel error values and formulas are named with the reason: they are what the department
  // has to fix, and no personal data.
  const shown = `CASE WHEN code IN ('excel_error', 'excel_error_filled', 'formula_no_value', 'formula_no_value_filled') THEN list_sort(list_distinct(list(value)))[1:3] END`;
  const rejects = await queryStep<{ code: string; field: string | null; reason: string; n: string; rows: string[]; shown: string[] | null }>(conn, 'issues: rejects',
    `SELECT code, field, reason, count(*) AS n, list(source_row ORDER BY source_row)[1:5] AS rows, ${shown} AS shown FROM (
       SELECT reason_code AS code, field, reason, source_row, json_extract_string(row_json, '$.' || field) AS value
       FROM reject WHERE snapshot_id = $s AND file_no = $f)
     GROUP BY code, field, reason ORDER BY n DESC, min(source_row) LIMIT $limit`, params);
  const warnings = await queryStep<{ code: string; field: string | null; reason: string; n: string; rows: string[]; shown: string[] | null }>(conn, 'issues: warnings',
    `SELECT code, field, message AS reason, count(*) AS n, list(source_row ORDER BY source_row)[1:5] AS rows, ${shown} AS shown
     FROM ingest_warning WHERE snapshot_id = $s AND file_no = $f GROUP BY code, field, message ORDER BY n DESC, min(source_row) LIMIT $limit`, params);
  // Coded fields only: their values are codes of the department's system, not personal data.
  const coded = datasetDef(dataset).fields.filter((fd) => fd.values).map((fd) => fd.name);
  const unknown = coded.length === 0 ? [] : await queryStep<{ field: string; value: string; n: string; rows: string[]; rejected: boolean }>(conn, 'issues: unknown values',
    `SELECT field, value, count(*) AS n, list(source_row ORDER BY source_row)[1:5] AS rows, bool_or(rejected) AS rejected FROM (
       SELECT field, trim(json_extract_string(row_json, '$.' || field)) AS value, source_row, true AS rejected
       FROM reject WHERE snapshot_id = $s AND file_no = $f AND reason_code = 'bad_value'
       UNION ALL
       SELECT field, trim(value), source_row, false FROM ingest_warning
       WHERE snapshot_id = $s AND file_no = $f AND code IN ('bad_value', 'bad_value_filled')
     ) WHERE field IN (SELECT unnest($coded::VARCHAR[])) AND value IS NOT NULL
     GROUP BY field, value ORDER BY n DESC, value LIMIT $limit`, { ...params, coded: `[${coded.map((c) => `"${c}"`).join(',')}]` });
  const toCount = (r: { code: string; field: string | null; reason: string; n: string; rows: string[]; shown: string[] | null }): ReasonCount => ({
    code: r.code, field: r.field || null, reason: r.shown?.length ? `${r.reason}（原值：${r.shown.join('、')}）` : r.reason, count: Number(r.n), rows: r.rows.map(Number),
  });
  return {
    rejects: rejects.map(toCount),
    warnings: warnings.map(toCount),
    unknownValues: unknown.map((u) => ({ field: u.field, value: quotable(u.value, spellings(dataset, u.field)) ? u.value : null, count: Number(u.n), rows: u.rows.map(Number), rejected: u.rejected })),
  };
}

/** Every spelling bidui knows for a coded field (its standard values and their aliases). */
function spellings(dataset: DatasetName, field: string): string[] {
  const fd = datasetDef(dataset).fields.find((x) => x.name === field);
  return Object.entries(fd?.values ?? {}).flatMap(([k, v]) => [k, ...v]);
}

/**
 * One unknown value as a line of a message: the spelling and the config entry that maps it, or,
 * for a value that does not look like a spelling of the field (a name or an ID in a column
 * mapped to the wrong field), the rows only: personal data is never printed.
 */
export function unknownValueText(dataset: DatasetName, u: UnknownValue, fieldZh: string): string {
  if (u.value === null) {
    return `${fieldZh}有 ${u.count} 行的取值不像${fieldZh}（${rowList(u.rows, u.count)}；为保护个人信息不显示原值）：可能是这一列对错了，请检查该数据集的表头和 "columns" 配置`;
  }
  return `无法识别的${fieldZh}「${u.value}」：${u.count} 行（${rowList(u.rows, u.count)}）。如应视为某个标准值，在配置该数据集下加 ${valuesEntry(dataset, u.field, u.value)}`;
}

/** Row numbers as the office reads them: 第 3、5、9 行 (… when there are more). */
export function rowList(rows: number[], total: number): string {
  return `第 ${rows.join('、')}${total > rows.length ? ' 等' : ''} 行`;
}

/** The config entry that maps an unknown spelling (shown with it). */
export function valuesEntry(dataset: DatasetName, field: string, value: string): string {
  const fd = datasetDef(dataset).fields.find((x) => x.name === field);
  const canonical = Object.keys(fd?.values ?? {});
  // Never a guess: the office decides which standard value the spelling means.
  return `"values": { "${field}": { "${value}": "<${canonical.join('、')} 之一>" } }`;
}

export interface GateDataset {
  dataset: DatasetName;
  snapshot: number;
  rowsRejected: number;
  rowsConsidered: number;
  share: number;
}

export interface GateResult {
  limit: number;
  over: GateDataset[];
  accepted: boolean;
}

/**
 * The quality gate (issue: "Nothing dropped unseen"): a dataset whose share of rejected rows
 * (rejected / (loaded + rejected); skipped empty and footer rows do not count) is above the
 * limit stops the run before matching, unless the office accepts it knowingly.
 */
export async function checkQualityGate(
  conn: DuckDBConnection,
  snapshots: Partial<Record<DatasetName, number>>,
  limit: number,
  accept: boolean,
): Promise<GateResult> {
  const ids = Object.values(snapshots);
  if (ids.length === 0) return { limit, over: [], accepted: accept };
  const rows = await queryStep<{ dataset: DatasetName; snapshot_id: number; rejected: string; loaded: string }>(conn, 'quality gate',
    `SELECT dataset, snapshot_id, rows_rejected AS rejected, rows_loaded AS loaded FROM snapshot
     WHERE snapshot_id IN (SELECT unnest($ids::INTEGER[])) ORDER BY dataset`, { ids: `[${ids.join(',')}]` });
  const over = rows
    .map((r) => {
      const considered = Number(r.rejected) + Number(r.loaded);
      return { dataset: r.dataset, snapshot: r.snapshot_id, rowsRejected: Number(r.rejected), rowsConsidered: considered, share: considered === 0 ? 0 : Number(r.rejected) / considered };
    })
    .filter((d) => d.share > limit);
  if (over.length > 0 && !accept) throw await gateError(conn, over, limit);
  return { limit, over, accepted: accept && over.length > 0 };
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 2 : 1)}%`;

async function gateError(conn: DuckDBConnection, over: GateDataset[], limit: number): Promise<UserError> {
  const lines: string[] = [];
  for (const d of over) {
    const files = await queryStep<{ path: string; sheet: string | null; rejected: string; s: number; f: number }>(conn, 'quality gate: files',
      `SELECT path, sheet, rows_rejected AS rejected, rows_from_snapshot AS s, rows_from_file_no AS f FROM snapshot_file
       WHERE snapshot_id = $sid AND rows_rejected > 0 ORDER BY rows_rejected DESC, file_no`, { sid: d.snapshot });
    const def = datasetDef(d.dataset);
    lines.push(`${def.zh}（${d.dataset}）：${d.rowsRejected} / ${d.rowsConsidered} 行被拒收（${pct(d.share)}，上限 ${pct(limit)}）`);
    for (const f of files.slice(0, 3)) {
      const issues = await fileIssues(conn, d.dataset, { snapshot: f.s, fileNo: f.f }, 3);
      const reasons = issues.rejects.map((r) => `${r.reason} ${r.count} 行（${rowList(r.rows, r.count)}）`).join('；');
      lines.push(`  ${f.path}${f.sheet ? `「${f.sheet}」` : ''}：拒收 ${f.rejected} 行 — ${reasons}`);
      for (const u of issues.unknownValues.filter((x) => x.rejected)) {
        lines.push(`    ${unknownValueText(d.dataset, u, def.fields.find((x) => x.name === u.field)?.zh ?? u.field)}`);
      }
    }
  }
  return new UserError('E_QUALITY_GATE', `有数据集被拒收的行过多，未进行比对：\n${lines.join('\n')}`, {
    hint:
      '拒收行及原因见 bidui ingest 的输出（或报告中的问题数据工作簿）。请让有关部门修正后重新导出，或在配置中补充表头（columns）、取值（values）映射后重新运行；' +
      '如确认可以接受，用 --accept-rejects 继续比对（本次运行会记录这一点），或在配置的 quality.maxRejectedShare 中调整上限。',
  });
}
