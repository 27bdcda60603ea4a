/*---
{ "id": "Q6", "category": "信息核对", "title": "证件号码疑似录错",
  "explain": "无效证件号码与同乡镇同姓名的唯一一位户籍人员的号码只差一位或相邻两位颠倒，建议核对后更正。",
  "target": "roster_household", "weight": 1,
  "needs": { "roster": ["id_number", "name", "township"], "hukou": ["id_number", "name", "township"] },
  "params": [] }
---*/
SELECT r.household_id AS key, trim(coalesce(r.id_number_raw, r.id_number, '')) AS id_number, r.name, NULL AS township, NULL AS village,
       'hukou' AS dataset, any_value(k.snapshot_id) AS snapshot_id, any_value(k.file_no) AS file_no, any_value(k.source_row) AS source_row,
       printf('疑似应为 %s（户籍中同乡镇同名）', any_value(k.id_number)) AS detail
FROM m_roster_row r
JOIN hukou k ON k.name = r.name AND k.township = r.township AND bidui_one_edit(r.id_number, k.id_number)
WHERE r.id_problem IS NOT NULL AND length(r.id_number) = 18
GROUP BY r.household_id, r.id_number, r.id_number_raw, r.name, r.snapshot_id, r.file_no, r.source_row
HAVING count(DISTINCT k.id_number) = 1
