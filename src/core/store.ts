import crypto from 'node:crypto';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EXIT, UserError, redact } from './errors.js';
import { log } from './log.js';
import { isDiskFull } from './disk.js';
import { inTransaction, queryStep, quoteLiteral, runStep } from './sql.js';
import type { Workspace } from './workspace.js';
import { installMacros } from '../ingest/sql-macros.js';
import { INGEST_MIGRATION_V2, INGEST_MIGRATION_V5, INGEST_MIGRATION_V6, INGEST_MIGRATION_V7, INGEST_SCHEMA_SQL } from '../ingest/store-schema.js';
import { MATCH_MIGRATION_V2, MATCH_MIGRATION_V3, MATCH_MIGRATION_V4, MATCH_MIGRATION_V5, MATCH_SCHEMA_SQL } from '../match/store-schema.js';
import { REPORT_MIGRATION_V3, REPORT_SCHEMA_SQL } from '../report/store-schema.js';
import { AUDIT_MIGRATION_V4, AUDIT_SCHEMA_SQL } from '../audit/store-schema.js';

/**
 * The store's structure, assembled from the tables each stage owns (each stage's
 * store-schema.ts). Stages meet only through these tables.
 */
export const STORE_SCHEMA_VERSION = 7;
export const STORE_SCHEMA_SQL = [
  'CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);',
  INGEST_SCHEMA_SQL,
  MATCH_SCHEMA_SQL,
  REPORT_SCHEMA_SQL,
  AUDIT_SCHEMA_SQL,
].join('\n');

/** Migrations from each older version to the next, run in one transaction on opening. */
const MIGRATIONS: Record<number, string> = {
  1: INGEST_MIGRATION_V2 + MATCH_MIGRATION_V2,
  2: MATCH_MIGRATION_V3 + REPORT_MIGRATION_V3,
  3: MATCH_MIGRATION_V4 + AUDIT_MIGRATION_V4,
  4: INGEST_MIGRATION_V5 + MATCH_MIGRATION_V5,
  5: INGEST_MIGRATION_V6,
  6: INGEST_MIGRATION_V7,
};

export interface EngineOptions {
  memoryLimit?: string;
  threads?: number | undefined;
}

export interface Store {
  conn: DuckDBConnection;
  ws: Workspace;
  /**
   * Another connection to the same store, set up as `conn` is (time zone, bidui's macros), for
   * work beside it (ingest reads two files at once). Its temp tables and settings are its own;
   * close it (closeSync) when done.
   */
  connect(): Promise<DuckDBConnection>;
  /** DuckDB's memory limit as configured (engine.memoryLimit, default 3GB). */
  memoryLimit: string;
  close(): void;
}

/** What every connection of a store needs: UTC (dates never shift with the machine's zone) and the macros. */
async function setUpConnection(conn: DuckDBConnection): Promise<void> {
  await runStep(conn, 'pin time zone', "SET TimeZone = 'UTC'");
  await installMacros(conn);
}

/**
 * Open (or create) the workspace's DuckDB store. DuckDB spills to the workspace's tmp folder,
 * never to the system temp directory, so that personal data stays where the office put it.
 */
export async function openStore(ws: Workspace, engine: EngineOptions = {}): Promise<Store> {
  const memoryLimit = engine.memoryLimit ?? '3GB';
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(ws.storeFile, {
      temp_directory: ws.tmpDir,
      memory_limit: memoryLimit,
      ...(engine.threads ? { threads: String(engine.threads) } : {}),
    });
  } catch (error) {
    if (/Could not set lock|Conflicting lock/i.test((error as Error).message)) {
      throw new UserError('E_BUSY', '数据库文件正被另一个程序使用，暂时无法打开', {
        file: ws.storeFile, hint: '等正在运行的 bidui 结束后再试；如果是其他程序（例如 DuckDB 命令行）打开了它，先关闭那个程序。', exitCode: EXIT.locked,
      });
    }
    if (isDiskFull(error)) throw error;
    const message = (error as Error).message;
    log().error({ error: redact(message) }, 'store open failed');
    const why = /permission denied|read-only file system/i.test(message) ? '没有读写权限或磁盘是只读的'
      : /not a valid DuckDB database|database file .* is corrupt|invalid|checksum|serialization/i.test(message) ? '文件不是 bidui 的数据库，或已损坏'
      : /version|storage/i.test(message) ? '文件由另一个版本的 DuckDB 写入' : '原因见工作区 logs/bidui.log';
    throw new UserError('E_STORE_OPEN', `无法打开数据库文件（${why}）`, {
      file: ws.storeFile,
      hint: '确认工作区目录可写、没有其他程序在使用该文件；如果文件已损坏，从备份恢复工作区，或另建一个工作区重新导入。',
    });
  }
  const conn = await instance.connect();
  await setUpConnection(conn);
  await runStep(conn, 'create store schema', STORE_SCHEMA_SQL);
  const rows = await queryStep<{ value: string }>(conn, 'read schema version', "SELECT value FROM meta WHERE key = 'schema_version'");
  let version = rows.length === 0 ? undefined : Number(rows[0]!.value);
  if (version === undefined) {
    await runStep(conn, 'write schema version', "INSERT INTO meta VALUES ('schema_version', ?)", [String(STORE_SCHEMA_VERSION)]);
    version = STORE_SCHEMA_VERSION;
  }
  if (version < STORE_SCHEMA_VERSION && MIGRATIONS[version] !== undefined) {
    // One transaction per version (DuckDB refuses to commit an ALTER of a table that the same
    // transaction updated after an earlier ALTER): each step is whole, with its version number.
    for (let v = version; v < STORE_SCHEMA_VERSION; v++) {
      await inTransaction(conn, `migrate store ${v} → ${v + 1}`, async () => {
        await runStep(conn, `migrate store ${v} → ${v + 1}`, MIGRATIONS[v]!);
        await runStep(conn, 'write schema version', "UPDATE meta SET value = ? WHERE key = 'schema_version'", [String(v + 1)]);
      });
    }
    version = STORE_SCHEMA_VERSION;
  }
  if (version !== STORE_SCHEMA_VERSION) {
    conn.closeSync();
    instance.closeSync();
    throw new UserError('E_STORE_VERSION', `工作区数据库的结构版本（${version}）比本程序（${STORE_SCHEMA_VERSION}）新`, {
      file: ws.storeFile,
      hint: '使用创建该工作区的 bidui 版本，或另建一个新的工作区重新导入。',
    });
  }
  // The workspace's secret (32 random bytes), made once: it keys the lead keys, so that they
  // cannot be recomputed from a household key outside this workspace. Never written out.
  await runStep(conn, 'workspace secret', "INSERT INTO meta SELECT 'lead_key_secret', $s WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'lead_key_secret')",
    { s: crypto.randomBytes(32).toString('hex') });
  return {
    conn,
    ws,
    memoryLimit,
    async connect() {
      const other = await instance.connect();
      await setUpConnection(other);
      return other;
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** The workspace's secret (see openStore). Never log it or write it to a file. */
export async function workspaceSecret(store: Store): Promise<Buffer> {
  const [row] = await queryStep<{ value: string }>(store.conn, 'read workspace secret', "SELECT value FROM meta WHERE key = 'lead_key_secret'");
  if (!row) throw new Error('the store has no workspace secret');
  return Buffer.from(row.value, 'hex');
}

/**
 * Let DuckDB drop the blocks it keeps cached, by lowering its memory limit for a moment and
 * setting it back (DuckDB has no statement for it). `bidui run` calls it between ingest and
 * match: the blocks the ingest wrote stayed cached, and the first people tables had to evict
 * them while building their hash tables (a province, 10M households at engine.memoryLimit 6GB:
 * "living members of each 户籍 household" 11.1 s with them cached, 6.0 s without; measured in
 * docs/BENCHMARKS.md). The data stays in the store; only the cache goes. A limit DuckDB cannot
 * meet at once (memory still in use) is logged and left as it was.
 */
export async function releaseCachedBlocks(store: Store): Promise<void> {
  try {
    await runStep(store.conn, 'release cached blocks', "SET memory_limit = '256MB'");
  } catch (error) {
    log().info({ error: redact(error instanceof Error ? error.message : String(error)) }, 'cached blocks not released');
  } finally {
    // The limit as configured (DuckDB shows it rounded: setting back what it shows would lower it).
    await runStep(store.conn, 'restore memory limit', `SET memory_limit = ${quoteLiteral(store.memoryLimit)}`);
  }
}
