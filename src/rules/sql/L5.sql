/*---
{ "id": "L5", "category": "漏评", "title": "辍学学生家庭未纳入",
  "explain": "家庭中有义务教育阶段适龄（6–15 岁）辍学且比对日未劝返的学生，但全家都不在建档立卡名册中。",
  "target": "person", "weight": 3,
  "needs": { "dropout": ["id_number", "dropped_on", "returned_on"] },
  "params": ["dropoutMinAge", "dropoutMaxAge"] }
---*/
SELECT d.id_number AS key, d.id_number, d.name, NULL AS township, NULL AS village,
       'dropout' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%d 岁，%s 辍学%s', bidui_age_on(d.id_number_birth, $asOf), d.dropped_on,
              CASE WHEN d.school IS NULL THEN '' ELSE printf('（%s）', d.school) END) AS detail
FROM dropout d
WHERE bidui_age_on(d.id_number_birth, $asOf) BETWEEN $dropoutMinAge AND $dropoutMaxAge
  AND d.dropped_on <= $asOf
  AND (d.returned_on IS NULL OR d.returned_on > $asOf)
