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
import { tempFile } from '../core/workspace.js';
import { BIDUI_VERSION } from '../version.js';
import { type DatasetName, datasetDef } from './datasets.js';
import { chooseEncoding, type FileScan, scanFile, transcodeToUtf8 } from './file-scan.js';
import { mapHeaders, readCsvHeader } from './headers.js';
import type { IdProblem } from './id-number.js';
import { type CsvInput, dropStaged, type FileLoadResult, type StagedFile, stageCsvFile, storeStagedFile } from './load-file.js';
import { STORE_SCHEMA_VERSION } from './store-schema.js';
import { convertXlsx } from './xlsx.js';

export type FileStatus = 'loaded' | 'reused' | 'duplicate';

export interface FileReport {
  path: string;
  sha256: string;
  status: FileStatus;
  format: 'csv' | 'xlsx';
  encoding: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  invalidIds: number;
  idProblems: Partial<Record<IdProblem, number>>;
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
  /** Date used for the ingest-time ID statistics (YYYY-MM-DD); default today (UTC). */
  today?: string;
}

interface PlannedFile {
  path: string;
  source: DatasetSource;
  scan: FileScan;
  format: 'csv' | 'xlsx';
  readOptionsHash: string;
  duplicateOf: string | undefined;
  scanMs: number;
}

/** Bumped whenever normalisation or typing changes, so that old loads are not reused. */
const NORMALISATION_VERSION = `${STORE_SCHEMA_VERSION}.2`;

function readOptionsHash(source: DatasetSource): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson({ v: NORMALISATION_VERSION, encoding: source.encoding, sheet: source.sheet ?? null, columns: source.columns }))
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
      else problems.push(new UserError('E_NO_FILES', `${source.dataset} 的文件不存在`, { file: pattern, hint: '检查配置中 files 的路径（相对于配置文件所在目录）。' }));
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

function formatOf(file: string): 'csv' | 'xlsx' | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.txt' || ext === '.tsv') return 'csv';
  if (ext === '.xlsx') return 'xlsx';
  return undefined;
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
    sources = [{ dataset: only.dataset, encoding: base?.encoding ?? 'auto', sheet: base?.sheet, columns: base?.columns ?? {}, files: only.files.map((f) => path.resolve(f)) }];
  }
  for (const source of sources) {
    for (const file of expandSource(source, problems)) {
      const format = formatOf(file);
      if (!format) {
        const old = path.extname(file).toLowerCase() === '.xls';
        problems.push(new UserError('E_FORMAT', old ? '不支持旧版 Excel（.xls）文件' : '不支持的文件类型（只接受 .csv、.txt、.tsv、.xlsx）', {
          file, hint: '用 Excel 或 WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。',
        }));
        continue;
      }
      const scanStarted = performance.now();
      progress.step(`检查 ${source.dataset}：${path.basename(file)}`);
      const scan = await scanFile(file, (done, total) => progress.tick(done, total));
      const list = byDataset.get(source.dataset) ?? [];
      const dup = list.find((p) => p.scan.sha256 === scan.sha256);
      list.push({ path: file, source, scan, format, readOptionsHash: readOptionsHash(source), duplicateOf: dup?.path, scanMs: performance.now() - scanStarted });
      byDataset.set(source.dataset, list);
    }
  }
  return byDataset;
}

interface Prepared {
  input: CsvInput;
  encoding: string;
  sheet: string | undefined;
  temp: string | undefined;
  ms: number;
}

/** Decode/convert one file into a UTF-8 CSV for DuckDB and match its headers. */
async function prepare(store: Store, dataset: DatasetName, file: PlannedFile, progress: Progress): Promise<Omit<Prepared, 'ms'>> {
  const def = datasetDef(dataset);
  const { scan } = file;
  const bodyless = scan.head.toString('utf8').replace(/^\uFEFF/, '').trim() === '';
  if (scan.size === 0 || (file.format === 'csv' && bodyless)) {
    throw new UserError('E_EMPTY_FILE', '文件是空的', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
  }
  if (file.format === 'xlsx') {
    const temp = tempFile(store.ws, '.csv');
    const conv = await convertXlsx(file.path, temp, def, file.source.columns, file.source.sheet);
    return {
      input: { csvPath: temp, displayPath: file.path, delimiter: ',', columnCount: conv.mapping.headers.length + 1, mapping: conv.mapping, sourceRowInFirstColumn: true },
      encoding: 'xlsx',
      sheet: conv.sheet,
      temp,
    };
  }
  if (scan.binary) {
    throw new UserError('E_BINARY', '文件含二进制内容，不是文本表格（CSV）', {
      file: file.path, hint: '确认选对了文件；Excel 工作簿请保存为 .xlsx 扩展名，或另存为 CSV。',
    });
  }
  const encoding = chooseEncoding(scan, file.source.encoding);
  let csvPath = file.path;
  let temp: string | undefined;
  if (encoding === 'gb18030') {
    temp = tempFile(store.ws, '.csv');
    await transcodeToUtf8(file.path, temp, (done, total) => progress.tick(done, total));
    csvPath = temp;
  }
  const headText = encoding === 'utf-8' ? scan.head.toString('utf8') : new TextDecoder('gb18030').decode(scan.head);
  const { headers, delimiter } = readCsvHeader(headText);
  const mapping = mapHeaders(headers.map((h) => h.trim()), def, file.source.columns, file.path);
  return {
    input: { csvPath, displayPath: file.path, delimiter, columnCount: headers.length, mapping, sourceRowInFirstColumn: false },
    encoding,
    sheet: undefined,
    temp,
  };
}

interface PreviousLoad {
  snapshot_id: number;
  file_no: number;
  rows_from_snapshot: number;
  rows_from_file_no: number;
  encoding: string;
  format: string;
  sheet: string | null;
  header_map: string;
  rows_read: string;
  rows_loaded: string;
  rows_rejected: string;
  invalid_ids: string;
  id_problems: string;
}

export async function ingest(store: Store, config: Config, options: IngestOptions): Promise<IngestReport> {
  const { conn } = store;
  const { progress } = options;
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  progress.step('检查导入文件…');
  // Problems are collected through planning and pre-flight, and reported together.
  const problems: UserError[] = [];
  const planned = await plan(config, options.only, problems, progress);

  // Decide per dataset: unchanged, or a new snapshot whose files are reused or loaded.
  const work: { dataset: DatasetName; files: PlannedFile[]; previous: Map<string, PreviousLoad> }[] = [];
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
    const prev = await queryStep<PreviousLoad & { sha256: string; read_options_hash: string }>(
      conn, `earlier loads of ${dataset}`,
      `SELECT f.* FROM snapshot_file f JOIN snapshot s USING (snapshot_id)
       WHERE s.dataset = $dataset AND f.rows_from_snapshot = f.snapshot_id AND f.rows_from_file_no = f.file_no
       ORDER BY f.snapshot_id, f.file_no`,
      { dataset },
    );
    const previous = new Map<string, PreviousLoad>();
    for (const p of prev) {
      const k = loadKey(p.sha256, p.read_options_hash);
      if (!previous.has(k)) previous.set(k, p);
    }
    work.push({ dataset, files, previous });
  }

  // Pre-flight, before the transaction: decode, convert, map headers, then read and type every
  // file to load into a private staging table; report all problems at once.
  const prepared = new Map<PlannedFile, Prepared>();
  const staged = new Map<PlannedFile, StagedFile>();
  try {
    for (const w of work) {
      for (const file of w.files) {
        if (file.duplicateOf || w.previous.has(loadKey(file.scan.sha256, file.readOptionsHash))) continue;
        try {
          const started = performance.now();
          progress.step(`转换 ${w.dataset}：${path.basename(file.path)}`);
          const prep = await prepare(store, w.dataset, file, progress);
          prepared.set(file, { ...prep, ms: performance.now() - started });
          progress.step(`读取 ${datasetDef(w.dataset).zh}（${w.dataset}）：${path.basename(file.path)}`);
          const stage = await stageCsvFile(conn, datasetDef(w.dataset), prep.input, `stg_${staged.size + 1}`, today);
          staged.set(file, stage);
          if (prep.temp) fs.rmSync(prep.temp, { force: true }); // staged: the decoded copy is no longer needed
          if (stage.counts.rowsRead === 0) {
            throw new UserError('E_HEADER_ONLY', '文件只有表头，没有数据行', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
          }
          prepared.get(file)!.ms = performance.now() - started;
        } catch (error) {
          if (error instanceof UserError) problems.push(error);
          else throw error;
        }
      }
    }
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
          if (file.duplicateOf) {
            fileReports.push({ path: file.path, sha256: file.scan.sha256, status: 'duplicate', format: file.format, encoding: '', rowsRead: 0, rowsLoaded: 0, rowsRejected: 0, invalidIds: 0, idProblems: {}, ms: file.scanMs });
            log().info({ dataset: w.dataset, file: file.path }, 'duplicate file skipped');
            continue;
          }
          fileNo++;
          const prev = w.previous.get(loadKey(file.scan.sha256, file.readOptionsHash));
          let result: FileLoadResult;
          const loadStarted = performance.now();
          let meta: { encoding: string; format: string; sheet: string | null; headerMap: string; fromSnapshot: number; fromFileNo: number };
          if (prev) {
            progress.step(`${def.zh}（${w.dataset}）：${path.basename(file.path)} 已导入过（SHA-256 相同），复用`);
            result = { rowsRead: Number(prev.rows_read), rowsLoaded: Number(prev.rows_loaded), rowsRejected: Number(prev.rows_rejected), invalidIds: Number(prev.invalid_ids), idProblems: JSON.parse(prev.id_problems) };
            meta = { encoding: prev.encoding, format: prev.format, sheet: prev.sheet, headerMap: prev.header_map, fromSnapshot: prev.rows_from_snapshot, fromFileNo: prev.rows_from_file_no };
          } else {
            const prep = prepared.get(file)!;
            const stage = staged.get(file)!;
            progress.step(`导入 ${def.zh}（${w.dataset}）：${path.basename(file.path)}`);
            await storeStagedFile(conn, stage, sid, fileNo);
            await dropStaged(conn, stage.table);
            result = stage.counts;
            meta = { encoding: prep.encoding, format: file.format, sheet: prep.sheet ?? null, headerMap: canonicalJson(prep.input.mapping.fieldHeaders), fromSnapshot: sid, fromFileNo: fileNo };
            log().info({ dataset: w.dataset, file: file.path, rowsRead: result.rowsRead, rowsLoaded: result.rowsLoaded, rowsRejected: result.rowsRejected, invalidIds: result.invalidIds }, 'file loaded');
          }
          await runStep(conn, `record file ${fileNo} of ${w.dataset}`,
            `INSERT INTO snapshot_file VALUES ($sid, $fileNo, $path, $sha, $size, $format, $encoding, $sheet, $headerMap, $roh,
               $read, $loaded, $rejected, $invalid, $problems, $fromSnapshot, $fromFileNo)`,
            {
              sid, fileNo, path: file.path, sha: file.scan.sha256, size: file.scan.size, format: meta.format, encoding: meta.encoding,
              sheet: meta.sheet, headerMap: meta.headerMap, roh: file.readOptionsHash, read: result.rowsRead, loaded: result.rowsLoaded,
              rejected: result.rowsRejected, invalid: result.invalidIds, problems: canonicalJson(result.idProblems),
              fromSnapshot: meta.fromSnapshot, fromFileNo: meta.fromFileNo,
            });
          const ms = Math.round(file.scanMs + (prepared.get(file)?.ms ?? 0) + performance.now() - loadStarted);
          log().info({ dataset: w.dataset, file: file.path, ms }, 'file done');
          fileReports.push({ path: file.path, sha256: file.scan.sha256, status: prev ? 'reused' : 'loaded', format: file.format, encoding: meta.encoding, ...result, ms });
        }
        const sum = (k: 'rowsRead' | 'rowsLoaded' | 'rowsRejected' | 'invalidIds') => fileReports.reduce((s, f) => s + f[k], 0);
        await runStep(conn, `record snapshot of ${w.dataset}`,
          `INSERT INTO snapshot VALUES ($sid, $dataset, $ingest, now()::TIMESTAMP, $files, $read, $loaded, $rejected, $invalid)`,
          { sid, dataset: w.dataset, ingest: id, files: fileNo, read: sum('rowsRead'), loaded: sum('rowsLoaded'), rejected: sum('rowsRejected'), invalid: sum('invalidIds') });
        reports.push({ dataset: w.dataset, status: 'loaded', snapshotId: sid, files: fileReports });
      }
      await runStep(conn, 'record ingest', 'INSERT INTO ingest VALUES ($id, $started, now()::TIMESTAMP, $version, $hash)', {
        id, started: sqlTimestamp(started), version: BIDUI_VERSION, hash: config.hash,
      });
      return id;
    });
    progress.done();
    return { ingestId, datasets: byName() };
  } finally {
    for (const p of prepared.values()) if (p.temp) fs.rmSync(p.temp, { force: true });
    for (const stage of staged.values()) await dropStaged(conn, stage.table);
  }
}
