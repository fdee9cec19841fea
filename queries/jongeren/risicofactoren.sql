-- title: Risicofactoren van jongeren
-- description: Jongeren (12-23 jaar) in 2024 per risicofactor (jeugdreclassering, eerdere detentie, problematische schulden, geen inkomen en geen opleiding, wanbetaler zorgverzekering, huisgenoot is drugsverdachte), per 1.000 jongeren met index tegen Nederland; de klasse en intervallen gaan over jongeren met een of meer van de eerste vijf factoren.
-- unit: persoon (jongere)
-- granularity: gemeente
-- years: 2024
-- deviation: index_jeugdreclassering, index_detentie, index_schulden, index_geen_inkomen, index_zvw_wanbetaler, index_netwerk_verdachte, index, sir_onder, sir_boven, z, klasse

WITH r AS (
  SELECT b.gm_code,
         count(*) AS jongeren,
         count(*) FILTER (WHERE j.jeugdreclassering) AS jeugdreclassering,
         count(*) FILTER (WHERE j.eerdere_detentie) AS detentie,
         count(*) FILTER (WHERE j.problematische_schulden) AS schulden,
         count(*) FILTER (WHERE j.geen_inkomen) AS geen_inkomen,
         count(*) FILTER (WHERE j.zvw_wanbetaler) AS zvw_wanbetaler,
         count(*) FILTER (WHERE j.netwerk_verdachte) AS netwerk_verdachte,
         count(*) FILTER (WHERE CASE WHEN j.jeugdreclassering THEN 1 ELSE 0 END + CASE WHEN j.eerdere_detentie THEN 1 ELSE 0 END + CASE WHEN j.problematische_schulden THEN 1 ELSE 0 END + CASE WHEN j.geen_inkomen THEN 1 ELSE 0 END + CASE WHEN j.zvw_wanbetaler THEN 1 ELSE 0 END >= 1) AS een_of_meer
  FROM jongeren.kenmerk j
  JOIN basis.persoon p ON j.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE j.jaar = 2024
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) AS jongeren,
         count(*) FILTER (WHERE jeugdreclassering) AS jeugdreclassering,
         count(*) FILTER (WHERE eerdere_detentie) AS detentie,
         count(*) FILTER (WHERE problematische_schulden) AS schulden,
         count(*) FILTER (WHERE geen_inkomen) AS geen_inkomen,
         count(*) FILTER (WHERE zvw_wanbetaler) AS zvw_wanbetaler,
         count(*) FILTER (WHERE netwerk_verdachte) AS netwerk_verdachte,
         count(*) FILTER (WHERE CASE WHEN jeugdreclassering THEN 1 ELSE 0 END + CASE WHEN eerdere_detentie THEN 1 ELSE 0 END + CASE WHEN problematische_schulden THEN 1 ELSE 0 END + CASE WHEN geen_inkomen THEN 1 ELSE 0 END + CASE WHEN zvw_wanbetaler THEN 1 ELSE 0 END >= 1) AS een_of_meer
  FROM jongeren.kenmerk j
  WHERE j.jaar = 2024
),
s AS (
  SELECT r.gm_code, r.jongeren, r.een_of_meer,
         CAST(r.jongeren AS DOUBLE) * nl.een_of_meer / nl.jongeren AS verwacht,
         deviation_index(r.een_of_meer, r.jongeren, nl.een_of_meer, nl.jongeren) AS idx
  FROM r CROSS JOIN nl
)
SELECT g.gm_code, g.gm_naam, r.jongeren,
       r.jeugdreclassering, round(1000.0 * r.jeugdreclassering / r.jongeren, 1) AS jeugdreclassering_per_1000, round(1000.0 * nl.jeugdreclassering / nl.jongeren, 1) AS nl_jeugdreclassering_per_1000, round(deviation_index(r.jeugdreclassering, r.jongeren, nl.jeugdreclassering, nl.jongeren), 1) AS index_jeugdreclassering,
       r.detentie, round(1000.0 * r.detentie / r.jongeren, 1) AS detentie_per_1000, round(1000.0 * nl.detentie / nl.jongeren, 1) AS nl_detentie_per_1000, round(deviation_index(r.detentie, r.jongeren, nl.detentie, nl.jongeren), 1) AS index_detentie,
       r.schulden, round(1000.0 * r.schulden / r.jongeren, 1) AS schulden_per_1000, round(1000.0 * nl.schulden / nl.jongeren, 1) AS nl_schulden_per_1000, round(deviation_index(r.schulden, r.jongeren, nl.schulden, nl.jongeren), 1) AS index_schulden,
       r.geen_inkomen, round(1000.0 * r.geen_inkomen / r.jongeren, 1) AS geen_inkomen_per_1000, round(1000.0 * nl.geen_inkomen / nl.jongeren, 1) AS nl_geen_inkomen_per_1000, round(deviation_index(r.geen_inkomen, r.jongeren, nl.geen_inkomen, nl.jongeren), 1) AS index_geen_inkomen,
       r.zvw_wanbetaler, round(1000.0 * r.zvw_wanbetaler / r.jongeren, 1) AS zvw_wanbetaler_per_1000, round(1000.0 * nl.zvw_wanbetaler / nl.jongeren, 1) AS nl_zvw_wanbetaler_per_1000, round(deviation_index(r.zvw_wanbetaler, r.jongeren, nl.zvw_wanbetaler, nl.jongeren), 1) AS index_zvw_wanbetaler,
       r.netwerk_verdachte, round(1000.0 * r.netwerk_verdachte / r.jongeren, 1) AS netwerk_verdachte_per_1000, round(1000.0 * nl.netwerk_verdachte / nl.jongeren, 1) AS nl_netwerk_verdachte_per_1000, round(deviation_index(r.netwerk_verdachte, r.jongeren, nl.netwerk_verdachte, nl.jongeren), 1) AS index_netwerk_verdachte,
       r.een_of_meer AS een_of_meer_risicofactoren,
       round(1000.0 * r.een_of_meer / r.jongeren, 1) AS een_of_meer_per_1000,
       round(1000.0 * nl.een_of_meer / nl.jongeren, 1) AS nl_een_of_meer_per_1000,
       round(s.idx, 1) AS index,
       round(100 * sir_lower(s.een_of_meer, s.verwacht, 0.95), 1) AS sir_onder,
       round(100 * sir_upper(s.een_of_meer, s.verwacht, 0.95), 1) AS sir_boven,
       round(poisson_z(s.een_of_meer, s.verwacht), 2) AS z,
       deviation_class(s.idx, 100 * sir_lower(s.een_of_meer, s.verwacht, 0.95), 100 * sir_upper(s.een_of_meer, s.verwacht, 0.95)) AS klasse
FROM r
JOIN s ON r.gm_code = s.gm_code
JOIN regio.gemeente g ON r.gm_code = g.gm_code
CROSS JOIN nl
ORDER BY g.gm_code
