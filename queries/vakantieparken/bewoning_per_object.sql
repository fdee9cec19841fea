-- title: Permanente bewoning per 100 recreatieobjecten
-- description: Ingeschrevenen op vakantieparken op 1 januari 2024 per 100 recreatieobjecten (bungalows, chalets, plaatsen) op de parken in de gemeente, tegen Nederland: hoe sterk parken als woonadres worden gebruikt.
-- unit: persoon (ingeschrevene); park
-- granularity: gemeente
-- years: 2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT k.gm_code, count(DISTINCT i.persoon_id) AS teller
  FROM vakantieparken.inschrijving i
  JOIN vakantieparken.park k ON i.park_id = k.park_id
  WHERE i.peildatum = DATE '2024-01-01'
  GROUP BY k.gm_code
),
noemer AS (
  SELECT gm_code, sum(aantal_objecten) AS noemer
  FROM vakantieparken.park
  GROUP BY gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (SELECT count(DISTINCT persoon_id) AS nl_teller FROM vakantieparken.inschrijving WHERE peildatum = DATE '2024-01-01') k
  CROSS JOIN (SELECT sum(aantal_objecten) AS nl_noemer FROM vakantieparken.park) v
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
       teller AS ingeschrevenen_park, noemer AS recreatieobjecten,
       round(100.0 * teller / noemer, 2) AS per_100_objecten,
       round(100.0 * nl_teller / nl_noemer, 2) AS nl_per_100_objecten,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
