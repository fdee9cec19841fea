-- title: Jongeren met een drugsverdachte in het huishouden
-- description: Aandeel jongeren (12-23 jaar) in 2024 van wie een huisgenoot ooit (vanaf 2019) als Opiumwet-verdachte is geregistreerd, in procenten, naar gemeente, tegen Nederland, met Wilson-interval.
-- unit: persoon (jongere)
-- granularity: gemeente
-- years: 2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH jong AS (
  SELECT b.gm_code,
         count(DISTINCT j.persoon_id) AS jongeren,
         count(DISTINCT j.persoon_id) FILTER (WHERE j.netwerk_verdachte) AS netwerk
  FROM jongeren.kenmerk j
  JOIN basis.persoon p ON j.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE j.jaar = 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, netwerk AS teller FROM jong
),
noemer AS (
  SELECT gm_code, jongeren AS noemer FROM jong
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT persoon_id) FILTER (WHERE netwerk_verdachte) AS nl_teller, count(DISTINCT persoon_id) AS nl_noemer
  FROM jongeren.kenmerk
  WHERE jaar = 2024
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
       teller AS jongeren_netwerk_verdachte, noemer AS jongeren,
       round(100.0 * teller / noemer, 2) AS aandeel_netwerk_verdachte,
       round(100 * nl_p, 2) AS nl_aandeel_netwerk_verdachte,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
