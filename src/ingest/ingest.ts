import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import type { Config, DatasetSource } from '../config/config.js';
import { canonicalJson } from '../config/config.js';
import { UserError } from '../core/errors.js';
import { log } from '../core/log.js';
import type { Progress } from '../core/progress.js';
import { inTransaction, queryStep, runStep, sqlTimestamp } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { BIDUI_VERSION } from '../version.js';
import { type DatasetName, datasetDef } from './datasets.js';
import { type FileScan, scanFile } from './file-scan.js';
import type { IdProblem } from './id-number.js';
import type { SkipReason } from './layout.js';
import { fileKind, type PartNotes, prepareFile, type PreparedFile } from './prepare.js';
import { closeWorkbookReaders } from './readers/spreadsheet-pool.js';
import { type FileIssues, fileIssues, type RowsRef } from './quality.js';
import { dropStaged, type FileNotes, finishFile, recordStagedFile, type StagedFile, stageFile } from './stage.js';
import { rowsTableName, sweepUnrecordedRows } from './rows.js';
import { localDate } from '../core/time.js';
import { DEFAULT_LIMITS } from './limits.js';
import { setCellLimit } from './sql-macros.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { noteFolders } from '../core/disk.js';
import { failpoint } from '../core/failpoint.js';

export type FileStatus = 'loaded' | 'reused' | 'duplicate';

/** What the office needs to know of how a file (or sheet) was read: snapshot_file.layout_json. */
export type FileLayout = Partial<PartNotes> & FileNotes & { skipped?: Partial<Record<SkipReason, number>> };

/** One file, or one sheet of a workbook read sheet by sheet. */
export interface FileReport {
  path: string;
  sha256: string;
  status: FileStatus;
  format: string;
  encoding: string;
  sheet: string | undefined;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rowsSkipped: number;
  warnings: number;
  invalidIds: number;
  idProblems: Partial<Record<IdProblem, number>>;
  layout: FileLayout;
  /** Rejects and warnings by reason (not for duplicates). */
  issues: FileIssues | undefined;
  /** Wall time spent on this file: scan, decode/convert and load (ms). */
  ms: number;
}

export interface DatasetReport {
  dataset: DatasetName;
  /** 'loaded': a new snapshot; 'unchanged': same files as the newest snapshot, nothing written. */
  status: 'loaded' | 'unchanged';
  snapshotId: number;
  files: FileReport[];
}

export interface IngestReport {
  ingestId: number | undefined;
  datasets: DatasetReport[];
}

export interface IngestOptions {
  /** Restrict to one dataset and these files (CLI `--dataset D FILE…`). */
  only?: { dataset: DatasetName; files: string[] } | undefined;
  progress: Progress;
  /** Date for the ID statistics of the load (YYYY-MM-DD; a birth date after it is invalid); default today in the office's time zone. */
  asOf?: string;
}

interface PlannedFile {
  path: string;
  source: DatasetSource;
  scan: FileScan;
  readOptionsHash: string;
  duplicateOf: string | undefined;
  scanMs: number;
}

/** Bumped whenever reading, normalisation or typing changes, so that old loads are not reused. */
const NORMALISATION_VERSION = '2.1';

function readOptionsHash(source: DatasetSource, maxCellChars: number): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson({
      v: NORMALISATION_VERSION, encoding: source.encoding, sheet: source.sheet ?? null, headerRow: source.headerRow ?? null, columns: source.columns, values: source.values,
      // The default limit is left out, so that loads made before limits existed are reused.
      ...(maxCellChars !== DEFAULT_LIMITS.maxCellChars ? { maxCellChars } : {}),
    }))
    .digest('hex');
}

/** A load is identified by the file's bytes and the options it was read with. */
const loadKey = (sha256: string, readOptions: string) => `${sha256}:${readOptions}`;

const GLOB_CHARS = /[*?[\]{}]/;

function expandSource(source: DatasetSource, problems: UserError[]): string[] {
  const out: string[] = [];
  for (const pattern of source.files) {
    if (!GLOB_CHARS.test(pattern)) {
      if (fs.existsSync(pattern) && fs.statSync(pattern).isFile()) out.push(pattern);
      else if (fs.existsSync(pattern) && fs.statSync(pattern).isDirectory()) {
        problems.push(new UserError('E_NO_FILES', `${source.dataset} 的文件路径是一个目录，不是文件`, { file: pattern, hint: '在 files 中写出目录中的文件，或用通配符，例如 "目录/*.xlsx"。' }));
      } else problems.push(new UserError('E_NO_FILES', `${source.dataset} 的文件不存在`, { file: pattern, hint: '检查配置中 files 的路径（相对于配置文件所在目录）。' }));
      continue;
    }
    const matches = fg.sync(fg.convertPathToPattern(path.dirname(pattern)) + '/' + path.basename(pattern), { absolute: true, onlyFiles: true }).sort();
    if (matches.length === 0) {
      problems.push(new UserError('E_NO_FILES', `${source.dataset} 的文件模式没有匹配到任何文件`, { file: pattern, hint: '检查配置中 files 的路径和通配符（相对于配置文件所在目录）。' }));
    }
    out.push(...matches);
  }
  return out;
}

function combine(problems: UserError[]): UserError {
  if (problems.length === 1) return problems[0]!;
  const lines = problems.map((p, i) => `${i + 1}. ${p.file ? `${p.file}：` : ''}${p.message}${p.hint ? `（处理办法：${p.hint}）` : ''}`);
  return new UserError('E_INGEST', `导入前检查发现 ${problems.length} 个问题，未导入任何数据：\n${lines.join('\n')}`);
}

async function plan(config: Config, only: IngestOptions['only'], problems: UserError[], progress: Progress): Promise<Map<DatasetName, PlannedFile[]>> {
  const byDataset = new Map<DatasetName, PlannedFile[]>();
  let sources = config.sources;
  if (only) {
    const base = config.sources.find((s) => s.dataset === only.dataset);
    sources = [{
      dataset: only.dataset, encoding: base?.encoding ?? 'auto', sheet: base?.sheet, headerRow: base?.headerRow,
      columns: base?.columns ?? {}, values: base?.values ?? {}, files: only.files.map((f) => path.resolve(f)),
    }];
  }
  for (const source of sources) {
    for (const file of expandSource(source, problems)) {
      const scanStarted = performance.now();
      progress.step(`检查 ${source.dataset}：${path.basename(file)}`);
      let scan: FileScan;
      try {
        scan = await scanFile(file, (done, total) => progress.tick(done, total));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EIO') throw error;
        problems.push(new UserError('E_READ', `无法读取文件（${code === 'EIO' ? '磁盘读取出错' : '没有读取权限'}）`, { file, hint: '检查文件的权限（bidui 以运行它的用户身份读取），或把文件复制到可读的位置。' }));
        continue;
      }
      if (!fileKind(file, scan.head)) {
        problems.push(new UserError('E_FORMAT', '不支持的文件类型（接受 .csv、.txt、.tsv 文本表格和 .xlsx、.xls、.et、.ods 工作簿）', {
          file, hint: '用 Excel 或 WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。',
        }));
        continue;
      }
      const list = byDataset.get(source.dataset) ?? [];
      const dup = list.find((p) => p.scan.sha256 === scan.sha256);
      list.push({ path: file, source, scan, readOptionsHash: readOptionsHash(source, config.limits.maxCellChars), duplicateOf: dup?.path, scanMs: performance.now() - scanStarted });
      byDataset.set(source.dataset, list);
    }
  }
  return byDataset;
}

interface PreviousPart {
  snapshot_id: number;
  file_no: number;
  encoding: string;
  format: string;
  sheet: string | null;
  header_map: string;
  rows_read: string;
  rows_loaded: string;
  rows_rejected: string;
  rows_skipped: string;
  warnings: string;
  invalid_ids: string;
  id_problems: string;
  layout_json: string;
  sha256: string;
  read_options_hash: string;
}

interface FilePrep {
  prepared: PreparedFile;
  staged: StagedFile[];
  ms: number;
}

export async function ingest(store: Store, config: Config, options: IngestOptions): Promise<IngestReport> {
  const { conn } = store;
  const { progress } = options;
  const asOf = options.asOf ?? localDate(config.timeZone);
  await setCellLimit(conn, config.limits.maxCellChars);
  progress.step('检查导入文件…');
  // Problems are collected through planning and pre-flight, and reported together.
  const problems: UserError[] = [];
  const planned = await plan(config, options.only, problems, progress);

  // Decide per dataset: unchanged, or a new snapshot whose files are reused or loaded.
  const work: { dataset: DatasetName; files: PlannedFile[]; previous: Map<string, PreviousPart[]> }[] = [];
  const reports: DatasetReport[] = [];
  const byName = () => reports.sort((a, b) => a.dataset.localeCompare(b.dataset));
  for (const [dataset, files] of planned) {
    const latest = await queryStep<{ snapshot_id: number; sha256: string; read_options_hash: string }>(
      conn, `latest snapshot of ${dataset}`,
      `SELECT f.snapshot_id, f.sha256, f.read_options_hash FROM snapshot_file f
       WHERE f.snapshot_id = (SELECT max(snapshot_id) FROM snapshot WHERE dataset = $dataset)`,
      { dataset },
    );
    const current = new Set(files.filter((f) => !f.duplicateOf).map((f) => loadKey(f.scan.sha256, f.readOptionsHash)));
    const before = new Set(latest.map((r) => loadKey(r.sha256, r.read_options_hash)));
    if (latest.length > 0 && current.size === before.size && [...current].every((k) => before.has(k))) {
      reports.push({ dataset, status: 'unchanged', snapshotId: latest[0]!.snapshot_id, files: [] });
      continue;
    }
    const prev = await queryStep<PreviousPart>(
      conn, `earlier loads of ${dataset}`,
      `SELECT f.* FROM snapshot_file f JOIN snapshot s USING (snapshot_id)
       WHERE s.dataset = $dataset AND f.rows_from_snapshot = f.snapshot_id AND f.rows_from_file_no = f.file_no
       ORDER BY f.snapshot_id, f.file_no`,
      { dataset },
    );
    // The parts (sheets) of the first load of each file with the same options.
    const previous = new Map<string, PreviousPart[]>();
    for (const p of prev) {
      const k = loadKey(p.sha256, p.read_options_hash);
      const list = previous.get(k);
      if (!list) previous.set(k, [p]);
      else if (list[0]!.snapshot_id === p.snapshot_id) list.push(p);
    }
    work.push({ dataset, files, previous });
  }

  // Pre-flight, before the transaction: decode, convert, find the layout, then read and type every
  // part of every file to load into a table of its own (rows.ts); report all problems at once.
  // Tables left by an ingest that did not finish go first.
  await sweepUnrecordedRows(conn);
  const preps = new Map<PlannedFile, FilePrep>();
  // The files to read, in order, on two lanes (this connection and a second one): each lane
  // prepares a file (decoding, converting, normalising: this thread and the workbook threads) and
  // has DuckDB read and type it, so one file's preparation or reading runs while the other lane's
  // DuckDB work waits for or leaves a core (one reading used about 1.5 of 2 cores).
  const toLoad = work.flatMap((w) => w.files.filter((f) => !f.duplicateOf && !w.previous.has(loadKey(f.scan.sha256, f.readOptionsHash))).map((file) => ({ w, file })));
  noteFolders({ inputBytes: toLoad.reduce((sum, { file }) => sum + file.scan.size, 0) });
  /** Where each reported file's rows are in the store. */
  const rowsOf = new Map<FileReport, RowsRef>();
  /** Set once the transaction that names the staged tables has committed: from then on they are the store's. */
  let committed = false;
  /** Problems per file, reported in file order whichever lane found them. */
  const fileProblems: UserError[][] = toLoad.map(() => []);
  const lanes: DuckDBConnection[] = [conn];
  try {
    try {
      if (toLoad.length > 1) {
        const second = await store.connect();
        lanes.push(second);
        await setCellLimit(second, config.limits.maxCellChars);
      }
      // One number of load_seq for this ingest's tables (one per file in a statement of its own
      // made the two lanes wait for each other's commits: 10.6 s of a province's ingest).
      const [{ load }] = toLoad.length ? (await queryStep<{ load: number }>(conn, 'next load', "SELECT nextval('load_seq')::INTEGER AS load")) as [{ load: number }] : [{ load: 0 }];
      let tables = 0;
      let cursor = 0;
      /** A lane met a bug: the other stops at its next file. */
      let failed = false;
      const loadNext = async (c: DuckDBConnection): Promise<void> => {
        for (let i = cursor++; i < toLoad.length && !failed; i = cursor++) {
          const { w, file } = toLoad[i]!;
          const def = datasetDef(w.dataset);
          const started = performance.now();
          let prep: FilePrep | undefined;
          try {
            progress.step(`准备 ${w.dataset}：${path.basename(file.path)}`);
            const prepared = await prepareFile(store.ws, w.dataset, file, progress, config.limits);
            log().debug({ dataset: w.dataset, fileIndex: i, format: prepared.format, encoding: prepared.encoding, inputs: prepared.parts.map((p) => p.input.kind), ms: Math.round(performance.now() - started) }, 'prepared file');
            prep = { prepared, staged: [], ms: 0 };
            preps.set(file, prep);
            for (const part of prepared.parts) {
              progress.step(`读取 ${def.zh}（${w.dataset}）：${path.basename(file.path)}${part.sheet ? `「${part.sheet}」` : ''}`);
              prep.staged.push(await stageFile(c, def, part.input, rowsTableName(w.dataset, load, ++tables), { asOf, values: file.source.values, maxCellChars: config.limits.maxCellChars }));
            }
            // Staged: the private copies are no longer needed; the file's rule and counts.
            for (const t of prepared.temps) fs.rmSync(t, { recursive: true, force: true });
            await finishFile(c, prep.staged, asOf);
            const longest = Math.max(...prep.staged.map((st) => st.counts.rowsRead));
            if (longest > config.limits.maxRowsPerFile) {
              throw new UserError('E_TOO_MANY_ROWS', `文件有 ${longest} 行，超过上限 ${config.limits.maxRowsPerFile} 行（limits.maxRowsPerFile），没有导入`, {
                file: file.path, hint: '如果这确实是正常的大文件，在配置中调大 "limits": { "maxRowsPerFile": … }；否则确认选对了文件。',
              });
            }
            if (prep.staged.every((st) => st.counts.rowsLoaded + st.counts.rowsRejected === 0)) {
              throw new UserError('E_HEADER_ONLY', '文件只有表头，没有数据行', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
            }
            prep.ms = performance.now() - started;
          } catch (error) {
            if (error instanceof UserError) fileProblems[i]!.push(error);
            else {
              failed = true;
              throw error;
            }
          }
        }
      };
      // Both lanes run to their end before anything is thrown, so that nothing is staged after
      // the cleanup below has run.
      const outcomes = await Promise.allSettled(lanes.map(loadNext));
      for (const o of outcomes) if (o.status === 'rejected') throw o.reason;
    } finally {
      for (const c of lanes.slice(1)) c.closeSync();
      await closeWorkbookReaders();
    }
    problems.push(...fileProblems.flat());
    if (problems.length) throw combine(problems);
    if (work.length === 0) {
      progress.done();
      return { ingestId: undefined, datasets: byName() };
    }

    const started = new Date();
    const ingestId = await inTransaction(conn, 'ingest', async () => {
      const [{ id }] = (await queryStep<{ id: number }>(conn, 'next ingest id', "SELECT nextval('ingest_seq')::INTEGER AS id")) as [{ id: number }];
      for (const w of work) {
        const def = datasetDef(w.dataset);
        const [{ sid }] = (await queryStep<{ sid: number }>(conn, 'next snapshot id', "SELECT nextval('snapshot_seq')::INTEGER AS sid")) as [{ sid: number }];
        const fileReports: FileReport[] = [];
        let fileNo = 0;
        for (const file of w.files) {
          const base = { path: file.path, sha256: file.scan.sha256 };
          if (file.duplicateOf) {
            fileReports.push({
              ...base, status: 'duplicate', format: '', encoding: '', sheet: undefined, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0, rowsSkipped: 0,
              warnings: 0, invalidIds: 0, idProblems: {}, layout: {}, issues: undefined, ms: Math.round(file.scanMs),
            });
            log().info({ dataset: w.dataset, file: file.path }, 'duplicate file skipped');
            continue;
          }
          const loadStarted = performance.now();
          const prev = w.previous.get(loadKey(file.scan.sha256, file.readOptionsHash));
          const parts: { report: Omit<FileReport, 'ms' | 'issues'>; headerMap: string; from: [number, number]; staged?: StagedFile }[] = [];
          if (prev) {
            progress.step(`${def.zh}（${w.dataset}）：${path.basename(file.path)} 已导入过（SHA-256 相同），复用`);
            for (const p of prev) {
              parts.push({
                report: {
                  ...base, status: 'reused', format: p.format, encoding: p.encoding, sheet: p.sheet ?? undefined,
                  rowsRead: Number(p.rows_read), rowsLoaded: Number(p.rows_loaded), rowsRejected: Number(p.rows_rejected), rowsSkipped: Number(p.rows_skipped),
                  warnings: Number(p.warnings), invalidIds: Number(p.invalid_ids), idProblems: JSON.parse(p.id_problems), layout: JSON.parse(p.layout_json),
                },
                headerMap: p.header_map,
                from: [p.snapshot_id, p.file_no],
              });
            }
          } else {
            const prep = preps.get(file)!;
            prep.prepared.parts.forEach((part, i) => {
              const staged = prep.staged[i]!;
              const c = staged.counts;
              parts.push({
                report: {
                  ...base, status: 'loaded', format: prep.prepared.format, encoding: prep.prepared.encoding, sheet: part.sheet,
                  rowsRead: c.rowsRead, rowsLoaded: c.rowsLoaded, rowsRejected: c.rowsRejected, rowsSkipped: c.rowsSkipped, warnings: c.warnings,
                  invalidIds: c.invalidIds, idProblems: c.idProblems,
                  layout: { ...part.notes, ...staged.notes, ...(Object.keys(c.skipped).length ? { skipped: c.skipped } : {}) },
                },
                headerMap: canonicalJson(staged.input.mapping.fieldHeaders),
                from: [sid, 0],
                staged,
              });
            });
          }
          for (const part of parts) {
            fileNo++;
            const from = part.staged ? [sid, fileNo] : part.from;
            if (part.staged) {
              progress.step(`导入 ${def.zh}（${w.dataset}）：${path.basename(file.path)}${part.report.sheet ? `「${part.report.sheet}」` : ''}`);
              await recordStagedFile(conn, part.staged, sid, fileNo);
              const c = part.staged.counts;
              log().info({ dataset: w.dataset, file: file.path, fileNo, rowsRead: c.rowsRead, rowsLoaded: c.rowsLoaded, rowsRejected: c.rowsRejected, rowsSkipped: c.rowsSkipped, warnings: c.warnings, invalidIds: c.invalidIds }, 'file loaded');
            }
            const r = part.report;
            await runStep(conn, `record file ${fileNo} of ${w.dataset}`,
              `INSERT INTO snapshot_file (snapshot_id, file_no, path, sha256, size_bytes, format, encoding, sheet, header_map, read_options_hash,
                 rows_read, rows_loaded, rows_rejected, invalid_ids, id_problems, rows_from_snapshot, rows_from_file_no, rows_skipped, warnings, layout_json, file_mtime,
                 rows_table, rows_offset)
               VALUES ($sid, $fileNo, $path, $sha, $size, $format, $encoding, $sheet, $headerMap, $roh,
                 $read, $loaded, $rejected, $invalid, $problems, $fromSnapshot, $fromFileNo, $skipped, $warnings, $layout, $mtime::TIMESTAMP,
                 $rowsTable, $rowsOffset::BIGINT)`,
              {
                sid, fileNo, path: file.path, sha: file.scan.sha256, size: file.scan.size, format: r.format, encoding: r.encoding,
                sheet: r.sheet ?? null, headerMap: part.headerMap, roh: file.readOptionsHash, read: r.rowsRead, loaded: r.rowsLoaded,
                rejected: r.rowsRejected, invalid: r.invalidIds, problems: canonicalJson(r.idProblems), fromSnapshot: from[0]!, fromFileNo: from[1]!,
                skipped: r.rowsSkipped, warnings: r.warnings, layout: canonicalJson(r.layout), mtime: fileMtime(file.path),
                rowsTable: part.staged?.table ?? null, rowsOffset: part.staged?.rowOffset ?? null,
              });
            const ms = Math.round(file.scanMs + (preps.get(file)?.ms ?? 0) / parts.length + performance.now() - loadStarted);
            log().info({ dataset: w.dataset, file: file.path, fileNo, ms }, 'file done');
            const report: FileReport = { ...r, issues: undefined, ms };
            rowsOf.set(report, { snapshot: from[0]!, fileNo: from[1]! });
            fileReports.push(report);
          }
        }
        const sum = (k: 'rowsRead' | 'rowsLoaded' | 'rowsRejected' | 'rowsSkipped' | 'warnings' | 'invalidIds') => fileReports.reduce((s, f) => s + f[k], 0);
        await runStep(conn, `record snapshot of ${w.dataset}`,
          `INSERT INTO snapshot (snapshot_id, dataset, ingest_id, created_at, files, rows_read, rows_loaded, rows_rejected, invalid_ids, rows_skipped, warnings)
           VALUES ($sid, $dataset, $ingest, now()::TIMESTAMP, $files, $read, $loaded, $rejected, $invalid, $skipped, $warnings)`,
          {
            sid, dataset: w.dataset, ingest: id, files: fileNo, read: sum('rowsRead'), loaded: sum('rowsLoaded'), rejected: sum('rowsRejected'),
            invalid: sum('invalidIds'), skipped: sum('rowsSkipped'), warnings: sum('warnings'),
          });
        reports.push({ dataset: w.dataset, status: 'loaded', snapshotId: sid, files: fileReports });
      }
      await runStep(conn, 'record ingest', 'INSERT INTO ingest VALUES ($id, $started, now()::TIMESTAMP, $version, $hash)', {
        id, started: sqlTimestamp(started), version: BIDUI_VERSION, hash: config.hash,
      });
      failpoint('ingest:commit');
      return id;
    });
    committed = true;
    // Reasons by file, from what was stored (reused files included).
    for (const d of reports) {
      for (const f of d.files) {
        const ref = rowsOf.get(f);
        if (ref && (f.rowsRejected > 0 || f.warnings > 0)) f.issues = await fileIssues(conn, d.dataset, ref);
      }
    }
    progress.done();
    return { ingestId, datasets: byName() };
  } finally {
    for (const p of preps.values()) {
      for (const t of p.prepared.temps) fs.rmSync(t, { recursive: true, force: true });
      if (!committed) for (const s of p.staged) await dropStaged(conn, s.table);
    }
  }
}

/** A file's modification time in UTC as DuckDB reads a TIMESTAMP (the export's date, for the summary's freshness); null when unreadable. */
function fileMtime(file: string): string | null {
  try {
    return fs.statSync(file).mtime.toISOString().replace('T', ' ').replace('Z', '');
  } catch {
    return null;
  }
}
