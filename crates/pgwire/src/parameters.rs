//! Parameters of the extended protocol as PostgreSQL types them.
//!
//! - A parameter typed in Parse has that type (psycopg declares `int8` for a Python int, `date`
//!   for a date): `SELECT $1` answers a column of that type, as PostgreSQL's does. DataFusion
//!   infers a parameter's type from its use only, so each typed `$n` is planned as
//!   `CAST($n AS type)` ([`typed_placeholders`]).
//! - A date sent untyped as text is read as PostgreSQL reads date input: pgjdbc's `setDate`
//!   sends `'2024-01-31 +00'` (with a zone) with OID 0 for `CAST(? AS date)`; such a parameter
//!   is typed date ([`cast_to_date`]), and its date is the text's first part, the rest (a time,
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

/// The parameters (from 0) cast to date where they stand, `CAST($n AS date)`: DataFusion infers
/// no type for them, so their text would be cast by Arrow, which reads no PostgreSQL date input
/// with a time or zone; typed Date32 here, they are read as PostgreSQL reads them.
pub(crate) fn cast_to_date(statement: &Statement) -> Vec<usize> {
    let mut positions = Vec::new();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(statement, |expr| {
        if let Expr::Cast { expr: cast, data_type: ast::DataType::Date, .. } = expr
            && let Expr::Value(value) = cast.as_ref()
            && let Value::Placeholder(name) = &value.value
            && let Some(n) = placeholder_number(name)
        {
            positions.push(n - 1);
        }
        ControlFlow::<()>::Continue(())
    });
    positions
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
    fn parameters_cast_to_date_are_found() {
        let statements =
            crate::compat::parse_statements("SELECT CAST($2 AS date), $1::date, CAST($3 AS text)").unwrap();
        assert_eq!(cast_to_date(&statements[0]), [1, 0]);
    }

    #[test]
    fn typed_placeholders_are_cast_to_their_type() {
        let mut statements = crate::compat::parse_statements("SELECT $1 AS i, $2 AS t, $3 + 1 AS n").unwrap();
        typed_placeholders(&mut statements[0], &[Some(Type::INT8), Some(Type::UNKNOWN), Some(Type::INT2)]);
        assert_eq!(statements[0].to_string(), "SELECT CAST($1 AS BIGINT) AS i, $2 AS t, CAST($3 AS SMALLINT) + 1 AS n");
    }
}
