-- title: Vestigingen in buurten met een vakantiepark
-- description: Bedrijfsvestigingen in buurten waar een vakantiepark of camping ligt, per gemeente: aantal en het aandeel in kwetsbare branches (ref.sbi.kwetsbaar), in procenten, tegen het aandeel onder alle vestigingen in Nederland.
-- unit: vestiging (vestiging, onderneming)
-- granularity: gemeente
-- years: 2024
-- deviation: index, wilson_onder, wilson_boven, z, klasse

WITH parkbuurt AS (  -- public reference data: buurten with at least one park
  SELECT DISTINCT bu_code FROM vakantieparken.park
),
vest AS (
  SELECT b.gm_code,
         count(*) AS vestigingen,
         count(*) FILTER (WHERE s.kwetsbaar) AS kwetsbaar
  FROM basis.vestiging v
  JOIN parkbuurt pb ON v.bu_code = pb.bu_code
  JOIN regio.buurt b ON v.bu_code = b.bu_code
  JOIN ref.sbi s ON v.sbi_code = s.sbi_code
  GROUP BY b.gm_code
),
teller AS (
  SELECT gm_code, kwetsbaar AS teller FROM vest
),
noemer AS (
  SELECT gm_code, vestigingen AS noemer FROM vest
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT count(*) FILTER (WHERE s.kwetsbaar) AS nl_teller, count(*) AS nl_noemer
  FROM basis.vestiging v
  JOIN ref.sbi s ON v.sbi_code = s.sbi_code
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
       teller AS vestigingen_kwetsbaar, noemer AS vestigingen_parkbuurten,
       round(100.0 * teller / noemer, 2) AS aandeel_kwetsbaar,
       round(100 * nl_p, 2) AS nl_aandeel_kwetsbaar,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse
FROM scores
ORDER BY gm_code
