/**
 * One measured job in its own process, so that peak RSS belongs to that job alone. Prints one
 * JSON line: { ms, maxRssMb, parts: [{ name, rows, ms }] }.
 *   node dist/bench/child.js ingest CONFIG
 *   node dist/bench/child.js bare CONFIG DBFILE
 *   node dist/bench/child.js match CONFIG AS_OF
 *   node dist/bench/child.js match-bare CONFIG AS_OF
 *   node dist/bench/child.js pipeline-bare CONFIG AS_OF DIR
 *   node dist/bench/child.js read-sheetjs FILE [SHEET]
 *   node dist/bench/child.js read-exceljs FILE
 */
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../config/config.js';
import { createProgress } from '../core/progress.js';
import { queryStep, quoteIdent, quoteLiteral } from '../core/sql.js';
import { openStore } from '../core/store.js';
import { ensureWorkspace } from '../core/workspace.js';
import fsPath from 'node:path';
import { DATASETS, dataTable, datasetDef } from '../ingest/datasets.js';
import { installMacros } from '../ingest/sql-macros.js';
import { rowsSql, snapshotRowsSql } from '../ingest/rows.js';
import { linkageSql } from '../match/linkage.js';
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
      const [newest] = await queryStep<{ s: number | null }>(store.conn, 'newest snapshot', 'SELECT max(snapshot_id) AS s FROM snapshot WHERE dataset = $d', { d: def.name });
      const rows = newest?.s != null ? await snapshotRowsSql(store.conn, def.name, newest.s) : rowsSql(def.name, []);
      await store.conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(def.name)} AS ${rows}`);
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

/**
 * The floor for `bidui run` (issue 15): a hand-written DuckDB pipeline doing the same work with
 * none of bidui's care, in one process on an on-disk database in DIR —
 *   read_csv: every file of every dataset, all text (one read_csv per dataset over its files);
 *   normalise: the typed columns the rules read (IDs trimmed and upper-cased, a format test and
 *     the birth date; dates and amounts cast; text trimmed), no rejects, warnings or provenance;
 *   people + rules: people.sql, the linkage-off tables and every rule's SELECT into one table;
 *   evidence.csv: that table written with COPY.
 * No snapshots, households, leads, flags, lists, workbooks or recorded run. Clean UTF-8 counties
 * only (the first alias of every header, as the generator writes them with --messy 0).
 */
async function runPipelineBare(configFile: string, asOf: string, dir: string): Promise<Part[]> {
  const config = loadConfig(configFile);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const instance = await DuckDBInstance.create(fsPath.join(dir, 'bare.duckdb'), { memory_limit: config.engine.memoryLimit, temp_directory: fsPath.join(dir, 'tmp') });
  const conn = await instance.connect();
  const parts: Part[] = [];
  const timed = async (name: string, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    parts.push({ name, rows: 0, ms: performance.now() - t });
  };
  try {
    await installMacros(conn);
    await timed('read_csv', async () => {
      for (const source of config.sources) {
        const files = `[${source.files.map(quoteLiteral).join(', ')}]`;
        await conn.run(`CREATE TABLE ${quoteIdent(`raw_${source.dataset}`)} AS SELECT * FROM read_csv(${files}, all_varchar = true, header = true, union_by_name = true)`);
      }
    });
    await timed('normalise', async () => {
      for (const source of config.sources) {
        const def = datasetDef(source.dataset);
        const cols = def.fields.flatMap((f) => {
          const v = `nullif(trim(${quoteIdent(f.aliases[0]!)}), '')`;
          const n = quoteIdent(f.name);
          switch (f.type) {
            case 'id': return [`upper(${v}) AS ${n}`, `NULL::VARCHAR AS ${quoteIdent(`${f.name}_raw`)}`,
              `CASE WHEN regexp_full_match(upper(${v}), '[0-9]{17}[0-9X]') THEN NULL ELSE 'format' END AS ${quoteIdent(`${f.name}_problem`)}`,
              `try_strptime(substr(${v}, 7, 8), '%Y%m%d')::DATE AS ${quoteIdent(`${f.name}_birth`)}`, `NULL::VARCHAR AS ${quoteIdent(`${f.name}_excel_digits`)}`];
            case 'date': return [`TRY_CAST(${v} AS DATE) AS ${n}`];
            case 'number': return [`TRY_CAST(${v} AS DECIMAL(18, 2)) AS ${n}`];
            case 'enum': {
              const whens = Object.entries(f.values ?? {}).flatMap(([canon, spellings]) => [canon, ...spellings].map((w) => `WHEN ${quoteLiteral(w)} THEN ${quoteLiteral(canon)}`));
              return [`CASE ${v} ${whens.join(' ')} ELSE ${v} END AS ${n}`];
            }
            default: return [`${v} AS ${n}`];
          }
        });
        await conn.run(`CREATE TABLE ${quoteIdent(dataTable(source.dataset))} AS SELECT 1 AS snapshot_id, 1 AS file_no, rowid + 2 AS source_row, ${cols.join(', ')} FROM ${quoteIdent(`raw_${source.dataset}`)}`);
      }
      for (const def of DATASETS) {
        const table = config.sources.some((s) => s.dataset === def.name) ? quoteIdent(dataTable(def.name)) : undefined;
        const all = table ? `SELECT * FROM ${table}` : `SELECT NULL WHERE false`;
        await conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(`all_${def.name}`)} AS ${all}`);
        if (table) await conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(def.name)} AS SELECT * FROM ${table} WHERE id_number_problem IS NULL AND (id_number_birth IS NULL OR id_number_birth <= DATE ${quoteLiteral(asOf)})`);
      }
    });
    await timed('people + rules', async () => {
      const prelude = fs.readFileSync(fsPath.join(packageRoot(), 'src', 'match', 'sql', 'people.sql'), 'utf8');
      for (const step of [...splitSteps(prelude), ...splitSteps(linkageSql(false))]) {
        const p = bindParams(step.sql, config.rules, asOf);
        await conn.run(step.sql, p.values, p.types);
      }
      await conn.run('CREATE OR REPLACE TEMP VIEW m_member_lane AS SELECT * FROM m_member');
      const rules = loadCatalogue().rules;
      let first = true;
      for (const rule of rules) {
        const p = bindParams(rule.sql, config.rules, asOf);
        await conn.run(`${first ? 'CREATE TABLE hits AS' : 'INSERT INTO hits BY NAME'} SELECT ${quoteLiteral(rule.id)} AS rule, * FROM (${rule.sql})`, p.values, p.types);
        first = false;
      }
    });
    await timed('evidence.csv', async () => {
      await conn.run(`COPY (SELECT * FROM hits ORDER BY ALL) TO ${quoteLiteral(fsPath.join(dir, 'evidence.csv'))} (FORMAT csv, HEADER true)`);
    });
  } finally {
    conn.closeSync();
    instance.closeSync();
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

const [job, configFile, arg, arg2] = process.argv.slice(2);
const started = performance.now();
const parts =
  job === 'ingest' ? await runIngest(configFile!)
  : job === 'bare' ? await runBare(configFile!, arg!)
  : job === 'match' ? await runMatch(configFile!, arg!)
  : job === 'pipeline-bare' ? await runPipelineBare(configFile!, arg!, arg2!)
  : job === 'read-sheetjs' ? runReadSheetjs(configFile!, arg)
  : job === 'read-exceljs' ? await runReadExceljs(configFile!)
  : await runMatchBare(configFile!, arg!);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, parts })}\n`);
