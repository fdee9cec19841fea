//! `zicht run <theme>/<name>`: a saved query, read through its view, so it passes the
//! suppression layer exactly as it does for a BI tool.

use crate::Failure;
use crate::args::RunArgs;
use crate::data::open_engine;

pub async fn run(args: RunArgs) -> Result<(), Failure> {
    let engine = open_engine(&args.warehouse).await?;
    let view = engine
        .saved_views()
        .iter()
        .find(|v| v.query.id() == args.query)
        .ok_or_else(|| Failure::new(format!("no saved query {} (see `zicht queries list`)", args.query)))?;
    let mut sql = view_sql(&view.query.theme, &view.query.name, &args.gemeente)?;
    if !view.order_by.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", view.order_by));
    }
    let released = engine.session("cli").sql(&sql).await?;
    crate::output::print(released, args.format).await
}

/// `SELECT * FROM theme.name`, restricted to the given gemeenten. Codes are checked rather than
/// quoted, so nothing but a code reaches the SQL.
fn view_sql(theme: &str, name: &str, gemeenten: &[String]) -> Result<String, Failure> {
    let mut sql = format!("SELECT * FROM {theme}.{name}");
    if gemeenten.is_empty() {
        return Ok(sql);
    }
    for code in gemeenten {
        if !is_gemeente_code(code) {
            return Err(Failure::new(format!("--gemeente {code}: expected a CBS code such as GM0363")));
        }
    }
    let list = gemeenten.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
    sql.push_str(&format!(" WHERE gm_code IN ({list})"));
    Ok(sql)
}

fn is_gemeente_code(code: &str) -> bool {
    code.len() == 6 && code.starts_with("GM") && code[2..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemeenten_restrict_the_view_and_only_codes_pass() {
        assert_eq!(view_sql("drugs", "x", &[]).unwrap(), "SELECT * FROM drugs.x");
        assert_eq!(
            view_sql("drugs", "x", &["GM0363".into(), "GM0014".into()]).unwrap(),
            "SELECT * FROM drugs.x WHERE gm_code IN ('GM0363', 'GM0014')"
        );
        assert!(view_sql("drugs", "x", &["GM0363' OR 1=1 --".into()]).is_err());
        assert!(view_sql("drugs", "x", &["0363".into()]).is_err());
    }
}
