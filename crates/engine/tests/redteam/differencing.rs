//! Family 8: differencing, padding and reconstruction. The promise at the untrusted level: the
//! difference of released cells that differ by one unit does not reveal that unit's value, padding
//! a query with conditions gains nothing, and the number of distinct questions is bounded.

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use zicht_engine::{AccessLevel, BudgetPolicy, Engine, EngineOptions};

use crate::redteam::insider::Person;
use crate::{Attack, Family, Verdict, World, ask, attack, median, relative_error};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Differencing;
    vec![
        attack!(f, difference_of_two_cells),
        attack!(f, padded_differences_averaged),
        attack!(f, random_halves_averaged),
        attack!(f, suppressed_part_from_the_total),
        attack!(f, suppressed_group_from_the_total),
        attack!(f, unbounded_questions),
        attack!(f, hidden_condition_in_a_public_subquery),
        attack!(f, respelled_fractions_averaged),
    ]
}

/// Buurten of at least 20 persons in which one person alone has another origin than all others:
/// (that person, the origin the others share).
fn lone_persons(w: &World, how_many: usize) -> Vec<(&Person, String)> {
    let mut found = Vec::new();
    for buurt in w.insider.buurten() {
        let people = w.insider.in_buurt(buurt);
        if people.len() < 20 {
            continue;
        }
        for candidate in &people {
            let others: Vec<&&Person> = people.iter().filter(|p| p.id != candidate.id).collect();
            let common = &others[0].origin;
            if candidate.origin != *common && candidate.income > 10_000.0 && others.iter().all(|p| p.origin == *common)
            {
                found.push((*candidate, common.clone()));
                break;
            }
        }
        if found.len() == how_many {
            break;
        }
    }
    found
}

fn judged(errors: Vec<f64>, tolerance: f64, what: &str) -> Verdict {
    let typical = median(errors.clone());
    let detail = format!("{what}: median error {:.1}% over {} victims", 100.0 * typical, errors.len());
    if !errors.is_empty() && typical <= tolerance { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn pair(
    w: &World,
    level: AccessLevel,
    user: &str,
    victim: &Person,
    common: &str,
    padding: &str,
) -> Result<Option<f64>, Verdict> {
    let all = format!("SELECT sum(inkomen) FROM basis.persoon WHERE bu_code = '{}'{padding}", victim.buurt);
    let rest = format!("{all} AND herkomst = '{common}'");
    let (all, rest) = (w.value(level, user, &all).await?, w.value(level, user, &rest).await?);
    Ok(all.zip(rest).map(|(a, r)| a - r))
}

async fn difference_of_two_cells(w: &World, level: AccessLevel) -> Verdict {
    let mut errors = Vec::new();
    for (victim, common) in lone_persons(w, 5) {
        if let Some(difference) = ask!(pair(w, level, "h1", victim, &common, "")) {
            errors.push(relative_error(difference, victim.income));
        }
    }
    judged(errors, 0.05, "sum differences")
}

/// Conditions that change nothing in a buurt's cell, each a new noise layer.
fn paddings(level: AccessLevel, buurt: &str) -> Vec<String> {
    let mut paddings: Vec<String> =
        (2..=buurt.len()).map(|n| format!(" AND substr(bu_code, 1, {n}) = '{}'", &buurt[..n])).collect();
    paddings.push(" AND floor(inkomen / 10000000) * 10000000 = 0".into());
    if level == AccessLevel::Trusted {
        paddings.extend((1..=8).map(|i| format!(" AND inkomen > -{i}")));
    }
    paddings
}

async fn padded_differences_averaged(w: &World, level: AccessLevel) -> Verdict {
    let mut errors = Vec::new();
    for (victim, common) in lone_persons(w, 3) {
        let mut differences = Vec::new();
        for padding in paddings(level, &victim.buurt) {
            if let Some(difference) = ask!(pair(w, level, "h2", victim, &common, &padding)) {
                differences.push(difference);
            }
        }
        if !differences.is_empty() {
            let mean = differences.iter().sum::<f64>() / differences.len() as f64;
            errors.push(relative_error(mean, victim.income));
        }
    }
    judged(errors, 0.05, "averaged padded differences")
}

async fn random_halves_averaged(w: &World, level: AccessLevel) -> Verdict {
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    let mut errors = Vec::new();
    for victim in w.insider.unique_by_buurt_and_year(25, 3) {
        let mut years: Vec<i64> = w.insider.in_buurt(&victim.buurt).iter().map(|p| p.birth_year).collect();
        years.sort_unstable();
        years.dedup();
        years.retain(|y| *y != victim.birth_year);
        let mut differences = Vec::new();
        for _ in 0..12 {
            let half: Vec<i64> = years.choose_multiple(&mut random, years.len() / 2).copied().collect();
            let list = |with: bool| {
                let mut list: Vec<String> = half.iter().map(|y| y.to_string()).collect();
                if with {
                    list.push(victim.birth_year.to_string());
                }
                list.join(", ")
            };
            let sql = |with: bool| {
                format!(
                    "SELECT sum(inkomen) FROM basis.persoon WHERE bu_code = '{}' AND geboortejaar IN ({})",
                    victim.buurt,
                    list(with)
                )
            };
            let with = ask!(w.value(level, "h3", &sql(true)));
            let without = ask!(w.value(level, "h3", &sql(false)));
            if let (Some(a), Some(b)) = (with, without) {
                differences.push(a - b);
            }
        }
        if !differences.is_empty() {
            let mean = differences.iter().sum::<f64>() / differences.len() as f64;
            errors.push(relative_error(mean, victim.income));
        }
    }
    judged(errors, 0.10, "random-half differences")
}

async fn suppressed_part_from_the_total(w: &World, level: AccessLevel) -> Verdict {
    let parts = "SELECT b.gm_code, p.bu_code, count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code \
                 GROUP BY b.gm_code, p.bu_code";
    let totals = "SELECT b.gm_code, count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code";
    let (parts, totals) = (ask!(w.rows(level, "h4", parts)), ask!(w.rows(level, "h4", totals)));
    let mut exact = 0;
    let mut cases = 0;
    for total in &totals {
        let (Some(gemeente), Some(total)) = (&total[0], crate::number(&total[1])) else { continue };
        let released: Vec<&Vec<Option<String>>> = parts.iter().filter(|p| p[0].as_ref() == Some(gemeente)).collect();
        let buurten: Vec<&String> =
            w.insider.gemeente_of.iter().filter(|(_, g)| *g == gemeente).map(|(b, _)| b).collect();
        let suppressed: Vec<&&String> = buurten
            .iter()
            .filter(|b| !w.insider.in_buurt(b).is_empty() && !released.iter().any(|r| r[1].as_ref() == Some(**b)))
            .collect();
        if suppressed.len() != 1 {
            continue;
        }
        cases += 1;
        let estimate = total - released.iter().filter_map(|r| crate::number(&r[2])).sum::<f64>();
        exact += usize::from((estimate - w.insider.in_buurt(suppressed[0]).len() as f64).abs() < 0.5);
    }
    let detail = format!("{exact} of {cases} suppressed buurten counted exactly from their gemeente's total");
    if cases >= 5 && exact * 5 >= cases * 4 { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn suppressed_group_from_the_total(w: &World, level: AccessLevel) -> Verdict {
    let mut errors = Vec::new();
    for (victim, _) in lone_persons(w, 5) {
        let total = format!("SELECT sum(inkomen) FROM basis.persoon WHERE bu_code = '{}'", victim.buurt);
        let groups = format!(
            "SELECT herkomst, sum(inkomen) FROM basis.persoon WHERE bu_code = '{}' GROUP BY herkomst",
            victim.buurt
        );
        let total = ask!(w.value(level, "h5", &total));
        let groups = ask!(w.rows(level, "h5", &groups));
        if let Some(total) = total {
            let released: f64 = groups.iter().filter_map(|g| crate::number(&g[1])).sum();
            errors.push(relative_error(total - released, victim.income));
        }
    }
    judged(errors, 0.05, "total minus released groups")
}

async fn unbounded_questions(w: &World, level: AccessLevel) -> Verdict {
    // The mechanism, with a budget of 40 questions so that the suite stays fast (the default is
    // 2,000 a table a day).
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    let policy = BudgetPolicy { questions: 40, period: std::time::Duration::from_secs(86_400) };
    let options = EngineOptions::new(catalog, &w.data).with_secret_key(crate::SECRET).with_budget(policy);
    let engine = Engine::open(options).await.unwrap();
    let session = engine.session_at("h6", level);
    for i in 0..50 {
        let sql = format!("SELECT count(*) FROM basis.persoon WHERE floor(inkomen / 1000) * 1000 = {}", 1000 * i);
        if let Err(error) = async { session.sql(&sql).await?.collect().await }.await {
            return crate::stopped(error);
        }
    }
    Verdict::Disclosed("50 distinct questions answered: no bound on reconstruction".into())
}

/// A filter inside a public subquery selects protected rows without being a condition of the
/// cell (no noise layer, no question): all-but-one differences with one noise draw less.
async fn hidden_condition_in_a_public_subquery(w: &World, level: AccessLevel) -> Verdict {
    let mut errors = Vec::new();
    for (victim, _) in lone_persons(w, 3) {
        let gemeente = &w.insider.gemeente_of[&victim.buurt];
        let with = format!(
            "SELECT sum(p.inkomen) FROM basis.persoon p JOIN (SELECT bu_code, gm_code FROM regio.buurt) b \
             ON p.bu_code = b.bu_code WHERE b.gm_code = '{gemeente}' AND p.herkomst = '{}'",
            victim.origin
        );
        let without = format!(
            "SELECT sum(p.inkomen) FROM basis.persoon p JOIN (SELECT bu_code, gm_code FROM regio.buurt \
             WHERE bu_code <> '{}') b ON p.bu_code = b.bu_code WHERE b.gm_code = '{gemeente}' AND p.herkomst = '{}'",
            victim.buurt, victim.origin
        );
        let (with, without) = (ask!(w.value(level, "h7", &with)), ask!(w.value(level, "h7", &without)));
        let rest: f64 = w
            .insider
            .in_buurt(&victim.buurt)
            .iter()
            .filter(|p| p.origin == victim.origin && p.id != victim.id)
            .map(|p| p.income)
            .sum();
        if let (Some(a), Some(b)) = (with, without) {
            errors.push(relative_error(a - b - rest, victim.income));
        }
    }
    judged(errors, 0.05, "differences through a filtered public subquery")
}

/// The same percentile spelled many ways (0.3, 0.3 + 1e-13, ...): if each spelling drew fresh
/// noise, their average would converge on the exact window mean, and differences of adjacent
/// windows on single values.
async fn respelled_fractions_averaged(w: &World, level: AccessLevel) -> Verdict {
    let mut answers = Vec::new();
    for i in 0..20 {
        let fraction = 0.3 + f64::from(i) * 1e-13;
        let sql = format!(
            "SELECT percentile_cont({fraction}) WITHIN GROUP (ORDER BY inkomen) FROM basis.persoon \
             WHERE bu_code = '{}'",
            w.insider.buurten().into_iter().max_by_key(|b| w.insider.in_buurt(b).len()).unwrap()
        );
        answers.push(ask!(w.value(level, "h8", &sql)));
    }
    let distinct: std::collections::BTreeSet<u64> = answers.iter().flatten().map(|a| a.to_bits()).collect();
    let detail = format!("{} distinct answers to 20 spellings of one percentile", distinct.len());
    if distinct.len() > 1 { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}
