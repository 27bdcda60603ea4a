/*---
{ "id": "C3", "category": "错评", "title": "识别前为财政供养人员",
  "explain": "家庭成员在识别纳入前已是财政供养人员，且识别时尚未离职或退休。",
  "target": "roster_household", "weight": 5,
  "needs": { "public_servant": ["id_number", "hired_on", "left_on"] },
  "params": [] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'public_servant' AS dataset, p.snapshot_id, p.file_no, p.source_row,
       printf('%s%s 入职%s（识别时间 %s）', coalesce(p.employer || '，', ''), p.hired_on,
              CASE WHEN p.left_on IS NULL THEN '' ELSE printf('，%s 离职', p.left_on) END, h.identified_on) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN public_servant p ON p.id_number = m.id_number
WHERE p.hired_on < h.identified_on
  AND NOT (p.left_on IS NOT NULL AND p.left_on <= h.identified_on)
