/*---
{ "id": "M6", "category": "监测预警", "title": "脱贫户收入低于监测范围",
  "explain": "未纳入监测的脱贫户，人均纯收入低于比对日所在年度的防止返贫监测范围（标准表中没有该年度时本规则不执行），应核实是否纳入监测。",
  "target": "watch_household", "weight": 3,
  "needs": { "roster": ["income_per_capita", "exited_on"], "monitoring": ["household_id"] },
  "params": ["monitoringLines"] }
---*/
SELECT h.household_id AS key, h.head_id_number AS id_number, h.head_name AS name, NULL AS township, NULL AS village,
       'roster' AS dataset, h.head_snapshot_id AS snapshot_id, h.head_file_no AS file_no, h.head_source_row AS source_row,
       printf('人均纯收入 %.2f 元，低于 %d 年监测范围 %.2f 元（%s 脱贫，未纳入监测）', h.income_per_capita::DOUBLE, year($asOf),
              $monitoringLines[year($asOf)::VARCHAR], h.exited_on_d) AS detail
FROM m_household h
WHERE h.exited_on_d IS NOT NULL
  AND h.income_per_capita IS NOT NULL
  AND h.household_id NOT IN (SELECT household_id FROM m_roster_monitored)
  AND h.income_per_capita < $monitoringLines[year($asOf)::VARCHAR]
