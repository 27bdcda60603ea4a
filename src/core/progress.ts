/**
 * Progress for long steps on stderr: a redrawn line on a terminal, plain lines otherwise
 * (CI logs, cron mail). Messages are Chinese: office users read them.
 */
export interface Progress {
  step(message: string): void;
  /** Update a counter inside the current step (only drawn on a terminal, throttled). */
  tick(done: number, total?: number): void;
  done(message?: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { step() {}, tick() {}, done() {} };
  const tty = Boolean(stream.isTTY);
  let current = '';
  let lastDraw = 0;
  const draw = (text: string) => {
    if (tty) stream.write(`\r\x1b[2K${text}`);
  };
  return {
    step(message) {
      if (tty && current) stream.write('\n');
      current = message;
      if (tty) draw(message);
      else stream.write(`${message}\n`);
    },
    tick(done, total) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      if (total && total > 0) {
        const width = 24;
        const filled = Math.min(width, Math.round((done / total) * width));
        draw(`${current} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round((done / total) * 100)}%`);
      } else {
        draw(`${current} ${done.toLocaleString('en-US')}`);
      }
    },
    done(message) {
      if (tty && current) stream.write('\n');
      current = '';
      if (message) stream.write(`${message}\n`);
    },
  };
}
