//! Rare diagnosis codes → their 3-character ICD-10 category, or suppressed.
//!
//! **What it does.** Counts distinct persons per code over the rows being released. Codes held by
//! fewer than `min_persons` persons are replaced by their first `category_chars` characters (3 for
//! ICD-10: the category, `E75.2` → `E75`); categories that are still rare, and rare values of
//! columns with no category (`category_chars = 0`: drug names), are suppressed (`*`).
//! **Why.** 「症例数の極めて少ない病歴を削除する」: a rare disease singles a patient out (④ 特異な記述).
//! **Example.** `min_persons = 5`: a code held by 3 persons becomes its category.
//! **Privacy notes.** Counts are over persons, not rows, so a patient with many visits for one
//! rare disease cannot make it look common.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;

/// The rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RareCodes {
    /// Codes (and categories) held by fewer persons than this are generalized (suppressed).
    pub min_persons: u32,
    /// Characters of the category a rare code falls back to; 0 = suppress rare codes directly.
    pub category_chars: usize,
}

/// What the rule decided for one column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RareCodeMap {
    /// Rare code → category, or `None` when the category is rare too.
    pub replacements: HashMap<String, Option<String>>,
}

/// Label written for a suppressed code.
pub const SUPPRESSED: &str = "*";

impl RareCodes {
    /// Decides the replacements for column `code` of `frame`, counting distinct `person` values.
    pub fn plan(&self, frame: LazyFrame, code: &str, person: &str) -> PolarsResult<RareCodeMap> {
        let counts = person_counts(frame.clone(), col(code), person)?;
        let rare: HashMap<String, String> = counts
            .iter()
            .filter(|(_, n)| **n < self.min_persons)
            .map(|(c, _)| (c.clone(), c.chars().take(self.category_chars).collect()))
            .collect();
        if rare.is_empty() {
            return Ok(RareCodeMap::default());
        }
        let lookup = Arc::new(rare.clone());
        let category_of = col(code).map(
            move |column| {
                let out: StringChunked = column.str()?.iter().map(|v| v.and_then(|s| lookup.get(s).cloned())).collect();
                Ok(out.with_name(column.name().clone()).into_column())
            },
            |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
        );
        let category_counts = person_counts(frame, category_of, person)?;
        let replacements = rare
            .into_iter()
            .map(|(code, category)| {
                let n = category_counts.get(&category).copied().unwrap_or(0);
                let keep = self.category_chars > 0 && n >= self.min_persons;
                (code, keep.then_some(category))
            })
            .collect();
        Ok(RareCodeMap { replacements })
    }
}

impl RareCodeMap {
    /// A lazy expression applying the replacements to column `name`.
    pub fn expr(&self, name: &str) -> Expr {
        let replacements = Arc::new(self.replacements.clone());
        col(name).map(
            move |column| {
                let out: StringChunked = column
                    .str()?
                    .iter()
                    .map(|v| {
                        v.map(|s| match replacements.get(s) {
                            None => s.to_string(),
                            Some(Some(category)) => category.clone(),
                            Some(None) => SUPPRESSED.to_string(),
                        })
                    })
                    .collect();
                Ok(out.with_name(column.name().clone()).into_column())
            },
            |_, field| Ok(field.clone()),
        )
    }

    /// Number of codes generalized to their category and number suppressed.
    pub fn counts(&self) -> (usize, usize) {
        let suppressed = self.replacements.values().filter(|v| v.is_none()).count();
        (self.replacements.len() - suppressed, suppressed)
    }
}

fn person_counts(frame: LazyFrame, code: Expr, person: &str) -> PolarsResult<HashMap<String, u32>> {
    let out = frame
        .select([code.alias("code"), col(person)])
        .filter(col("code").is_not_null())
        .group_by([col("code")])
        .agg([col(person).n_unique().alias("n")]);
    let out = tokumei_core::collect_streaming(out)?;
    let codes = out.column("code")?.str()?.clone();
    let counts = out.column("n")?.cast(&DataType::UInt32)?;
    let counts = counts.u32()?;
    Ok(codes.iter().zip(counts.iter()).filter_map(|(c, n)| Some((c?.to_string(), n?))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_codes_generalize_then_suppress() {
        // I10 common (6 persons); E75.2 rare (2 persons) but E75 category gets 5 with E75.0;
        // Q87.4 rare alone → suppressed.
        let persons: Vec<u32> = vec![1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 9, 9];
        let codes =
            ["I10", "I10", "I10", "I10", "I10", "I10", "E75.2", "E75.2", "E75.0", "E75.0", "E75.0", "Q87.4", "Q87.4"];
        let df = df!("person" => persons, "icd" => codes).unwrap();
        let map = RareCodes { min_persons: 5, category_chars: 3 }.plan(df.clone().lazy(), "icd", "person").unwrap();
        assert_eq!(map.replacements.get("E75.2"), Some(&Some("E75".to_string())));
        assert_eq!(map.replacements.get("Q87.4"), Some(&None));
        assert_eq!(map.replacements.get("I10"), None);
        let out = df.lazy().with_column(map.expr("icd")).collect().unwrap();
        let icd: Vec<_> = out.column("icd").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(icd[0], "I10");
        assert_eq!(icd[6], "E75");
        assert_eq!(icd[12], "*");
        assert_eq!(map.counts(), (2, 1));
    }

    #[test]
    fn without_categories_rare_values_are_suppressed() {
        let df = df!("person" => [1u32, 2, 3, 4, 5, 6], "drug" => ["A", "A", "A", "A", "A", "Rare"]).unwrap();
        let map = RareCodes { min_persons: 5, category_chars: 0 }.plan(df.lazy(), "drug", "person").unwrap();
        assert_eq!(map.replacements.get("Rare"), Some(&None));
        assert_eq!(map.replacements.len(), 1);
    }
}
