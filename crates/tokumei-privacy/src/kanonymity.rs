//! k-anonymity over persons, with record suppression and a greedy bottom-up climb of the
//! generalization ladders.
//!
//! The search starts at every column's finest level. While more persons than allowed would have
//! to be suppressed, it raises one column by one level: a step that reaches the target and loses
//! least precision if there is one, else the step that saves most persons per unit of precision
//! lost. This is a heuristic: it is not guaranteed optimal, and the report says so.

use std::collections::BTreeMap;

use crate::histogram::{PersonTuples, QuasiIdentifier};

/// The privacy model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KAnonymity {
    /// Minimum persons per equivalence class (≥ 2).
    pub k: u32,
    /// Largest fraction of persons that may be suppressed to reach k (0–1).
    pub max_suppression: f64,
}

/// Errors of the privacy stage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// k < 2 or a suppression limit outside 0–1.
    #[error("invalid privacy model: {0}")]
    InvalidModel(String),
    /// A quasi-identifier's lookup table does not cover its codes (a bug in the caller).
    #[error("quasi-identifier `{0}` has a code outside its dictionary")]
    BadDictionary(String),
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Solution {
    /// Chosen level per quasi-identifier.
    pub levels: BTreeMap<String, usize>,
    /// Description of each chosen level.
    pub level_names: BTreeMap<String, String>,
    /// Persons to suppress (their classes are smaller than k).
    #[serde(skip)]
    pub suppressed_persons: Vec<u32>,
    /// Number of suppressed persons.
    pub suppressed_person_count: u64,
    /// Records of the suppressed persons.
    pub suppressed_records: u64,
    /// Persons considered.
    pub persons: u64,
    /// Equivalence classes among released persons.
    pub classes: u64,
    /// Smallest released class (the k achieved); 0 when nobody is released.
    pub min_class_size: u64,
    /// Largest released class.
    pub max_class_size: u64,
    /// Class size → number of classes of that size (released classes).
    pub class_size_distribution: BTreeMap<u64, u64>,
    /// Whether the k target holds within the suppression limit.
    pub target_met: bool,
    /// Utility: precision (Sweeney), 1 − mean(level / (levels − 1)) over quasi-identifiers.
    pub utility: BTreeMap<String, f64>,
    /// Whether the search proves optimality (the greedy search does not).
    pub optimal: bool,
    /// Search used.
    pub search: String,
    /// Lattice nodes evaluated.
    pub nodes_checked: u64,
    /// Size of the generalization lattice.
    pub lattice_size: u64,
}

impl KAnonymity {
    /// Checks the parameters.
    pub fn new(k: u32, max_suppression: f64) -> Result<KAnonymity, Error> {
        if k < 2 {
            return Err(Error::InvalidModel(format!("k must be at least 2 (got {k})")));
        }
        if !(0.0..=1.0).contains(&max_suppression) {
            return Err(Error::InvalidModel("max-suppression must be between 0 and 1".into()));
        }
        Ok(KAnonymity { k, max_suppression })
    }

    /// How many of `units` (persons or records) may be suppressed.
    pub(crate) fn allowed(&self, units: u64) -> u64 {
        (self.max_suppression * units as f64).floor() as u64
    }

    /// Searches the ladders of `qis` for levels that reach k within the suppression limit.
    pub fn search(&self, qis: &[QuasiIdentifier], tuples: &PersonTuples) -> Result<Solution, Error> {
        check_ladders(qis)?;
        let persons = tuples.persons.len() as u64;
        let allowed = self.allowed(persons);
        let mut levels = vec![0usize; qis.len()];
        let mut nodes_checked = 1;
        let mut current = self.evaluate(qis, tuples, &levels);
        while current.0 > allowed {
            // Candidates: one more level on one column. Among those that reach the target, the
            // one losing least precision wins; otherwise the one that saves most persons per unit
            // of precision lost. Ties go to the earlier column, so the result is deterministic.
            let mut best: Option<(bool, f64, usize, Evaluation)> = None;
            for i in 0..qis.len() {
                if levels[i] + 1 >= qis[i].levels() {
                    continue;
                }
                let mut candidate = levels.clone();
                candidate[i] += 1;
                nodes_checked += 1;
                let eval = self.evaluate(qis, tuples, &candidate);
                let loss_step = 1.0 / (qis[i].levels() - 1) as f64;
                let meets = eval.0 <= allowed;
                let score = if meets { -loss_step } else { (current.0 - eval.0.min(current.0)) as f64 / loss_step };
                let better = match &best {
                    None => true,
                    Some((best_meets, best_score, _, _)) => (meets, score) > (*best_meets, *best_score),
                };
                if better {
                    best = Some((meets, score, i, eval));
                }
            }
            match best {
                Some((_, _, i, eval)) => {
                    levels[i] += 1;
                    current = eval;
                }
                None => break,
            }
        }
        Ok(self.person_solution(qis, tuples, &levels, current, false, nodes_checked))
    }

    /// The optimal (highest-precision) levels for person signatures: the monotone lattice walk of
    /// [`KAnonymity::optimal`], evaluating person classes. Use for lattices small enough to walk.
    pub fn search_optimal(&self, qis: &[QuasiIdentifier], tuples: &PersonTuples) -> Result<Solution, Error> {
        check_ladders(qis)?;
        let allowed = self.allowed(tuples.persons.len() as u64);
        let k = u64::from(self.k);
        let (best, nodes_checked) = crate::lattice::walk(qis, allowed, |levels| {
            tuples.classes(qis, levels).1.into_iter().filter(|&s| s < k).sum()
        });
        let (levels, target_met) = match best {
            Some(levels) => (levels, true),
            None => (qis.iter().map(|q| q.levels() - 1).collect(), false),
        };
        let evaluation = self.evaluate(qis, tuples, &levels);
        Ok(self.person_solution(qis, tuples, &levels, evaluation, target_met, nodes_checked))
    }

    fn person_solution(
        &self,
        qis: &[QuasiIdentifier],
        tuples: &PersonTuples,
        levels: &[usize],
        (suppressed_persons, class_of, sizes): Evaluation,
        optimal: bool,
        nodes_checked: u64,
    ) -> Solution {
        let k = u64::from(self.k);
        let target_met = suppressed_persons <= self.allowed(tuples.persons.len() as u64);
        let suppressed: Vec<u32> =
            (0..tuples.persons.len() as u32).filter(|&p| sizes[class_of[p as usize] as usize] < k).collect();
        let suppressed_records = suppressed.iter().map(|&p| tuples.records[p as usize]).sum();
        self.solution(
            qis,
            Decision {
                levels,
                class_sizes: &sizes,
                suppressed_count: suppressed.len() as u64,
                suppressed,
                suppressed_records,
                units: tuples.persons.len() as u64,
                target_met,
                optimal,
                nodes_checked,
            },
        )
    }

    /// The [`Solution`] of a search's decision: class statistics, utility and the report fields.
    pub(crate) fn solution(&self, qis: &[QuasiIdentifier], decision: Decision<'_>) -> Solution {
        let k = u64::from(self.k);
        let Decision {
            levels,
            class_sizes,
            suppressed,
            suppressed_count,
            suppressed_records,
            units,
            target_met,
            optimal,
            nodes_checked,
        } = decision;
        let released: Vec<u64> = class_sizes.iter().copied().filter(|&s| s >= k).collect();
        let mut distribution = BTreeMap::new();
        for &s in &released {
            *distribution.entry(s).or_insert(0) += 1;
        }
        Solution {
            levels: qis.iter().zip(levels).map(|(qi, &l)| (qi.name.clone(), l)).collect(),
            level_names: qis.iter().zip(levels).map(|(qi, &l)| (qi.name.clone(), qi.level_names[l].clone())).collect(),
            suppressed_person_count: suppressed_count,
            suppressed_persons: suppressed,
            suppressed_records,
            persons: units,
            classes: released.len() as u64,
            min_class_size: released.iter().copied().min().unwrap_or(0),
            max_class_size: released.iter().copied().max().unwrap_or(0),
            class_size_distribution: distribution,
            target_met,
            utility: BTreeMap::from([("precision".to_string(), crate::lattice::precision(qis, levels))]),
            optimal,
            search: if optimal { "optimal (monotone lattice search, precision)" } else { "greedy bottom-up" }.into(),
            nodes_checked,
            lattice_size: qis.iter().map(|qi| qi.levels() as u64).product(),
        }
    }

    fn evaluate(&self, qis: &[QuasiIdentifier], tuples: &PersonTuples, levels: &[usize]) -> Evaluation {
        let (class_of, sizes) = tuples.classes(qis, levels);
        let k = u64::from(self.k);
        let suppressed = sizes.iter().filter(|&&s| s < k).sum();
        (suppressed, class_of, sizes)
    }
}

/// Every ladder must have at least one level (a caller's bug otherwise).
pub(crate) fn check_ladders(qis: &[QuasiIdentifier]) -> Result<(), Error> {
    match qis.iter().find(|qi| qi.lookup.is_empty()) {
        Some(qi) => Err(Error::BadDictionary(qi.name.clone())),
        None => Ok(()),
    }
}

/// What a search decided; [`KAnonymity::solution`] turns it into the report's [`Solution`].
pub(crate) struct Decision<'a> {
    /// Chosen level per quasi-identifier.
    pub levels: &'a [usize],
    /// Size of every class at those levels (records or persons).
    pub class_sizes: &'a [u64],
    /// Suppressed units (persons, or distinct tuples for a histogram).
    pub suppressed: Vec<u32>,
    /// Suppressed persons (or records, for a histogram of records).
    pub suppressed_count: u64,
    /// Suppressed records.
    pub suppressed_records: u64,
    /// Persons (or records) considered.
    pub units: u64,
    pub target_met: bool,
    pub optimal: bool,
    pub nodes_checked: u64,
}

/// Suppressed persons, class of each person, size of each class.
type Evaluation = (u64, Vec<u32>, Vec<u64>);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ages 0..100 with ladders: exact, 10-year bands, everything.
    fn age_qi() -> QuasiIdentifier {
        QuasiIdentifier {
            name: "age".into(),
            lookup: vec![(0..100).collect(), (0..100).map(|a| a / 10).collect(), vec![0; 100]],
            level_names: vec!["exact".into(), "10-year".into(), "*".into()],
        }
    }

    fn sex_qi() -> QuasiIdentifier {
        QuasiIdentifier { name: "sex".into(), lookup: vec![vec![0, 1]], level_names: vec!["as is".into()] }
    }

    fn population(ages_sexes: &[(u32, u32)]) -> PersonTuples {
        let mut t = PersonTuples::new(ages_sexes.len(), 2);
        for (p, &(a, s)) in ages_sexes.iter().enumerate() {
            t.push(p as u32, &[a, s]);
            t.records[p] = 2;
        }
        t
    }

    #[test]
    fn climbs_until_k_holds() {
        // 20 persons aged 30..39 (all distinct), one sex: exact ages fail, 10-year bands pass.
        let people: Vec<(u32, u32)> = (30..50).map(|a| (a, 0)).collect();
        let model = KAnonymity::new(5, 0.0).unwrap();
        let s = model.search(&[age_qi(), sex_qi()], &population(&people)).unwrap();
        assert_eq!(s.levels["age"], 1);
        assert!(s.target_met);
        assert_eq!(s.min_class_size, 10);
        assert_eq!(s.suppressed_records, 0);
        assert!(!s.optimal);
    }

    #[test]
    fn suppresses_small_classes_within_limit() {
        let mut people: Vec<(u32, u32)> = (0..10).map(|_| (40, 0)).collect();
        people.push((95, 1));
        let model = KAnonymity::new(5, 0.1).unwrap();
        let s = model.search(&[age_qi(), sex_qi()], &population(&people)).unwrap();
        assert_eq!(s.levels["age"], 0);
        assert_eq!(s.suppressed_persons, vec![10]);
        assert_eq!(s.suppressed_records, 2);
        assert_eq!(s.classes, 1);
    }

    #[test]
    fn a_person_with_two_tuples_counts_once() {
        let mut t = PersonTuples::new(3, 2);
        t.push(0, &[40, 0]);
        t.push(0, &[41, 0]);
        t.push(1, &[40, 0]);
        t.push(1, &[41, 0]);
        t.push(2, &[40, 0]);
        let (class_of, sizes) = t.classes(&[age_qi(), sex_qi()], &[0, 0]);
        assert_eq!(class_of[0], class_of[1]);
        assert_ne!(class_of[0], class_of[2]);
        assert_eq!(sizes.iter().sum::<u64>(), 3);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(KAnonymity::new(1, 0.1).is_err());
        assert!(KAnonymity::new(5, 1.5).is_err());
    }

    proptest! {
        /// The optimal person-level search never loses to the greedy climb, and agrees with the
        /// histogram search when every person has one record.
        #[test]
        fn optimal_beats_greedy(people in proptest::collection::vec((0u32..100, 0u32..2), 1..150), k in 2u32..6) {
            let model = KAnonymity::new(k, 0.05).unwrap();
            let qis = [age_qi(), sex_qi()];
            let tuples = population(&people);
            let greedy = model.search(&qis, &tuples).unwrap();
            let optimal = model.search_optimal(&qis, &tuples).unwrap();
            prop_assert_eq!(greedy.target_met, optimal.target_met);
            if optimal.target_met {
                prop_assert!(optimal.optimal);
                prop_assert!(optimal.utility["precision"] >= greedy.utility["precision"]);
                prop_assert!(optimal.min_class_size >= u64::from(k) || optimal.classes == 0);
                let mut counts: std::collections::HashMap<Vec<u32>, u64> = std::collections::HashMap::new();
                for (a, s) in &people {
                    *counts.entry(vec![*a, *s]).or_default() += 1;
                }
                let mut h = crate::Histogram { width: 2, ..Default::default() };
                let mut entries: Vec<_> = counts.into_iter().collect();
                entries.sort();
                for (t, n) in entries {
                    h.tuples.extend(t);
                    h.counts.push(n);
                }
                let by_rows = model.optimal(&qis, &h).unwrap();
                prop_assert_eq!(by_rows.levels, optimal.levels);
            }
        }

        /// Whatever the population, every released class has at least k persons, and the
        /// suppressed count is exactly the persons in smaller classes.
        #[test]
        fn released_classes_have_k(people in proptest::collection::vec((0u32..100, 0u32..2), 1..200), k in 2u32..8) {
            let model = KAnonymity::new(k, 0.05).unwrap();
            let qis = [age_qi(), sex_qi()];
            let tuples = population(&people);
            let s = model.search(&qis, &tuples).unwrap();
            let levels: Vec<usize> = qis.iter().map(|q| s.levels[&q.name]).collect();
            let (class_of, sizes) = tuples.classes(&qis, &levels);
            let suppressed: std::collections::HashSet<u32> = s.suppressed_persons.iter().copied().collect();
            for p in 0..people.len() {
                let small = sizes[class_of[p] as usize] < u64::from(k);
                prop_assert_eq!(small, suppressed.contains(&(p as u32)));
            }
            if s.classes > 0 {
                prop_assert!(s.min_class_size >= u64::from(k));
            }
            prop_assert_eq!(s.suppressed_records, 2 * s.suppressed_person_count);
        }
    }
}
