-- title: Personen met problematische schulden per 1.000 inwoners per wijk
-- description: Personen met een geregistreerde problematische schuld in 2024, naar wijk van inschrijving, per 1.000 inwoners, tegen Nederland. Wijken met minder dan 10 personen met schulden krijgen NULL.
-- unit: persoon
-- granularity: wijk
-- years: 2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.wk_code, count(DISTINCT s.persoon_id) AS teller
  FROM schulden.registratie s
  JOIN basis.persoon p ON s.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE s.jaar = 2024 AND s.problematische_schuld
  GROUP BY b.wk_code
),
noemer AS (
  SELECT b.wk_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.wk_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (SELECT count(DISTINCT persoon_id) AS nl_teller FROM schulden.registratie WHERE jaar = 2024 AND problematische_schuld) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) v
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, k.wk_code, k.wk_naam,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM noemer n
  LEFT JOIN teller t ON t.wk_code = n.wk_code
  CROSS JOIN nl
  JOIN regio.wijk k ON n.wk_code = k.wk_code
  JOIN regio.gemeente g ON k.gm_code = g.gm_code
),
scores AS (
  SELECT *,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz
  FROM cijfers
)
SELECT gm_code, gm_naam, wk_code, wk_naam,
       teller AS personen_problematische_schulden, noemer AS inwoners,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code, wk_code
