/*---
{ "id": "M5", "category": "监测预警", "title": "风险消除不实",
  "explain": "监测户已标注风险消除，但比对日仍有成员住 C、D 级未改造危房、有 6–15 岁辍学未劝返的学生（导入辍学学生数据时）、在风险消除前一年内至比对日之间确诊大病，或医疗自付费用合计达到脱贫户、监测户的预警线（导入医保结算数据时）：监测中的“错退”。",
  "target": "watch_household", "weight": 4,
  "needs": { "monitoring": ["household_id", "cleared_on"], "housing_safety": ["id_number", "grade", "assessed_on"], "illness": ["id_number", "category", "diagnosed_on"] },
  "params": ["dangerousHouseGrades", "dropoutMinAge", "dropoutMaxAge", "exitIllnessLookbackDays", "medicalWindowDays", "ruralIncomeReference", "medicalCostPercentWatched", "medicalCostAmountWatched"] }
---*/
-- Members (valid IDs) of monitoring households whose risk was cleared on or before D.
WITH cleared AS (
  SELECT mm.household_id, mm.id_number, mm.name, h.cleared_on_d
  FROM m_monitor_member mm JOIN m_monitor_household h USING (household_id)
  WHERE h.cleared_on_d IS NOT NULL
)
SELECT c.household_id AS key, c.id_number, c.name, NULL AS township, NULL AS village,
       'housing_safety' AS dataset, s.snapshot_id, s.file_no, s.source_row,
       printf('%s级危房，%s 鉴定，%s（%s 风险消除）', s.grade, s.assessed_on,
              CASE WHEN s.renovated_on IS NOT NULL AND s.renovated_on > $asOf THEN printf('%s 竣工（晚于比对日）', s.renovated_on)
                   ELSE coalesce(s.renovation_status, '改造状态未填') END, c.cleared_on_d) AS detail
FROM cleared c JOIN housing_safety s ON s.id_number = c.id_number
WHERE list_contains($dangerousHouseGrades, s.grade)
  AND s.assessed_on <= $asOf
  AND NOT (s.renovated_on IS NOT NULL AND s.renovated_on <= $asOf
           AND coalesce(s.renovation_status, '') NOT IN ('未改造', '改造中'))
UNION ALL
SELECT c.household_id, c.id_number, c.name, NULL, NULL, 'dropout', d.snapshot_id, d.file_no, d.source_row,
       printf('%d 岁，%s 辍学（%s 风险消除）', bidui_age_on(d.id_number_birth, $asOf), d.dropped_on, c.cleared_on_d)
FROM cleared c JOIN dropout d ON d.id_number = c.id_number
WHERE bidui_age_on(d.id_number_birth, $asOf) BETWEEN $dropoutMinAge AND $dropoutMaxAge
  AND d.dropped_on <= $asOf
  AND (d.returned_on IS NULL OR d.returned_on > $asOf)
UNION ALL
SELECT c.household_id, c.id_number, c.name, NULL, NULL, 'illness', i.snapshot_id, i.file_no, i.source_row,
       printf('大病（%s），%s 确诊（%s 风险消除）', coalesce(i.disease, '病种未填'), i.diagnosed_on, c.cleared_on_d)
FROM cleared c JOIN illness i ON i.id_number = c.id_number
WHERE i.category = '大病'
  AND i.diagnosed_on BETWEEN c.cleared_on_d - $exitIllnessLookbackDays AND $asOf
UNION ALL
SELECT c.household_id, c.id_number, c.name, NULL, NULL, 'medical_expense', e.snapshot_id, e.file_no, e.source_row,
       e.cost_text || printf('；%s 风险消除）', c.cleared_on_d)
FROM cleared c
JOIN m_costly_settlements($asOf, $medicalWindowDays,  -- match/sql/people.sql
       m_cost_line($medicalCostAmountWatched, $ruralIncomeReference, $medicalCostPercentWatched)) e USING (id_number)
