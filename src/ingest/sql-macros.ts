import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral, runStep } from '../core/sql.js';
import { CHECK_CHARS, CHECK_WEIGHTS, FOLD_FROM, FOLD_TO, ID_DELETE_CHARS, ID_PROBLEM_ZH, PROVINCE_CODES } from './id-number.js';

/**
 * DuckDB macros for the bulk normalisation. Built from the same constants as the JS twin in
 * id-number.ts (the tests compare the two). All are TEMP macros, created on every connection, so
 * the store never depends on an older definition.
 */
// The weighted digit sum as one list dot product: the ID is referenced once, so the cost stays
// the same inside CASE branches (where DuckDB does not share repeated sub-expressions).
const WEIGHTS_LIST = `[${CHECK_WEIGHTS.join(', ')}]::DOUBLE[]`;
const checkSum = `list_dot_product(list_transform(string_split(substr(t, 1, 17), ''), x -> (ascii(x) - 48)::DOUBLE), ${WEIGHTS_LIST})::BIGINT`;

export const MACROS_SQL = `
-- translate() with a long alphabet is slow per value; most values have nothing to fold, and an
-- RE2 character-class test is cheap, so fold only when there is something to fold.
CREATE OR REPLACE TEMP MACRO bidui_fold(s) AS
  CASE WHEN regexp_matches(s, '[\uFF01-\uFF5E\u3000]')
    THEN replace(translate(s, ${quoteLiteral(FOLD_FROM)}, ${quoteLiteral(FOLD_TO)}), '\u3000', ' ')
    ELSE s END;
CREATE OR REPLACE TEMP MACRO bidui_check_char(t) AS
  substr(${quoteLiteral(CHECK_CHARS)}, (1 + ((${checkSum}) % 11))::INTEGER, 1);
CREATE OR REPLACE TEMP MACRO bidui_id_clean(s) AS
  CASE WHEN regexp_full_match(s, '[0-9Xx]*') THEN upper(s)
    ELSE upper(translate(s, ${quoteLiteral(FOLD_FROM + ID_DELETE_CHARS)}, ${quoteLiteral(FOLD_TO)})) END;
CREATE OR REPLACE TEMP MACRO bidui_id_upgrade(t) AS
  CASE WHEN regexp_full_match(t, '[0-9]{15}')
    THEN (substr(t, 1, 6) || '19' || substr(t, 7)) || bidui_check_char(substr(t, 1, 6) || '19' || substr(t, 7))
    ELSE t END;
CREATE OR REPLACE TEMP MACRO bidui_norm_id(s) AS
  CASE WHEN s IS NULL THEN NULL ELSE bidui_id_upgrade(bidui_id_clean(s)) END;
CREATE OR REPLACE TEMP MACRO bidui_id_birth(t) AS
  CASE WHEN regexp_full_match(t, '[0-9]{17}[0-9X]') THEN try_strptime(substr(t, 7, 8), '%Y%m%d')::DATE END;
-- The problem of an ID regardless of the as-of date, in DOMAIN.md's order. Well-formed IDs (the
-- vast majority) take the first branch; an 18-character [0-9]{17}[0-9X] string cannot be
-- Excel notation, the wrong length or bad characters, so the order is kept.
CREATE OR REPLACE TEMP MACRO bidui_id_problem_static(t) AS
  CASE
    WHEN t IS NULL OR t = '' THEN 'empty'
    WHEN regexp_full_match(t, '[0-9]{17}[0-9X]') THEN
      CASE
        WHEN NOT list_contains([${PROVINCE_CODES.map(quoteLiteral).join(', ')}], substr(t, 1, 2)) THEN 'region'
        WHEN try_strptime(substr(t, 7, 8), '%Y%m%d') IS NULL THEN 'birth_date'
        WHEN substr(t, 18, 1) <> bidui_check_char(t) THEN 'check_digit'
      END
    WHEN regexp_full_match(t, '[0-9]+(\\.[0-9]+)?E\\+?[0-9]+') THEN 'excel'
    WHEN length(t) <> 18 THEN 'length'
    ELSE 'chars'
  END;
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
CREATE OR REPLACE TEMP MACRO bidui_date_parts(s) AS regexp_extract(
  trim(bidui_fold(s)),
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
  CASE WHEN s IS NULL OR trim(s) = '' THEN NULL ELSE bidui_date_from_parts(bidui_date_parts(s)) END;
CREATE OR REPLACE TEMP MACRO bidui_parse_number(s) AS
  TRY_CAST(regexp_replace(bidui_fold(s), '[,，¥￥元\\s]', '', 'g') AS DECIMAL(18, 2));
CREATE OR REPLACE TEMP MACRO bidui_trim(s) AS
  nullif(regexp_replace(s, '^[\\s\u00A0\u3000\uFEFF]+|[\\s\u00A0\u3000\uFEFF]+$', '', 'g'), '');
CREATE OR REPLACE TEMP MACRO bidui_text(s) AS bidui_trim(bidui_fold(s));
CREATE OR REPLACE TEMP MACRO bidui_name(s) AS bidui_trim(s);
`;

export async function installMacros(conn: DuckDBConnection): Promise<void> {
  await runStep(conn, 'install macros', MACROS_SQL);
}
