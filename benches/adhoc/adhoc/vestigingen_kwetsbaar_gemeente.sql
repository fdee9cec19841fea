-- Establishments in vulnerable branches per gemeente, with their turnover.
SELECT b.gm_code, count(*) AS vestigingen, sum(v.omzet) AS omzet
FROM basis.vestiging v JOIN ref.sbi s ON v.sbi_code = s.sbi_code
JOIN regio.buurt b ON v.bu_code = b.bu_code
WHERE s.kwetsbaar
GROUP BY b.gm_code
