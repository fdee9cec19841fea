-- title: Omzet in kwetsbare branches
-- description: Jaaromzet van vestigingen in kwetsbare branches per inwoner en per vestiging, per gemeente, als index tegen Nederland; robuuste z-score en percentiel onder de gemeenten. Omzetten zijn verstoord; gedomineerde cellen (p%-regel, dominantie) zijn onderdrukt.
-- unit: vestiging (vestiging, onderneming)
-- granularity: gemeente
-- years: 2024
-- deviation: index, index_per_vestiging, robuuste_z, percentiel, klasse

WITH per_gemeente AS (
  SELECT b.gm_code,
         count(*) AS vestigingen_kwetsbaar,
         sum(v.omzet) AS omzet_kwetsbaar,
         sum(v.werkzame_personen) AS werkzame_personen
  FROM basis.vestiging v
JOIN ref.sbi s ON v.sbi_code = s.sbi_code
JOIN regio.buurt b ON v.bu_code = b.bu_code
  WHERE s.kwetsbaar
  GROUP BY b.gm_code
),
inwoners AS (
  SELECT b.gm_code, count(*) AS inwoners
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: a separate aggregate over all of NL
  SELECT k.vestigingen, k.omzet, p.inwoners
  FROM (SELECT count(*) AS vestigingen, sum(v.omzet) AS omzet
        FROM basis.vestiging v JOIN ref.sbi s ON v.sbi_code = s.sbi_code
        WHERE s.kwetsbaar) k
  CROSS JOIN (SELECT count(*) AS inwoners FROM basis.persoon) p
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam, c.vestigingen_kwetsbaar, c.omzet_kwetsbaar, c.werkzame_personen, i.inwoners,
         c.omzet_kwetsbaar / i.inwoners AS omzet_per_inwoner,
         nl.omzet / nl.inwoners AS nl_omzet_per_inwoner,
         c.omzet_kwetsbaar / c.vestigingen_kwetsbaar AS omzet_per_vestiging,
         nl.omzet / nl.vestigingen AS nl_omzet_per_vestiging,
         deviation_index(c.omzet_kwetsbaar, i.inwoners, nl.omzet, nl.inwoners) AS idx,
         deviation_index(c.omzet_kwetsbaar, c.vestigingen_kwetsbaar, nl.omzet, nl.vestigingen) AS idx_vest
  FROM per_gemeente c
  JOIN inwoners i ON c.gm_code = i.gm_code
  JOIN regio.gemeente g ON c.gm_code = g.gm_code
  CROSS JOIN nl
)
SELECT gm_code, gm_naam, vestigingen_kwetsbaar, inwoners,
       round(omzet_kwetsbaar, -3) AS omzet_kwetsbaar,
       round(omzet_per_inwoner, 0) AS omzet_per_inwoner,
       round(nl_omzet_per_inwoner, 0) AS nl_omzet_per_inwoner,
       round(idx, 1) AS index,
       round(omzet_per_vestiging, -2) AS omzet_per_vestiging,
       round(nl_omzet_per_vestiging, -2) AS nl_omzet_per_vestiging,
       round(idx_vest, 1) AS index_per_vestiging,
       round(robust_z(omzet_per_inwoner) OVER (), 2) AS robuuste_z,
       round(percentile_rank(omzet_per_inwoner) OVER (), 3) AS percentiel,
       CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(omzet_per_inwoner) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(omzet_per_inwoner) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END AS klasse
FROM cijfers
ORDER BY gm_code
