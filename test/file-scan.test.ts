import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanFile } from '../src/ingest/file-scan.js';
import { testDir } from './helpers.js';

describe('scanFile', () => {
  let t: { dir: string; cleanup: () => void };
  beforeEach(() => {
    t = testDir();
  });
  afterEach(() => t.cleanup());

  it('accepts UTF-8 whose multi-byte characters straddle the 1 MiB read boundaries', async () => {
    // 3-byte characters after a 1-byte offset: every read boundary splits a character.
    const text = `a${'镇远县舞阳镇'.repeat(400_000)}\n`;
    const file = path.join(t.dir, 'big.csv');
    fs.writeFileSync(file, text);
    const scan = await scanFile(file);
    expect(scan.utf8).toBe(true);
    expect(scan.size).toBe(Buffer.byteLength(text));
    expect(scan.sha256).toBe(crypto.createHash('sha256').update(text).digest('hex'));
  });

  it('names the line of the first byte that is not UTF-8, far into the file', async () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => `第${i}行,舞阳镇`);
    const bytes = Buffer.concat([Buffer.from(lines.slice(0, 150_000).join('\n') + '\n'), Buffer.from([0xd5, 0xc5, 0x0a]), Buffer.from(lines.slice(150_000).join('\n'))]);
    const file = path.join(t.dir, 'bad.csv');
    fs.writeFileSync(file, bytes);
    const scan = await scanFile(file);
    expect(scan.utf8).toBe(false);
    expect(scan.firstBadUtf8Line).toBe(150_001);
  });

  it('rejects a file that ends inside a character', async () => {
    const file = path.join(t.dir, 'cut.csv');
    fs.writeFileSync(file, Buffer.from('乡镇').subarray(0, 4));
    expect((await scanFile(file)).utf8).toBe(false);
  });
});
