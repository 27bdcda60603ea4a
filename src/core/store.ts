import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UserError } from './errors.js';
import { queryStep, runStep } from './sql.js';
import type { Workspace } from './workspace.js';
import { installMacros } from '../ingest/sql-macros.js';
import { STORE_SCHEMA_SQL, STORE_SCHEMA_VERSION } from '../ingest/store-schema.js';

export interface EngineOptions {
  memoryLimit?: string;
  threads?: number | undefined;
}

export interface Store {
  conn: DuckDBConnection;
  ws: Workspace;
  close(): void;
}

/**
 * Open (or create) the workspace's DuckDB store. DuckDB spills to the workspace's tmp folder,
 * never to the system temp directory, so that personal data stays where the office put it.
 */
export async function openStore(ws: Workspace, engine: EngineOptions = {}): Promise<Store> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(ws.storeFile, {
      temp_directory: ws.tmpDir,
      memory_limit: engine.memoryLimit ?? '3GB',
      ...(engine.threads ? { threads: String(engine.threads) } : {}),
    });
  } catch (error) {
    throw new UserError('E_STORE_OPEN', `无法打开数据库文件：${(error as Error).message}`, {
      file: ws.storeFile,
      hint: '确认没有其他程序正在使用该文件，且工作区目录可写。',
    });
  }
  const conn = await instance.connect();
  await runStep(conn, 'pin time zone', "SET TimeZone = 'UTC'");
  await installMacros(conn);
  await runStep(conn, 'create store schema', STORE_SCHEMA_SQL);
  const rows = await queryStep<{ value: string }>(conn, 'read schema version', "SELECT value FROM meta WHERE key = 'schema_version'");
  if (rows.length === 0) {
    await runStep(conn, 'write schema version', "INSERT INTO meta VALUES ('schema_version', ?)", [String(STORE_SCHEMA_VERSION)]);
  } else if (rows[0]!.value !== String(STORE_SCHEMA_VERSION)) {
    conn.closeSync();
    instance.closeSync();
    throw new UserError('E_STORE_VERSION', `工作区数据库的结构版本（${rows[0]!.value}）与本程序（${STORE_SCHEMA_VERSION}）不一致`, {
      file: ws.storeFile,
      hint: '使用创建该工作区的 bidui 版本，或另建一个新的工作区重新导入。',
    });
  }
  return {
    conn,
    ws,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
