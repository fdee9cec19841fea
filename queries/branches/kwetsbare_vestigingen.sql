-- title: Vestigingen in kwetsbare branches per 1.000 inwoners
-- description: Bedrijfsvestigingen in branches die kwetsbaar zijn voor ondermijning (ref.sbi.kwetsbaar: o.a. kapsalons, nagelstudios, shishalounges, autohandel, belwinkels), per 1.000 inwoners, per gemeente tegen Nederland.
-- unit: vestiging (vestiging, onderneming)
-- granularity: gemeente
-- years: 2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, count(*) AS teller
  FROM basis.vestiging v
  JOIN ref.sbi s ON v.sbi_code = s.sbi_code
  JOIN regio.buurt b ON v.bu_code = b.bu_code
  WHERE s.kwetsbaar
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
  FROM (SELECT count(*) AS nl_teller FROM basis.vestiging v JOIN ref.sbi s ON v.sbi_code = s.sbi_code WHERE s.kwetsbaar) k
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
       teller AS vestigingen_kwetsbaar, noemer AS inwoners,
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
