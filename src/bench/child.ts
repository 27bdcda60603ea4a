/**
 * One measured job in its own process, so that peak RSS belongs to that job alone. Prints one
 * JSON line: { ms, maxRssMb, parts: [{ name, rows, ms }] }.
 *   node dist/bench/child.js ingest CONFIG
 *   node dist/bench/child.js bare CONFIG DBFILE
 *   node dist/bench/child.js match CONFIG AS_OF
 *   node dist/bench/child.js match-bare CONFIG AS_OF
 *   node dist/bench/child.js read-sheetjs FILE [SHEET]
 *   node dist/bench/child.js read-exceljs FILE
 */
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../config/config.js';
import { createProgress } from '../core/progress.js';
import { quoteIdent, quoteLiteral } from '../core/sql.js';
import { openStore } from '../core/store.js';
import { ensureWorkspace } from '../core/workspace.js';
import fsPath from 'node:path';
import { DATASETS, dataTable } from '../ingest/datasets.js';
import { ingest } from '../ingest/ingest.js';
import { bindParams, match, splitSteps } from '../match/match.js';
import { packageRoot } from '../core/paths.js';
import { loadCatalogue } from '../rules/catalogue.js';
import ExcelJS from '../core/exceljs.js';
import { readWorkbookNow } from '../ingest/readers/spreadsheet.js';
import { DEFAULT_LIMITS } from '../ingest/limits.js';

interface Part {
  name: string;
  rows: number;
  ms: number;
}

async function runIngest(configFile: string): Promise<Part[]> {
  const config = loadConfig(configFile);
  const ws = ensureWorkspace(config.workspace);
  process.env.TMPDIR = ws.tmpDir;
  const store = await openStore(ws, config.engine);
  try {
    const report = await ingest(store, config, { progress: createProgress(process.stderr, true) });
    return report.datasets.flatMap((d) => d.files.map((f) => ({ name: d.dataset, rows: f.rowsRead, ms: f.ms })));
  } finally {
    store.close();
  }
}

/** The baseline: DuckDB's own read_csv of the same files, all columns as text, into a table. */
async function runBare(configFile: string, dbFile: string): Promise<Part[]> {
  const config = loadConfig(configFile);
  fs.rmSync(dbFile, { force: true });
  fs.rmSync(`${dbFile}.wal`, { force: true });
  const instance = await DuckDBInstance.create(dbFile, { memory_limit: config.engine.memoryLimit });
  const conn = await instance.connect();
  const parts: Part[] = [];
  try {
    for (const source of config.sources) {
      for (const file of source.files) {
        const started = performance.now();
        await conn.run(`CREATE TABLE ${quoteIdent(`bare_${source.dataset}`)} AS SELECT * FROM read_csv(${quoteLiteral(file)}, all_varchar = true, header = true)`);
        const reader = await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${quoteIdent(`bare_${source.dataset}`)}`);
        parts.push({ name: source.dataset, rows: Number(reader.getRowObjectsJson()[0]!.n), ms: performance.now() - started });
      }
    }
    await conn.run('CHECKPOINT');
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return parts;
}

async function runMatch(configFile: string, asOf: string): Promise<Part[]> {
  const config = loadConfig(configFile);
  const store = await openStore(ensureWorkspace(config.workspace), config.engine);
  try {
    const result = await match(store, config, { intent: 'nightly', asOf, progress: createProgress(process.stderr, true) });
    return result.rules.map((r) => ({ name: r.id, rows: r.evidence, ms: r.ms }));
  } finally {
    store.close();
  }
}

/**
 * The baseline for match: the same people tables and rule SELECTs, run against plain views of
 * the newest rows (no snapshot pinning through snapshot_file, no ID filter), each rule counted
 * instead of turned into households, leads, evidence, flags and a recorded run.
 */
async function runMatchBare(configFile: string, asOf: string): Promise<Part[]> {
  const config = loadConfig(configFile);
  const store = await openStore(ensureWorkspace(config.workspace), config.engine);
  const parts: Part[] = [];
  try {
    for (const def of DATASETS) {
      await store.conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(def.name)} AS SELECT * FROM ${quoteIdent(dataTable(def.name))}
        WHERE snapshot_id = (SELECT max(snapshot_id) FROM ${quoteIdent(dataTable(def.name))})`);
    }
    const prelude = fs.readFileSync(fsPath.join(packageRoot(), 'src', 'match', 'sql', 'people.sql'), 'utf8');
    const started = performance.now();
    for (const step of splitSteps(prelude)) {
      const p = bindParams(step.sql, config.rules, asOf);
      await store.conn.run(step.sql, p.values, p.types);
    }
    parts.push({ name: 'people', rows: 0, ms: performance.now() - started });
    for (const rule of loadCatalogue().rules) {
      const t = performance.now();
      const p = bindParams(rule.sql, config.rules, asOf);
      const reader = await store.conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM (${rule.sql})`, p.values, p.types);
      parts.push({ name: rule.id, rows: Number(reader.getRowObjectsJson()[0]!.n), ms: performance.now() - t });
    }
  } finally {
    store.close();
  }
  return parts;
}

/** Spreadsheet reading alone (the choice of reader): SheetJS into bidui's normalised CSV. */
function runReadSheetjs(file: string, sheet: string | undefined): Part[] {
  const tmp = fs.mkdtempSync(fsPath.join(fsPath.dirname(file), 'tmp-'));
  try {
    const started = performance.now();
    const r = readWorkbookNow({ file, dataset: 'roster', overrides: {}, sheet, headerRow: undefined, text: undefined, tmpDir: tmp, prefix: 'bench', maxRows: DEFAULT_LIMITS.maxRowsPerFile, maxCellChars: DEFAULT_LIMITS.maxCellChars });
    return [{ name: 'sheetjs', rows: r.parts.reduce((s, p) => s + p.rows, 0), ms: performance.now() - started }];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The alternative: exceljs's streaming reader, every row's values visited (no conversion). */
async function runReadExceljs(file: string): Promise<Part[]> {
  const started = performance.now();
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'cache', worksheets: 'emit', entries: 'ignore' });
  let rows = 0;
  for await (const ws of reader) for await (const row of ws) if ((row.values as unknown[]).length > 0) rows++;
  return [{ name: 'exceljs', rows: rows - 1, ms: performance.now() - started }];
}

const [job, configFile, arg] = process.argv.slice(2);
const started = performance.now();
const parts =
  job === 'ingest' ? await runIngest(configFile!)
  : job === 'bare' ? await runBare(configFile!, arg!)
  : job === 'match' ? await runMatch(configFile!, arg!)
  : job === 'read-sheetjs' ? runReadSheetjs(configFile!, arg)
  : job === 'read-exceljs' ? await runReadExceljs(configFile!)
  : await runMatchBare(configFile!, arg!);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, parts })}\n`);
