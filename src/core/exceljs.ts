import { createRequire } from 'node:module';
import type ExcelJSNamespace from 'exceljs';

/**
 * exceljs, loaded through this module only.
 *
 * exceljs 4.4's streaming reader decodes every zip chunk on its own (TextDecoder#decode without
 * `stream: true`, lib/utils/browser-buffer-decode.js), so a multi-byte character split across two
 * chunks comes out as U+FFFD — in Chinese workbooks, names and places get corrupted at random.
 * Before exceljs captures that helper, it is replaced with a streaming decoder. bidui reads one
 * workbook at a time and exceljs parses its XML parts one after the other, each complete UTF-8,
 * so one decoder carrying a split character from chunk to chunk is correct; it is reset before
 * each workbook (resetXlsxDecoder) so a truncated file cannot leak bytes into the next one.
 */
const require = createRequire(import.meta.url);
const decode = require('exceljs/lib/utils/browser-buffer-decode.js') as { bufferToString: (chunk: unknown) => string };

let decoder = new TextDecoder('utf-8');
decode.bufferToString = (chunk: unknown): string => {
  if (typeof chunk === 'string') return chunk;
  return decoder.decode(chunk as Uint8Array, { stream: true });
};

export function resetXlsxDecoder(): void {
  decoder = new TextDecoder('utf-8');
}

/**
 * Workbooks bidui writes must be byte-identical for the same content, so no zip entry may carry
 * the current time. exceljs writes through two zip libraries:
 * - the in-memory writer (lib/utils/zip-stream.js) adds parts with JSZip, which dates them now and
 *   adds folder entries of its own: its append is replaced by one that passes a fixed date and
 *   creates no folder entries (otherwise the same call);
 * - the streaming writer uses archiver, some parts from its constructor: archiver's append gets
 *   the fixed date when none is given. (archiver is used by nothing else in bidui.)
 * Both write zip times from UTC getters, so the time zone does not matter either.
 */
export const FIXED_XLSX_DATE = new Date(Date.UTC(2020, 0, 1, 0, 0, 0));
interface JSZipLike {
  file(name: string, data: unknown, options: Record<string, unknown>): unknown;
}
const zipStream = require('exceljs/lib/utils/zip-stream.js') as {
  ZipWriter: { prototype: { append(this: { zip: JSZipLike }, data: unknown, options: { name: string; base64?: boolean }): void } };
};
zipStream.ZipWriter.prototype.append = function (this: { zip: JSZipLike }, data: unknown, options: { name: string; base64?: boolean }) {
  this.zip.file(options.name, data, { ...(options.base64 ? { base64: true } : {}), date: FIXED_XLSX_DATE, createFolders: false });
};
// Resolved from exceljs's own location: the very copy of archiver that exceljs uses.
const requireFromExceljs = createRequire(require.resolve('exceljs'));
const archiverCore = requireFromExceljs('archiver/lib/core.js') as { prototype: { append(source: unknown, data: Record<string, unknown>): unknown } };
const archiverAppend = archiverCore.prototype.append;
archiverCore.prototype.append = function (this: unknown, source: unknown, data: Record<string, unknown>) {
  return archiverAppend.call(this, source, { date: FIXED_XLSX_DATE, ...data });
};

const ExcelJS = require('exceljs') as typeof ExcelJSNamespace;
export default ExcelJS;
