//! Family 6: unit identity and the catalog. The promise: a column that identifies a person,
//! address or company (a unit id or a row id, however it is renamed) is never a group, a filter or
//! a value; complements of counted units are never small; and the untrusted level's rules cannot
//! be written around. A rule that can be escaped counts as a disclosure.

use zicht_engine::AccessLevel;

use crate::redteam::insider::Insider;
use crate::{Attack, Family, Verdict, World, attack};

pub fn attacks() -> Vec<Attack> {
    let f = Family::UnitIdentity;
    vec![
        attack!(f, grouping_by_the_seller),
        attack!(f, filtering_on_the_seller),
        attack!(f, a_renamed_unit_id_as_filter),
        attack!(f, counting_distinct_units_past_the_complement),
        attack!(f, or_written_as_not_and),
        attack!(f, or_written_as_a_comparison),
        attack!(f, or_written_as_case),
        attack!(f, grouping_by_a_row_id),
        attack!(f, a_unit_id_joined_to_a_public_key),
        attack!(f, grouping_by_a_unit_expression),
        attack!(f, a_unit_id_inside_case),
        attack!(f, unit_ids_compared_in_where),
        attack!(f, a_fractional_range_with_its_end),
    ]
}

/// An attack that must be refused: running at all is an escaped rule; released rows make it worse.
async fn must_be_refused(w: &World, level: AccessLevel, user: &str, sql: &str) -> Verdict {
    match w.run(level, user, sql).await {
        Err(zicht_engine::EngineError::Suppression(refusal)) => Verdict::Refused(refusal.rule.to_string()),
        Err(other) => Verdict::Defended(format!("failed: {other}")),
        Ok(rows) => Verdict::Disclosed(format!("accepted, {} rows", rows.len())),
    }
}

async fn grouping_by_the_seller(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT verkoper_id, sum(koopsom) FROM vastgoed.transactie GROUP BY verkoper_id";
    must_be_refused(w, level, "f1", sql).await
}

async fn filtering_on_the_seller(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT sum(koopsom) FROM vastgoed.transactie WHERE verkoper_id = 1000000001";
    must_be_refused(w, level, "f2", sql).await
}

async fn a_renamed_unit_id_as_filter(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = format!(
        "SELECT count(*), sum(inkomen) FROM (SELECT persoon_id AS x, inkomen FROM basis.persoon) t WHERE x <> {}",
        victim.id
    );
    must_be_refused(w, level, "f3", &sql).await
}

/// count(DISTINCT unit) with a FILTER that leaves out one unit only: released, it would tell
/// that this unit lacks the property (and differencing its count would count it).
async fn counting_distinct_units_past_the_complement(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let filter = match level {
        AccessLevel::Trusted => format!("NOT ({})", Insider::singled_out(victim)),
        AccessLevel::Untrusted => {
            // The only person of their origin in a buurt: everyone else shares the other origin.
            return match lone_origin(w) {
                Some((buurt, common)) => {
                    let sql = format!(
                        "SELECT count(DISTINCT persoon_id) FILTER (WHERE herkomst = '{common}') FROM basis.persoon \
                         WHERE bu_code = '{buurt}'"
                    );
                    released_means_disclosed(w, level, &sql).await
                }
                None => Verdict::Defended("no buurt with one person of another origin".into()),
            };
        }
    };
    let sql = format!(
        "SELECT count(DISTINCT persoon_id) FILTER (WHERE {filter}) FROM basis.persoon WHERE bu_code = '{}'",
        victim.buurt
    );
    released_means_disclosed(w, level, &sql).await
}

async fn released_means_disclosed(w: &World, level: AccessLevel, sql: &str) -> Verdict {
    match w.value(level, "f4", sql).await {
        Ok(Some(count)) => Verdict::Disclosed(format!("released {count} with a complement of one unit")),
        Ok(None) => Verdict::Defended("suppressed (complement of one unit)".into()),
        Err(verdict) => verdict,
    }
}

/// A buurt of at least 20 persons in which all but one share their origin.
fn lone_origin(w: &World) -> Option<(String, String)> {
    w.insider.buurten().into_iter().find_map(|buurt| {
        let people = w.insider.in_buurt(buurt);
        if people.len() < 20 {
            return None;
        }
        let common = &people[0].origin;
        let others = people.iter().filter(|p| &p.origin != common).count();
        let common = if others == 1 {
            common.clone()
        } else if others == people.len() - 1 {
            people[1].origin.clone()
        } else {
            return None;
        };
        let lone = people.iter().filter(|p| p.origin != common).count();
        (lone == 1).then(|| (buurt.to_string(), common))
    })
}

/// An OR written around the filter-or rule: refused at the untrusted level; at the trusted level OR
/// is allowed outright (no rule to escape).
async fn or_escape(w: &World, level: AccessLevel, user: &str, filter: &str) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let filter = filter.replace("{buurt}", &victim.buurt).replace("{year}", &victim.birth_year.to_string());
    let sql = format!("SELECT count(*) FROM basis.persoon WHERE {filter}");
    match (level, w.run(level, user, &sql).await) {
        (_, Err(zicht_engine::EngineError::Suppression(refusal))) => Verdict::Refused(refusal.rule.to_string()),
        (_, Err(other)) => Verdict::Defended(format!("failed: {other}")),
        (AccessLevel::Untrusted, Ok(_)) => Verdict::Disclosed("an OR accepted at the untrusted level".into()),
        (AccessLevel::Trusted, Ok(_)) => Verdict::Defended("the trusted level allows OR: no rule escaped".into()),
    }
}

async fn or_written_as_not_and(w: &World, level: AccessLevel) -> Verdict {
    or_escape(w, level, "f5", "NOT (bu_code <> '{buurt}' AND geboortejaar <> {year})").await
}

async fn or_written_as_a_comparison(w: &World, level: AccessLevel) -> Verdict {
    or_escape(w, level, "f6", "(bu_code = '{buurt}' OR geboortejaar = {year}) = true").await
}

async fn or_written_as_case(w: &World, level: AccessLevel) -> Verdict {
    or_escape(w, level, "f7", "CASE WHEN bu_code = '{buurt}' THEN true ELSE geboortejaar = {year} END").await
}

async fn grouping_by_a_row_id(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT transactie_id, sum(koopsom) FROM vastgoed.transactie GROUP BY transactie_id";
    must_be_refused(w, level, "f8", sql).await
}

async fn a_unit_id_joined_to_a_public_key(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT k.soort, count(*) FROM basis.persoon p JOIN vakantieparken.park k ON p.persoon_id = k.park_id \
               GROUP BY k.soort";
    must_be_refused(w, level, "f9", sql).await
}

async fn grouping_by_a_unit_expression(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT persoon_id % 1000 AS p, avg(inkomen) FROM basis.persoon GROUP BY persoon_id % 1000";
    must_be_refused(w, level, "f10", sql).await
}

async fn a_unit_id_inside_case(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = format!(
        "SELECT sum(CASE WHEN persoon_id = {} THEN inkomen ELSE 0 END) FROM basis.persoon WHERE bu_code = '{}'",
        victim.id, victim.buurt
    );
    must_be_refused(w, level, "f11", &sql).await
}

/// `koper_id = verkoper_id`: a condition on unit ids, outside the untrusted subset.
async fn unit_ids_compared_in_where(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT count(*) FROM vastgoed.transactie WHERE koper_id = verkoper_id";
    match level {
        AccessLevel::Untrusted => must_be_refused(w, level, "f12", sql).await,
        // At the trusted level an equality of two unit ids of one type is a join condition.
        AccessLevel::Trusted => Verdict::Defended("allowed at the trusted level".into()),
    }
}

/// `inkomen BETWEEN 51000 AND 52000` includes 52000: not the bucket it looks like.
async fn a_fractional_range_with_its_end(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT count(*) FROM basis.persoon WHERE inkomen BETWEEN 51000 AND 52000";
    match level {
        AccessLevel::Untrusted => must_be_refused(w, level, "f13", sql).await,
        AccessLevel::Trusted => Verdict::Defended("ranges are free at the trusted level".into()),
    }
}
