//! `has_table_privilege()` and its siblings as a read-only warehouse answers them: a user may read
//! (`SELECT`, `USAGE` of a schema, `CONNECT` to the database) and nothing else (`INSERT`,
//! `UPDATE`, `DELETE`, `TRUNCATE`, `CREATE`, `TEMPORARY`, ...). BI tools grey out editing with
//! these; datafusion-pg-catalog answers true to everything.
//!
//! Reading a protected table is a privilege every user has: what comes back is decided by the
//! suppression layer, not by these functions.

use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::catalog::{function_result, text_argument};

/// The privilege functions clients call, each with (object, privilege) and (user, object, privilege).
pub fn functions() -> Vec<ScalarUDF> {
    [
        "has_table_privilege",
        "has_any_column_privilege",
        "has_column_privilege",
        "has_schema_privilege",
        "has_database_privilege",
    ]
    .into_iter()
    .map(|name| ScalarUDF::new_from_impl(ReadOnlyPrivilege::new(name)))
    .collect()
}

/// Whether a privilege list (`'SELECT'`, `'INSERT, UPDATE'`, `'USAGE WITH GRANT OPTION'`) holds
/// one that a reader has: PostgreSQL answers true if any of the listed ones is held.
fn readable(privileges: &str) -> bool {
    privileges
        .split(',')
        .map(|p| p.trim().to_ascii_uppercase())
        .any(|p| matches!(p.as_str(), "SELECT" | "USAGE" | "CONNECT"))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ReadOnlyPrivilege {
    name: &'static str,
    signature: Signature,
}

impl ReadOnlyPrivilege {
    fn new(name: &'static str) -> ReadOnlyPrivilege {
        // has_column_privilege also takes (object, column, privilege) and (user, object, column, privilege).
        let signatures = [TypeSignature::Any(2), TypeSignature::Any(3), TypeSignature::Any(4)];
        ReadOnlyPrivilege { name, signature: Signature::one_of(signatures.to_vec(), Volatility::Stable) }
    }
}

impl ScalarUDFImpl for ReadOnlyPrivilege {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let privileges = text_argument(arrays.last().expect("two arguments at least"))?;
        let answers: BooleanArray = privileges.iter().map(|p| p.map(readable)).collect();
        function_result(&args.args, Arc::new(answers))
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn a_reader_may_read_and_nothing_else() {
        for held in ["SELECT", "select", "USAGE", "CONNECT", "INSERT, SELECT"] {
            assert!(readable(held), "{held}");
        }
        for refused in
            ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "CREATE", "TEMPORARY", "TEMP"]
        {
            assert!(!readable(refused), "{refused}");
        }
        assert!(!readable("SELECT WITH GRANT OPTION"), "no user may grant");
    }
}
