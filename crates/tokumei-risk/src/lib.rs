//! Re-identification risk of tokumei, from equivalence classes (their sizes and, for ℓ and t,
//! their sensitive values).
//!
//! Definitions, as ARX (`org.deidentifier.arx.risk`) and sdcMicro define them, with n records
//! (or persons, when classes count persons) in classes of sizes f₁ … f_c:
//! - **prosecutor risk** of a record in a class of size f is 1/f (the attacker knows the person
//!   is in the data): highest 1/min f, average c/n, and the share of records whose risk exceeds a
//!   threshold (El Emam 2013);
//! - **journalist risk** uses the class's size in the population, F ≥ f, from a population
//!   table ([`with_population`]); without one it is bounded by the sample (F = f), i.e. equal to
//!   the prosecutor risk;
//! - **marketer risk** is the expected share of records re-identified when every record is
//!   matched: (1/n)·Σ f/F, which without a population table is c/n;
//! - **sample uniques** are classes of size 1; records in classes smaller than 2, 3, 5 and 10 show
//!   how close the data is to those k;
//! - **k** is the smallest class; **ℓ** (distinct) the fewest distinct sensitive values in a class,
//!   **entropy ℓ** the smallest exp(entropy); **t** the largest earth mover's distance between a
//!   class's sensitive distribution and the whole table's (equal or ordered distance, see
//!   `tokumei_core::distribution`); **α** of (α,k)-anonymity the largest share of one sensitive
//!   value in a class (Wong et al. 2006); **c** of recursive (c,ℓ)-diversity the smallest whole c
//!   with r₁ < c·(r_ℓ + … + r_m) in every class, counts sorted descending (Machanavajjhala et al.
//!   2007; pycanon sorts ascending, so its c differs);
//! - **SUDA2** special-uniques scores and DIS-SUDA scores per record (`suda`), as sdcMicro's
//!   `suda2`.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! // Class size → number of classes: one sample unique, two classes of 5.
//! let risk = tokumei_risk::class_risk(&BTreeMap::from([(1, 1), (5, 2)]));
//! assert_eq!((risk.records, risk.classes, risk.sample_uniques), (11, 3, 1));
//! assert_eq!(risk.prosecutor_max, 1.0);
//! assert!((risk.prosecutor_average - 3.0 / 11.0).abs() < 1e-12);
//! ```
#![warn(missing_docs)]

use std::collections::BTreeMap;

pub mod attack;
mod population;
pub mod suda;

pub use population::{PopulationUniqueness, ln_gamma, population_uniqueness};
pub use suda::{Suda2, SudaError, SudaOptions, suda2};

use serde::Serialize;
use tokumei_core::distribution::Reference;

/// Prosecutor-risk summary of a table (or of persons, when classes count persons).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassRisk {
    /// Records (or persons) counted.
    pub records: u64,
    /// Equivalence classes.
    pub classes: u64,
    /// Classes of size 1.
    pub sample_uniques: u64,
    /// Highest prosecutor risk, 1 / smallest class (0 when empty).
    pub prosecutor_max: f64,
    /// Average prosecutor risk, classes / records (0 when empty).
    pub prosecutor_average: f64,
    /// Records in classes smaller than 2, 3, 5, 10.
    pub records_in_classes_below: BTreeMap<u64, u64>,
}

/// Risk from a class-size distribution (size → number of classes of that size).
pub fn class_risk(distribution: &BTreeMap<u64, u64>) -> ClassRisk {
    let records: u64 = distribution.iter().map(|(size, n)| size * n).sum();
    let classes: u64 = distribution.values().sum();
    let smallest = distribution.keys().copied().find(|&s| s > 0);
    let below = |k: u64| distribution.iter().filter(|(s, _)| **s < k).map(|(s, n)| s * n).sum();
    ClassRisk {
        records,
        classes,
        sample_uniques: distribution.get(&1).copied().unwrap_or(0),
        prosecutor_max: smallest.map_or(0.0, |s| 1.0 / s as f64),
        prosecutor_average: if records == 0 { 0.0 } else { classes as f64 / records as f64 },
        records_in_classes_below: [2, 3, 5, 10].into_iter().map(|k| (k, below(k))).collect(),
    }
}

/// One equivalence class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Class<'a> {
    /// Its size: records, or persons for longitudinal tables.
    pub size: u64,
    /// Sensitive code → count, sorted by code (empty without a sensitive attribute).
    pub sensitive: &'a [(u32, u64)],
}

/// The ground distance for t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Categories.
    #[default]
    Equal,
    /// Numbers or ordered codes.
    Ordered,
}

/// Settings of the measures.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskOptions {
    /// A record is "at risk" when its risk exceeds this (default 0.2, i.e. classes under 5).
    pub threshold: f64,
    /// Size of the sensitive dictionary (codes 0..n in value order); 0 without one.
    pub sensitive_values: u32,
    /// Ground distance for t.
    pub distance: Distance,
}

impl Default for RiskOptions {
    fn default() -> RiskOptions {
        RiskOptions { threshold: 0.2, sensitive_values: 0, distance: Distance::Equal }
    }
}

/// A risk of one attacker model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AttackerRisk {
    /// Highest record risk.
    pub max: f64,
    /// Average record risk.
    pub average: f64,
    /// Share of records whose risk exceeds the threshold.
    pub records_at_risk: f64,
}

/// Every class-based measure of a table. Measures that need a sensitive column are `null`
/// without one, so the JSON always has the same keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskReport {
    /// Records (or persons) counted.
    pub rows: u64,
    /// Equivalence classes.
    pub classes: u64,
    /// Classes of size 1.
    pub sample_uniques: u64,
    /// Records in classes smaller than 2, 3, 5, 10.
    pub records_in_classes_below: BTreeMap<u64, u64>,
    /// Class size → number of classes.
    pub class_sizes: BTreeMap<u64, u64>,
    /// The threshold of `records_at_risk`.
    pub threshold: f64,
    /// Prosecutor risk.
    pub prosecutor: AttackerRisk,
    /// Journalist risk: with a population table, from the population class sizes F; without,
    /// bounded by the sample (F = f, the prosecutor risk).
    pub journalist: AttackerRisk,
    /// Where the journalist and marketer risks' population class sizes come from:
    /// `sample` (bounded by the sample) or `population table`.
    pub journalist_population: &'static str,
    /// Marketer risk.
    pub marketer: f64,
    /// Smallest class.
    pub k: u64,
    /// Fewest distinct sensitive values in a class.
    pub l_distinct: Option<u64>,
    /// Smallest exp(entropy) of a class's sensitive values.
    pub l_entropy: Option<f64>,
    /// Largest distance of a class's sensitive distribution to the table's.
    pub t_closeness: Option<f64>,
    /// α of (α,k)-anonymity: the largest share of one sensitive value in a class (with `k`).
    pub alpha: Option<f64>,
    /// Smallest whole c for which recursive (c,ℓ)-diversity holds with ℓ = `l_distinct`:
    /// max over classes of ⌊r₁ / (r_ℓ + … + r_m)⌋ + 1, counts sorted descending (absent when ℓ < 2).
    pub recursive_c: Option<f64>,
}

/// Journalist and marketer risk from a population table: for each sample class, its size `f`
/// and its size `F` in the population (F ≥ f). A record's journalist risk is 1/F: highest
/// 1/min F, average (1/n)·Σ f/F, records at risk those with 1/F above the threshold; marketer
/// risk is the expected share re-identified when every record is matched, (1/n)·Σ f/F (El Emam
/// 2013; ARX). Returns the journalist risk and the marketer risk.
pub fn with_population(classes: &[(u64, u64)], threshold: f64) -> (AttackerRisk, f64) {
    let n: u64 = classes.iter().map(|c| c.0).sum();
    if n == 0 {
        return (AttackerRisk { max: 0.0, average: 0.0, records_at_risk: 0.0 }, 0.0);
    }
    let max = classes.iter().map(|&(_, big)| 1.0 / big as f64).fold(0.0, f64::max);
    let expected: f64 = classes.iter().map(|&(f, big)| f as f64 / big as f64).sum::<f64>() / n as f64;
    let at_risk: u64 = classes.iter().filter(|&&(_, big)| 1.0 / big as f64 > threshold).map(|c| c.0).sum();
    (AttackerRisk { max, average: expected, records_at_risk: at_risk as f64 / n as f64 }, expected)
}

/// All class-based measures of `classes`.
pub fn measure(classes: &[Class<'_>], options: &RiskOptions) -> RiskReport {
    let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
    for c in classes.iter().filter(|c| c.size > 0) {
        *sizes.entry(c.size).or_default() += 1;
    }
    let basic = class_risk(&sizes);
    let n = basic.records;
    let at_risk: u64 = sizes.iter().filter(|(s, _)| 1.0 / **s as f64 > options.threshold).map(|(s, c)| s * c).sum();
    let prosecutor = AttackerRisk {
        max: basic.prosecutor_max,
        average: basic.prosecutor_average,
        records_at_risk: if n == 0 { 0.0 } else { at_risk as f64 / n as f64 },
    };
    let mut report = RiskReport {
        rows: n,
        classes: basic.classes,
        sample_uniques: basic.sample_uniques,
        records_in_classes_below: basic.records_in_classes_below,
        class_sizes: sizes.clone(),
        threshold: options.threshold,
        prosecutor,
        journalist: prosecutor,
        journalist_population: "sample",
        marketer: basic.prosecutor_average,
        k: sizes.keys().next().copied().unwrap_or(0),
        l_distinct: None,
        l_entropy: None,
        t_closeness: None,
        alpha: None,
        recursive_c: None,
    };
    if options.sensitive_values > 0 {
        let mut totals = vec![0u64; options.sensitive_values as usize];
        for c in classes {
            for &(code, count) in c.sensitive {
                totals[code as usize] += count;
            }
        }
        let reference = Reference::new(&totals);
        let mut distinct = u64::MAX;
        let mut entropy_l = f64::INFINITY;
        let mut t = 0.0f64;
        let mut alpha = 0.0f64;
        for c in classes.iter().filter(|c| c.size > 0) {
            let total: u64 = c.sensitive.iter().map(|d| d.1).sum();
            let top = c.sensitive.iter().map(|d| d.1).max().unwrap_or(0);
            if total > 0 {
                alpha = alpha.max(top as f64 / total as f64);
            }
            distinct = distinct.min(c.sensitive.len() as u64);
            entropy_l = entropy_l.min(tokumei_core::distribution::entropy_l(c.sensitive));
            t = t.max(match options.distance {
                Distance::Equal => reference.equal_distance(c.sensitive),
                Distance::Ordered => reference.ordered_distance(c.sensitive),
            });
        }
        if report.classes > 0 {
            report.l_distinct = Some(distinct);
            report.l_entropy = Some(entropy_l);
            report.t_closeness = Some(t);
            report.alpha = Some(alpha);
            if distinct >= 2 {
                let l = distinct as usize;
                let c = classes
                    .iter()
                    .filter(|c| c.size > 0)
                    .map(|c| {
                        let mut counts: Vec<u64> = c.sensitive.iter().map(|d| d.1).collect();
                        counts.sort_unstable_by(|a, b| b.cmp(a));
                        let tail: u64 = counts[l - 1..].iter().sum();
                        (counts[0] / tail + 1) as f64
                    })
                    .fold(0.0, f64::max);
                report.recursive_c = Some(c);
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_from_classes() {
        // Classes: one of 1, two of 5 → 11 records, 3 classes.
        let d = BTreeMap::from([(1, 1), (5, 2)]);
        let r = class_risk(&d);
        assert_eq!(r.records, 11);
        assert_eq!(r.classes, 3);
        assert_eq!(r.sample_uniques, 1);
        assert_eq!(r.prosecutor_max, 1.0);
        assert!((r.prosecutor_average - 3.0 / 11.0).abs() < 1e-12);
        assert_eq!(r.records_in_classes_below[&2], 1);
        assert_eq!(r.records_in_classes_below[&10], 11);
        let empty = class_risk(&BTreeMap::new());
        assert_eq!(empty.prosecutor_max, 0.0);
    }

    #[test]
    fn measures_of_a_small_table() {
        // Three classes: sizes 1, 2, 4; sensitive codes 0..3.
        let a = [(0, 1)];
        let b = [(0, 1), (1, 1)];
        let c = [(1, 2), (2, 2)];
        let classes =
            [Class { size: 1, sensitive: &a }, Class { size: 2, sensitive: &b }, Class { size: 4, sensitive: &c }];
        let r = measure(&classes, &RiskOptions { threshold: 0.3, sensitive_values: 3, distance: Distance::Equal });
        assert_eq!((r.rows, r.classes, r.sample_uniques, r.k), (7, 3, 1, 1));
        assert_eq!(r.prosecutor.max, 1.0);
        assert!((r.prosecutor.average - 3.0 / 7.0).abs() < 1e-12);
        // Risks above 0.3: the unique (1) and the pair (0.5): 3 of 7 records.
        assert!((r.prosecutor.records_at_risk - 3.0 / 7.0).abs() < 1e-12);
        assert_eq!(r.journalist, r.prosecutor);
        assert_eq!(r.journalist_population, "sample");
        assert_eq!(r.l_distinct, Some(1));
        assert!((r.l_entropy.unwrap() - 1.0).abs() < 1e-12);
        // Q = (2/7, 3/7, 2/7); the unique's P = (1, 0, 0): ½(5/7 + 3/7 + 2/7) = 5/7.
        assert!((r.t_closeness.unwrap() - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(r.alpha, Some(1.0), "the unique's one value is all of its class");
        assert_eq!(r.recursive_c, None, "ℓ = 1");
        // Without the unique: ℓ = 2, classes (1,1) and (2,2): c = ⌊1/1⌋ + 1 = ⌊2/2⌋ + 1 = 2.
        let r = measure(&classes[1..], &RiskOptions { threshold: 0.3, sensitive_values: 3, distance: Distance::Equal });
        assert_eq!((r.l_distinct, r.recursive_c, r.alpha), (Some(2), Some(2.0), Some(0.5)));
    }

    #[test]
    fn journalist_risk_from_population_sizes() {
        // Classes f = 1, 2 found F = 4, 10 times in the population: max 1/4, average
        // (1/4 + 2/10) / 3, at risk (1/F > 0.2) the record with F = 4.
        let (j, marketer) = with_population(&[(1, 4), (2, 10)], 0.2);
        assert_eq!(j.max, 0.25);
        assert!((j.average - 0.45 / 3.0).abs() < 1e-12);
        assert!((j.records_at_risk - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(marketer, j.average);
    }
}
