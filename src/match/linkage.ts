import { DATASETS } from '../ingest/datasets.js';

/**
 * Linkage of records whose ID is invalid to 户籍 people (issue 14): the SQL of one run, recorded
 * with it (run.linkage_sql) so that a re-run replays it. Every dataset but 户籍 itself (its people
 * are the candidates) has its records with an invalid ID on D and a name linked to a 户籍 person
 * (any status, valid ID) with the same name, in the record's township when it has one (else
 * anywhere in the county), whose ID
 *   - starts with the 15 digits Excel kept of the record's ID (`excel`: a number cell, or the
 *     …000 rule), or
 *   - is one substitution or one adjacent transposition away from the record's 18 characters
 *     (`edit`), or
 *   - has the birth date and sequence of a 15-digit ID that failed only by its region (`upgrade`:
 *     a province code that is not a current one; IDs are checked by province only, so an old
 *     county code in a valid province makes a valid ID, which joins exactly).
 * A link is made only when exactly one candidate remains. Its confidence: 高 for excel or
 * upgrade with the same village, 中 for excel or upgrade in the same township or an edit in the
 * same village, 低 otherwise (an edit in the township, or no township on the record). An ID of
 * which Excel kept fewer than 15 digits (5.22625E+17 keeps 6) is not linked: name and region
 * alone are no proof.
 *
 * Roster rows so linked are not made members (that would silently drop 漏评 leads and change
 * Q2–Q5); they join the rules on members' records (C1–C4, T1–T3) through the view m_member_lane
 * (m_member and them; m_member_link names them), and suggest corrections (Q6).
 *
 * Tables: m_link (dataset, snapshot_id, file_no, source_row, linked_id, linked_birth, method,
 * confidence, raw_id, ref: the linked person's 户籍 record, place), m_link_stats (dataset, linked, ambiguous, unmatched), and m_q6 (the roster's
 * suggested corrections, rule Q6). Off (`linkage.recoverDamagedIds` false): no links, and m_q6 is
 * exactly what Q6 found before linkage existed (one edit, same name and township).
 */
const LINKED_DATASETS = DATASETS.filter((d) => d.name !== 'hukou' && d.fields.some((f) => f.name === 'id_number') && d.fields.some((f) => f.name === 'name'));

/** Why the record's ID is invalid, and what of it the link rests on, per method. */
export const METHOD_ZH: Record<string, [string, string]> = {
  excel: ['被 Excel 损坏，只保留了前 15 位', '号码前 15 位'],
  edit: ['有一位录错或相邻两位颠倒', '号码其余各位'],
  upgrade: ['是省份代码已不存在的 15 位旧号码', '出生日期和顺序码'],
};

/**
 * The keys of m_link_key: the column, the record's value (from m_link_rec's columns), and the same
 * part of a candidate's ID `c.id_number`. A record is paired only with namesakes that share one
 * (test/linkage.test.ts checks every edit of several IDs).
 */
export const LINK_KEYS: { key: string; record: string; cand: string }[] = [
  { key: 'k_excel', record: "CASE WHEN problem = 'excel' AND length(digits) >= 15 THEN left(digits, 15) END", cand: 'left(c.id_number, 15)' },
  { key: 'k_upgrade', record: "CASE WHEN problem = 'region' AND was15 THEN substr(id_number, 7, 11) END", cand: 'substr(c.id_number, 7, 11)' },
  { key: 'k_head', record: "CASE WHEN problem <> 'excel' AND length(id_number) = 18 THEN substr(id_number, 7, 5) END", cand: 'substr(c.id_number, 7, 5)' },
  { key: 'k_tail', record: "CASE WHEN problem <> 'excel' AND length(id_number) = 18 THEN substr(id_number, 14, 5) END", cand: 'substr(c.id_number, 14, 5)' },
];

/** What each method accepts of a pair (m_link_rec's columns and cand, the candidate's ID). */
export const LINK_ACCEPTS = `(problem = 'excel' AND length(digits) >= 15 AND starts_with(cand, digits))
   OR (problem = 'region' AND was15 AND substr(cand, 7, 11) = substr(id_number, 7, 11))
   OR (problem <> 'excel' AND length(id_number) = 18 AND bidui_one_edit(id_number, cand))`;

export function linkageSql(enabled: boolean): string {
  if (!enabled) {
    return `-- step: Q6 suggestions (linkage off: one edit, same name and township)
CREATE OR REPLACE TEMP TABLE m_q6 AS
SELECT r.household_id, trim(coalesce(r.id_number_raw, r.id_number, '')) AS raw_id, r.name, any_value(k.snapshot_id) AS snapshot_id, any_value(k.file_no) AS file_no,
       any_value(k.source_row) AS source_row, any_value(k.id_number) AS linked_id, 'edit' AS method, NULL::VARCHAR AS confidence
FROM m_roster_row r
JOIN hukou k ON k.name = r.name AND k.township = r.township AND bidui_one_edit(r.id_number, k.id_number)
WHERE r.id_problem IS NOT NULL AND length(r.id_number) = 18
GROUP BY r.household_id, r.id_number, r.id_number_raw, r.name, r.snapshot_id, r.file_no, r.source_row
HAVING count(DISTINCT k.id_number) = 1;

-- step: no linked members
CREATE OR REPLACE TEMP TABLE m_member_link (household_id VARCHAR, id_number VARCHAR, confidence VARCHAR, raw_id VARCHAR, method VARCHAR, place VARCHAR, linked_birth DATE, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT);
CREATE OR REPLACE TEMP VIEW m_member_lane AS SELECT * FROM m_member;

-- step: no links
CREATE OR REPLACE TEMP TABLE m_link (dataset VARCHAR, snapshot_id INTEGER, file_no INTEGER, source_row BIGINT, linked_id VARCHAR, linked_birth DATE, method VARCHAR, confidence VARCHAR, raw_id VARCHAR, norm_id VARCHAR, ref STRUCT(s INTEGER, f INTEGER, r BIGINT), place VARCHAR);
CREATE OR REPLACE TEMP TABLE m_link_stats (dataset VARCHAR, linked BIGINT, ambiguous BIGINT, unmatched BIGINT);
`;
  }
  const records = LINKED_DATASETS.map((d) => {
    const has = (f: string) => d.fields.some((x) => x.name === f);
    const source = d.name === 'roster' ? 'm_roster_row' : `all_${d.name}`;
    const problem = d.name === 'roster' ? 'id_problem' : 'bidui_id_problem_on(id_number_problem, id_number_birth, $asOf)';
    // Cheap columns first: an ID is invalid on D only with a problem, or a birth date missing or after D.
    const cheap = d.name === 'roster' ? 'id_problem IS NOT NULL' : '(id_number_problem IS NOT NULL OR id_number_birth IS NULL OR id_number_birth > $asOf)';
    return `SELECT '${d.name}' AS dataset, snapshot_id, file_no, source_row, id_number, id_number_raw, id_number_excel_digits AS digits, ${problem} AS problem, name,
       ${has('township') ? 'township' : 'NULL::VARCHAR'} AS township, ${has('village') ? 'village' : 'NULL::VARCHAR'} AS village
FROM ${source} WHERE ${cheap} AND ${problem} IS NOT NULL AND name IS NOT NULL AND id_number IS NOT NULL`;
  }).join('\nUNION ALL\n');
  return `-- step: records with an invalid ID on D, to link
CREATE OR REPLACE TEMP TABLE m_link_rec AS
SELECT *, length(regexp_replace(coalesce(id_number_raw, id_number), '[^0-9Xx]', '', 'g')) = 15 AS was15 FROM (
${records});

-- step: the part of its ID each record's candidates must share with it
-- Every method's condition below implies that the candidate's ID shares one of these keys with
-- the record's: excel its first 15 characters, upgrade characters 7-17, and an edit (one
-- substitution, or one transposition of neighbours, which touch at most two neighbouring
-- characters) leaves characters 7-11 or 14-18 as they were. Joining on name and key instead of
-- on name and township alone keeps the pairs few: the names of a province's damaged records are
-- borne by nearly all its 户籍 people (at 10 million households, 25 s → 5 s).
CREATE OR REPLACE TEMP TABLE m_link_key AS
SELECT *, ${LINK_KEYS.map((k) => `${k.record} AS ${k.key}`).join(',\n       ')}
FROM m_link_rec;

-- step: candidates of each record
-- 户籍 people with a valid ID (any status; people.sql's m_hukou_person, one 户籍 record per
-- person) of the same name, in the record's township when it has one, sharing a key; a pair
-- found by two keys counts once.
CREATE OR REPLACE TEMP TABLE m_link_pair AS
WITH pair AS (
${LINK_KEYS.map(({ key, cand }) => `  SELECT r.*, c.id_number AS cand, c.id_number_birth AS cand_birth, {'s': c.snapshot_id, 'f': c.file_no, 'r': c.source_row} AS cand_ref, c.village AS cand_village
  FROM m_link_key r JOIN m_hukou_person c ON c.name = r.name AND ${cand} = r.${key}
  WHERE r.township IS NULL OR c.township = r.township`).join('\n  UNION ALL\n')}
)
SELECT DISTINCT dataset, snapshot_id, file_no, source_row, cand, cand_birth AS birth, cand_ref AS ref,
       CASE WHEN problem = 'excel' THEN 'excel' WHEN problem = 'region' AND was15 AND substr(cand, 7, 11) = substr(id_number, 7, 11) THEN 'upgrade' ELSE 'edit' END AS method,
       township IS NOT NULL AND village IS NOT NULL AND cand_village = village AS same_village, township IS NOT NULL AS same_township,
       trim(coalesce(id_number_raw, id_number)) AS raw_id, id_number AS norm_id
FROM pair
WHERE ${LINK_ACCEPTS};

-- step: a link where exactly one candidate remains
CREATE OR REPLACE TEMP TABLE m_link AS
SELECT dataset, snapshot_id, file_no, source_row, any_value(cand) AS linked_id, any_value(birth) AS linked_birth, any_value(method) AS method,
       CASE WHEN any_value(method) IN ('excel', 'upgrade') AND bool_or(same_village) THEN '高'
            WHEN (any_value(method) IN ('excel', 'upgrade') AND bool_or(same_township)) OR bool_or(same_village) THEN '中'
            ELSE '低' END AS confidence,
       any_value(raw_id) AS raw_id, any_value(norm_id) AS norm_id, any_value(ref) AS ref,
       CASE WHEN bool_or(same_village) THEN '乡镇、村' WHEN bool_or(same_township) THEN '乡镇' ELSE '全县范围内的' END AS place
FROM m_link_pair GROUP BY dataset, snapshot_id, file_no, source_row
HAVING count(DISTINCT cand) = 1;

-- step: records linked, ambiguous (two or more candidates) or without a candidate, per dataset
CREATE OR REPLACE TEMP TABLE m_link_stats AS
SELECT r.dataset, count(*) FILTER (WHERE p.n = 1) AS linked, count(*) FILTER (WHERE p.n > 1) AS ambiguous, count(*) FILTER (WHERE p.n IS NULL) AS unmatched
FROM m_link_rec r LEFT JOIN (SELECT dataset, snapshot_id, file_no, source_row, count(DISTINCT cand) AS n FROM m_link_pair GROUP BY ALL) p USING (dataset, snapshot_id, file_no, source_row)
GROUP BY r.dataset;

-- step: roster members whose damaged ID is linked to a person (for the rules on members, C and T)
-- A person who is already a member of the household (by a valid ID on another row) is not added again.
CREATE OR REPLACE TEMP TABLE m_member_link AS
SELECT r.household_id, l.linked_id AS id_number, l.confidence, l.norm_id AS raw_id, l.method, l.place, l.linked_birth, l.snapshot_id, l.file_no, l.source_row
FROM m_link l JOIN m_roster_row r ON l.dataset = 'roster' AND r.snapshot_id = l.snapshot_id AND r.file_no = l.file_no AND r.source_row = l.source_row
WHERE NOT EXISTS (SELECT 1 FROM m_member m WHERE m.household_id = r.household_id AND m.id_number = l.linked_id);
CREATE OR REPLACE TEMP VIEW m_member_lane AS
SELECT * FROM m_member
UNION ALL
SELECT r.* EXCLUDE (id_problem) REPLACE (ml.id_number AS id_number, ml.linked_birth AS id_number_birth, NULL AS id_number_problem)
FROM m_member_link ml JOIN m_roster_row r USING (snapshot_id, file_no, source_row);

-- step: Q6 suggestions (the roster's links)
CREATE OR REPLACE TEMP TABLE m_q6 AS
SELECT r.household_id, l.raw_id, r.name, l.ref.s AS snapshot_id, l.ref.f AS file_no, l.ref.r AS source_row, l.linked_id, l.method, l.confidence
FROM m_link l JOIN m_roster_row r ON l.dataset = 'roster' AND r.snapshot_id = l.snapshot_id AND r.file_no = l.file_no AND r.source_row = l.source_row;
`;
}

/** The datasets whose views take in linked records (the roster's links only suggest corrections, Q6). */
export const LANE_DATASETS = LINKED_DATASETS.filter((d) => d.name !== 'roster').map((d) => d.name);
