/**
 * Resident ID numbers (GB 11643-1999), the JS twin of the SQL macros in sql-macros.ts.
 * Bulk normalisation happens in DuckDB; this twin serves the fixture generator and the tests,
 * which check that both give the same answer on generated inputs.
 *
 * Normalisation (DOMAIN.md): fold full-width forms to half-width (NFKC restricted to the
 * full-width block U+FF01–FF5E and U+3000, the only NFKC mappings that occur in exported IDs and
 * the ones DuckDB can reproduce with translate()); remove whitespace, quotes and apostrophes;
 * upper-case (x → X); upgrade 15 digits to 18.
 */

export const PROVINCE_CODES = [
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37',
  '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65',
  '71', '81', '82',
] as const;

export const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
export const CHECK_CHARS = '10X98765432';

/** Why an ID is invalid, in the order DOMAIN.md checks them. */
export const ID_PROBLEMS = ['empty', 'excel', 'length', 'chars', 'region', 'birth_date', 'check_digit'] as const;
export type IdProblem = (typeof ID_PROBLEMS)[number];

export const ID_PROBLEM_ZH: Record<IdProblem, string> = {
  empty: '证件号码为空',
  excel: '证件号码被 Excel 转成科学计数法，无法恢复',
  length: '证件号码位数不对（应为 18 位）',
  chars: '证件号码含非法字符',
  region: '证件号码前两位不是有效的省级行政区划代码',
  birth_date: '证件号码中的出生日期无效或晚于比对日期',
  check_digit: '证件号码校验位错误',
};

/** Characters deleted during normalisation: whitespace of every width, quotes, apostrophes. */
export const ID_DELETE_CHARS =
  '\t\n\v\f\r \u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u200B' +
  '\u2028\u2029\u202F\u205F\u3000\uFEFF"\'`\u2018\u2019\u201C\u201D\uFF02\uFF07';

/** Full-width forms folded to ASCII (U+FF01–FF5E → U+0021–007E), quotes excluded (deleted). */
export const FOLD_FROM = Array.from({ length: 0x5e }, (_, i) => String.fromCharCode(0xff01 + i))
  .filter((c) => c !== '\uFF02' && c !== '\uFF07')
  .join('');
export const FOLD_TO = Array.from(FOLD_FROM, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).join('');

const foldMap = new Map<string, string>();
for (let i = 0; i < FOLD_FROM.length; i++) foldMap.set(FOLD_FROM[i]!, FOLD_TO[i]!);
const deleteSet = new Set(ID_DELETE_CHARS);

/** Full-width folding only (used for IDs, dates, numbers, township names). */
export function foldWidth(value: string): string {
  let out = '';
  for (const ch of value) out += foldMap.get(ch) ?? (ch === '\u3000' ? ' ' : ch);
  return out;
}

export function checkChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * CHECK_WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

export function normaliseId(raw: string | null | undefined): string {
  if (raw == null) return '';
  let out = '';
  for (const ch of raw) {
    if (deleteSet.has(ch)) continue;
    out += foldMap.get(ch) ?? ch;
  }
  out = out.toUpperCase();
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
  if (id === '') return 'empty';
  if (/^[0-9]+(\.[0-9]+)?E\+?[0-9]+$/.test(id)) return 'excel';
  if ([...id].length !== 18) return 'length';
  if (!/^[0-9]{17}[0-9X]$/.test(id)) return 'chars';
  if (!(PROVINCE_CODES as readonly string[]).includes(id.slice(0, 2))) return 'region';
  const birth = realDate(id.slice(6, 14));
  if (birth === null || birth > asOf) return 'birth_date';
  if (checkChar(id) !== id[17]) return 'check_digit';
  return null;
}

/** Birth date of a valid ID as 'YYYY-MM-DD'. */
export function birthDate(id: string): string {
  return `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
}
