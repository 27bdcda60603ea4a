import fs from 'node:fs';
import type ExcelJS from 'exceljs';
import JSZip from 'jszip';

/** Fixed timestamp for workbook properties and zip entries: same input, same bytes. */
const FIXED = new Date(Date.UTC(2020, 0, 1, 0, 0, 0));

/**
 * Write a workbook so that the same content always gives the same bytes: exceljs stamps the
 * current time into docProps/core.xml and every zip entry; both are replaced with a fixed date
 * (JSZip writes zip times from UTC getters, so the time zone does not matter either).
 */
export async function writeDeterministicXlsx(workbook: ExcelJS.Workbook, file: string, mode = 0o600): Promise<void> {
  workbook.created = FIXED;
  workbook.modified = FIXED;
  const buffer = await workbook.xlsx.writeBuffer();
  const source = await JSZip.loadAsync(buffer as ArrayBuffer);
  const out = new JSZip();
  for (const name of Object.keys(source.files).sort()) {
    const entry = source.files[name]!;
    if (entry.dir) continue;
    out.file(name, await entry.async('uint8array'), { date: FIXED, createFolders: false });
  }
  const bytes = await out.generateAsync({ type: 'uint8array', compression: 'DEFLATE', compressionOptions: { level: 6 } });
  fs.writeFileSync(file, bytes, { mode });
}
