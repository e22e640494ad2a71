//! A borrowed cell value, the common input of every generalizer.

use polars::prelude::*;

/// One cell, typed as ingest produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Missing.
    Null,
    /// Text or code.
    Text(&'a str),
    /// Days since 1970-01-01.
    Date(i32),
    /// Whole number (also sex codes).
    Int(i64),
    /// Decimal number.
    Float(f64),
}

impl<'a> Value<'a> {
    /// From a polars value; types tokumei does not produce become `Null`.
    pub fn from_any(value: &'a AnyValue<'a>) -> Value<'a> {
        match value {
            AnyValue::String(s) => Value::Text(s),
            AnyValue::StringOwned(s) => Value::Text(s.as_str()),
            AnyValue::Date(d) => Value::Date(*d),
            AnyValue::Int32(i) => Value::Int(i64::from(*i)),
            AnyValue::Int64(i) => Value::Int(*i),
            AnyValue::UInt32(i) => Value::Int(i64::from(*i)),
            AnyValue::Float64(f) => Value::Float(*f),
            _ => Value::Null,
        }
    }
}

/// Calls `f` on every cell of `column` and collects the labels into a `String` column of the
/// same name. Used by every generalizer so that the per-cell rule is written once.
pub(crate) fn map_to_labels(column: &Column, f: impl Fn(Value<'_>) -> Option<String>) -> PolarsResult<Column> {
    let name = column.name().clone();
    let labels: StringChunked = match column.dtype() {
        DataType::String => column.str()?.iter().map(|v| v.and_then(|s| f(Value::Text(s)))).collect(),
        DataType::Date => {
            let physical = column.to_physical_repr();
            physical.i32()?.iter().map(|v| v.and_then(|d| f(Value::Date(d)))).collect()
        }
        DataType::Int32 => column.i32()?.iter().map(|v| v.and_then(|i| f(Value::Int(i64::from(i))))).collect(),
        DataType::Int64 => column.i64()?.iter().map(|v| v.and_then(|i| f(Value::Int(i)))).collect(),
        DataType::Float64 => column.f64()?.iter().map(|v| v.and_then(|x| f(Value::Float(x)))).collect(),
        other => {
            polars_bail!(InvalidOperation: "column `{}` has type {} which no generalizer reads", name, other)
        }
    };
    Ok(labels.with_name(name).into_column())
}
