/*---
{ "id": "L1", "category": "漏评", "title": "低保特困户未纳入",
  "explain": "家庭成员正在享受农村低保或特困供养，但全家都不在建档立卡名册中。",
  "target": "person", "weight": 3,
  "needs": { "dibao": ["id_number", "assistance_type", "started_on", "ended_on"] },
  "params": ["ruralAssistanceTypes"] }
---*/
SELECT d.id_number AS key, d.id_number, d.name, d.township, d.village,
       'dibao' AS dataset, d.snapshot_id, d.file_no, d.source_row,
       printf('%s，%s 起%s', d.assistance_type, d.started_on,
              CASE WHEN d.ended_on IS NULL THEN '，未终止' ELSE printf('，%s 终止', d.ended_on) END) AS detail
FROM dibao d
WHERE list_contains($ruralAssistanceTypes, d.assistance_type)
  AND d.started_on <= $asOf
  AND (d.ended_on IS NULL OR d.ended_on > $asOf)
