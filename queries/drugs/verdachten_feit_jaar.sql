-- title: Verdachten per feit, gemeente en jaar
-- description: Frequentietabel van Opiumwet-verdachten per feit (F40-F45, zie ref.drugsfeit), pleeggemeente en jaar, per 1.000 inwoners van de pleeggemeente, tegen Nederland voor hetzelfde feit en jaar. Alleen vrijgegeven cellen (minstens 10 verdachten).
-- unit: persoon (verdachte)
-- granularity: feit-gemeente-jaar
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT v.pleeg_gm_code AS gm_code, v.feit_code, v.jaar, f.omschrijving, f.lijst,
         count(DISTINCT v.persoon_id) AS teller
  FROM drugs.verdachte v
  JOIN ref.drugsfeit f ON v.feit_code = f.feit_code
  WHERE v.jaar BETWEEN 2019 AND 2024
  GROUP BY v.pleeg_gm_code, v.feit_code, v.jaar, f.omschrijving, f.lijst
),
noemer AS (
  SELECT b.gm_code, count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.feit_code, k.jaar, k.nl_teller, v.nl_noemer
  FROM (SELECT feit_code, jaar, count(DISTINCT persoon_id) AS nl_teller
        FROM drugs.verdachte
        WHERE jaar BETWEEN 2019 AND 2024
        GROUP BY feit_code, jaar) k
  CROSS JOIN (SELECT count(*) AS nl_noemer FROM basis.persoon) v
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, t.feit_code, t.jaar,
         t.teller, n.noemer, t.omschrijving, t.lijst, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM teller t
  JOIN noemer n ON t.gm_code = n.gm_code
  JOIN nl ON nl.feit_code = t.feit_code AND nl.jaar = t.jaar
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
SELECT gm_code, gm_naam, feit_code, jaar,
       teller AS verdachten, noemer AS inwoners, omschrijving, lijst,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code, feit_code, jaar
