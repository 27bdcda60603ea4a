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

const ExcelJS = require('exceljs') as typeof ExcelJSNamespace;
export default ExcelJS;
