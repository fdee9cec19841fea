-- title: Onverklaarbare woningaankopen
-- description: Aankopen waarbij de koopsom hoger is dan wat het kopende huishouden kon financieren (hypotheekruimte plus eigen vermogen), per 1.000 aankopen, per gemeente van de woning tegen Nederland.
-- unit: transactie (koper, woning)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH aankopen AS (
  SELECT b.gm_code,
         count(*) AS aankopen,
         count(*) FILTER (WHERE t.koopsom > t.max_financiering) AS onverklaarbaar
  FROM vastgoed.transactie t
  JOIN basis.woning w ON t.woning_id = w.woning_id
  JOIN regio.buurt b ON w.bu_code = b.bu_code
  WHERE t.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, onverklaarbaar AS teller FROM aankopen
),
noemer AS (
  SELECT gm_code, aankopen AS noemer FROM aankopen
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) FILTER (WHERE koopsom > max_financiering) AS nl_teller, count(*) AS nl_noemer
  FROM vastgoed.transactie
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
       teller AS onverklaarbare_aankopen, noemer AS aankopen,
       round(1000.0 * teller / noemer, 2) AS per_1000_aankopen,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_aankopen,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
