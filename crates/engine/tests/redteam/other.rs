//! Everything else an attacker tries: existence through semi-joins, saved queries as a way in,
//! operations below the aggregate, parameters.

use zicht_engine::AccessLevel;
use zicht_engine::datafusion::common::{ParamValues, ScalarValue};

use crate::{Attack, Family, Verdict, World, attack, stopped};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Other;
    vec![
        attack!(f, existence_through_a_semi_join),
        attack!(f, saved_query_joined_to_rows),
        attack!(f, filter_pushed_into_a_saved_query),
        attack!(f, limit_below_the_aggregate),
        attack!(f, union_of_protected_rows),
        attack!(f, a_parameter_as_unit_id),
        attack!(f, a_recursive_query),
    ]
}

async fn refused_or_disclosed(w: &World, level: AccessLevel, user: &str, sql: &str) -> Verdict {
    match w.run(level, user, sql).await {
        Err(error) => stopped(error),
        Ok(rows) => Verdict::Disclosed(format!("accepted: {} rows", rows.len())),
    }
}

async fn existence_through_a_semi_join(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let sql = format!(
        "SELECT count(*) FROM regio.buurt b WHERE EXISTS (SELECT 1 FROM basis.persoon p \
         WHERE p.bu_code = b.bu_code AND p.geboortejaar = {} AND p.inkomen > 50000) AND b.bu_code = '{}'",
        victim.birth_year, victim.buurt
    );
    refused_or_disclosed(w, level, "j1", &sql).await
}

async fn saved_query_joined_to_rows(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code \
               JOIN drugs.verdachten_inwoners v ON b.gm_code = v.gm_code WHERE v.verdachten > 20";
    refused_or_disclosed(w, level, "j2", sql).await
}

/// A filter on a saved query's output must not reach inside it: the released cells are the same
/// with or without it.
async fn filter_pushed_into_a_saved_query(w: &World, level: AccessLevel) -> Verdict {
    let all = match w.rows(level, "j3", "SELECT * FROM drugs.verdachten_inwoners").await {
        Ok(rows) => rows,
        Err(verdict) => return verdict,
    };
    let one = match w.rows(level, "j3", "SELECT * FROM drugs.verdachten_inwoners WHERE gm_code = 'GM0363'").await {
        Ok(rows) => rows,
        Err(verdict) => return verdict,
    };
    let row = all.iter().find(|r| r[0].as_deref() == Some("GM0363"));
    if one.first() == row {
        Verdict::Defended("the filter is post-processing".into())
    } else {
        Verdict::Disclosed(format!("the filter changed the released cells: {:?} vs {:?}", one.first(), row))
    }
}

async fn limit_below_the_aggregate(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT avg(inkomen) FROM (SELECT inkomen FROM basis.persoon ORDER BY inkomen DESC LIMIT 10) t";
    refused_or_disclosed(w, level, "j4", sql).await
}

async fn union_of_protected_rows(w: &World, level: AccessLevel) -> Verdict {
    let sql = "SELECT count(*) FROM (SELECT inkomen FROM basis.persoon WHERE geboortejaar = 1960 \
               UNION SELECT inkomen FROM basis.persoon WHERE geboortejaar = 1961) t";
    refused_or_disclosed(w, level, "j5", sql).await
}

async fn a_parameter_as_unit_id(w: &World, level: AccessLevel) -> Verdict {
    let victim = w.insider.unique_by_buurt_and_year(25, 1)[0];
    let session = w.engine.session_at("j6", level);
    let planned = async {
        let plan = session.plan("SELECT sum(inkomen) FROM basis.persoon WHERE persoon_id <> $1").await?;
        let params = ParamValues::List(vec![ScalarValue::Int64(Some(victim.id)).into()]);
        session.execute_with_params(plan, params).await?.collect().await
    };
    match planned.await {
        Err(error) => stopped(error),
        Ok(_) => Verdict::Disclosed("a unit id filter through a parameter".into()),
    }
}

async fn a_recursive_query(w: &World, level: AccessLevel) -> Verdict {
    let sql = "WITH RECURSIVE r(n, i) AS (SELECT 1, inkomen FROM basis.persoon WHERE geboortejaar = 1921 \
               UNION ALL SELECT n + 1, i FROM r WHERE n < 3) SELECT count(*) FROM r";
    refused_or_disclosed(w, level, "j7", sql).await
}
