-- title: Jongeren met een risicofactor per buurt
-- description: Jongeren (12-23 jaar) met een of meer risicofactoren (jeugdreclassering, detentie, schulden, geen inkomen, wanbetaler zvw) in 2024 per 1.000 jongeren, per buurt, tegen Nederland; met empirical-Bayes gladgestreken cijfer zodat kleine buurten niet bovenaan komen. Buurten met minder dan 10 jongeren vallen weg.
-- unit: persoon (jongere)
-- granularity: buurt
-- years: 2024
-- deviation: index, index_gladgestreken, sir_onder, sir_boven, z, klasse

WITH r AS (
  SELECT b.bu_code,
         count(*) AS jongeren,
         count(*) FILTER (WHERE CASE WHEN j.jeugdreclassering THEN 1 ELSE 0 END + CASE WHEN j.eerdere_detentie THEN 1 ELSE 0 END + CASE WHEN j.problematische_schulden THEN 1 ELSE 0 END + CASE WHEN j.geen_inkomen THEN 1 ELSE 0 END + CASE WHEN j.zvw_wanbetaler THEN 1 ELSE 0 END >= 1) AS een_of_meer
  FROM jongeren.kenmerk j
  JOIN basis.persoon p ON j.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE j.jaar = 2024
  GROUP BY b.bu_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) AS jongeren, count(*) FILTER (WHERE CASE WHEN jeugdreclassering THEN 1 ELSE 0 END + CASE WHEN eerdere_detentie THEN 1 ELSE 0 END + CASE WHEN problematische_schulden THEN 1 ELSE 0 END + CASE WHEN geen_inkomen THEN 1 ELSE 0 END + CASE WHEN zvw_wanbetaler THEN 1 ELSE 0 END >= 1) AS een_of_meer
  FROM jongeren.kenmerk j
  WHERE j.jaar = 2024
),
s AS (
  SELECT u.gm_code, g.gm_naam, u.wk_code, u.bu_code, u.bu_naam, r.jongeren, r.een_of_meer,
         nl.jongeren AS nl_jongeren, nl.een_of_meer AS nl_een_of_meer,
         CAST(r.jongeren AS DOUBLE) * nl.een_of_meer / nl.jongeren AS verwacht,
         deviation_index(r.een_of_meer, r.jongeren, nl.een_of_meer, nl.jongeren) AS idx,
         eb_rate(r.een_of_meer, r.jongeren) OVER () AS eb
  FROM r
  JOIN regio.buurt u ON r.bu_code = u.bu_code
  JOIN regio.gemeente g ON u.gm_code = g.gm_code
  CROSS JOIN nl
)
SELECT gm_code, gm_naam, wk_code, bu_code, bu_naam, jongeren,
       een_of_meer AS jongeren_met_risicofactor,
       round(1000.0 * een_of_meer / jongeren, 1) AS per_1000_jongeren,
       round(1000.0 * nl_een_of_meer / nl_jongeren, 1) AS nl_per_1000_jongeren,
       round(1000 * eb, 1) AS per_1000_jongeren_gladgestreken,
       round(idx, 1) AS index,
       round(100 * eb * nl_jongeren / nl_een_of_meer, 1) AS index_gladgestreken,
       round(100 * sir_lower(een_of_meer, verwacht, 0.95), 1) AS sir_onder,
       round(100 * sir_upper(een_of_meer, verwacht, 0.95), 1) AS sir_boven,
       round(poisson_z(een_of_meer, verwacht), 2) AS z,
       deviation_class(idx, 100 * sir_lower(een_of_meer, verwacht, 0.95), 100 * sir_upper(een_of_meer, verwacht, 0.95)) AS klasse
FROM s
ORDER BY gm_code, wk_code, bu_code
