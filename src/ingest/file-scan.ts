import crypto from 'node:crypto';
import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';

export interface FileScan {
  path: string;
  size: number;
  sha256: string;
  /** Whether the whole file is valid UTF-8 (BOM allowed). */
  utf8: boolean;
  /** 1-based line of the first byte that is not UTF-8, when utf8 is false. */
  firstBadUtf8Line: number | undefined;
  /** A byte-order mark at the start. */
  bom: 'utf-8' | 'utf-16le' | 'utf-16be' | undefined;
  /**
   * Not a text table: NUL bytes in the first 64 KiB that are not UTF-16 text, with a binary
   * format's signature or other control bytes (text padded with NULs, as old systems pad
   * fixed-width fields, is text).
   */
  binary: boolean;
  /** UTF-16 without a byte-order mark, told by where the zero bytes of ASCII characters fall. */
  utf16Guess: 'utf-16le' | 'utf-16be' | undefined;
  /** The file has NUL bytes (removed when it is decoded; see readers/decode.ts). */
  nul: boolean;
  /** The first bytes (for the format signature and the header rows). */
  head: Buffer;
  /** Line structure of the bytes (meaningful for ASCII-compatible encodings: UTF-8, GB18030). */
  lines: LineStats;
  /** The byte that ends a line, for naming lines in messages (lineEnd of the first chunk). */
  lineEnd: number;
}

const HEAD_BYTES = 256 * 1024;

/**
 * How a text file breaks into lines, counted in one streaming pass with native byte searches:
 * which line terminators it uses, whether a blank line comes before more content (DuckDB's CSV
 * reader drops blank lines silently, which would shift every row number after them), whether it
 * has any quote character (without one, records and lines coincide and DuckDB's row count can be
 * checked), and how many blank lines end it.
 */
export class LineStats {
  lf = 0;
  crlf = 0;
  cr = 0;
  quotes = false;
  /** A blank line followed by more content somewhere in the file (or blank lines at its start). */
  interiorBlank = false;
  /** Blank lines recorded (1-based line numbers, LF and CRLF files), up to MAX_BLANK_LINES. */
  private blanks: number[] = [];
  private blanksOverflow = false;
  /** The file does not end with a line terminator. */
  unterminated = false;
  /** Line terminators after the last content byte (1 = the last line's own; more = blank lines). */
  trailingTerminators = 0;
  /** Terminators in the run of terminator bytes at the end of what was seen so far. */
  private runTerms = 0;
  /** Longest run of bytes without a line feed / a carriage return, and the current runs. */
  private gap = { lf: new Gap(), cr: new Gap() };
  private seenContent = false;
  private endsWithCr = false;

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!this.quotes && chunk.includes(0x22)) this.quotes = true;
    const linesBefore = this.lf;
    this.lf += this.gap.lf.add(chunk, 0x0a, (k) => {
      if (this.blanks.length < MAX_BLANK_LINES) this.blanks.push(linesBefore + k + 1);
      else this.blanksOverflow = true;
    });
    const crs = chunk.includes(0x0d) ? this.gap.cr.add(chunk, 0x0d) : (this.gap.cr.skip(chunk), 0);
    this.cr += crs;
    if (crs > 0) this.crlf += countSeq(chunk, CRLF);
    const splitCrlf = this.endsWithCr && chunk[0] === 0x0a;
    if (splitCrlf) this.crlf++;
    this.endsWithCr = chunk[chunk.length - 1] === 0x0d;
    const firstContent = indexOfContent(chunk, 0);
    // The run of terminators that the previous chunk ended with continues into this one.
    const run = this.runTerms + terminators(firstContent < 0 ? chunk : chunk.subarray(0, firstContent)) - (splitCrlf ? 1 : 0);
    if (firstContent < 0) {
      this.runTerms = run;
      return;
    }
    // Content after a run of two terminators (one at the start of the file): a blank line.
    if (run >= (this.seenContent ? 2 : 1)) this.interiorBlank = true;
    for (const seq of crs > 0 ? BLANK_SEQS : BLANK_SEQS.slice(0, 1)) {
      if (this.interiorBlank) break;
      for (let at = chunk.indexOf(seq, firstContent); at >= 0; at = chunk.indexOf(seq, at + 1)) {
        if (indexOfContent(chunk, at + seq.length) >= 0) {
          this.interiorBlank = true;
          break;
        }
      }
    }
    this.seenContent = true;
    this.runTerms = terminators(chunk.subarray(lastIndexOfContent(chunk) + 1));
  }

  finish(): void {
    this.unterminated = this.seenContent && this.runTerms === 0;
    this.trailingTerminators = this.runTerms;
  }

  /** The line terminator of the records, or 'mixed' when the file mixes them. */
  newline(): '\n' | '\r\n' | '\r' | 'mixed' {
    const bareCr = this.cr - this.crlf;
    const bareLf = this.lf - this.crlf;
    if (this.crlf === 0 && bareCr === 0) return '\n';
    if (bareCr === 0 && bareLf === 0) return '\r\n';
    if (this.lf === 0) return '\r';
    return 'mixed';
  }

  /**
   * Bytes of the longest line (its terminator not counted): the longest run without the file's
   * line terminator (LF, or CR in a file of bare CRs).
   */
  longestLine(): number {
    return Math.min(this.gap.lf.longest(), this.gap.cr.longest());
  }

  /**
   * The blank lines before the last line with content (1-based line numbers, ascending), which
   * DuckDB's CSV reader skips without a trace; undefined when they are not known: more than
   * MAX_BLANK_LINES of them, or a file whose lines end in bare CRs.
   */
  blankLines(): number[] | undefined {
    const newline = this.newline();
    if (this.blanksOverflow || newline === '\r' || newline === 'mixed') return undefined;
    if (!this.seenContent) return [];
    const last = this.contentLines();
    return this.blanks.filter((line) => line <= last);
  }

  /** Blank lines after the last line with content (a file read by csv-parse has them as empty rows). */
  trailingBlankLines(): number {
    return this.seenContent && !this.unterminated ? Math.max(0, this.trailingTerminators - 1) : 0;
  }

  /** Lines holding records (for a file without quotes and without interior blank lines). */
  contentLines(): number {
    const terms = this.lf + (this.cr - this.crlf);
    return terms + (this.unterminated ? 1 : 0) - Math.max(0, this.trailingTerminators - 1);
  }
}

/** Blank lines a file may have and still be read by DuckDB directly (see readers/csv.ts rawInput). */
export const MAX_BLANK_LINES = 64;

const CRLF = Buffer.from('\r\n');
const BLANK_SEQS = [Buffer.from('\n\n'), Buffer.from('\n\r\n'), Buffer.from('\r\r')];

/** Runs of bytes between occurrences of one byte, across chunks. */
class Gap {
  private max = 0;
  private current = 0;
  /** The last byte of the previous chunk. */
  private lastByte = -1;

  /**
   * Count the byte in chunk, following the runs between its occurrences. `blank` is called with
   * the 0-based index (among this chunk's occurrences) of each occurrence that ends a run of
   * nothing or of one CR: a blank line, for LF.
   */
  add(chunk: Buffer, byte: number, blank?: (k: number) => void): number {
    let n = 0;
    let last = -1;
    for (let i = chunk.indexOf(byte); i !== -1; i = chunk.indexOf(byte, i + 1)) {
      const run = last < 0 ? this.current + i : i - last - 1;
      if (run > this.max) this.max = run;
      if (blank && (run === 0 || (run === 1 && (i > 0 ? chunk[i - 1] : this.lastByte) === 0x0d))) blank(n);
      last = i;
      n++;
    }
    this.current = last < 0 ? this.current + chunk.length : chunk.length - last - 1;
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    return n;
  }

  /** A chunk without the byte. */
  skip(chunk: Buffer): void {
    this.current += chunk.length;
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
  }

  longest(): number {
    return Math.max(this.max, this.current);
  }
}

function count(buf: Buffer, byte: number): number {
  let n = 0;
  let i = -1;
  while ((i = buf.indexOf(byte, i + 1)) !== -1) n++;
  return n;
}

function countSeq(buf: Buffer, seq: Buffer): number {
  let n = 0;
  let i = -1;
  while ((i = buf.indexOf(seq, i + 1)) !== -1) n++;
  return n;
}

function isTerminator(b: number | undefined): boolean {
  return b === 0x0a || b === 0x0d;
}

/** Index of the first byte at or after from that is not a line terminator, or -1. */
function indexOfContent(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) if (!isTerminator(buf[i])) return i;
  return -1;
}

function lastIndexOfContent(buf: Buffer): number {
  for (let i = buf.length - 1; i >= 0; i--) if (!isTerminator(buf[i])) return i;
  return -1;
}

/** Line terminators in a run of terminator bytes (CRLF counts once). */
function terminators(buf: Buffer): number {
  return count(buf, 0x0a) + count(buf, 0x0d) - countSeq(buf, CRLF);
}

/**
 * One streaming pass over a file: SHA-256, size, UTF-8 validity, byte-order mark, line structure
 * and a binary sniff. Nothing of the content is kept beyond the first 256 KiB.
 */
export async function scanFile(file: string, onBytes?: (done: number, total: number) => void): Promise<FileScan> {
  const total = fs.statSync(file).size;
  const hash = crypto.createHash('sha256');
  const lines = new LineStats();
  let size = 0;
  let utf8 = true;
  let newlinesBefore = 0;
  let firstBadUtf8Line: number | undefined;
  let nulSeen = false;
  const headChunks: Buffer[] = [];
  let headLen = 0;
  // Bytes of a character split across chunks, carried to the next chunk.
  let carry: Buffer = Buffer.alloc(0);
  /** The byte that ends a line (lineEnd), for naming lines. */
  let eol: number | undefined;
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(size, total);
      if (headLen < HEAD_BYTES) {
        headChunks.push(chunk.subarray(0, HEAD_BYTES - headLen));
        headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
      }
      lines.add(chunk);
      if (!nulSeen && chunk.includes(0)) nulSeen = true;
      eol ??= lineEnd(chunk);
      if (!utf8) continue;
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const cut = completeUtf8Prefix(buf);
      if (!isUtf8(buf.subarray(0, cut))) {
        utf8 = false;
        firstBadUtf8Line = newlinesBefore + firstBadLine(buf, eol);
        continue;
      }
      newlinesBefore += count(buf.subarray(0, cut), eol);
      carry = Buffer.from(buf.subarray(cut));
    }
  });
  lines.finish();
  if (utf8 && carry.length > 0) {
    utf8 = false;
    firstBadUtf8Line = newlinesBefore + 1;
  }
  const head = Buffer.concat(headChunks);
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 'utf-8'
    : head[0] === 0xff && head[1] === 0xfe ? 'utf-16le'
    : head[0] === 0xfe && head[1] === 0xff ? 'utf-16be'
    : undefined;
  const sniff = head.subarray(0, 64 * 1024);
  const utf16Guess = bom ? undefined : guessUtf16(sniff);
  const binary = bom !== 'utf-16le' && bom !== 'utf-16be' && utf16Guess === undefined && sniff.includes(0) && looksBinary(sniff);
  return { path: file, size, sha256: hash.digest('hex'), utf8: utf8 && !bom?.startsWith('utf-16'), firstBadUtf8Line, bom, binary, utf16Guess, nul: nulSeen, head, lines, lineEnd: eol ?? 0x0a };
}

const BINARY_SIGNATURES = ['%PDF', '\x89PNG', 'GIF8', '\xFF\xD8\xFF', 'Rar!', '7z\xBC\xAF', '\x1F\x8B'].map((s) => Buffer.from(s, 'latin1'));

/** A binary format's signature, or control bytes other than tab, line breaks, NUL and SUB (more than 1 in 200). */
function looksBinary(buf: Buffer): boolean {
  if (BINARY_SIGNATURES.some((s) => buf.subarray(0, s.length).equals(s))) return true;
  let control = 0;
  for (const b of buf) if (b < 0x20 && b !== 0x00 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x1a && b !== 0x0c) control++;
  return control > buf.length / 200;
}

/**
 * UTF-16 without a byte-order mark: tables hold digits, delimiters and line breaks, ASCII
 * characters whose high byte is zero, so at least one pair in ten has a zero byte and nearly all
 * of those zeros fall on the same side of the pair (odd offsets: little-endian).
 */
export function guessUtf16(buf: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  const pairs = Math.floor(buf.length / 2);
  if (pairs < 8) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) {
    if (buf[i] === 0) even++;
    if (buf[i + 1] === 0) odd++;
  }
  if (odd >= pairs / 10 && even <= odd / 8) return 'utf-16le';
  if (even >= pairs / 10 && odd <= even / 8) return 'utf-16be';
  return undefined;
}

/** Length of the prefix of buf that ends on a character boundary (at most 3 bytes are held back). */
export function completeUtf8Prefix(buf: Buffer): number {
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

/**
 * The byte that ends a line in a file whose first chunk (up to 1 MiB) is `head`, for naming lines
 * in messages: CR when more lines there end in a CR alone than in an LF (a file of CR-only lines,
 * old Mac exports, perhaps with line feeds inside quoted cells; counting LFs named every line 1),
 * else LF (LF and CR LF files, also with a stray CR inside a cell).
 */
export function lineEnd(head: Buffer): number {
  const lf = count(head, 0x0a);
  const bareCr = count(head, 0x0d) - countSeq(head, CRLF);
  return bareCr > lf ? 0x0d : 0x0a;
}

/**
 * Longest line the line-by-line checks of encodings hold (bytes): a longer run without the line
 * end is checked as a line of its own and the rest as the next. No real export has such lines;
 * it keeps a file whose line ends change after its first megabyte from being copied again for
 * every chunk.
 */
export const MAX_CHECKED_LINE = 16 << 20;

/**
 * The lines of a file read in chunks, for the line-by-line checks of encodings: the complete
 * lines of `pending` (what the previous chunk left) and `chunk`, each without its `eol`, handed to
 * `line` in order until it returns false; a run longer than MAX_CHECKED_LINE counts as a line.
 * Returns what is left for the next chunk, or undefined when `line` stopped.
 */
export function takeLines(pending: Buffer, chunk: Buffer, eol: number, line: (bytes: Buffer) => boolean | void): Buffer | undefined {
  const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  let start = 0;
  for (let nl = buf.indexOf(eol); nl >= 0; nl = buf.indexOf(eol, start)) {
    if (line(buf.subarray(start, nl)) === false) return undefined;
    start = nl + 1;
  }
  if (buf.length - start > MAX_CHECKED_LINE) {
    if (line(buf.subarray(start)) === false) return undefined;
    start = buf.length;
  }
  return Buffer.from(buf.subarray(start));
}

/**
 * 1-based line (within buf) of the first byte that is not UTF-8: the first line that is not
 * valid UTF-8 by itself (a line break is ASCII, so no character spans one), lines ending in
 * `eol` (lineEnd). Line by line with isUtf8, not by decoding the chunk: decoding a megabyte of
 * GBK took 12 ms a file.
 */
export function firstBadLine(buf: Buffer, eol = 0x0a): number {
  let line = 1;
  let start = 0;
  for (let nl = buf.indexOf(eol); nl !== -1; nl = buf.indexOf(eol, start)) {
    if (!isUtf8(buf.subarray(start, nl))) return line;
    line++;
    start = nl + 1;
  }
  return line;
}
