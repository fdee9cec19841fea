-- title: Budgethouders bij een veroordeelde zorgaanbieder
-- description: Aandeel pgb-budgethouders dat in 2019-2024 zorg declareerde bij een aanbieder met een veroordeling, in procenten, naar gemeente van inschrijving van de budgethouder, tegen Nederland.
-- unit: persoon (budgethouder); zorgaanbieder
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH decl AS (
  SELECT b.gm_code,
         count(DISTINCT d.budgethouder_id) AS budgethouders,
         count(DISTINCT d.budgethouder_id) FILTER (WHERE z.veroordeeld) AS bij_veroordeelde
  FROM zorgfraude.pgb_declaratie d
  JOIN zorgfraude.zorgaanbieder z ON d.aanbieder_id = z.aanbieder_id
  JOIN basis.persoon p ON d.budgethouder_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE d.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, bij_veroordeelde AS teller FROM decl
),
noemer AS (
  SELECT gm_code, budgethouders AS noemer FROM decl
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT d.budgethouder_id) FILTER (WHERE z.veroordeeld) AS nl_teller,
         count(DISTINCT d.budgethouder_id) AS nl_noemer
  FROM zorgfraude.pgb_declaratie d
  JOIN zorgfraude.zorgaanbieder z ON d.aanbieder_id = z.aanbieder_id
  WHERE d.jaar BETWEEN 2019 AND 2024
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM noemer n
  LEFT JOIN teller t ON t.gm_code = n.gm_code
  CROSS JOIN nl
  JOIN regio.gemeente g ON n.gm_code = g.gm_code
),
scores AS (
  SELECT *,
         CAST(nl_teller AS DOUBLE) / nl_noemer AS nl_p,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         wilson_lower(teller, noemer, 0.95) AS w_lo,
         wilson_upper(teller, noemer, 0.95) AS w_hi
  FROM cijfers
)
SELECT gm_code, gm_naam,
       teller AS budgethouders_bij_veroordeelde, noemer AS budgethouders,
       round(100.0 * teller / noemer, 2) AS aandeel_bij_veroordeelde,
       round(100 * nl_p, 2) AS nl_aandeel_bij_veroordeelde,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
