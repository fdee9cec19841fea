-- title: Woningen van particuliere verhuurders
-- description: Aandeel van de woningvoorraad dat particulier wordt verhuurd (eigendom particuliere_huur), in procenten, per gemeente tegen Nederland, met Wilson-interval.
-- unit: woning (eigenaar, woning)
-- granularity: gemeente
-- years: 2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH woningen AS (
  SELECT b.gm_code, count(*) AS woningen, count(*) FILTER (WHERE w.eigendom = 'particuliere_huur') AS aantal
  FROM basis.woning w
JOIN regio.buurt b ON w.bu_code = b.bu_code
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, aantal AS teller FROM woningen
),
noemer AS (
  SELECT gm_code, woningen AS noemer FROM woningen
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) FILTER (WHERE eigendom = 'particuliere_huur') AS nl_teller, count(*) AS nl_noemer FROM basis.woning
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
       teller AS woningen_particuliere_huur, noemer AS woningen,
       round(100.0 * teller / noemer, 2) AS aandeel_particuliere_huur,
       round(100 * nl_p, 2) AS nl_aandeel_particuliere_huur,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
