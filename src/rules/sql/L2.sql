/*---
{ "id": "L2", "category": "漏评", "title": "危房户未纳入",
  "explain": "家庭住房被鉴定为C级或D级危房且比对日尚未改造完成，但全家都不在建档立卡名册中。",
  "target": "person", "weight": 3,
  "needs": { "housing_safety": ["id_number", "grade", "assessed_on", "renovation_status", "renovated_on"] },
  "params": ["dangerousHouseGrades"] }
---*/
SELECT h.id_number AS key, h.id_number, h.name, h.township, h.village,
       'housing_safety' AS dataset, h.snapshot_id, h.file_no, h.source_row,
       printf('%s级危房，%s 鉴定，%s', h.grade, h.assessed_on,
              CASE WHEN h.renovated_on IS NOT NULL AND h.renovated_on > $asOf THEN printf('%s 竣工（晚于比对日）', h.renovated_on)
                   ELSE coalesce(h.renovation_status, '改造状态未填') END) AS detail
FROM housing_safety h
WHERE list_contains($dangerousHouseGrades, h.grade)
  AND h.assessed_on <= $asOf
  AND NOT (h.renovated_on IS NOT NULL AND h.renovated_on <= $asOf
           AND coalesce(h.renovation_status, '') NOT IN ('未改造', '改造中'))
