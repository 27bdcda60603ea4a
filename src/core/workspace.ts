import fs from 'node:fs';
import path from 'node:path';
import { EXIT, UserError } from './errors.js';

/**
 * The workspace folder holds the DuckDB store, logs and temporary files. Everything in it may be
 * personal data, so it is created owner-only (0700) and bidui runs with umask 077 (set in bin/).
 */
export interface Workspace {
  dir: string;
  storeFile: string;
  tmpDir: string;
  logDir: string;
}

export function workspacePaths(dir: string): Workspace {
  return {
    dir,
    storeFile: path.join(dir, 'bidui.duckdb'),
    tmpDir: path.join(dir, 'tmp'),
    logDir: path.join(dir, 'logs'),
  };
}

export function ensureWorkspace(dir: string): Workspace {
  const ws = workspacePaths(dir);
  for (const d of [ws.dir, ws.tmpDir, ws.logDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  return ws;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on the workspace, so two runs cannot write the store at once. A lock left by
 * a process that no longer exists is taken over.
 */
export function acquireLock(ws: Workspace, command: string): () => void {
  const lockFile = path.join(ws.dir, 'bidui.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, command, since: new Date().toISOString() }));
      fs.closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        fs.rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: { pid?: number; command?: string; since?: string } = {};
      try {
        holder = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
      } catch {
        // Unreadable lock: treat as stale below.
      }
      if (holder.pid && holder.pid !== process.pid && pidAlive(holder.pid)) {
        throw new UserError(
          'E_LOCKED',
          `工作区正被另一个 bidui 进程使用（进程号 ${holder.pid}，命令 ${holder.command ?? '未知'}，开始于 ${holder.since ?? '未知'}）`,
          {
            file: ws.dir,
            hint: '等上一次运行结束后再试；如果确定没有 bidui 在运行，删除工作区中的 bidui.lock 文件。',
            exitCode: EXIT.locked,
          },
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new UserError('E_LOCKED', '无法获得工作区锁', { file: ws.dir, exitCode: EXIT.locked });
}

/** Temporary paths this process made (removed on exit, also after SIGINT/SIGTERM). */
const temps = new Set<string>();
let exitHook = false;

function removeTemps(): void {
  for (const p of temps) fs.rmSync(p, { recursive: true, force: true });
  temps.clear();
}

/**
 * A private temporary file path inside the workspace (never the system /tmp). Its name starts
 * with this process's id, so that a later bidui can tell a dead process's leftovers
 * (cleanTemps); it is removed when this process exits, whatever happens, except SIGKILL.
 */
export function tempFile(ws: Workspace, suffix: string): string {
  const name = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}${suffix}`;
  const p = path.join(ws.tmpDir, name);
  temps.add(p);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', removeTemps);
  }
  return p;
}

/**
 * Remove what dead bidui processes left in the workspace's tmp folder (decoded copies of exports
 * hold names and IDs). Call under the workspace lock. Files whose name does not start with a
 * process id (DuckDB's own spill files) are left to DuckDB.
 */
export function cleanTemps(ws: Workspace): number {
  let removed = 0;
  if (!fs.existsSync(ws.tmpDir)) return 0;
  for (const name of fs.readdirSync(ws.tmpDir)) {
    const m = /^([0-9]+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    fs.rmSync(path.join(ws.tmpDir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
