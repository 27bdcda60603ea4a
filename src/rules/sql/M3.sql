/*---
{ "id": "M3", "category": "监测预警", "title": "脱贫户新纳入低保特困",
  "explain": "未纳入监测的脱贫户，有成员在比对日前 90 天内（天数可配置）开始享受农村低保或特困供养，收入或生活可能出现困难，应核实是否纳入监测。",
  "target": "watch_household", "weight": 3,
  "needs": { "dibao": ["id_number", "assistance_type", "started_on"], "monitoring": ["household_id"] },
  "params": ["ruralAssistanceTypes", "riskEventWindowDays"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'dibao' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%s，%s 起（比对日前 %d 天内新纳入；%s 脱贫）', d.assistance_type, d.started_on, $riskEventWindowDays, h.exited_on_d) AS detail
FROM m_member m
JOIN m_household h USING (household_id)
JOIN dibao d ON d.id_number = m.id_number
WHERE h.exited_on_d IS NOT NULL
  AND h.household_id NOT IN (SELECT household_id FROM m_roster_monitored)
  AND list_contains($ruralAssistanceTypes, d.assistance_type)
  AND d.started_on BETWEEN $asOf - $riskEventWindowDays AND $asOf
