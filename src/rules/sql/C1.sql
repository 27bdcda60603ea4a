/*---
{ "id": "C1", "category": "错评", "title": "识别前有小汽车",
  "explain": "家庭成员在识别纳入前已登记小汽车（不含货车、三轮车、摩托车），且识别时未注销。",
  "target": "roster_household", "weight": 4,
  "needs": { "vehicle": ["id_number", "plate", "vehicle_type", "registered_on", "deregistered_on"] },
  "params": ["passengerCarTypes"] }
---*/
SELECT m.household_id AS key, m.id_number, m.name, NULL AS township, NULL AS village,
       'vehicle' AS dataset, v.snapshot_id, v.file_no, v.source_row,
       printf('%s %s，%s 初次登记%s（识别时间 %s）', v.vehicle_type, v.plate, v.registered_on,
              CASE WHEN v.deregistered_on IS NULL THEN '' ELSE printf('，%s 注销', v.deregistered_on) END, h.identified_on) AS detail
FROM m_member_lane m  -- members, and roster rows linked to a person (match/linkage.ts)
JOIN m_household h USING (household_id)
JOIN vehicle v ON v.id_number = m.id_number
WHERE list_contains($passengerCarTypes, v.vehicle_type)
  AND v.registered_on < h.identified_on
  AND NOT (v.deregistered_on IS NOT NULL AND v.deregistered_on <= h.identified_on)
