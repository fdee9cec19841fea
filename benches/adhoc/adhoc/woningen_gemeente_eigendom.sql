-- Dwellings per gemeente and tenure.
SELECT b.gm_code, w.eigendom, count(*) AS woningen
FROM basis.woning w JOIN regio.buurt b ON w.bu_code = b.bu_code
GROUP BY b.gm_code, w.eigendom
