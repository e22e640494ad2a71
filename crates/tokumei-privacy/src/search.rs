//! The search over the generalization lattice: one node per vector of levels (one level per
//! quasi-identifier, within its bounds), evaluated by rolling the histogram up to that node.
//!
//! **Optimal search** (lattices up to [`SearchOptions::max_optimal_lattice`] nodes):
//! 1. a greedy climb finds an anonymous node quickly, whose score bounds the optimum;
//! 2. the nodes are visited top-down, level sum by level sum. A node is skipped when its lower
//!    bound (the metric without suppression, which never decreases going up) cannot beat the best
//!    score, or — when the model is monotone — when a node above it is already known not to be
//!    anonymous (then neither is it). Every other node is evaluated, in parallel per level sum.
//!
//! Every node is thus evaluated, bounded or tagged, so the best anonymous node found is the
//! optimum: lowest score, ties to the lexicographically smallest level vector (this is what the
//! report's `optimal: true` asserts, and the brute-force property tests check).
//!
//! **Heuristic search** (larger lattices): the greedy climb, then a descent trying each
//! predecessor of the best node, within a node and time budget; `optimal: false`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::Error;
use crate::hierarchy::QuasiIdentifier;
use crate::histogram::{Histogram, NULL_CODE};
use crate::metric::{Metric, MetricTables, Suppressed};
use crate::rollup::{Grouping, Roller};
use tokumei_core::distribution::Reference;

use crate::model::{ClassView, PrivacyModel};

/// How to search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// The metric to minimize (default: loss).
    pub metric: Metric,
    /// Largest lattice searched for the provable optimum; larger ones get the heuristic.
    pub max_optimal_lattice: u64,
    /// Nodes the heuristic may evaluate.
    pub node_budget: u64,
    /// Time the heuristic may take.
    pub time_budget: Option<Duration>,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions { metric: Metric::Loss, max_optimal_lattice: 1 << 20, node_budget: 20_000, time_budget: None }
    }
}

/// What the released classes achieve (measured on the classes, for the report).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Achieved {
    /// Smallest released class, in units (the k achieved).
    pub k: u64,
    /// Fewest distinct sensitive values in a released class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_distinct: Option<u64>,
    /// Smallest exp(entropy) of a released class (entropy ℓ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_entropy: Option<f64>,
    /// Largest distance of a released class to the whole input (t).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// Released classes ÷ released units.
    pub average_risk: f64,
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Solution {
    /// Chosen level per quasi-identifier.
    pub levels: BTreeMap<String, usize>,
    /// Description of each chosen level.
    pub level_names: BTreeMap<String, String>,
    /// Chosen levels in quasi-identifier order.
    #[serde(skip)]
    pub level_vector: Vec<usize>,
    /// Histogram entries whose units are suppressed (sorted).
    #[serde(skip)]
    pub suppressed_entries: Vec<u32>,
    /// The privacy model.
    pub model: String,
    /// Units (persons, or rows of a flat table) considered.
    pub units: u64,
    /// Records considered.
    pub records: u64,
    /// Suppressed units.
    pub suppressed_units: u64,
    /// Records of the suppressed units.
    pub suppressed_records: u64,
    /// Released equivalence classes.
    pub classes: u64,
    /// Smallest released class (units); 0 when nothing is released.
    pub min_class_size: u64,
    /// Largest released class (units).
    pub max_class_size: u64,
    /// Class size (units) → number of released classes of that size.
    pub class_size_distribution: BTreeMap<u64, u64>,
    /// What the released classes achieve.
    pub achieved: Achieved,
    /// Whether the model holds within the suppression limit.
    pub target_met: bool,
    /// The metric minimized.
    pub metric: String,
    /// Every metric at the chosen levels (information loss: lower is better).
    pub utility: BTreeMap<String, f64>,
    /// Whether the result is provably optimal for the metric.
    pub optimal: bool,
    /// The search used.
    pub search: String,
    /// Lattice nodes evaluated.
    pub nodes_checked: u64,
    /// Nodes in the lattice (within the level bounds).
    pub lattice_size: u64,
}

/// Evaluation of one node.
#[derive(Debug, Clone, Copy)]
struct NodeEval {
    anonymous: bool,
    suppressed_units: u64,
    score: f64,
}

struct Context<'a> {
    histogram: &'a Histogram,
    roller: Roller<'a>,
    qis: &'a [QuasiIdentifier],
    model: &'a PrivacyModel,
    metric: Metric,
    tables: MetricTables,
    reference: Option<Reference>,
    allowed: u64,
    min: Vec<usize>,
    max: Vec<usize>,
}

/// Searches the lattice of `qis` for the levels at which `histogram` satisfies `model` with the
/// least information loss.
pub fn search(
    histogram: &Histogram,
    qis: &[QuasiIdentifier],
    model: &PrivacyModel,
    options: &SearchOptions,
) -> Result<Solution, Error> {
    let model = model.clone().validated()?;
    if qis.len() != histogram.width {
        return Err(Error::InvalidInput(format!(
            "{} quasi-identifiers for a histogram of {} columns",
            qis.len(),
            histogram.width
        )));
    }
    for (a, qi) in qis.iter().enumerate() {
        qi.check()?;
        let domain = qi.domain() as u32;
        if histogram.codes.iter().skip(a).step_by(qis.len().max(1)).any(|&c| c != NULL_CODE && c >= domain) {
            return Err(Error::BadDictionary(qi.name.clone()));
        }
    }
    if model.needs_sensitive() && !histogram.has_sensitive() {
        return Err(Error::InvalidModel("ℓ-diversity and t-closeness need a sensitive attribute".into()));
    }
    let ctx = Context::new(histogram, qis, &model, options.metric);
    let lattice_size =
        ctx.min.iter().zip(&ctx.max).try_fold(1u64, |acc, (&lo, &hi)| acc.checked_mul((hi - lo + 1) as u64));
    let (best, nodes_checked, optimal, search) = match lattice_size {
        Some(size) if size <= options.max_optimal_lattice => {
            let (best, checked) = ctx.optimal(size);
            let proven = best.is_some();
            (best, checked, proven, format!("optimal (bounded top-down lattice search, {})", options.metric.name()))
        }
        _ => {
            let (best, checked) = ctx.heuristic(options);
            (best, checked, false, format!("heuristic (greedy climb and descent, {})", options.metric.name()))
        }
    };
    let target_met = best.is_some();
    let levels = best.map(|(_, levels)| levels).unwrap_or_else(|| ctx.max.clone());
    Ok(ctx.solution(&levels, target_met, optimal, search, nodes_checked, lattice_size.unwrap_or(u64::MAX)))
}

/// A candidate: its score and levels; lower score wins, ties to the smaller level vector.
type Best = Option<(f64, Vec<usize>)>;

fn beats(score: f64, levels: &[usize], best: &Best) -> bool {
    match best {
        None => true,
        Some((s, l)) => score < *s || (score == *s && levels < l.as_slice()),
    }
}

impl<'a> Context<'a> {
    fn new(
        histogram: &'a Histogram,
        qis: &'a [QuasiIdentifier],
        model: &'a PrivacyModel,
        metric: Metric,
    ) -> Context<'a> {
        Context {
            histogram,
            roller: Roller::new(histogram, qis),
            qis,
            tables: MetricTables::new(qis, histogram),
            reference: model.closeness.map(|_| Reference::new(&histogram.sensitive_totals())),
            allowed: model.allowed(histogram.unit_count()),
            model,
            metric,
            min: qis.iter().map(|q| q.bounds().0).collect(),
            max: qis.iter().map(|q| q.bounds().1).collect(),
        }
    }
    fn group(&self, levels: &[usize]) -> Grouping {
        self.roller.group(levels)
    }

    fn passes(&self, g: &Grouping) -> Vec<bool> {
        (0..g.units.len())
            .map(|c| {
                let sensitive = g.sensitive.get(c).map_or(&[][..], Vec::as_slice);
                self.model.class_passes(&ClassView { units: g.units[c], sensitive }, self.reference.as_ref())
            })
            .collect()
    }

    fn suppressed_sums(&self, g: &Grouping, pass: &[bool], levels: &[usize]) -> Suppressed {
        let h = self.histogram;
        let mut s = Suppressed::default();
        for (e, &c) in g.class_of.iter().enumerate() {
            if !pass[c as usize] {
                for slot in h.slots(e) {
                    s.records += h.slot_records[slot];
                    self.tables.add_suppressed(&mut s, h.tuple(slot), levels, h.slot_records[slot]);
                }
            }
        }
        s
    }

    fn evaluate(&self, levels: &[usize]) -> NodeEval {
        let g = self.group(levels);
        let pass = self.passes(&g);
        let suppressed_units: u64 = g.units.iter().zip(&pass).filter(|(_, p)| !**p).map(|(u, _)| u).sum();
        let mut eval = NodeEval { anonymous: false, suppressed_units, score: f64::INFINITY };
        if suppressed_units > self.allowed {
            return eval;
        }
        if let Some(limit) = self.model.average_risk {
            let released_units: u64 = g.units.iter().zip(&pass).filter(|(_, p)| **p).map(|(u, _)| u).sum();
            let released_classes = pass.iter().filter(|p| **p).count();
            if released_units > 0 && released_classes as f64 / released_units as f64 > limit {
                return eval;
            }
        }
        let suppressed = self.suppressed_sums(&g, &pass, levels);
        let released: Vec<u64> = g.records.iter().zip(&pass).filter(|(_, p)| **p).map(|(r, _)| *r).collect();
        eval.anonymous = true;
        eval.score = self.tables.score(self.metric, levels, &suppressed, &released);
        eval
    }

    /// The cost of one step up (for the greedy climb): precision's lower-bound increase.
    fn step_cost(&self, from: &[usize], to: &[usize]) -> f64 {
        let d = self.tables.lower_bound(Metric::Precision, to) - self.tables.lower_bound(Metric::Precision, from);
        d.max(1e-12)
    }

    /// Greedy climb from the bottom: the best anonymous successor if any, else the successor
    /// that removes most suppressed units per unit of generalization. Calls `seen` for every
    /// evaluation; stops when `stop()` says so.
    fn climb(&self, seen: &mut dyn FnMut(&[usize], NodeEval), stop: &dyn Fn() -> bool) -> Best {
        let mut node = self.min.clone();
        let mut current = self.evaluate(&node);
        seen(&node, current);
        while !current.anonymous && !stop() {
            let candidates: Vec<Vec<usize>> = (0..node.len())
                .filter(|&a| node[a] < self.max[a])
                .map(|a| {
                    let mut next = node.clone();
                    next[a] += 1;
                    next
                })
                .collect();
            if candidates.is_empty() {
                break;
            }
            let evals: Vec<NodeEval> = candidates.par_iter().map(|c| self.evaluate(c)).collect();
            let mut choice: Option<(bool, f64, usize)> = None;
            for (i, (c, e)) in candidates.iter().zip(&evals).enumerate() {
                seen(c, *e);
                let value = if e.anonymous {
                    -e.score
                } else {
                    current.suppressed_units.saturating_sub(e.suppressed_units) as f64 / self.step_cost(&node, c)
                };
                if choice.is_none_or(|(anon, v, _)| (e.anonymous, value) > (anon, v)) {
                    choice = Some((e.anonymous, value, i));
                }
            }
            let (_, _, i) = choice.expect("candidates is not empty");
            node = candidates[i].clone();
            current = evals[i];
        }
        current.anonymous.then_some((current.score, node))
    }

    fn optimal(&self, size: u64) -> (Best, u64) {
        let width = self.min.len();
        let spans: Vec<u64> = self.min.iter().zip(&self.max).map(|(&lo, &hi)| (hi - lo + 1) as u64).collect();
        // Mixed radix, first attribute most significant: index order = lexicographic order.
        let mut strides = vec![1u64; width];
        for a in (0..width.saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * spans[a + 1];
        }
        let levels_of = |index: u64| -> Vec<usize> {
            (0..width).map(|a| self.min[a] + ((index / strides[a]) % spans[a]) as usize).collect()
        };
        let index_of =
            |levels: &[usize]| -> u64 { (0..width).map(|a| (levels[a] - self.min[a]) as u64 * strides[a]).sum() };
        const UNKNOWN: u8 = 0;
        const ANONYMOUS: u8 = 1;
        const NOT_ANONYMOUS: u8 = 2;
        let mut status = vec![UNKNOWN; size as usize];
        let mut best: Best = None;
        let mut checked = 0u64;
        {
            let mut seen = |levels: &[usize], e: NodeEval| {
                checked += 1;
                status[index_of(levels) as usize] = if e.anonymous { ANONYMOUS } else { NOT_ANONYMOUS };
                if e.anonymous && beats(e.score, levels, &best) {
                    best = Some((e.score, levels.to_vec()));
                }
            };
            self.climb(&mut seen, &|| false);
        }
        let lower: Vec<f64> =
            (0..size).into_par_iter().map(|i| self.tables.lower_bound(self.metric, &levels_of(i))).collect();
        let top: usize = spans.iter().map(|&s| s as usize - 1).sum();
        let mut by_height: Vec<Vec<u64>> = vec![Vec::new(); top + 1];
        for i in 0..size {
            let height: usize = (0..width).map(|a| ((i / strides[a]) % spans[a]) as usize).sum();
            by_height[height].push(i);
        }
        let monotone = self.model.monotone();
        for nodes in by_height.iter().rev() {
            let mut batch: Vec<u64> = Vec::new();
            for &i in nodes {
                let s = i as usize;
                if status[s] == UNKNOWN && monotone {
                    let above_fails = (0..width).any(|a| {
                        (i / strides[a]) % spans[a] + 1 < spans[a] && status[(i + strides[a]) as usize] == NOT_ANONYMOUS
                    });
                    if above_fails {
                        status[s] = NOT_ANONYMOUS;
                    }
                }
                if status[s] != UNKNOWN {
                    continue;
                }
                if beats(lower[s], &levels_of(i), &best) {
                    batch.push(i);
                }
            }
            let evals: Vec<(u64, NodeEval)> = batch.par_iter().map(|&i| (i, self.evaluate(&levels_of(i)))).collect();
            checked += evals.len() as u64;
            for (i, e) in evals {
                status[i as usize] = if e.anonymous { ANONYMOUS } else { NOT_ANONYMOUS };
                let levels = levels_of(i);
                if e.anonymous && beats(e.score, &levels, &best) {
                    best = Some((e.score, levels));
                }
            }
        }
        (best, checked)
    }

    fn heuristic(&self, options: &SearchOptions) -> (Best, u64) {
        let started = Instant::now();
        let checked = std::cell::Cell::new(0u64);
        let over =
            || checked.get() >= options.node_budget || options.time_budget.is_some_and(|t| started.elapsed() >= t);
        let mut best: Best = None;
        let record = |best: &mut Best, levels: &[usize], e: NodeEval| {
            checked.set(checked.get() + 1);
            if e.anonymous && beats(e.score, levels, best) {
                *best = Some((e.score, levels.to_vec()));
            }
        };
        self.climb(&mut |levels, e| record(&mut best, levels, e), &over);
        // Descent: while a predecessor of the best node is anonymous and better, move there.
        while let Some((_, node)) = best.clone() {
            if over() {
                break;
            }
            let below: Vec<Vec<usize>> = (0..node.len())
                .filter(|&a| node[a] > self.min[a])
                .map(|a| {
                    let mut prev = node.clone();
                    prev[a] -= 1;
                    prev
                })
                .collect();
            let evals: Vec<NodeEval> = below.par_iter().map(|c| self.evaluate(c)).collect();
            let before = best.clone();
            for (c, e) in below.iter().zip(evals) {
                record(&mut best, c, e);
            }
            if best == before {
                break;
            }
        }
        (best, checked.get())
    }

    fn solution(
        &self,
        levels: &[usize],
        target_met: bool,
        optimal: bool,
        search: String,
        nodes_checked: u64,
        lattice_size: u64,
    ) -> Solution {
        let g = self.group(levels);
        let pass = self.passes(&g);
        let suppressed = self.suppressed_sums(&g, &pass, levels);
        let suppressed_entries: Vec<u32> =
            (0..g.class_of.len() as u32).filter(|&e| !pass[g.class_of[e as usize] as usize]).collect();
        let released: Vec<usize> = (0..pass.len()).filter(|&c| pass[c]).collect();
        let released_records: Vec<u64> = released.iter().map(|&c| g.records[c]).collect();
        let mut distribution = BTreeMap::new();
        for &c in &released {
            *distribution.entry(g.units[c]).or_insert(0) += 1;
        }
        let released_units: u64 = released.iter().map(|&c| g.units[c]).sum();
        let mut achieved = Achieved {
            k: released.iter().map(|&c| g.units[c]).min().unwrap_or(0),
            average_risk: if released_units == 0 { 0.0 } else { released.len() as f64 / released_units as f64 },
            ..Achieved::default()
        };
        if self.histogram.has_sensitive() {
            let measures: Vec<_> = released
                .iter()
                .map(|&c| {
                    let view = ClassView { units: g.units[c], sensitive: &g.sensitive[c] };
                    self.model.measure(&view, self.reference.as_ref())
                })
                .collect();
            achieved.l_distinct = measures.iter().map(|m| m.distinct).min();
            if matches!(self.model.diversity, Some(crate::Diversity::Entropy { .. })) {
                achieved.l_entropy = measures.iter().map(|m| m.entropy_l).reduce(f64::min);
            }
            if self.model.closeness.is_some() {
                achieved.t = measures.iter().map(|m| m.distance).reduce(f64::max);
            }
        }
        let all = self.tables.all(levels, &suppressed, &released_records);
        Solution {
            levels: self.qis.iter().zip(levels).map(|(qi, &l)| (qi.name.clone(), l)).collect(),
            level_names: self
                .qis
                .iter()
                .zip(levels)
                .map(|(qi, &l)| (qi.name.clone(), qi.level_names.get(l).cloned().unwrap_or_default()))
                .collect(),
            level_vector: levels.to_vec(),
            suppressed_entries,
            model: self.model.describe(),
            units: self.histogram.unit_count(),
            records: self.histogram.record_count(),
            suppressed_units: self.histogram.unit_count() - released_units,
            suppressed_records: suppressed.records,
            classes: released.len() as u64,
            min_class_size: achieved.k,
            max_class_size: released.iter().map(|&c| g.units[c]).max().unwrap_or(0),
            class_size_distribution: distribution,
            achieved,
            target_met,
            metric: self.metric.name().into(),
            utility: all,
            optimal,
            search,
            nodes_checked,
            lattice_size,
        }
    }
}

/// Evaluates every node of the lattice (tests and small cross-checks): the best anonymous node
/// by the same ordering as [`search`], with its score.
pub fn brute_force(
    histogram: &Histogram,
    qis: &[QuasiIdentifier],
    model: &PrivacyModel,
    metric: Metric,
) -> Result<Option<(f64, Vec<usize>)>, Error> {
    let ctx = Context::new(histogram, qis, model, metric);
    let mut best: Best = None;
    let mut node = ctx.min.clone();
    loop {
        let e = ctx.evaluate(&node);
        if e.anonymous && beats(e.score, &node, &best) {
            best = Some((e.score, node.clone()));
        }
        // Next level vector in lexicographic order.
        let mut a = node.len();
        loop {
            if a == 0 {
                return Ok(best);
            }
            a -= 1;
            if node[a] < ctx.max[a] {
                node[a] += 1;
                break;
            }
            node[a] = ctx.min[a];
        }
    }
}
