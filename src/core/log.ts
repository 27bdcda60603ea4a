import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

/**
 * JSON-lines log in the workspace (logs/bidui.log). Never pass ID numbers, names or raw rows to
 * it: log counts, dataset names, file paths, step names and timings only.
 */
let current: Logger = pino({ level: 'silent' });

export function openLog(workspace: string, level = process.env.BIDUI_LOG_LEVEL ?? 'debug'): Logger {
  const dir = path.join(workspace, 'logs');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dest = pino.destination({ dest: path.join(dir, 'bidui.log'), sync: true, mkdir: true });
  current = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return current;
}

export function log(): Logger {
  return current;
}

export function closeLog(): void {
  current.flush?.();
  current = pino({ level: 'silent' });
}
