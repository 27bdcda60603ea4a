import fs from 'node:fs';
import { once } from 'node:events';
import ExcelJS, { resetXlsxDecoder } from '../core/exceljs.js';
import { stringify } from 'csv-stringify';
import { UserError } from '../core/errors.js';
import type { DatasetDef } from './datasets.js';
import { type HeaderMapping, mapHeaders } from './headers.js';

export const SOURCE_ROW_COLUMN = '__source_row';

type CellKind = 'date' | 'id' | 'other';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function isoDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Excel serial day number → ISO date (day 0 = 1899-12-30, DOMAIN.md). */
export function excelSerialToIso(serial: number): string {
  return isoDate(new Date(Date.UTC(1899, 11, 30) + Math.floor(serial) * 86_400_000));
}

/**
 * A cell as the text bidui loads. Numeric cells in date columns are Excel serial dates, except a
 * whole number 1900–2100, which is a year (识别年度 typed as a number), also when the cell is
 * formatted as a date and so shows a day in 1905. A numeric ID cell of more
 * than 15 digits has already lost its last digits in Excel: it becomes the scientific notation
 * Excel shows (5.20102E+17) so that it is counted as Excel-damaged, never guessed.
 */
export function cellText(value: unknown, kind: CellKind): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) {
    // A year typed into a date-formatted cell shows as a day in 1905 (serial 1900–2100): read
    // it as the year that was typed. No event in these registries is dated 1905.
    const serial = Math.round((value.getTime() - Date.UTC(1899, 11, 30)) / 86_400_000);
    if (kind === 'date' && serial >= 1900 && serial <= 2100) return String(serial);
    return isoDate(value);
  }
  if (typeof value === 'number') {
    if (kind === 'date') {
      if (Number.isInteger(value) && value >= 1900 && value <= 2100) return String(value);
      return excelSerialToIso(value);
    }
    if (kind === 'id') {
      if (Number.isInteger(value) && value < 1e15) return String(value);
      return value.toExponential(5).toUpperCase().replace(/\.?0+E/, 'E');
    }
    return String(value);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'object') {
    const v = value as { richText?: { text: string }[]; result?: unknown; text?: unknown; error?: string };
    if (Array.isArray(v.richText)) return v.richText.map((r) => r.text).join('');
    if ('result' in v) return cellText(v.result, kind);
    if (typeof v.text === 'string') return v.text;
    if (v.error) return '';
  }
  return String(value);
}

export interface XlsxConversion {
  mapping: HeaderMapping;
  sheet: string;
  rows: number;
}

/**
 * Stream one sheet (the first, or the one named) of an XLSX file into a UTF-8 CSV whose first
 * column is the sheet row number; every cell becomes text.
 */
export async function convertXlsx(
  file: string,
  target: string,
  def: DatasetDef,
  overrides: Record<string, string>,
  sheetName: string | undefined,
): Promise<XlsxConversion> {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('binary') !== 'PK\u0003\u0004') {
    throw new UserError('E_XLSX', '文件扩展名是 .xlsx，但内容不是 xlsx 工作簿', {
      file,
      hint: '确认文件没有损坏；如果是旧版 .xls 或其他格式，请用 Excel 或 WPS 另存为 .xlsx。',
    });
  }
  const out = fs.createWriteStream(target, { mode: 0o600 });
  const csv = stringify({ quoted_string: false });
  csv.pipe(out);
  let mapping: HeaderMapping | undefined;
  let kinds: CellKind[] = [];
  let rows = 0;
  let chosen: string | undefined;
  const seenSheets: string[] = [];
  try {
    resetXlsxDecoder();
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
      sharedStrings: 'cache',
      hyperlinks: 'ignore',
      styles: 'cache',
      worksheets: 'emit',
      entries: 'ignore',
    });
    for await (const worksheet of reader) {
      const name = (worksheet as unknown as { name: string }).name;
      seenSheets.push(name);
      const wanted = chosen === undefined && (sheetName === undefined || name === sheetName);
      for await (const row of worksheet) {
        if (!wanted) continue;
        const values = (row.values as unknown[]).slice(1);
        if (!mapping) {
          const headers = values.map((v) => cellText(v, 'other').trim());
          if (headers.every((h) => h === '')) continue;
          mapping = mapHeaders(headers, def, overrides, file);
          const byIndex = new Map(Object.entries(mapping.fields).map(([fld, i]) => [i, fld]));
          kinds = headers.map((_, i) => {
            const fld = def.fields.find((x) => x.name === byIndex.get(i));
            return fld?.type === 'date' ? 'date' : fld?.type === 'id' ? 'id' : 'other';
          });
          if (!csv.write([SOURCE_ROW_COLUMN, ...headers])) await once(csv, 'drain');
          continue;
        }
        const cells = kinds.map((kind, i) => cellText(values[i], kind));
        if (cells.every((c) => c.trim() === '')) continue;
        rows++;
        if (!csv.write([String(row.number), ...cells])) await once(csv, 'drain');
      }
      if (wanted) chosen = name;
    }
  } catch (error) {
    csv.end();
    out.destroy();
    fs.rmSync(target, { force: true });
    if (error instanceof UserError) throw error;
    throw new UserError('E_XLSX', `无法读取 xlsx 工作簿：${(error as Error).message}`, {
      file,
      hint: '文件可能损坏或没有传完整：重新导出或重新复制该文件；仍不行时用 Excel/WPS 打开后另存为 .xlsx。',
    });
  }
  csv.end();
  await once(out, 'finish');
  if (chosen === undefined) {
    fs.rmSync(target, { force: true });
    throw new UserError('E_XLSX_SHEET', `工作簿中没有名为「${sheetName}」的工作表；现有工作表：${seenSheets.join('、') || '（无）'}`, {
      file,
      hint: '把配置中的 sheet 改成上面列出的某个工作表名，或删去 sheet 以读取第一个工作表。',
    });
  }
  if (!mapping) {
    fs.rmSync(target, { force: true });
    throw new UserError('E_EMPTY_FILE', `工作表「${chosen}」是空的，没有表头`, { file, hint: '确认导出的是正确的文件和工作表。' });
  }
  return { mapping, sheet: chosen, rows };
}
