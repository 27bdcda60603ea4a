/*---
{ "id": "T2", "category": "错退", "title": "脱贫户有辍学学生",
  "explain": "已脱贫家庭中有 6–15 岁辍学且比对日未劝返的学生（义务教育未保障）。",
  "target": "roster_household", "weight": 4,
  "needs": { "dropout": ["id_number", "dropped_on", "returned_on"] },
  "params": ["dropoutMinAge", "dropoutMaxAge"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'dropout' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%d 岁，%s 辍学（%s 脱贫）', bidui_age_on(d.id_number_birth, $asOf), d.dropped_on, h.exited_on_d) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN dropout d ON d.id_number = m.id_number
WHERE h.exited_on_d IS NOT NULL
  AND bidui_age_on(d.id_number_birth, $asOf) BETWEEN $dropoutMinAge AND $dropoutMaxAge
  AND d.dropped_on <= $asOf
  AND (d.returned_on IS NULL OR d.returned_on > $asOf)
