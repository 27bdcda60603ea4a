import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral, runStep } from '../core/sql.js';
import { CHECK_CHARS, CHECK_WEIGHTS, FOLD_FROM, FOLD_TO, ID_DELETE_CHARS, ID_PROBLEM_ZH, PROVINCE_CODES } from './id-number.js';

/**
 * DuckDB macros for the bulk normalisation. Built from the same constants as the JS twin in
 * id-number.ts (the tests compare the two). All are TEMP macros, created on every connection, so
 * the store never depends on an older definition.
 */
// The weighted digit sum of the first 17 digits, from one BIGINT: integer arithmetic on a
// vector is cheaper in DuckDB than splitting the string into a list of characters. `t` is
// referenced 17 times (macros are textual), so call it on a column; bidui_check_char_of below is
// for expressions.
const checkSum = CHECK_WEIGHTS.map((w, i) => `((TRY_CAST(substr(t, 1, 17) AS BIGINT) // ${10n ** BigInt(16 - i)}) % 10) * ${w}`).join(' + ');

const checkSumOnce = `list_dot_product(list_transform(string_split(substr(t, 1, 17), ''), x -> (ascii(x) - 48)::DOUBLE), [${CHECK_WEIGHTS.join(', ')}]::DOUBLE[])::BIGINT`;

/** An RE2 character class body of the ASCII characters of chars, each escaped. */
function asciiClass(chars: string): string {
  return [...chars].filter((c) => c.charCodeAt(0) < 0x80).map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
}

export const MACROS_SQL = `
-- translate() with a long alphabet is slow per value; most values have nothing to fold, and an
-- RE2 character-class test is cheap, so fold only when there is something to fold.
CREATE OR REPLACE TEMP MACRO bidui_fold(s) AS
  CASE WHEN regexp_matches(s, '[\uFF01-\uFF5E\u3000]')
    THEN replace(translate(s, ${quoteLiteral(FOLD_FROM)}, ${quoteLiteral(FOLD_TO)}), '\u3000', ' ')
    ELSE s END;
CREATE OR REPLACE TEMP MACRO bidui_trim(s) AS
  nullif(regexp_replace(s, '^[\\s\u00A0\u3000\uFEFF]+|[\\s\u00A0\u3000\uFEFF]+$', '', 'g'), '');
CREATE OR REPLACE TEMP MACRO bidui_text(s) AS bidui_trim(bidui_fold(s));
CREATE OR REPLACE TEMP MACRO bidui_name(s) AS bidui_trim(s);
-- Ingest tests a whole row once (bidui_row_dirty over its text columns joined by U+0001): when no
-- value has anything to fold and none starts or ends with white space, every value is itself
-- (or NULL when empty), and the per-value pattern tests are skipped. One RE2 test per row costs
-- much less than one per value.
CREATE OR REPLACE TEMP MACRO bidui_row_dirty(joined) AS
  regexp_matches(joined, '[\uFF01-\uFF5E\u3000]|(?:^|\x01)[\\s\u00A0\uFEFF]|[\\s\u00A0\uFEFF](?:\x01|$)');
CREATE OR REPLACE TEMP MACRO bidui_text_in(s, dirty) AS CASE WHEN dirty THEN bidui_text(s) ELSE nullif(s, '') END;
CREATE OR REPLACE TEMP MACRO bidui_name_in(s, dirty) AS CASE WHEN dirty THEN bidui_name(s) ELSE nullif(s, '') END;
CREATE OR REPLACE TEMP MACRO bidui_check_char(t) AS
  substr(${quoteLiteral(CHECK_CHARS)}, (1 + ((${checkSum}) % 11))::INTEGER, 1);
-- The same character for an expression: t is referenced once (a list dot product), so an
-- expensive argument is evaluated once; about twice as slow per value as bidui_check_char.
CREATE OR REPLACE TEMP MACRO bidui_check_char_of(t) AS
  substr(${quoteLiteral(CHECK_CHARS)}, (1 + ((${checkSumOnce}) % 11))::INTEGER, 1);
-- translate() parses its alphabet for every value (slow with ~130 characters): ASCII-only
-- values (padding, quotes: most damaged IDs) only need their ASCII delete characters removed.
CREATE OR REPLACE TEMP MACRO bidui_id_clean(s) AS
  CASE WHEN regexp_full_match(s, '[0-9Xx]*') THEN upper(s)
    WHEN strlen(s) = length(s) THEN upper(regexp_replace(s, ${quoteLiteral(`[${asciiClass(ID_DELETE_CHARS)}]`)}, '', 'g'))
    ELSE upper(translate(s, ${quoteLiteral(FOLD_FROM + ID_DELETE_CHARS)}, ${quoteLiteral(FOLD_TO)})) END;
CREATE OR REPLACE TEMP MACRO bidui_id_upgrade(t) AS
  CASE WHEN regexp_full_match(t, '[0-9]{15}')
    THEN (substr(t, 1, 6) || '19' || substr(t, 7)) || bidui_check_char_of(substr(t, 1, 6) || '19' || substr(t, 7))
    ELSE t END;
-- Most IDs are already well-formed: one RE2 test returns them unchanged. For the rest, the
-- one-element list binds the cleaned value once (bidui_id_upgrade refers to its argument
-- several times, and macros are textual).
CREATE OR REPLACE TEMP MACRO bidui_norm_id(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{17}[0-9X]') THEN s
       WHEN s IS NULL THEN NULL
       ELSE list_transform([bidui_id_clean(s)], cleaned -> bidui_id_upgrade(cleaned))[1] END;
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
    WHEN t IS NULL OR t = '' THEN 'empty'
    WHEN regexp_full_match(t, '[0-9]{17}[0-9X]') THEN
      CASE WHEN NOT list_contains([${PROVINCE_CODES.map(quoteLiteral).join(', ')}], substr(t, 1, 2)) THEN 'region' ELSE 'birth_date' END
    WHEN regexp_full_match(t, '[0-9]+(\\.[0-9]+)?E\\+?[0-9]+') THEN 'excel'
    WHEN length(t) <> 18 THEN 'length'
    ELSE 'chars'
  END;
CREATE OR REPLACE TEMP MACRO bidui_id_problem_static(t) AS bidui_id_problem_static_bc(t, bidui_id_birth(t), bidui_check_char(t));
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
  CASE p ${Object.entries(ID_PROBLEM_ZH).map(([k, v]) => `WHEN ${quoteLiteral(k)} THEN ${quoteLiteral(v)}`).join(' ')} END;
CREATE OR REPLACE TEMP MACRO bidui_one_edit(a, b) AS
  length(a) = length(b) AND a <> b AND (
    hamming(a, b) = 1 OR (hamming(a, b) = 2 AND list_bool_or(list_transform(range(1, length(a)),
      i -> substr(a, i, 1) <> substr(b, i, 1) AND substr(a, i, 1) = substr(b, i + 1, 1) AND substr(a, i + 1, 1) = substr(b, i, 1)))));
CREATE OR REPLACE TEMP MACRO bidui_age_on(b, d) AS
  year(d) - year(b) - CASE WHEN strftime(d, '%m%d') < strftime(b, '%m%d') THEN 1 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO bidui_age(t, d) AS bidui_age_on(bidui_id_birth(t), d);
-- Dates: the parts of trimmed, width-folded text (t = bidui_text(s)), then a date from them.
-- Ingest computes the parts as a column and the date from that column (macros are textual: the
-- parts are referenced several times below).
CREATE OR REPLACE TEMP MACRO bidui_date_parts_text(t) AS regexp_extract(
  t,
  '^([0-9]{4})(?:(?:[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?)|([0-9]{2})([0-9]{2}))?(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?)?$',
  ['y', 'm', 'd', 'm8', 'd8']);
CREATE OR REPLACE TEMP MACRO bidui_date_from_parts(p) AS
  CASE
    WHEN struct_extract(p, 'y') = '' THEN NULL
    WHEN NOT (struct_extract(p, 'y')::INTEGER BETWEEN 1900 AND 2100) THEN NULL
    WHEN struct_extract(p, 'm') <> '' THEN
      try(make_date(struct_extract(p, 'y')::INTEGER, struct_extract(p, 'm')::INTEGER, struct_extract(p, 'd')::INTEGER))
    WHEN struct_extract(p, 'm8') <> '' THEN
      try(make_date(struct_extract(p, 'y')::INTEGER, struct_extract(p, 'm8')::INTEGER, struct_extract(p, 'd8')::INTEGER))
    ELSE make_date(struct_extract(p, 'y')::INTEGER, 1, 1)
  END;
CREATE OR REPLACE TEMP MACRO bidui_parse_date(s) AS
  CASE WHEN bidui_text(s) IS NULL THEN NULL ELSE bidui_date_from_parts(bidui_date_parts_text(bidui_text(s))) END;
CREATE OR REPLACE TEMP MACRO bidui_parse_number(s) AS
  TRY_CAST(regexp_replace(bidui_fold(s), '[,，¥￥元\\s]', '', 'g') AS DECIMAL(18, 2));
`;

export async function installMacros(conn: DuckDBConnection): Promise<void> {
  await runStep(conn, 'install macros', MACROS_SQL);
}
