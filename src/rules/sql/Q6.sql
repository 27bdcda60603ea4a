/*---
{ "id": "Q6", "category": "信息核对", "title": "证件号码疑似录错",
  "explain": "无效证件号码（录错一位、相邻两位颠倒、被 Excel 损坏只剩前 15 位，或 15 位旧号码的省份代码已不存在）与同乡镇同姓名的唯一一位户籍人员的号码相符，建议核对后更正。",
  "target": "roster_household", "weight": 1,
  "needs": { "roster": ["id_number", "name", "township"], "hukou": ["id_number", "name", "township"] },
  "params": [] }
---*/
-- The roster's links (src/match/linkage.ts, table m_q6): one suggestion per roster row whose ID is
-- invalid and whose person is the only 户籍 person of that name in the township matching it.
SELECT q.household_id AS key, q.raw_id AS id_number, q.name, NULL AS township, NULL AS village,
       'hukou' AS dataset, q.snapshot_id, q.file_no, q.source_row,
       CASE q.method
         WHEN 'edit' THEN printf('疑似应为 %s（户籍中同乡镇同名）', q.linked_id)
         WHEN 'excel' THEN printf('疑似应为 %s（原号码被 Excel 损坏；户籍中同乡镇同名、前 15 位相同，可信度%s）', q.linked_id, q.confidence)
         ELSE printf('疑似应为 %s（省份代码已不存在的 15 位旧号码；户籍中同乡镇同名、出生日期和顺序码相同，可信度%s）', q.linked_id, q.confidence)
       END AS detail
FROM m_q6 q
