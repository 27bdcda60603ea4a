import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { privateDir, unwritableDir } from '../core/files.js';
import { keepOnExit, pidAlive, removeOnExit } from '../core/workspace.js';
import { failpoint } from '../core/failpoint.js';
import { log } from '../core/log.js';

/**
 * Output folders written whole: a report goes to a staging folder beside the target and is moved
 * into place when complete, so that a kill leaves either the previous complete outputs or the new
 * ones, never a mix and never a partial file under a final name.
 *
 *   <parent>/.<name>.bidui-new-<pid>   the report being written
 *   <parent>/.<name>.bidui-old-<pid>   the previous outputs, for the moment of the swap
 *
 * The swap replaces the whole target folder, so bidui only writes to a folder it made (marked by
 * MARKER) or an empty or new one.
 */
export const MARKER = '.bidui-output';
const MARKER_TEXT = 'bidui 输出目录：每次生成报告时整体替换，请不要在此存放其他文件。\n';

/** Is this folder one bidui wrote (its marker, or the files of a report of an earlier version)? */
function isOutputFolder(dir: string, names: string[]): boolean {
  if (names.includes(MARKER)) return true;
  return names.includes('manifest.json') && names.includes('summary.html') && fs.statSync(path.join(dir, 'manifest.json')).isFile();
}

/**
 * Refuse a target bidui must not replace: `/`, the home folder, a file, or an existing folder
 * with other content. Throws UserError E_OUT_DIR (exit 2).
 */
export function checkOutputDir(out: string): void {
  const dir = path.resolve(out);
  const hint = '用 --out 或配置中的 output.dir 指定一个新的（或空的）目录，例如 ./out；bidui 每次生成报告时会整体替换这个目录。';
  if (dir === path.parse(dir).root || dir === path.resolve(os.homedir())) {
    throw new UserError('E_OUT_DIR', `输出目录不能是根目录或用户主目录：${dir}`, { hint });
  }
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stat && !stat.isDirectory()) throw new UserError('E_OUT_DIR', `输出目录指向的是一个文件，不是目录：${dir}`, { hint });
  const unwritable = unwritableDir(dir);
  if (unwritable) throw new UserError('E_OUT_DIR', `无法使用输出目录 ${dir}：${unwritable}`, { hint: '用 --out 或配置中的 output.dir 指定一个可写的目录；检查目录的权限。' });
  if (!stat) return;
  const names = fs.readdirSync(dir);
  if (names.length > 0 && !isOutputFolder(dir, names)) {
    throw new UserError('E_OUT_DIR', `输出目录中已有其他文件（${names.slice(0, 3).join('、')}${names.length > 3 ? ' 等' : ''}），它不是 bidui 创建的输出目录`, { hint });
  }
}

/**
 * Put back what a killed bidui left beside `out` (and beside its siblings: one folder per night
 * leaves a new name each night): if a swap was cut between its two renames, the previous
 * outputs are moved back; unfinished new outputs (names and IDs) are removed. Call under the
 * workspace lock.
 */
export function recoverOutputDir(out: string): void {
  const parent = path.dirname(path.resolve(out));
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names.sort()) {
    const m = /^\.(.+)\.bidui-(new|old)-([0-9]+)$/.exec(name);
    if (!m || Number(m[3]) === process.pid || pidAlive(Number(m[3]))) continue;
    const p = path.join(parent, name);
    const target = path.join(parent, m[1]!);
    if (m[2] === 'old' && !fs.existsSync(target)) {
      fs.renameSync(p, target);
      log().warn({ out: target }, 'previous outputs put back after an interrupted swap');
    } else {
      fs.rmSync(p, { recursive: true, force: true });
      log().info({ out: target, removed: name }, 'unfinished outputs of a dead process removed');
    }
  }
}

/** A staging folder for `out` (checked, leftovers recovered); write into it, then commit. */
export function beginOutput(out: string): string {
  const dir = path.resolve(out);
  checkOutputDir(dir);
  recoverOutputDir(dir);
  const staging = path.join(path.dirname(dir), `.${path.basename(dir)}.bidui-new-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  // Removed if this process ends before the report is in place (Ctrl-C, kill): it holds lists.
  removeOnExit(staging);
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    privateDir(staging);
    fs.writeFileSync(path.join(staging, MARKER), MARKER_TEXT, { mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
      throw new UserError('E_OUT_DIR', `无法在输出目录所在的位置写入（${code}）：${path.dirname(dir)}`, {
        hint: '确认该目录存在、可写、不是只读的磁盘；或用 --out 指定另一个目录。',
      });
    }
    throw error;
  }
  return staging;
}

/** Move a complete staging folder into place (the previous outputs are removed after). */
export function commitOutput(staging: string, out: string): void {
  const dir = path.resolve(out);
  const old = path.join(path.dirname(dir), `.${path.basename(dir)}.bidui-old-${process.pid}`);
  fs.rmSync(old, { recursive: true, force: true });
  failpoint('output:before-swap');
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  failpoint('output:mid-swap');
  fs.renameSync(staging, dir);
  keepOnExit(staging);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Remove a staging folder that will not be committed (a failure while writing). */
export function abandonOutput(staging: string): void {
  fs.rmSync(staging, { recursive: true, force: true });
  keepOnExit(staging);
}
