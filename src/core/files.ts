import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Create a folder readable by the owner only (also when it already exists). */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** System folders no workspace or output may be in (Node's recursive mkdir loops forever under /proc). */
const SYSTEM_DIRS = ['/proc', '/sys', '/dev', '/etc', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/boot', '/run'];

/** Is `inner` the folder `outer` or inside it? */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Why bidui cannot make or write folder `dir` (Chinese), or undefined when it can: a folder of
 * the system, a file on the way, or no write permission on the nearest existing folder.
 */
export function unwritableDir(dir: string): string | undefined {
  const abs = path.resolve(dir);
  if (SYSTEM_DIRS.some((s) => abs === s || abs.startsWith(`${s}/`))) return '这是系统目录';
  for (let d = abs; ; d = path.dirname(d)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(d);
    } catch {
      if (path.dirname(d) === d) return undefined;
      continue;
    }
    if (!stat.isDirectory()) return `路径中的「${d}」是一个文件`;
    try {
      fs.accessSync(d, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      return `没有在「${d}」中写入的权限`;
    }
    return undefined;
  }
}
