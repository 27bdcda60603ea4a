import fs from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { SPREADSHEET_EXTENSIONS, type DatasetSource } from '../config/config.js';
import { UserError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { tempFile, type Workspace } from '../core/workspace.js';
import { type DatasetDef, type DatasetName, datasetDef } from './datasets.js';
import { type ColumnSuggestion, suggestColumns } from './headers.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import { checkZipSize } from './readers/zip-limits.js';
import type { FileScan } from './file-scan.js';
import { chooseEncoding, transcodeToUtf8 } from './readers/decode.js';
import { detectTextLayout, normaliseTextFile, rawInput, type NormalisedInput, type StageInput } from './readers/csv.js';
import { readWorkbook } from './readers/spreadsheet-pool.js';

/**
 * From a user's file to what DuckDB reads: the format (by content, not only by name: an .xls
 * that is an HTML table, a .csv that is a workbook), the encoding, the sheets, the header row and
 * the private copies that need making. One file gives one part, or one part per sheet read.
 */

export type FileKind = 'text' | 'workbook' | 'html';

/** How to read a file, from its name and first bytes; undefined: not a format bidui reads. */
export function fileKind(file: string, head: Buffer): FileKind | undefined {
  const zip = head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  const cfb = head.subarray(0, 8).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]));
  if (zip || cfb) return 'workbook';
  const ext = path.extname(file).toLowerCase();
  const text = ['.csv', '.txt', '.tsv'].includes(ext);
  if (!text && !(SPREADSHEET_EXTENSIONS as readonly string[]).includes(ext)) return undefined;
  // Old systems save HTML or XML tables (and tab-separated text) under an .xls name.
  const start = head.subarray(0, 512).toString('latin1').replace(/^(\xEF\xBB\xBF|\xFF\xFE|\xFE\xFF)/, '').replace(/\0/g, '').trimStart();
  if (!text && start.startsWith('<')) return 'html';
  return 'text';
}

/**
 * A file named as a workbook (.xlsx, .xls …) that is neither a workbook nor a table of text (binary
 * content, or text without a header): the error that says so; undefined for other names.
 */
function notAWorkbook(file: string): UserError | undefined {
  const ext = path.extname(file).toLowerCase();
  if (!(SPREADSHEET_EXTENSIONS as readonly string[]).includes(ext)) return undefined;
  return new UserError('E_XLSX', `文件扩展名是 ${ext}，但内容既不是工作簿，也不是可识别的文本表格`, {
    file, hint: '确认文件没有损坏、选对了文件（例如不是改了扩展名的 PDF 或压缩包）；用 Excel 或 WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。',
  });
}

export interface PartNotes {
  /** 1-based row of the header; rows above it were title rows. */
  headerRow: number;
  twoLevel: boolean;
  headerConfigured: boolean;
  /** Rows of a text file shorter than the header, read with empty cells at their end. */
  paddedRows?: number;
  /** Columns not used that look like a field no column was found for. */
  suggestions?: ColumnSuggestion[];
  /** Sheets of the workbook not read, and why. */
  sheetsSkipped?: { sheet: string; why: 'hidden' | 'empty' | 'no_header' }[];
  date1904?: boolean;
  hidden?: boolean;
}

export interface PreparedPart {
  input: StageInput;
  sheet: string | undefined;
  notes: PartNotes;
}

export interface PreparedFile {
  /** Stored as snapshot_file.format. */
  format: string;
  /** Stored as snapshot_file.encoding. */
  encoding: string;
  parts: PreparedPart[];
  /** Private copies made (removed by the caller once staged). */
  temps: string[];
}

const notesOf = (input: StageInput, def: DatasetDef): PartNotes => ({
  ...(() => {
    const suggestions = suggestColumns(input.headerCells, input.mapping, def);
    return suggestions.length ? { suggestions } : {};
  })(),
  headerRow: input.headerRow,
  twoLevel: input.header.twoLevel,
  headerConfigured: input.header.configured,
  ...(input.kind === 'normalised' && input.padded ? { paddedRows: input.padded } : {}),
});

/**
 * Decode an HTML or XML table saved as .xls: UTF-16 by its byte-order mark, UTF-8 when valid,
 * else GB18030 (Chinese systems). Numeric character references (&#24352; for 张, as systems that
 * serve pages as ISO-8859-1 write Chinese text) are decoded too, except those of markup
 * characters, which stay escaped for the HTML parser.
 */
function decodeText(buf: Buffer): string {
  const text = buf[0] === 0xff && buf[1] === 0xfe ? new TextDecoder('utf-16le').decode(buf)
    : buf[0] === 0xfe && buf[1] === 0xff ? new TextDecoder('utf-16be').decode(buf)
    : isUtf8(buf) ? buf.toString('utf8') : new TextDecoder('gb18030').decode(buf);
  return text.replace(/&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g, (ref, hex: string | undefined, dec: string | undefined) => {
    const code = hex ? Number.parseInt(hex, 16) : Number(dec);
    if (code > 0x10ffff || '<>&"\''.includes(String.fromCodePoint(code))) return ref;
    return String.fromCodePoint(code);
  });
}

export async function prepareFile(
  ws: Workspace,
  dataset: DatasetName,
  file: { path: string; scan: FileScan; source: DatasetSource },
  progress: Progress,
  limits: InputLimits = DEFAULT_LIMITS,
): Promise<PreparedFile> {
  const def = datasetDef(dataset);
  const { scan, source } = file;
  const kind = fileKind(file.path, scan.head);
  if (scan.size === 0) {
    throw new UserError('E_EMPTY_FILE', '文件是空的', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
  }
  const temps: string[] = [];
  try {
    if (kind === 'workbook' || kind === 'html') {
      // A zipped workbook's unpacked size, before anything inflates it (a zip bomb).
      if (kind === 'workbook' && scan.head.subarray(0, 2).toString('latin1') === 'PK') await checkZipSize(file.path, limits.maxUnpackedMB);
      const text = kind === 'html' ? decodeText(fs.readFileSync(file.path)) : undefined;
      // The sheets' normalised CSVs go into a private folder of this process (removed with it).
      const sheetsDir = tempFile(ws, '-sheets');
      fs.mkdirSync(sheetsDir, { mode: 0o700 });
      temps.push(sheetsDir);
      const result = await readWorkbook({
        file: file.path, dataset, overrides: source.columns, sheet: source.sheet, headerRow: source.headerRow, text,
        tmpDir: sheetsDir, prefix: 'sheet', maxRows: limits.maxRowsPerFile, maxCellChars: limits.maxCellChars,
      });
      const parts = result.parts.map((p): PreparedPart => {
        const input: NormalisedInput = {
          kind: 'normalised', csvPath: p.csvPath, displayPath: file.path, headerCells: p.headerCells, columnCount: p.columnCount,
          mapping: p.header.mapping, header: p.header, headerRow: p.header.index + 1, rows: p.rows,
        };
        return { input, sheet: p.sheet, notes: { ...notesOf(input, def), sheetsSkipped: result.skipped, date1904: result.date1904, hidden: p.hidden } };
      });
      const ext = path.extname(file.path).toLowerCase().slice(1);
      // An HTML table or an XML Spreadsheet 2003 saved as .xls: named as such in the report.
      const markup = text === undefined ? undefined : /urn:schemas-microsoft-com:office:spreadsheet/.test(text.slice(0, 4096)) && /<\?xml/.test(text.slice(0, 200)) ? 'xml' : 'html';
      return { format: markup ?? (ext || 'workbook'), encoding: markup ?? 'workbook', parts, temps };
    }
    // UTF-16 without a byte-order mark has NUL bytes; a configured UTF-16 says so.
    if (scan.binary && source.encoding !== 'utf-16le' && source.encoding !== 'utf-16be') {
      // Named as a workbook but neither a workbook nor text: saving it as .xlsx is no advice.
      throw notAWorkbook(file.path) ?? new UserError('E_BINARY', '文件含二进制内容，不是文本表格（CSV）', {
        file: file.path, hint: '确认选对了文件；Excel 工作簿请保存为 .xlsx 扩展名，或另存为 CSV；如果它是没有字节顺序标记（BOM）的 UTF-16 文本，在配置中加上 "encoding": "utf-16le"。',
      });
    }
    const encoding = chooseEncoding(scan, source.encoding);
    let textPath = file.path;
    let lines = scan.lines;
    let headText: string;
    let cut: boolean;
    if (encoding === 'utf-8' && !scan.nul) {
      headText = scan.head.toString('utf8');
      cut = scan.size > scan.head.length;
    } else {
      // Other encodings, and NUL bytes (the padding of fixed-width fields of old systems): a
      // private UTF-8 copy without them.
      textPath = tempFile(ws, '.csv');
      temps.push(textPath);
      lines = await transcodeToUtf8(file.path, encoding, textPath, scan.lineEnd, (done, total) => progress.tick(done, total));
      const fd = fs.openSync(textPath, 'r');
      try {
        const buf = Buffer.alloc(256 * 1024);
        const read = fs.readSync(fd, buf, 0, buf.length, 0);
        headText = buf.subarray(0, read).toString('utf8');
        cut = fs.fstatSync(fd).size > read;
      } finally {
        fs.closeSync(fd);
      }
    }
    if (headText.replace(/^\uFEFF/, '').trim() === '') {
      throw new UserError('E_EMPTY_FILE', '文件是空的', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
    }
    let layout: ReturnType<typeof detectTextLayout>;
    try {
      layout = detectTextLayout(headText, cut, def, source.columns, file.path, source.headerRow);
    } catch (error) {
      if (error instanceof UserError) throw notAWorkbook(file.path) ?? error;
      throw error;
    }
    const { delimiter, records, header } = layout;
    // Without quotes, lines are records: a file over the row limit is refused before it is read
    // (with quotes the count after reading decides; see ingest.ts).
    const below = lines.contentLines() - header.index - 1;
    if (!lines.quotes && below > limits.maxRowsPerFile) {
      throw new UserError('E_TOO_MANY_ROWS', `文件有 ${below} 行，超过上限 ${limits.maxRowsPerFile} 行（limits.maxRowsPerFile），没有导入`, {
        file: file.path, hint: '如果这确实是正常的大文件，在配置中调大 "limits": { "maxRowsPerFile": … }；否则确认选对了文件。',
      });
    }
    const headerCells = records[header.index]!;
    const normalise = async () => {
      const target = tempFile(ws, '.csv');
      temps.push(target);
      return normaliseTextFile({ textPath, displayPath: file.path, delimiter, header, headerCells, titles: records.slice(0, header.index), target, maxCellChars: limits.maxCellChars });
    };
    const fits = Object.values(header.mapping.fields).every((i) => i < headerCells.length);
    const input = (fits ? rawInput({ csvPath: textPath, displayPath: file.path, delimiter, records, header, lines, normalise }) : undefined) ?? (await normalise());
    return { format: 'csv', encoding, parts: [{ input, sheet: undefined, notes: notesOf(input, def) }], temps };
  } catch (error) {
    for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
    throw error;
  }
}
