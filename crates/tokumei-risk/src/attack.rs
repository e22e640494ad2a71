//! Simulated attacks on a release, over dictionary-coded quasi-identifiers that release and
//! attacker share (the attacker's values already generalized the way the release did; a
//! suppressed release value is [`WILDCARD`] and matches anything).
//!
//! - [`link`]: a linkage (re-identification) attack. Each attacker record is compared with the
//!   release: no candidate, exactly one (a *unique match*: correct or wrong, when truth is known),
//!   or several (*ambiguous*; an attacker picking one at random is right with probability
//!   1/candidates when the target is among them). Reported overall and by candidate-class size.
//! - [`attribute_inference`] and [`singling_out`]: estimates in the manner of anonymeter
//!   (Giomi et al. 2023): the attack's success on records of the released persons is compared
//!   with its success on a *control set* of the same population that was not released, and the
//!   risk is the excess, `(s_released − s_control) / (1 − s_control)` (0 when negative), with
//!   95 % Wilson intervals for both rates.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use serde::Serialize;

/// A suppressed (or fully generalized) release value: matches any attacker value.
pub const WILDCARD: u32 = u32::MAX;

/// No identity known for a record.
pub const NO_ID: u32 = u32::MAX;

/// Records by their values on a pattern's attributes.
type ByValues = HashMap<Vec<u32>, Vec<u32>>;

/// An index of release records by their quasi-identifier tuples, with wildcards: one hash map
/// per wildcard pattern (the set of attributes that are not wildcards).
struct Index {
    patterns: Vec<(u64, ByValues)>,
}

impl Index {
    fn new(columns: &[Vec<u32>]) -> Index {
        let rows = columns.first().map_or(0, Vec::len);
        let mut by_pattern: BTreeMap<u64, ByValues> = BTreeMap::new();
        for r in 0..rows {
            let mut pattern = 0u64;
            let mut key = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                if c[r] != WILDCARD {
                    pattern |= 1 << i;
                    key.push(c[r]);
                }
            }
            by_pattern.entry(pattern).or_default().entry(key).or_default().push(r as u32);
        }
        Index { patterns: by_pattern.into_iter().collect() }
    }

    /// Release records matching `tuple` (an attacker's generalized values).
    fn candidates<'a>(&'a self, tuple: &[u32], out: &mut Vec<&'a [u32]>) {
        out.clear();
        let mut key = Vec::with_capacity(tuple.len());
        for (pattern, map) in &self.patterns {
            key.clear();
            key.extend(tuple.iter().enumerate().filter(|(i, _)| pattern & (1 << i) != 0).map(|(_, &v)| v));
            if let Some(rows) = map.get(&key) {
                out.push(rows);
            }
        }
    }
}

/// Outcomes of a group of attacker records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcomes {
    /// Attacker records.
    pub records: u64,
    /// Exactly one candidate.
    pub unique_matches: u64,
    /// Unique matches on the right person (with truth).
    pub correct: u64,
    /// Unique matches on someone else (with truth).
    pub wrong: u64,
    /// Several candidates.
    pub ambiguous: u64,
    /// Ambiguous, the target among the candidates (with truth).
    pub ambiguous_with_target: u64,
    /// No candidate.
    pub no_match: u64,
    /// Expected right guesses of an attacker who picks one candidate at random (with truth):
    /// Σ 1/candidates over records whose target is among them.
    pub expected_correct: f64,
}

/// A linkage attack's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Linkage {
    /// Every attacker record.
    pub overall: Outcomes,
    /// Attacker records whose person is in the release (with truth).
    pub insiders: Option<u64>,
    /// Attacker records whose person is not (with truth).
    pub outsiders: Option<u64>,
    /// Correct unique matches ÷ attacker records (with truth).
    pub reidentification_rate: Option<f64>,
    /// Correct unique matches ÷ insiders (with truth).
    pub reidentification_rate_of_insiders: Option<f64>,
    /// Wrong ÷ unique matches (with truth): how often a confident attacker is mistaken.
    pub false_match_rate: Option<f64>,
    /// The same by the number of candidates: `0`, `1`, `2`, `3-4`, `5-9`, `10-19`, `20+`.
    pub by_candidates: BTreeMap<String, Outcomes>,
}

fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=4 => "3-4",
        5..=9 => "5-9",
        10..=19 => "10-19",
        _ => "20+",
    }
}

/// Links every attacker record to the release. `release` and `attacker` are per-column codes
/// (same dictionaries, release wildcards allowed); `ids` (release, attacker), when given, say who
/// each record is ([`NO_ID`]: unknown), for scoring. `persons`, when given, is the release's own
/// person column (a pseudonym the attacker sees): candidates are then counted as distinct
/// persons, so several records of one person are one candidate.
pub fn link(
    release: &[Vec<u32>],
    attacker: &[Vec<u32>],
    ids: Option<(&[u32], &[u32])>,
    persons: Option<&[u32]>,
) -> Linkage {
    let index = Index::new(release);
    let rows = attacker.first().map_or(0, Vec::len);
    let released: hashbrown::HashSet<u32> =
        ids.map(|(r, _)| r.iter().copied().filter(|&i| i != NO_ID).collect()).unwrap_or_default();
    let mut overall = Outcomes::default();
    let mut by_candidates: BTreeMap<String, Outcomes> = BTreeMap::new();
    let (mut insiders, mut outsiders) = (0u64, 0u64);
    let mut tuple = Vec::with_capacity(attacker.len());
    let mut found: Vec<&[u32]> = Vec::new();
    let mut distinct: hashbrown::HashSet<u32> = hashbrown::HashSet::new();
    for a in 0..rows {
        tuple.clear();
        tuple.extend(attacker.iter().map(|c| c[a]));
        index.candidates(&tuple, &mut found);
        let n: usize = match persons {
            None => found.iter().map(|rows| rows.len()).sum(),
            Some(p) => {
                distinct.clear();
                distinct.extend(found.iter().flat_map(|rows| rows.iter().map(|&r| p[r as usize])));
                distinct.len()
            }
        };
        let target = ids.map(|(_, att)| att[a]).filter(|&t| t != NO_ID);
        if let Some(t) = target {
            if released.contains(&t) {
                insiders += 1;
            } else {
                outsiders += 1;
            }
        }
        let hit =
            |t: u32| ids.is_some_and(|(rel, _)| found.iter().any(|rows| rows.iter().any(|&r| rel[r as usize] == t)));
        let group = by_candidates.entry(bucket(n).to_string()).or_default();
        for o in [&mut overall, group] {
            o.records += 1;
            match n {
                0 => o.no_match += 1,
                1 => {
                    o.unique_matches += 1;
                    if let Some(t) = target {
                        if hit(t) {
                            o.correct += 1;
                            o.expected_correct += 1.0;
                        } else {
                            o.wrong += 1;
                        }
                    }
                }
                _ => {
                    o.ambiguous += 1;
                    if let Some(t) = target
                        && hit(t)
                    {
                        o.ambiguous_with_target += 1;
                        o.expected_correct += 1.0 / n as f64;
                    }
                }
            }
        }
    }
    let with_truth = ids.is_some();
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    Linkage {
        insiders: with_truth.then_some(insiders),
        outsiders: with_truth.then_some(outsiders),
        reidentification_rate: if with_truth { ratio(overall.correct, overall.records) } else { None },
        reidentification_rate_of_insiders: if with_truth { ratio(overall.correct, insiders) } else { None },
        false_match_rate: if with_truth { ratio(overall.wrong, overall.unique_matches) } else { None },
        overall,
        by_candidates,
    }
}

/// A success rate with its 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// Successes ÷ attempts.
    pub rate: f64,
    /// Lower end of the 95 % Wilson interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Attempts.
    pub attempts: u64,
}

impl Rate {
    /// From counts (Wilson score interval, z = 1.96).
    pub fn new(successes: u64, attempts: u64) -> Rate {
        if attempts == 0 {
            return Rate { rate: 0.0, low: 0.0, high: 1.0, attempts };
        }
        let (n, p, z) = (attempts as f64, successes as f64 / attempts as f64, 1.96f64);
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        Rate { rate: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0), attempts }
    }
}

/// An anonymeter-style estimate: success on released persons' records vs on the control set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Success on records of released persons.
    pub released: Rate,
    /// Success on the control set (the baseline: what the release teaches about anyone).
    pub control: Rate,
    /// `(released − control) / (1 − control)`, at least 0.
    pub risk: f64,
}

fn estimate(released: Rate, control: Rate) -> Estimate {
    let risk = if control.rate >= 1.0 { 0.0 } else { ((released.rate - control.rate) / (1.0 - control.rate)).max(0.0) };
    Estimate { released, control, risk }
}

/// Attribute inference: for each target (its generalized quasi-identifiers known to the
/// attacker), guess the sensitive value as the most frequent among the matching release records
/// (ties: the smallest code; no match: the most frequent value of the release). Targets are the
/// released persons' records (`original`) and the control set's; each `(columns, sensitive)`.
pub fn attribute_inference(
    release: (&[Vec<u32>], &[u32]),
    original: (&[Vec<u32>], &[u32]),
    control: (&[Vec<u32>], &[u32]),
) -> Estimate {
    let index = Index::new(release.0);
    let mut overall: HashMap<u32, u64> = HashMap::new();
    for &s in release.1 {
        *overall.entry(s).or_insert(0) += 1;
    }
    let most =
        |counts: &HashMap<u32, u64>| counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(&v, _)| v);
    let fallback = most(&overall);
    let success = |targets: (&[Vec<u32>], &[u32])| {
        let rows = targets.0.first().map_or(0, Vec::len);
        let mut found: Vec<&[u32]> = Vec::new();
        let mut tuple = Vec::new();
        let mut hits = 0u64;
        for t in 0..rows {
            tuple.clear();
            tuple.extend(targets.0.iter().map(|c| c[t]));
            index.candidates(&tuple, &mut found);
            let mut counts: HashMap<u32, u64> = HashMap::new();
            for rows in &found {
                for &r in rows.iter() {
                    *counts.entry(release.1[r as usize]).or_insert(0) += 1;
                }
            }
            let guess = if counts.is_empty() { fallback } else { most(&counts) };
            if guess == Some(targets.1[t]) {
                hits += 1;
            }
        }
        Rate::new(hits, rows as u64)
    };
    estimate(success(original), success(control))
}

/// Singling out: each release record's tuple is a predicate; it singles out in a table when
/// exactly one of that table's records (generalized) satisfies it. The rate on the released
/// persons' records is compared with the rate on a control set; both tables must be of the same
/// size (sample them so), as the chance of exactly one match depends on it.
pub fn singling_out(release: &[Vec<u32>], original: &[Vec<u32>], control: &[Vec<u32>]) -> Estimate {
    let rate = |table: &[Vec<u32>]| {
        let index = Index::new(table);
        let rows = release.first().map_or(0, Vec::len);
        let mut hits = 0u64;
        let mut found: Vec<&[u32]> = Vec::new();
        let mut tuple = Vec::new();
        for r in 0..rows {
            tuple.clear();
            tuple.extend(release.iter().map(|c| c[r]));
            // The predicate's wildcards match anything: look the table up on the fixed attributes
            // only, by treating the table's records as the indexed side with the predicate's
            // wildcards applied to them.
            let matched = if tuple.contains(&WILDCARD) {
                let rows_t = table.first().map_or(0, Vec::len);
                (0..rows_t)
                    .filter(|&x| tuple.iter().zip(table).all(|(&v, c)| v == WILDCARD || c[x] == v))
                    .take(2)
                    .count()
            } else {
                index.candidates(&tuple, &mut found);
                found.iter().map(|rows| rows.len()).sum()
            };
            if matched == 1 {
                hits += 1;
            }
        }
        Rate::new(hits, rows as u64)
    };
    estimate(rate(original), rate(control))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn columns(rows: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let m = rows.first().map_or(0, Vec::len);
        (0..m).map(|a| rows.iter().map(|r| r[a]).collect()).collect()
    }

    #[test]
    fn linkage_outcomes_by_hand() {
        // Release: persons 1, 2 share (0, 0); person 3 is (1, 0); person 4 suppressed (*, *).
        let release = columns(&[vec![0, 0], vec![0, 0], vec![1, 0], vec![WILDCARD, WILDCARD]]);
        let release_ids = [1, 2, 3, 4];
        // Attacker: person 3 (unique → correct once the wildcard is counted), person 1, an
        // outsider 9 on (2, 1) (only the wildcard matches).
        let attacker = columns(&[vec![1, 0], vec![0, 0], vec![2, 1]]);
        let attacker_ids = [3, 1, 9];
        let l = link(&release, &attacker, Some((&release_ids, &attacker_ids)), None);
        // Person 3 matches (1,0) and the suppressed record: 2 candidates, ambiguous.
        assert_eq!(l.overall.ambiguous, 2);
        assert_eq!(l.overall.unique_matches, 1, "the outsider matches only the suppressed record");
        assert_eq!(l.overall.wrong, 1);
        assert_eq!(l.overall.correct, 0);
        assert_eq!((l.insiders, l.outsiders), (Some(2), Some(1)));
        assert!((l.overall.expected_correct - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
        assert_eq!(l.by_candidates["2"].ambiguous_with_target, 1);
        assert_eq!(l.by_candidates["3-4"].records, 1);
        assert_eq!(l.false_match_rate, Some(1.0));
    }

    #[test]
    fn records_of_one_person_are_one_candidate() {
        // Person 7 has two records with the same values: by records ambiguous, by persons unique.
        let release = columns(&[vec![1, 1], vec![1, 1], vec![2, 2]]);
        let ids = [7, 7, 8];
        let attacker = columns(&[vec![1, 1]]);
        let by_records = link(&release, &attacker, Some((&ids, &[7])), None);
        assert_eq!(by_records.overall.ambiguous, 1);
        let by_persons = link(&release, &attacker, Some((&ids, &[7])), Some(&ids));
        assert_eq!((by_persons.overall.unique_matches, by_persons.overall.correct), (1, 1));
    }

    #[test]
    fn wilson_interval() {
        let r = Rate::new(50, 100);
        assert!((r.low - 0.4038).abs() < 1e-3 && (r.high - 0.5962).abs() < 1e-3, "{r:?}");
        assert_eq!(Rate::new(0, 0).high, 1.0);
    }

    #[test]
    fn inference_and_singling_out_see_the_released_persons() {
        // The release is the original itself (no protection): every original record singles
        // itself out and its sensitive value is inferred; the control set shares nothing.
        let original_rows: Vec<Vec<u32>> = (0..50).map(|i| vec![i, i % 3]).collect();
        let control_rows: Vec<Vec<u32>> = (100..150).map(|i| vec![i, i % 3]).collect();
        let original = columns(&original_rows);
        let control = columns(&control_rows);
        let sensitive: Vec<u32> = (0..50).map(|i| i % 7).collect();
        let control_sensitive: Vec<u32> = (0..50).map(|i| (i + 3) % 7).collect();
        let inference =
            attribute_inference((&original, &sensitive), (&original, &sensitive), (&control, &control_sensitive));
        assert_eq!(inference.released.rate, 1.0);
        assert!(inference.control.rate < 0.2);
        assert!(inference.risk > 0.8);
        let so = singling_out(&original, &original, &control);
        assert_eq!(so.released.rate, 1.0);
        assert_eq!(so.control.rate, 0.0);
        assert_eq!(so.risk, 1.0);
    }

    proptest! {
        #[test]
        fn linkage_counts_match_a_scan(
            release in prop::collection::vec(prop::collection::vec(prop_oneof![9 => 0u32..3, 1 => Just(WILDCARD)], 3), 0..30),
            attacker in prop::collection::vec(prop::collection::vec(0u32..3, 3), 1..30),
        ) {
            let ids_r: Vec<u32> = (0..release.len() as u32).collect();
            let ids_a: Vec<u32> = (0..attacker.len() as u32).map(|i| i * 2).collect();
            let cols_r = if release.is_empty() { vec![Vec::new(); 3] } else { columns(&release) };
            let l = link(&cols_r, &columns(&attacker), Some((&ids_r, &ids_a)), None);
            let (mut unique, mut ambiguous, mut none, mut correct) = (0, 0, 0, 0);
            for (a, row) in attacker.iter().enumerate() {
                let hits: Vec<usize> = release.iter().enumerate()
                    .filter(|(_, r)| r.iter().zip(row).all(|(&x, &y)| x == WILDCARD || x == y))
                    .map(|(i, _)| i).collect();
                match hits.len() {
                    0 => none += 1,
                    1 => { unique += 1; if ids_r[hits[0]] == ids_a[a] { correct += 1; } }
                    _ => ambiguous += 1,
                }
            }
            prop_assert_eq!(l.overall.unique_matches, unique);
            prop_assert_eq!(l.overall.ambiguous, ambiguous);
            prop_assert_eq!(l.overall.no_match, none);
            prop_assert_eq!(l.overall.correct, correct);
            prop_assert_eq!(l.overall.correct + l.overall.wrong, l.overall.unique_matches);
            let total: u64 = l.by_candidates.values().map(|o| o.records).sum();
            prop_assert_eq!(total, attacker.len() as u64);
        }
    }
}
