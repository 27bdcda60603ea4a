import fs from 'node:fs';
import { parse } from 'csv-parse';
import { createDeterministicWorkbookWriter, finishDeterministicWorkbook } from '../core/xlsx-write.js';
import { csvUnsafe } from './list-format.js';
import { SHEET_DATA_ROWS } from './sheet-limit.js';

/**
 * The XLSX twin of an analyst CSV (evidence.csv, leads.csv): the same header and rows, every
 * text column stored as text cells in a text-formatted column, so that IDs, household numbers
 * and lead keys survive Excel, WPS and LibreOffice (a CSV opened there turns an 18-digit ID into
 * 5.22625E+17 and keeps 15 digits). The CSV is for programs, the twin for people. Read from the
 * CSV just written, as a stream (memory stays flat however many rows). More rows than a
 * worksheet holds continue on a next sheet (`evidence (2)` …).
 */
export interface TableJob {
  kind: 'table';
  csvFile: string;
  file: string;
  sheet: string;
  /** Column name → width (Excel character units). */
  widths: Record<string, number>;
  /** Columns written as numbers (the rest are text). */
  numeric: string[];
}

export async function writeTableWorkbook(job: TableJob): Promise<void> {
  const wb = createDeterministicWorkbookWriter(job.file);
  wb.creator = 'bidui';
  const parser = fs.createReadStream(job.csvFile).pipe(parse({ bom: true, relax_quotes: false }));
  let header: string[] | undefined;
  let ws: ReturnType<typeof wb.addWorksheet> | undefined;
  let sheetNo = 0;
  let rowsInSheet = 0;
  let numeric: boolean[] = [];
  let styles: Partial<import('exceljs').Style>[] = [];
  const newSheet = () => {
    ws?.commit();
    sheetNo++;
    ws = wb.addWorksheet(sheetNo === 1 ? job.sheet : `${job.sheet} (${sheetNo})`, { views: [{ state: 'frozen', ySplit: 1 }] });
    ws.columns = header!.map((h) => ({
      header: h, key: h, width: job.widths[h] ?? 14,
      style: job.numeric.includes(h) ? {} : { numFmt: '@' },
    }));
    ws.getRow(1).font = { bold: true };
    ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: header!.length } };
    rowsInSheet = 0;
  };
  for await (const record of parser as AsyncIterable<string[]>) {
    if (!header) {
      header = record;
      numeric = header.map((h) => job.numeric.includes(h));
      styles = numeric.map((n) => (n ? {} : { numFmt: '@' }));
      newSheet();
      continue;
    }
    if (rowsInSheet >= SHEET_DATA_ROWS()) newSheet();
    const cells = record.map((v, i) => (numeric[i] && v !== '' ? Number(v) : csvUnsafe(v)));
    const row = ws!.addRow(cells);
    // One style object per column (exceljs caches styles by object; see workbook.ts).
    for (let i = 0; i < cells.length; i++) row.getCell(i + 1).style = styles[i]!;
    row.commit();
    rowsInSheet++;
  }
  ws?.commit();
  await finishDeterministicWorkbook(wb, job.file);
}
