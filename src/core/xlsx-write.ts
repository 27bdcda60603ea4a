import fs from 'node:fs';
import type ExcelJSNamespace from 'exceljs';
import ExcelJS, { FIXED_XLSX_DATE } from './exceljs.js';

/**
 * Write a workbook so that the same content always gives the same bytes: the workbook's
 * created/modified properties and (through src/core/exceljs.ts) every zip entry carry a fixed
 * date instead of the current time.
 */
export async function writeDeterministicXlsx(workbook: ExcelJSNamespace.Workbook, file: string, mode = 0o600): Promise<void> {
  workbook.created = FIXED_XLSX_DATE;
  workbook.modified = FIXED_XLSX_DATE;
  const buffer = await workbook.xlsx.writeBuffer({ zip: { compression: 'DEFLATE', compressionOptions: { level: 6 } } } as unknown as Partial<ExcelJSNamespace.XlsxWriteOptions>);
  fs.writeFileSync(file, new Uint8Array(buffer as ArrayBuffer), { mode });
}

/**
 * A streaming workbook writer (rows go straight to the file; about twice as fast as building the
 * workbook in memory) whose bytes depend only on the content: fixed document dates, and every
 * zip entry appended with the fixed date (archiver writes zip times in UTC). Call
 * finishDeterministicWorkbook when done. (Entry dates: see src/core/exceljs.ts.)
 */
export function createDeterministicWorkbookWriter(file: string): ExcelJSNamespace.stream.xlsx.WorkbookWriter {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useStyles: true, useSharedStrings: false });
  wb.created = FIXED_XLSX_DATE;
  wb.modified = FIXED_XLSX_DATE;
  return wb;
}

export async function finishDeterministicWorkbook(wb: ExcelJSNamespace.stream.xlsx.WorkbookWriter, file: string, mode = 0o600): Promise<void> {
  await wb.commit();
  fs.chmodSync(file, mode);
}
