import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Encoding } from '../../config/config.js';
import { UserError } from '../../core/errors.js';
import { type FileScan, LineStats, takeLines } from '../file-scan.js';

/** How a text file is decoded: read as it is (UTF-8), or transcoded to a private UTF-8 copy. */
export type TextEncoding = 'utf-8' | 'gb18030' | 'utf-16le' | 'utf-16be';

/**
 * The encoding of a text file (DOMAIN.md): a configured encoding wins; a UTF-16 byte-order mark
 * (Excel's "Unicode 文本") means UTF-16, and so does text whose ASCII characters have a zero
 * byte on one side (UTF-16 without a BOM); otherwise strict UTF-8 (BOM or not), else GB18030.
 */
export function chooseEncoding(scan: FileScan, configured: Encoding): TextEncoding {
  if (configured === 'utf-16le' || configured === 'utf-16be') return configured;
  if (configured === 'utf-8') {
    if (!scan.utf8) {
      // The first bad line is exact (file-scan.ts firstBadLine); whether the rest of the file is
      // UTF-8 is not known here (the check stops at the first bad byte), so both causes are named.
      throw new UserError('E_ENCODING', `文件不是有效的 UTF-8 编码（第 ${scan.firstBadUtf8Line ?? '?'} 行有无法解码的字节）`, {
        file: scan.path,
        hint: '如果文件中的中文大多是乱码，它可能是 GBK 编码（WPS/Excel 另存的“CSV”常见）：把配置中该数据集的 encoding 改为 "gbk" 或 "auto"；如果只是这一行有问题，是这一行的文字损坏了：在 Excel/WPS 或文本编辑器中重新输入这一行的文字，另存为“CSV UTF-8”。encoding 为 "auto" 时 bidui 会判断是哪一种。',
      });
    }
    return 'utf-8';
  }
  if (configured === 'gbk' || configured === 'gb18030') return 'gb18030';
  if (scan.bom === 'utf-16le' || scan.bom === 'utf-16be') return scan.bom;
  if (scan.utf16Guess) return scan.utf16Guess;
  return scan.utf8 ? 'utf-8' : 'gb18030';
}

/**
 * Lines of a GBK file that are UTF-8 instead (or the other way round) give away a file that
 * switches encoding part-way, typically two exports pasted together. GB18030 decodes most UTF-8
 * bytes without an error, so the only sign is per line: a line that is valid UTF-8 and holds a
 * CJK character encoded as UTF-8 (three bytes E4–E9 80–BF 80–BF) is UTF-8, since GBK text of
 * Chinese characters is almost never valid UTF-8; a line that is not valid UTF-8 is GBK.
 */
class EncodingWatch {
  line = 0;
  /** The first lines of each kind (up to MINORITY + 1) and how many there are. */
  utf8Lines: number[] = [];
  gbkLines: number[] = [];
  utf8Count = 0;
  gbkCount = 0;
  /** The bytes of the first lines that are not UTF-8 (to tell GBK text from damaged bytes). */
  gbkBytes: Buffer[] = [];
  private pending: Buffer = Buffer.alloc(0);

  /** `eol`: the byte that ends a line (FileScan.lineEnd: CR in a file of CR-only lines, else LF). */
  constructor(private readonly eol: number) {}

  add(chunk: Buffer): void {
    this.pending = takeLines(this.pending, chunk, this.eol, (line) => this.check(line))!;
  }

  finish(): void {
    if (this.pending.length) this.check(this.pending);
  }

  /** Both kinds of line, more than a few of each: two files pasted together (known early). */
  get mixed(): boolean {
    return this.utf8Count > MINORITY && this.gbkCount > MINORITY;
  }

  /** At the end: lines of both kinds at all (a few of one kind are damaged or pasted lines). */
  get inconsistent(): boolean {
    return this.utf8Count > 0 && this.gbkCount > 0;
  }

  /** The 1-based line where the file changes encoding. */
  get switchLine(): number {
    return Math.max(this.utf8Lines[0] ?? 0, this.gbkLines[0] ?? 0);
  }

  get startsAsUtf8(): boolean {
    return (this.utf8Lines[0] ?? Infinity) < (this.gbkLines[0] ?? Infinity);
  }

  private check(line: Buffer): void {
    this.line++;
    if (this.mixed) return;
    if (isUtf8(line)) {
      if (!hasUtf8Cjk(line)) return;
      this.utf8Count++;
      if (this.utf8Lines.length <= MINORITY) this.utf8Lines.push(this.line);
    } else {
      this.gbkCount++;
      if (this.gbkLines.length <= MINORITY) {
        this.gbkLines.push(this.line);
        this.gbkBytes.push(Buffer.from(line));
      }
    }
  }
}

/** Up to this many lines of the other encoding are named as such, not as a switch. */
const MINORITY = 3;

function hasUtf8Cjk(line: Buffer): boolean {
  for (let i = 0; i + 2 < line.length; i++) {
    const b = line[i]!;
    if (b >= 0xe4 && b <= 0xe9 && (line[i + 1]! & 0xc0) === 0x80 && (line[i + 2]! & 0xc0) === 0x80) return true;
  }
  return false;
}

function mixedError(file: string, watch: EncodingWatch): UserError {
  // A few lines unlike the rest: damaged characters (a UTF-8 character cut in two) or a line
  // pasted from elsewhere, not a second file.
  // A line that is not UTF-8 but decodes as GBK is GBK text (pasted); one that decodes as
  // neither holds damaged bytes.
  const damaged = watch.gbkBytes.some((b) => {
    try {
      new TextDecoder('gb18030', { fatal: true }).decode(b);
      return false;
    } catch {
      return true;
    }
  });
  // A few lines among many (or damaged bytes, whatever the counts) are named; otherwise the file
  // switches encoding where the second kind starts.
  const fewGbk = watch.gbkCount <= MINORITY && (damaged || watch.utf8Count >= 10 * watch.gbkCount);
  const fewUtf8 = !fewGbk && watch.utf8Count <= MINORITY && watch.gbkCount >= 10 * watch.utf8Count;
  if (fewGbk || fewUtf8) {
    const lines = (fewGbk ? watch.gbkLines : watch.utf8Lines).map((n) => `第 ${n} 行`).join('、');
    const [other, rest] = fewGbk
      ? [damaged ? '有无法解码的字节（可能是复制或截断时损坏的字符）' : '是 GBK 编码', 'UTF-8']
      : ['是 UTF-8 编码', 'GBK'];
    return new UserError('E_ENCODING', `${lines}${other}，文件其余部分是 ${rest} 编码`, {
      file,
      hint: `在 Excel/WPS 或文本编辑器中检查并重新输入这几行中的文字，保存为${rest === 'UTF-8' ? '“CSV UTF-8”' : '同一种编码'}后重新导入；或重新导出该文件。`,
    });
  }
  const [from, to] = watch.startsAsUtf8 ? ['UTF-8', 'GBK'] : ['GBK', 'UTF-8'];
  return new UserError('E_MIXED_ENCODING', `文件的编码中途改变：前面是 ${from} 编码，从第 ${watch.switchLine} 行起变成了 ${to} 编码（常见于把两个导出文件拼接在一起）`, {
    file,
    hint: `在第 ${watch.switchLine} 行处把文件拆开，分别用 Excel/WPS 打开后另存为“CSV UTF-8”或 .xlsx，再分别导入（配置中可为同一数据集列出多个文件）。`,
  });
}

/** The first line (1-based) that does not decode (a second pass, only to name it in an error). */
async function firstUndecodableLine(file: string, encoding: 'gb18030' | 'utf-8', eol: number): Promise<number | undefined> {
  let line = 0;
  let pending: Buffer = Buffer.alloc(0);
  const decodes = (b: Buffer) => {
    try {
      new TextDecoder(encoding, { fatal: true }).decode(b);
      return true;
    } catch {
      return false;
    }
  };
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const left = takeLines(pending, chunk, eol, (bytes) => {
      line++;
      return decodes(bytes);
    });
    if (!left) return line;
    pending = left;
  }
  return pending.length && !decodes(pending) ? line + 1 : undefined;
}

/**
 * Transcode a GB18030 or UTF-16 file to UTF-8 in a stream (DuckDB cannot decode them offline)
 * into a private file in the workspace, and count the lines of the result. A GB18030 file whose
 * lines switch between GBK and UTF-8 is refused, naming the line where it switches; lines are
 * named as ending in `lineEnd` (FileScan.lineEnd).
 */
export async function transcodeToUtf8(
  file: string,
  encoding: TextEncoding,
  target: string,
  lineEnd: number,
  onBytes?: (done: number, total: number) => void,
): Promise<LineStats> {
  const total = fs.statSync(file).size;
  let done = 0;
  const decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  const watch = encoding === 'gb18030' ? new EncodingWatch(lineEnd) : undefined;
  const lines = new LineStats();
  const emit = (text: string): Buffer => {
    // NUL characters (fixed-width padding of old systems) are no part of any value.
    const out = Buffer.from(text.includes('\0') ? text.replaceAll('\0', '') : text, 'utf8');
    lines.add(out);
    return out;
  };
  // A decoding error is only final at the end: a file that starts as UTF-8 fails to decode as
  // GB18030 before the watch has seen its GBK lines, and is then a file that switches encoding.
  let failed: Error | undefined;
  const transcode = new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length;
      onBytes?.(done, total);
      watch?.add(chunk);
      if (watch?.mixed) return next(mixedError(file, watch));
      if (failed) return next();
      try {
        next(null, emit(decoder.decode(chunk, { stream: true })));
      } catch (error) {
        failed = error as Error;
        if (!watch) return next(failed);
        next();
      }
    },
    flush(next) {
      watch?.finish();
      if (watch?.inconsistent) return next(mixedError(file, watch));
      if (failed) return next(failed);
      try {
        next(null, emit(decoder.decode()));
      } catch (error) {
        next(error as Error);
      }
    },
  });
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), transcode, fs.createWriteStream(target, { mode: 0o600 }));
  } catch (error) {
    fs.rmSync(target, { force: true });
    if (error instanceof UserError) throw error;
    if (error instanceof TypeError) {
      const what = encoding === 'gb18030' ? '既不是有效的 UTF-8，也不是有效的 GBK/GB18030 编码'
        : encoding === 'utf-8' ? '不是有效的 UTF-8 编码' : `不是有效的 ${encoding.toUpperCase()} 编码（“Unicode 文本”）`;
      const line = encoding === 'utf-16le' || encoding === 'utf-16be' ? undefined : await firstUndecodableLine(file, encoding, lineEnd);
      throw new UserError('E_ENCODING', `文件${what}${line ? `：第 ${line} 行有无法解码的字节` : ''}`, {
        file,
        hint: '用 Excel 或 WPS 打开该文件，另存为“CSV UTF-8”或 .xlsx 后重试。',
      });
    }
    throw error;
  }
  lines.finish();
  return lines;
}
