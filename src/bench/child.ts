/**
 * One measured job in its own process, so that peak RSS belongs to that job alone. Prints one
 * JSON line: { ms, maxRssMb, parts: [{ name, rows, ms }] }.
 *   node dist/bench/child.js ingest CONFIG
 *   node dist/bench/child.js bare CONFIG DBFILE
 */
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../config/config.js';
import { createProgress } from '../core/progress.js';
import { quoteIdent, quoteLiteral } from '../core/sql.js';
import { openStore } from '../core/store.js';
import { ensureWorkspace } from '../core/workspace.js';
import { ingest } from '../ingest/ingest.js';

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

const [job, configFile, dbFile] = process.argv.slice(2);
const started = performance.now();
const parts = job === 'ingest' ? await runIngest(configFile!) : await runBare(configFile!, dbFile!);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, parts })}\n`);
