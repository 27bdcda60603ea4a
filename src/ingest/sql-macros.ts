import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral, runStep } from '../core/sql.js';
import { CHECK_CHARS, CHECK_WEIGHTS, ID_PROBLEM_ZH, ID_QUOTE_CHARS, ID_SPACE_CHARS, PROVINCE_CODES } from './id-number.js';
import { EXCEL_ERRORS, FOLD_FROM, FOLD_TO, FORMAT_CLASS_RE2, MAX_CELL_CHARS, NAME_MARKS, TRIM_CLASS_RE2 } from './values.js';

/**
 * DuckDB macros for the bulk normalisation. Built from the same constants as the JS twins in
 * values.ts and id-number.ts (the tests compare them on drawn strings). All are TEMP macros,
 * created on every connection, so the store never depends on an older definition.
 */
// The weighted digit sum of the first 17 digits, from one BIGINT: integer arithmetic on a
// vector is cheaper in DuckDB than splitting the string into a list of characters. `t` is
// referenced 17 times (macros are textual), so call it on a column; bidui_check_char_of below is
// for expressions.
const checkSum = CHECK_WEIGHTS.map((w, i) => `((TRY_CAST(substr(t, 1, 17) AS BIGINT) // ${10n ** BigInt(16 - i)}) % 10) * ${w}`).join(' + ');

const checkSumOnce = `list_dot_product(list_transform(string_split(substr(t, 1, 17), ''), x -> (ascii(x) - 48)::DOUBLE), [${CHECK_WEIGHTS.join(', ')}]::DOUBLE[])::BIGINT`;

/** An RE2 character class body of the characters, each escaped as \x{…}. */
function re2Class(chars: string): string {
  return [...chars].map((c) => `\\x{${c.codePointAt(0)!.toString(16).padStart(2, '0')}}`).join('');
}
const ASCII = (chars: string) => [...chars].filter((c) => c.charCodeAt(0) < 0x80).join('');

/** RE2 alternation of Excel's error values (each escaped). */
const EXCEL_ERROR_RE2 = EXCEL_ERRORS.map((e) => e.replace(/[.*+?^${}()|[\]\\/!#]/g, (c) => (c === '/' || c === '!' || c === '#' ? c : `\\${c}`))).join('|');

export const FOOTER_WORDS = ['合计', '小计', '总计', '制表', '填表', '审核', '负责人'] as const;
/** Labels that start a note below a table (注：…, 说明：…), footers when they start a row. */
export const NOTE_LABELS = ['注', '说明', '备注', '填报说明', '填表说明'] as const;
/** A row's first cell that starts a footer: a footer word, or a note label with its colon. */
export const FOOTER_START_RE2 = `(?:${FOOTER_WORDS.join('|')}|(?:${NOTE_LABELS.join('|')})[${TRIM_CLASS_RE2}]*[：:])`;
/** A name that is no person's: digits (3人), a colon (制表人：), or a footer word. */
export const NOT_A_NAME_RE2 = `[0-9０-９：:]|${FOOTER_WORDS.join('|')}`;

/** RE2 class body of the characters of a name of Chinese characters (bidui_squeeze_name; values.ts cleanName). */
const NAME_CHARS = `\\p{Han}${NAME_MARKS}`;
/**
 * What the dirty tests look for (the cleaning would change the value): a character to fold or
 * remove, and space inside a name of Chinese characters (which bidui_squeeze_name removes).
 */
const TO_FOLD_OR_DROP = `[\uFF01-\uFF5E\u3000${FORMAT_CLASS_RE2}]`;
const SPACE_IN_NAME = `[${NAME_CHARS}][${TRIM_CLASS_RE2}]+[${NAME_CHARS}]`;

/**
 * The macros that depend on limits.maxCellChars (re-created by setCellLimit): a cell's issue
 * (too long, an Excel error value, a formula without result) from its pre-cleaned text p, and
 * the whole-row test of bidui_row_dirty (a row longer than one cell may be is looked at).
 */
function cellLimitMacros(max: number): string {
  const n = Math.trunc(max);
  return `CREATE OR REPLACE TEMP MACRO bidui_cell_issue_pre(p) AS
  CASE WHEN length(p) > ${n} THEN 'too_long' WHEN regexp_full_match(p, '${EXCEL_ERROR_RE2}') THEN 'error' WHEN starts_with(p, '=') THEN 'formula' END;
CREATE OR REPLACE TEMP MACRO bidui_row_dirty(joined) AS
  strlen(joined) > ${n} OR regexp_matches(joined, '${TO_FOLD_OR_DROP}|(?:^|\\x01)(?:[${TRIM_CLASS_RE2}=#]|Err:5)|[${TRIM_CLASS_RE2}](?:\\x01|$)|${SPACE_IN_NAME}');
CREATE OR REPLACE TEMP MACRO bidui_cell_dirty(s) AS
  strlen(s) > ${n} OR regexp_matches(s, '${TO_FOLD_OR_DROP}|^(?:[${TRIM_CLASS_RE2}=#]|Err:5)|[${TRIM_CLASS_RE2}]$|${SPACE_IN_NAME}');`;
}

/** Use another cell limit (config limits.maxCellChars) on this connection. */
export async function setCellLimit(conn: DuckDBConnection, max: number): Promise<void> {
  await runStep(conn, 'cell limit', cellLimitMacros(max));
}

export const MACROS_SQL = `
-- Format characters (Cf, soft hyphen) removed; space trimmed; the ="…" wrapper unwrapped. Each
-- references its argument once, so they nest without repeating work (macros are textual).
CREATE OR REPLACE TEMP MACRO bidui_strip_cf(s) AS regexp_replace(s, '[${FORMAT_CLASS_RE2}]', '', 'g');
CREATE OR REPLACE TEMP MACRO bidui_trim_space(s) AS regexp_replace(s, '^[${TRIM_CLASS_RE2}]+|[${TRIM_CLASS_RE2}]+$', '', 'g');
CREATE OR REPLACE TEMP MACRO bidui_unwrap(s) AS regexp_replace(s, '^="((?s:.*))"$', '\\1');
CREATE OR REPLACE TEMP MACRO bidui_pre(s) AS bidui_unwrap(bidui_trim_space(bidui_strip_cf(s)));
-- translate() with a long alphabet is slow per value; most values have nothing to fold, and an
-- RE2 character-class test is cheap, so fold only when there is something to fold.
CREATE OR REPLACE TEMP MACRO bidui_fold(s) AS
  CASE WHEN regexp_matches(s, '[\uFF01-\uFF5E\u3000]')
    THEN replace(translate(s, ${quoteLiteral(FOLD_FROM)}, ${quoteLiteral(FOLD_TO)}), '\u3000', ' ')
    ELSE s END;
CREATE OR REPLACE TEMP MACRO bidui_trim(s) AS nullif(bidui_trim_space(s), '');
-- The pre-cleaned value is bound once (bidui_fold refers to its argument three times).
CREATE OR REPLACE TEMP MACRO bidui_text(s) AS list_transform([bidui_pre(s)], p -> bidui_trim(bidui_fold(p)))[1];
-- A name of Chinese characters loses the space inside it (values.ts cleanName).
CREATE OR REPLACE TEMP MACRO bidui_squeeze_name(t) AS
  CASE WHEN regexp_full_match(t, '[${NAME_CHARS}${TRIM_CLASS_RE2}]+') THEN regexp_replace(t, '[${TRIM_CLASS_RE2}]+', '', 'g') ELSE t END;
CREATE OR REPLACE TEMP MACRO bidui_name(s) AS bidui_trim(bidui_squeeze_name(bidui_pre(s)));
-- Why a non-empty cell has no usable value, from its pre-cleaned text p: an Excel error value,
-- or a formula without its result (values.ts cellIssue).
${cellLimitMacros(MAX_CELL_CHARS)}
CREATE OR REPLACE TEMP MACRO bidui_cell_issue(s) AS list_transform([bidui_pre(s)], p -> bidui_cell_issue_pre(p))[1];
-- Ingest tests a whole row once (bidui_row_dirty over its text columns joined by U+0001): when no
-- value has anything to fold or remove, none starts or ends with space, and none starts with =,
-- # or Err:5 (a wrapper, a formula, an error value of Excel or LibreOffice: values.ts
-- EXCEL_ERRORS), every value is itself (or NULL when empty), and the per-value work is skipped. One RE2 test per row costs much less than one per value. A row
-- longer than one cell may be (in bytes) is looked at too: a cell may be too long. In a dirty row
-- the same test per value (bidui_cell_dirty) picks the values that need the work: a messy export
-- has a third of its rows dirty, most of them by one value (typing of such a roster 1.8 → 1.4 s
-- per 280,000 rows).
-- A cell's value for typing: its cleaned text, or NULL when empty or when it is an Excel error
-- value or a formula without result (whose issue typing works out only for such rare cells).
CREATE OR REPLACE TEMP MACRO bidui_text_ok(s) AS
  list_transform([bidui_pre(s)], p -> CASE WHEN bidui_cell_issue_pre(p) IS NULL THEN bidui_trim(bidui_fold(p)) END)[1];
CREATE OR REPLACE TEMP MACRO bidui_name_ok(s) AS
  list_transform([bidui_pre(s)], p -> CASE WHEN bidui_cell_issue_pre(p) IS NULL THEN bidui_trim(bidui_squeeze_name(p)) END)[1];
CREATE OR REPLACE TEMP MACRO bidui_value_in(s, dirty) AS CASE WHEN dirty AND bidui_cell_dirty(s) THEN bidui_text_ok(s) ELSE nullif(s, '') END;
CREATE OR REPLACE TEMP MACRO bidui_name_value_in(s, dirty) AS CASE WHEN dirty AND bidui_cell_dirty(s) THEN bidui_name_ok(s) ELSE nullif(s, '') END;
-- A code (户编号, 户号) that went through a number keeps a trailing .0: removed. One that Excel
-- showed in scientific notation (5.22625E+13) has lost its digits: NULL (typing says why), never a
-- key that would put different households together.
CREATE OR REPLACE TEMP MACRO bidui_code(t) AS
  CASE WHEN ends_with(t, '.0') THEN regexp_replace(t, '^([0-9]+)\\.0+$', '\\1')
       WHEN contains(t, 'E') AND regexp_full_match(t, '[0-9]+(\\.[0-9]+)?E\\+?[0-9]+') THEN NULL
       ELSE t END;
CREATE OR REPLACE TEMP MACRO bidui_check_char(t) AS
  substr(${quoteLiteral(CHECK_CHARS)}, (1 + ((${checkSum}) % 11))::INTEGER, 1);
-- The same character for an expression: t is referenced once (a list dot product), so an
-- expensive argument is evaluated once; about twice as slow per value as bidui_check_char.
CREATE OR REPLACE TEMP MACRO bidui_check_char_of(t) AS
  substr(${quoteLiteral(CHECK_CHARS)}, (1 + ((${checkSumOnce}) % 11))::INTEGER, 1);
-- IDs (id-number.ts normaliseId): format characters and space deleted, the ="…" wrapper
-- unwrapped, quotes deleted, full-width folded, upper case. translate() parses its alphabet for
-- every value (slow with ~130 characters): ASCII-only values (padding, quotes: most damaged IDs)
-- take regexp_replace with ASCII classes instead.
CREATE OR REPLACE TEMP MACRO bidui_id_clean(s) AS
  CASE WHEN regexp_full_match(s, '[0-9Xx]*') THEN upper(s)
    WHEN strlen(s) = length(s) THEN upper(regexp_replace(bidui_unwrap(regexp_replace(s, '[${re2Class(ASCII(ID_SPACE_CHARS))}]', '', 'g')), '[${re2Class(ASCII(ID_QUOTE_CHARS))}]', '', 'g'))
    ELSE upper(translate(bidui_unwrap(regexp_replace(s, '[${re2Class(ID_SPACE_CHARS)}${FORMAT_CLASS_RE2}]', '', 'g')), ${quoteLiteral(FOLD_FROM + ID_QUOTE_CHARS)}, ${quoteLiteral(FOLD_TO)})) END;
CREATE OR REPLACE TEMP MACRO bidui_id_upgrade(t) AS
  CASE WHEN regexp_full_match(t, '[0-9]{15}')
    THEN (substr(t, 1, 6) || '19' || substr(t, 7)) || bidui_check_char_of(substr(t, 1, 6) || '19' || substr(t, 7))
    ELSE t END;
-- Most IDs are already well-formed: one RE2 test returns them unchanged. For the rest, the
-- one-element list binds the cleaned value once (bidui_id_upgrade refers to its argument
-- several times, and macros are textual); a trailing .0 after the digits goes before the upgrade.
CREATE OR REPLACE TEMP MACRO bidui_norm_id(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{17}[0-9X]') THEN s
       WHEN s IS NULL THEN NULL
       ELSE list_transform([regexp_replace(bidui_id_clean(s), '^([0-9]+)\\.0+$', '\\1')], cleaned -> bidui_id_upgrade(cleaned))[1] END;
CREATE OR REPLACE TEMP MACRO bidui_id_birth(t) AS
  CASE WHEN regexp_full_match(t, '[0-9]{17}[0-9X]') THEN try_strptime(substr(t, 7, 8), '%Y%m%d')::DATE END;
-- The problem of an ID regardless of the as-of date, in DOMAIN.md's order, given its birth date
-- b = bidui_id_birth(t) and expected check character c = bidui_check_char(t). Ingest computes b
-- and c as columns first: inside CASE branches DuckDB evaluates expressions under a selection
-- vector, which made the check-digit arithmetic there several times slower. b is not NULL only
-- for a well-formed [0-9]{17}[0-9X] ID with a real date, which cannot be Excel notation, the
-- wrong length or bad characters, so the common case is settled without another pattern test.
CREATE OR REPLACE TEMP MACRO bidui_id_problem_static_bc(t, b, c) AS
  CASE
    WHEN b IS NOT NULL THEN
      CASE
        WHEN NOT list_contains([${PROVINCE_CODES.map(quoteLiteral).join(', ')}], substr(t, 1, 2)) THEN 'region'
        WHEN substr(t, 18, 1) <> c THEN 'check_digit'
      END
    WHEN t IS NULL OR t = '' THEN 'missing'
    WHEN regexp_full_match(t, '[0-9]{17}[0-9X]') THEN
      CASE WHEN NOT list_contains([${PROVINCE_CODES.map(quoteLiteral).join(', ')}], substr(t, 1, 2)) THEN 'region' ELSE 'birth_date' END
    WHEN regexp_full_match(t, '[0-9]+(\\.[0-9]+)?E\\+?[0-9]+') THEN 'excel'
    WHEN length(t) <> 18 THEN 'length'
    ELSE 'chars'
  END;
CREATE OR REPLACE TEMP MACRO bidui_id_problem_static(t) AS bidui_id_problem_static_bc(t, bidui_id_birth(t), bidui_check_char(t));
-- The digits Excel kept of a damaged ID (id-number.ts excelDigits).
CREATE OR REPLACE TEMP MACRO bidui_excel_digits(t) AS
  CASE WHEN contains(t, 'E') THEN regexp_replace(split_part(t, 'E', 1), '[^0-9]', '', 'g') ELSE left(t, 15) END;
-- Ingest stores each ID's problem without the as-of date (p = bidui_id_problem_static(t))
-- and its birth date (b); on a given D only "born after D" can change, and it comes before the
-- check digit in DOMAIN.md's order.
CREATE OR REPLACE TEMP MACRO bidui_id_problem_on(p, b, d) AS
  CASE WHEN p IS NOT NULL AND p <> 'check_digit' THEN p
       WHEN b IS NULL OR b > d THEN 'birth_date'
       ELSE p END;
CREATE OR REPLACE TEMP MACRO bidui_id_valid_on(p, b, d) AS p IS NULL AND b <= d;
CREATE OR REPLACE TEMP MACRO bidui_id_problem(t, d) AS bidui_id_problem_on(bidui_id_problem_static(t), bidui_id_birth(t), d);
CREATE OR REPLACE TEMP MACRO bidui_id_valid(t, d) AS bidui_id_problem(t, d) IS NULL;

CREATE OR REPLACE TEMP MACRO bidui_id_problem_zh(p) AS
  CASE p ${Object.entries(ID_PROBLEM_ZH).map(([k, v]) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(v)}`).join(' ')}
    WHEN 'empty' THEN ${quoteLiteral(ID_PROBLEM_ZH.missing)} END;
-- Characters that differ between two strings of the same length. hamming() counts bytes and
-- refuses strings of different byte lengths (a damaged ID may hold 〇 or ×: exit 70 before 0.7.2),
-- so it serves only two ASCII strings; others are compared character by character.
CREATE OR REPLACE TEMP MACRO bidui_char_diffs(a, b) AS
  CASE WHEN strlen(a) = length(a) AND strlen(b) = length(b) THEN hamming(a, b)
       ELSE len(list_filter(range(1, length(a) + 1), i -> substr(a, i, 1) <> substr(b, i, 1))) END;
CREATE OR REPLACE TEMP MACRO bidui_one_edit(a, b) AS
  length(a) = length(b) AND a <> b AND CASE bidui_char_diffs(a, b)
    WHEN 1 THEN true
    WHEN 2 THEN list_bool_or(list_transform(range(1, length(a)),
      i -> substr(a, i, 1) <> substr(b, i, 1) AND substr(a, i, 1) = substr(b, i + 1, 1) AND substr(a, i + 1, 1) = substr(b, i, 1)))
    ELSE false END;
CREATE OR REPLACE TEMP MACRO bidui_age_on(b, d) AS
  year(d) - year(b) - CASE WHEN strftime(d, '%m%d') < strftime(b, '%m%d') THEN 1 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO bidui_age(t, d) AS bidui_age_on(bidui_id_birth(t), d);
-- Dates (DOMAIN.md): the parts of cleaned text t, then a date from them. Forms: YYYY, YYYY年,
-- YYYY年度 (1 January); YYYY-M-D, YYYY/M/D, YYYY.M.D, YYYY年M月D日; year-month YYYY-M, YYYY/M,
-- YYYY.M, YYYY年M月 (the 1st); YYYYMMDD and YYYYMM (also with the .0 of a number); spaces around
-- the separators (2014 年 7 月 18 日, 2014. 7. 18); optionally followed by a time of day.
-- Ingest computes the parts as a column and the date from that column (macros are textual).
CREATE OR REPLACE TEMP MACRO bidui_date_parts_text(t) AS regexp_extract(
  t,
  '^([0-9]{4})(?:[ ]*[-/.][ ]*([0-9]{1,2})(?:[ ]*[-/.][ ]*([0-9]{1,2}))?|[ ]*年[ ]*(?:([0-9]{1,2})[ ]*月(?:[ ]*([0-9]{1,2})[ ]*日?)?)?度?|([0-9]{2})([0-9]{2})?(?:\\.0+)?)?(?:(?:[ T]+|[ ]*(?:上午|下午)[ ]*)+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?)?$',
  ['y', 'm1', 'd1', 'm2', 'd2', 'm3', 'd3']);
CREATE OR REPLACE TEMP MACRO bidui_date_ymd(y, m, d) AS
  CASE
    WHEN y = '' THEN NULL
    WHEN NOT (y::INTEGER BETWEEN 1900 AND 2100) THEN NULL
    WHEN m IS NULL THEN make_date(y::INTEGER, 1, 1)
    ELSE try(make_date(y::INTEGER, m::INTEGER, coalesce(d, '1')::INTEGER))
  END;
CREATE OR REPLACE TEMP MACRO bidui_date_from_parts(p) AS bidui_date_ymd(
  struct_extract(p, 'y'),
  coalesce(nullif(struct_extract(p, 'm1'), ''), nullif(struct_extract(p, 'm2'), ''), nullif(struct_extract(p, 'm3'), '')),
  coalesce(nullif(struct_extract(p, 'd1'), ''), nullif(struct_extract(p, 'd2'), ''), nullif(struct_extract(p, 'd3'), '')));
CREATE OR REPLACE TEMP MACRO bidui_parse_date(s) AS
  list_transform([bidui_text(s)], t -> CASE WHEN t IS NULL THEN NULL ELSE bidui_date_from_parts(bidui_date_parts_text(t)) END)[1];
CREATE OR REPLACE TEMP MACRO bidui_parse_number(s) AS
  TRY_CAST(regexp_replace(bidui_fold(s), '[,，¥￥元\\s]', '', 'g') AS DECIMAL(18, 2));
-- A bracketed note after a coded value (已脱贫(享受政策), 已脱贫（不再享受政策）, 已脱贫【享受政策】)
-- removed; the value is already width-folded, so full-width （） and ［］ are ASCII here.
CREATE OR REPLACE TEMP MACRO bidui_strip_note(t) AS
  CASE WHEN ends_with(t, ')') OR ends_with(t, ']') OR ends_with(t, '】')
    THEN regexp_replace(t, '\\s*(?:\\([^()]*\\)|\\[[^\\[\\]]*\\]|【[^【】]*】)$', '') ELSE t END;
-- Layout (layout.ts): a row without data (every cell empty, blank after cleaning — an empty ="" wrapper
-- too —, an Excel error value or a formula without result), and a footer row (合计, 制表人 … in some cell).
CREATE OR REPLACE TEMP MACRO bidui_row_blank(joined) AS
  regexp_full_match(joined, '(?:[${TRIM_CLASS_RE2}${FORMAT_CLASS_RE2}\\x01]|${EXCEL_ERROR_RE2}|="[${TRIM_CLASS_RE2}${FORMAT_CLASS_RE2}]*"|=[^"\\x01][^\\x01]*)*');
CREATE OR REPLACE TEMP MACRO bidui_row_footer(joined) AS regexp_matches(joined, '${FOOTER_WORDS.join('|')}');
-- The row's first non-empty cell starts a footer (合计, 制表人：…, 注：…).
CREATE OR REPLACE TEMP MACRO bidui_row_footer_start(joined) AS regexp_matches(joined, '^[${TRIM_CLASS_RE2}${FORMAT_CLASS_RE2}\x01]*${FOOTER_START_RE2}');
-- A name cell's cleaned text that is no person's name (NULL: no name).
CREATE OR REPLACE TEMP MACRO bidui_not_a_name(t) AS t IS NULL OR regexp_matches(t, '${NOT_A_NAME_RE2}');
-- The place of a loaded row in its snapshot (file, then row in the file) as one BIGINT, the key
-- of the arg_min that picks a household's first row: a struct key made those aggregates a third
-- slower. file_no < 2^29 and source_row < 2^32 (limits.maxRowsPerFile is at most 10^8).
CREATE OR REPLACE TEMP MACRO bidui_row_order(file_no, source_row) AS file_no::BIGINT * 4294967296 + source_row;
-- The same, with the head's row (与户主关系 = 户主) of a household before all others (2^61 is
-- above every bidui_row_order): the row a household's values come from.
CREATE OR REPLACE TEMP MACRO bidui_head_first_order(relation, file_no, source_row) AS
  CASE WHEN relation = '户主' THEN 0 ELSE 2305843009213693952 END + bidui_row_order(file_no, source_row);
-- Does an ID cell hold an ID at all (6 digits or more)? A footer's 合计：4户12人 does not.
CREATE OR REPLACE TEMP MACRO bidui_has_id(t) AS length(regexp_replace(coalesce(t, ''), '[^0-9]', '', 'g')) >= 6;
`;

export async function installMacros(conn: DuckDBConnection): Promise<void> {
  await runStep(conn, 'install macros', MACROS_SQL);
}
