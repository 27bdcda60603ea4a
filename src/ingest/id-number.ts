import { foldWidth, stripFormatChars, unwrapFormulaText } from './values.js';

/**
 * Resident ID numbers (GB 11643-1999), the JS twin of the SQL macros in sql-macros.ts.
 * Bulk normalisation happens in DuckDB; this twin serves the fixture generator and the tests,
 * which check that both give the same answer on drawn inputs.
 *
 * Normalisation (DOMAIN.md, see normaliseId) folds the full-width block U+FF01–FF5E and U+3000:
 * NFKC restricted to the mappings that occur in exported IDs, the ones DuckDB can reproduce with
 * translate().
 */

export const PROVINCE_CODES = [
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37',
  '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65',
  '71', '81', '82',
] as const;

export const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
export const CHECK_CHARS = '10X98765432';

/**
 * Why an ID is invalid, in the order DOMAIN.md checks them. `missing`: empty or unreadable (an
 * Excel error value, a formula without its result); `excel`: Excel notation, or digits lost in
 * an Excel number cell (see the `…000` rule in stage.ts).
 */
/** A cell that holds nothing but an ID number (15 or 18 characters, outer spaces allowed). */
export const ID_LIKE = /^\s*[0-9]{15}(?:[0-9]{2}[0-9Xx])?\s*$/;

export const ID_PROBLEMS = ['missing', 'excel', 'length', 'chars', 'region', 'birth_date', 'check_digit'] as const;
export type IdProblem = (typeof ID_PROBLEMS)[number];

export const ID_PROBLEM_ZH: Record<IdProblem, string> = {
  missing: '证件号码为空或无法读取',
  excel: '证件号码被 Excel 当作数字保存过，后几位已丢失，无法恢复',
  length: '证件号码位数不对（应为 18 位）',
  chars: '证件号码含非法字符',
  region: '证件号码前两位不是有效的省级行政区划代码',
  birth_date: '证件号码中的出生日期无效或晚于比对日期',
  check_digit: '证件号码校验位错误',
};

/** Space of every width, deleted from IDs (format characters are removed first, see values.ts). */
export const ID_SPACE_CHARS =
  '\t\n\v\f\r \u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A' +
  '\u2028\u2029\u202F\u205F\u3000';
/** Quotes and apostrophes, deleted from IDs once a `="…"` wrapper is unwrapped. */
export const ID_QUOTE_CHARS = '"\'`\u2018\u2019\u201C\u201D\uFF02\uFF07';

const spaceSet = new Set(ID_SPACE_CHARS);
const quoteSet = new Set(ID_QUOTE_CHARS);

export function checkChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * CHECK_WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/**
 * Normalise an ID as written (DOMAIN.md): format characters removed; space of every width
 * deleted; a `="…"` wrapper unwrapped; quotes and apostrophes deleted; full-width folded; upper
 * case (x → X); a trailing `.0` after the digits removed; 15 digits upgraded to 18.
 */
export function normaliseId(raw: string | null | undefined): string {
  if (raw == null) return '';
  let spaced = '';
  for (const ch of stripFormatChars(raw)) if (!spaceSet.has(ch)) spaced += ch;
  let out = '';
  for (const ch of unwrapFormulaText(spaced)) if (!quoteSet.has(ch)) out += ch;
  out = foldWidth(out).toUpperCase().replace(/^([0-9]+)\.0+$/, '$1');
  if (/^[0-9]{15}$/.test(out)) {
    const body = `${out.slice(0, 6)}19${out.slice(6)}`;
    out = body + checkChar(body);
  }
  return out;
}

function realDate(yyyymmdd: string): string | null {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return null;
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return null;
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
}

/** The first problem of a normalised ID as of asOf ('YYYY-MM-DD'), or null when valid. */
export function idProblem(id: string, asOf: string): IdProblem | null {
  if (id === '') return 'missing';
  if (/^[0-9]+(\.[0-9]+)?E\+?[0-9]+$/.test(id)) return 'excel';
  if ([...id].length !== 18) return 'length';
  if (!/^[0-9]{17}[0-9X]$/.test(id)) return 'chars';
  if (!(PROVINCE_CODES as readonly string[]).includes(id.slice(0, 2))) return 'region';
  const birth = realDate(id.slice(6, 14));
  if (birth === null || birth > asOf) return 'birth_date';
  if (checkChar(id) !== id[17]) return 'check_digit';
  return null;
}

/**
 * The leading digits of an Excel-damaged ID that Excel kept: of `5.22625E+17` the mantissa's
 * digits, of an 18-digit number cell its first 15 (the significant digits Excel stores).
 */
export function excelDigits(id: string): string {
  if (/E/.test(id)) return id.split('E')[0]!.replace(/[^0-9]/g, '');
  return id.slice(0, 15);
}

/** Birth date of a valid ID as 'YYYY-MM-DD'. */
export function birthDate(id: string): string {
  return `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
}
