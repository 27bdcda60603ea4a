/*---
{ "id": "T4", "category": "错退", "title": "收入低于脱贫标准",
  "explain": "已脱贫家庭的人均纯收入低于脱贫当年的收入标准（标准表中没有的年度不评估）。",
  "target": "roster_household", "weight": 3,
  "needs": { "roster": ["income_per_capita", "exited_on"] },
  "params": ["incomeStandards"] }
---*/
SELECT h.household_id AS key, h.head_id_number AS id_number, h.head_name AS name, NULL AS township, NULL AS village,
       'roster' AS dataset, h.head_snapshot_id AS snapshot_id, h.head_file_no AS file_no, h.head_source_row AS source_row,
       printf('人均纯收入 %.2f 元，低于 %d 年标准 %.2f 元', h.income_per_capita::DOUBLE, year(h.exited_on_d),
              $incomeStandards[year(h.exited_on_d)::VARCHAR]) AS detail
FROM m_household h
WHERE h.exited_on_d IS NOT NULL
  AND h.income_per_capita IS NOT NULL
  AND $incomeStandards[year(h.exited_on_d)::VARCHAR] IS NOT NULL
  AND h.income_per_capita < $incomeStandards[year(h.exited_on_d)::VARCHAR]
