//! Columns coded for the privacy engine: a quasi-identifier (or event column) built from its
//! ladder (`run`) or from an ARX hierarchy file (`anonymize`). The codes and the one value order
//! come from [`tokumei_privacy::dictionary`] (ARX's `Dictionary`); this module adds what needs
//! the transforms (ARX's `DataManager`).

use polars::prelude::*;
use tokumei_privacy::{Dictionary, Key, NULL_CODE, QuasiIdentifier};
use tokumei_transform::{Generalizer, HierarchyError, HierarchyTable, Value};

/// The engine's key of a typed cell (`None`: missing).
pub(crate) fn key_of(value: &AnyValue<'_>) -> Option<Key> {
    match Value::from_any(value) {
        Value::Null => None,
        Value::Text(s) => Some(Key::Text(s.to_string())),
        Value::Int(i) => Some(Key::Int(i)),
        Value::Date(d) => Some(Key::Date(d)),
        Value::Float(x) => Some(Key::Float(x.to_bits())),
    }
}

/// The typed value of a key, for the ladders.
fn value_of(key: &Key) -> Value<'_> {
    match key {
        Key::Missing => Value::Null,
        Key::Text(s) | Key::Number(_, s) => Value::Text(s),
        Key::Int(i) => Value::Int(*i),
        Key::Date(d) => Value::Date(*d),
        Key::Float(bits) => Value::Float(f64::from_bits(*bits)),
    }
}

/// A column's ladder as the privacy engine sees it: per level, the generalized code of each
/// base value. A value unreadable at one level stays unreadable above it (until `*`), so every
/// level is a function of the one below, as the search requires.
pub(crate) fn ladder_qi(name: &str, ladder: &Generalizer, base: &[Key]) -> QuasiIdentifier {
    let levels_count = ladder.levels();
    let labels: Vec<Vec<Option<String>>> = base
        .iter()
        .map(|key| {
            let mut readable = true;
            (0..levels_count)
                .map(|level| {
                    let label = ladder.label(value_of(key), level);
                    readable &= label.is_some() || level + 1 == levels_count;
                    if readable || level + 1 == levels_count { label } else { None }
                })
                .collect()
        })
        .collect();
    let lookup = (0..levels_count)
        .map(|level| {
            let mut codes: Dictionary<&Option<String>> = Dictionary::default();
            labels.iter().map(|per_level| codes.code(&per_level[level])).collect()
        })
        .collect();
    let names = (0..levels_count).map(|l| ladder.describe(l)).collect();
    QuasiIdentifier::new(name.to_string(), lookup, names)
}

/// A quasi-identifier of a text column from its ARX hierarchy file, and each row's code. The
/// domain is the hierarchy's values, as in ARX (so the Loss of a value counts the hierarchy's
/// leaves under it, not only those the data happens to hold); a value the hierarchy lacks is an
/// error naming the column, the file and the row, never the value.
pub(crate) fn hierarchy_qi(
    column: &str,
    table: &HierarchyTable,
    values: &StringChunked,
) -> Result<(QuasiIdentifier, Vec<u32>), HierarchyError> {
    let base: Vec<&str> = table.values().iter().map(String::as_str).collect();
    let dictionary = Dictionary::of_domain(base.iter().copied());
    let mut codes = Vec::with_capacity(values.len());
    for (row, value) in values.iter().enumerate() {
        let Some(value) = value else {
            codes.push(NULL_CODE);
            continue;
        };
        let Some(code) = dictionary.get(&value) else {
            return Err(HierarchyError::MissingValue {
                column: column.to_string(),
                path: table.path.clone(),
                row: row + 1,
            });
        };
        codes.push(code);
    }
    let lookup = (0..table.levels())
        .map(|level| {
            let mut labels: Dictionary<&str> = Dictionary::default();
            base.iter().map(|v| labels.code(table.label(v, level).unwrap_or_default())).collect()
        })
        .collect();
    let level_names = (0..table.levels()).map(|l| format!("level {l}")).collect();
    Ok((QuasiIdentifier::new(column.to_string(), lookup, level_names), codes))
}
