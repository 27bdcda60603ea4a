import fs from 'node:fs';
import { once } from 'node:events';
import { parse as parseStream } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify';
import { UserError } from '../../core/errors.js';
import type { DatasetDef } from '../datasets.js';
import type { LineStats } from '../file-scan.js';
import { findHeader, isBlankRow, isFooterRow, type HeaderChoice, HEADER_SEARCH_ROWS } from '../layout.js';
import type { HeaderMapping } from '../headers.js';
import { REPEATED_TITLE } from '../typing.js';
import { limitCell, trimSpace } from '../values.js';

/**
 * Delimited text files (CSV, and Excel's tab-separated "Unicode 文本"), already UTF-8. Two ways
 * to DuckDB:
 * - fast: DuckDB's read_csv reads the file itself, skipping the title rows, with the delimiter
 *   and line terminator set explicitly (its own detection picked a line break inside a quoted
 *   header cell as the terminator and then returned no rows at all);
 * - normalised: the file is parsed here (csv-parse) into a private CSV whose first column is the
 *   record's number and which holds only the rows below the header. Used when a file with quotes
 *   has blank lines (DuckDB drops them without a trace, shifting every row number after them; in
 *   a file without quotes their line numbers give the rows' numbers instead), mixed line
 *   terminators, rows DuckDB refuses (a short footer row, a stray quote), or when the fast read
 *   fails a check.
 */

export interface InputBase {
  /** The user's file, named in messages. */
  displayPath: string;
  /** Header cells as written (the lower row of a two-level header). */
  headerCells: string[];
  /** Column count DuckDB reads (the header's width). */
  columnCount: number;
  mapping: HeaderMapping;
  header: HeaderChoice;
  /** 1-based row of the header in the file or sheet. */
  headerRow: number;
}

/** DuckDB reads the user's file (or its UTF-8 copy) directly. */
export interface RawCsvInput extends InputBase {
  kind: 'raw';
  csvPath: string;
  delimiter: string;
  newline: '\n' | '\r\n' | '\r';
  /** Records before the header (title rows). */
  skip: number;
  /** Records below the header, when the file has no quotes (records and lines coincide). */
  expectedRows: number | undefined;
  /**
   * Blank lines below the header (1-based line numbers, ascending; only in a file without quotes).
   * DuckDB skips them, so the rows after one are numbered from these (stage.ts).
   */
  blankLines: number[];
  /** The title rows above the header (rowKey): the same row again below it (a page break) is skipped. */
  titleKeys: string[];
  /**
   * The header's width up to its last named cell (and every mapped column): a row with content in
   * the columns after it is sent to the normalised form, which refuses it (as it does any row
   * longer than the header) unless it is a footer or a title.
   */
  namedColumns: number;
  /** Blank lines after the last record (skipped by DuckDB; counted as empty rows, as csv-parse reads them). */
  trailingBlankLines: number;
  /** The normalised form, when DuckDB cannot read this file as it is. */
  normalise(): Promise<NormalisedInput>;
}

/**
 * A private UTF-8 CSV written by bidui: `__row` (the row number in the user's file or sheet),
 * `__issues` (cells without a usable value: `<column>:<issue>;…`, see values.ts CellIssue), then
 * the cells of the header's columns, as text.
 */
export interface NormalisedInput extends InputBase {
  kind: 'normalised';
  csvPath: string;
  /** Rows written (every row below the header, blank and footer rows included). */
  rows: number;
  /** Rows shorter than the header (their missing cells at the end are empty). */
  padded?: number;
  /** The longest a cell of this file may be (characters; limits.maxCellChars). */
  maxCellChars?: number;
}

export type StageInput = RawCsvInput | NormalisedInput;

const DELIMITERS = [',', '\t', ';', '|'] as const;
const RECORD_DELIMITERS = ['\r\n', '\n', '\r'];

/**
 * The first records of a text, parsed leniently. When the text is the head of a longer file
 * (cut), a record the cut falls into is dropped: a quoted cell may run past the head.
 */
export function headRecords(text: string, delimiter: string, cut: boolean, limit = HEADER_SEARCH_ROWS + 1): string[][] {
  const complete: string[][] = [];
  const options = {
    delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: false, bom: true, record_delimiter: RECORD_DELIMITERS, to: limit,
    on_record: (record: string[]) => {
      complete.push(record);
      return record;
    },
  };
  try {
    return parse(text, options) as string[][];
  } catch (error) {
    if (cut && complete.length > 0) return complete;
    // An opening quote never closed, within the first records: say so (the header search would
    // otherwise report a missing header).
    throw new UserError('E_RAGGED_ROWS', `第 ${(error as { lines?: number }).lines ?? '?'} 行附近的英文双引号不配对，无法确定单元格的边界`, {
      hint: '这一行通常含有未配对的英文双引号：在 Excel/WPS 或文本编辑器中修正，或重新导出为 .xlsx，然后重新导入。',
    });
  }
}

/**
 * Find the delimiter and the header of a text from its first records: the first delimiter (of
 * `,` tab `;` `|`) under which a header row is found. When none works, the error of the
 * delimiter that splits the first rows into the most cells is thrown.
 */
export function detectTextLayout(
  headText: string,
  /** headText is the start of a longer file. */
  cut: boolean,
  def: DatasetDef,
  overrides: Record<string, string>,
  file: string,
  headerRow: number | undefined,
): { delimiter: string; records: string[][]; header: HeaderChoice } {
  let failure: { width: number; error: unknown } | undefined;
  let quoteError: UserError | undefined;
  for (const delimiter of DELIMITERS) {
    let records: string[][];
    try {
      records = headRecords(headText, delimiter, cut);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      quoteError ??= new UserError(error.code, error.message, { file, ...(error.hint ? { hint: error.hint } : {}) });
      continue;
    }
    try {
      return { delimiter, records, header: findHeader(records, def, overrides, file, headerRow) };
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const width = Math.max(0, ...records.map((r) => r.length));
      if (!failure || width > failure.width) failure = { width, error };
    }
  }
  throw quoteError ?? failure?.error ?? new UserError('E_EMPTY_FILE', '文件是空的', { file });
}

/**
 * The longest line DuckDB reads directly, in bytes. A longer line is read normalised, where cells
 * are cut to MAX_CELL_CHARS: DuckDB refuses lines over its max_line_size, and keeping such a line
 * in its rejects table failed ("Invalid unicode … segment statistics").
 */
const MAX_DIRECT_LINE = 1 << 20;

/** The fast input: DuckDB reads the file with the layout found here. */
export function rawInput(args: {
  csvPath: string;
  displayPath: string;
  delimiter: string;
  records: string[][];
  header: HeaderChoice;
  lines: LineStats;
  normalise: () => Promise<NormalisedInput>;
}): RawCsvInput | undefined {
  const { lines, header } = args;
  const newline = lines.newline();
  if (newline === 'mixed' || lines.longestLine() > MAX_DIRECT_LINE) return undefined;
  // Blank lines: DuckDB skips them. In a file without quotes, where lines are records, the rows
  // after them are numbered from their line numbers; otherwise (a blank line may be inside a
  // quoted cell, or they are too many, or above the header) the file is read normalised.
  const blankLines = lines.interiorBlank ? lines.blankLines() : [];
  if (blankLines === undefined || (lines.interiorBlank && (lines.quotes || blankLines.length === 0 || blankLines[0]! <= header.index + 1))) return undefined;
  const headerCells = args.records[header.index]!;
  return {
    kind: 'raw',
    titleKeys: args.records.slice(0, header.index).map(rowKey).filter((k) => k !== ''),
    namedColumns: namedWidth(headerCells, header),
    csvPath: args.csvPath,
    displayPath: args.displayPath,
    delimiter: args.delimiter,
    newline,
    skip: header.index,
    headerCells,
    columnCount: headerCells.length,
    mapping: header.mapping,
    header,
    headerRow: header.index + 1,
    expectedRows: lines.quotes ? undefined : lines.contentLines() - header.index - 1 - blankLines.length,
    blankLines,
    trailingBlankLines: lines.trailingBlankLines(),
    normalise: args.normalise,
  };
}

/**
 * The width of a header row: up to its last named cell (a trailing delimiter on the header line
 * only is not a column) and at least every mapped column.
 */
function namedWidth(headerCells: readonly string[], header: HeaderChoice): number {
  let named = headerCells.length;
  while (named > 0 && trimSpace(headerCells[named - 1] ?? '') === '') named--;
  return Math.max(named, ...Object.values(header.mapping.fields).map((i) => i + 1));
}

/** A record's cells joined, trimmed, without trailing empty cells (to compare title rows; typing.ts has its SQL twin). */
export function rowKey(cells: readonly string[]): string {
  const trimmed = cells.map((c) => trimSpace(c));
  while (trimmed.length && trimmed[trimmed.length - 1] === '') trimmed.pop();
  return trimmed.join('\u0001');
}

/**
 * Does a cell hold a line break followed by another record: a line with an ID and at least half
 * the header's cells? A 备注 of several lines, one of them an ID or a list 张三,李四,王五, is not.
 */
export function swallowsRecords(cell: string, delimiter: string, width: number): boolean {
  if (!cell.includes('\n') && !cell.includes('\r')) return false;
  return cell.split(/\r\n|\n|\r/).slice(1).some((line) => /[0-9]{17}[0-9Xx]/.test(line) && line.split(delimiter).length >= Math.max(3, Math.ceil(width / 2)));
}

interface Ragged {
  count: number;
  rows: string[];
}

/**
 * Parse a UTF-8 text file and write its rows below the header as a normalised CSV. Rows of
 * another width than the header are refused (naming them) unless they hold no data or are a
 * footer, the cases DuckDB's strict reader refuses although nothing is wrong.
 */
export async function normaliseTextFile(args: {
  textPath: string;
  displayPath: string;
  delimiter: string;
  header: HeaderChoice;
  headerCells: string[];
  /** The records above the header (title rows): repeated below it at a page break, they are skipped. */
  titles: string[][];
  target: string;
  /** limits.maxCellChars: longer cells are cut, with the issue too_long. */
  maxCellChars: number;
}): Promise<NormalisedInput> {
  const { header, target } = args;
  const width = namedWidth(args.headerCells, header);
  const headerCells = Array.from({ length: width }, (_, j) => args.headerCells[j] ?? '');
  const idIndex = header.mapping.fields.id_number;
  const nameIndex = header.mapping.fields.name;
  const titleKeys = new Set(args.titles.map(rowKey).filter((k) => k !== ''));
  const swallowed: string[] = [];
  const out = fs.createWriteStream(target, { mode: 0o600 });
  const csv = stringify({ quoted_string: false });
  csv.pipe(out);
  const ragged: Ragged = { count: 0, rows: [] };
  let rows = 0;
  let padded = 0;
  const parser = fs.createReadStream(args.textPath).pipe(
    parseStream({ delimiter: args.delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: false, bom: true, record_delimiter: RECORD_DELIMITERS, info: true }),
  );
  try {
    if (!csv.write(['__row', '__issues', ...headerCells.map((_, j) => `c${j}`)])) await once(csv, 'drain');
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { records: number } }>) {
      const n = info.records;
      if (n <= header.index + 1) continue;
      let cells = record;
      // A title row again below the header (a printed export's page break): skipped.
      const repeatedTitle = titleKeys.size > 0 && titleKeys.has(rowKey(cells));
      if (cells.length > width && !repeatedTitle && !isBlankRow(cells.slice(width)) && !isFooterRow(cells, idIndex, nameIndex)) {
        ragged.count++;
        if (ragged.rows.length < 5) ragged.rows.push(`第 ${n} 行（列数多于表头）`);
      }
      // A row shorter than the header: Excel drops the empty cells at the end of rows when it
      // saves CSV (and some exporters trim them), so the row then ends with a value, and the
      // missing cells are empty. A short row that ends with an empty cell was not trimmed: a
      // value is missing somewhere, and the row is refused.
      if (cells.length < width && !repeatedTitle && !isBlankRow(cells) && !isFooterRow(cells, idIndex, nameIndex)) {
        if (trimSpace(cells[cells.length - 1] ?? '') !== '') {
          padded++;
        } else {
          ragged.count++;
          if (ragged.rows.length < 5) ragged.rows.push(`第 ${n} 行（列数少于表头，且最后一个单元格为空）`);
        }
      }
      // A stray quote makes one cell swallow the lines (records) after it: a cell holding a line
      // break followed by what looks like another record is refused, not loaded.
      if (swallowed.length < 5 && cells.some((c) => swallowsRecords(c, args.delimiter, width))) swallowed.push(`第 ${n} 行`);
      if (cells.length !== width) cells = Array.from({ length: width }, (_, j) => cells[j] ?? '');
      // A cell longer than any value (a damaged file): cut, and its issue noted.
      let issues = repeatedTitle ? REPEATED_TITLE : '';
      if (!repeatedTitle) {
        const long: string[] = [];
        cells = cells.map((c, j) => {
          const out = limitCell(c, args.maxCellChars);
          if (out.issue) long.push(`${j}:${out.issue}`);
          return out.text;
        });
        issues = long.join(';');
      }
      rows++;
      if (!csv.write([String(n), issues, ...cells])) await once(csv, 'drain');
    }
    csv.end();
    await once(out, 'finish');
  } catch (error) {
    csv.end();
    out.destroy();
    fs.rmSync(target, { force: true });
    const e = error as { code?: string; lines?: number };
    if (e.code === 'CSV_QUOTE_NOT_CLOSED' || e.code?.startsWith('CSV_')) {
      throw new UserError('E_RAGGED_ROWS', `第 ${e.lines ?? '?'} 行附近的引号不配对，无法确定单元格的边界`, {
        file: args.displayPath,
        hint: '这一行通常含有未配对的英文双引号：在 Excel/WPS 中检查并修正，或重新导出为 .xlsx，然后重新导入。',
      });
    }
    throw error;
  }
  if (swallowed.length > 0) {
    fs.rmSync(target, { force: true });
    throw new UserError('E_RAGGED_ROWS', `${swallowed.join('、')}有一个单元格跨越多行，其中包含看起来像其他记录的内容（身份证号码或整行数据）：多半是少了一个配对的英文双引号，后面的行被并进了这个单元格`, {
      file: args.displayPath,
      hint: '在 Excel/WPS 或文本编辑器中找到这一行的双引号并修正（删去多余的引号），或重新导出为 .xlsx，然后重新导入；如果这个单元格本来就包含整行记录（例如从别处粘贴进来的），删去其中的换行后重新导入。',
    });
  }
  if (ragged.count > 0) {
    fs.rmSync(target, { force: true });
    throw new UserError('E_RAGGED_ROWS', `有 ${ragged.count} 行的列数与表头不一致，例如：${ragged.rows.join('、')}`, {
      file: args.displayPath,
      hint: '列数多的行通常含有未加引号的逗号（多出的内容不属于任何一列）；列数少的行缺了某一列的值，后面的值错了位：在 Excel/WPS 中检查并修正这些行，或重新导出为 .xlsx，然后重新导入。',
    });
  }
  return {
    kind: 'normalised',
    csvPath: target,
    displayPath: args.displayPath,
    headerCells,
    columnCount: width,
    mapping: header.mapping,
    header,
    headerRow: header.index + 1,
    rows,
    padded,
    maxCellChars: args.maxCellChars,
  };
}
