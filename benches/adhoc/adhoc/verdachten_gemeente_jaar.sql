-- Opium Act suspects (persons) per gemeente of residence and year.
SELECT b.gm_code, v.jaar, count(DISTINCT v.persoon_id) AS verdachten
FROM drugs.verdachte v JOIN basis.persoon p ON v.persoon_id = p.persoon_id
JOIN regio.buurt b ON p.bu_code = b.bu_code
GROUP BY b.gm_code, v.jaar
