//! The system column `tableoid` of catalog tables.
//!
//! Every PostgreSQL table has a hidden column `tableoid`: the oid of the table the row is in,
//! its `regclass`. psql's `\dd` matches descriptions with it (`tt.tableoid = d.classoid`, over
//! `pgc.tableoid` of pg_constraint, pg_opclass, pg_opfamily, pg_rewrite and pg_trigger).
//! datafusion-pg-catalog's tables have no such column, so `alias.tableoid` of a pg_catalog table
//! in a select is rewritten to that table's oid, looked up in pg_class as `'pg_catalog.t'::regclass`
//! would be; an unqualified `tableoid` too when the select reads one table.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, VisitMut, VisitorMut,
    visit_expressions_mut,
};

/// The system column.
const TABLE_OID: &str = "tableoid";

/// Rewrites `tableoid` of pg_catalog tables in `statements` (see the module's docs).
pub(crate) fn resolve_table_oids(statements: &mut [Statement]) {
    for statement in statements {
        let _ = statement.visit(&mut TableOids);
    }
}

struct TableOids;

impl VisitorMut for TableOids {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        resolve_in_selects(query.body.as_mut());
        ControlFlow::Continue(())
    }
}

/// Resolves the selects of `body`, each side of a UNION too (a nested query is visited itself).
fn resolve_in_selects(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => resolve_in_select(select),
        SetExpr::SetOperation { left, right, .. } => {
            resolve_in_selects(left);
            resolve_in_selects(right);
        }
        _ => {}
    }
}

/// Rewrites the `tableoid` columns of `select`'s catalog tables, in its subqueries too (a
/// correlated `outer.tableoid`); a subquery's own tables are resolved when it is visited.
fn resolve_in_select(select: &mut Select) {
    let tables = catalog_tables(&select.from);
    if tables.is_empty() {
        return;
    }
    let only_table =
        (select.from.len() == 1 && select.from[0].joins.is_empty()).then(|| tables.values().next().cloned()).flatten();
    let mut resolve = |expr: &mut Expr| {
        let table = match expr {
            Expr::CompoundIdentifier(parts) if parts.len() == 2 && parts[1].value.eq_ignore_ascii_case(TABLE_OID) => {
                tables.get(&parts[0].value.to_lowercase()).cloned()
            }
            Expr::Identifier(ident) if ident.value.eq_ignore_ascii_case(TABLE_OID) => only_table.clone(),
            _ => None,
        };
        if let Some(oid) = table.and_then(|table| table_oid(&table)) {
            *expr = oid;
        }
        ControlFlow::<()>::Continue(())
    };
    for item in &mut select.projection {
        let unaliased_table_oid = matches!(item, SelectItem::UnnamedExpr(expr) if is_table_oid(expr));
        let _ = visit_expressions_mut(item, &mut resolve);
        // Named `tableoid`, as in PostgreSQL, not after the lookup's `oid`.
        if unaliased_table_oid
            && let SelectItem::UnnamedExpr(expr) = item
            && !is_table_oid(expr)
        {
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::new(TABLE_OID) };
        }
    }
    if let Some(selection) = &mut select.selection {
        let _ = visit_expressions_mut(selection, &mut resolve);
    }
    for table in &mut select.from {
        for join in &mut table.joins {
            let _ = visit_expressions_mut(&mut join.join_operator, &mut resolve);
        }
    }
}

/// Whether `expr` is a column `tableoid`, qualified or not.
fn is_table_oid(expr: &Expr) -> bool {
    crate::compat::column_name(expr).is_some_and(|column| column.value.eq_ignore_ascii_case(TABLE_OID))
}

/// The pg_catalog tables `from` reads, by the name a column names them with (alias or table
/// name, lower case), each with its bare table name.
fn catalog_tables(from: &[TableWithJoins]) -> HashMap<String, String> {
    let relations = from
        .iter()
        .flat_map(|table| std::iter::once(&table.relation).chain(table.joins.iter().map(|join| &join.relation)));
    let mut tables = HashMap::new();
    for relation in relations {
        let TableFactor::Table { name, alias, .. } = relation else { continue };
        let parts = zicht_engine::name_parts(name);
        let Some(table) = parts.last().filter(|_| crate::compat::is_pg_catalog_table(&parts)) else { continue };
        let called = alias.as_ref().map_or_else(|| table.clone(), |alias| alias.name.value.to_lowercase());
        tables.insert(called, table.clone());
    }
    tables
}

/// The oid of pg_catalog's `table`, as a scalar subquery of pg_class.
fn table_oid(table: &str) -> Option<Expr> {
    let name = table.replace('\'', "''");
    crate::compat::parse_expression(&format!(
        "(SELECT zicht_c.oid FROM pg_catalog.pg_class zicht_c JOIN pg_catalog.pg_namespace zicht_n \
         ON zicht_n.oid = zicht_c.relnamespace WHERE zicht_n.nspname = 'pg_catalog' AND zicht_c.relname = '{name}')"
    ))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        resolve_table_oids(&mut statements);
        statements[0].to_string()
    }

    #[test]
    fn tableoid_of_a_catalog_table_is_its_oid_in_pg_class() {
        let sql = "SELECT pgc.oid, pgc.tableoid FROM pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.conrelid";
        let lookup = "(SELECT zicht_c.oid FROM pg_catalog.pg_class zicht_c JOIN pg_catalog.pg_namespace zicht_n \
                      ON zicht_n.oid = zicht_c.relnamespace WHERE zicht_n.nspname = 'pg_catalog' AND zicht_c.relname = 'pg_constraint')";
        assert_eq!(
            rewritten(sql),
            format!(
                "SELECT pgc.oid, {lookup} AS tableoid FROM pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.conrelid"
            )
        );
        let alone =
            rewritten("SELECT tableoid FROM pg_trigger UNION ALL SELECT r.tableoid FROM pg_catalog.pg_rewrite r");
        assert!(alone.contains("zicht_c.relname = 'pg_trigger'"), "{alone}");
        assert!(alone.contains("zicht_c.relname = 'pg_rewrite'"), "{alone}");
    }

    #[test]
    fn other_tableoids_are_left_alone() {
        for sql in [
            // A derived table's column, a warehouse table's, and an unqualified one among two tables.
            "SELECT tt.tableoid FROM (SELECT 1 AS tableoid) AS tt",
            "SELECT p.tableoid FROM basis.persoon p",
            "SELECT tableoid FROM pg_class c, pg_namespace n",
        ] {
            let expected = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0].to_string();
            assert_eq!(rewritten(sql), expected);
        }
    }
}
