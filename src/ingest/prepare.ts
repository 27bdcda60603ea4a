import fs from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { SPREADSHEET_EXTENSIONS, type DatasetSource } from '../config/config.js';
import { UserError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { tempFile, type Workspace } from '../core/workspace.js';
import { type DatasetName, datasetDef } from './datasets.js';
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

export interface PartNotes {
  /** 1-based row of the header; rows above it were title rows. */
  headerRow: number;
  twoLevel: boolean;
  headerConfigured: boolean;
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

const notesOf = (input: StageInput): PartNotes => ({
  headerRow: input.headerRow,
  twoLevel: input.header.twoLevel,
  headerConfigured: input.header.configured,
});

/** Decode text that is not UTF-8 as GB18030 (HTML tables saved as .xls by Chinese systems). */
function decodeText(buf: Buffer): string {
  return isUtf8(buf) ? buf.toString('utf8') : new TextDecoder('gb18030').decode(buf);
}

export async function prepareFile(
  ws: Workspace,
  dataset: DatasetName,
  file: { path: string; scan: FileScan; source: DatasetSource },
  progress: Progress,
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
      const text = kind === 'html' ? decodeText(fs.readFileSync(file.path)) : undefined;
      const result = await readWorkbook({
        file: file.path, dataset, overrides: source.columns, sheet: source.sheet, headerRow: source.headerRow, text,
        tmpDir: ws.tmpDir, prefix: path.basename(tempFile(ws, '')),
      });
      temps.push(...result.parts.map((p) => p.csvPath));
      const parts = result.parts.map((p): PreparedPart => {
        const input: NormalisedInput = {
          kind: 'normalised', csvPath: p.csvPath, displayPath: file.path, headerCells: p.headerCells, columnCount: p.columnCount,
          mapping: p.header.mapping, header: p.header, headerRow: p.header.index + 1, rows: p.rows,
        };
        return { input, sheet: p.sheet, notes: { ...notesOf(input), sheetsSkipped: result.skipped, date1904: result.date1904, hidden: p.hidden } };
      });
      const ext = path.extname(file.path).toLowerCase().slice(1);
      return { format: kind === 'html' ? 'html' : ext || 'workbook', encoding: kind === 'html' ? 'html' : 'workbook', parts, temps };
    }
    if (scan.binary) {
      throw new UserError('E_BINARY', '文件含二进制内容，不是文本表格（CSV）', {
        file: file.path, hint: '确认选对了文件；Excel 工作簿请保存为 .xlsx 扩展名，或另存为 CSV。',
      });
    }
    const encoding = chooseEncoding(scan, source.encoding);
    let textPath = file.path;
    let lines = scan.lines;
    let headText: string;
    if (encoding === 'utf-8') {
      headText = scan.head.toString('utf8');
    } else {
      textPath = tempFile(ws, '.csv');
      temps.push(textPath);
      lines = await transcodeToUtf8(file.path, encoding, textPath, (done, total) => progress.tick(done, total));
      const fd = fs.openSync(textPath, 'r');
      try {
        const buf = Buffer.alloc(256 * 1024);
        headText = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    }
    if (headText.replace(/^\uFEFF/, '').trim() === '') {
      throw new UserError('E_EMPTY_FILE', '文件是空的', { file: file.path, hint: '重新导出该文件；如果该部门本期没有数据，从配置中去掉这个文件。' });
    }
    let layout: ReturnType<typeof detectTextLayout>;
    try {
      layout = detectTextLayout(headText, def, source.columns, file.path, source.headerRow);
    } catch (error) {
      const ext = path.extname(file.path).toLowerCase();
      if (error instanceof UserError && (SPREADSHEET_EXTENSIONS as readonly string[]).includes(ext)) {
        throw new UserError('E_XLSX', `文件扩展名是 ${ext}，但内容既不是工作簿，也不是可识别的文本表格`, {
          file: file.path, hint: '确认文件没有损坏、选对了文件；用 Excel 或 WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。',
        });
      }
      throw error;
    }
    const { delimiter, records, header } = layout;
    const headerCells = records[header.index]!;
    const normalise = async () => {
      const target = tempFile(ws, '.csv');
      temps.push(target);
      return normaliseTextFile({ textPath, displayPath: file.path, delimiter, header, headerCells, target });
    };
    const fits = Object.values(header.mapping.fields).every((i) => i < headerCells.length);
    const input = (fits ? rawInput({ csvPath: textPath, displayPath: file.path, delimiter, records, header, lines, normalise }) : undefined) ?? (await normalise());
    return { format: 'csv', encoding, parts: [{ input, sheet: undefined, notes: notesOf(input) }], temps };
  } catch (error) {
    for (const t of temps) fs.rmSync(t, { force: true });
    throw error;
  }
}
