//! Re-identification risk of tokumei, from equivalence-class sizes.
//!
//! Definitions (El Emam; ARX and sdcMicro use the same):
//! - **prosecutor risk** of a record in a class of size f is 1/f; the *highest* is 1/min f and the
//!   *average* over records is (number of classes) / (number of records);
//! - **sample uniques** are classes of size 1;
//! - records in classes smaller than 2, 3, 5 and 10 show how close the data is to those k.
#![warn(missing_docs)]

use std::collections::BTreeMap;

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
}
