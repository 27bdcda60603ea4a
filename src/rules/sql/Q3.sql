/*---
{ "id": "Q3", "category": "信息核对", "title": "成员已死亡",
  "explain": "名册中的家庭成员在户籍中登记为死亡，注销日期不晚于比对日。",
  "target": "roster_household", "weight": 2,
  "needs": { "hukou": ["id_number", "status", "status_on"] },
  "params": [] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'hukou' AS dataset, k.snapshot_id, k.file_no, k.source_row,
       printf('户籍登记死亡，%s 注销', k.status_on) AS detail
FROM m_member m
JOIN hukou k ON k.id_number = m.id_number
WHERE k.status = '死亡' AND k.status_on IS NOT NULL AND k.status_on <= $asOf
