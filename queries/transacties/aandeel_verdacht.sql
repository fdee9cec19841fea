-- title: Aandeel verdacht verklaarde meldingen
-- description: Van de ongebruikelijke-transactiemeldingen 2019-2024 per woongemeente: het aandeel dat FIU-Nederland verdacht verklaarde, in procenten, tegen Nederland, met Wilson-interval.
-- unit: melding (persoon, vestiging)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH mld AS (
  SELECT b.gm_code, count(*) AS meldingen, count(*) FILTER (WHERE m.verdacht_verklaard) AS verdacht
  FROM transacties.melding m
  JOIN regio.buurt b ON m.bu_code = b.bu_code
  WHERE m.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, verdacht AS teller FROM mld
),
noemer AS (
  SELECT gm_code, meldingen AS noemer FROM mld
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) FILTER (WHERE verdacht_verklaard) AS nl_teller, count(*) AS nl_noemer FROM transacties.melding WHERE jaar BETWEEN 2019 AND 2024
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
         CAST(nl_teller AS DOUBLE) / nl_noemer AS nl_p,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         wilson_lower(teller, noemer, 0.95) AS w_lo,
         wilson_upper(teller, noemer, 0.95) AS w_hi
  FROM cijfers
)
SELECT gm_code, gm_naam,
       teller AS meldingen_verdacht, noemer AS meldingen,
       round(100.0 * teller / noemer, 2) AS aandeel_verdacht,
       round(100 * nl_p, 2) AS nl_aandeel_verdacht,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
