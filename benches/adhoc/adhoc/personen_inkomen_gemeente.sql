-- Persons and mean income per gemeente.
SELECT b.gm_code, count(*) AS personen, avg(p.inkomen) AS gemiddeld_inkomen
FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code
GROUP BY b.gm_code
