-- Pgb amounts declared per gemeente of the budget holder, 2023.
SELECT b.gm_code, sum(d.bedrag) AS bedrag, count(DISTINCT d.budgethouder_id) AS budgethouders
FROM zorgfraude.pgb_declaratie d JOIN basis.persoon p ON d.budgethouder_id = p.persoon_id
JOIN regio.buurt b ON p.bu_code = b.bu_code
WHERE d.jaar = 2023
GROUP BY b.gm_code
