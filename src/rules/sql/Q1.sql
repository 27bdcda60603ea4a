/*---
{ "id": "Q1", "category": "信息核对", "title": "证件号码无效",
  "explain": "名册中家庭成员的证件号码无效（位数、字符、省份代码、出生日期、校验位错误或被 Excel 损坏），该成员无法参与比对。",
  "target": "roster_household", "weight": 2,
  "needs": { "roster": ["id_number"] },
  "params": [] }
---*/
SELECT r.household_id AS key, trim(coalesce(r.id_number_raw, r.id_number, '')) AS id_number, r.name, NULL AS township, NULL AS village,
       'roster' AS dataset, r.snapshot_id, r.file_no, r.source_row,
       bidui_id_problem_zh(r.id_problem) AS detail
FROM m_roster_row r
WHERE r.id_problem IS NOT NULL
