/*---
{ "id": "C2", "category": "错评", "title": "识别前购买商品房",
  "explain": "家庭成员在识别纳入前已签订商品房买卖合同（网签备案）。",
  "target": "roster_household", "weight": 4,
  "needs": { "commercial_housing": ["id_number", "contract_on"] },
  "params": [] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'commercial_housing' AS dataset, c.snapshot_id, c.file_no, c.source_row,
       printf('%s%s 备案%s（识别时间 %s）', coalesce(c.project || '，', ''), c.contract_on,
              CASE WHEN c.area IS NULL THEN '' ELSE printf('，%.2f 平方米', c.area::DOUBLE) END, h.identified_on) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN commercial_housing c ON c.id_number = m.id_number
WHERE c.contract_on < h.identified_on
