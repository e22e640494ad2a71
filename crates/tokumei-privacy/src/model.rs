//! Privacy models, combinable: k-anonymity, ℓ-diversity (distinct, entropy, recursive-(c,ℓ)),
//! t-closeness (equal and ordered distance), a maximum average re-identification risk, and a
//! limit on the fraction of units (persons) that may be suppressed.
//!
//! Class-level models decide whether an equivalence class may be released; a class failing any
//! of them is suppressed whole (all records of all its persons). The average risk is a property
//! of the whole release and is checked after suppression.
//!
//! Definitions (with units = persons, so a person with many records counts once; for ℓ and t a
//! person counts once per distinct sensitive value they show):
//! - k-anonymity: every class holds at least k units (Sweeney 2002).
//! - distinct ℓ-diversity: at least ℓ distinct sensitive values per class.
//! - entropy ℓ-diversity: −Σ p·ln p ≥ ln ℓ over the class's sensitive distribution.
//! - recursive (c,ℓ)-diversity: r₁ < c·(r_ℓ + … + r_m) for the class's value counts sorted
//!   descending (Machanavajjhala et al. 2007).
//! - t-closeness: the earth mover's distance between the class's distribution P and the whole
//!   input's Q is at most t; equal distance ½·Σ|pᵢ − qᵢ|, ordered distance
//!   1/(m−1)·Σᵢ|Σ_{j≤i}(pⱼ − qⱼ)| over the m values in order (Li et al. 2007).
//! - average risk: released classes ÷ released units (the mean prosecutor risk) at most the limit.

use serde::Serialize;

use tokumei_core::distribution::{Reference, entropy_l};

use crate::Error;

/// The ℓ-diversity variants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "variant", rename_all = "snake_case")]
pub enum Diversity {
    /// At least ℓ distinct sensitive values per class.
    Distinct {
        /// ℓ.
        l: u32,
    },
    /// Entropy of the sensitive values at least ln ℓ.
    Entropy {
        /// ℓ.
        l: f64,
    },
    /// Recursive (c,ℓ)-diversity.
    Recursive {
        /// c.
        c: f64,
        /// ℓ.
        l: u32,
    },
}

/// The ground distance of t-closeness.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "distance", rename_all = "snake_case")]
pub enum Closeness {
    /// Equal distance between any two values (categorical attributes).
    Equal {
        /// t.
        t: f64,
    },
    /// Distance by rank in the values' order (numeric or ordered attributes).
    Ordered {
        /// t.
        t: f64,
    },
}

impl Closeness {
    /// The threshold t.
    pub fn t(&self) -> f64 {
        match *self {
            Closeness::Equal { t } | Closeness::Ordered { t } => t,
        }
    }
}

/// The combined privacy model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacyModel {
    /// Minimum units (persons) per class; 1 switches k-anonymity off.
    pub k: u32,
    /// ℓ-diversity of the sensitive attribute.
    pub diversity: Option<Diversity>,
    /// t-closeness of the sensitive attribute.
    pub closeness: Option<Closeness>,
    /// Largest allowed average re-identification risk (0–1].
    pub average_risk: Option<f64>,
    /// Largest fraction of units that may be suppressed (0–1).
    pub max_suppression: f64,
}

impl PrivacyModel {
    /// k-anonymity with a suppression limit.
    pub fn k_anonymity(k: u32, max_suppression: f64) -> Result<PrivacyModel, Error> {
        PrivacyModel { k, diversity: None, closeness: None, average_risk: None, max_suppression }.validated()
    }

    /// Checks the parameters.
    pub fn validated(self) -> Result<PrivacyModel, Error> {
        let bad = |why: String| Err(Error::InvalidModel(why));
        if self.k < 1 {
            return bad("k must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.max_suppression) {
            return bad("the suppression limit must be between 0 and 1".into());
        }
        match self.diversity {
            Some(Diversity::Distinct { l }) | Some(Diversity::Recursive { l, .. }) if l < 1 => {
                return bad(format!("l must be at least 1 (got {l})"));
            }
            Some(Diversity::Entropy { l }) if l.is_nan() || l < 1.0 => {
                return bad(format!("l must be at least 1 (got {l})"));
            }
            Some(Diversity::Recursive { c, .. }) if c.is_nan() || c <= 0.0 => {
                return bad(format!("c must be positive (got {c})"));
            }
            _ => {}
        }
        if let Some(t) = self.closeness.map(|c| c.t())
            && !(0.0..=1.0).contains(&t)
        {
            return bad(format!("t must be between 0 and 1 (got {t})"));
        }
        if let Some(r) = self.average_risk
            && !(r > 0.0 && r <= 1.0)
        {
            return bad(format!("the average risk limit must be in (0, 1] (got {r})"));
        }
        if self.k == 1 && self.diversity.is_none() && self.closeness.is_none() && self.average_risk.is_none() {
            return bad("no privacy model: give k ≥ 2, l, t or an average risk".into());
        }
        Ok(self)
    }

    /// Whether the model needs a sensitive attribute.
    pub fn needs_sensitive(&self) -> bool {
        self.diversity.is_some() || self.closeness.is_some()
    }

    /// How many of `units` may be suppressed.
    pub fn allowed(&self, units: u64) -> u64 {
        (self.max_suppression * units as f64).floor() as u64
    }

    /// Whether "anonymous" is monotone over the lattice with this suppression limit: if a node
    /// satisfies the model, so does every node above it. Without suppression every model here
    /// is (merging classes that pass gives a class that passes). With suppression, merging a
    /// passing class with a failing one must still pass: true for k and distinct ℓ only.
    pub fn monotone(&self) -> bool {
        self.max_suppression == 0.0
            || (matches!(self.diversity, None | Some(Diversity::Distinct { .. }))
                && self.closeness.is_none()
                && self.average_risk.is_none())
    }

    /// Names of the models, for reports.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.k > 1 {
            parts.push(format!("{}-anonymity", self.k));
        }
        match self.diversity {
            Some(Diversity::Distinct { l }) => parts.push(format!("distinct {l}-diversity")),
            Some(Diversity::Entropy { l }) => parts.push(format!("entropy {l}-diversity")),
            Some(Diversity::Recursive { c, l }) => parts.push(format!("recursive ({c},{l})-diversity")),
            None => {}
        }
        match self.closeness {
            Some(Closeness::Equal { t }) => parts.push(format!("{t}-closeness (equal distance)")),
            Some(Closeness::Ordered { t }) => parts.push(format!("{t}-closeness (ordered distance)")),
            None => {}
        }
        if let Some(r) = self.average_risk {
            parts.push(format!("average risk ≤ {r}"));
        }
        parts.join(", ")
    }
}

/// The properties of one class that the models look at.
pub(crate) struct ClassView<'a> {
    pub units: u64,
    /// Sensitive value → units, sorted by value.
    pub sensitive: &'a [(u32, u64)],
}

/// Measured per class: what the models compare with their thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ClassMeasures {
    pub distinct: u64,
    pub entropy_l: f64,
    pub recursive_ok: bool,
    pub distance: f64,
}

impl PrivacyModel {
    pub(crate) fn measure(&self, class: &ClassView<'_>, reference: Option<&Reference>) -> ClassMeasures {
        let mut m = ClassMeasures { distinct: class.sensitive.len() as u64, recursive_ok: true, ..Default::default() };
        if let Some(diversity) = self.diversity {
            match diversity {
                Diversity::Entropy { .. } => m.entropy_l = entropy_l(class.sensitive),
                Diversity::Recursive { c, l } => {
                    let mut counts: Vec<u64> = class.sensitive.iter().map(|d| d.1).collect();
                    counts.sort_unstable_by(|a, b| b.cmp(a));
                    let l = l as usize;
                    m.recursive_ok =
                        counts.len() >= l && (counts[0] as f64) < c * counts[l - 1..].iter().sum::<u64>() as f64;
                }
                Diversity::Distinct { .. } => {}
            }
        }
        if let (Some(closeness), Some(reference)) = (self.closeness, reference) {
            m.distance = match closeness {
                Closeness::Equal { .. } => reference.equal_distance(class.sensitive),
                Closeness::Ordered { .. } => reference.ordered_distance(class.sensitive),
            };
        }
        m
    }

    /// Whether a class may be released.
    pub(crate) fn class_passes(&self, class: &ClassView<'_>, reference: Option<&Reference>) -> bool {
        if class.units < u64::from(self.k) {
            return false;
        }
        if self.diversity.is_none() && self.closeness.is_none() {
            return true;
        }
        let m = self.measure(class, reference);
        let diverse = match self.diversity {
            None => true,
            Some(Diversity::Distinct { l }) => m.distinct >= u64::from(l),
            // Compared as entropies; a tiny tolerance keeps exactly-ℓ classes passing.
            Some(Diversity::Entropy { l }) => m.entropy_l.ln() >= l.ln() - 1e-12,
            Some(Diversity::Recursive { .. }) => m.recursive_ok,
        };
        let close = self.closeness.is_none_or(|c| m.distance <= c.t() + 1e-12);
        diverse && close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_checks() {
        let model = PrivacyModel {
            k: 2,
            diversity: Some(Diversity::Recursive { c: 2.0, l: 2 }),
            closeness: None,
            average_risk: None,
            max_suppression: 0.0,
        };
        // r1 = 3 < 2 × (1 + 1) = 4.
        assert!(model.class_passes(&ClassView { units: 5, sensitive: &[(0, 3), (1, 1), (2, 1)] }, None));
        // r1 = 4 ≥ 2 × 1.
        assert!(!model.class_passes(&ClassView { units: 5, sensitive: &[(0, 4), (1, 1)] }, None));
        let entropy = PrivacyModel { diversity: Some(Diversity::Entropy { l: 2.0 }), ..model.clone() };
        assert!(entropy.class_passes(&ClassView { units: 2, sensitive: &[(0, 1), (1, 1)] }, None));
        assert!(!entropy.class_passes(&ClassView { units: 3, sensitive: &[(0, 2), (1, 1)] }, None));
        assert!(PrivacyModel::k_anonymity(1, 0.0).is_err());
        assert!(PrivacyModel::k_anonymity(5, 1.5).is_err());
    }
}
