-- title: Doorsluiswoningen
-- description: Woningen die in 2019-2024 vijf keer of vaker zijn verkocht, per 1.000 verkochte woningen, per gemeente tegen Nederland. Geteld als woningen met een keten van vijf verkopen (zelf-join op woning_id), omdat tellen per woning (GROUP BY woning_id) niet wordt vrijgegeven. Bij kleine schaal grotendeels onderdrukt.
-- unit: woning (transactie: koper, woning)
-- granularity: gemeente
-- years: 2019-2024
-- deviation: index, sir_onder, sir_boven, z, klasse

WITH teller AS (
  SELECT b.gm_code, count(DISTINCT t1.woning_id) AS teller
  FROM vastgoed.transactie t1
    JOIN vastgoed.transactie t2 ON t2.woning_id = t1.woning_id AND t2.transactie_id > t1.transactie_id AND t2.jaar BETWEEN 2019 AND 2024
    JOIN vastgoed.transactie t3 ON t3.woning_id = t2.woning_id AND t3.transactie_id > t2.transactie_id AND t3.jaar BETWEEN 2019 AND 2024
    JOIN vastgoed.transactie t4 ON t4.woning_id = t3.woning_id AND t4.transactie_id > t3.transactie_id AND t4.jaar BETWEEN 2019 AND 2024
    JOIN vastgoed.transactie t5 ON t5.woning_id = t4.woning_id AND t5.transactie_id > t4.transactie_id AND t5.jaar BETWEEN 2019 AND 2024
    JOIN basis.woning w ON t1.woning_id = w.woning_id
    JOIN regio.buurt b ON w.bu_code = b.bu_code
  WHERE t1.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
noemer AS (
  SELECT b.gm_code, count(DISTINCT t.woning_id) AS noemer
  FROM vastgoed.transactie t
    JOIN basis.woning w ON t.woning_id = w.woning_id
    JOIN regio.buurt b ON w.bu_code = b.bu_code
  WHERE t.jaar BETWEEN 2019 AND 2024
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (SELECT count(DISTINCT t1.woning_id) AS nl_teller
        FROM vastgoed.transactie t1
        JOIN vastgoed.transactie t2 ON t2.woning_id = t1.woning_id AND t2.transactie_id > t1.transactie_id AND t2.jaar BETWEEN 2019 AND 2024
        JOIN vastgoed.transactie t3 ON t3.woning_id = t2.woning_id AND t3.transactie_id > t2.transactie_id AND t3.jaar BETWEEN 2019 AND 2024
        JOIN vastgoed.transactie t4 ON t4.woning_id = t3.woning_id AND t4.transactie_id > t3.transactie_id AND t4.jaar BETWEEN 2019 AND 2024
        JOIN vastgoed.transactie t5 ON t5.woning_id = t4.woning_id AND t5.transactie_id > t4.transactie_id AND t5.jaar BETWEEN 2019 AND 2024
        WHERE t1.jaar BETWEEN 2019 AND 2024) k
  CROSS JOIN (SELECT count(DISTINCT woning_id) AS nl_noemer FROM vastgoed.transactie WHERE jaar BETWEEN 2019 AND 2024) v
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
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz
  FROM cijfers
)
SELECT gm_code, gm_naam,
       teller AS woningen_5x_verkocht, noemer AS verkochte_woningen,
       round(1000.0 * teller / noemer, 2) AS per_1000_verkochte_woningen,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_verkochte_woningen,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code
