/*---
{ "id": "L6", "category": "漏评", "title": "老人户未纳入",
  "explain": "户籍家庭在世成员全部年满 60 岁，但全家都不在建档立卡名册中。",
  "target": "hukou_household", "weight": 1,
  "needs": { "hukou": ["id_number", "hukou_id", "status", "status_on"] },
  "params": ["elderlyAge"] }
---*/
SELECT u.hukou_id AS key, u.id_number, u.name, u.township, u.village,
       'hukou' AS dataset, u.snapshot_id, u.file_no, u.source_row,
       printf('%d 岁', bidui_age_on(u.birth, $asOf)) AS detail
FROM m_hukou_unit u
WHERE u.hukou_id IN (
  SELECT hukou_id FROM m_hukou_unit GROUP BY hukou_id HAVING min(bidui_age_on(birth, $asOf)) >= $elderlyAge
)
