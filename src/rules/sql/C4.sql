/*---
{ "id": "C4", "category": "错评", "title": "识别前登记市场主体",
  "explain": "家庭成员在识别纳入前已是市场主体（个体户、公司等，不含农民专业合作社）的登记人，且识别时未注销或吊销。",
  "target": "roster_household", "weight": 3,
  "needs": { "market_entity": ["id_number", "entity_name", "entity_type", "established_on", "closed_on"] },
  "params": ["excludedEntityTypes"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'market_entity' AS dataset, e.snapshot_id, e.file_no, e.source_row,
       printf('%s（%s），%s 成立%s（识别时间 %s）', e.entity_name, e.entity_type, e.established_on,
              CASE WHEN e.closed_on IS NULL THEN '' ELSE printf('，%s 注销/吊销', e.closed_on) END, h.identified_on) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN market_entity e ON e.id_number = m.id_number
WHERE NOT list_contains($excludedEntityTypes, e.entity_type)
  AND e.established_on < h.identified_on
  AND NOT (e.closed_on IS NOT NULL AND e.closed_on <= h.identified_on)
