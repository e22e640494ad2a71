//! Utility metrics, as information loss (lower is better), with ARX's definitions so figures
//! compare with ARX's (`org.deidentifier.arx.metric.v2`), computed over records:
//!
//! - **loss** (ARX's default "Loss", Iyengar 2002): per attribute, the mean over records of
//!   (leaves under the generalized value − 1) ÷ (domain size − 1), a suppressed record counting 1;
//!   generalization/suppression factor 0.5 (both weighted 1); attributes aggregated by ARX's
//!   geometric mean, ∏(vᵢ + 1)^(1/n) − 1.
//! - **precision** (Sweeney 2002, ARX `MetricMDNMPrecision`): per attribute
//!   (released records × level ÷ height + suppressed records) ÷ records; arithmetic mean.
//! - **discernibility** (Bayardo & Agrawal 2005): Σ over released classes of |E|² plus, for every
//!   suppressed record, the number of records.
//! - **aecs** (average equivalence class size, LeFevre et al. 2006): records ÷ classes, the
//!   suppressed records forming one class.
//! - **entropy** (non-uniform entropy, Gionis & Tassa 2009, ARX `MetricMDNUEntropy`): per record
//!   and attribute, −log₂(freq(original value) ÷ freq(generalized value)) with input frequencies,
//!   a suppressed value generalized to `*`; summed over attributes.
//!
//! Each metric has a lower bound from the levels alone (generalization without suppression),
//! which never decreases going up the lattice: the search prunes with it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::hierarchy::QuasiIdentifier;
use crate::histogram::{Histogram, NULL_CODE};

/// The utility metric the search minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// ARX's default Loss.
    #[default]
    Loss,
    /// Precision (generalization height).
    Precision,
    /// Discernibility.
    Discernibility,
    /// Average equivalence class size.
    Aecs,
    /// Non-uniform entropy.
    Entropy,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 5] =
        [Metric::Loss, Metric::Precision, Metric::Discernibility, Metric::Aecs, Metric::Entropy];

    /// The metric's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::Precision => "precision",
            Metric::Discernibility => "discernibility",
            Metric::Aecs => "aecs",
            Metric::Entropy => "entropy",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Per-attribute tables over base codes, built once from the histogram's marginals.
#[derive(Debug, Clone)]
pub(crate) struct MetricTables {
    pub records: f64,
    /// `loss[a][level][base]`: a released record's loss.
    loss: Vec<Vec<Vec<f64>>>,
    /// `entropy[a][level][base]`: a released record's −log₂(f(orig)/f(generalized)).
    entropy: Vec<Vec<Vec<f64>>>,
    /// `entropy_suppressed[a][base]`: the same with the value generalized to `*`.
    entropy_suppressed: Vec<Vec<f64>>,
    /// Σ over all records of `loss` / `entropy`, per attribute and level.
    loss_total: Vec<Vec<f64>>,
    entropy_total: Vec<Vec<f64>>,
    heights: Vec<usize>,
}

/// What a node's score needs besides the levels.
#[derive(Debug, Clone, Default)]
pub(crate) struct Suppressed {
    /// Suppressed records.
    pub records: u64,
    /// Per attribute: Σ over suppressed records of their released-record loss.
    pub loss: Vec<f64>,
    /// Per attribute: Σ over suppressed records of (suppressed − released) entropy.
    pub entropy_extra: Vec<f64>,
}

impl MetricTables {
    pub(crate) fn new(qis: &[QuasiIdentifier], histogram: &Histogram) -> MetricTables {
        let sizes: Vec<usize> = qis.iter().map(QuasiIdentifier::domain).collect();
        let marginals = histogram.marginals(&sizes);
        let records = histogram.record_count() as f64;
        let log = |x: f64| if x > 0.0 { x.log2() } else { 0.0 };
        let mut t = MetricTables {
            records,
            loss: Vec::new(),
            entropy: Vec::new(),
            entropy_suppressed: Vec::new(),
            loss_total: Vec::new(),
            entropy_total: Vec::new(),
            heights: qis.iter().map(QuasiIdentifier::height).collect(),
        };
        for (qi, freq) in qis.iter().zip(&marginals) {
            let domain = qi.domain();
            let mut loss_levels = Vec::new();
            let mut entropy_levels = Vec::new();
            let mut loss_totals = Vec::new();
            let mut entropy_totals = Vec::new();
            for level in 0..qi.levels() {
                let leaves = qi.leaves(level);
                let mut generalized_freq = vec![0u64; leaves.len()];
                for (base, &f) in freq.iter().enumerate() {
                    generalized_freq[qi.lookup[level][base] as usize] += f;
                }
                let loss: Vec<f64> = qi.lookup[level]
                    .iter()
                    .map(|&g| if domain > 1 { (leaves[g as usize] - 1) as f64 / (domain - 1) as f64 } else { 0.0 })
                    .collect();
                let entropy: Vec<f64> = qi.lookup[level]
                    .iter()
                    .zip(freq)
                    .map(|(&g, &f)| if f == 0 { 0.0 } else { log(generalized_freq[g as usize] as f64) - log(f as f64) })
                    .collect();
                loss_totals.push(freq.iter().zip(&loss).map(|(&f, l)| f as f64 * l).sum());
                entropy_totals.push(freq.iter().zip(&entropy).map(|(&f, e)| f as f64 * e).sum());
                loss_levels.push(loss);
                entropy_levels.push(entropy);
            }
            t.entropy_suppressed
                .push(freq.iter().map(|&f| if f == 0 { 0.0 } else { log(records) - log(f as f64) }).collect());
            t.loss.push(loss_levels);
            t.entropy.push(entropy_levels);
            t.loss_total.push(loss_totals);
            t.entropy_total.push(entropy_totals);
        }
        t
    }

    /// Adds `records` records of `tuple` (base codes) at `levels` to the suppressed sums.
    pub(crate) fn add_suppressed(&self, into: &mut Suppressed, tuple: &[u32], levels: &[usize], records: u64) {
        if into.loss.is_empty() {
            into.loss = vec![0.0; tuple.len()];
            into.entropy_extra = vec![0.0; tuple.len()];
        }
        let r = records as f64;
        for (a, (&base, &level)) in tuple.iter().zip(levels).enumerate() {
            if base == NULL_CODE {
                continue;
            }
            let b = base as usize;
            into.loss[a] += r * self.loss[a][level][b];
            into.entropy_extra[a] += r * (self.entropy_suppressed[a][b] - self.entropy[a][level][b]);
        }
    }

    fn aggregate_loss(per_attribute: impl Iterator<Item = f64>, n: usize) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let product: f64 = per_attribute.map(|v| (v + 1.0).powf(1.0 / n as f64)).product();
        (product - 1.0).max(0.0)
    }

    /// The lower bound of `metric` at `levels`: its value if nothing were suppressed.
    pub(crate) fn lower_bound(&self, metric: Metric, levels: &[usize]) -> f64 {
        let n = levels.len();
        match metric {
            Metric::Loss => Self::aggregate_loss(
                levels.iter().enumerate().map(|(a, &l)| self.loss_total[a][l] / self.records.max(1.0)),
                n,
            ),
            Metric::Precision => self.precision(levels, 0),
            Metric::Entropy => levels.iter().enumerate().map(|(a, &l)| self.entropy_total[a][l]).sum(),
            Metric::Discernibility => self.records,
            Metric::Aecs => 1.0,
        }
    }

    fn precision(&self, levels: &[usize], suppressed_records: u64) -> f64 {
        if levels.is_empty() || self.records == 0.0 {
            return 0.0;
        }
        let s = suppressed_records as f64;
        let released = self.records - s;
        let sum: f64 = levels
            .iter()
            .zip(&self.heights)
            .map(|(&l, &h)| {
                let share = if h == 0 { 0.0 } else { l as f64 / h as f64 };
                (released * share + s) / self.records
            })
            .sum();
        sum / levels.len() as f64
    }

    /// The score of `metric` at `levels` given the suppressed records and the sizes (in records)
    /// of the released classes.
    pub(crate) fn score(&self, metric: Metric, levels: &[usize], suppressed: &Suppressed, released: &[u64]) -> f64 {
        let n = levels.len();
        let s = suppressed.records as f64;
        let part = |v: &[f64], a: usize| v.get(a).copied().unwrap_or(0.0);
        match metric {
            Metric::Loss => Self::aggregate_loss(
                levels.iter().enumerate().map(|(a, &l)| {
                    let sum = self.loss_total[a][l] + (s - part(&suppressed.loss, a)).max(0.0);
                    sum / self.records.max(1.0)
                }),
                n,
            ),
            Metric::Precision => self.precision(levels, suppressed.records),
            Metric::Entropy => levels
                .iter()
                .enumerate()
                .map(|(a, &l)| self.entropy_total[a][l] + part(&suppressed.entropy_extra, a).max(0.0))
                .sum(),
            Metric::Discernibility => released.iter().map(|&e| (e as f64) * (e as f64)).sum::<f64>() + s * self.records,
            Metric::Aecs => {
                let classes = released.len() + usize::from(suppressed.records > 0);
                if classes == 0 { 0.0 } else { self.records / classes as f64 }
            }
        }
    }

    /// Every metric at once, for reports.
    pub(crate) fn all(&self, levels: &[usize], suppressed: &Suppressed, released: &[u64]) -> BTreeMap<String, f64> {
        Metric::ALL.into_iter().map(|m| (m.name().to_string(), self.score(m, levels, suppressed, released))).collect()
    }
}
