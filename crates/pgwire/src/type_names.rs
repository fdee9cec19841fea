//! A type oid shown as text is the type's name, as PostgreSQL's `regtype` output shows it.
//!
//! datafusion-pg-catalog plans a cast of a column to `regtype` as the oid itself (an Int32), so
//! `prorettype::regtype::text` answered `'701'` where PostgreSQL answers `double precision`, and
//! pgcli's function list (`COALESCE(proallargtypes::regtype[], proargtypes::regtype[])::text[]`)
//! got numbers where it strips names. Such a cast to text is rewritten to [`NAME`] (an alias of
//! datafusion-pg-catalog's `format_type(oid, NULL)`), and a cast of a `regtype[]` to `text[]` to
//! [`NAMES`], which formats each element the same way; both keep the column name PostgreSQL
//! gives the cast ([`crate::names`]).
//!
//! `pg_get_function_result(oid)` and `pg_get_function_arguments(oid)` (psql's and pgcli's `\df`)
//! read the function's row of pg_proc the same way: its result type's name, and its arguments as
//! `name type, ...` ([`ARGUMENTS`]).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::config::ConfigOptions;
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::sql::sqlparser::ast::{self, Expr, Statement, visit_expressions_mut};
use datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf;

/// `format_type(oid, NULL)` under the name a `regtype` cast to text is planned with.
pub(crate) const NAME: &str = "zicht_type_name";
/// The list function a `regtype[]` cast to `text[]` is planned with.
pub(crate) const NAMES: &str = "zicht_type_names";
/// `zicht_function_arguments(proargnames, proargtypes)`: `name type, ...`.
pub(crate) const ARGUMENTS: &str = "zicht_function_arguments";

/// Whether `function` is one of the rewrites here, which PostgreSQL names after their argument.
pub(crate) fn is_type_name_call(function: &ast::Function) -> bool {
    let name = function.name.to_string();
    name == NAME || name == NAMES
}

/// Rewrites casts of type oids to text in `statements` (see the module's docs).
pub(crate) fn rewrite_type_names(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Expr::Cast { expr: operand, data_type, .. } = expr {
            let target = crate::compat::cast_type_name(data_type);
            let rewritten = match target.as_str() {
                "text" | "varchar" | "character varying" if is_oid_alias(operand, "regtype") => {
                    let oid = cast_operand(operand);
                    crate::compat::parse_expression(&format!("{NAME}({oid}, NULL)"))
                }
                "text[]" | "varchar[]" if is_oid_alias(operand, "regtype[]") => {
                    crate::compat::parse_expression(&format!("{NAMES}({operand})"))
                }
                _ => None,
            };
            if let Some(rewritten) = rewritten {
                *expr = rewritten;
            }
        } else if let Expr::Function(function) = expr
            && let Some(rewritten) = function_description(function)
        {
            *expr = rewritten;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `pg_get_function_result(oid)` and `pg_get_function_arguments(oid)` as reads of pg_proc.
fn function_description(function: &ast::Function) -> Option<Expr> {
    let name = zicht_engine::name_parts(&function.name);
    let value = match name.last().map(String::as_str) {
        Some("pg_get_function_result") => format!("{NAME}(zicht_fn.prorettype, NULL)"),
        Some("pg_get_function_arguments") => format!("{ARGUMENTS}(zicht_fn.proargnames, zicht_fn.proargtypes)"),
        _ => return None,
    };
    let [oid] = crate::compat::arguments(function)[..] else { return None };
    crate::compat::parse_expression(&format!(
        "(SELECT {value} FROM pg_catalog.pg_proc zicht_fn WHERE zicht_fn.oid = {oid})"
    ))
}

/// Whether `expr` is a value of the oid alias `alias` (`regtype`, `regtype[]`): a cast to it, in
/// parentheses or not, or a COALESCE of such casts (pgcli's).
fn is_oid_alias(expr: &Expr, alias: &str) -> bool {
    match expr {
        Expr::Nested(inner) => is_oid_alias(inner, alias),
        Expr::Cast { data_type, .. } => crate::compat::cast_type_name(data_type) == alias,
        Expr::Function(function) if function.name.to_string().eq_ignore_ascii_case("coalesce") => {
            let arguments = crate::compat::arguments(function);
            !arguments.is_empty() && arguments.iter().all(|argument| is_oid_alias(argument, alias))
        }
        _ => false,
    }
}

/// The oid a cast to `regtype` casts.
fn cast_operand(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => cast_operand(inner),
        Expr::Cast { expr, .. } => expr,
        other => other,
    }
}

/// The functions the rewrites call: [`NAME`], [`NAMES`] and [`ARGUMENTS`].
pub(crate) fn functions() -> Vec<ScalarUDF> {
    vec![
        create_format_type_udf().with_aliases([NAME]),
        ScalarUDF::new_from_impl(TypeNames { signature: Signature::any(1, Volatility::Immutable) }),
        ScalarUDF::new_from_impl(FunctionArguments { signature: Signature::any(2, Volatility::Immutable) }),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeNames {
    signature: Signature,
}

impl ScalarUDFImpl for TypeNames {
    fn name(&self) -> &str {
        NAMES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Utf8, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let names = match array.data_type() {
            DataType::List(_) => names_of_list(array.as_list::<i32>())?,
            DataType::Null => new_null_array(&DataType::new_list(DataType::Utf8, true), array.len()),
            other => return exec_err!("{NAMES} takes a list of type oids, not {other}"),
        };
        crate::catalog::function_result(&args.args, names)
    }
}

/// `zicht_function_arguments(names, types)`: PostgreSQL's `pg_get_function_arguments` text, each
/// argument's name (where it has one) and type name, joined by `, `.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FunctionArguments {
    signature: Signature,
}

impl ScalarUDFImpl for FunctionArguments {
    fn name(&self) -> &str {
        ARGUMENTS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let names = args.args[0].to_array(args.number_rows)?;
        let types = args.args[1].to_array(args.number_rows)?;
        let (DataType::List(_) | DataType::Null, DataType::List(_)) = (names.data_type(), types.data_type()) else {
            return exec_err!("{ARGUMENTS} takes a list of names and a list of type oids");
        };
        let type_names = names_of_list(types.as_list::<i32>())?;
        let type_names = type_names.as_list::<i32>();
        // Names may come as any string type (Utf8View from a literal): read them as Utf8.
        let names = match names.data_type() {
            DataType::List(_) => Some(cast(&names, &DataType::new_list(DataType::Utf8, true))?),
            _ => None,
        };
        let names = names.as_ref().map(|names| names.as_list::<i32>());
        let text: StringArray = (0..args.number_rows)
            .map(|row| {
                let types = type_names.is_valid(row).then(|| type_names.value(row))?;
                let types = types.as_string::<i32>();
                let names = names.filter(|names| names.is_valid(row)).map(|names| names.value(row));
                let names = names.as_ref().map(|names| names.as_string::<i32>());
                let arguments: Vec<String> = (0..types.len())
                    .map(|i| {
                        let name = names.filter(|names| i < names.len()).map_or("", |names| names.value(i));
                        if name.is_empty() { types.value(i).to_string() } else { format!("{name} {}", types.value(i)) }
                    })
                    .collect();
                Some(arguments.join(", "))
            })
            .collect();
        crate::catalog::function_result(&args.args, Arc::new(text))
    }
}

/// The list with each element formatted by datafusion-pg-catalog's `format_type`.
fn names_of_list(list: &ListArray) -> Result<ArrayRef> {
    let oids = cast(list.values(), &DataType::Int32)?;
    let count = oids.len();
    let modifiers = new_null_array(&DataType::Int32, count);
    let format_type = create_format_type_udf();
    let formatted = format_type.invoke_with_args(ScalarFunctionArgs {
        args: vec![ColumnarValue::Array(oids), ColumnarValue::Array(modifiers)],
        arg_fields: vec![
            Arc::new(Field::new("oid", DataType::Int32, true)),
            Arc::new(Field::new("typemod", DataType::Int32, true)),
        ],
        number_rows: count,
        return_field: Arc::new(Field::new("format_type", DataType::Utf8, true)),
        config_options: Arc::new(ConfigOptions::default()),
    })?;
    let names = cast(&formatted.to_array(count)?, &DataType::Utf8)?;
    let field = Arc::new(Field::new_list_field(DataType::Utf8, true));
    Ok(Arc::new(ListArray::try_new(field, list.offsets().clone(), names, list.nulls().cloned())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = crate::compat::parse_statements(sql).unwrap();
        rewrite_type_names(&mut statements);
        statements[0].to_string()
    }

    #[test]
    fn type_oids_shown_as_text_are_formatted() {
        assert_eq!(
            rewritten("SELECT prorettype::regtype::text FROM t"),
            "SELECT zicht_type_name(prorettype, NULL) FROM t"
        );
        let pgcli = "SELECT COALESCE(proallargtypes::regtype[], proargtypes::regtype[])::text[] FROM t";
        assert!(rewritten(pgcli).starts_with("SELECT zicht_type_names(COALESCE("), "{}", rewritten(pgcli));
        let untouched = "SELECT prorettype::regtype, prorettype::TEXT FROM t";
        assert_eq!(rewritten(untouched), untouched);
    }

    #[tokio::test]
    async fn a_list_of_oids_becomes_a_list_of_names() {
        let ctx = datafusion::prelude::SessionContext::new();
        for function in functions() {
            ctx.register_udf(function);
        }
        let sql = "SELECT zicht_type_names(a) AS n, zicht_function_arguments(names, a) AS arguments \
                   FROM (VALUES ([701, 25], ['x', '']), ([], []), (CAST(NULL AS INT[]), CAST(NULL AS TEXT[]))) \
                   AS t(a, names)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("| [double precision, text] | x double precision, text |"), "{text}");
        assert_eq!(text.matches("[]").count(), 1, "{text}");
    }

    #[test]
    fn function_descriptions_read_pg_proc() {
        let sql = rewritten(
            "SELECT pg_get_function_result(p.oid), pg_catalog.pg_get_function_arguments(p.oid) FROM pg_proc p",
        );
        assert!(sql.contains("(SELECT zicht_type_name(zicht_fn.prorettype, NULL) FROM pg_catalog.pg_proc zicht_fn WHERE zicht_fn.oid = p.oid)"), "{sql}");
        assert!(sql.contains("zicht_function_arguments(zicht_fn.proargnames, zicht_fn.proargtypes)"), "{sql}");
    }
}
