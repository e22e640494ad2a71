//! Generalization ladders: each quasi-identifier transform has one or more levels, coarsest last.
//!
//! **What it does.** Replaces a value by its label at the chosen level (age band, month, address
//! level, postal-code prefix, code prefix). The privacy stage picks the level per column; other
//! columns use level 0.
//! **Why.** 一般化 is the guideline's main technique for quasi-identifiers; a ladder lets the
//! k-anonymity search coarsen only as far as the data needs.
//! **Example.** postal code `100-0001` with digits `[3, 1]` → level 0 `100`, level 1 `1`.
//! **Privacy notes.** Labels are computed from the value alone, so the same value always gets the
//! same label; a value that cannot be read at a level becomes null (suppressed cell), never kept.

use polars::prelude::*;
use tokumei_core::normalize::{CivilDate, digits_key};

use crate::address::{AddressLevel, generalize_address};
use crate::age::AgeBands;
use crate::ladders::{DateLevel, DrugLevel, FacilityLevel, Icd10Level, Intervals};
use crate::value::{Value, map_to_labels};

/// The label of a fully suppressed value.
pub const SUPPRESSED_LABEL: &str = "*";

/// A generalization ladder.
#[derive(Debug, Clone, PartialEq)]
pub enum Generalizer {
    /// One level: the value itself, as text.
    Identity,
    /// Birth date → age band (one width per level).
    AgeBand(AgeBands),
    /// Date → the listed levels (day, month, quarter, year, 5 years).
    Date(Vec<DateLevel>),
    /// ICD-10 code → code, 3-character category, chapter.
    Icd10(Vec<Icd10Level>),
    /// Drug (YJ) code → product, ingredient, therapeutic class.
    Drug(Vec<DrugLevel>),
    /// Facility code → code, prefecture + type, prefecture.
    Facility(Vec<FacilityLevel>),
    /// Number → value, then intervals, with top/bottom coding.
    Interval(Intervals),
    /// Address → the listed levels.
    Address(Vec<AddressLevel>),
    /// Postal code → its first N digits per level (`[3, 1]`).
    DigitsPrefix(Vec<usize>),
    /// Any code → its first N characters per level (facility code → `[2]`, prefecture).
    Prefix(Vec<usize>),
}

impl Generalizer {
    /// Number of levels, the last being full suppression (`*`), as in ARX's hierarchies.
    pub fn levels(&self) -> usize {
        self.value_levels() + 1
    }

    /// Number of levels that still show something of the value.
    fn value_levels(&self) -> usize {
        match self {
            Generalizer::Identity => 1,
            Generalizer::AgeBand(bands) => bands.widths.len(),
            Generalizer::Date(levels) => levels.len(),
            Generalizer::Icd10(levels) => levels.len(),
            Generalizer::Drug(levels) => levels.len(),
            Generalizer::Facility(levels) => levels.len(),
            Generalizer::Interval(intervals) => intervals.widths.len() + 1,
            Generalizer::Address(levels) => levels.len(),
            Generalizer::DigitsPrefix(lengths) | Generalizer::Prefix(lengths) => lengths.len(),
        }
    }

    /// Short description of `level` for reports, e.g. `5-year bands, 90+`.
    pub fn describe(&self, level: usize) -> String {
        if level >= self.value_levels() {
            return format!("suppressed ({SUPPRESSED_LABEL})");
        }
        match self {
            Generalizer::Identity => "as is".into(),
            Generalizer::AgeBand(b) => format!("{}-year age bands at {}, top {}+", b.widths[level], b.reference, b.top),
            Generalizer::Date(levels) => levels[level].describe().into(),
            Generalizer::Icd10(levels) => levels[level].describe().into(),
            Generalizer::Drug(levels) => levels[level].describe().into(),
            Generalizer::Facility(levels) => levels[level].describe().into(),
            Generalizer::Interval(intervals) => intervals.describe(level),
            Generalizer::Address(levels) => format!("{:?}", levels[level]).to_lowercase(),
            Generalizer::DigitsPrefix(l) => format!("first {} digits", l[level]),
            Generalizer::Prefix(l) => format!("first {} characters", l[level]),
        }
    }

    /// The label of `value` at `level`; `None` = missing or unreadable cell.
    pub fn label(&self, value: Value<'_>, level: usize) -> Option<String> {
        if level >= self.value_levels() {
            return Some(SUPPRESSED_LABEL.to_string());
        }
        match (self, value) {
            (_, Value::Null) => None,
            (Generalizer::Identity, Value::Text(s)) => Some(s.to_string()),
            (Generalizer::Identity, Value::Int(i)) => Some(i.to_string()),
            (Generalizer::Identity, Value::Float(x)) => Some(x.to_string()),
            (Generalizer::Identity, Value::Date(d)) => Some(CivilDate::from_epoch_days(d).to_string()),
            (Generalizer::AgeBand(bands), Value::Date(d)) => Some(bands.label(d, level)),
            (Generalizer::Date(levels), Value::Date(d)) => Some(levels[level].label(d)),
            (Generalizer::Icd10(levels), Value::Text(s)) => levels[level].label(s),
            (Generalizer::Drug(levels), Value::Text(s)) => levels[level].label(s),
            (Generalizer::Facility(levels), Value::Text(s)) => levels[level].label(s),
            (Generalizer::Interval(intervals), Value::Int(i)) => intervals.label(i as f64, level),
            (Generalizer::Interval(intervals), Value::Float(x)) => intervals.label(x, level),
            (Generalizer::Address(levels), Value::Text(s)) => generalize_address(s, levels[level]),
            (Generalizer::DigitsPrefix(lengths), Value::Text(s)) => {
                let digits = digits_key(s)?;
                (digits.len() >= lengths[level]).then(|| digits[..lengths[level]].to_string())
            }
            (Generalizer::Prefix(lengths), Value::Text(s)) => {
                let prefix: String = s.chars().take(lengths[level]).collect();
                (prefix.chars().count() == lengths[level]).then_some(prefix)
            }
            _ => None,
        }
    }

    /// A lazy expression replacing column `name` by its labels at `level` (a `String` column).
    pub fn expr(&self, name: &str, level: usize) -> Expr {
        let ladder = self.clone();
        col(name).map(
            move |column| map_to_labels(&column, |value| ladder.label(value, level)),
            |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_prefixes() {
        let g = Generalizer::DigitsPrefix(vec![3, 1]);
        assert_eq!(g.label(Value::Text("１００－０００１"), 0).as_deref(), Some("100"));
        assert_eq!(g.label(Value::Text("100-0001"), 1).as_deref(), Some("1"));
        assert_eq!(g.label(Value::Text("abc"), 0), None);
    }

    #[test]
    fn last_level_suppresses() {
        let g = Generalizer::DigitsPrefix(vec![3, 1]);
        assert_eq!(g.levels(), 3);
        assert_eq!(g.label(Value::Text("100-0001"), 2).as_deref(), Some("*"));
        assert_eq!(Generalizer::Identity.levels(), 2);
        assert_eq!(Generalizer::Identity.label(Value::Int(1), 1).as_deref(), Some("*"));
        assert_eq!(g.describe(2), "suppressed (*)");
    }

    #[test]
    fn date_ladder_levels_end_with_suppression() {
        let g = Generalizer::Date(vec![DateLevel::Month, DateLevel::Year]);
        let d = CivilDate::new(2024, 3, 15).unwrap().to_epoch_days();
        assert_eq!(g.label(Value::Date(d), 0).as_deref(), Some("2024-03"));
        assert_eq!(g.label(Value::Date(d), 1).as_deref(), Some("2024"));
        assert_eq!(g.label(Value::Date(d), 2).as_deref(), Some("*"));
        assert_eq!(g.describe(1), "year");
    }

    #[test]
    fn expr_maps_a_lazy_column() {
        let df = df!("postal" => ["100-0001", "060-0000"]).unwrap();
        let out = df.lazy().with_column(Generalizer::DigitsPrefix(vec![3]).expr("postal", 0)).collect().unwrap();
        let values: Vec<_> = out.column("postal").unwrap().str().unwrap().iter().collect();
        assert_eq!(values, [Some("100"), Some("060")]);
    }
}
