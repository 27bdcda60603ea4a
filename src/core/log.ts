import fs from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * JSON-lines log in the workspace (logs/bidui.log). Never pass ID numbers, names or raw rows to
 * it: log counts, dataset names, file paths, step names and timings only.
 *
 * Logging never stops the work: a line that cannot be written (a full disk) is dropped and
 * counted (`droppedLines`), so the real failure is the one reported.
 */
let current: Logger = pino({ level: 'silent' });
let fd: number | undefined;
let dropped = 0;

/** A synchronous append-only destination whose write failures are counted, never thrown. */
function safeDestination(file: string): DestinationStream {
  fd = fs.openSync(file, 'a', 0o600);
  const own = fd;
  return {
    write(line: string): void {
      try {
        fs.writeSync(own, line);
      } catch {
        dropped++;
      }
    },
  };
}

export function openLog(workspace: string, level = process.env.BIDUI_LOG_LEVEL ?? 'debug'): Logger {
  const dir = path.join(workspace, 'logs');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeLog();
  current = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, safeDestination(path.join(dir, 'bidui.log')));
  return current;
}

export function log(): Logger {
  return current;
}

/** Log lines that could not be written since the process started. */
export function droppedLines(): number {
  return dropped;
}

export function closeLog(): void {
  if (fd !== undefined) {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
    fd = undefined;
  }
  current = pino({ level: 'silent' });
}
