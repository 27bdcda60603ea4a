import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection, LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { parse } from 'csv-parse/sync';
import { installMacros } from '../src/ingest/sql-macros.js';
import { loadConfig } from '../src/config/config.js';
import { runStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'bidui.js');

/** An in-memory DuckDB with bidui's macros, closed after fn. */
export async function withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    await installMacros(conn);
    return await fn(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Apply a SQL expression of `s` to many strings in one query; results in input order. */
export async function sqlMap(conn: DuckDBConnection, expr: string, values: string[]): Promise<(string | null)[]> {
  const reader = await conn.runAndReadAll(
    `SELECT (${expr})::VARCHAR AS v FROM unnest($1) WITH ORDINALITY AS t(s, i) ORDER BY i`,
    [listValue(values)],
    [LIST(VARCHAR)],
  );
  return reader.getRowObjectsJson().map((r) => r.v as string | null);
}

/** A fresh folder for one test; removed by the returned cleanup. */
export function testDir(prefix = 'bidui-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (npm test builds first). */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC', ...options.env },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
}

/** SHA-256 of every file below dir, by relative path: compares output folders byte for byte. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A CSV file (BOM or not) as header-keyed records. */
export function readCsvFile(file: string): Record<string, string>[] {
  return parse(fs.readFileSync(file), { columns: true, bom: true }) as Record<string, string>[];
}

/**
 * A live process that looks like a running bidui (its command line says so), to hold a test's
 * workspace lock; stop() ends it.
 */
export function fakeBidui(): { pid: number; stop: () => void } {
  // An argument named like bidui's entry (node …/bin/bidui.js), as the lock's liveness test looks for.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', path.join(os.tmpdir(), 'lock-holder', 'bidui.js')], { stdio: 'ignore' });
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

/** Run SQL on the store of a config's workspace (to age runs, move a load in time …), then close it. */
export async function sqlOnWorkspace(configFile: string, step: string, sql: string): Promise<void> {
  const config = loadConfig(configFile);
  const store = await openStore(ensureWorkspace(config.workspace), config.engine);
  try {
    await runStep(store.conn, step, sql);
  } finally {
    store.close();
  }
}
