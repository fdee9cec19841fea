//! Parameters of the extended protocol as PostgreSQL types them.
//!
//! - A parameter typed in Parse has that type (psycopg declares `int8` for a Python int, `date`
//!   for a date): `SELECT $1` answers a column of that type, as PostgreSQL's does. DataFusion
//!   infers a parameter's type from its use only, so each typed `$n` is planned as
//!   `CAST($n AS type)` ([`typed_placeholders`]).
//! - A date sent untyped as text is read as PostgreSQL reads date input: pgjdbc's `setDate`
//!   sends `'2024-01-31 +00'` (with a zone) with OID 0 for `CAST(? AS date)`; such a parameter
//!   is typed date ([`cast_parameter_types`], which types every parameter cast to a type, as
//!   PostgreSQL does: `$1::int` is int4), and its date is the text's first part, the rest (a time,
//!   a zone) does not change it ([`decode_parameters`]).

use std::ops::ControlFlow;

use arrow_pg::datatypes::df::deserialize_parameters;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, CastKind, Expr, Statement, Value, visit_expressions_mut};
use pgwire::api::Type;
use pgwire::api::portal::Portal;

use crate::error::{WireError, WireResult};

/// Wraps each `$n` that Parse gave a type in a cast to that type (see the module's docs). Types
/// this server has no SQL name for are left to inference.
pub(crate) fn typed_placeholders(statement: &mut Statement, types: &[Option<Type>]) {
    if types.iter().all(|declared| declared.as_ref().and_then(sql_type).is_none()) {
        return;
    }
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Value(value) = expr
            && let Value::Placeholder(name) = &value.value
            && let Some(data_type) = placeholder_number(name)
                .and_then(|n| types.get(n - 1))
                .and_then(|declared| declared.as_ref().and_then(sql_type))
        {
            let placeholder = std::mem::replace(expr, Expr::Value(Value::Null.into()));
            *expr =
                Expr::Cast { kind: CastKind::Cast, expr: Box::new(placeholder), data_type, array: false, format: None };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The parameters (from 0) cast to a type where they stand (`$1::int`, `CAST($2 AS date)`), with
/// that type: DataFusion infers no type from a cast, so without this their type would be unknown
/// and described as text, and drivers that encode by the described type (pgx, asyncpg) would
/// refuse to send a number for `$1::int + 1`. A parameter cast to date is read as PostgreSQL
/// reads date input (see [`decode_parameters`]); Arrow reads none with a time or zone.
pub(crate) fn cast_parameter_types(statement: &Statement) -> Vec<(usize, DataType)> {
    cast_parameter_types_of(std::slice::from_ref(statement))
}

/// [`cast_parameter_types`] of the statement as the client wrote it, before the rewrites of
/// [`crate::compat`], which may drop an argument (SQLAlchemy's `generate_subscripts(indkey,
/// $1::INTEGER)` loses its dimension, and asyncpg then refuses to send an int for a parameter
/// described as unknown); `None` when only the compatibility parser reads it.
pub(crate) fn written_parameter_types(sql: &str) -> Option<Vec<(usize, DataType)>> {
    use datafusion::sql::sqlparser::{dialect::PostgreSqlDialect, parser::Parser};
    // The parser's default recursion limit bounds how deep a hostile statement may nest.
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    Some(cast_parameter_types_of(&statements))
}

fn cast_parameter_types_of(statements: &[Statement]) -> Vec<(usize, DataType)> {
    let mut typed = Vec::new();
    for statement in statements {
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(statement, |expr| {
            if let Expr::Cast { expr: cast, data_type, array: false, .. } = expr
                && let Expr::Value(value) = cast.as_ref()
                && let Value::Placeholder(name) = &value.value
                && let Some(n) = placeholder_number(name)
                && let Some(data_type) = arrow_type(data_type)
            {
                typed.push((n - 1, data_type));
            }
            ControlFlow::<()>::Continue(())
        });
    }
    typed
}

/// The Arrow type of a cast's SQL type, for the types parameters are commonly cast to.
fn arrow_type(data_type: &ast::DataType) -> Option<DataType> {
    use ast::DataType as Sql;
    Some(match data_type {
        Sql::Boolean | Sql::Bool => DataType::Boolean,
        Sql::SmallInt(_) | Sql::Int2(_) => DataType::Int16,
        Sql::Int(_) | Sql::Integer(_) | Sql::Int4(_) => DataType::Int32,
        // An oid is unsigned 32-bit in PostgreSQL; every oid here fits int4, as which it is sent.
        oid if crate::compat::is_pg_type(oid, "oid") => DataType::Int32,
        Sql::BigInt(_) | Sql::Int8(_) => DataType::Int64,
        Sql::Real | Sql::Float4 => DataType::Float32,
        Sql::DoublePrecision | Sql::Float8 => DataType::Float64,
        Sql::Text | Sql::Varchar(_) | Sql::CharacterVarying(_) | Sql::String(_) | Sql::Char(_) | Sql::Character(_) => {
            DataType::Utf8
        }
        Sql::Date => DataType::Date32,
        // asyncpg's type introspection selects `WHERE t.oid = any($1::oid[])`: described as
        // unknown, asyncpg would introspect that type with the same statement, endlessly.
        // `oid[]` stays `oid[]` ([`crate::oid_arrays`]).
        Sql::Array(ast::ArrayElemTypeDef::SquareBracket(element, _)) => match element.as_ref() {
            oid if crate::compat::is_pg_type(oid, "oid") => crate::oid_arrays::oid_list_type(),
            element => DataType::new_list(arrow_type(element)?, true),
        },
        _ => return None,
    })
}

fn placeholder_number(name: &str) -> Option<usize> {
    name.strip_prefix('$')?.parse::<usize>().ok().filter(|n| *n >= 1)
}

/// The SQL type of a parameter type clients declare.
fn sql_type(declared: &Type) -> Option<ast::DataType> {
    Some(match *declared {
        Type::BOOL => ast::DataType::Boolean,
        Type::INT2 => ast::DataType::SmallInt(None),
        Type::INT4 => ast::DataType::Integer(None),
        Type::INT8 => ast::DataType::BigInt(None),
        Type::FLOAT4 => ast::DataType::Real,
        Type::FLOAT8 => ast::DataType::DoublePrecision,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => ast::DataType::Text,
        Type::DATE => ast::DataType::Date,
        _ => return None,
    })
}

/// A portal's parameters as values of the types the plan needs (see the module's docs).
pub(crate) fn decode_parameters<S: Clone>(
    portal: &Portal<S>,
    inferred: &[Option<DataType>],
) -> WireResult<ParamValues> {
    let untyped_dates: Vec<usize> = (0..portal.parameter_len())
        .filter(|&i| {
            let declared = portal.statement.parameter_types.get(i).cloned().flatten();
            let untyped = declared.is_none_or(|declared| declared == Type::UNKNOWN);
            untyped && portal.parameter_format.is_text(i) && matches!(inferred.get(i), Some(Some(DataType::Date32)))
        })
        .collect();
    let read_as: Vec<Option<&DataType>> = inferred
        .iter()
        .enumerate()
        .map(|(i, data_type)| if untyped_dates.contains(&i) { Some(&DataType::Utf8) } else { data_type.as_ref() })
        .collect();
    let mut values = deserialize_parameters(portal, &read_as).map_err(|e| WireError::Parameter(e.to_string()))?;
    if let ParamValues::List(list) = &mut values {
        for i in untyped_dates {
            if let Some(entry) = list.get_mut(i) {
                entry.value = date_value(&entry.value)?;
            }
        }
    }
    Ok(values)
}

fn date_value(text: &ScalarValue) -> WireResult<ScalarValue> {
    let text = match text {
        ScalarValue::Utf8(text) | ScalarValue::Utf8View(text) | ScalarValue::LargeUtf8(text) => text,
        other => return Ok(other.clone()),
    };
    let Some(text) = text else { return Ok(ScalarValue::Date32(None)) };
    match date_input(text) {
        Some(date) => Ok(date),
        None => Err(WireError::InvalidDatetime(format!("invalid input syntax for type date: \"{text}\""))),
    }
}

/// The date of a date input `YYYY-MM-DD`, followed by nothing or by a time or zone (`+00`,
/// `00:00:00+01`, `T12:00`), read by Arrow's date parser.
fn date_input(text: &str) -> Option<ScalarValue> {
    let text = text.trim();
    let end = text.find(|c: char| c.is_whitespace() || c == 'T').unwrap_or(text.len());
    let day = &text[..end];
    let well_formed = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !well_formed {
        return None;
    }
    ScalarValue::Utf8(Some(day.to_string())).cast_to(&DataType::Date32).ok().filter(|date| !date.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_the_first_part_of_its_input() {
        let date = |text| date_input(text).map(|date| date.to_string());
        assert_eq!(date("2024-01-31 +00").as_deref(), Some("2024-01-31"));
        assert_eq!(date("2024-01-31").as_deref(), Some("2024-01-31"));
        assert_eq!(date(" 2024-02-29 00:00:00+01 ").as_deref(), Some("2024-02-29"));
        assert_eq!(date("2024-01-31T12:00").as_deref(), Some("2024-01-31"));
        assert_eq!(date("2023-02-29"), None);
        assert_eq!(date("31-01-2024"), None);
        assert_eq!(date(""), None);
    }

    #[test]
    fn parameters_cast_to_a_type_are_found() {
        let sql = "SELECT CAST($2 AS date), $1::date, CAST($3 AS text), $4::int + 1, $5::bigint[], $6::regclass";
        let statements = crate::compat::parse_statements(sql).unwrap();
        let typed = [
            (1, DataType::Date32),
            (0, DataType::Date32),
            (2, DataType::Utf8),
            (3, DataType::Int32),
            (4, DataType::new_list(DataType::Int64, true)),
        ];
        assert_eq!(cast_parameter_types(&statements[0]), typed);
        let sqlalchemy = "SELECT generate_subscripts(i.indkey, $1::INTEGER), $2::REGCLASS FROM pg_catalog.pg_index i \
                          JOIN pg_catalog.pg_constraint c ON c.contype = $3::CHAR AND c.conrelid IN ($4::OID)";
        let typed = [(0, DataType::Int32), (2, DataType::Utf8), (3, DataType::Int32)];
        assert_eq!(written_parameter_types(sqlalchemy).unwrap(), typed);
        let asyncpg = written_parameter_types("SELECT t.oid FROM pg_type t WHERE t.oid = any($1::oid[])").unwrap();
        assert_eq!(asyncpg, [(0, crate::oid_arrays::oid_list_type())]);
        assert_eq!(written_parameter_types("SELEC $1::int"), None);
    }

    #[test]
    fn typed_placeholders_are_cast_to_their_type() {
        let mut statements = crate::compat::parse_statements("SELECT $1 AS i, $2 AS t, $3 + 1 AS n").unwrap();
        typed_placeholders(&mut statements[0], &[Some(Type::INT8), Some(Type::UNKNOWN), Some(Type::INT2)]);
        assert_eq!(statements[0].to_string(), "SELECT CAST($1 AS BIGINT) AS i, $2 AS t, CAST($3 AS SMALLINT) + 1 AS n");
    }
}
