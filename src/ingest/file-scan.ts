import crypto from 'node:crypto';
import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { UserError } from '../core/errors.js';
import type { Encoding } from '../config/config.js';

export interface FileScan {
  path: string;
  size: number;
  sha256: string;
  /** Whether the whole file is valid UTF-8 (BOM allowed). */
  utf8: boolean;
  /** 1-based line of the first byte that is not UTF-8, when utf8 is false. */
  firstBadUtf8Line: number | undefined;
  /** A NUL byte in the first 64 KiB: not a text table. */
  binary: boolean;
  /** The first bytes (for the zip signature and the header line). */
  head: Buffer;
}

const HEAD_BYTES = 64 * 1024;

/**
 * One streaming pass over a file: SHA-256, size, UTF-8 validity and a binary sniff. Nothing of
 * the content is kept beyond the first 64 KiB.
 */
export async function scanFile(file: string, onBytes?: (done: number, total: number) => void): Promise<FileScan> {
  const total = fs.statSync(file).size;
  const hash = crypto.createHash('sha256');
  let size = 0;
  let utf8 = true;
  let newlinesBefore = 0;
  let firstBadUtf8Line: number | undefined;
  const headChunks: Buffer[] = [];
  let headLen = 0;
  // Bytes of a character split across chunks, carried to the next chunk.
  let carry: Buffer = Buffer.alloc(0);
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(size, total);
      if (headLen < HEAD_BYTES) {
        headChunks.push(chunk.subarray(0, HEAD_BYTES - headLen));
        headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
      }
      if (!utf8) continue;
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const cut = completeUtf8Prefix(buf);
      if (!isUtf8(buf.subarray(0, cut))) {
        utf8 = false;
        firstBadUtf8Line = newlinesBefore + firstBadLine(buf);
        continue;
      }
      newlinesBefore += countNewlines(buf.subarray(0, cut));
      carry = Buffer.from(buf.subarray(cut));
    }
  });
  if (utf8 && carry.length > 0) {
    utf8 = false;
    firstBadUtf8Line = newlinesBefore + 1;
  }
  const head = Buffer.concat(headChunks);
  return { path: file, size, sha256: hash.digest('hex'), utf8, firstBadUtf8Line, binary: head.includes(0), head };
}

/** Length of the prefix of buf that ends on a character boundary (at most 3 bytes are held back). */
function completeUtf8Prefix(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) !== 0x80) {
      // A lead byte (or ASCII): does its sequence end inside the buffer?
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > back ? n - back : n;
    }
  }
  return n;
}

/** 1-based line (within buf) of the first byte that is not UTF-8. */
function firstBadLine(buf: Buffer): number {
  const text = new TextDecoder('utf-8').decode(buf);
  const bad = text.indexOf('\uFFFD');
  return countNewlines(Buffer.from(text.slice(0, Math.max(bad, 0)))) + 1;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  let i = -1;
  while ((i = buf.indexOf(10, i + 1)) !== -1) n++;
  return n;
}

/** Which encoding to read a CSV with, from the configured one and the scan. */
export function chooseEncoding(scan: FileScan, configured: Encoding): 'utf-8' | 'gb18030' {
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
  return scan.utf8 ? 'utf-8' : 'gb18030';
}

/**
 * Transcode a GBK/GB18030 file to UTF-8 in a stream (DuckDB cannot decode GBK offline). The
 * output goes to a private temporary file inside the workspace.
 */
export async function transcodeToUtf8(file: string, target: string, onBytes?: (done: number, total: number) => void): Promise<void> {
  const total = fs.statSync(file).size;
  let done = 0;
  const decoder = new TextDecoder('gb18030', { fatal: true });
  const transcode = new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length;
      onBytes?.(done, total);
      try {
        next(null, Buffer.from(decoder.decode(chunk, { stream: true }), 'utf8'));
      } catch (error) {
        next(error as Error);
      }
    },
    flush(next) {
      try {
        next(null, Buffer.from(decoder.decode(), 'utf8'));
      } catch (error) {
        next(error as Error);
      }
    },
  });
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), transcode, fs.createWriteStream(target, { mode: 0o600 }));
  } catch (error) {
    fs.rmSync(target, { force: true });
    if (error instanceof TypeError) {
      throw new UserError('E_ENCODING', '文件既不是有效的 UTF-8，也不是有效的 GBK/GB18030 编码', {
        file,
        hint: '用 Excel 或 WPS 打开该文件，另存为“CSV UTF-8”或 .xlsx 后重试。',
      });
    }
    throw error;
  }
}
