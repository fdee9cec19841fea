-- title: Vestigingen per kwetsbare branche en gemeente
-- description: Bedrijfsvestigingen per kwetsbare branche (SBI-code) en gemeente per 1.000 inwoners, tegen Nederland voor dezelfde branche. Alleen vrijgegeven cellen (minstens 10 vestigingen en ondernemingen).
-- unit: vestiging (vestiging, onderneming)
-- granularity: branche-gemeente
-- years: 2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, v.sbi_code, s.omschrijving AS branche, count(*) AS teller
  FROM basis.vestiging v
  JOIN ref.sbi s ON v.sbi_code = s.sbi_code
  JOIN regio.buurt b ON v.bu_code = b.bu_code
  WHERE s.kwetsbaar
  GROUP BY b.gm_code, v.sbi_code, s.omschrijving
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.sbi_code, k.nl_teller, p.nl_noemer
  FROM (SELECT v.sbi_code, count(*) AS nl_teller
        FROM basis.vestiging v
        JOIN ref.sbi s ON v.sbi_code = s.sbi_code
        WHERE s.kwetsbaar
        GROUP BY v.sbi_code) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) p
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, t.sbi_code,
         t.teller, n.noemer, t.branche, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM teller t
  JOIN noemer n ON t.gm_code = n.gm_code
  JOIN nl ON nl.sbi_code = t.sbi_code
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
SELECT gm_code, gm_naam, sbi_code,
       teller AS vestigingen, noemer AS inwoners, branche,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code, sbi_code
