-- title: Bereik van de schuldhulpverlening
-- description: Van de personen met problematische schulden in 2024: het aandeel dat in gemeentelijke schuldhulpverlening zit, in procenten, per woongemeente, tegen Nederland, met Wilson-interval.
-- unit: persoon
-- granularity: gemeente
-- years: 2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH sch AS (
  SELECT b.gm_code,
         count(DISTINCT s.persoon_id) AS met_schuld,
         count(DISTINCT s.persoon_id) FILTER (WHERE s.schuldhulp) AS in_schuldhulp
  FROM schulden.registratie s
  JOIN basis.persoon p ON s.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE s.jaar = 2024 AND s.problematische_schuld
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, in_schuldhulp AS teller FROM sch
),
noemer AS (
  SELECT gm_code, met_schuld AS noemer FROM sch
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT persoon_id) FILTER (WHERE schuldhulp) AS nl_teller, count(DISTINCT persoon_id) AS nl_noemer
  FROM schulden.registratie
  WHERE jaar = 2024 AND problematische_schuld
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
       teller AS personen_in_schuldhulp, noemer AS personen_problematische_schulden,
       round(100.0 * teller / noemer, 2) AS aandeel_schuldhulp,
       round(100 * nl_p, 2) AS nl_aandeel_schuldhulp,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
