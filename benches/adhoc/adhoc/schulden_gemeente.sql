-- Persons with problematic debts per gemeente, 2024.
SELECT b.gm_code, count(DISTINCT s.persoon_id) FILTER (WHERE s.problematische_schuld) AS met_schulden,
       count(DISTINCT s.persoon_id) AS personen
FROM schulden.registratie s JOIN basis.persoon p ON s.persoon_id = p.persoon_id
JOIN regio.buurt b ON p.bu_code = b.bu_code
WHERE s.jaar = 2024
GROUP BY b.gm_code
