/*---
{ "id": "Q5", "category": "信息核对", "title": "家庭成员漏登",
  "explain": "户主户籍所在户中有在世成员不在任何建档立卡户中（家庭漏人）。",
  "target": "roster_household", "weight": 2,
  "needs": { "hukou": ["id_number", "hukou_id", "status", "status_on"], "roster": ["relation"] },
  "params": [] }
---*/
SELECT head.household_id AS key, u.id_number, u.name, NULL AS township, NULL AS village,
       'hukou' AS dataset, u.snapshot_id, u.file_no, u.source_row,
       printf('与户主同在户籍户 %s（%s），未在名册中', u.hukou_id, coalesce(u.relation, '关系未填')) AS detail
FROM m_member head
JOIN m_hukou_person hp ON hp.id_number = head.id_number
JOIN m_hukou_unit u ON u.hukou_id = hp.hukou_id
WHERE head.relation = '户主'
  AND u.id_number NOT IN (SELECT id_number FROM m_in_roster)
