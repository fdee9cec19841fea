-- Median WOZ value per wijk.
SELECT b.wk_code, median(w.woz_waarde) AS mediaan_woz, count(*) AS woningen
FROM basis.woning w JOIN regio.buurt b ON w.bu_code = b.bu_code
GROUP BY b.wk_code
