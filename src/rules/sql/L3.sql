/*---
{ "id": "L3", "category": "漏评", "title": "大病患者家庭未纳入",
  "explain": "家庭成员在比对日前规定天数内确诊大病，但全家都不在建档立卡名册中。",
  "target": "person", "weight": 2,
  "needs": { "illness": ["id_number", "category", "diagnosed_on"] },
  "params": ["illnessWindowDays"] }
---*/
SELECT i.id_number AS key, i.id_number, i.name, NULL AS township, NULL AS village,
       'illness' AS dataset, i.snapshot_id, i.file_no, i.source_row,
       printf('大病（%s），%s 确诊', coalesce(i.disease, '病种未填'), i.diagnosed_on) AS detail
FROM illness i
WHERE i.category = '大病'
  AND i.diagnosed_on BETWEEN $asOf - $illnessWindowDays AND $asOf
