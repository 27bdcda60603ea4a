/*---
{ "id": "T1", "category": "错退", "title": "危房未改先退",
  "explain": "已脱贫家庭的住房为C级或D级危房，比对日尚未改造完成（住房安全未保障）。",
  "target": "roster_household", "weight": 4,
  "needs": { "housing_safety": ["id_number", "grade", "assessed_on", "renovation_status", "renovated_on"] },
  "params": ["dangerousHouseGrades"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'housing_safety' AS dataset, s.snapshot_id, s.file_no, s.source_row,
       printf('%s级危房，%s 鉴定，%s（%s 脱贫）', s.grade, s.assessed_on,
              CASE WHEN s.renovated_on IS NOT NULL AND s.renovated_on > $asOf THEN printf('%s 竣工（晚于比对日）', s.renovated_on)
                   ELSE coalesce(s.renovation_status, '改造状态未填') END, h.exited_on_d) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN housing_safety s ON s.id_number = m.id_number
WHERE h.exited_on_d IS NOT NULL
  AND list_contains($dangerousHouseGrades, s.grade)
  AND s.assessed_on <= $asOf
  AND NOT (s.renovated_on IS NOT NULL AND s.renovated_on <= $asOf
           AND coalesce(s.renovation_status, '') NOT IN ('未改造', '改造中'))
