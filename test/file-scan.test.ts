import crypto from 'node:crypto';
import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstBadLine, lineEnd, LineStats, MAX_BLANK_LINES, scanFile } from '../src/ingest/file-scan.js';
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

  it('names that line in a file whose lines end in CR only, across read boundaries', async () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => `第${i}行,舞阳镇`);
    const bytes = Buffer.concat([Buffer.from(lines.slice(0, 150_000).join('\r') + '\r'), Buffer.from([0xd5, 0xc5, 0x0d]), Buffer.from(lines.slice(150_000).join('\r'))]);
    const file = path.join(t.dir, 'bad-cr.csv');
    fs.writeFileSync(file, bytes);
    expect((await scanFile(file)).firstBadUtf8Line).toBe(150_001);
  });

  it('judges the line end from the first chunk: LF for LF and CR LF files (a stray CR in a cell too), CR for CR-only lines (a line feed in a cell too)', () => {
    const cases: [string, number][] = [
      ['a,b\nc,d\n', 0x0a], ['a,b\r\nc,d\r\n', 0x0a], ['a,"b\rx"\nc,d\ne,f\n', 0x0a], ['a,"b\r\nx"\r\nc,d\r\n', 0x0a],
      ['a,b\rc,d\r', 0x0d], ['a,"b\nx"\rc,d\re,f\r', 0x0d], ['a,b', 0x0a], ['', 0x0a],
    ];
    for (const [text, eol] of cases) expect([text, lineEnd(Buffer.from(text))]).toEqual([text, eol]);
  });

  it('names the same first bad line as decoding the chunk and counting line breaks before the first U+FFFD', () => {
    // The decoding way, as it was (slower). It differs only on a real U+FFFD in the text before
    // the bad byte, which it took for the bad byte; no piece here holds one.
    const byDecoding = (buf: Buffer) => {
      const text = new TextDecoder('utf-8').decode(buf);
      return Buffer.from(text.slice(0, Math.max(text.indexOf('\uFFFD'), 0))).filter((b) => b === 0x0a).length + 1;
    };
    // Lines of ASCII, UTF-8 Chinese, GBK bytes, stray continuation or lead bytes, CR LF.
    const piece = fc.oneof(
      fc.constantFrom('a,b', '舞阳镇', '\r\n', '\n', '').map((x) => Buffer.from(x)),
      fc.constantFrom([0xd5, 0xc5], [0xe4], [0x80], [0xf0, 0x9f], [0xc3]).map((x) => Buffer.from(x)),
    );
    fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 40 }), (pieces) => {
      const buf = Buffer.concat(pieces);
      fc.pre(!isUtf8(buf));
      expect(firstBadLine(buf)).toBe(byDecoding(buf));
    }), { numRuns: 2000 });
  });

  it('rejects a file that ends inside a character', async () => {
    const file = path.join(t.dir, 'cut.csv');
    fs.writeFileSync(file, Buffer.from('乡镇').subarray(0, 4));
    expect((await scanFile(file)).utf8).toBe(false);
  });
});

describe('LineStats: blank lines (DuckDB skips them; rows after them are numbered from these)', () => {
  // A file planted as lines, each with content or blank, joined by LF or CRLF and fed in chunks cut
  // anywhere (a CRLF and a pair of LFs may be cut in two); the blank lines before the last line
  // with content are the planted ones, numbered from 1.
  const file = fc.record({
    lines: fc.array(fc.oneof(fc.constant(''), fc.constantFrom('a,b', '张三,522625', 'x')), { minLength: 1, maxLength: 40 }),
    crlf: fc.boolean(),
    terminated: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  });

  it('names the planted blank lines and counts those at the end, whatever the line terminator and the chunk boundaries', () => {
    fc.assert(
      fc.property(file, ({ lines, crlf, terminated, cuts }) => {
        const nl = crlf ? '\r\n' : '\n';
        const bytes = Buffer.from(lines.join(nl) + (terminated ? nl : ''));
        const stats = new LineStats();
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const cut of [...at, bytes.length]) {
          stats.add(bytes.subarray(from, cut));
          from = cut;
        }
        stats.finish();
        const lastContent = lines.findLastIndex((l) => l !== '') + 1;
        const planted = lines.flatMap((l, i) => (l === '' && i + 1 < lastContent ? [i + 1] : []));
        expect(stats.blankLines()).toEqual(planted);
        expect(stats.interiorBlank).toBe(planted.length > 0);
        // The blank lines after the last content (csv-parse reads each as an empty row).
        const after = lastContent === 0 ? 0 : lines.length - lastContent;
        expect(stats.trailingBlankLines()).toBe(lastContent === 0 ? 0 : terminated ? after : Math.max(0, after - 1));
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('does not name them when there are too many, or in a file of bare CRs', () => {
    const many = new LineStats();
    many.add(Buffer.from(`h\n${'a\n\n'.repeat(MAX_BLANK_LINES + 1)}a\n`));
    many.finish();
    expect([many.interiorBlank, many.blankLines()]).toEqual([true, undefined]);
    const cr = new LineStats();
    cr.add(Buffer.from('h\ra\r\rb\r'));
    cr.finish();
    expect([cr.interiorBlank, cr.blankLines()]).toEqual([true, undefined]);
  });
});
