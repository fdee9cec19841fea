//! Family 1: noise that cancels or averages away. The promise: no combination of released values
//! gives an exact value the rules release only with noise.

use zicht_engine::AccessLevel;

use crate::{Attack, Family, Verdict, World, ask, attack};

pub fn attacks() -> Vec<Attack> {
    let f = Family::CancellingNoise;
    vec![
        attack!(f, sum_and_sum_of_negatives),
        attack!(f, sum_over_average_is_a_count),
        attack!(f, doubled_flags_count_exactly),
        attack!(f, self_joins_give_fresh_noise),
        attack!(f, spellings_of_one_count_differ),
        attack!(f, no_op_padding_averages_out),
        attack!(f, count_minus_count_of_a_column),
        attack!(f, repeating_a_query_averages_out),
        attack!(f, repartitioning_redraws_the_noise),
    ]
}

const YEARS: [i64; 6] = [1950, 1960, 1965, 1970, 1975, 1980];

fn year(y: i64) -> String {
    format!("geboortejaar = {y}")
}

/// Disclosed when every estimate is within `tolerance` of its truth: a consistent exact answer,
/// not the luck of one noise draw.
fn consistently_exact(name: &str, pairs: &[(f64, f64)], tolerance: f64) -> Verdict {
    let exact = pairs.iter().filter(|(estimate, truth)| (estimate - truth).abs() <= tolerance).count();
    let detail = format!("{exact} of {} {name} exact", pairs.len());
    if pairs.len() >= 4 && exact == pairs.len() { Verdict::Disclosed(detail) } else { Verdict::Defended(detail) }
}

async fn sum_and_sum_of_negatives(w: &World, level: AccessLevel) -> Verdict {
    let mut pairs = Vec::new();
    for y in YEARS {
        let plus = ask!(w.value(level, "a1", &format!("SELECT sum(inkomen) FROM basis.persoon WHERE {}", year(y))));
        let minus = ask!(w.value(level, "a1", &format!("SELECT sum(-inkomen) FROM basis.persoon WHERE {}", year(y))));
        if let (Some(plus), Some(minus)) = (plus, minus) {
            pairs.push(((plus - minus) / 2.0, w.insider.income_sum(|p| p.birth_year == y)));
        }
    }
    consistently_exact("half-differences", &pairs, 0.5)
}

async fn sum_over_average_is_a_count(w: &World, level: AccessLevel) -> Verdict {
    let mut pairs = Vec::new();
    for y in YEARS {
        let sum = ask!(w.value(level, "a2", &format!("SELECT sum(inkomen) FROM basis.persoon WHERE {}", year(y))));
        let avg = ask!(w.value(level, "a2", &format!("SELECT avg(inkomen) FROM basis.persoon WHERE {}", year(y))));
        if let (Some(sum), Some(avg)) = (sum, avg) {
            pairs.push((sum / avg, w.insider.count(|p| p.birth_year == y) as f64));
        }
    }
    consistently_exact("row counts from sum / avg", &pairs, 0.01)
}

async fn doubled_flags_count_exactly(w: &World, level: AccessLevel) -> Verdict {
    let mut pairs = Vec::new();
    for y in YEARS {
        let sql =
            format!("SELECT sum(CASE WHEN geslacht = 'vrouw' THEN 2 ELSE 0 END) FROM basis.persoon WHERE {}", year(y));
        if let Some(doubled) = ask!(w.value(level, "a3", &sql)) {
            pairs.push((doubled / 2.0, w.insider.count(|p| p.birth_year == y && p.gender == "vrouw") as f64));
        }
    }
    consistently_exact("counts from sum(2 * flag)", &pairs, 0.25)
}

async fn self_joins_give_fresh_noise(w: &World, level: AccessLevel) -> Verdict {
    for y in YEARS {
        let once = format!("SELECT count(*) FROM basis.persoon a WHERE a.{}", year(y));
        let twice = format!(
            "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.persoon_id = b.persoon_id WHERE a.{}",
            year(y)
        );
        let thrice = format!(
            "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.persoon_id = b.persoon_id \
             JOIN basis.persoon c ON b.persoon_id = c.persoon_id WHERE a.{}",
            year(y)
        );
        let answers = [
            ask!(w.value(level, "a4", &once)),
            ask!(w.value(level, "a4", &twice)),
            ask!(w.value(level, "a4", &thrice)),
        ];
        if answers.iter().any(|a| *a != answers[0]) {
            return Verdict::Disclosed(format!("{answers:?}: independent noise to average"));
        }
    }
    Verdict::Defended("self-joins repeat the same answer".into())
}

async fn spellings_of_one_count_differ(w: &World, level: AccessLevel) -> Verdict {
    for y in YEARS {
        let mut answers = Vec::new();
        for measure in [
            "count(*)",
            "count(persoon_id)",
            "count(DISTINCT persoon_id)",
            "count(bu_code)",
            "count(geslacht)",
            "count(herkomst)",
            "count(inkomen)",
            "count(vermogen)",
            "count(geboortejaar)",
        ] {
            answers.push(ask!(w.value(level, "a5", &format!("SELECT {measure} FROM basis.persoon WHERE {}", year(y)))));
        }
        // A count of a column that can be NULL is a count with a condition (the value is not
        // NULL): where it leaves nobody out it is a 100% share and suppressed. Released answers
        // must agree; two different values would be two noise draws for one count.
        let released: Vec<f64> = answers.iter().flatten().copied().collect();
        if released.iter().any(|a| *a != released[0]) || answers[0].is_none() {
            return Verdict::Disclosed(format!("spellings of one count answer {answers:?}"));
        }
    }
    Verdict::Defended("every spelling of one count gets one answer".into())
}

/// Conditions that change nothing in the cell of persons born in `y`, each adding a noise layer.
fn no_op_paddings(level: AccessLevel, y: i64) -> Vec<String> {
    let mut paddings: Vec<String> = [10, 20, 50, 100, 200, 500, 1000]
        .iter()
        .map(|width| format!("floor(geboortejaar / {width}) * {width} = {}", y / width * width))
        .collect();
    if level == AccessLevel::Trusted {
        paddings.extend((1..=12).map(|i| format!("inkomen > -{i}")));
    }
    paddings
}

async fn no_op_padding_averages_out(w: &World, level: AccessLevel) -> Verdict {
    let mut pairs = Vec::new();
    for y in YEARS {
        let mut answers = Vec::new();
        for padding in no_op_paddings(level, y) {
            let sql = format!("SELECT count(*) FROM basis.persoon WHERE {} AND {padding}", year(y));
            if let Some(v) = ask!(w.value(level, "a6", &sql)) {
                answers.push(v);
            }
        }
        if !answers.is_empty() {
            let mean = answers.iter().sum::<f64>() / answers.len() as f64;
            pairs.push((mean.round(), w.insider.count(|p| p.birth_year == y) as f64));
        }
    }
    consistently_exact("averages over no-op paddings", &pairs, 0.5)
}

async fn count_minus_count_of_a_column(w: &World, level: AccessLevel) -> Verdict {
    // Dwellings whose owner is unknown (eigenaar_id NULL), per gemeente, as count(*) - count(x).
    let sql = "SELECT b.gm_code, count(*), count(w.eigenaar_id) FROM basis.woning w \
               JOIN regio.buurt b ON w.bu_code = b.bu_code GROUP BY b.gm_code";
    let rows = ask!(w.rows(level, "a7", sql));
    let mut pairs = Vec::new();
    for row in &rows {
        let (Some(gemeente), Some(all), Some(with)) = (&row[0], crate::number(&row[1]), crate::number(&row[2])) else {
            continue;
        };
        let unknown = w
            .insider
            .dwellings
            .iter()
            .filter(|d| d.owner.is_none() && w.insider.gemeente_of.get(&d.buurt) == Some(gemeente))
            .count();
        if unknown > 0 {
            pairs.push((all - with, unknown as f64));
        }
    }
    consistently_exact("unknown-owner counts from count(*) - count(eigenaar_id)", &pairs, 0.5)
}

async fn repeating_a_query_averages_out(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("SELECT avg(inkomen) FROM basis.persoon WHERE {}", year(1960));
    let first = ask!(w.value(level, "a8", &sql));
    for _ in 0..10 {
        if ask!(w.value(level, "a8", &sql)) != first {
            return Verdict::Disclosed("a repeated query got fresh noise".into());
        }
    }
    Verdict::Defended("repeats get the same answer".into())
}

/// A session may set how many partitions a query runs on and how large its batches are, which
/// decides how many partial states a national total merges and where a household is cut between
/// two of them. If the answer changed with the setting, each setting would be a fresh draw.
async fn repartitioning_redraws_the_noise(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT sum(inkomen) FROM basis.persoon";
    let mut answers = Vec::new();
    for (partitions, batch) in [(1, 8192), (2, 8192), (3, 1000), (7, 333), (16, 4096)] {
        let settings = [
            format!("SET datafusion.execution.target_partitions = {partitions}"),
            format!("SET datafusion.execution.batch_size = {batch}"),
        ];
        answers.push(ask!(w.value_after(level, "a9", &settings, sql)));
    }
    if answers.iter().any(|answer| answer != &answers[0]) {
        return Verdict::Disclosed(format!("the partitioning changed the answer: {answers:?}"));
    }
    Verdict::Defended("every partitioning gets the same answer".into())
}
