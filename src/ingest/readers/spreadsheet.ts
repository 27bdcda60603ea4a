import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type * as XLSXTypes from '@e965/xlsx';
import { UserError } from '../../core/errors.js';
import { type DatasetName, datasetDef } from '../datasets.js';
import { findHeader, type HeaderChoice, HEADER_SEARCH_ROWS } from '../layout.js';
import { matchHeaders } from '../headers.js';
import { ID_LIKE } from '../id-number.js';
import { limitCell, MAX_CELL_CHARS, type CellIssue } from '../values.js';
import { type CellKey, cellKey, cellKeyColumn, mayHoldExactNumbers, xlsxCellTexts, xlsxSheetParts, xml2003CellTexts } from './exact-numbers.js';

/**
 * Spreadsheets (.xlsx, .xls, WPS .et, .ods, and the HTML or XML tables that old systems save
 * with an .xls name) through SheetJS CE (`@e965/xlsx`, its current npm build; the `xlsx` name is
 * stuck at 0.18.5). One reader for every format, so that one set of cell rules holds
 * (DOMAIN.md): merged ranges filled, hidden sheets skipped by default, error cells and formulas
 * without a saved result as issues (never text), rich text as all its runs, phonetic guides left
 * out, cells without references in order, the 1904 date system honoured.
 *
 * Each sheet read becomes a normalised CSV (see csv.ts NormalisedInput) in the workspace's tmp
 * folder; DuckDB types it like any other file. SheetJS holds the workbook in memory (about
 * 550 MB for 200,000 rows × 12 columns, docs/BENCHMARKS.md), so this runs on a worker thread
 * with its own heap limit (readWorkbook in spreadsheet-pool.ts).
 */
const require = createRequire(import.meta.url);
// The CommonJS build: it loads the code pages (GBK strings in Excel 95 .xls files) by itself.
const XLSX = require('@e965/xlsx') as typeof XLSXTypes;
/**
 * SheetJS's table of number formats as loaded. A binary .xls read adds the formats the file
 * defines to the module's table and does not start from a clean one (an .xlsx or XML read does),
 * so an .xls that uses a built-in id it does not define (Excel's Chinese dates, 27–36 and 50–58)
 * would take the previous workbook's format of that id: a date or not. Each read starts from this.
 */
const FRESH_FORMATS: Record<number, string> = { ...(XLSX.SSF.get_table() as Record<number, string>) };
function resetFormats(): void {
  const table = XLSX.SSF.get_table() as Record<number, string>;
  for (const id of Object.keys(table)) delete table[Number(id)];
  Object.assign(table, FRESH_FORMATS);
}

export interface WorkbookJob {
  file: string;
  dataset: DatasetName;
  /** normalised header → field (config `columns`) */
  overrides: Record<string, string>;
  /** Config `sheet`: a name, '*' (every visible sheet) or undefined (the first visible). */
  sheet: string | undefined;
  headerRow: number | undefined;
  /** The text of an HTML/XML table saved as .xls, already decoded; undefined for binary workbooks. */
  text: string | undefined;
  /** Folder for the normalised CSVs (the workspace's tmp folder). */
  tmpDir: string;
  /** Prefix of their names (unique per file). */
  prefix: string;
  /** limits.maxRowsPerFile: rows below the header of one sheet. */
  maxRows: number;
  /** limits.maxCellChars. */
  maxCellChars: number;
}

export interface SheetPart {
  sheet: string;
  hidden: boolean;
  csvPath: string;
  header: HeaderChoice;
  headerCells: string[];
  columnCount: number;
  rows: number;
}

export interface WorkbookResult {
  date1904: boolean;
  parts: SheetPart[];
  /** Sheets not read, and why. */
  skipped: { sheet: string; why: 'hidden' | 'empty' | 'no_header' }[];
}

type Kind = 'date' | 'id' | 'code' | 'other';

/** Excel's error codes (BIFF) → the text a cell shows. */
const ERROR_TEXT: Record<number, string> = {
  0x00: '#NULL!', 0x07: '#DIV/0!', 0x0f: '#VALUE!', 0x17: '#REF!', 0x1d: '#NAME?', 0x24: '#NUM!', 0x2a: '#N/A', 0x2b: '#GETTING_DATA',
};

const DAY_MS = 86_400_000;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const isoUtc = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
};

/**
 * An Excel serial day number → ISO date in the workbook's date system: 1900 (day 0 = 1899-12-30
 * from day 61 on; Excel counts a 29 February 1900 that did not exist, so days 1–59 start from
 * 1899-12-31) or 1904 (day 0 = 1904-01-01).
 */
export function serialToIso(serial: number, date1904 = false): string {
  const day = Math.floor(serial);
  if (date1904) return isoUtc(Date.UTC(1904, 0, 1) + day * DAY_MS);
  if (day === 60) return '1900-02-29'; // Excel's day that never was: not a date, the typing says so
  return isoUtc((day < 60 ? Date.UTC(1899, 11, 31) : Date.UTC(1899, 11, 30)) + day * DAY_MS);
}

/** A number Excel stored with 15 significant digits, written out in full (trailing zeros). */
export function fifteenDigits(value: number): string {
  const [mantissa, exp] = Math.abs(value).toPrecision(15).split('e');
  const digits = mantissa!.replace('.', '').replace(/0+$/, '') || '0';
  const width = Number(exp ?? '0') + 1;
  return width > digits.length ? digits + '0'.repeat(width - digits.length) : digits.slice(0, width);
}

export interface CellOut {
  text: string;
  issue?: CellIssue;
}

/**
 * A cell as the text bidui loads (DOMAIN.md "Values"): numbers in date columns are a year (a
 * whole number 1900–2100), YYYYMMDD (eight digits 19000101–21001231), a serial date of the
 * workbook's date system (another whole number, or any number in a date-formatted cell), or
 * ambiguous (2014.07 in a General cell); an ID or code stored as a number of 16 or more digits
 * has lost its last digits (excel_number); an error cell or a formula without a saved result is
 * an issue, its text kept only so that the rejected row shows what was written.
 */
export function cellText(cell: XLSXTypes.CellObject | undefined, kind: Kind, date1904: boolean, exact?: string, maxCellChars = MAX_CELL_CHARS): CellOut {
  const out = cellValueText(cell, kind, date1904, exact);
  if (out.text.length <= maxCellChars) return out;
  const limited = limitCell(out.text, maxCellChars);
  return limited.issue ? limited : out;
}

function cellValueText(cell: XLSXTypes.CellObject | undefined, kind: Kind, date1904: boolean, exact: string | undefined): CellOut {
  if (!cell) return { text: '' };
  switch (cell.t) {
    case 'z':
      return cell.f ? { text: `=${cell.f}`, issue: 'formula' } : { text: '' };
    case 'e':
      return { text: ERROR_TEXT[cell.v as number] ?? '#ERROR', issue: 'error' };
    case 'b':
      return { text: cell.v ? 'TRUE' : 'FALSE' };
    case 'd': {
      const d = cell.v instanceof Date ? cell.v : new Date(String(cell.v));
      return { text: Number.isNaN(d.getTime()) ? String(cell.v) : isoUtc(d.getTime()) };
    }
    case 'n': {
      const v = cell.v as number;
      const whole = Number.isInteger(v);
      if (kind === 'date') {
        if (whole && v >= 1900 && v <= 2100) return { text: String(v) };
        if (whole && v >= 19000101 && v <= 21001231) return { text: String(v) };
        // A serial date (a whole number, or a date-time: a date-formatted cell, or a fraction above
        // 3000, which no year.month is; 3000 is 1908-03-18, before any date of these registries).
        if (whole || v >= 3000 || (cell.z !== undefined && XLSX.SSF.is_date(cell.z))) {
          const iso = serialToIso(v, date1904);
          const year = Number(iso.slice(0, 4));
          // Out of the registries' range (201806 as a serial is in 2452): the number as written.
          if (year < 1900 || year > 2100 || iso === '1900-02-29') return { text: String(v), issue: 'number_date' };
          return { text: iso };
        }
        return { text: String(v), issue: 'ambiguous_date' };
      }
      if (kind === 'id' || kind === 'code') {
        // The digits as the file writes them: a program's number cell keeps all of them (more
        // than Excel's 15 significant digits; a value with 15 and zeros after them is what
        // Excel kept), and an ID ending in X is no number at all. (A column whose digits are
        // only how doubles print has no exact texts: exactNumbers.)
        if (exact !== undefined && /^[0-9]+(?:\.0*)?$/.test(exact) && exact.replace(/\.0*$/, '').replace(/0+$/, '').length > 15) return { text: exact.replace(/\.0*$/, '') };
        if (exact !== undefined && kind === 'id' && /^[0-9]{17}[Xx]$/.test(exact)) return { text: exact };
        if (!Number.isFinite(v)) return { text: exact ?? '', issue: 'error' };
      }
      if ((kind === 'id' || kind === 'code') && whole) {
        if (Math.abs(v) >= 1e15) return { text: fifteenDigits(v), issue: 'excel_number' };
        return { text: v.toFixed(0) };
      }
      return { text: String(v) };
    }
    default:
      return { text: cell.v === undefined || cell.v === null ? '' : String(cell.v) };
  }
}

/**
 * Are these digits (an integer's, no leading zeros) beyond what a double holds exactly (2^53)
 * and just what a 64-bit floating-point number prints (the shortest text that reads back as it,
 * as JavaScript, Go and others write a number)? Then they may carry no more than the double's
 * 15–17 significant digits. An exact integer is such a text too about one time in 63 (every ID
 * ending in 00, some ending in 0), so one cell proves nothing: exactNumbers judges a column.
 */
export function printedDouble(digits: string): boolean {
  const n = Number(digits);
  return n > Number.MAX_SAFE_INTEGER && String(n) === digits;
}

/** Does a sheet hold resident ID numbers (text of 15 or 18 characters, or a number that long)? */
function holdsIds(data: (XLSXTypes.CellObject | undefined)[][], last: number): boolean {
  for (let r = 0; r <= last; r++) {
    for (const c of data[r] ?? []) {
      if (!c) continue;
      if (c.t === 's' && ID_LIKE.test(String(c.v))) return true;
      if (c.t === 'n' && Math.abs(c.v as number) >= 1e14) return true;
    }
  }
  return false;
}

const hasContent = (c: XLSXTypes.CellObject | undefined) => c !== undefined && c !== null && (c.t !== 'z' || c.f !== undefined) && !(c.t === 's' && c.v === '');

/** Copy each merged range's top-left cell into every cell of the range (within the used rows). */
/**
 * Fill every cell of a merged range with its top-left cell. Returns the cells of the first rows
 * (where the header is looked for) filled across from the left, `row:column`: a header cell
 * merged across two columns (证件号码 over B:C) names the first column only.
 */
function fillMerges(data: (XLSXTypes.CellObject | undefined)[][], merges: XLSXTypes.Range[] | undefined): Set<string> {
  const across = new Set<string>();
  if (!merges) return across;
  const lastRow = data.length - 1;
  for (const m of merges) {
    const source = data[m.s.r]?.[m.s.c];
    if (!source) continue;
    for (let r = m.s.r; r <= Math.min(m.e.r, lastRow); r++) {
      const row = (data[r] ??= []);
      const lastCol = Math.min(m.e.c, m.s.c + 16_384);
      for (let c = m.s.c; c <= lastCol; c++) {
        if (r === m.s.r && c === m.s.c) continue;
        row[c] = source;
        if (c !== m.s.c && r < HEADER_SEARCH_ROWS) across.add(`${r}:${c}`);
      }
    }
  }
  return across;
}

function kindsOf(header: HeaderChoice, dataset: DatasetName, width: number): Kind[] {
  const def = datasetDef(dataset);
  const byIndex = new Map(Object.entries(header.mapping.fields).map(([f, i]) => [i, def.fields.find((x) => x.name === f)!]));
  return Array.from({ length: width }, (_, i) => {
    const fd = byIndex.get(i);
    if (!fd) return 'other';
    if (fd.type === 'date') return 'date';
    if (fd.type === 'id') return 'id';
    return fd.code ? 'code' : 'other';
  });
}

/**
 * The digits as written of number cells in ID and code columns that a JS number cannot hold
 * (16 or more digits, or no number: an ID ending in X in a Number cell), for .xlsx and XML
 * Spreadsheet 2003 files (exact-numbers.ts). Keyed by the cell object (a merge copies it).
 */
function exactNumbers(a: {
  wb: XLSXTypes.WorkBook;
  bytes: Buffer | undefined;
  text: string | undefined;
  sheet: string;
  data: (XLSXTypes.CellObject | undefined)[][];
  from: number;
  last: number;
  own: boolean[];
  kinds: Kind[];
}): Map<XLSXTypes.CellObject, string> {
  const wanted = new Map<CellKey, XLSXTypes.CellObject>();
  const seen = new Set<XLSXTypes.CellObject>();
  for (let r = a.from; r <= a.last; r++) {
    if (!a.own[r]) continue;
    const row = a.data[r] ?? [];
    a.kinds.forEach((kind, j) => {
      const c = row[j];
      if ((kind !== 'id' && kind !== 'code') || !c || c.t !== 'n' || seen.has(c)) return;
      const v = c.v as number;
      if (Number.isFinite(v) && Math.abs(v) < 1e15) return;
      seen.add(c);
      wanted.set(cellKey(r, j), c);
    });
  }
  const out = new Map<XLSXTypes.CellObject, string>();
  if (wanted.size === 0) return out;
  const keys = new Set(wanted.keys());
  let texts = new Map<CellKey, string>();
  // A number cell without a number (an ID ending in X) keeps its text whatever the XML looks like.
  const must = [...wanted.values()].some((c) => !Number.isFinite(c.v as number));
  const worth = (xml: Uint8Array | string) => must || mayHoldExactNumbers(xml);
  try {
    if (a.wb.bookType === 'xlsx' && a.bytes) {
      // The package's parts as the reader unzipped them (bookFiles); a name written otherwise
      // (another case) is looked up as the zip reader does, in a second unzip, and so is
      // every part of a zip with two entries of one name (the kept files hold the last of them,
      // the reader read the first).
      const book = a.wb as { files?: Record<string, { content?: Uint8Array }>; keys?: string[] };
      const kept = book.keys && new Set(book.keys).size === book.keys.length ? book.files : undefined;
      let zip: ReturnType<typeof XLSX.CFB.read> | undefined;
      // The zip reader names entries by their bytes, one character per byte: a part named in
      // Chinese (xl/worksheets/名册.xml, in UTF-8) is found under that spelling of its name.
      const asRead = (name: string) => Buffer.from(name, 'utf8').toString('latin1');
      const content = (name: string) => kept?.[name]?.content ?? kept?.[asRead(name)]?.content
        ?? (XLSX.CFB.find((zip ??= XLSX.CFB.read(a.bytes!, { type: 'buffer' })), `/${asRead(name)}`)?.content as Uint8Array | undefined);
      const rels = content('xl/_rels/workbook.xml.rels');
      const parts = rels ? xlsxSheetParts(rels, a.wb.Workbook?.Sheets?.map((s) => ({ name: s.name ?? '', id: (s as { id?: string }).id })) ?? []) : new Map<string, string>();
      const part = parts.get(a.sheet);
      const entry = part ? content(part) : undefined;
      if (entry && worth(entry)) texts = xlsxCellTexts(entry, keys);
    } else if (a.wb.bookType === 'xlml' && a.text !== undefined && worth(a.text)) {
      texts = xml2003CellTexts(a.text, a.sheet, keys);
    }
  } catch {
    // The file parsed for the workbook reader: if its XML cannot be walked again, the cells
    // keep what the reader made of them (an ID then counts as Excel-damaged).
  }
  // A column whose long numbers are all just how doubles print was written through doubles
  // (JavaScript's and Go's writers: 522625196312241235 is written 522625196312241200, another
  // person's valid ID one time in eleven, and 户编号 that print alike would merge households):
  // its digits are not exact, and its cells count as Excel-damaged. One long number that is not
  // a double's print shows a writer that keeps integers (openpyxl, a database): the column's
  // digits are exact, the round ones too.
  const printed = new Map<number, boolean>();
  for (const [key, t] of texts) {
    const digits = t.replace(/\.0*$/, '');
    if (!/^[0-9]+$/.test(digits) || Number(digits) <= Number.MAX_SAFE_INTEGER) continue;
    const col = cellKeyColumn(key);
    printed.set(col, (printed.get(col) ?? true) && printedDouble(digits));
  }
  for (const [key, cell] of wanted) {
    const t = texts.get(key);
    if (t !== undefined && (!printed.get(cellKeyColumn(key)) || !/^[0-9]+(?:\.0*)?$/.test(t))) out.set(cell, t);
  }
  return out;
}

/** Read one workbook and write the sheets chosen as normalised CSVs. Throws UserError. */
export function readWorkbookNow(job: WorkbookJob): WorkbookResult {
  const def = datasetDef(job.dataset);
  let wb: XLSXTypes.WorkBook;
  let fileBytes: Buffer | undefined;
  // sheetRows: a sheet longer than the row limit is not held in memory beyond it.
  const sheetRows = job.maxRows + HEADER_SEARCH_ROWS + 2;
  const options: XLSXTypes.ParsingOptions = { dense: true, cellFormula: true, sheetStubs: true, cellNF: true, cellText: false, cellHTML: false, cellDates: false, sheetRows };
  // SheetJS writes remarks about a file's number formats to the console: not for the office.
  const { warn, error: consoleError } = console;
  console.warn = () => {};
  console.error = () => {};
  try {
    resetFormats();
    // HTML tables are text: raw keeps every cell as written (otherwise an 18-digit ID becomes a
    // number and loses its last digits here, as it would in Excel).
    if (job.text === undefined) fileBytes = fs.readFileSync(job.file);
    wb = job.text !== undefined ? XLSX.read(job.text, { ...options, type: 'string', raw: true }) : XLSX.read(fileBytes!, { ...options, type: 'buffer', bookFiles: true });
  } catch (error) {
    const message = (error as Error).message;
    const why = /password|encrypt/i.test(message) ? '工作簿加了密码'
      : /zip|compressed|central directory|corrupt|bad|invalid|unexpected|CFB|header signature/i.test(message) ? '文件已损坏或不完整'
      : '格式无法识别';
    throw new UserError('E_XLSX', `无法读取工作簿（${why}）`, {
      file: job.file,
      hint: why === '工作簿加了密码'
        ? 'bidui 不读取加了打开密码的部门工作簿：请报送部门发来不加密码的文件，或用 Excel/WPS 输入密码打开后，去掉密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）另存为 .xlsx 或 CSV（UTF-8）再导入。'
        : '文件可能损坏或没有传完整：重新导出或重新复制该文件；仍不行时用 Excel/WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。',
    });
  } finally {
    console.warn = warn;
    console.error = consoleError;
  }
  const date1904 = Boolean(wb.Workbook?.WBProps?.date1904);
  // A workbook flagged to be recalculated when it is opened (calcPr fullCalcOnLoad: XlsxWriter,
  // openpyxl and other programs that write formulas without computing them) may hold placeholders
  // where formula results go: XlsxWriter writes 0 unless told the result. A formula cell there
  // whose saved result is 0 or empty has none; other results (a writer that computed them: POI,
  // EPPlus, XlsxWriter given the value) are kept. Excel and WPS drop the flag when they save.
  const recalc = /^(?:1|true)$/i.test(String((wb.Workbook as { CalcPr?: { fullCalcOnLoad?: unknown } } | undefined)?.CalcPr?.fullCalcOnLoad ?? ''));
  const hiddenOf = (name: string) => Boolean(wb.Workbook?.Sheets?.find((s) => s.name === name)?.Hidden);
  const skipped: WorkbookResult['skipped'] = [];
  let chosen: string[];
  if (!wb.Workbook?.Sheets && wb.SheetNames.length > 1 && (job.sheet === undefined || job.sheet === '*')) {
    // .ods (as SheetJS reads it) says nothing of hidden sheets: a hidden stale copy could be read.
    throw new UserError('E_XLSX_SHEET', `这个工作簿有多个工作表（${wb.SheetNames.map((n) => `「${n}」`).join('、')}），但无法判断哪些是隐藏的`, {
      file: job.file,
      hint: '在配置中用 "sheet" 写明要读取的工作表名称；或用 Excel/WPS 打开后另存为 .xlsx。',
    });
  }
  if (job.sheet === undefined) {
    const first = wb.SheetNames.find((n) => !hiddenOf(n));
    if (first === undefined) {
      throw new UserError('E_XLSX_SHEET', '工作簿中没有可见的工作表', { file: job.file, hint: '在 Excel/WPS 中取消隐藏要导入的工作表，或在配置中用 "sheet" 写明工作表名称。' });
    }
    for (const n of wb.SheetNames.slice(0, wb.SheetNames.indexOf(first))) skipped.push({ sheet: n, why: 'hidden' });
    chosen = [first];
  } else if (job.sheet === '*') {
    chosen = wb.SheetNames.filter((n) => !hiddenOf(n));
    for (const n of wb.SheetNames.filter(hiddenOf)) skipped.push({ sheet: n, why: 'hidden' });
  } else {
    if (!wb.SheetNames.includes(job.sheet)) {
      throw new UserError('E_XLSX_SHEET', `工作簿中没有名为「${job.sheet}」的工作表；现有工作表：${wb.SheetNames.map((n) => `「${n}」${hiddenOf(n) ? '（隐藏）' : ''}`).join('、') || '（无）'}`, {
        file: job.file,
        hint: '把配置中的 sheet 改成上面列出的某个工作表名，写 "*" 读取所有可见工作表，或删去 sheet 以读取第一个可见的工作表。',
      });
    }
    chosen = [job.sheet];
  }

  const parts: SheetPart[] = [];
  try {
    for (const [n, name] of chosen.entries()) {
      const ws = wb.Sheets[name];
      // A sheet the workbook lists but whose part SheetJS could not find (a relationship target
      // written in a form it does not resolve): not bidui's failure, the file's.
      if (!ws) {
        throw new UserError('E_XLSX', `工作簿中的工作表「${name}」无法读取（工作簿内部结构不规范，常见于非 Excel 程序导出的文件）`, {
          file: job.file,
          hint: '用 Excel 或 WPS 打开该文件后另存为 .xlsx（或另存为 CSV（UTF-8）），再导入。',
        });
      }
      const data = ((ws as unknown as { '!data'?: (XLSXTypes.CellObject | undefined)[][] })['!data'] ?? []) as (XLSXTypes.CellObject | undefined)[][];
      if (recalc) {
        for (const row of data) for (const cell of row ?? []) if (cell?.f !== undefined && (cell.v === 0 || cell.v === '' || cell.v === undefined)) Object.assign(cell, { t: 'z', v: undefined, w: undefined });
      }
      // Rows with content of their own, before merged ranges are filled: a merge over blank
      // (formatted) rows below the data makes no rows, and a row whose only content comes from a
      // merge is an empty row.
      let last = data.length - 1;
      while (last >= 0 && !(data[last] ?? []).some(hasContent)) last--;
      // Only the first sheetRows rows were read (limits.maxRowsPerFile, with room for the title
      // rows and the header): content in the last of them means the sheet has more.
      if (last >= sheetRows - 1) {
        throw new UserError('E_TOO_MANY_ROWS', `工作表「${name}」超过 ${job.maxRows} 行（limits.maxRowsPerFile），没有读取`, {
          file: job.file,
          hint: '如果这确实是正常的大表，在配置中调大 "limits": { "maxRowsPerFile": … }，或把数据分到几个文件中；大表另存为 CSV（UTF-8）读取更快、占用内存更少。',
        });
      }
      const own = Array.from({ length: last + 1 }, (_, r) => (data[r] ?? []).some(hasContent));
      data.length = Math.max(0, last + 1);
      const across = fillMerges(data, ws['!merges']);
      const label = chosen.length > 1 || job.sheet !== undefined ? `（工作表「${name}」）` : '';
      if (last < 0) {
        if (job.sheet === '*') {
          skipped.push({ sheet: name, why: 'empty' });
          continue;
        }
        throw new UserError('E_EMPTY_FILE', `工作表「${name}」是空的`, { file: job.file, hint: '确认导出的是正确的文件和工作表；如果数据在别的工作表，用配置中的 "sheet" 写明。' });
      }
      const top = Array.from({ length: Math.min(HEADER_SEARCH_ROWS, last + 1) }, (_, r) => Array.from(data[r] ?? [], (c, j) => (across.has(`${r}:${j}`) ? '' : cellText(c, 'other', date1904).text)));
      if (job.sheet === '*' && top.every((row) => Object.keys(matchHeaders(row, def, job.overrides).fields).length === 0)) {
        // A notes or lookup sheet beside the township sheets: nothing of this dataset's header.
        // But a sheet holding ID numbers holds records: it is not skipped without a header.
        if (holdsIds(data, last)) {
          throw new UserError('E_MISSING_COLUMN', `工作表「${name}」有数据（含身份证号码），但前 ${HEADER_SEARCH_ROWS} 行中找不到${def.zh}（${def.name}）的表头`, {
            file: job.file,
            hint: '在这个工作表的数据上方加上与其他工作表相同的表头行；或在配置中用 "sheet" 只读取需要的工作表。',
          });
        }
        skipped.push({ sheet: name, why: 'no_header' });
        continue;
      }
      let header: HeaderChoice;
      try {
        header = findHeader(top, def, job.overrides, job.file, job.headerRow);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        // The first visible sheet was read by default: when others exist (a 说明 sheet first),
        // say which sheet was read and how to choose another.
        const others = job.sheet === undefined ? wb.SheetNames.filter((s) => s !== name && !hiddenOf(s)) : [];
        if (others.length > 0) {
          throw new UserError(error.code, `（读取的是第一个可见工作表「${name}」）${error.message}`, {
            file: job.file,
            hint: `工作簿中还有工作表 ${others.slice(0, 5).map((s) => `「${s}」`).join('、')}：在配置中用 "sheet" 写明要读取的工作表（例如 "sheet": "${others[0]}"），或写 "*" 读取所有可见工作表。`,
          });
        }
        if (label) throw new UserError(error.code, `${label}${error.message}`, { file: job.file, ...(error.hint ? { hint: error.hint } : {}) });
        throw error;
      }
      // The header's width: up to its last named cell (a stray cell far to the right of an
      // empty header row would otherwise make thousands of columns) and every mapped column.
      let named = top[header.index]!.length;
      while (named > 0 && (top[header.index]![named - 1] ?? '').trim() === '') named--;
      const width = Math.max(named, ...Object.values(header.mapping.fields).map((i) => i + 1));
      const headerCells = Array.from({ length: width }, (_, j) => top[header.index]![j] ?? '');
      const kinds = kindsOf(header, job.dataset, width);
      const exact = exactNumbers({ wb, bytes: fileBytes, text: job.text, sheet: name, data, from: header.index + 1, last, own, kinds });
      const csvPath = path.join(job.tmpDir, `${job.prefix}-${n}.csv`);
      const fd = fs.openSync(csvPath, 'w', 0o600);
      let rows = 0;
      try {
        const batch: string[][] = [['__row', '__issues', ...Array.from({ length: width }, (_, j) => `c${j}`)]];
        for (let r = header.index + 1; r <= last; r++) {
          const row = own[r] ? (data[r] ?? []) : [];
          const cells: string[] = [];
          const issues: string[] = [];
          for (let j = 0; j < width; j++) {
            const cell = row[j];
            const out = cellText(cell, kinds[j]!, date1904, cell ? exact.get(cell) : undefined, job.maxCellChars);
            cells.push(out.text);
            if (out.issue) issues.push(`${j}:${out.issue}`);
          }
          batch.push([String(r + 1), issues.join(';'), ...cells]);
          rows++;
          if (batch.length >= 5000) fs.writeSync(fd, stringify(batch.splice(0)));
        }
        if (batch.length) fs.writeSync(fd, stringify(batch));
      } finally {
        fs.closeSync(fd);
      }
      parts.push({ sheet: name, hidden: hiddenOf(name), csvPath, header, headerCells, columnCount: width, rows });
    }
  } catch (error) {
    for (const p of parts) fs.rmSync(p.csvPath, { force: true });
    throw error;
  }
  if (parts.length === 0) {
    throw new UserError('E_XLSX_SHEET', `工作簿中没有可读取的工作表（${skipped.map((s) => `「${s.sheet}」${s.why === 'hidden' ? '隐藏' : s.why === 'empty' ? '为空' : '没有表头'}`).join('、')}）`, {
      file: job.file,
      hint: '确认选对了文件；在配置中用 "sheet" 写明要读取的工作表。',
    });
  }
  return { date1904, parts, skipped };
}
