//! Family 3: errors that depend on one row. The promise: whether a query fails never depends on
//! one unit's values (the message is withheld anyway; error-or-not would still be one bit).
//!
//! Each attack writes an expression that fails only when the victim's income exceeds t, and asks
//! with t just below and just above the income: different outcomes are a disclosure.

use zicht_engine::AccessLevel;

use crate::redteam::insider::Insider;
use crate::{Attack, Family, Verdict, World, attack};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Errors;
    vec![
        attack!(f, regex_pattern),
        attack!(f, similar_to_pattern),
        attack!(f, negative_substring_length),
        attack!(f, power_of_zero),
        attack!(f, integer_overflow),
        attack!(f, integer_division_by_zero),
        attack!(f, failing_cast_in_a_filter),
        attack!(f, failing_cast_in_a_measure),
        attack!(f, failing_group_key),
        attack!(f, outer_filter_on_a_suppressed_group_key),
        attack!(f, outer_filter_on_suppressed_keys_of_a_join),
    ]
}

/// Runs `template` with `{cond}` true and false for the victim; `{buurt}` is the victim's buurt.
async fn error_oracle(w: &World, level: AccessLevel, user: &str, template: &str) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = |t: f64| {
        let cond = format!("({} AND inkomen > {t})", Insider::singled_out(victim));
        template.replace("{cond}", &cond).replace("{buurt}", &victim.buurt)
    };
    oracle(w, level, user, [sql(victim.income - 1.0), sql(victim.income + 1.0)]).await
}

/// Runs the statements written with a threshold just below and just above the victim's income:
/// disclosed when one fails and the other answers (or they fail differently).
async fn oracle(w: &World, level: AccessLevel, user: &str, below_and_above: [String; 2]) -> Verdict {
    let mut outcomes = Vec::new();
    for sql in &below_and_above {
        outcomes.push(match w.run(level, user, sql).await {
            Err(zicht_engine::EngineError::Suppression(refusal)) => return Verdict::Refused(refusal.rule.to_string()),
            Err(error) => format!("error {}", error.sqlstate()),
            Ok(_) => "answer".to_string(),
        });
    }
    if outcomes[0] != outcomes[1] {
        Verdict::Disclosed(format!("{} when the income is above t, {} when below", outcomes[0], outcomes[1]))
    } else {
        Verdict::Defended(format!("{} either way", outcomes[0]))
    }
}

const COUNT: &str = "SELECT count(*) FROM basis.persoon WHERE bu_code = '{buurt}' AND ";

async fn regex_pattern(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} regexp_like(bu_code, CASE WHEN {{cond}} THEN '(' ELSE 'B' END)");
    error_oracle(w, level, "c1", &sql).await
}

async fn similar_to_pattern(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} bu_code SIMILAR TO CASE WHEN {{cond}} THEN '(' ELSE 'B%' END");
    error_oracle(w, level, "c2", &sql).await
}

async fn negative_substring_length(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} substr(bu_code, 1, CASE WHEN {{cond}} THEN -1 ELSE 2 END) = 'BU'");
    error_oracle(w, level, "c3", &sql).await
}

async fn power_of_zero(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} power(0, CASE WHEN {{cond}} THEN -1 ELSE 1 END) >= 0");
    error_oracle(w, level, "c4", &sql).await
}

async fn integer_overflow(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} (CASE WHEN {{cond}} THEN 9223372036854775807 ELSE 0 END) + geboortejaar > 0");
    error_oracle(w, level, "c5", &sql).await
}

async fn integer_division_by_zero(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} geboortejaar / (CASE WHEN {{cond}} THEN 0 ELSE 1 END) > 0");
    error_oracle(w, level, "c6", &sql).await
}

async fn failing_cast_in_a_filter(w: &World, level: AccessLevel) -> Verdict {
    let sql = format!("{COUNT} CAST(CASE WHEN {{cond}} THEN 'x' ELSE '1' END AS INT) > 0");
    error_oracle(w, level, "c7", &sql).await
}

async fn failing_cast_in_a_measure(w: &World, level: AccessLevel) -> Verdict {
    let sql =
        "SELECT sum(CAST(CASE WHEN {cond} THEN 'x' ELSE '1' END AS INT)) FROM basis.persoon WHERE bu_code = '{buurt}'";
    error_oracle(w, level, "c8", sql).await
}

async fn failing_group_key(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT CAST(CASE WHEN {cond} THEN 'x' ELSE '1' END AS INT) AS k, count(*) FROM basis.persoon \
               WHERE bu_code = '{buurt}' GROUP BY 1";
    error_oracle(w, level, "c9", sql).await
}

/// A filter written above the aggregation, on a group key: DataFusion would push it below the
/// aggregate (onto the protected rows) or evaluate it on the keys of suppressed groups.
async fn outer_filter_on_a_suppressed_group_key(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT v FROM (SELECT inkomen AS v, count(*) AS n FROM basis.persoon \
               WHERE bu_code = '{buurt}' AND geboortejaar = {year} GROUP BY inkomen) t \
               WHERE CAST(CASE WHEN v > {t} THEN 'x' ELSE '1' END AS INT) = 1";
    key_oracle(w, level, "c10", sql).await
}

async fn outer_filter_on_suppressed_keys_of_a_join(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT y FROM (SELECT p.bu_code AS b, p.geboortejaar AS y, p.inkomen AS i, count(*) AS n \
               FROM basis.persoon p JOIN regio.buurt r ON p.bu_code = r.bu_code \
               GROUP BY p.bu_code, p.geboortejaar, p.inkomen) t \
               WHERE CAST(CASE WHEN b = '{buurt}' AND y = {year} AND i > {t} THEN 'x' ELSE '1' END AS INT) = 1";
    key_oracle(w, level, "c11", sql).await
}

/// `template` with `{buurt}`, `{year}` of the victim and `{t}` just below and above the income.
async fn key_oracle(w: &World, level: AccessLevel, user: &str, template: &str) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = |t: f64| {
        template
            .replace("{buurt}", &victim.buurt)
            .replace("{year}", &victim.birth_year.to_string())
            .replace("{t}", &t.to_string())
    };
    oracle(w, level, user, [sql(victim.income - 1.0), sql(victim.income + 1.0)]).await
}
