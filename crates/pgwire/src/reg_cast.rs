//! `'name'::regclass` (and `regtype`, `regproc`, `regnamespace`) of a name that does not exist is
//! an error, as in PostgreSQL, not NULL.
//!
//! The compatibility parser turns such a cast into a lookup in pg_catalog (`(SELECT c.oid FROM
//! pg_catalog.pg_class c ... WHERE c.relname = 'name')`), which finds nothing for an unknown name.
//! PostgreSQL answers `relation "name" does not exist` (42P01; 42704 for a type, 42883 for a
//! function, 3F000 for a schema), and clients rely on that to test whether a table exists. So each
//! such cast of a string literal is first wrapped in `zicht_existing_oid(type, message, cast)`,
//! which passes the oid through and fails with PostgreSQL's message when there is none (the type
//! names the column, as PostgreSQL names it).

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    Statement, Value, visit_expressions_mut,
};

pub const NAME: &str = "zicht_existing_oid";

/// Wraps every oid-alias cast of a name in `statements`; true when there was one.
pub fn check_reg_casts(statements: &mut [Statement]) -> bool {
    let mut found = false;
    // Post-order: the wrapped cast is not visited again.
    let mut check = |expr: &mut Expr| {
        if let Some((alias, name)) = oid_cast_of_name(expr)
            && let Some(kind) = missing_kind(&alias)
        {
            let message = format!("{kind} \"{name}\" does not exist");
            let cast = std::mem::replace(expr, Expr::Value(Value::Null.into()));
            let oid = match alias.as_str() {
                "regclass" => catalog_first(cast, &name),
                "regproc" => function_in_catalog(cast, &name),
                _ => cast,
            };
            *expr = call(NAME, vec![text(alias), text(message), oid]);
            found = true;
        }
        ControlFlow::<()>::Continue(())
    };
    for statement in statements.iter_mut() {
        let _ = visit_expressions_mut(statement, &mut check);
    }
    found
}

/// The oid alias (lowercased, without `pg_catalog.`) and the name, when `expr` casts a name (not
/// a number) to a type.
fn oid_cast_of_name(expr: &Expr) -> Option<(String, String)> {
    let Expr::Cast { expr: operand, data_type, .. } = expr else { return None };
    let Expr::Value(value) = operand.as_ref() else { return None };
    let Value::SingleQuotedString(name) = &value.value else { return None };
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let alias = data_type.to_string().to_ascii_lowercase();
    let alias = alias.strip_prefix("pg_catalog.").unwrap_or(&alias).to_string();
    Some((alias, name.clone()))
}

/// What PostgreSQL's message calls a missing name of this oid alias; None for other types.
fn missing_kind(alias: &str) -> Option<&'static str> {
    match alias {
        "regclass" => Some("relation"),
        "regtype" => Some("type"),
        "regproc" => Some("function"),
        "regnamespace" => Some("schema"),
        _ => None,
    }
}

/// An unqualified relation name is looked up in pg_catalog first, as PostgreSQL's search path
/// always begins there (pgjdbc asks for `'pg_class'::regclass`); the compatibility parser looks in
/// the current schema only.
fn catalog_first(cast: Expr, name: &str) -> Expr {
    if name.contains('.') || name.contains('"') {
        return cast;
    }
    let mut in_catalog = cast.clone();
    if let Expr::Cast { expr, .. } = &mut in_catalog {
        **expr = text(format!("pg_catalog.{name}"));
    }
    call("coalesce", vec![in_catalog, cast])
}

/// A function qualified with `pg_catalog.` (pgjdbc's `'pg_catalog.array_in'::regproc`) is looked
/// up by its bare name: pg_proc holds PostgreSQL's own functions only, all in pg_catalog, and the
/// compatibility parser's lookup compares names without their schema.
fn function_in_catalog(mut cast: Expr, name: &str) -> Expr {
    if let Some(bare) = name.strip_prefix("pg_catalog.")
        && let Expr::Cast { expr, .. } = &mut cast
    {
        **expr = text(bare.to_string());
    }
    cast
}

fn text(text: String) -> Expr {
    Expr::Value(Value::SingleQuotedString(text).into())
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    let args = args.into_iter().map(|arg| FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))).collect();
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList { duplicate_treatment: None, args, clauses: vec![] }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// `zicht_existing_oid(type, message, oid)`: `oid`, or an error with `message` where it is NULL.
pub fn existing_oid_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ExistingOid { signature: Signature::any(3, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExistingOid {
    signature: Signature,
}

impl ScalarUDFImpl for ExistingOid {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [_, _, oid] => Ok(oid.clone()),
            _ => plan_err!("{NAME} takes a type, a message and an oid"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [_, message, oid] = args.args.as_slice() else {
            return exec_err!("{NAME} takes a type, a message and an oid");
        };
        let oids = oid.to_array(args.number_rows)?;
        if oids.null_count() > 0 {
            let message = message.to_array(1)?;
            let message = datafusion::common::ScalarValue::try_from_array(&message, 0)?;
            return exec_err!("{}", message.to_string());
        }
        Ok(oid.clone())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        check_reg_casts(&mut statements);
        statements[0].to_string()
    }

    #[test]
    fn casts_of_names_are_checked_and_everything_else_is_left_alone() {
        assert_eq!(
            rewritten("SELECT 'nosuch'::regclass, 'int4'::pg_catalog.regtype"),
            "SELECT zicht_existing_oid('regclass', 'relation \"nosuch\" does not exist', \
             coalesce('pg_catalog.nosuch'::REGCLASS, 'nosuch'::REGCLASS)), \
             zicht_existing_oid('regtype', 'type \"int4\" does not exist', 'int4'::pg_catalog.regtype)"
        );
        for sql in ["SELECT '1259'::regclass", "SELECT $1::regclass", "SELECT 'x'::text", "SELECT c::regclass FROM t"] {
            let plain = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0].to_string();
            assert_eq!(rewritten(sql), plain, "{sql}");
        }
    }
}
