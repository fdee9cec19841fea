-- title: Schade door online criminaliteit
-- description: Gemelde financiele schade bij aangiften van online criminaliteit 2019-2024 per aangifte (gemiddelde en mediaan), naar woongemeente van het slachtoffer, als index tegen Nederland; robuuste z-score en percentiel onder de gemeenten. Bedragen zijn verstoord; gedomineerde cellen onderdrukt.
-- unit: aangifte (slachtoffer)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, index_mediaan, robuuste_z, percentiel, klasse

WITH per_gemeente AS (
  SELECT b.gm_code,
         count(*) AS aangiften,
         sum(a.schade) AS schade,
         median(a.schade) AS mediaan_schade
  FROM digitaal.aangifte a
  JOIN regio.buurt b ON a.bu_code = b.bu_code
  WHERE a.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) AS aangiften, sum(schade) AS schade, median(schade) AS mediaan_schade
  FROM digitaal.aangifte
  WHERE jaar BETWEEN 2019 AND 2024
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, c.aangiften, c.schade, c.mediaan_schade, nl.mediaan_schade AS nl_mediaan_schade,
         c.schade / c.aangiften AS per_aangifte,
         nl.schade / nl.aangiften AS nl_per_aangifte,
         deviation_index(c.schade, c.aangiften, nl.schade, nl.aangiften) AS idx
  FROM per_gemeente c
  JOIN regio.gemeente g ON c.gm_code = g.gm_code
  CROSS JOIN nl
)
SELECT gm_code, gm_naam, aangiften,
       round(schade, -3) AS schade,
       round(per_aangifte, 0) AS schade_per_aangifte,
       round(nl_per_aangifte, 0) AS nl_schade_per_aangifte,
       round(idx, 1) AS index,
       round(mediaan_schade, 0) AS mediaan_schade,
       round(nl_mediaan_schade, 0) AS nl_mediaan_schade,
       round(100 * mediaan_schade / nl_mediaan_schade, 1) AS index_mediaan,
       round(robust_z(per_aangifte) OVER (), 2) AS robuuste_z,
       round(percentile_rank(per_aangifte) OVER (), 3) AS percentiel,
       CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(per_aangifte) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(per_aangifte) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END AS klasse
FROM cijfers
ORDER BY gm_code
