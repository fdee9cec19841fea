//! Family 7: metadata. The promise: plans, statistics and error messages say nothing about the
//! values of protected columns.

use zicht_engine::AccessLevel;

use crate::{Attack, Family, Verdict, World, attack, stopped};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Metadata;
    vec![
        attack!(f, explain_verbose),
        attack!(f, statistics_switched_on),
        attack!(f, explain_analyze),
        attack!(f, plain_explain),
        attack!(f, error_messages),
    ]
}

/// Whether plan text shows Parquet statistics (minimum, maximum) or row counts.
fn shows_statistics(text: &str) -> bool {
    text.contains("Min=") || text.contains("Max=") || text.contains("output_rows")
}

async fn explained(w: &World, level: AccessLevel, user: &str, sql: &str) -> Verdict {
    match w.run(level, user, sql).await {
        Err(error) => stopped(error),
        Ok(rows) if shows_statistics(&format!("{rows:?}")) => Verdict::Disclosed("statistics in the plan".into()),
        Ok(_) => Verdict::Defended("no statistics in the plan".into()),
    }
}

async fn explain_verbose(w: &World, level: AccessLevel) -> Verdict {
    explained(w, level, "g1", "EXPLAIN VERBOSE SELECT count(*) FROM basis.persoon WHERE inkomen > 0").await
}

async fn statistics_switched_on(w: &World, level: AccessLevel) -> Verdict {
    let session = w.engine.session_at("g2", level);
    let set = async { session.sql("SET datafusion.explain.show_statistics = true").await?.collect().await };
    if let Err(error) = set.await {
        return match error {
            zicht_engine::EngineError::Suppression(_) | zicht_engine::EngineError::NotAllowed(_) => {
                Verdict::Refused("settings".into())
            }
            other => stopped(other),
        };
    }
    let explained = async { session.sql("EXPLAIN SELECT count(*) FROM basis.persoon").await?.collect().await };
    match explained.await {
        Err(error) => stopped(error),
        Ok(batches) => {
            let text = format!("{batches:?}");
            if shows_statistics(&text) {
                Verdict::Disclosed("statistics after SET".into())
            } else {
                Verdict::Defended("no statistics".into())
            }
        }
    }
}

async fn explain_analyze(w: &World, level: AccessLevel) -> Verdict {
    explained(w, level, "g3", "EXPLAIN ANALYZE SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU03630000'").await
}

async fn plain_explain(w: &World, level: AccessLevel) -> Verdict {
    explained(w, level, "g4", "EXPLAIN SELECT bu_code, avg(inkomen) FROM basis.persoon GROUP BY bu_code").await
}

async fn error_messages(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let income = format!("{}", victim.income as i64);
    let mut messages = Vec::new();
    for sql in [
        "SELECT count(*) FROM basis.persoon WHERE CAST(CAST(inkomen AS VARCHAR) AS DATE) IS NOT NULL",
        "SELECT sum(CAST(bu_code AS INT)) FROM basis.persoon",
        "SELECT count(*) FROM basis.persoon WHERE regexp_like(bu_code, CAST(inkomen AS VARCHAR) || '(')",
        "SELECT bu_code, sum(inkomen / 0) FROM basis.persoon GROUP BY bu_code",
    ] {
        if let Err(error) = w.run(level, "g5", sql).await {
            messages.push(error.to_string());
        }
    }
    if messages.iter().any(|m| m.contains(&income) || m.contains(&victim.buurt)) {
        Verdict::Disclosed(format!("an error message holds data: {messages:?}"))
    } else {
        Verdict::Defended(format!("{} errors, none with data", messages.len()))
    }
}
