-- Income bands of 10,000 euro per provincie.
SELECT g.provincie, floor(p.inkomen / 10000) * 10000 AS inkomensklasse, count(*) AS personen
FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code
JOIN regio.gemeente g ON b.gm_code = g.gm_code
GROUP BY g.provincie, floor(p.inkomen / 10000) * 10000
