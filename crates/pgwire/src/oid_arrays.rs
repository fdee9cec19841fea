//! Arrays of oids typed `oid[]`, as PostgreSQL types them, where a client needs that type.
//!
//! asyncpg learns every type it has no codec for (any array: `int4[]`, `bool[]`, ...) with its
//! type-info query (asyncpg/introspection.py), which selects `WHERE t.oid = any($1::oid[])` and
//! returns `array_agg(ia.atttypid ...) AS attrtypoids`. It brings codecs for `oid[]` and `text[]`
//! only, so that this query needs no introspection itself. DataFusion loses an oid column's
//! type (its `pg.oid_alias` field metadata) in `array_agg` and `CASE`, so the array would be
//! described `int4[]`, and asyncpg would introspect `int4[]` with the same query, endlessly.
//! Here a parameter cast to `oid[]`, and that query's `attrtypoids` (through
//! `zicht_oid_array()`), are lists whose element field carries the metadata, described and
//! sent as `oid[]`.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_pg::datatypes::PG_OID_ALIAS_KEY;
use datafusion::arrow::array::{Array, AsArray, ListArray, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement, VisitMut, VisitorMut};
use pgwire::api::Type;

/// The function that types its list argument `oid[]`.
pub(crate) const OID_ARRAY: &str = "zicht_oid_array";

/// The column of asyncpg's type-info query that holds attribute type oids.
const ASYNCPG_ATTRIBUTE_TYPES: &str = "attrtypoids";

/// A list of oids: Int32 elements marked as PostgreSQL's `oid`.
pub(crate) fn oid_list_type() -> DataType {
    let metadata = HashMap::from([(PG_OID_ALIAS_KEY.to_string(), "oid".to_string())]);
    DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true).with_metadata(metadata)))
}

/// `oid[]` for a list of oids ([`oid_list_type`]), else nothing.
pub(crate) fn oid_array_type(data_type: &DataType) -> Option<Type> {
    let DataType::List(element) = data_type else { return None };
    (element.metadata().get(PG_OID_ALIAS_KEY).map(String::as_str) == Some("oid")).then_some(Type::OID_ARRAY)
}

pub(crate) fn oid_array_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(OidArray { signature: Signature::any(1, Volatility::Immutable) })
}

/// `zicht_oid_array(list)`: the list's values as Int32 in a list of oids.
#[derive(Debug, PartialEq, Eq, Hash)]
struct OidArray {
    signature: Signature,
}

impl ScalarUDFImpl for OidArray {
    fn name(&self) -> &str {
        OID_ARRAY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(oid_list_type())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), oid_list_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = args.args[0].to_array(args.number_rows)?;
        let oids = match lists.data_type() {
            DataType::Null => new_null_array(&oid_list_type(), lists.len()),
            DataType::List(_) => {
                let lists = cast(&lists, &DataType::new_list(DataType::Int32, true))?;
                let lists = lists.as_list::<i32>();
                let DataType::List(element) = oid_list_type() else { unreachable!("a list type") };
                Arc::new(ListArray::try_new(
                    element,
                    lists.offsets().clone(),
                    Arc::clone(lists.values()),
                    lists.nulls().cloned(),
                )?)
            }
            other => return exec_err!("{OID_ARRAY} takes an array of oids, not {other}"),
        };
        crate::catalog::function_result(&args.args, oids)
    }
}

/// Wraps the select items named `attrtypoids` (asyncpg's type-info query) in `zicht_oid_array()`.
pub(crate) fn type_asyncpg_oid_arrays(statements: &mut [Statement]) {
    for statement in statements {
        let _ = statement.visit(&mut AttributeTypes);
    }
}

struct AttributeTypes;

impl VisitorMut for AttributeTypes {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut datafusion::sql::sqlparser::ast::Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { expr, alias } = item
                    && alias.value.eq_ignore_ascii_case(ASYNCPG_ATTRIBUTE_TYPES)
                {
                    let list =
                        std::mem::replace(expr, Expr::Value(datafusion::sql::sqlparser::ast::Value::Null.into()));
                    *expr = crate::compat::call(OID_ARRAY, list);
                }
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
    fn asyncpgs_attribute_types_are_typed_oid_arrays() {
        let sql = "SELECT ti.attrtypoids FROM (SELECT (CASE WHEN t.typtype = 'c' THEN \
                   (SELECT array_agg(ia.atttypid) FROM pg_attribute ia) ELSE NULL END) AS attrtypoids FROM pg_type t) ti";
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        type_asyncpg_oid_arrays(&mut statements);
        let rewritten = statements[0].to_string();
        assert!(rewritten.contains("zicht_oid_array((CASE WHEN"), "{rewritten}");
        assert!(rewritten.starts_with("SELECT ti.attrtypoids FROM"), "{rewritten}");
        assert_eq!(oid_array_type(&oid_list_type()), Some(Type::OID_ARRAY));
        assert_eq!(oid_array_type(&DataType::new_list(DataType::Int32, true)), None);
    }
}
