//! The indicator definitions and the SQL generated from them.

use super::*;

fn assert_has(sql: &str, parts: &[&str]) {
    for part in parts {
        assert!(sql.contains(part), "{part:?} not in:\n{sql}");
    }
}

const RATE: &str = r#"
title = "Verdachten per 1.000 inwoners"
description = "D"
unit = "persoon (verdachte)"
granularity = "gemeente"
years = "2024"
level = "gemeente"
score = "rate"
per = 1000
ratio = "per_1000_inwoners"

[teller]
name = "verdachten"
measure = "count(DISTINCT v.persoon_id)"
from = "drugs.verdachte v"
where = "v.jaar = 2024"
locate = "JOIN basis.persoon p ON v.persoon_id = p.persoon_id"
buurt = "p.bu_code"

[noemer]
name = "inwoners"
measure = "count(*)"
from = "basis.persoon p"
buurt = "p.bu_code"
"#;

const SHARE: &str = r#"
title = "Aandeel particuliere huur"
description = "D"
unit = "woning"
granularity = "gemeente-jaar"
years = "2024"
level = "gemeente"
by = ["w.bouwjaar AS jaar"]
score = "share"
ratio = "aandeel_particuliere_huur"

[teller]
name = "woningen_particuliere_huur"
filter = "w.eigendom = 'particuliere_huur'"

[noemer]
name = "woningen"
measure = "count(*)"
from = "basis.woning w"
buurt = "w.bu_code"
"#;

/// The whole SELECT of a rate: what each part of it is for is read off here.
#[test]
fn a_rate_compares_each_region_with_its_own_national_aggregate() {
    let sql = Indicator::parse(RATE).unwrap().sql().unwrap();
    let expected = "WITH teller AS (
  SELECT b.gm_code AS gm_code,
         count(DISTINCT v.persoon_id) AS teller
  FROM drugs.verdachte v
  JOIN basis.persoon p ON v.persoon_id = p.persoon_id
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  WHERE v.jaar = 2024
  GROUP BY b.gm_code
),
noemer AS (
  SELECT b.gm_code AS gm_code,
         count(*) AS noemer
  FROM basis.persoon p
  JOIN regio.buurt b ON p.bu_code = b.bu_code
  GROUP BY b.gm_code
),
nl AS (  -- national reference: its own aggregate over all of NL
  SELECT k.nl_teller, v.nl_noemer
  FROM (
          SELECT count(DISTINCT v.persoon_id) AS nl_teller
          FROM drugs.verdachte v
          WHERE v.jaar = 2024
  ) k
  CROSS JOIN (
          SELECT count(*) AS nl_noemer
          FROM basis.persoon p
  ) v
),
cijfers AS (
  SELECT g.gm_code, g.gm_naam,
         t.teller, n.noemer, nl.nl_teller, nl.nl_noemer,
         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht
  FROM noemer n
  LEFT JOIN teller t ON t.gm_code = n.gm_code
  CROSS JOIN nl
  JOIN regio.gemeente g ON n.gm_code = g.gm_code
),
scores AS (
  SELECT *,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz
  FROM cijfers
)
SELECT gm_code, gm_naam,
       teller AS verdachten,
       noemer AS inwoners,
       round(1000.0 * teller / noemer, 2) AS per_1000_inwoners,
       round(1000.0 * nl_teller / nl_noemer, 2) AS nl_per_1000_inwoners,
       round(verwacht, 1) AS verwacht,
       round(idx, 1) AS index,
       round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code";
    assert_eq!(sql, expected);
}

#[test]
fn a_share_counts_teller_and_noemer_in_one_aggregate_per_key() {
    let indicator = Indicator::parse(SHARE).unwrap();
    assert_eq!(indicator.deviation(), ["index", "wilson_onder", "wilson_boven", "z", "klasse"]);
    let sql = indicator.sql().unwrap();
    assert_has(
        &sql,
        &[
            "count(*) FILTER (WHERE w.eigendom = 'particuliere_huur') AS teller,\n         count(*) AS noemer",
            "  SELECT w.bouwjaar AS jaar,\n         count(*) FILTER (WHERE w.eigendom = 'particuliere_huur') AS nl_teller",
            "GROUP BY w.bouwjaar",
            // Teller and noemer read from their one aggregate, once (not joined to itself).
            "n.teller, n.noemer, nl.nl_teller",
            "FROM bron n\n  JOIN nl ON nl.jaar = n.jaar",
            "round(100 * nl_p, 2) AS nl_aandeel_particuliere_huur",
        ],
    );
    assert!(sql.ends_with("ORDER BY gm_code, jaar"), "{sql}");
}

#[test]
fn a_wijk_rate_names_its_wijk_and_gemeente() {
    let sql = Indicator::parse(&RATE.replace("level = \"gemeente\"", "level = \"wijk\"")).unwrap().sql().unwrap();
    assert_has(
        &sql,
        &[
            "SELECT b.wk_code AS wk_code",
            "JOIN regio.wijk k ON n.wk_code = k.wk_code\n  JOIN regio.gemeente g ON k.gm_code = g.gm_code",
        ],
    );
    assert!(sql.ends_with("ORDER BY gm_code, wk_code"), "{sql}");
}

#[test]
fn a_key_and_a_description_cut_a_separate_teller() {
    let keyed = RATE.replace("level = \"gemeente\"", "level = \"gemeente\"\nby = [\"v.feit_code\"]").replace(
        "buurt = \"p.bu_code\"\n\n[noemer]",
        "buurt = \"p.bu_code\"\ndescribe = [\"f.omschrijving\"]\n\n[noemer]",
    );
    let sql = Indicator::parse(&keyed).unwrap().sql().unwrap();
    assert_has(
        &sql,
        &[
            "GROUP BY b.gm_code, v.feit_code, f.omschrijving",
            "FROM teller t\n  JOIN noemer n ON t.gm_code = n.gm_code\n  JOIN nl ON nl.feit_code = t.feit_code",
            "teller AS verdachten,\n       noemer AS inwoners,\n       omschrijving,",
        ],
    );
}

const AMOUNT: &str = r#"
title = "Omzet"
description = "D"
unit = "vestiging"
granularity = "gemeente"
years = "2024"
level = "gemeente"
score = "amount"
ratio = "omzet_per_inwoner"
decimals = 0

[per_count]
ratio = "omzet_per_vestiging"
decimals = -2
index = "index_per_vestiging"

[teller]
name = "omzet"
measure = "sum(v.omzet)"
from = "basis.vestiging v"
buurt = "v.bu_code"
count = "count(*) AS vestigingen"
median = "median(v.omzet) AS mediaan_omzet"

[noemer]
name = "inwoners"
measure = "count(*)"
from = "basis.persoon p"
buurt = "p.bu_code"
"#;

#[test]
fn an_amount_is_scored_per_noemer_per_count_and_among_the_regions() {
    let indicator = Indicator::parse(AMOUNT).unwrap();
    let expected = ["index", "index_per_vestiging", "index_mediaan", "robuuste_z", "percentiel", "klasse"];
    assert_eq!(indicator.deviation(), expected);
    let sql = indicator.sql().unwrap();
    // The teller's own rows drive: a region is a row where its amount is released.
    assert_has(
        &sql,
        &[
            "FROM teller t\n  JOIN noemer n ON t.gm_code = n.gm_code\n  CROSS JOIN nl",
            "sum(v.omzet) AS teller,\n         count(*) AS vestigingen,\n         median(v.omzet) AS mediaan_omzet",
            "SELECT k.nl_teller, v.nl_noemer, k.nl_vestigingen, k.nl_mediaan_omzet",
            "deviation_index(t.teller, t.vestigingen, nl.nl_teller, nl.nl_vestigingen) AS idx_count",
            "SELECT gm_code, gm_naam,\n       vestigingen,\n       noemer AS inwoners,\n       round(teller, -3) AS omzet",
            "round(per_count, -2) AS omzet_per_vestiging",
            "round(100 * mediaan_omzet / nl_mediaan_omzet, 1) AS index_mediaan",
            "WHEN robust_z(per_noemer) OVER () >= 2 THEN 'hoog'",
        ],
    );
    // Without per_count, NL needs no count.
    let plain = AMOUNT
        .replace("[per_count]\nratio = \"omzet_per_vestiging\"\ndecimals = -2\nindex = \"index_per_vestiging\"\n", "");
    let sql = Indicator::parse(&plain).unwrap().sql().unwrap();
    assert_has(&sql, &["SELECT k.nl_teller, v.nl_noemer, k.nl_mediaan_omzet"]);
    assert!(!sql.contains("per_count"), "{sql}");
}

#[test]
fn the_worked_example_of_the_queries_readme_is_an_indicator() {
    let readme = include_str!("../../../../queries/README.md");
    let block = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let indicator = Indicator::parse(block).unwrap();
    assert_eq!(indicator.score, Score::Share);
    assert!(
        indicator.sql().unwrap().contains("count(DISTINCT j.persoon_id) FILTER (WHERE j.geen_inkomen) AS nl_teller")
    );
}

#[test]
fn incomplete_or_contradictory_definitions_are_refused() {
    let refused = |text: String, expected: &str| {
        let error = Indicator::parse(&text).unwrap_err();
        assert!(error.contains(expected), "{error}");
    };
    refused(RATE.replace("per = 1000\n", ""), "a rate needs per");
    refused(SHARE.replace("score = \"share\"", "score = \"share\"\nper = 100"), "a share is in percent");
    refused(RATE.replace("buurt = \"p.bu_code\"\n\n[noemer]", "\n[noemer]"), "teller: say where a row lies");
    refused(
        RATE.replace("level = \"gemeente\"", "level = \"buurt\"")
            .replace("buurt = \"p.bu_code\"\n\n[noemer]", "gemeente = \"v.pleeg_gm_code\"\n\n[noemer]"),
        "cannot be scored per wijk or buurt",
    );
    refused(
        SHARE.replace("filter = ", "from = \"basis.woning w\"\nfilter = "),
        "a filter of the noemer's rows has no from of its own",
    );
    refused(SHARE.replace("filter = ", "measure = \"count(*)\"\nfilter = "), "has no measure of its own");
    refused(SHARE.replace("filter = \"w.eigendom = 'particuliere_huur'\"", "where = \"w.huur\""), "no where, locate");
    refused(AMOUNT.replace("decimals = 0\n", ""), "an amount needs decimals");
    refused(AMOUNT.replace("count = ", "filter = \"v.x\"\ncount = "), "not a filter");
    refused(AMOUNT.replace("count = \"count(*) AS vestigingen\"\n", ""), "per_count needs the teller's count");
    refused(
        RATE.replace(
            "buurt = \"p.bu_code\"\n\n[noemer]",
            "buurt = \"p.bu_code\"\nmedian = \"median(v.x)\"\n\n[noemer]",
        ),
        "count and median belong to an amount",
    );
    refused(RATE.replace("ratio =", "unknown = 1\nratio ="), "unknown field");
    refused(RATE.replace("title = \"Verdachten per 1.000 inwoners\"", "title = \" \""), "title is empty");
}

fn assert_refused(text: &str, expected: &str) {
    let error = Indicator::parse(text).unwrap_err();
    assert!(error.contains(expected), "{expected:?} not in {error:?}");
}

#[test]
fn factors_profiles_references_and_columns_are_checked() {
    let profile = include_str!("../../../../queries/vakantieparken/profiel_bewoners.toml");
    let cases = [
        (
            RATE.replace("[teller]", "[per_count]\nratio = \"r\"\ndecimals = 0\nindex = \"i\"\n\n[teller]"),
            "per_count belongs to an amount",
        ),
        (SHARE.replace("score = \"share\"", "score = \"share\"\nsmooth = true"), "smooth and factor belong to a rate"),
        (
            RATE.replace("[noemer]", "[[factor]]\nname = \"x\"\nfilter = \"v.x\"\n\n[noemer]"),
            "the teller must be a filter",
        ),
        (RISK.replace("name = \"detentie\"", "name = \"schulden\""), "factor schulden: named twice"),
        (RISK.replace("name = \"detentie\"", "name = \"nl_detentie\""), "a name of lowercase letters"),
        (
            RISK.replace("\"klasse\"]", "\"klasse\", \"wilson_onder\"]"),
            "no column wilson_onder (it has risico, jongeren,",
        ),
        (RISK.replace("\"klasse\"]", "\"klasse\", \"detentie_per_1000\"]"), "detentie_per_1000 chosen twice"),
        (RISK.replace("\"schulden\", \"detentie\"", "\"schulden AS s\""), "a factor's columns keep their names"),
        (profile.replace("\"index AS index_65plus\"", "\"index AS wilson_onder\""), "wilson_onder chosen twice"),
        (profile.replace("score = \"share\"", "score = \"share\"\nby = [\"p.geboortejaar\"]"), "has no keys (by)"),
        (profile.replace("filter = \"p.geboortejaar <= 1959\"", "measure = \"count(*)\""), "must be a filter"),
        (profile.replace("name = \"16plus\"", "name = \"16 plus\""), "reference \"16 plus\": a name of"),
    ];
    for (text, expected) in cases {
        assert_refused(&text, expected);
    }
}

/// A rate with factors, a smoothed rate and its own choice of columns.
const RISK: &str = r#"
title = "Risicofactoren"
description = "D"
unit = "persoon (jongere)"
granularity = "gemeente"
years = "2024"
level = "gemeente"
score = "rate"
per = 1000
decimals = 1
ratio = "per_1000"
smooth = true
columns = ["jongeren", "schulden", "detentie", "risico", "per_1000", "per_1000_gladgestreken", "index_gladgestreken", "klasse"]

[teller]
name = "risico"
filter = "j.problematische_schulden OR j.eerdere_detentie"

[noemer]
name = "jongeren"
measure = "count(*)"
from = "jongeren.kenmerk j"
locate = "JOIN basis.persoon p ON j.persoon_id = p.persoon_id"
buurt = "p.bu_code"

[[factor]]
name = "detentie"
filter = "j.eerdere_detentie"

[[factor]]
name = "schulden"
filter = "j.problematische_schulden"
"#;

#[test]
fn factors_are_counted_with_the_teller_and_scored_each_against_nl() {
    let indicator = Indicator::parse(RISK).unwrap();
    let sql = indicator.sql().unwrap();
    assert_has(
        &sql,
        &[
            "count(*) AS noemer,\n         count(*) FILTER (WHERE j.eerdere_detentie) AS detentie,\n         count(*) FILTER (WHERE j.problematische_schulden) AS schulden",
            "count(*) FILTER (WHERE j.eerdere_detentie) AS nl_detentie",
            "n.teller, n.noemer, n.detentie, n.schulden, nl.nl_teller, nl.nl_noemer, nl.nl_detentie, nl.nl_schulden,",
            "FROM bron n\n  CROSS JOIN nl",
        ],
    );
    // One reference to the aggregate: each one would compute it again.
    assert_eq!(sql.matches("FROM bron").count(), 1, "{sql}");
    // The chosen columns in their order, a factor's name standing for its four.
    let select = sql.split("\nSELECT gm_code, gm_naam,\n").nth(1).unwrap();
    let expected = "       noemer AS jongeren,
       schulden,
       round(1000.0 * schulden / noemer, 1) AS schulden_per_1000,
       round(1000.0 * nl_schulden / nl_noemer, 1) AS nl_schulden_per_1000,
       round(deviation_index(schulden, noemer, nl_schulden, nl_noemer), 1) AS index_schulden,
       detentie,
       round(1000.0 * detentie / noemer, 1) AS detentie_per_1000,
       round(1000.0 * nl_detentie / nl_noemer, 1) AS nl_detentie_per_1000,
       round(deviation_index(detentie, noemer, nl_detentie, nl_noemer), 1) AS index_detentie,
       teller AS risico,
       round(1000.0 * teller / noemer, 1) AS per_1000,
       round(1000 * eb, 1) AS per_1000_gladgestreken,
       round(100 * eb * nl_noemer / nl_teller, 1) AS index_gladgestreken,
       deviation_class(idx, lo, hi) AS klasse
FROM scores
ORDER BY gm_code";
    assert_eq!(select, expected);
    assert_has(
        &sql,
        &["poisson_z(teller, verwacht) AS zz,\n         eb_rate(teller, noemer) OVER () AS eb\n  FROM cijfers"],
    );
    assert_eq!(indicator.deviation(), ["index_schulden", "index_detentie", "index_gladgestreken", "klasse"]);
}

#[test]
fn a_reference_population_scores_against_other_people_than_the_noemer() {
    let indicator = Indicator::parse(include_str!("../../../../queries/vakantieparken/profiel_bewoners.toml")).unwrap();
    assert_eq!(
        indicator.deviation(),
        ["index_65plus", "wilson_onder", "wilson_boven", "klasse_65plus", "index_inkomen"]
    );
    let sql = indicator.sql().unwrap();
    assert_has(
        &sql,
        &[
            // Regionally the profiles are aggregates of the noemer's rows, with teller and noemer.
            "count(DISTINCT i.persoon_id) AS noemer,\n         avg(2024 - p.geboortejaar) AS gem_leeftijd,\n         median(p.inkomen) AS mediaan_inkomen",
            // NL: the park residents, and beside them the reference with the profiles.
            "SELECT k.nl_eigen_teller, k.nl_eigen_noemer, r.nl_teller, r.nl_noemer, r.nl_gem_leeftijd, r.nl_mediaan_inkomen",
            "SELECT count(*) FILTER (WHERE p.geboortejaar <= 1959) AS nl_teller,
                 count(*) AS nl_noemer,
                 avg(2024 - p.geboortejaar) AS nl_gem_leeftijd,
                 median(p.inkomen) AS nl_mediaan_inkomen
          FROM basis.persoon p
          WHERE p.geboortejaar <= 2008",
            "CAST(nl_eigen_teller AS DOUBLE) / nl_eigen_noemer AS nl_eigen_p,",
            "round(100 * nl_p, 1) AS nl_aandeel_65plus_16plus,\n       round(100 * nl_eigen_p, 1) AS nl_park_aandeel_65plus,\n       round(idx, 1) AS index_65plus,",
            "round(nl_mediaan_inkomen, -2) AS nl_mediaan_inkomen_16plus,\n       round(100 * mediaan_inkomen / nl_mediaan_inkomen, 1) AS index_inkomen\nFROM scores",
        ],
    );
    assert!(!sql.contains("AS verwacht,\n       round(idx"), "verwacht is not chosen: {sql}");
}
