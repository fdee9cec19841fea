//! `format(formatstr, args...)`, PostgreSQL's: `%s` a value as text (NULL as nothing), `%I` an
//! identifier quoted where it needs quotes, `%L` a literal (`NULL` for NULL), `%%` a percent sign,
//! and `%n$s` for the n-th argument. Metabase and other tools build qualified names with
//! `format('%I.%I', schema, table)`. Widths and `-` flags are not offered (an error says so).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::catalog::{function_result, quote_literal, text_argument};

pub fn format_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Format {
        signature: Signature::one_of(vec![TypeSignature::VariadicAny], Volatility::Stable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays: Vec<ArrayRef> = ColumnarValue::values_to_arrays(&args.args)?;
        let texts: Vec<StringArray> = arrays.iter().map(text_argument).collect::<Result<_>>()?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let values: Vec<Option<&str>> = texts.iter().map(|t| (!t.is_null(row)).then(|| t.value(row))).collect();
            match values.split_first() {
                Some((Some(template), rest)) => out.append_value(format_row(template, rest)?),
                _ => out.append_null(),
            }
        }
        function_result(&args.args, Arc::new(out.finish()))
    }
}

/// One row: the template with its conversions filled from `values`.
fn format_row(template: &str, values: &[Option<&str>]) -> Result<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // An optional argument position `n$`.
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let position = if digits.is_empty() {
            None
        } else if chars.next_if_eq(&'$').is_some() {
            Some(digits.parse::<usize>().unwrap_or(0))
        } else {
            return exec_err!("format(): widths are not supported (\"%{digits}\")");
        };
        let conversion = chars.next();
        if conversion == Some('%') && position.is_none() {
            out.push('%');
            continue;
        }
        let index = match position {
            Some(0) => return exec_err!("format(): argument positions start at 1"),
            Some(n) => n - 1,
            None => next,
        };
        next = index + 1;
        let Some(value) = values.get(index) else { return exec_err!("too few arguments for format()") };
        match conversion {
            Some('s') => out.push_str(value.unwrap_or_default()),
            Some('I') => match value {
                Some(name) => out.push_str(&quote_ident(name)),
                None => return exec_err!("null values cannot be formatted as an SQL identifier"),
            },
            Some('L') => out.push_str(&value.map_or_else(|| "NULL".to_string(), quote_literal)),
            Some(other) => return exec_err!("unrecognized format() type specifier \"{other}\""),
            None => return exec_err!("unterminated format() type specifier"),
        }
    }
    Ok(out)
}

/// An identifier as PostgreSQL's `quote_ident` writes it: bare when it is lower case letters,
/// digits and underscores (not starting with a digit), otherwise in double quotes.
fn quote_ident(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

#[cfg(test)]
mod tests {
    use super::format_row;

    #[test]
    fn conversions_fill_in_order_or_by_position() {
        let row = |template: &str, values: &[Option<&str>]| format_row(template, values).unwrap();
        assert_eq!(row("%I.%I", &[Some("basis"), Some("Persoon")]), r#"basis."Persoon""#);
        assert_eq!(row("%s = %L", &[Some("gm_code"), Some("'s-Hertogenbosch")]), "gm_code = '''s-Hertogenbosch'");
        assert_eq!(row("%L, %s|", &[None, None]), "NULL, |");
        assert_eq!(row("%2$s %1$s %%", &[Some("a"), Some("b")]), "b a %");
        assert!(format_row("%s %s", &[Some("a")]).is_err());
        assert!(format_row("%10s", &[Some("a")]).is_err());
        assert!(format_row("%x", &[Some("a")]).is_err());
    }
}
