-- Persons per buurt and sex.
SELECT p.bu_code, p.geslacht, count(*) AS personen
FROM basis.persoon p
GROUP BY p.bu_code, p.geslacht
