-- title: Aandeel verdachten van handel of productie
-- description: Van de Opiumwet-verdachten per pleeggemeente 2019-2024: het aandeel dat (ook) verdacht is van handel of vervaardigen (F42-F45) in plaats van alleen bezit, in procenten, tegen Nederland.
-- unit: persoon (verdachte)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH reg AS (
  SELECT v.pleeg_gm_code AS gm_code,
         count(DISTINCT v.persoon_id) AS verdachten,
         count(DISTINCT v.persoon_id) FILTER (WHERE f.handeling IN ('handel', 'vervaardigen')) AS handel
  FROM drugs.verdachte v
  JOIN ref.drugsfeit f ON v.feit_code = f.feit_code
  WHERE v.jaar BETWEEN 2019 AND 2024
  GROUP BY v.pleeg_gm_code
),
teller AS (
  SELECT gm_code, handel AS teller FROM reg
),
noemer AS (
  SELECT gm_code, verdachten AS noemer FROM reg
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT v.persoon_id) FILTER (WHERE f.handeling IN ('handel', 'vervaardigen')) AS nl_teller,
         count(DISTINCT v.persoon_id) AS nl_noemer
  FROM drugs.verdachte v
  JOIN ref.drugsfeit f ON v.feit_code = f.feit_code
  WHERE v.jaar BETWEEN 2019 AND 2024
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
       teller AS verdachten_handel_vervaardigen, noemer AS verdachten,
       round(100.0 * teller / noemer, 2) AS aandeel_handel_vervaardigen,
       round(100 * nl_p, 2) AS nl_aandeel_handel_vervaardigen,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
