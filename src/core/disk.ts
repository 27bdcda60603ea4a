import fs from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.js';
import { isInside } from './files.js';

/**
 * A full disk, told apart from bugs: Node's ENOSPC (and EDQUOT, a quota) and DuckDB's write and
 * checkpoint failures ("No space left on device"). The message names the folders bidui was
 * writing to, the space free there and roughly how much a run needs.
 */
const FULL = /ENOSPC|EDQUOT|No space left on device|Disk quota exceeded|not enough space on the disk/i;

/** The folders this command writes to and the size of its input, for the message. */
interface Folders {
  workspace?: string;
  out?: string;
  /** Bytes of the input files this command reads (a run needs room for a copy or two). */
  inputBytes?: number;
}
let folders: Folders = {};

export function noteFolders(f: Folders): void {
  folders = { ...folders, ...f };
}

/** Is this error (or one it was caused by) a full disk? */
export function isDiskFull(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (x.code === 'ENOSPC' || x.code === 'EDQUOT' || (typeof x.message === 'string' && FULL.test(x.message))) return true;
    e = x.cause;
  }
  return false;
}

const mb = (bytes: number) => (bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / (1 << 20)))} MB`);

/** Free bytes on the file system holding `dir` (or its nearest existing parent). */
function freeBytes(dir: string): number | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = fs.statfsSync(d);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(d) === d) return undefined;
    }
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The file a failed write was for, from Node's error (path) or DuckDB's message ("…file \"x\"…"). */
function failedPath(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const x = e as { path?: unknown; message?: unknown; cause?: unknown };
    if (typeof x.path === 'string') return x.path;
    const m = typeof x.message === 'string' ? /file "([^"]+)"/.exec(x.message) : null;
    if (m) return m[1];
    e = x.cause;
  }
  return undefined;
}

/** The user's error for a full disk (exit 2): where, how much is free, roughly how much is needed. */
export function diskFullError(error?: unknown): UserError {
  const all = [folders.workspace && ['工作区', folders.workspace], folders.out && ['输出目录', folders.out]].filter(Boolean) as [string, string][];
  // The folder the failed write was for, when the error says; else every folder of the command.
  const failed = failedPath(error);
  // A report is written beside its folder first (.<name>.bidui-new-<pid>).
  const within = (file: string, dir: string) => {
    const d = path.resolve(dir);
    return isInside(file, d) || path.resolve(file).startsWith(path.join(path.dirname(d), `.${path.basename(d)}.bidui-`));
  };
  const hit = failed ? all.filter(([, dir]) => within(failed, dir)) : [];
  const places = hit.length ? hit : all;
  const store = folders.workspace ? sizeOf(path.join(folders.workspace, 'bidui.duckdb')) + sizeOf(path.join(folders.workspace, 'bidui.duckdb.wal')) : 0;
  // A run keeps a decoded copy of changed files and DuckDB's spill beside the store, and the
  // store grows by about the size of what it loads; a checkpoint rewrites part of it.
  const need = 2 * (folders.inputBytes ?? 0) + Math.round(store / 2) + (64 << 20);
  const where = places.map(([label, dir]) => {
    const free = freeBytes(dir);
    return `${label} ${dir}（剩余 ${free === undefined ? '未知' : mb(free)}）`;
  });
  return new UserError('E_DISK_FULL', `磁盘空间不足，写入${hit.length ? '' : '以下目录时'}失败：${where.join('；') || '（未知目录）'}。已提交的数据没有受影响，本次未完成的部分没有写入`, {
    hint: `清理所在磁盘，留出至少约 ${mb(need)} 的可用空间（本次读取的文件 ${mb(folders.inputBytes ?? 0)}，数据库 ${mb(store)}），或把工作区、输出目录移到更大的磁盘，然后重新运行；也可以用 bidui gc 清理旧的运行和快照。`,
  });
}
