-- title: Werknemers per knooppunt en woongemeente
-- description: Waar de werknemers van elk logistiek knooppunt wonen: werknemers in 2024 per knooppunt en woongemeente, per 1.000 inwoners, tegen Nederland voor hetzelfde knooppunt. Alleen vrijgegeven cellen.
-- unit: persoon (werknemer, vestiging)
-- granularity: knooppunt-gemeente
-- years: 2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, l.knooppunt, count(DISTINCT l.persoon_id) AS teller
  FROM logistiek.knooppunt_werknemer l
  JOIN basis.persoon p ON l.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE l.jaar = 2024
  GROUP BY b.gm_code, l.knooppunt
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.knooppunt, k.nl_teller, p.nl_noemer
  FROM (SELECT knooppunt, count(DISTINCT persoon_id) AS nl_teller FROM logistiek.knooppunt_werknemer WHERE jaar = 2024 GROUP BY knooppunt) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) p
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, t.knooppunt,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM teller t
  JOIN noemer n ON t.gm_code = n.gm_code
  JOIN nl ON nl.knooppunt = t.knooppunt
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
SELECT gm_code, gm_naam, knooppunt,
       teller AS werknemers, noemer AS inwoners,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code, knooppunt
