/*---
{ "id": "M4", "category": "监测预警", "title": "脱贫户、监测户新增重度残疾或危房",
  "explain": "脱贫户或监测户的成员在比对日前 90 天内（天数可配置）新认定一、二级残疾，或住房新鉴定为 C、D 级危房且比对日未改造完成。",
  "target": "watch_household", "weight": 3,
  "needs": { "disability": ["id_number", "grade", "certified_on"], "housing_safety": ["id_number", "grade", "assessed_on"] },
  "params": ["severeDisabilityMaxGrade", "dangerousHouseGrades", "riskEventWindowDays"] }
---*/
SELECT w.household_id AS key, w.id_number, w.name, NULL AS township, NULL AS village,
       'disability' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%s残疾%s级，%s 发证（比对日前 %d 天内新认定）', coalesce(d.disability_type, ''), d.grade, d.certified_on, $riskEventWindowDays) AS detail
FROM m_watch_member w
JOIN disability d ON d.id_number = w.id_number
WHERE CAST(d.grade AS INTEGER) <= $severeDisabilityMaxGrade
  AND d.certified_on BETWEEN $asOf - $riskEventWindowDays AND $asOf
UNION ALL
SELECT w.household_id, w.id_number, w.name, NULL, NULL,
       'housing_safety', s.snapshot_id, s.file_no, s.source_row,
       printf('%s级危房，%s 鉴定（比对日前 %d 天内新鉴定），%s', s.grade, s.assessed_on, $riskEventWindowDays,
              CASE WHEN s.renovated_on IS NOT NULL AND s.renovated_on > $asOf THEN printf('%s 竣工（晚于比对日）', s.renovated_on)
                   ELSE coalesce(s.renovation_status, '改造状态未填') END)
FROM m_watch_member w
JOIN housing_safety s ON s.id_number = w.id_number
WHERE list_contains($dangerousHouseGrades, s.grade)
  AND s.assessed_on BETWEEN $asOf - $riskEventWindowDays AND $asOf
  AND NOT (s.renovated_on IS NOT NULL AND s.renovated_on <= $asOf
           AND coalesce(s.renovation_status, '') NOT IN ('未改造', '改造中'))
