-- title: Pgb-zorgaanbieders zonder geregistreerde zorgactiviteit
-- description: Aandeel pgb-zorgaanbieders zonder zorgactiviteit in hun SBI-registratie (Handelsregister), in procenten, per gemeente van vestiging, tegen Nederland, met Wilson-interval.
-- unit: zorgaanbieder (vestiging, onderneming)
-- granularity: gemeente
-- years: 2010-2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH aanbieders AS (
  SELECT b.gm_code,
         count(DISTINCT z.aanbieder_id) AS aanbieders,
         count(DISTINCT z.aanbieder_id) FILTER (WHERE NOT z.zorg_activiteit_geregistreerd) AS aantal
  FROM zorgfraude.zorgaanbieder z
  JOIN regio.buurt b ON z.bu_code = b.bu_code
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, aantal AS teller FROM aanbieders
),
noemer AS (
  SELECT gm_code, aanbieders AS noemer FROM aanbieders
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT z.aanbieder_id) FILTER (WHERE NOT z.zorg_activiteit_geregistreerd) AS nl_teller, count(DISTINCT z.aanbieder_id) AS nl_noemer
  FROM zorgfraude.zorgaanbieder z
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
       teller AS aanbieders_zonder_zorgactiviteit, noemer AS aanbieders,
       round(100.0 * teller / noemer, 2) AS aandeel_zonder_zorgactiviteit,
       round(100 * nl_p, 2) AS nl_aandeel_zonder_zorgactiviteit,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
