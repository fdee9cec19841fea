-- title: Personen met verdacht verklaarde transacties
-- description: Personen met minstens een door FIU-Nederland verdacht verklaarde transactie in 2019-2024, naar woongemeente, per 1.000 inwoners, tegen Nederland.
-- unit: persoon (melding: persoon, vestiging)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, count(DISTINCT m.persoon_id) AS teller
  FROM transacties.melding m
  JOIN regio.buurt b ON m.bu_code = b.bu_code
  WHERE m.jaar BETWEEN 2019 AND 2024
    AND m.verdacht_verklaard
  GROUP BY b.gm_code
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (SELECT count(DISTINCT persoon_id) AS nl_teller FROM transacties.melding WHERE jaar BETWEEN 2019 AND 2024 AND verdacht_verklaard) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) v
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
       teller AS personen_verdacht_verklaard, noemer AS inwoners,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
