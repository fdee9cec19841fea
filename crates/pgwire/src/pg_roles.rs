//! `pg_catalog.pg_roles` as a connection sees it: one row, its own user's role, with PostgreSQL
//! 15's columns. psql's `\du`, DBeaver's and pgAdmin's role lists read it; a row of the asking
//! user also lets a tool join `pg_roles` to find who it is connected as.
//!
//! Other users are not listed: who else has an account on the warehouse is not this user's to
//! know (as with [`crate::pg_stat_activity`]). The role can log in and can do nothing else a
//! PostgreSQL role attribute grants (no superuser, no creating roles or databases): the server
//! is read-only.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, ListArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;

/// The name of the table function each connection defines.
pub(crate) const FUNCTION: &str = "zicht_pg_roles";

/// The oid of `user`'s role: stable for the life of the server, above PostgreSQL's own oids
/// (below 16384), and never 10, the bootstrap superuser that owns the catalog.
pub(crate) fn role_oid(user: &str) -> i32 {
    let mut hasher = DefaultHasher::new();
    user.hash(&mut hasher);
    16_384 + i32::try_from(hasher.finish() % 1_000_000_000).unwrap_or(0)
}

/// `zicht_pg_roles()`: the asking user's role as the one row of pg_roles.
#[derive(Debug)]
pub(crate) struct PgRoles {
    user: String,
}

impl PgRoles {
    pub(crate) fn new(user: &str) -> PgRoles {
        PgRoles { user: user.to_string() }
    }
}

impl TableFunctionImpl for PgRoles {
    fn call_with_args(&self, _args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let batch = role_batch(&self.user)?;
        Ok(Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))
    }
}

/// The one row of `user`'s role.
fn role_batch(user: &str) -> Result<RecordBatch> {
    let flag = |value: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![value])) };
    let null_text = || -> ArrayRef { Arc::new(StringArray::new_null(1)) };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("rolname", Arc::new(StringArray::from(vec![user]))),
        ("rolsuper", flag(false)),
        ("rolinherit", flag(true)),
        ("rolcreaterole", flag(false)),
        ("rolcreatedb", flag(false)),
        ("rolcanlogin", flag(true)),
        ("rolreplication", flag(false)),
        ("rolconnlimit", Arc::new(Int32Array::from(vec![-1]))),
        // PostgreSQL shows every password as ********; a NULL says there is none to show here.
        ("rolpassword", null_text()),
        ("rolvaliduntil", Arc::new(TimestampMicrosecondArray::new_null(1).with_timezone("UTC"))),
        ("rolbypassrls", flag(false)),
        ("rolconfig", Arc::new(ListArray::new_null(Arc::new(Field::new_list_field(DataType::Utf8, true)), 1))),
        ("oid", Arc::new(Int32Array::from(vec![role_oid(user)]))),
    ];
    crate::connection_tables::batch_of(columns)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn the_one_role_is_the_users_own_and_can_only_log_in() {
        let batch = role_batch("analist").unwrap();
        assert_eq!((batch.num_rows(), batch.num_columns()), (1, 13), "PostgreSQL 15's columns");
        assert_eq!(batch.column_by_name("rolname").unwrap().as_string::<i32>().value(0), "analist");
        let flag = |name: &str| batch.column_by_name(name).unwrap().as_boolean().value(0);
        assert!(flag("rolcanlogin") && !flag("rolsuper") && !flag("rolcreaterole") && !flag("rolcreatedb"));
        let oid = batch.column_by_name("oid").unwrap().as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        assert_eq!(oid.value(0), role_oid("analist"));
        assert!(role_oid("analist") >= 16_384 && role_oid("analist") != role_oid("beheer"));
        assert!(batch.column_by_name("rolpassword").unwrap().is_null(0));
    }
}
