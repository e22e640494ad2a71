//! Dictionary coding of column values, and the one value order every command shares (ARX's
//! `Dictionary`): the privacy engine sees codes, never values.
//!
//! Values are coded in the order they are first seen ([`Dictionary::code`]); where the order of
//! codes matters — ordered t-closeness, and deterministic item ids and tie-breaks whatever order
//! an aggregation returned rows in — [`Dictionary::into_value_order`] renumbers them by
//! [`Key::cmp_value`]: numbers by value, dates by day, text by code point, missing last.
//! `run` (typed columns), `anonymize` and `risk` (text tables, see [`Key::column_of_text`]) and
//! `attack` all code through this module.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use crate::NULL_CODE;

/// A value as the engine orders it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A date (days since 1970-01-01).
    Date(i32),
    /// A floating-point number (its bits).
    Float(u64),
    /// A number written as text (a column of a text table whose every value is a number): ordered
    /// by value, then by its spelling, so `1` and `1.0` stay two values as the file has them.
    Number(u64, String),
    /// Missing: a value of its own where it is coded (a sensitive value "unknown").
    Missing,
}

impl Key {
    /// Orders values: numbers by value, dates by day, text by code point, missing last.
    pub fn cmp_value(&self, other: &Key) -> Ordering {
        let number = |k: &Key| match k {
            Key::Int(i) => Some(*i as f64),
            Key::Float(bits) | Key::Number(bits, _) => Some(f64::from_bits(*bits)),
            _ => None,
        };
        match (number(self), number(other)) {
            (Some(a), Some(b)) => a.total_cmp(&b).then_with(|| match (self, other) {
                (Key::Number(_, a), Key::Number(_, b)) => a.cmp(b),
                _ => Ordering::Equal,
            }),
            _ => match (self, other) {
                (Key::Date(a), Key::Date(b)) => a.cmp(b),
                (Key::Text(a), Key::Text(b)) => a.cmp(b),
                (Key::Missing, Key::Missing) => Ordering::Equal,
                (Key::Missing, _) => Ordering::Greater,
                (_, Key::Missing) => Ordering::Less,
                _ => self.rank().cmp(&other.rank()),
            },
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Int(_) | Key::Float(_) | Key::Number(..) => 0,
            Key::Date(_) => 1,
            Key::Text(_) => 2,
            Key::Missing => 3,
        }
    }

    /// The keys of a text column: numbers when every present value reads as one (ordered by
    /// value), else text; a missing value is [`Key::Missing`].
    pub fn column_of_text(values: &[Option<&str>]) -> Vec<Key> {
        let numeric = values.iter().flatten().all(|v| v.trim().parse::<f64>().is_ok());
        values
            .iter()
            .map(|v| match *v {
                None => Key::Missing,
                Some(v) if numeric => Key::Number(v.trim().parse::<f64>().unwrap_or(f64::NAN).to_bits(), v.to_string()),
                Some(v) => Key::Text(v.to_string()),
            })
            .collect()
    }
}

/// Codes of distinct values, in the order first seen.
#[derive(Debug, Clone)]
pub struct Dictionary<K> {
    codes: HashMap<K, u32>,
    values: Vec<K>,
}

impl<K> Default for Dictionary<K> {
    fn default() -> Self {
        Dictionary { codes: HashMap::new(), values: Vec::new() }
    }
}

impl<K: Hash + Eq + Clone> Dictionary<K> {
    /// A dictionary of a fixed domain (an ARX hierarchy's values), coded in the domain's order.
    pub fn of_domain(values: impl IntoIterator<Item = K>) -> Dictionary<K> {
        let mut dictionary = Dictionary::default();
        for value in values {
            dictionary.code(value);
        }
        dictionary
    }

    /// The code of `value`, a new one when first seen.
    pub fn code(&mut self, value: K) -> u32 {
        if let Some(&code) = self.codes.get(&value) {
            return code;
        }
        let code = self.values.len() as u32;
        self.values.push(value.clone());
        self.codes.insert(value, code);
        code
    }

    /// The code of `value` (`None` present: [`NULL_CODE`]), a new one when first seen.
    pub fn code_or_null(&mut self, value: Option<K>) -> u32 {
        value.map_or(NULL_CODE, |v| self.code(v))
    }

    /// The code of `value`, if it has one.
    pub fn get(&self, value: &K) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The values, by code.
    pub fn values(&self) -> &[K] {
        &self.values
    }

    /// Distinct values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value was coded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Dictionary<Key> {
    /// The values in value order ([`Key::cmp_value`]), and each old code's new code: renumber
    /// codes with [`renumber`].
    pub fn into_value_order(self) -> (Vec<Key>, Vec<u32>) {
        let base = self.values;
        let mut order: Vec<u32> = (0..base.len() as u32).collect();
        order.sort_by(|&a, &b| base[a as usize].cmp_value(&base[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &code) in order.iter().enumerate() {
            rank[code as usize] = r as u32;
        }
        let sorted = order.iter().map(|&c| base[c as usize].clone()).collect();
        (sorted, rank)
    }
}

/// Replaces every code by its new code (`NULL_CODE` stays).
pub fn renumber(codes: &mut [u32], rank: &[u32]) {
    for code in codes.iter_mut().filter(|c| **c != NULL_CODE) {
        *code = rank[*code as usize];
    }
}

/// A text column's codes in value order (see [`Key::column_of_text`]; a missing value is a value
/// of its own, last), and how many distinct values it has: the coding of a sensitive column.
pub fn ordered_text_codes(values: &[Option<&str>]) -> (Vec<u32>, u32) {
    let mut dictionary = Dictionary::default();
    let mut codes: Vec<u32> = Key::column_of_text(values).into_iter().map(|k| dictionary.code(k)).collect();
    let (sorted, rank) = dictionary.into_value_order();
    renumber(&mut codes, &rank);
    (codes, sorted.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_written_as_text_order_by_value_and_stay_apart_by_spelling() {
        let values = [Some("10"), Some("9"), None, Some("1.0"), Some("1"), Some("9")];
        let (codes, n) = ordered_text_codes(&values);
        assert_eq!(n, 5);
        // 1 < 1.0 (same value, by spelling) < 9 < 10 < missing.
        assert_eq!(codes, [3, 2, 4, 1, 0, 2]);
        let (codes, _) = ordered_text_codes(&[Some("b"), Some("10"), Some("a")]);
        assert_eq!(codes, [2, 0, 1], "one value that is not a number: text order");
    }

    proptest! {
        /// Value-ordered codes are a bijection onto 0..n that agrees with sorting the distinct
        /// values, whatever order they are first seen in.
        #[test]
        fn value_order_is_the_sorted_order(values in proptest::collection::vec(proptest::option::of(0u8..40), 0..60)) {
            let texts: Vec<Option<String>> = values.iter().map(|v| v.map(|v| v.to_string())).collect();
            let borrowed: Vec<Option<&str>> = texts.iter().map(|v| v.as_deref()).collect();
            let (codes, n) = ordered_text_codes(&borrowed);
            let mut distinct: Vec<Option<u8>> = values.clone();
            distinct.sort_by(|a, b| match (a, b) {
                (None, None) => Ordering::Equal,
                (None, _) => Ordering::Greater,
                (_, None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            });
            distinct.dedup();
            prop_assert_eq!(n as usize, distinct.len());
            for (value, code) in values.iter().zip(&codes) {
                prop_assert_eq!(distinct[*code as usize], *value);
            }
        }
    }
}
