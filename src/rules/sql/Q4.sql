/*---
{ "id": "Q4", "category": "信息核对", "title": "姓名与户籍不符",
  "explain": "名册中成员的姓名与户籍中同一证件号码的姓名不一致。",
  "target": "roster_household", "weight": 1,
  "needs": { "hukou": ["id_number", "name"] },
  "params": [] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'hukou' AS dataset, k.snapshot_id, k.file_no, k.source_row,
       printf('名册姓名「%s」，户籍姓名「%s」', m.name, k.name) AS detail
FROM m_member m
JOIN hukou k ON k.id_number = m.id_number
WHERE m.name <> k.name
