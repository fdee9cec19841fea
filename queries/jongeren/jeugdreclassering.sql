-- title: Jongeren met jeugdreclassering
-- description: Jongeren (12-23 jaar) die in 2019-2024 onder jeugdreclassering stonden, per 1.000 jongeren, naar gemeente van inschrijving, tegen Nederland.
-- unit: persoon (jongere)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH jong AS (
  SELECT b.gm_code,
         count(DISTINCT j.persoon_id) AS jongeren,
         count(DISTINCT j.persoon_id) FILTER (WHERE j.jeugdreclassering) AS jeugdreclassering
  FROM jongeren.kenmerk j
  JOIN basis.persoon p ON j.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE j.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, jeugdreclassering AS teller FROM jong
),
noemer AS (
  SELECT gm_code, jongeren AS noemer FROM jong
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT persoon_id) FILTER (WHERE jeugdreclassering) AS nl_teller, count(DISTINCT persoon_id) AS nl_noemer
  FROM jongeren.kenmerk
  WHERE jaar BETWEEN 2019 AND 2024
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
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz
  FROM cijfers
)
SELECT gm_code, gm_naam,
       teller AS jongeren_jeugdreclassering, noemer AS jongeren,
       round(1000.0 * teller / noemer, 2) AS per_1000_jongeren,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_jongeren,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
