import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../src/core/progress.js';

function capture(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  return { stream: Object.assign(s, { isTTY: tty }) as unknown as NodeJS.WriteStream, text: () => out };
}

describe('progress on stderr', () => {
  it('draws a bar on a terminal', async () => {
    const c = capture(true);
    const p = createProgress(c.stream);
    p.step('导入 户籍人口');
    p.tick(50, 100);
    p.done('完成');
    await new Promise((r) => setImmediate(r));
    expect(c.text()).toMatch(/导入 户籍人口 \[#{12}\.{12}\] 50%/);
    expect(c.text()).toContain('\r\x1b[2K');
  });

  it('writes plain lines otherwise (logs, cron mail)', async () => {
    const c = capture(false);
    const p = createProgress(c.stream);
    p.step('导入 户籍人口');
    p.tick(50, 100);
    p.done('完成');
    await new Promise((r) => setImmediate(r));
    expect(c.text()).toBe('导入 户籍人口\n完成\n');
  });
});
