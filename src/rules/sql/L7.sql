/*---
{ "id": "L7", "category": "漏评", "title": "居住偏远农户未纳入",
  "explain": "户籍家庭住在配置的偏远村名单中的村，但全家都不在建档立卡名册中。",
  "target": "hukou_household", "weight": 1,
  "needs": { "hukou": ["id_number", "hukou_id", "township", "village"] },
  "params": ["remoteVillages"], "requiresNonEmpty": ["remoteVillages"] }
---*/
SELECT u.hukou_id AS key, u.id_number, u.name, p.township, p.village,
       'hukou' AS dataset, u.snapshot_id, u.file_no, u.source_row,
       printf('居住在 %s/%s', p.township, p.village) AS detail
FROM m_hukou_unit u JOIN m_unit_place p USING (hukou_id)
WHERE list_contains(list_transform($remoteVillages, x -> bidui_text(x)), p.township || '/' || p.village)
