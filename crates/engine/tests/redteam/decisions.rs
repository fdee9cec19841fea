//! Family 2: suppression decisions on analyst-written values. The promise: whether a cell is
//! released does not answer a yes/no question about one unit, and group disclosure (shares of 0%
//! or 100%, means of identical values) is caught however the values are written.

use zicht_engine::AccessLevel;

use crate::redteam::insider::{Insider, Person};
use crate::{Attack, Family, Verdict, World, ask, attack, relative_error};

pub fn attacks() -> Vec<Attack> {
    let f = Family::WrittenValues;
    vec![
        attack!(f, dominance_as_an_oracle),
        attack!(f, complement_as_an_oracle),
        attack!(f, shares_of_zero_or_two),
        attack!(f, jittered_identical_values),
        attack!(f, identical_values),
        attack!(f, everyone_else_negligible),
        attack!(f, full_share_through_the_complement),
    ]
}

fn victim(w: &World) -> &Person {
    w.insider.unique_by_buurt_and_year(25, 1)[0]
}

/// Binary search of the `bit(t)` boundary between `low` and `high`.
async fn search<F, Fut>(mut low: f64, mut high: f64, steps: usize, mut above: F) -> Result<f64, Verdict>
where
    F: FnMut(f64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, Verdict>>,
{
    for _ in 0..steps {
        let middle = (low + high) / 2.0;
        if above(middle).await? {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok((low + high) / 2.0)
}

fn judged(estimate: f64, truth: f64, tolerance: f64) -> Verdict {
    let error = relative_error(estimate, truth);
    let detail = format!("estimate {estimate:.0} for {truth:.0} ({:.1}% off)", 100.0 * error);
    if error <= tolerance { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn dominance_as_an_oracle(w: &World, level: AccessLevel) -> Verdict {
    let victim = victim(w);
    let others = (w.insider.in_buurt(&victim.buurt).len() - 1) as f64;
    let singled = Insider::singled_out(victim);
    // Everyone else contributes c: the sum is suppressed (dominated) when the victim's income is
    // more than half the total, i.e. income > c * others.
    let found = search(1.0, 200_000.0, 18, |c| {
        let sql = format!(
            "SELECT sum(CASE WHEN {singled} THEN inkomen ELSE {c} END) FROM basis.persoon WHERE bu_code = '{}'",
            victim.buurt
        );
        async move { w.value(level, "b1", &sql).await.map(|v| v.is_none()) }
    })
    .await;
    match found {
        Ok(c) => judged(c * others, victim.income, 0.05),
        Err(verdict) => verdict,
    }
}

async fn complement_as_an_oracle(w: &World, level: AccessLevel) -> Verdict {
    let victim = victim(w);
    let singled = Insider::singled_out(victim);
    // The victim alone is left out (and the count suppressed) exactly when the income exceeds t.
    let found = search(0.0, 1_000_000.0, 22, |t| {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE NOT ({singled} AND inkomen > {t})) FROM basis.persoon WHERE bu_code = '{}'",
            victim.buurt
        );
        async move { w.value(level, "b2", &sql).await.map(|v| v.is_none()) }
    })
    .await;
    match found {
        Ok(t) => judged(t, victim.income, 0.01),
        Err(verdict) => verdict,
    }
}

async fn shares_of_zero_or_two(w: &World, level: AccessLevel) -> Verdict {
    let victim = victim(w);
    let sql = format!(
        "SELECT avg(CASE WHEN {} THEN 2.0 ELSE 0.0 END) FROM basis.persoon WHERE bu_code = '{}'",
        Insider::singled_out(victim),
        victim.buurt
    );
    match ask!(w.value(level, "b3", &sql)) {
        Some(share) => Verdict::Disclosed(format!("a one-person share released: {share}")),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn jittered_identical_values(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT avg(geboortejaar + inkomen / 1e12) FROM basis.persoon WHERE geboortejaar = 1960";
    match ask!(w.value(level, "b4", sql)) {
        Some(mean) => Verdict::Disclosed(format!("mean of values alike released: {mean}")),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn identical_values(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT avg(geboortejaar) FROM basis.persoon WHERE geboortejaar = 1960";
    match ask!(w.value(level, "b5", sql)) {
        Some(mean) => Verdict::Disclosed(format!("mean of identical values released: {mean}")),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn everyone_else_negligible(w: &World, level: AccessLevel) -> Verdict {
    let victim = victim(w);
    let sql = format!(
        "SELECT sum(CASE WHEN {} THEN inkomen ELSE 0.01 END) FROM basis.persoon WHERE bu_code = '{}'",
        Insider::singled_out(victim),
        victim.buurt
    );
    match ask!(w.value(level, "b6", &sql)) {
        Some(sum) => judged(sum, victim.income, 0.05),
        None => Verdict::Defended("suppressed".into()),
    }
}

/// A count with a FILTER is released when the units it leaves out are none or a group: if "none"
/// is released too, a released count next to the cell's size says that everyone in the cell has
/// the property (a 100% share), and an income bucket that holds the whole buurt bounds its
/// maximum. Written in the untrusted subset: a bucket filter per buurt.
async fn full_share_through_the_complement(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT bu_code, count(*) FILTER (WHERE floor(inkomen / 100000) * 100000 = 0) AS onder, \
               count(*) AS n FROM basis.persoon GROUP BY bu_code";
    let rows = ask!(w.rows(level, "b7", sql));
    let mut everyone = 0;
    for row in &rows {
        let (Some(buurt), Some(_)) = (&row[0], crate::number(&row[1])) else { continue };
        let people = w.insider.in_buurt(buurt);
        if people.iter().all(|p| p.income < 100_000.0) {
            everyone += 1;
        }
    }
    let detail = format!("{everyone} buurten released with everyone below 100,000 (a 100% share)");
    if everyone > 0 { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}
