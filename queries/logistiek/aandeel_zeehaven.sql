-- title: Aandeel knooppuntwerknemers in zeehavens
-- description: Van de knooppuntwerknemers in 2024 per woongemeente: het aandeel dat in een zeehaven werkt (Rotterdam, Amsterdam, Vlissingen, Eemshaven, Moerdijk) in plaats van op Schiphol of in Venlo, in procenten, tegen Nederland.
-- unit: persoon (werknemer, vestiging)
-- granularity: gemeente
-- years: 2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH lw AS (
  SELECT b.gm_code,
         count(DISTINCT l.persoon_id) AS werknemers,
         count(DISTINCT l.persoon_id) FILTER (WHERE l.jaar = 2024 AND l.knooppunt IN ('haven Rotterdam', 'haven Amsterdam', 'Vlissingen', 'Eemshaven', 'Moerdijk')) AS haven
  FROM logistiek.knooppunt_werknemer l
  JOIN basis.persoon p ON l.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE l.jaar = 2024
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, haven AS teller FROM lw
),
noemer AS (
  SELECT gm_code, werknemers AS noemer FROM lw
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT persoon_id) FILTER (WHERE knooppunt IN ('haven Rotterdam', 'haven Amsterdam', 'Vlissingen', 'Eemshaven', 'Moerdijk')) AS nl_teller,
         count(DISTINCT persoon_id) AS nl_noemer
  FROM logistiek.knooppunt_werknemer
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
       teller AS werknemers_zeehaven, noemer AS werknemers_knooppunt,
       round(100.0 * teller / noemer, 2) AS aandeel_zeehaven,
       round(100 * nl_p, 2) AS nl_aandeel_zeehaven,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
