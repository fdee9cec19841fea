-- title: Ingeschrevenen op vakantieparken per jaar
-- description: Personen ingeschreven op een vakantiepark op 1 januari van elk jaar, naar gemeente van het park, per 1.000 inwoners (1 januari 2024), tegen Nederland in hetzelfde jaar. Alleen vrijgegeven cellen.
-- unit: persoon (ingeschrevene)
-- granularity: gemeente-jaar
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT k.gm_code, CAST(date_part('year', i.peildatum) AS INT) AS jaar, count(DISTINCT i.persoon_id) AS teller
  FROM vakantieparken.inschrijving i
  JOIN vakantieparken.park k ON i.park_id = k.park_id
  GROUP BY k.gm_code, CAST(date_part('year', i.peildatum) AS INT)
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.jaar, k.nl_teller, v.nl_noemer
  FROM (SELECT CAST(date_part('year', peildatum) AS INT) AS jaar, count(DISTINCT persoon_id) AS nl_teller
        FROM vakantieparken.inschrijving
        GROUP BY CAST(date_part('year', peildatum) AS INT)) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) v
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, t.jaar,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM teller t
  JOIN noemer n ON t.gm_code = n.gm_code
  JOIN nl ON nl.jaar = t.jaar
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
       teller AS ingeschrevenen_park, noemer AS inwoners,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code, jaar
