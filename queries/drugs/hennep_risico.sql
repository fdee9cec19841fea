-- title: Hennepruimingen per 1.000 woningen
-- description: Risico op een hennepkwekerij: ontmantelde hennepkwekerijen 2019-2024 per 1.000 woningen in de gemeente, tegen Nederland.
-- unit: hennepruiming (woning)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, count(*) AS teller
  FROM drugs.hennepruiming h
  JOIN basis.woning w ON h.woning_id = w.woning_id
  JOIN regio.buurt b ON w.bu_code = b.bu_code
  WHERE h.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.woning w
  JOIN regio.buurt b ON w.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (SELECT count(*) AS nl_teller FROM drugs.hennepruiming WHERE jaar BETWEEN 2019 AND 2024) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.woning) v
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
       teller AS hennepruimingen, noemer AS woningen,
       round(1000.0 * teller / noemer, 2) AS per_1000_woningen,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_woningen,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
