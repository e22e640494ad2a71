//! Glue between the tables and the privacy engine: person signatures over the quasi-identifiers.
//!
//! One aggregation pass per table (distinct person × quasi-identifier values) builds per-column
//! dictionaries; every ladder level becomes a lookup table over those codes, so the search never
//! touches rows.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;
use tokumei_config::{Plan, Transform};
use tokumei_core::Role;
use tokumei_privacy::{NULL_CODE, PersonTuples, QuasiIdentifier};
use tokumei_transform::{Generalizer, Value};

use super::{PERSON_INDEX, PipelineError};

/// A quasi-identifier shared by the tables that have it.
#[derive(Debug, Clone)]
pub(crate) struct QiSpec {
    pub name: String,
    pub ladder: Generalizer,
}

/// The quasi-identifiers of a plan: columns with the quasi-identifier role that are kept or
/// generalized, and direct identifiers that are released generalized (an address cut back to its
/// prefecture is a quasi-identifier). A name used in several tables must have the same ladder in
/// all of them.
pub(crate) fn qi_specs(plan: &Plan) -> Result<Vec<QiSpec>, PipelineError> {
    let mut specs: Vec<QiSpec> = Vec::new();
    for table in &plan.tables {
        for column in &table.columns {
            let ladder = match (column.role, &column.transform) {
                (Role::QuasiIdentifier, Transform::Keep) => Generalizer::Identity,
                (Role::QuasiIdentifier | Role::DirectIdentifier, Transform::Generalize(g)) => g.clone(),
                _ => continue,
            };
            match specs.iter().find(|s| s.name == column.name) {
                Some(existing) if existing.ladder != ladder => {
                    return Err(PipelineError::Config(format!(
                        "quasi-identifier `{}` has different transforms in different tables; persons could not be classed consistently",
                        column.name
                    )));
                }
                Some(_) => {}
                None => specs.push(QiSpec { name: column.name.clone(), ladder }),
            }
        }
    }
    Ok(specs)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Text(String),
    Int(i64),
    Date(i32),
    Float(u64),
}

impl Key {
    fn of(value: &AnyValue<'_>) -> Option<Key> {
        match Value::from_any(value) {
            Value::Null => None,
            Value::Text(s) => Some(Key::Text(s.to_string())),
            Value::Int(i) => Some(Key::Int(i)),
            Value::Date(d) => Some(Key::Date(d)),
            Value::Float(x) => Some(Key::Float(x.to_bits())),
        }
    }

    fn value(&self) -> Value<'_> {
        match self {
            Key::Text(s) => Value::Text(s),
            Key::Int(i) => Value::Int(*i),
            Key::Date(d) => Value::Date(*d),
            Key::Float(bits) => Value::Float(f64::from_bits(*bits)),
        }
    }
}

/// Persons present after opt-out, compacted: `compact[person]` or `u32::MAX`.
pub(crate) struct Present {
    pub compact: Vec<u32>,
    pub persons: Vec<u32>,
    /// Per present person (compact index): rows not removed.
    pub records: Vec<u64>,
}

impl Present {
    /// Persons with at least one row not removed; `removed(table, person)`.
    pub fn new(total_persons: usize, row_person: &[Arc<Vec<u32>>], removed: &dyn Fn(usize, u32) -> bool) -> Present {
        let mut compact = vec![u32::MAX; total_persons];
        let mut persons = Vec::new();
        let mut records = Vec::new();
        for (table, rows) in row_person.iter().enumerate() {
            for &p in rows.iter().filter(|&&p| !removed(table, p)) {
                if compact[p as usize] == u32::MAX {
                    compact[p as usize] = persons.len() as u32;
                    persons.push(p);
                    records.push(0);
                }
                records[compact[p as usize] as usize] += 1;
            }
        }
        Present { compact, persons, records }
    }
}

/// Builds the dictionaries, ladders and person tuples from `frames` (each with `__person` and
/// whichever quasi-identifiers the table has).
pub(crate) fn person_tuples(
    specs: &[QiSpec],
    frames: &[(LazyFrame, Vec<String>)],
    present: &Present,
) -> Result<(Vec<QuasiIdentifier>, PersonTuples), PipelineError> {
    let width = specs.len();
    let mut dictionaries: Vec<HashMap<Key, u32>> = vec![HashMap::new(); width];
    let mut values: Vec<Vec<Key>> = vec![Vec::new(); width];
    let mut tuples = PersonTuples::new(present.persons.len(), width);
    tuples.records.clone_from(&present.records);
    for (frame, columns) in frames {
        let qi_columns: Vec<(usize, &String)> = specs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| columns.iter().find(|c| **c == s.name).map(|c| (i, c)))
            .collect();
        if qi_columns.is_empty() {
            continue;
        }
        let mut select = vec![col(PERSON_INDEX)];
        select.extend(qi_columns.iter().map(|(_, c)| col(c.as_str())));
        let distinct =
            tokumei_core::collect_streaming(frame.clone().select(select).unique(None, UniqueKeepStrategy::Any))?;
        let person = distinct.column(PERSON_INDEX)?.u32()?.clone();
        let cells: Vec<&Column> = qi_columns.iter().map(|(_, c)| distinct.column(c)).collect::<PolarsResult<_>>()?;
        let mut tuple = vec![NULL_CODE; width];
        for row in 0..distinct.height() {
            let Some(p) = person.get(row) else { continue };
            let c = present.compact[p as usize];
            if c == u32::MAX {
                continue;
            }
            tuple.fill(NULL_CODE);
            for ((qi, _), column) in qi_columns.iter().zip(&cells) {
                let value = column.get(row)?;
                if let Some(key) = Key::of(&value) {
                    let next = values[*qi].len() as u32;
                    let code = *dictionaries[*qi].entry(key.clone()).or_insert_with(|| {
                        values[*qi].push(key);
                        next
                    });
                    tuple[*qi] = code;
                }
            }
            tuples.push(c, &tuple);
        }
    }
    let qis = specs
        .iter()
        .zip(&values)
        .map(|(spec, base)| {
            let levels = spec.ladder.levels();
            let lookup = (0..levels)
                .map(|level| {
                    let mut labels: HashMap<Option<String>, u32> = HashMap::new();
                    base.iter()
                        .map(|key| {
                            let label = spec.ladder.label(key.value(), level);
                            let next = labels.len() as u32;
                            *labels.entry(label).or_insert(next)
                        })
                        .collect()
                })
                .collect();
            QuasiIdentifier {
                name: spec.name.clone(),
                lookup,
                level_names: (0..levels).map(|l| spec.ladder.describe(l)).collect(),
            }
        })
        .collect();
    Ok((qis, tuples))
}
