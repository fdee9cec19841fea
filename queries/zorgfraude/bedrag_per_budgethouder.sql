-- title: Gedeclareerd pgb-bedrag per budgethouder
-- description: Pgb-declaraties in 2024 per budgethouder, naar gemeente van inschrijving van de budgethouder, als index tegen Nederland; robuuste z-score en percentiel onder de gemeenten (bedragen zijn verstoord en gedomineerde cellen onderdrukt).
-- unit: declaratie (budgethouder, zorgaanbieder)
-- granularity: gemeente
-- years: 2024
-- deviation: index, robuuste_z, percentiel, klasse

WITH per_gemeente AS (
  SELECT b.gm_code,
         count(DISTINCT d.budgethouder_id) AS budgethouders,
         sum(d.bedrag) AS bedrag
  FROM zorgfraude.pgb_declaratie d
  JOIN basis.persoon p ON d.budgethouder_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE d.jaar = 2024
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(DISTINCT budgethouder_id) AS budgethouders, sum(bedrag) AS bedrag
  FROM zorgfraude.pgb_declaratie
  WHERE jaar = 2024
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, p.budgethouders, p.bedrag,
         p.bedrag / p.budgethouders AS per_budgethouder,
         nl.bedrag / nl.budgethouders AS nl_per_budgethouder,
         deviation_index(p.bedrag, p.budgethouders, nl.bedrag, nl.budgethouders) AS idx
  FROM per_gemeente p
  JOIN regio.gemeente g ON p.gm_code = g.gm_code
  CROSS JOIN nl
)
SELECT gm_code, gm_naam, budgethouders,
       round(bedrag, -3) AS gedeclareerd_bedrag,
       round(per_budgethouder, 0) AS bedrag_per_budgethouder,
       round(nl_per_budgethouder, 0) AS nl_bedrag_per_budgethouder,
       round(idx, 1) AS index,
       round(robust_z(per_budgethouder) OVER (), 2) AS robuuste_z,
       round(percentile_rank(per_budgethouder) OVER (), 3) AS percentiel,
       CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(per_budgethouder) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(per_budgethouder) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END AS klasse
FROM cijfers
ORDER BY gm_code
