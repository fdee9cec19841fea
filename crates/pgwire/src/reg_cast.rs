//! `'name'::regclass` (and `regtype`, `regproc`, `regnamespace`) of a name that does not exist is
//! an error, as in PostgreSQL, not NULL.
//!
//! The compatibility parser turns such a cast into a lookup in pg_catalog (`(SELECT c.oid FROM
//! pg_catalog.pg_class c ... WHERE c.relname = 'name')`), which finds nothing for an unknown name.
//! PostgreSQL answers `relation "name" does not exist` (42P01; 42704 for a type, 42883 for a
//! function, 3F000 for a schema), and clients rely on that to test whether a table exists. So each
//! such cast of a string literal is first wrapped in `zicht_existing_oid(type, message, cast)`,
//! which passes the oid through and fails with PostgreSQL's message when there is none (the type
//! names the column, as PostgreSQL names it). A cast of a name computed at run time is a lookup
//! of that name ([`resolve_computed_regclass`]).

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, Statement, Value, visit_expressions_mut,
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
                "regproc" | "regtype" => in_catalog_by_bare_name(cast, &name),
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

/// Replaces each cast of a computed name to `regclass` (Metabase's
/// `CAST(format('%I.%I', table_schema, table_name) AS regclass)`, which datafusion-pg-catalog
/// plans as a cast of the text to a number) with a lookup of the qualified name in pg_class, as
/// PostgreSQL resolves it. A name that is not `schema.relation` as `quote_ident` writes it finds
/// nothing (NULL) here.
pub fn resolve_computed_regclass(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Some(name) = computed_regclass_name(expr)
            && let Some(lookup) = crate::compat::parse_expression(&format!(
                "(SELECT zicht_rel.oid FROM pg_catalog.pg_class zicht_rel JOIN pg_catalog.pg_namespace zicht_ns \
                 ON zicht_rel.relnamespace = zicht_ns.oid WHERE {})",
                relation_named(name)
            ))
        {
            *expr = lookup;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The condition on `zicht_ns` (pg_namespace) and `zicht_rel` (pg_class) that finds the relation
/// `name` names. `format('%I.%I', schema, table)` compares the two parts with the namespace's
/// and the relation's names, so that the columns it reads stand alone on their side (DataFusion
/// turns a lookup correlated on columns into a join, one on an expression of them not).
pub fn relation_named(name: &Expr) -> String {
    if let Expr::Function(function) = name
        && function.name.to_string().eq_ignore_ascii_case("format")
        && let [pattern, schema, table] = crate::compat::arguments(function)[..]
        && pattern.to_string() == "'%I.%I'"
    {
        return format!("zicht_ns.nspname = {} AND zicht_rel.relname = {}", uncast(schema), uncast(table));
    }
    format!("quote_ident(zicht_ns.nspname) || '.' || quote_ident(zicht_rel.relname) = {name}")
}

/// `expr` without casts to text around it.
fn uncast(expr: &Expr) -> &Expr {
    match expr {
        Expr::Cast { expr: inner, data_type, .. }
            if matches!(data_type.to_string().to_ascii_lowercase().as_str(), "text" | "varchar") =>
        {
            uncast(inner)
        }
        Expr::Nested(inner) => uncast(inner),
        other => other,
    }
}

/// The computed name `expr` casts to `regclass` (through casts of the result to `oid`).
pub fn computed_regclass_name(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Nested(inner) => computed_regclass_name(inner),
        Expr::Cast { expr: operand, data_type, .. } => match crate::compat::cast_type_name(data_type).as_str() {
            "regclass" if is_computed_text(operand) => Some(operand),
            "oid" => computed_regclass_name(operand),
            _ => None,
        },
        _ => None,
    }
}

/// Text computed from other values: a call (`format`, `concat`, ...), a concatenation or a cast
/// to text. A literal is [`check_reg_casts`]'s; a column is an oid. `pg_get_serial_sequence` is
/// always NULL here (the warehouse has no sequences), and its NULL cast to regclass needs no
/// lookup: SQLAlchemy's `get_columns` casts it inside a correlated subquery, where a second
/// subquery could not be planned.
fn is_computed_text(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(inner) => is_computed_text(inner),
        Expr::Function(function) => !function.name.to_string().to_ascii_lowercase().ends_with("pg_get_serial_sequence"),
        Expr::BinaryOp { op: BinaryOperator::StringConcat, .. } => true,
        Expr::Cast { data_type, .. } => {
            matches!(data_type.to_string().to_ascii_lowercase().as_str(), "text" | "varchar" | "character varying")
        }
        _ => false,
    }
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
    Some((crate::compat::cast_type_name(data_type), name.clone()))
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

/// A function or type qualified with `pg_catalog.` (pgjdbc's `'pg_catalog.array_in'::regproc`,
/// psql's and pgspecial's `'pg_catalog.trigger'::pg_catalog.regtype`) is looked up by its bare
/// name: PostgreSQL's own are all in pg_catalog (the warehouse's functions, in public, have names
/// of their own), and the compatibility parser's lookup compares names without their schema.
fn in_catalog_by_bare_name(mut cast: Expr, name: &str) -> Expr {
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
    fn a_computed_name_is_looked_up_in_pg_class() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT CAST(format('%I.%I', s, CAST(t AS TEXT)) AS regclass), c::regclass FROM x",
        )
        .unwrap();
        resolve_computed_regclass(&mut statements);
        let sql = statements[0].to_string();
        assert!(sql.contains("WHERE zicht_ns.nspname = s AND zicht_rel.relname = t)"), "{sql}");
        assert!(sql.ends_with(", c::REGCLASS FROM x"), "{sql}");
        let serial = "SELECT pg_catalog.pg_get_serial_sequence('t', 'c')::regclass::oid";
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, serial).unwrap();
        resolve_computed_regclass(&mut statements);
        assert_eq!(statements[0].to_string(), "SELECT pg_catalog.pg_get_serial_sequence('t', 'c')::REGCLASS::oid");
    }

    #[test]
    fn casts_of_names_are_checked_and_everything_else_is_left_alone() {
        assert_eq!(
            rewritten("SELECT 'nosuch'::regclass, 'int4'::pg_catalog.regtype"),
            "SELECT zicht_existing_oid('regclass', 'relation \"nosuch\" does not exist', \
             coalesce('pg_catalog.nosuch'::REGCLASS, 'nosuch'::REGCLASS)), \
             zicht_existing_oid('regtype', 'type \"int4\" does not exist', 'int4'::pg_catalog.regtype)"
        );
        assert_eq!(
            rewritten("SELECT 'pg_catalog.trigger'::pg_catalog.regtype"),
            "SELECT zicht_existing_oid('regtype', 'type \"pg_catalog.trigger\" does not exist', \
             'trigger'::pg_catalog.regtype)"
        );
        for sql in ["SELECT '1259'::regclass", "SELECT $1::regclass", "SELECT 'x'::text", "SELECT c::regclass FROM t"] {
            let plain = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0].to_string();
            assert_eq!(rewritten(sql), plain, "{sql}");
        }
    }
}
