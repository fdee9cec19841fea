-- title: Onverklaarbare woningaankopen per jaar
-- description: Aankopen met een koopsom boven de maximale financiering van het kopende huishouden, per 1.000 aankopen, per gemeente en jaar tegen Nederland in hetzelfde jaar.
-- unit: transactie (koper, woning)
-- granularity: gemeente-jaar
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH aankopen AS (
  SELECT b.gm_code, t.jaar,
         count(*) AS aankopen,
         count(*) FILTER (WHERE t.koopsom > t.max_financiering) AS onverklaarbaar
  FROM vastgoed.transactie t
  JOIN basis.woning w ON t.woning_id = w.woning_id
  JOIN regio.buurt b ON w.bu_code = b.bu_code
  WHERE t.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code, t.jaar
),
teller AS (
  SELECT gm_code, jaar, onverklaarbaar AS teller FROM aankopen
),
noemer AS (
  SELECT gm_code, jaar, aankopen AS noemer FROM aankopen
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT jaar, count(*) FILTER (WHERE koopsom > max_financiering) AS nl_teller, count(*) AS nl_noemer
  FROM vastgoed.transactie
  WHERE jaar BETWEEN 2019 AND 2024
  GROUP BY jaar
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, n.jaar,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM noemer n
  LEFT JOIN teller t ON t.gm_code = n.gm_code AND t.jaar = n.jaar
  JOIN nl ON nl.jaar = n.jaar
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
SELECT gm_code, gm_naam, jaar,
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
ORDER BY gm_code, jaar
