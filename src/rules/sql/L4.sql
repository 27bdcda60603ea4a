/*---
{ "id": "L4", "category": "漏评", "title": "重度残疾人家庭未纳入",
  "explain": "家庭成员持有一级或二级残疾证，但全家都不在建档立卡名册中。",
  "target": "person", "weight": 2,
  "needs": { "disability": ["id_number", "grade", "certified_on"] },
  "params": ["severeDisabilityMaxGrade"] }
---*/
SELECT d.id_number AS key, d.id_number, d.name, d.township, d.village,
       'disability' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%s残疾%s级%s', coalesce(d.disability_type, ''), d.grade,
              CASE WHEN d.certified_on IS NULL THEN '' ELSE printf('，%s 发证', d.certified_on) END) AS detail
FROM disability d
WHERE CAST(d.grade AS INTEGER) <= $severeDisabilityMaxGrade
  AND (d.certified_on IS NULL OR d.certified_on <= $asOf)
