import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import { type Config, loadConfig } from '../config/config.js';
import { closeLog, log, openLog } from '../core/log.js';
import { openStore, type Store } from '../core/store.js';
import { acquireLock, cleanTemps, ensureWorkspace, waitWhileLocked, workspacePaths } from '../core/workspace.js';

/** How long a read-only command waits for a running bidui to finish (ms; BIDUI_BUSY_WAIT_MS). */
const BUSY_WAIT_MS = Number(process.env.BIDUI_BUSY_WAIT_MS ?? 10_000);
import { recoverOutputDir } from '../report/output-dir.js';
import { noteFolders } from '../core/disk.js';

/**
 * Open config, workspace, log and store for one command, and close them whatever happens.
 * Library temp files (exceljs spills worksheets to os.tmpdir()) are redirected into the
 * workspace's tmp folder, so nothing personal lands outside it.
 */
export async function withStore<T>(
  configFile: string,
  command: string,
  options: { lock: boolean; /** The store must exist already (commands that only read or remove). */ existing?: boolean },
  fn: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig(configFile);
  if (options.existing && !fs.existsSync(workspacePaths(config.workspace).storeFile)) {
    throw new UserError('E_NO_WORKSPACE', `工作区中还没有数据库：${config.workspace}`, {
      file: configFile, hint: '检查配置中的 workspace 路径是否写对；新的工作区先运行 bidui ingest 或 bidui run。',
    });
  }
  const ws = ensureWorkspace(config.workspace);
  noteFolders({ workspace: ws.dir });
  process.env.TMPDIR = ws.tmpDir;
  openLog(ws.dir);
  const release = options.lock ? acquireLock(ws, command, config.timeZone) : () => {};
  if (!options.lock) await waitWhileLocked(ws, BUSY_WAIT_MS, config.timeZone);
  const started = performance.now();
  let store: Store | undefined;
  try {
    if (options.lock) {
      const removed = cleanTemps(ws);
      if (removed) log().info({ removed }, 'temporary files of a dead process removed');
      // A report swap cut by a kill: the previous outputs are put back.
      if (config.output.dir) recoverOutputDir(config.output.dir);
    }
    log().info({ command, configHash: config.hash }, 'command started');
    store = await openStore(ws, config.engine);
    const result = await fn(store, config);
    log().info({ command, ms: Math.round(performance.now() - started) }, 'command finished');
    return result;
  } finally {
    store?.close();
    release();
    closeLog();
  }
}
