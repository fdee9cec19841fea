-- title: Profiel van parkbewoners
-- description: Leeftijd en inkomen van de op 1 januari 2024 op vakantieparken ingeschreven personen, naar gemeente van het park: aandeel 65-plussers (Wilson-interval) en mediaan persoonlijk inkomen, tegen alle inwoners van 16 jaar en ouder in Nederland.
-- unit: persoon (ingeschrevene)
-- granularity: gemeente
-- years: 2024
-- deviation: index_65plus, wilson_onder, wilson_boven, klasse_65plus, index_inkomen

WITH bewoners AS (
  SELECT k.gm_code,
         count(DISTINCT i.persoon_id) AS ingeschrevenen,
         count(DISTINCT i.persoon_id) FILTER (WHERE p.geboortejaar <= 1959) AS ingeschrevenen_65plus,
         avg(2024 - p.geboortejaar) AS gem_leeftijd,
         median(p.inkomen) AS mediaan_inkomen
  FROM vakantieparken.inschrijving i
  JOIN vakantieparken.park k ON i.park_id = k.park_id
  JOIN basis.persoon p ON i.persoon_id = p.persoon_id
  WHERE i.peildatum = DATE '2024-01-01'
  GROUP BY k.gm_code
),
nl AS (  -- national reference: all residents of NL (not only park residents)
  SELECT count(*) AS inwoners,
         count(*) FILTER (WHERE geboortejaar <= 1959) AS inwoners_65plus,
         avg(2024 - geboortejaar) AS gem_leeftijd,
         median(inkomen) AS mediaan_inkomen
  FROM basis.persoon
  WHERE geboortejaar <= 2008
),
nl_park AS (  -- all park residents in NL
  SELECT count(DISTINCT i.persoon_id) AS ingeschrevenen,
         count(DISTINCT i.persoon_id) FILTER (WHERE p.geboortejaar <= 1959) AS ingeschrevenen_65plus
  FROM vakantieparken.inschrijving i
  JOIN basis.persoon p ON i.persoon_id = p.persoon_id
  WHERE i.peildatum = DATE '2024-01-01'
),
scores AS (
  SELECT g.gm_code, g.gm_naam, b.ingeschrevenen, b.ingeschrevenen_65plus,
         CAST(b.ingeschrevenen_65plus AS DOUBLE) / b.ingeschrevenen AS p,
         CAST(nl.inwoners_65plus AS DOUBLE) / nl.inwoners AS nl_p,
         CAST(nl_park.ingeschrevenen_65plus AS DOUBLE) / nl_park.ingeschrevenen AS nl_park_p,
         b.gem_leeftijd, nl.gem_leeftijd AS nl_gem_leeftijd,
         b.mediaan_inkomen, nl.mediaan_inkomen AS nl_mediaan_inkomen,
         deviation_index(b.ingeschrevenen_65plus, b.ingeschrevenen, nl.inwoners_65plus, nl.inwoners) AS idx,
         wilson_lower(b.ingeschrevenen_65plus, b.ingeschrevenen, 0.95) AS w_lo,
         wilson_upper(b.ingeschrevenen_65plus, b.ingeschrevenen, 0.95) AS w_hi
  FROM bewoners b
  JOIN regio.gemeente g ON b.gm_code = g.gm_code
  CROSS JOIN nl
  CROSS JOIN nl_park
)
SELECT gm_code, gm_naam, ingeschrevenen, ingeschrevenen_65plus,
       round(100 * p, 1) AS aandeel_65plus,
       round(100 * nl_p, 1) AS nl_aandeel_65plus_16plus,
       round(100 * nl_park_p, 1) AS nl_park_aandeel_65plus,
       round(idx, 1) AS index_65plus,
       round(100 * w_lo, 1) AS wilson_onder,
       round(100 * w_hi, 1) AS wilson_boven,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse_65plus,
       round(gem_leeftijd, 1) AS gem_leeftijd,
       round(nl_gem_leeftijd, 1) AS nl_gem_leeftijd_16plus,
       round(mediaan_inkomen, -2) AS mediaan_inkomen,
       round(nl_mediaan_inkomen, -2) AS nl_mediaan_inkomen_16plus,
       round(100 * mediaan_inkomen / nl_mediaan_inkomen, 1) AS index_inkomen
FROM scores
ORDER BY gm_code
