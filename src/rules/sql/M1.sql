/*---
{ "id": "M1", "category": "监测预警", "title": "脱贫户、监测户医疗自付费用高",
  "explain": "脱贫户或监测户的成员，比对日前 365 天内（天数可配置）医保结算的个人自付费用合计达到预警线（默认为农村居民人均可支配收入参考值的 50%，参考值应配置为本省上年数），有因病返贫致贫风险。",
  "target": "watch_household", "weight": 3,
  "needs": { "medical_expense": ["id_number", "settled_on", "out_of_pocket"] },
  "params": ["medicalWindowDays", "ruralIncomeReference", "medicalCostPercentWatched", "medicalCostAmountWatched"] }
---*/
-- The cost test and its words: match/sql/people.sql (m_costly_settlements, m_cost_line).
SELECT w.household_id AS key, w.id_number, w.name, NULL AS township, NULL AS village,
       'medical_expense' AS dataset, e.snapshot_id, e.file_no, e.source_row, e.cost_text || '）' AS detail
FROM m_watch_member w
JOIN m_costly_settlements($asOf, $medicalWindowDays,
       m_cost_line($medicalCostAmountWatched, $ruralIncomeReference, $medicalCostPercentWatched)) e USING (id_number)
