/**
 * Cell values as departments write them (DOMAIN.md, "Real exports / Values"): the JS twin of the
 * text macros in sql-macros.ts. Bulk cleaning happens in DuckDB; this twin serves header
 * matching, layout detection (title, footer and empty rows are recognised in JS before DuckDB
 * reads a file) and the tests, which check that both give the same answer on drawn strings.
 *
 * Order, for every value: Unicode format characters and the soft hyphen are removed, surrounding
 * space is trimmed, a whole-cell `="…"` wrapper (Excel's text-forcing idiom) is unwrapped, the
 * full-width block is folded to half-width (not for names), and space is trimmed again.
 */

/**
 * Unicode format characters (general category Cf, Unicode 15.1; U+00AD, the soft hyphen, is one
 * of them), listed explicitly so that RE2 in DuckDB and V8 agree whatever Unicode version each
 * was built with. Zero-width spaces and joiners, bidi marks, the word joiner and the BOM are the
 * ones seen in exports.
 */
export const FORMAT_CHAR_RANGES: readonly (readonly [number, number])[] = [
  [0x001a, 0x001a], [0x00ad, 0x00ad], [0x0600, 0x0605], [0x061c, 0x061c], [0x06dd, 0x06dd], [0x070f, 0x070f],
  [0x0890, 0x0891], [0x08e2, 0x08e2], [0x180e, 0x180e], [0x200b, 0x200f], [0x202a, 0x202e],
  [0x2060, 0x2064], [0x2066, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffb], [0x110bd, 0x110bd],
  [0x110cd, 0x110cd], [0x13430, 0x1343f], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001], [0xe0020, 0xe007f],
];

const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
/** The body of a character class of the format characters, in RE2 syntax (`\x{…}`). */
export const FORMAT_CLASS_RE2 = FORMAT_CHAR_RANGES.map(([a, b]) => (a === b ? `\\x{${hex(a)}}` : `\\x{${hex(a)}}-\\x{${hex(b)}}`)).join('');
const FORMAT_RE = new RegExp(`[${FORMAT_CHAR_RANGES.map(([a, b]) => (a === b ? `\\u{${hex(a)}}` : `\\u{${hex(a)}}-\\u{${hex(b)}}`)).join('')}]`, 'gu');

/**
 * Space trimmed around values: RE2's `\s` (tab, newline, form feed, carriage return, space), the
 * no-break space and the ideographic space. Spelled out because JS `\s` is wider than RE2's.
 */
export const TRIM_CLASS = '\\t\\n\\f\\r \\u00A0\\u3000';
export const TRIM_CLASS_RE2 = '\\t\\n\\f\\r \\x{00A0}\\x{3000}';
const TRIM_RE = new RegExp(`^[${TRIM_CLASS}]+|[${TRIM_CLASS}]+$`, 'g');

/** Full-width forms folded to ASCII (U+FF01–FF5E → U+0021–007E), quotes excluded (IDs delete them). */
export const FOLD_FROM = Array.from({ length: 0x5e }, (_, i) => String.fromCharCode(0xff01 + i))
  .filter((c) => c !== '\uFF02' && c !== '\uFF07')
  .join('');
export const FOLD_TO = Array.from(FOLD_FROM, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).join('');
const foldMap = new Map<string, string>();
for (let i = 0; i < FOLD_FROM.length; i++) foldMap.set(FOLD_FROM[i]!, FOLD_TO[i]!);

/** Full-width folding only (U+FF01–FF5E and the ideographic space U+3000). */
export function foldWidth(value: string): string {
  let out = '';
  for (const ch of value) out += foldMap.get(ch) ?? (ch === '\u3000' ? ' ' : ch);
  return out;
}

export function stripFormatChars(value: string): string {
  return value.replace(FORMAT_RE, '');
}

export function trimSpace(value: string): string {
  return value.replace(TRIM_RE, '');
}

/** A whole-cell `="…"` wrapper removed (the content is kept as written). */
export function unwrapFormulaText(value: string): string {
  const m = /^="([\s\S]*)"$/.exec(value);
  return m ? m[1]! : value;
}

/** Format characters removed, trimmed, `="…"` unwrapped: the value every later step sees. */
export function preClean(value: string): string {
  return unwrapFormulaText(trimSpace(stripFormatChars(value)));
}

/** A text value (places, codes, types): pre-cleaned, width-folded, trimmed; null when empty. */
export function cleanText(value: string | null | undefined): string | null {
  if (value == null) return null;
  const out = trimSpace(foldWidth(preClean(value)));
  return out === '' ? null : out;
}

/** The marks a name of Chinese characters may hold beside them (买买提·艾力); SQL twins in sql-macros.ts. */
export const NAME_MARKS = '·•';
const HAN_NAME_RE = new RegExp(`^[\\p{Script=Han}${NAME_MARKS}${TRIM_CLASS}]+$`, 'u');
const SPACE_RE = new RegExp(`[${TRIM_CLASS}]+`, 'g');

/**
 * A name: pre-cleaned and trimmed, not folded (a name's characters are kept as written). A name
 * of Chinese characters loses the space inside it: documents align two-character names with
 * three-character ones (李　四, 王 五), and an HTML line break splits one (张<br>小).
 */
export function cleanName(value: string | null | undefined): string | null {
  if (value == null) return null;
  let out = trimSpace(preClean(value));
  if (HAN_NAME_RE.test(out)) out = out.replace(SPACE_RE, '');
  return out === '' ? null : out;
}

/**
 * The longest cell bidui reads, in characters: Excel's own limit (32,767 characters per cell).
 * No registry value comes near it; a longer cell is a damaged file or a stray quote, and cells
 * of megabytes would hit DuckDB's limits (a line of at most 10 MB, string statistics).
 */
export const MAX_CELL_CHARS = 32767;

/** A cell cut to `max` characters (limits.maxCellChars), with the issue when it was longer. */
export function limitCell(text: string, max: number = MAX_CELL_CHARS): { text: string; issue?: 'too_long' } {
  if (text.length <= max) return { text };
  const chars = Array.from(text);
  return chars.length > max ? { text: chars.slice(0, max).join(''), issue: 'too_long' } : { text };
}

/**
 * Excel's error values, as a cell shows them (and as Excel writes them into a CSV), and
 * LibreOffice's own (Err:501 … Err:539, shown where Excel has no equivalent; in .ods files and
 * LibreOffice's CSV exports).
 */
export const EXCEL_ERRORS: readonly string[] = [
  '#N/A', '#VALUE!', '#REF!', '#DIV/0!', '#NUM!', '#NAME?', '#NULL!', '#SPILL!', '#CALC!',
  '#GETTING_DATA', '#FIELD!', '#BLOCKED!', '#UNKNOWN!', '#CONNECT!', '#BUSY!', '#EXTERNAL!', '#PYTHON!',
  ...Array.from({ length: 39 }, (_, i) => `Err:${501 + i}`),
];
const EXCEL_ERROR_SET = new Set<string>(EXCEL_ERRORS);

/**
 * Why a cell holds no usable value although it is not empty, from its text:
 * - 'error': an Excel error value (`#N/A` from a lookup that found nothing, `#REF!` …);
 * - 'formula': a formula written without its result (text starting with `=` that is not the
 *   `="…"` wrapper): the file was written by a program and never opened and saved in Excel/WPS.
 * - 'too_long': longer than MAX_CELL_CHARS characters.
 * Spreadsheet readers add more from the cell's type (see CellIssue).
 */
export function cellIssue(value: string | null | undefined): 'error' | 'formula' | 'too_long' | null {
  if (value == null) return null;
  if (value.length > MAX_CELL_CHARS && Array.from(value).length > MAX_CELL_CHARS) return 'too_long';
  const pre = preClean(value);
  if (EXCEL_ERROR_SET.has(pre)) return 'error';
  if (pre.startsWith('=')) return 'formula';
  return null;
}

/**
 * Issues a cell can carry into the typing SQL (spreadsheets write them per row; for text files
 * the SQL finds 'error' and 'formula' from the text):
 * - error, formula: as cellIssue;
 * - excel_number: an ID or code stored as a number of 16 or more digits: Excel kept only 15
 *   significant digits, the rest are zeros;
 * - ambiguous_date: a non-whole number in a date column (2014.07: July, or 2014.1 October?);
 * - number_date: a number in a date column that is no date (201806 as a serial is in 2452);
 * - too_long: a cell longer than MAX_CELL_CHARS, kept cut to that length (readers; the SQL finds
 *   it in a file DuckDB reads directly).
 */
export const CELL_ISSUES = ['error', 'formula', 'excel_number', 'ambiguous_date', 'number_date', 'too_long'] as const;
export type CellIssue = (typeof CELL_ISSUES)[number];
