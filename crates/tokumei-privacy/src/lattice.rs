//! Optimal k-anonymity over the generalization lattice, on a histogram of distinct tuples.
//!
//! The lattice holds one node per vector of levels (one level per quasi-identifier). With a
//! record-suppression limit, k-anonymity is monotone: if a node is anonymous, so is every node
//! above it; and precision only falls going up. So nodes are visited level sum by level sum, a
//! node whose predecessor is anonymous is tagged anonymous without being evaluated (it cannot beat
//! that predecessor), and the best evaluated anonymous node is provably optimal for precision.
//! Nodes of one level sum are evaluated in parallel; each evaluation rolls up the histogram.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::histogram::{NULL_CODE, QuasiIdentifier};
use crate::kanonymity::{Decision, Error, KAnonymity, Solution, check_ladders};

/// Distinct quasi-identifier tuples (base codes, flattened) and how many records hold each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Codes per tuple.
    pub width: usize,
    /// The tuples, flattened.
    pub tuples: Vec<u32>,
    /// Records per tuple.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Number of distinct tuples.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when there are no tuples.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Class id of every tuple at `levels`, and each class's record count.
    pub fn classes(&self, qis: &[QuasiIdentifier], levels: &[usize]) -> (Vec<u32>, Vec<u64>) {
        let mut ids: HashMap<Vec<u32>, u32> = HashMap::with_capacity(self.len());
        let mut sizes: Vec<u64> = Vec::new();
        let mut key = Vec::with_capacity(self.width);
        let class_of = self
            .tuples
            .chunks(self.width.max(1))
            .zip(&self.counts)
            .map(|(tuple, &count)| {
                key.clear();
                key.extend(
                    tuple
                        .iter()
                        .zip(qis)
                        .zip(levels)
                        .map(|((&b, qi), &l)| if b == NULL_CODE { NULL_CODE } else { qi.lookup[l][b as usize] }),
                );
                let next = ids.len() as u32;
                let id = *ids.entry(key.clone()).or_insert(next);
                if id as usize == sizes.len() {
                    sizes.push(0);
                }
                sizes[id as usize] += count;
                id
            })
            .collect();
        (class_of, sizes)
    }

    fn suppressed(&self, qis: &[QuasiIdentifier], levels: &[usize], k: u64) -> u64 {
        self.classes(qis, levels).1.into_iter().filter(|&s| s < k).sum()
    }
}

/// Precision (Sweeney): 1 − the mean over quasi-identifiers of level / height.
pub(crate) fn precision(qis: &[QuasiIdentifier], levels: &[usize]) -> f64 {
    if qis.is_empty() {
        return 1.0;
    }
    let loss: f64 = qis
        .iter()
        .zip(levels)
        .map(|(qi, &l)| if qi.levels() > 1 { l as f64 / (qi.levels() - 1) as f64 } else { 0.0 })
        .sum();
    1.0 - loss / qis.len() as f64
}

/// All level vectors of the lattice with level sum `height`.
fn nodes_at(qis: &[QuasiIdentifier], height: usize) -> Vec<Vec<usize>> {
    fn go(qis: &[QuasiIdentifier], i: usize, left: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if i == qis.len() {
            if left == 0 {
                out.push(current.clone());
            }
            return;
        }
        for l in 0..qis[i].levels().min(left + 1) {
            current.push(l);
            go(qis, i + 1, left - l, current, out);
            current.pop();
        }
    }
    let mut out = Vec::new();
    go(qis, 0, height, &mut Vec::new(), &mut out);
    out
}

/// Walks the lattice level sum by level sum, evaluating `suppressed(levels)` only for nodes with
/// no anonymous predecessor (in parallel per level sum). Returns the anonymous node with the
/// highest precision (ties: fewer suppressed, then the smaller level vector) and the number of
/// nodes evaluated.
pub(crate) fn walk(
    qis: &[QuasiIdentifier],
    allowed: u64,
    suppressed: impl Fn(&[usize]) -> u64 + Sync,
) -> (Option<Vec<usize>>, u64) {
    let max_height: usize = qis.iter().map(|q| q.levels() - 1).sum();
    let mut anonymous: HashMap<Vec<usize>, bool> = HashMap::new();
    let mut best: Option<(f64, u64, Vec<usize>)> = None;
    let mut nodes_checked = 0u64;
    for height in 0..=max_height {
        // A node above an anonymous node is anonymous and worse: tag it, do not evaluate it.
        let (implied, open): (Vec<Vec<usize>>, Vec<Vec<usize>>) = nodes_at(qis, height).into_iter().partition(|node| {
            (0..node.len()).any(|i| {
                node[i] > 0 && {
                    let mut below = node.clone();
                    below[i] -= 1;
                    anonymous.get(&below).copied().unwrap_or(false)
                }
            })
        });
        let evaluated: Vec<(Vec<usize>, u64)> = open
            .into_par_iter()
            .map(|node| {
                let s = suppressed(&node);
                (node, s)
            })
            .collect();
        nodes_checked += evaluated.len() as u64;
        for node in implied {
            anonymous.insert(node, true);
        }
        for (node, count) in evaluated {
            let ok = count <= allowed;
            if ok {
                let candidate = (precision(qis, &node), count, node.clone());
                let better = best.as_ref().is_none_or(|(p, s, levels)| {
                    candidate.0 > *p || (candidate.0 == *p && (candidate.1, &candidate.2) < (*s, levels))
                });
                if better {
                    best = Some(candidate);
                }
            }
            anonymous.insert(node, ok);
        }
    }
    (best.map(|(_, _, levels)| levels), nodes_checked)
}

impl KAnonymity {
    /// The optimal (highest-precision) levels at which `histogram` is k-anonymous with at most the
    /// allowed fraction of records suppressed. Ties go to fewer suppressed records, then to the
    /// lexicographically smaller level vector.
    pub fn optimal(&self, qis: &[QuasiIdentifier], histogram: &Histogram) -> Result<Solution, Error> {
        check_ladders(qis)?;
        let k = u64::from(self.k);
        let records: u64 = histogram.counts.iter().sum();
        let allowed = self.allowed(records);
        let (best, nodes_checked) = walk(qis, allowed, |node| histogram.suppressed(qis, node, k));
        let (levels, target_met) = match best {
            Some(levels) => (levels, true),
            None => (qis.iter().map(|q| q.levels() - 1).collect(), false),
        };
        let (class_of, sizes) = histogram.classes(qis, &levels);
        let suppressed: Vec<u32> =
            (0..histogram.len() as u32).filter(|&t| sizes[class_of[t as usize] as usize] < k).collect();
        let suppressed_records: u64 = suppressed.iter().map(|&t| histogram.counts[t as usize]).sum();
        Ok(self.solution(
            qis,
            Decision {
                levels: &levels,
                class_sizes: &sizes,
                suppressed,
                suppressed_count: suppressed_records,
                suppressed_records,
                units: records,
                target_met,
                optimal: target_met,
                nodes_checked,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qi(name: &str, values: u32, levels: &[u32]) -> QuasiIdentifier {
        // Level l groups values by `levels[l]` (1 = identity); the last level is one group.
        let mut lookup: Vec<Vec<u32>> = levels.iter().map(|&w| (0..values).map(|v| v / w.max(1)).collect()).collect();
        lookup.push(vec![0; values as usize]);
        let level_names = (0..lookup.len()).map(|l| format!("l{l}")).collect();
        QuasiIdentifier { name: name.into(), lookup, level_names }
    }

    fn brute_force(model: &KAnonymity, qis: &[QuasiIdentifier], h: &Histogram) -> Option<(f64, u64, Vec<usize>)> {
        let records: u64 = h.counts.iter().sum();
        let allowed = (model.max_suppression * records as f64).floor() as u64;
        let max_height: usize = qis.iter().map(|q| q.levels() - 1).sum();
        let mut best: Option<(f64, u64, Vec<usize>)> = None;
        for height in 0..=max_height {
            for node in nodes_at(qis, height) {
                let s = h.suppressed(qis, &node, u64::from(model.k));
                if s <= allowed {
                    let c = (precision(qis, &node), s, node);
                    let better = best.as_ref().is_none_or(|b| c.0 > b.0 || (c.0 == b.0 && (c.1, &c.2) < (b.1, &b.2)));
                    if better {
                        best = Some(c);
                    }
                }
            }
        }
        best
    }

    proptest! {
        /// The pruned search finds the same optimum as evaluating every node.
        #[test]
        fn matches_brute_force(rows in proptest::collection::vec((0u32..20, 0u32..6, 0u32..3), 1..120), k in 2u32..6, limit in 0u32..20) {
            let qis = [qi("a", 20, &[1, 5, 10]), qi("b", 6, &[1, 3]), qi("c", 3, &[1])];
            let mut counts: HashMap<Vec<u32>, u64> = HashMap::new();
            for (a, b, c) in rows {
                *counts.entry(vec![a, b, c]).or_default() += 1;
            }
            let mut h = Histogram { width: 3, ..Histogram::default() };
            let mut entries: Vec<_> = counts.into_iter().collect();
            entries.sort();
            for (t, n) in entries {
                h.tuples.extend(t);
                h.counts.push(n);
            }
            let model = KAnonymity::new(k, f64::from(limit) / 100.0).unwrap();
            let found = model.optimal(&qis, &h).unwrap();
            match brute_force(&model, &qis, &h) {
                Some((p, s, levels)) => {
                    prop_assert!(found.optimal);
                    prop_assert_eq!(found.utility["precision"], p);
                    prop_assert_eq!(found.suppressed_records, s);
                    let got: Vec<usize> = qis.iter().map(|q| found.levels[&q.name]).collect();
                    prop_assert_eq!(got, levels);
                    prop_assert!(found.min_class_size >= u64::from(k) || found.classes == 0);
                    prop_assert!(found.nodes_checked <= found.lattice_size);
                }
                None => prop_assert!(!found.target_met),
            }
        }
    }
}
