/*---
{ "id": "M2", "category": "监测预警", "title": "一般农户医疗自付费用高",
  "explain": "不在建档立卡名册、也不在监测对象中的本县户籍居民，比对日前 365 天内（天数可配置）医保结算的个人自付费用合计达到预警线（默认为农村居民人均可支配收入参考值的 100%，参考值应配置为本省上年数），可能因病致贫，应核实是否纳入监测。",
  "target": "person", "weight": 2,
  "needs": { "medical_expense": ["id_number", "settled_on", "out_of_pocket"] },
  "params": ["medicalWindowDays", "ruralIncomeReference", "medicalCostPercentOthers", "medicalCostAmountOthers"] }
---*/
-- A 户籍 resident living on D (m_hukou_unit), in no roster household and no monitoring household
-- (monitored or cleared); match takes the person to their 户籍 household. The cost test and its
-- words: match/sql/people.sql (m_costly_settlements, m_cost_line).
SELECT u.id_number AS key, u.id_number, u.name, NULL AS township, NULL AS village,
       'medical_expense' AS dataset, e.snapshot_id, e.file_no, e.source_row, e.cost_text || '）' AS detail
FROM m_hukou_unit u
JOIN m_costly_settlements($asOf, $medicalWindowDays,
       m_cost_line($medicalCostAmountOthers, $ruralIncomeReference, $medicalCostPercentOthers)) e USING (id_number)
WHERE u.id_number NOT IN (SELECT id_number FROM m_in_roster)
  AND u.id_number NOT IN (SELECT id_number FROM m_monitor_member)
