//! Family 4: quantiles by rows. The promise: a released quantile is never one unit's value, nor
//! close to it, whatever the values, the row multiplicities or the fraction asked.

use std::collections::HashMap;

use zicht_engine::AccessLevel;

use crate::redteam::insider::Insider;
use crate::{Attack, Family, Verdict, World, ask, attack, relative_error};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Quantiles;
    vec![
        attack!(f, maximum_through_the_top_percentile),
        attack!(f, actual_values_released),
        attack!(f, crafted_values_fill_the_window),
        attack!(f, owner_of_many_dwellings),
        attack!(f, repeated_rows_fill_the_window),
    ]
}

fn close(estimate: f64, truth: f64, tolerance: f64, what: &str) -> Verdict {
    let detail = format!("{what}: released {estimate:.0}, truth {truth:.0}");
    if relative_error(estimate, truth) <= tolerance { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn maximum_through_the_top_percentile(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT percentile_cont(1.0) WITHIN GROUP (ORDER BY p.inkomen) FROM basis.persoon p \
               JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE b.gm_code = 'GM0363'";
    let truth = w
        .insider
        .persons
        .iter()
        .filter(|p| w.insider.gemeente_of.get(&p.buurt).is_some_and(|g| g == "GM0363"))
        .map(|p| p.income)
        .fold(0.0, f64::max);
    match ask!(w.value(level, "d1", sql)) {
        Some(released) => close(released, truth, 0.01, "maximum income of Amsterdam"),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn actual_values_released(w: &World, level: AccessLevel) -> Verdict {
    let sql =
        "SELECT bu_code, percentile_cont(0.9) WITHIN GROUP (ORDER BY inkomen) FROM basis.persoon GROUP BY bu_code";
    let rows = ask!(w.rows(level, "d2", sql));
    let mut incomes: HashMap<&str, Vec<f64>> = HashMap::new();
    for p in &w.insider.persons {
        incomes.entry(p.buurt.as_str()).or_default().push(p.income);
    }
    let mut hits = 0;
    let mut released = 0;
    for row in &rows {
        let (Some(buurt), Some(value)) = (&row[0], crate::number(&row[1])) else { continue };
        released += 1;
        if incomes.get(buurt.as_str()).is_some_and(|v| v.iter().any(|i| (i - value).abs() < 0.5)) {
            hits += 1;
        }
    }
    // A released value that is some person's exact income, more often than chance allows.
    let detail = format!("{hits} of {released} released quantiles are a person's exact income");
    if hits * 10 > released.max(1) { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn crafted_values_fill_the_window(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = format!(
        "SELECT percentile_cont(1.0) WITHIN GROUP (ORDER BY CASE WHEN {} THEN inkomen ELSE 0 END) \
         FROM basis.persoon WHERE bu_code = '{}'",
        Insider::singled_out(victim),
        victim.buurt
    );
    match ask!(w.value(level, "d3", &sql)) {
        Some(released) => Verdict::Disclosed(format!("released {released}: the victim's income over the window")),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn owner_of_many_dwellings(w: &World, level: AccessLevel) -> Verdict {
    let mut owned: HashMap<i64, Vec<&str>> = HashMap::new();
    for d in &w.insider.dwellings {
        if let Some(owner) = d.owner.filter(|o| *o < 1_000_000_000) {
            owned.entry(owner).or_default().push(&d.buurt);
        }
    }
    let (owner, buurten) = owned.into_iter().max_by_key(|(_, b)| b.len()).expect("owners");
    let income = w.insider.persons.iter().find(|p| p.id == owner).map_or(0.0, |p| p.income);
    let gemeente = w.insider.gemeente_of[buurten[0]].clone();
    let sql = format!(
        "SELECT median(p.inkomen) FROM basis.woning w JOIN basis.persoon p ON w.eigenaar_id = p.persoon_id \
         JOIN regio.buurt b ON w.bu_code = b.bu_code WHERE b.gm_code = '{gemeente}'"
    );
    match ask!(w.value(level, "d4", &sql)) {
        Some(released) => close(released, income, 0.01, &format!("owner of {} dwellings", buurten.len())),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn repeated_rows_fill_the_window(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let singled =
        Insider::singled_out(victim).replace("bu_code", "p.bu_code").replace("geboortejaar", "p.geboortejaar");
    // The victim's row is repeated once per gemeente (342 times), everyone else's once.
    let sql = format!(
        "SELECT median(p.inkomen) FROM basis.persoon p JOIN regio.gemeente g ON ({singled}) OR g.gm_code = 'GM0363' \
         WHERE p.bu_code = '{}'",
        victim.buurt
    );
    match ask!(w.value(level, "d5", &sql)) {
        Some(released) => close(released, victim.income, 0.01, "victim's income"),
        None => Verdict::Defended("suppressed".into()),
    }
}
