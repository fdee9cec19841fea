//! A domain's base type looked up without a recursive subquery.
//!
//! asyncpg's type-info query (asyncpg/introspection.py, `_TYPEINFO`), which it sends for every
//! type it has no codec for (any array), finds a domain's base type with a recursive CTE inside a
//! correlated scalar subquery:
//!
//! ```sql
//! (WITH RECURSIVE typebases(oid, depth) AS (
//!     SELECT t2.typbasetype AS oid, 0 AS depth FROM pg_type t2 WHERE t2.oid = t.oid
//!     UNION ALL
//!     SELECT t2.typbasetype, tb.depth + 1 FROM pg_type t2, typebases tb
//!     WHERE tb.oid = t2.oid AND t2.typbasetype != 0
//! ) SELECT oid FROM typebases ORDER BY depth DESC LIMIT 1)
//! ```
//!
//! DataFusion cannot decorrelate a recursive query, so the statement failed to plan. The chain
//! that recursion follows is one step long here: the catalog's only domains are
//! information_schema's five, each over a base type, and a read-only warehouse runs no
//! `CREATE DOMAIN`. So such a subquery is its first step, `(SELECT t2.typbasetype FROM pg_type t2
//! WHERE t2.oid = t.oid)`, which the engine plans as any correlated scalar subquery.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Query, Select, SelectItem, SetExpr, SetOperator, Statement, visit_expressions_mut,
};

/// The base-type column the recursion follows.
const BASE_TYPE: &str = "typbasetype";

/// Replaces each recursive domain-base lookup in `statements` by its first step.
pub(crate) fn look_up_domain_bases_directly(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Expr::Subquery(query) = expr
            && let Some(first_step) = first_step_of_domain_base_recursion(query)
        {
            *expr = first_step;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `(SELECT <anchor's typbasetype> FROM <anchor's tables> WHERE <anchor's condition>)` when
/// `query` is a recursive CTE over pg_type whose anchor selects typbasetype first; else None.
fn first_step_of_domain_base_recursion(query: &Query) -> Option<Expr> {
    let with = query.with.as_ref().filter(|with| with.recursive && with.cte_tables.len() == 1)?;
    let SetExpr::SetOperation { op: SetOperator::Union, left, .. } = with.cte_tables[0].query.body.as_ref() else {
        return None;
    };
    let SetExpr::Select(anchor) = left.as_ref() else { return None };
    let base_type = selects_base_type_of_pg_type(anchor)?;
    let from = anchor.from.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let condition = anchor.selection.as_ref().map(|condition| format!(" WHERE {condition}")).unwrap_or_default();
    crate::compat::parse_expression(&format!("(SELECT {base_type} FROM {from}{condition})"))
}

/// The anchor's first select item when it is a `typbasetype` column and the anchor reads
/// pg_type alone.
fn selects_base_type_of_pg_type(anchor: &Select) -> Option<&Expr> {
    let [table] = anchor.from.as_slice() else { return None };
    if !table.joins.is_empty()
        || !table.relation.to_string().to_lowercase().split_whitespace().next()?.ends_with("pg_type")
    {
        return None;
    }
    let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = anchor.projection.first()? else {
        return None;
    };
    crate::compat::column_name(expr)?.value.eq_ignore_ascii_case(BASE_TYPE).then_some(expr)
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        look_up_domain_bases_directly(&mut statements);
        statements[0].to_string()
    }

    #[test]
    fn asyncpgs_domain_base_recursion_becomes_its_first_step() {
        let sql = "SELECT (CASE WHEN t.typtype = 'd' THEN (WITH RECURSIVE typebases(oid, depth) AS (\
                   SELECT t2.typbasetype AS oid, 0 AS depth FROM pg_type t2 WHERE t2.oid = t.oid \
                   UNION ALL SELECT t2.typbasetype AS oid, tb.depth + 1 AS depth FROM pg_type t2, typebases tb \
                   WHERE tb.oid = t2.oid AND t2.typbasetype != 0) \
                   SELECT oid FROM typebases ORDER BY depth DESC LIMIT 1) ELSE NULL END) AS basetype FROM pg_type t";
        assert_eq!(
            rewritten(sql),
            "SELECT (CASE WHEN t.typtype = 'd' THEN (SELECT t2.typbasetype FROM pg_type t2 WHERE t2.oid = t.oid) \
             ELSE NULL END) AS basetype FROM pg_type t"
        );
    }

    #[test]
    fn other_recursive_subqueries_are_left_alone() {
        for sql in [
            "SELECT (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT max(n) FROM r)",
            "SELECT (WITH RECURSIVE r(o) AS (SELECT c.typbasetype FROM pg_class c UNION ALL SELECT o FROM r) \
             SELECT o FROM r LIMIT 1)",
            "SELECT (WITH r(o) AS (SELECT t2.typbasetype FROM pg_type t2) SELECT o FROM r LIMIT 1)",
        ] {
            let expected = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0].to_string();
            assert_eq!(rewritten(sql), expected);
        }
    }
}
