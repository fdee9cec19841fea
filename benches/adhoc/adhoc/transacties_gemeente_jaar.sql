-- Sales of dwellings per gemeente and year, with the mean price.
SELECT b.gm_code, t.jaar, count(*) AS transacties, avg(t.koopsom) AS gemiddelde_koopsom
FROM vastgoed.transactie t JOIN basis.woning w ON t.woning_id = w.woning_id
JOIN regio.buurt b ON w.bu_code = b.bu_code
GROUP BY b.gm_code, t.jaar
