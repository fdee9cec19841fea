//! The pg_catalog tables each connection answers itself: `pg_settings` (its settings, as `SET`
//! left them), `pg_stat_activity` (its user's connections) and `pg_roles` (its user's role). A statement's reference to one is
//! replaced with a table function the connection defines ([`crate::pg_settings`],
//! [`crate::pg_stat_activity`], [`crate::pg_roles`]), read by the table's name unless the statement gave an alias.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::error::Result;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Statement, TableAlias, TableFactor, VisitMut, VisitorMut};

/// Each table and the table function that answers it.
const TABLES: [(&str, &str); 3] = [
    ("pg_settings", crate::pg_settings::FUNCTION),
    ("pg_stat_activity", crate::pg_stat_activity::FUNCTION),
    ("pg_roles", crate::pg_roles::FUNCTION),
];

/// Replaces the statements' references to the tables (bare or in `pg_catalog`) with their
/// functions.
pub(crate) fn read_connection_tables(statements: &mut [Statement]) {
    for statement in statements {
        let _ = statement.visit(&mut ConnectionTables);
    }
}

/// A table's rows from its named columns (each nullable, of its array's type).
pub(crate) fn batch_of(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let fields: Vec<Field> =
        columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), true)).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, array)| array).collect())?)
}

struct ConnectionTables;

impl VisitorMut for ConnectionTables {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, args, .. } = factor else { return ControlFlow::Continue(()) };
        let table = match zicht_engine::name_parts(name).as_slice() {
            [table] => table.clone(),
            [.., schema, table] if schema == "pg_catalog" => table.clone(),
            _ => return ControlFlow::Continue(()),
        };
        if let Some((table, function)) = TABLES.iter().find(|(name, _)| *name == table)
            && args.is_none()
        {
            *name = ObjectName::from(vec![Ident::new(*function)]);
            *args = Some(datafusion::sql::sqlparser::ast::TableFunctionArgs { args: vec![], settings: None });
            if alias.is_none() {
                *alias = Some(TableAlias { explicit: true, name: Ident::new(*table), columns: vec![], at: None });
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn connection_tables_are_read_from_the_connection() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'max_index_keys'; \
             SELECT s.name FROM PG_SETTINGS s JOIN other.pg_settings o ON true; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid='7'",
        )
        .unwrap();
        read_connection_tables(&mut statements);
        assert_eq!(
            statements[0].to_string(),
            "SELECT setting FROM zicht_pg_settings() AS pg_settings WHERE name = 'max_index_keys'"
        );
        assert_eq!(
            statements[1].to_string(),
            "SELECT s.name FROM zicht_pg_settings() s JOIN other.pg_settings o ON true"
        );
        assert_eq!(
            statements[2].to_string(),
            "SELECT pg_terminate_backend(pid) FROM zicht_pg_stat_activity() AS pg_stat_activity WHERE pid = '7'"
        );
    }
}
