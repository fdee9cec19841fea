-- title: Bedrag van verdacht verklaarde transacties
-- description: Som van de bedragen van door FIU-Nederland verdacht verklaarde transacties 2019-2024 per inwoner, naar woongemeente, als index tegen Nederland, plus het mediane bedrag per melding; robuuste z-score en percentiel onder de gemeenten. Bedragen zijn verstoord; gedomineerde cellen onderdrukt.
-- unit: melding (persoon, vestiging)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, index_mediaan, robuuste_z, percentiel, klasse

WITH per_gemeente AS (
  SELECT b.gm_code,
         count(*) FILTER (WHERE m.verdacht_verklaard) AS meldingen_verdacht,
         sum(m.bedrag) FILTER (WHERE m.verdacht_verklaard) AS bedrag_verdacht,
         median(m.bedrag) AS mediaan_bedrag
  FROM transacties.melding m
  JOIN regio.buurt b ON m.bu_code = b.bu_code
  WHERE m.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
inwoners AS (
  SELECT b.gm_code, count(*) AS inwoners
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.bedrag_verdacht, k.mediaan_bedrag, p.inwoners
  FROM (SELECT sum(bedrag) FILTER (WHERE verdacht_verklaard) AS bedrag_verdacht, median(bedrag) AS mediaan_bedrag
        FROM transacties.melding WHERE jaar BETWEEN 2019 AND 2024) k
  CROSS JOIN (SELECT count(*) AS inwoners FROM basis.persoon) p
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, c.meldingen_verdacht, c.bedrag_verdacht, i.inwoners, c.mediaan_bedrag,
         nl.mediaan_bedrag AS nl_mediaan_bedrag,
         c.bedrag_verdacht / i.inwoners AS per_inwoner,
         nl.bedrag_verdacht / nl.inwoners AS nl_per_inwoner,
         deviation_index(c.bedrag_verdacht, i.inwoners, nl.bedrag_verdacht, nl.inwoners) AS idx
  FROM per_gemeente c
  JOIN inwoners i ON c.gm_code = i.gm_code
  JOIN regio.gemeente g ON c.gm_code = g.gm_code
  CROSS JOIN nl
)
SELECT gm_code, gm_naam, meldingen_verdacht, inwoners,
       round(bedrag_verdacht, -3) AS bedrag_verdacht,
       round(per_inwoner, 2) AS bedrag_verdacht_per_inwoner,
       round(nl_per_inwoner, 2) AS nl_bedrag_verdacht_per_inwoner,
       round(idx, 1) AS index,
       round(mediaan_bedrag, 0) AS mediaan_bedrag_melding,
       round(nl_mediaan_bedrag, 0) AS nl_mediaan_bedrag_melding,
       round(100 * mediaan_bedrag / nl_mediaan_bedrag, 1) AS index_mediaan,
       round(robust_z(per_inwoner) OVER (), 2) AS robuuste_z,
       round(percentile_rank(per_inwoner) OVER (), 3) AS percentiel,
       CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(per_inwoner) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(per_inwoner) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END AS klasse
FROM cijfers
ORDER BY gm_code
