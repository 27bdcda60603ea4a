import { UserError } from '../core/errors.js';
import { type DatasetDef, normaliseHeader } from './datasets.js';
import { type HeaderMapping, mapHeaders, matchHeaders } from './headers.js';
import { FOOTER_START_RE2, FOOTER_WORDS, NOT_A_NAME_RE2 } from './sql-macros.js';
import { EXCEL_ERRORS, preClean, trimSpace } from './values.js';
import { ID_LIKE } from './id-number.js';

/**
 * Layout of an export (DOMAIN.md, "Real exports / Layout"): where the header is, which rows are
 * title rows above it, and which rows below it hold no record (empty rows, footers). The same
 * rules run in SQL for the bulk of a file (sql-macros.ts bidui_row_blank, bidui_row_footer); the
 * JS functions here serve the readers, which look at the first rows, fill merged ranges and check
 * ragged rows of text files.
 */

/** The header is searched for in the first rows of a file or sheet. */
export const HEADER_SEARCH_ROWS = 20;

export interface HeaderChoice {
  /** 0-based index, among the rows given, of the header row (the lower row of a two-level header). */
  index: number;
  /** Whether the row above supplied names where the header row is empty (two-level header). */
  twoLevel: boolean;
  mapping: HeaderMapping;
  /** Whether the row was configured (headerRow) rather than found. */
  configured: boolean;
}

const cellText = (cells: readonly (string | null | undefined)[] | undefined, j: number) => trimSpace(cells?.[j] ?? '');

/**
 * The header cells of row i: the row alone, and (when there is a row above) the row with the
 * row above filling its empty cells. In a two-level header the field names are the lower row and
 * group labels above are ignored; names merged vertically over both rows (XLSX) are already in
 * the lower row, and the fill covers text files, where the name is only in the upper row.
 */
function candidates(rows: readonly (readonly string[])[], i: number): { headers: string[]; twoLevel: boolean }[] {
  const row = rows[i] ?? [];
  const alone = row.map((_, j) => cellText(row, j));
  const out = [{ headers: alone, twoLevel: false }];
  if (i > 0) {
    const above = rows[i - 1] ?? [];
    const width = Math.max(row.length, above.length);
    const combined = Array.from({ length: width }, (_, j) => cellText(row, j) || cellText(above, j));
    if (combined.some((c, j) => c !== (alone[j] ?? ''))) out.push({ headers: combined, twoLevel: true });
  }
  return out;
}

/**
 * Find the header (DOMAIN.md): the first row, within the first HEADER_SEARCH_ROWS, whose cells
 * match the most of the dataset's fields, all required fields matching; or the configured row
 * (1-based). Throws a UserError that names the columns missing, or, when no row looks like a
 * header at all, says so without printing any row (rows may hold names and IDs).
 */
export function findHeader(
  rows: readonly (readonly string[])[],
  def: DatasetDef,
  overrides: Record<string, string>,
  file: string,
  configuredRow?: number,
): HeaderChoice {
  if (configuredRow !== undefined) {
    const i = configuredRow - 1;
    if (i >= rows.length) {
      throw new UserError('E_HEADER_ROW', `配置的表头行（第 ${configuredRow} 行）超出了文件的行数`, {
        file,
        hint: '检查配置中该数据集的 headerRow；删去 headerRow 则自动查找表头。',
      });
    }
    const best = candidates(rows, i)
      .map((c) => ({ ...c, m: matchHeaders(c.headers, def, overrides) }))
      .sort((a, b) => Number(a.m.missing.length > 0) - Number(b.m.missing.length > 0) || Object.keys(b.m.fields).length - Object.keys(a.m.fields).length)[0]!;
    if (Object.keys(best.m.fields).length < 2) {
      // Not a header row at all (a title, or a row of data: its cells are not printed).
      throw new UserError('E_HEADER_ROW', `配置的表头行（第 ${configuredRow} 行）不是${def.zh}（${def.name}）的表头：这一行没有可识别的列名`, {
        file,
        hint: '文件的格式可能变了（例如标题行增加或减少）：检查配置中该数据集的 headerRow，或删去 headerRow 让 bidui 自动查找表头。',
      });
    }
    const mapping = mapHeaders(best.headers, def, overrides, file, `配置的表头行（第 ${configuredRow} 行）`);
    return { index: i, twoLevel: best.twoLevel, mapping, configured: true };
  }
  let best: { i: number; headers: string[]; twoLevel: boolean; score: number } | undefined;
  let closest: { i: number; headers: string[]; score: number } | undefined;
  const limit = Math.min(rows.length, HEADER_SEARCH_ROWS);
  for (let i = 0; i < limit; i++) {
    for (const c of candidates(rows, i)) {
      const m = matchHeaders(c.headers, def, overrides);
      const score = Object.keys(m.fields).length;
      if (!closest || score > closest.score) closest = { i, headers: c.headers, score };
      if (m.missing.length > 0) continue;
      if (!best || score > best.score) best = { i, headers: c.headers, twoLevel: c.twoLevel, score };
    }
  }
  if (best) {
    const mapping = mapHeaders(best.headers, def, overrides, file, `第 ${best.i + 1} 行`);
    return { index: best.i, twoLevel: best.twoLevel, mapping, configured: false };
  }
  if (closest && closest.score >= 2) {
    // A row that matches several aliases is a header row (no personal data): name what it lacks.
    mapHeaders(closest.headers, def, overrides, file, `最接近表头的第 ${closest.i + 1} 行`);
  }
  // A file whose first row is already data (an ID number in it): say so, never print the row.
  const first = rows.findIndex((r) => r.some((c) => c.trim() !== ''));
  const dataFirst = first >= 0 && rows[first]!.some((c) => ID_LIKE.test(c));
  const why = dataFirst
    ? `文件似乎没有表头行：第 ${first + 1} 行已经是数据（含证件号码；为保护个人信息不显示其内容）`
    : `没有一行包含 ${def.fields.filter((fd) => fd.required).map((fd) => fd.zh).join('、')} 等必需的列`;
  throw new UserError('E_MISSING_COLUMN', `在文件的前 ${HEADER_SEARCH_ROWS} 行中找不到${def.zh}（${def.name}）的表头：${why}`, {
    file,
    hint:
      (dataFirst ? '在数据上方加上表头行（列名见 README 的数据集说明），或从部门系统重新导出带表头的文件；' : '') +
      '确认选对了文件（或工作表）和数据集；如果表头的名称不同，在配置的 "columns" 中写明，例如 "columns": { "<文件中的表头>": "id_number" }；' +
      '如果表头在第 20 行以后，用 "headerRow" 指定行号；如果文件显示为乱码，检查 encoding 设置。',
  });
}

const EXCEL_ERROR_SET = new Set<string>(EXCEL_ERRORS);

/** A row without data (the JS twin of bidui_row_blank): every cell blank, an error value or a formula without result. */
export function isBlankRow(cells: readonly (string | null | undefined)[]): boolean {
  return cells.every((c) => {
    if (c == null) return true;
    const p = trimSpace(preClean(c));
    return p === '' || EXCEL_ERROR_SET.has(p) || (p.startsWith('=') && !p.startsWith('="'));
  });
}

/** Whether an ID cell holds an ID at all (6 or more digits; bidui_has_id). */
export function hasIdValue(cell: string | null | undefined): boolean {
  return (cell ?? '').replace(/[^0-9]/g, '').length >= 6;
}

const hasFooterWord = (c: string | null | undefined) => c != null && FOOTER_WORDS.some((w) => c.includes(w));

// The RE2 patterns of sql-macros.ts, as JS patterns (the \x{…} escapes of RE2 are \u{…} here).
const re2ToJs = (re2: string) => new RegExp(re2.replace(/\\x\{([0-9A-Fa-f]+)\}/g, '\\u{$1}'), 'u');
const FOOTER_START = re2ToJs(`^${FOOTER_START_RE2}`);
const NOT_A_NAME = re2ToJs(NOT_A_NAME_RE2);

/**
 * A footer row (the JS twin of the SQL test; DOMAIN.md "Layout"): no ID value, and either its
 * first non-empty cell starts with a footer word or a note label (合计, 制表人：, 注：…), or a cell
 * holds a footer word and the name cell holds no person's name (empty, 3人, 制表人：). A member
 * without an ID whose 备注 says 待审核 is a record: the roster loses no one.
 */
export function isFooterRow(cells: readonly (string | null | undefined)[], idIndex: number | undefined, nameIndex?: number): boolean {
  if (idIndex !== undefined && hasIdValue(cells[idIndex])) return false;
  const first = cells.map((c) => trimSpace(preClean(c ?? ''))).find((c) => c !== '');
  if (first !== undefined && FOOTER_START.test(first)) return true;
  if (nameIndex !== undefined) {
    const name = trimSpace(preClean(cells[nameIndex] ?? ''));
    if (name !== '' && !NOT_A_NAME.test(name)) return false;
  }
  return cells.some(hasFooterWord);
}

/** The header row repeated below the header (page breaks of printed exports). */
export function isHeaderRepeat(cells: readonly (string | null | undefined)[], header: readonly string[]): boolean {
  return header.length > 0 && header.every((h, j) => normaliseHeader(h) === normaliseHeader(cells[j] ?? ''));
}

/** Why a row below the header is skipped (not read as a record), or null. */
export type SkipReason = 'empty' | 'footer' | 'header';
export const SKIP_REASON_ZH: Record<SkipReason, string> = {
  empty: '空行',
  footer: '表尾行（合计、制表人等）',
  header: '重复的表头行或标题行',
};
