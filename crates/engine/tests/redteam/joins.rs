//! Family 5: joins that weight units. The promise: a join cannot repeat the other units' rows so
//! that a dominant unit stops looking dominant, after which a difference reveals it.

use std::collections::HashMap;

use zicht_engine::AccessLevel;

use crate::{Attack, Family, Verdict, World, ask, attack, relative_error};

pub fn attacks() -> Vec<Attack> {
    let f = Family::WeightingJoins;
    vec![
        attack!(f, others_repeated_by_an_or_join),
        attack!(f, others_repeated_by_a_left_join),
        attack!(f, rows_repeated_by_a_public_subquery),
    ]
}

/// A gemeente where one establishment holds most of the turnover: (gemeente, its turnover,
/// the turnover of the rest, the establishment's turnover).
fn dominated_gemeente(w: &World) -> (String, f64, f64) {
    let mut by_gemeente: HashMap<&str, Vec<f64>> = HashMap::new();
    for e in &w.insider.establishments {
        by_gemeente.entry(w.insider.gemeente_of[&e.buurt].as_str()).or_default().push(e.turnover);
    }
    let mut candidates: Vec<(&str, f64, f64)> = by_gemeente
        .into_iter()
        .filter(|(_, t)| t.len() >= 30)
        .map(|(g, t)| {
            let top = t.iter().cloned().fold(0.0, f64::max);
            (g, top, t.iter().sum::<f64>() - top)
        })
        .filter(|(_, top, rest)| *top > *rest)
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(b.0));
    let (g, top, rest) = candidates.first().copied().unwrap_or(("GM0363", 0.0, 0.0));
    (g.to_string(), top, rest)
}

fn judged(estimate: Option<f64>, truth: f64) -> Verdict {
    match estimate {
        Some(estimate) if relative_error(estimate, truth) <= 0.05 => {
            Verdict::Disclosed(format!("dominant turnover {estimate:.0} of {truth:.0}"))
        }
        Some(estimate) => Verdict::Defended(format!("estimate {estimate:.0} of {truth:.0}")),
        None => Verdict::Defended("suppressed".into()),
    }
}

async fn others_repeated_by_an_or_join(w: &World, level: AccessLevel) -> Verdict {
    let (gemeente, top, _) = dominated_gemeente(w);
    let buurten = w.insider.gemeente_of.values().filter(|g| **g == gemeente).count() as f64;
    let bar = top - 1.0;
    let repeated = format!(
        "SELECT sum(v.omzet) FROM basis.vestiging v JOIN regio.buurt vb ON v.bu_code = vb.bu_code \
         JOIN regio.buurt b ON b.gm_code = '{gemeente}' AND (v.bu_code = b.bu_code OR v.omzet < {bar}) \
         WHERE vb.gm_code = '{gemeente}'"
    );
    let rest = format!(
        "SELECT sum(v.omzet) FROM basis.vestiging v JOIN regio.buurt vb ON v.bu_code = vb.bu_code \
         WHERE vb.gm_code = '{gemeente}' AND v.omzet < {bar}"
    );
    let (repeated, rest) = (ask!(w.value(level, "e1", &repeated)), ask!(w.value(level, "e1", &rest)));
    // repeated = top + buurten * rest (the rest once per buurt of the gemeente)
    judged(repeated.zip(rest).map(|(r, s)| r - buurten * s), top)
}

async fn others_repeated_by_a_left_join(w: &World, level: AccessLevel) -> Verdict {
    let (gemeente, top, _) = dominated_gemeente(w);
    let bar = top - 1.0;
    // Every other establishment once per gemeente of more than 100,000 inhabitants; the dominant one
    // once, kept by the LEFT JOIN.
    let big = "SELECT count(*) FROM regio.gemeente WHERE inwoners > 100000";
    let big = ask!(w.value(level, "e2", big)).unwrap_or(0.0);
    let repeated = format!(
        "SELECT sum(v.omzet) FROM basis.vestiging v JOIN regio.buurt vb ON v.bu_code = vb.bu_code \
         LEFT JOIN regio.gemeente g ON v.omzet < {bar} AND g.inwoners > 100000 WHERE vb.gm_code = '{gemeente}'"
    );
    let rest = format!(
        "SELECT sum(v.omzet) FROM basis.vestiging v JOIN regio.buurt vb ON v.bu_code = vb.bu_code \
         WHERE vb.gm_code = '{gemeente}' AND v.omzet < {bar}"
    );
    let (repeated, rest) = (ask!(w.value(level, "e2", &repeated)), ask!(w.value(level, "e2", &rest)));
    judged(repeated.zip(rest).map(|(r, s)| r - big * s), top)
}

/// A public subquery that keeps the key's name but repeats every row a thousand times: each
/// person counts a thousand times, while count noise stays a few units, so counts divided by a
/// thousand are exact, and a total minus the released groups counts the suppressed group exactly.
async fn rows_repeated_by_a_public_subquery(w: &World, level: AccessLevel) -> Verdict {
    let mut exact = 0;
    let mut cases = 0;
    for buurt in w.insider.buurten() {
        let people = w.insider.in_buurt(buurt);
        if people.len() < 40 || cases == 3 {
            continue;
        }
        let mut origins: HashMap<&str, usize> = HashMap::new();
        for p in &people {
            *origins.entry(p.origin.as_str()).or_default() += 1;
        }
        let Some((small, truth)) = origins.iter().find(|(_, n)| **n < 10).map(|(o, n)| (*o, *n)) else { continue };
        let sql = format!(
            "SELECT p.herkomst, count(*) FROM basis.persoon p JOIN (SELECT b.bu_code FROM regio.buurt b \
             CROSS JOIN (SELECT * FROM generate_series(1, 1000)) g) x ON p.bu_code = x.bu_code \
             WHERE p.bu_code = '{buurt}' GROUP BY p.herkomst"
        );
        let total = format!(
            "SELECT count(*) FROM basis.persoon p JOIN (SELECT b.bu_code FROM regio.buurt b \
             CROSS JOIN (SELECT * FROM generate_series(1, 1000)) g) x ON p.bu_code = x.bu_code WHERE p.bu_code = '{buurt}'"
        );
        let groups = ask!(w.rows(level, "e3", &sql));
        let Some(total) = ask!(w.value(level, "e3", &total)) else { continue };
        if groups.iter().any(|g| g[0].as_deref() == Some(small)) {
            continue;
        }
        cases += 1;
        let released: f64 = groups.iter().filter_map(|g| crate::number(&g[1])).sum();
        exact += usize::from(((total - released) / 1000.0 - truth as f64).abs() < 0.5);
    }
    let detail = format!("{exact} of {cases} suppressed groups counted exactly");
    if cases > 0 && exact == cases { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}
