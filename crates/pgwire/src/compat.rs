//! PostgreSQL text as statements DataFusion plans the way PostgreSQL would.
//!
//! datafusion-pg-catalog's compatibility parser rewrites what DataFusion cannot plan (client
//! tools' catalog queries, oid-alias casts, PostgreSQL operators) and substitutes whole catalog
//! queries of known clients. Its treatment of subqueries in select lists gives wrong answers
//! outside the catalog, so those are kept from it; oid-alias casts of unknown names are checked
//! ([`crate::reg_cast`]); LIKE with another escape character is rewritten to the backslash one.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Query, SelectItem, SetExpr, Statement, Value, VisitMut, VisitorMut, visit_expressions_mut,
    visit_relations,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::error::{WireError, WireResult};

/// Parses a query string (one or more statements) with the PostgreSQL compatibility rewrites.
/// Recurses as deep as the statements nest: call it through `command::parse_bounded`.
pub fn parse_statements(sql: &str) -> WireResult<Vec<Statement>> {
    let compatibility = PostgresCompatibilityParser::new();
    let mut plain = Parser::parse_sql(&PostgreSqlDialect {}, sql);
    let prepared = plain.as_mut().is_ok_and(|statements| {
        let kept = !reads_only_the_catalog(statements) && keep_select_list_subqueries(statements);
        kept | crate::reg_cast::check_reg_casts(statements)
    });
    let mut statements = match plain {
        Ok(statements) if prepared => {
            statements.into_iter().map(|statement| compatibility.rewrite(statement)).collect()
        }
        plain => match compatibility.parse(sql) {
            Ok(statements) => statements,
            // The rewrites only ever help; report errors as plain PostgreSQL parsing sees them.
            Err(_) => plain.map_err(|e| WireError::Engine(zicht_engine::EngineError::Syntax(e.to_string())))?,
        },
    };
    rewrite_like_escapes(&mut statements);
    crate::pg_settings::read_connection_settings(&mut statements);
    Ok(statements)
}

/// True when the statements read tables, all of them in pg_catalog or information_schema: client
/// tools' catalog queries. Their subqueries in select lists keep the compatibility parser's
/// treatment, because DataFusion cannot plan some of them as PostgreSQL does (psql's `\d` looks up
/// a column's default `WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef`, a
/// condition on the outer row alone), and what they look up (defaults, collations) this
/// warehouse does not have: NULL is the answer there.
fn reads_only_the_catalog(statements: &[Statement]) -> bool {
    let mut tables = 0;
    let mut in_catalog = |name: &ObjectName| {
        tables += 1;
        let parts: Vec<String> =
            name.0.iter().map(|part| part.to_string().trim_matches('"').to_ascii_lowercase()).collect();
        let inside = match parts.as_slice() {
            [table] => table.starts_with("pg_"),
            [.., schema, _] => schema == "pg_catalog" || schema == "information_schema",
            [] => false,
        };
        if inside { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    };
    let inside = statements.iter().all(|statement| visit_relations(statement, &mut in_catalog).is_continue());
    inside && tables > 0
}

/// The compatibility parser replaces a correlated subquery in a select list with NULL (and
/// counts a `$1` in it as a correlation) and cuts an uncorrelated one to its first row: wrong
/// answers where PostgreSQL gives the value or SQLSTATE 21000. The engine plans both as
/// PostgreSQL does, so each such subquery is put in parentheses, which that rewrite leaves alone.
/// True when there was one: the statements then skip the parser's substitutions of whole client
/// catalog queries, none of which has one (nor a cast [`crate::reg_cast`] checks).
fn keep_select_list_subqueries(statements: &mut [Statement]) -> bool {
    let mut visitor = SelectListSubqueries { found: false };
    for statement in statements.iter_mut() {
        let _ = statement.visit(&mut visitor);
    }
    visitor.found
}

struct SelectListSubqueries {
    found: bool,
}

impl VisitorMut for SelectListSubqueries {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_mut() else { return ControlFlow::Continue(()) };
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item
                && matches!(expr, Expr::Subquery(_))
            {
                let subquery = std::mem::replace(expr, Expr::Value(Value::Null.into()));
                *expr = Expr::Nested(Box::new(subquery));
                self.found = true;
            }
        }
        ControlFlow::Continue(())
    }
}

/// DataFusion's LIKE escapes with a backslash only; SQLAlchemy's inspector writes
/// `LIKE 'pg/_' || '%' ESCAPE '/'`. The pattern is rewritten to the backslash form it means:
/// backslashes doubled, `//` a literal slash, `/x` an escaped x.
fn rewrite_like_escapes(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Expr::Like { pattern, escape_char, .. } | Expr::ILike { pattern, escape_char, .. } = expr
            && let Some(escape) = escape_char.as_ref().and_then(|v| v.value.clone().into_string())
            && escape != "\\"
            && let Some(rewritten) = backslash_pattern(pattern, &escape)
        {
            **pattern = rewritten;
            *escape_char = None;
        }
        ControlFlow::<()>::Continue(())
    });
}

fn backslash_pattern(pattern: &Expr, escape: &str) -> Option<Expr> {
    let doubled = format!("replace(({pattern}), '\\', '\\\\')");
    let text = match escape.chars().collect::<Vec<_>>().as_slice() {
        [] => doubled,
        ['\''] => return None,
        [e] => format!("replace(replace(replace({doubled}, '{e}{e}', chr(1)), '{e}', '\\'), chr(1), '{e}')"),
        _ => return None,
    };
    Parser::new(&PostgreSqlDialect {}).try_with_sql(&text).ok()?.parse_expr().ok()
}
