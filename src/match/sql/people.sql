-- People and households on the as-of date, exactly as DOMAIN.md defines them. Built once per run
-- from the pinned snapshot views (roster, hukou, …); every rule reads these tables. Parameter:
-- $asOf (DATE). Each "-- step:" block is one statement, run and timed under that name.

-- step: roster rows of households that exist on D
-- A household exists on D when it was identified on or before D. Household attributes come from
-- its head's row (与户主关系 = 户主), else from its first row in the file.
CREATE OR REPLACE TEMP TABLE m_household AS
SELECT
  household_id,
  arg_min(township, ord) AS township,
  arg_min(village, ord) AS village,
  arg_min(status, ord) AS status,
  arg_min(identified_on, ord) AS identified_on,
  arg_min(exited_on, ord) AS exited_on,
  arg_min(income_per_capita, ord) AS income_per_capita,
  CASE WHEN arg_min(status, ord) = '已脱贫' AND arg_min(exited_on, ord) <= $asOf THEN arg_min(exited_on, ord) END AS exited_on_d,
  arg_min(id_number, ord) AS head_id_number,
  arg_min(name, ord) AS head_name,
  arg_min(snapshot_id, ord) AS head_snapshot_id,
  arg_min(file_no, ord) AS head_file_no,
  arg_min(source_row, ord) AS head_source_row
FROM (
  SELECT *, bidui_head_first_order(relation, file_no, source_row) AS ord FROM roster
)
GROUP BY household_id
HAVING arg_min(identified_on, ord) <= $asOf;

-- step: roster rows with their ID problem on D
CREATE OR REPLACE TEMP TABLE m_roster_row AS
SELECT r.*, bidui_id_problem_on(r.id_number_problem, r.id_number_birth, $asOf) AS id_problem
FROM roster r SEMI JOIN m_household h USING (household_id);

-- step: roster members (valid IDs) of households that exist on D
CREATE OR REPLACE TEMP TABLE m_member AS
SELECT * EXCLUDE (id_problem) FROM m_roster_row WHERE id_problem IS NULL;

-- step: people in the roster on D
CREATE OR REPLACE TEMP TABLE m_in_roster AS SELECT DISTINCT id_number FROM m_member;

-- step: 户籍 IDs that appear more than once: the record that counts for each
-- living: neither dead nor moved out on or before D (a later date has not happened yet). The
-- record that counts is a living one, then the first in file order.
CREATE OR REPLACE TEMP TABLE m_hukou_repeated AS
SELECT * EXCLUDE (rn) FROM (
  SELECT *, row_number() OVER (PARTITION BY id_number ORDER BY NOT living, file_no, source_row) AS rn
  FROM (SELECT *, NOT (status IN ('死亡', '迁出') AND status_on IS NOT NULL AND status_on <= $asOf) AS living FROM hukou)
  SEMI JOIN (
    -- Repeated IDs, found by their 64-bit hash first (a hash table of numbers, not of 32 million
    -- strings), then checked on the IDs themselves among the few rows whose hash repeats.
    SELECT id_number FROM hukou
    WHERE hash(id_number) IN (SELECT hash(id_number) FROM hukou GROUP BY ALL HAVING count(*) > 1)
    GROUP BY id_number HAVING count(*) > 1
  ) USING (id_number)
) WHERE rn = 1;

-- step: the as-of date, for views (a view cannot take a parameter)
CREATE OR REPLACE TEMP TABLE m_as_of AS SELECT $asOf::DATE AS as_of;

-- step: one 户籍 record per person (valid IDs; living first, then first in file)
-- A view, not a copy: most IDs appear once, and a copy of a province's 32 million 户籍 rows does
-- not fit in memory (it spilled to disk and took a minute at 10 million households).
CREATE OR REPLACE TEMP VIEW m_hukou_person AS
SELECT h.*, NOT (h.status IN ('死亡', '迁出') AND h.status_on IS NOT NULL AND h.status_on <= (SELECT as_of FROM m_as_of)) AS living
FROM hukou h ANTI JOIN m_hukou_repeated r ON r.id_number = h.id_number
UNION ALL
SELECT * FROM m_hukou_repeated;

-- step: living members of each 户籍 household on D
CREATE OR REPLACE TEMP TABLE m_hukou_unit AS
SELECT hukou_id, id_number, id_number_birth AS birth, name, relation, township, village, snapshot_id, file_no, source_row
FROM m_hukou_person WHERE living;

-- step: 户籍 households with a roster member
CREATE OR REPLACE TEMP TABLE m_unit_in_roster AS
SELECT DISTINCT hukou_id FROM m_hukou_unit SEMI JOIN m_in_roster USING (id_number);

-- step: place of each 户籍 household
CREATE OR REPLACE TEMP TABLE m_unit_place AS
SELECT hukou_id, arg_min(township, bidui_row_order(file_no, source_row)) AS township,
       arg_min(village, bidui_row_order(file_no, source_row)) AS village
FROM m_hukou_unit GROUP BY hukou_id;

-- step: households of 防止返贫监测 on D (监测对象)
-- Included (纳入) on or before D; household values from the head's row, else the first row.
-- Rows with an invalid ID count here (the household exists); its members below are valid IDs.
-- cleared_on_d: the risk was marked cleared (风险消除) on or before D, and not before 纳入时间
-- (a 纳入时间 after the clearance is a household taken in again); NULL while monitored.
CREATE OR REPLACE TEMP TABLE m_monitor_household AS
SELECT
  household_id,
  arg_min(township, ord) AS township,
  arg_min(village, ord) AS village,
  arg_min(monitor_type, ord) AS monitor_type,
  arg_min(included_on, ord) AS included_on,
  CASE WHEN arg_min(cleared_on, ord) <= $asOf AND arg_min(cleared_on, ord) >= arg_min(included_on, ord) THEN arg_min(cleared_on, ord) END AS cleared_on_d,
  arg_min(income_per_capita, ord) AS income_per_capita
FROM (
  SELECT *, bidui_head_first_order(relation, file_no, source_row) AS ord FROM all_monitoring
)
GROUP BY household_id
HAVING arg_min(included_on, ord) <= $asOf;

-- step: members (valid IDs) of the monitoring households on D; active: still monitored on D
CREATE OR REPLACE TEMP TABLE m_monitor_member AS
SELECT m.household_id, m.id_number, m.name, h.cleared_on_d IS NULL AS active
FROM monitoring m JOIN m_monitor_household h USING (household_id);

-- step: roster households under monitoring on D (by 户编号, or a member monitored in any household)
CREATE OR REPLACE TEMP TABLE m_roster_monitored AS
SELECT household_id FROM m_household WHERE household_id IN (SELECT household_id FROM m_monitor_household WHERE cleared_on_d IS NULL)
UNION
SELECT DISTINCT m.household_id FROM m_member m SEMI JOIN m_monitor_member mm ON mm.id_number = m.id_number AND mm.active;

-- step: people of the households 监测预警 watches on D, with the household their lead goes to
-- Members of a household monitored on D (its monitoring 户编号), then members of 脱贫户 (roster
-- households exited on D) who are not monitored (the roster's household_id).
CREATE OR REPLACE TEMP TABLE m_watch_member AS
SELECT household_id, id_number, name FROM m_monitor_member WHERE active
UNION ALL
SELECT m.household_id, m.id_number, m.name
FROM m_member m JOIN m_household h USING (household_id)
WHERE h.exited_on_d IS NOT NULL AND m.id_number NOT IN (SELECT id_number FROM m_monitor_member WHERE active);

-- step: place of every household a 监测预警 lead can name (the roster's when both have it)
CREATE OR REPLACE TEMP TABLE m_watch_place AS
SELECT household_id, township, village FROM m_household
UNION ALL
SELECT household_id, township, village FROM m_monitor_household
WHERE household_id NOT IN (SELECT household_id FROM m_household);

-- step: out-of-pocket medical costs (医保结算) against a line, for M1, M2 and M5
-- Macros, not tables: the rules call them after linkage has added linked records to the
-- medical_expense view. m_settlements: the settlements in the window up to a date, one row per
-- 结算单号 of a person when the export has one (a settlement exported twice counts once; the
-- first loaded row stands for it); rows without one all count. m_cost_line: the line, an amount
-- when one is configured, else a percentage of the reference income. m_costly_settlements: the
-- settlements of the people whose sum reaches the line, each with the words of its evidence
-- (the rule closes the bracket: M5 adds the clearance date inside it).
CREATE OR REPLACE TEMP MACRO m_settlements(as_of, days) AS TABLE
SELECT * FROM medical_expense
WHERE settled_on BETWEEN as_of - days AND as_of AND out_of_pocket IS NOT NULL
QUALIFY settlement_id IS NULL OR row_number() OVER (PARTITION BY id_number, settlement_id ORDER BY snapshot_id, file_no, source_row) = 1;
CREATE OR REPLACE TEMP MACRO m_cost_line(amount, reference, percent) AS
CASE WHEN amount > 0 THEN amount::DOUBLE ELSE reference * percent / 100.0 END;
CREATE OR REPLACE TEMP MACRO m_costly_settlements(as_of, days, line) AS TABLE
SELECT id_number, snapshot_id, file_no, source_row,
       printf('%s 结算，个人自付 %.2f 元（%d 天内 %d 次合计 %.2f 元，预警线 %.2f 元', settled_on, out_of_pocket::DOUBLE,
              days, settlements, spent::DOUBLE, line) AS cost_text
FROM (SELECT *, sum(out_of_pocket) OVER (PARTITION BY id_number) AS spent, count(*) OVER (PARTITION BY id_number) AS settlements
      FROM m_settlements(as_of, days))
WHERE spent >= line;
