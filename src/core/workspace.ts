import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT, UserError } from './errors.js';
import { formatLocal } from './time.js';
import { unwritableDir } from './files.js';

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

/** The file that marks a folder as a bidui workspace. */
export const WORKSPACE_MARKER = '.bidui-workspace';

/**
 * Create (or open) a workspace. Refused with E_WORKSPACE: `/`, the home folder, a file, and an
 * existing non-empty folder that is not a workspace (no marker and no store). Folders are made
 * 0700 and the store's files 0600, also when they already exist with wider modes.
 */
export function ensureWorkspace(dir: string): Workspace {
  const ws = workspacePaths(path.resolve(dir));
  const hint = '在配置中把 workspace 设为一个新的（或空的）目录，例如 "./workspace"；工作区中的文件都可能含有个人信息，只应由 bidui 使用。';
  if (ws.dir === path.parse(ws.dir).root || ws.dir === path.resolve(os.homedir())) {
    throw new UserError('E_WORKSPACE', `工作区不能是根目录或用户主目录：${ws.dir}`, { hint });
  }
  const unwritable = unwritableDir(ws.dir);
  if (unwritable) throw new UserError('E_WORKSPACE', `无法使用工作区目录 ${ws.dir}：${unwritable}`, { hint: '在配置中把 workspace 设为一个可写的目录，例如 "./workspace"；检查目录的权限。' });
  if (fs.existsSync(ws.dir)) {
    if (!fs.statSync(ws.dir).isDirectory()) throw new UserError('E_WORKSPACE', `工作区指向的是一个文件，不是目录：${ws.dir}`, { hint });
    const names = fs.readdirSync(ws.dir);
    // A workspace of an earlier version has no marker: its store, or only bidui's own folders.
    const own = new Set([WORKSPACE_MARKER, 'bidui.duckdb', 'bidui.duckdb.wal', 'bidui.lock', 'tmp', 'logs']);
    if (!names.includes(WORKSPACE_MARKER) && !names.includes('bidui.duckdb') && !names.every((n) => own.has(n))) {
      throw new UserError('E_WORKSPACE', `工作区目录中已有其他文件（${names.slice(0, 3).join('、')}${names.length > 3 ? ' 等' : ''}），它不是 bidui 的工作区`, { hint });
    }
  }
  for (const d of [ws.dir, ws.tmpDir, ws.logDir]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
  }
  const marker = path.join(ws.dir, WORKSPACE_MARKER);
  if (!fs.existsSync(marker)) fs.writeFileSync(marker, 'bidui 工作区：数据库、日志和临时文件，可能含有个人信息。\n', { mode: 0o600 });
  for (const f of [ws.storeFile, `${ws.storeFile}.wal`, path.join(ws.logDir, 'bidui.log')]) {
    if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
  }
  return ws;
}

/** Is a process with this id running (also one of another user: EPERM)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When a process started (Linux: clock ticks since boot, /proc/<pid>/stat field 22), if known. */
function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface LockHolder {
  pid?: number;
  command?: string;
  since?: string;
  /** processStart of the holder when it took the lock. */
  start?: string;
}

/**
 * Is the process that wrote this lock still running? Its process id may have been reused by
 * another process since (after a reboot or a power cut, ids are small and soon reused): the
 * start time recorded in the lock must match; without one, the process must be a bidui.
 */
function holderAlive(holder: LockHolder): boolean {
  if (!holder.pid || holder.pid === process.pid || !pidAlive(holder.pid)) return false;
  const start = processStart(holder.pid);
  if (holder.start !== undefined && start !== undefined) return start === holder.start;
  try {
    // bidui's own entry among the arguments (node …/bin/bidui.js, or an installed …/bidui), not
    // "bidui" anywhere: a folder of that name (a checkout, an editor opened in it) is no holder.
    return fs.readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').split('\0').some((arg) => /^bidui(\.js)?$/.test(path.basename(arg)));
  } catch {
    return true;
  }
}

/**
 * An exclusive lock on the workspace, so two runs cannot write the store at once. A lock left by
 * a process that no longer exists is taken over.
 */
export function acquireLock(ws: Workspace, command: string, timeZone: string): () => void {
  const lockFile = path.join(ws.dir, 'bidui.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify({ pid: process.pid, command, since: new Date().toISOString(), start: processStart(process.pid) }));
      } catch (error) {
        // A full disk: no half-written lock is left behind.
        fs.closeSync(fd);
        fs.rmSync(lockFile, { force: true });
        throw error;
      }
      fs.closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        fs.rmSync(lockFile, { force: true });
      };
      // Released whatever ends the process (an error, a signal), except SIGKILL.
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: LockHolder = {};
      try {
        holder = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
      } catch {
        // Unreadable lock: treat as stale below.
      }
      if (holderAlive(holder)) {
        throw new UserError(
          'E_LOCKED',
          `工作区正被另一个 bidui 进程使用（进程号 ${holder.pid}，命令 ${holder.command ?? '未知'}，开始于 ${holder.since ? formatLocal(holder.since, timeZone) : '未知'}）`,
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

/** The live process holding the workspace lock, if any. */
function lockHolder(ws: Workspace): (LockHolder & { pid: number }) | undefined {
  try {
    const holder = JSON.parse(fs.readFileSync(path.join(ws.dir, 'bidui.lock'), 'utf8')) as LockHolder;
    return holderAlive(holder) ? (holder as LockHolder & { pid: number }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For commands that only read (runs, snapshots): while another bidui holds the workspace (its
 * store cannot be opened then), wait up to `waitMs`, then say the workspace is busy (E_BUSY,
 * exit 3).
 */
export async function waitWhileLocked(ws: Workspace, waitMs: number, timeZone: string): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let holder = lockHolder(ws); holder; holder = lockHolder(ws)) {
    if (Date.now() >= deadline) {
      throw new UserError('E_BUSY', `工作区正在被另一个 bidui 进程使用（进程号 ${holder.pid}，命令 ${holder.command ?? '未知'}，开始于 ${holder.since ? formatLocal(holder.since, timeZone) : '未知'}），暂时无法读取`, {
        file: ws.dir, hint: '等这次运行结束后再查看（bidui run 通常几分钟内结束）。', exitCode: EXIT.locked,
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Temporary paths this process made (removed on exit, also after SIGINT/SIGTERM). */
const temps = new Set<string>();
let exitHook = false;

function removeTemps(): void {
  for (const p of temps) fs.rmSync(p, { recursive: true, force: true });
  temps.clear();
}

/** Remove `p` when this process exits (whatever ends it but SIGKILL), unless kept first. */
export function removeOnExit(p: string): void {
  temps.add(p);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', removeTemps);
  }
}

/** No longer remove `p` on exit (it was moved into place). */
export function keepOnExit(p: string): void {
  temps.delete(p);
}

/**
 * A private temporary file path inside the workspace (never the system /tmp). Its name starts
 * with this process's id, so that a later bidui can tell a dead process's leftovers
 * (cleanTemps); it is removed when this process exits, whatever happens, except SIGKILL.
 */
export function tempFile(ws: Workspace, suffix: string): string {
  const name = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}${suffix}`;
  const p = path.join(ws.tmpDir, name);
  removeOnExit(p);
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
    // Temp files start with their process id; a report's staging folder ends with it.
    const m = /\.bidui-(?:new|old)-([0-9]+)$/.exec(name) ?? /^([0-9]+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    fs.rmSync(path.join(ws.tmpDir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
