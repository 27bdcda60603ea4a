/*---
{ "id": "Q2", "category": "信息核对", "title": "一人多户",
  "explain": "同一证件号码出现在两个或更多建档立卡户中。",
  "target": "roster_household", "weight": 2,
  "needs": { "roster": ["id_number", "household_id"] },
  "params": [] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'roster' AS dataset, m.snapshot_id, m.file_no, m.source_row,
       printf('同时在 %d 户中：%s', d.households, array_to_string(d.ids, '、')) AS detail
FROM m_member m
JOIN (
  SELECT id_number, count(DISTINCT household_id) AS households, list_sort(list_distinct(list(household_id))) AS ids
  FROM m_member GROUP BY id_number HAVING count(DISTINCT household_id) >= 2
) d USING (id_number)
