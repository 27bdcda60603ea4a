-- 四有 counter-evidence on 漏评 households (DOMAIN.md, issue 4): shown as a flag on the lead,
-- never used to suppress it. Assets held on D. Parameters: $asOf, $passengerCarTypes,
-- $excludedEntityTypes.

-- step: members of 漏评 households
CREATE OR REPLACE TEMP TABLE m_lead_member AS
-- UNION ALL: the two parts are disjoint (a 户籍 household, or not), and each has no repeated row
-- (m_lead has one row per category and household, m_hukou_unit one per person).
SELECT l.household_key, u.id_number
FROM m_lead l JOIN m_hukou_unit u ON u.hukou_id = l.household_key
WHERE l.category = '漏评'
UNION ALL
SELECT l.household_key, l.household_key
FROM m_lead l
WHERE l.category = '漏评' AND l.household_key NOT IN (SELECT hukou_id FROM m_hukou_unit);

-- step: 四有 held on D
CREATE OR REPLACE TEMP TABLE m_flag AS
SELECT household_key, string_agg(DISTINCT flag, '、' ORDER BY flag) AS flags FROM (
  SELECT m.household_key, '有小汽车' AS flag
  FROM m_lead_member m JOIN vehicle v USING (id_number)
  WHERE list_contains($passengerCarTypes, v.vehicle_type) AND v.registered_on <= $asOf
    AND (v.deregistered_on IS NULL OR v.deregistered_on > $asOf)
  UNION ALL
  SELECT m.household_key, '有商品房'
  FROM m_lead_member m JOIN commercial_housing c USING (id_number)
  WHERE c.contract_on <= $asOf
  UNION ALL
  SELECT m.household_key, '有财政供养人员'
  FROM m_lead_member m JOIN public_servant p USING (id_number)
  WHERE p.hired_on <= $asOf AND (p.left_on IS NULL OR p.left_on > $asOf)
  UNION ALL
  SELECT m.household_key, '有市场主体'
  FROM m_lead_member m JOIN market_entity e USING (id_number)
  WHERE NOT list_contains($excludedEntityTypes, e.entity_type) AND e.established_on <= $asOf
    AND (e.closed_on IS NULL OR e.closed_on > $asOf)
)
GROUP BY household_key;

-- step: attach flags to leads
UPDATE m_lead SET flags = f.flags
FROM m_flag f
WHERE m_lead.category = '漏评' AND m_lead.household_key = f.household_key;
