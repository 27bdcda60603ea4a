import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Encoding } from '../../config/config.js';
import { UserError } from '../../core/errors.js';
import { type FileScan, LineStats } from '../file-scan.js';

/** How a text file is decoded: read as it is (UTF-8), or transcoded to a private UTF-8 copy. */
export type TextEncoding = 'utf-8' | 'gb18030' | 'utf-16le' | 'utf-16be';

/**
 * The encoding of a text file (DOMAIN.md): a configured encoding wins; a UTF-16 byte-order mark
 * (Excel's "Unicode 文本") means UTF-16; otherwise strict UTF-8 (BOM or not), else GB18030.
 */
export function chooseEncoding(scan: FileScan, configured: Encoding): TextEncoding {
  if (configured === 'utf-16le' || configured === 'utf-16be') return configured;
  if (configured === 'utf-8') {
    if (!scan.utf8) {
      throw new UserError('E_ENCODING', `文件不是有效的 UTF-8 编码（第 ${scan.firstBadUtf8Line ?? '?'} 行附近出现无法解码的字节）`, {
        file: scan.path,
        hint: '这个文件可能是 GBK 编码（WPS/Excel 另存的“CSV”常见）：把配置中该数据集的 encoding 改为 "gbk" 或 "auto"。',
      });
    }
    return 'utf-8';
  }
  if (configured === 'gbk' || configured === 'gb18030') return 'gb18030';
  if (scan.bom === 'utf-16le' || scan.bom === 'utf-16be') return scan.bom;
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
  firstUtf8: number | undefined;
  firstGbk: number | undefined;
  private pending: Buffer = Buffer.alloc(0);

  add(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      this.check(buf.subarray(start, nl));
      start = nl + 1;
    }
    this.pending = Buffer.from(buf.subarray(start));
    buf = Buffer.alloc(0);
  }

  finish(): void {
    if (this.pending.length) this.check(this.pending);
  }

  get mixed(): boolean {
    return this.firstUtf8 !== undefined && this.firstGbk !== undefined;
  }

  /** The 1-based line where the file changes encoding. */
  get switchLine(): number {
    return Math.max(this.firstUtf8 ?? 0, this.firstGbk ?? 0);
  }

  get startsAsUtf8(): boolean {
    return (this.firstUtf8 ?? Infinity) < (this.firstGbk ?? Infinity);
  }

  private check(line: Buffer): void {
    this.line++;
    if (this.mixed) return;
    if (isUtf8(line)) {
      if (this.firstUtf8 === undefined && hasUtf8Cjk(line)) this.firstUtf8 = this.line;
    } else if (this.firstGbk === undefined) {
      this.firstGbk = this.line;
    }
  }
}

function hasUtf8Cjk(line: Buffer): boolean {
  for (let i = 0; i + 2 < line.length; i++) {
    const b = line[i]!;
    if (b >= 0xe4 && b <= 0xe9 && (line[i + 1]! & 0xc0) === 0x80 && (line[i + 2]! & 0xc0) === 0x80) return true;
  }
  return false;
}

function mixedError(file: string, watch: EncodingWatch): UserError {
  const [from, to] = watch.startsAsUtf8 ? ['UTF-8', 'GBK'] : ['GBK', 'UTF-8'];
  return new UserError('E_MIXED_ENCODING', `文件的编码中途改变：前面是 ${from} 编码，从第 ${watch.switchLine} 行起变成了 ${to} 编码（常见于把两个导出文件拼接在一起）`, {
    file,
    hint: `在第 ${watch.switchLine} 行处把文件拆开，分别用 Excel/WPS 打开后另存为“CSV UTF-8”或 .xlsx，再分别导入（配置中可为同一数据集列出多个文件）。`,
  });
}

/**
 * Transcode a GB18030 or UTF-16 file to UTF-8 in a stream (DuckDB cannot decode them offline)
 * into a private file in the workspace, and count the lines of the result. A GB18030 file whose
 * lines switch between GBK and UTF-8 is refused, naming the line where it switches.
 */
export async function transcodeToUtf8(
  file: string,
  encoding: Exclude<TextEncoding, 'utf-8'>,
  target: string,
  onBytes?: (done: number, total: number) => void,
): Promise<LineStats> {
  const total = fs.statSync(file).size;
  let done = 0;
  const decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  const watch = encoding === 'gb18030' ? new EncodingWatch() : undefined;
  const lines = new LineStats();
  const emit = (text: string): Buffer => {
    const out = Buffer.from(text, 'utf8');
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
      if (watch?.mixed) return next(mixedError(file, watch));
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
      const what = encoding === 'gb18030' ? '既不是有效的 UTF-8，也不是有效的 GBK/GB18030 编码' : `不是有效的 ${encoding.toUpperCase()} 编码（“Unicode 文本”）`;
      throw new UserError('E_ENCODING', `文件${what}`, {
        file,
        hint: '用 Excel 或 WPS 打开该文件，另存为“CSV UTF-8”或 .xlsx 后重试。',
      });
    }
    throw error;
  }
  lines.finish();
  return lines;
}
