/*---
{ "id": "T3", "category": "错退", "title": "脱贫户有大病患者",
  "explain": "已脱贫家庭成员在脱贫前一年内至比对日之间确诊大病（基本医疗可能未保障）。",
  "target": "roster_household", "weight": 3,
  "needs": { "illness": ["id_number", "category", "diagnosed_on"] },
  "params": ["exitIllnessLookbackDays"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'illness' AS dataset, i.snapshot_id, i.file_no, i.source_row,
       printf('大病（%s），%s 确诊（%s 脱贫）', coalesce(i.disease, '病种未填'), i.diagnosed_on, h.exited_on_d) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN illness i ON i.id_number = m.id_number
WHERE h.exited_on_d IS NOT NULL
  AND i.category = '大病'
  AND i.diagnosed_on BETWEEN h.exited_on_d - $exitIllnessLookbackDays AND $asOf
