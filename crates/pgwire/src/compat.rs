//! PostgreSQL text as statements DataFusion plans the way PostgreSQL would.
//!
//! datafusion-pg-catalog's compatibility parser rewrites what DataFusion cannot plan (client
//! tools' catalog queries, oid-alias casts, PostgreSQL operators) and substitutes whole catalog
//! queries of known clients. Its treatment of subqueries in select lists gives wrong answers
//! outside the catalog, so those are kept from it; oid-alias casts of unknown names are checked
//! ([`crate::reg_cast`]); LIKE with another escape character is rewritten to the backslash one.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectName, Query, SelectItem, SetExpr, Statement, Subscript, Value, VisitMut, VisitorMut, visit_expressions_mut,
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
    rewrite_postgres_spellings(&mut statements);
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

/// PostgreSQL spellings DataFusion knows under another: a field of a composite value,
/// `(expr).field`, is DataFusion's `(expr)['field']` (pgjdbc's `(_pg_expandarray(i.indkey)).n`);
/// the type `name` (an identifier) is text here (psqlODBC's `'zicht'::name`); a subscript of
/// pg_index's vectors counts from 0 ([`subscripts_a_vector`]); a set-returning
/// `generate_series(a, b)` or `_pg_expandarray(array)` in a select list (psqlODBC's and pgjdbc's
/// key queries) is an `unnest` of the list DataFusion's `generate_series` or
/// `zicht_expand_array` gives, which yields the same rows (several in one select list in step,
/// as PostgreSQL runs them).
fn rewrite_postgres_spellings(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        match expr {
            Expr::CompoundFieldAccess { root, access_chain } if matches!(root.as_ref(), Expr::Nested(_)) => {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        *access = AccessExpr::Dot(Expr::Value(Value::SingleQuotedString(field.value.clone()).into()));
                    }
                }
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                if let Some((AccessExpr::Subscript(Subscript::Index { index }), before)) = access_chain.split_last_mut()
                    && subscripts_a_vector(root, before)
                {
                    *index = Expr::BinaryOp {
                        left: Box::new(Expr::Nested(Box::new(index.clone()))),
                        op: BinaryOperator::Plus,
                        right: Box::new(Expr::Value(Value::Number("1".into(), false).into())),
                    };
                }
            }
            Expr::Cast { data_type, .. } if is_name_type(data_type) => *data_type = DataType::Text,
            Expr::Function(function) => {
                let name = zicht_engine::name_parts(&function.name);
                match name.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                    // Set-returning functions in a select list: a row per element, as unnest gives.
                    ["generate_series"] => *expr = call("unnest", expr.clone()),
                    ["_pg_expandarray"] => {
                        function.name = ObjectName::from(vec![Ident::new(crate::pg_vectors::EXPAND_ARRAY)]);
                        *expr = call("unnest", expr.clone());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `function(argument)`.
fn call(function: &str, argument: Expr) -> Expr {
    let mut call = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("{function}(NULL)"))
        .and_then(|mut parser| parser.parse_expr())
        .expect("a call of one argument parses");
    if let Expr::Function(Function { args: FunctionArguments::List(list), .. }) = &mut call {
        list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))];
    }
    call
}

/// Whether a subscript after `root` and the accesses `before` it reads one of pg_index's
/// int2vector and oidvector columns, whose subscripts start at 0 in PostgreSQL (psqlODBC's
/// `i.indkey[ia.attnum - 1]`); they are lists here, whose subscripts start at 1.
fn subscripts_a_vector(root: &Expr, before: &[AccessExpr]) -> bool {
    let column = match (before.last(), root) {
        (Some(AccessExpr::Dot(Expr::Identifier(ident))), _) => ident,
        (Some(_), _) => return false,
        (None, Expr::Identifier(ident)) => ident,
        (None, Expr::CompoundIdentifier(idents)) => match idents.last() {
            Some(ident) => ident,
            None => return false,
        },
        (None, _) => return false,
    };
    matches!(column.value.to_ascii_lowercase().as_str(), "indkey" | "indclass" | "indoption" | "indcollation")
}

fn is_name_type(data_type: &DataType) -> bool {
    let DataType::Custom(name, modifiers) = data_type else { return false };
    let parts = zicht_engine::name_parts(name);
    modifiers.is_empty()
        && matches!(parts.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), ["name"] | ["pg_catalog", "name"])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_fields_and_names_are_spelled_as_datafusion_plans_them() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT (_pg_expandarray(i.indkey)).n, (r.keys).x, 'zicht'::name, CAST(c AS pg_catalog.name), t.a.b, \
             generate_series(1, 3) AS i, i.indkey[a.attnum - 1], conkey[2] FROM t, generate_series(1, 2)",
        )
        .unwrap();
        rewrite_postgres_spellings(&mut statements);
        assert_eq!(
            statements[0].to_string(),
            "SELECT (unnest(zicht_expand_array(i.indkey))).'n', (r.keys).'x', 'zicht'::TEXT, CAST(c AS TEXT), t.a.b, \
             unnest(generate_series(1, 3)) AS i, i.indkey[(a.attnum - 1) + 1], conkey[2] FROM t, generate_series(1, 2)"
        );
    }
}
