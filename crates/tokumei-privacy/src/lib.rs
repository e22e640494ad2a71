//! Privacy models of tokumei, searched over the lattice of generalization levels.
//!
//! - [`histogram`](Histogram): one pass over dictionary-encoded rows gives the distinct unit
//!   signatures (a unit is a person, or a row of a flat table) with their counts — behind the
//!   [`HistogramSource`] trait, so another engine can supply it;
//! - [`PrivacyModel`]: k-anonymity, ℓ-diversity, t-closeness, average risk, suppression limit;
//! - [`Metric`]: ARX's Loss, precision, discernibility, AECS, non-uniform entropy;
//! - [`search`]: the optimal bounded lattice search, or a budgeted heuristic for huge lattices;
//! - [`search_items`]: (k, k^m) over each person's items (events) within their classes.
//!
//! ```
//! use tokumei_privacy::{CodedRows, HistogramSource, PrivacyModel, QuasiIdentifier, SearchOptions, search};
//!
//! // Six persons aged 31, 32, 33, 47, 48, 49 (codes 0–5); levels: age, decade, `*`.
//! let age = QuasiIdentifier::new(
//!     "age",
//!     vec![vec![0, 1, 2, 3, 4, 5], vec![0, 0, 0, 1, 1, 1], vec![0; 6]],
//!     vec!["age".into(), "decade".into(), "*".into()],
//! );
//! let rows = vec![vec![0u32, 1, 2, 3, 4, 5]];
//! let histogram = CodedRows { columns: &rows, units: None, weights: None, sensitive: None }.histogram().unwrap();
//! let model = PrivacyModel::k_anonymity(3, 0.0).unwrap();
//! let solution = search(&histogram, &[age], &model, &SearchOptions::default()).unwrap();
//! assert_eq!(solution.levels["age"], 1, "decades: two classes of three");
//! assert_eq!(solution.min_class_size, 3);
//! ```
#![warn(missing_docs)]

pub mod dictionary;
mod hierarchy;
mod histogram;
mod items;
mod metric;
mod model;
mod rollup;
mod search;

pub use dictionary::{Dictionary, Key};
pub use hierarchy::QuasiIdentifier;
pub use histogram::{CodedRows, Entry, Histogram, HistogramSource, NULL_CODE};
pub use items::{EXACT_LATTICE, ItemModel, ItemSolution, ItemTable, MAX_M, search_items};
pub use metric::Metric;
pub use model::{Closeness, Diversity, PrivacyModel};
pub use rollup::{RolledClass, entry_classes, roll_up};
pub use search::{Achieved, SearchOptions, Solution, brute_force, search};

/// Errors of the privacy stage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Parameters of a privacy model out of range.
    #[error("invalid privacy model: {0}")]
    InvalidModel(String),
    /// A hierarchy that cannot be searched.
    #[error("hierarchy of `{column}` is not usable: {why}")]
    BadHierarchy {
        /// The quasi-identifier.
        column: String,
        /// What is wrong.
        why: String,
    },
    /// A quasi-identifier's lookup table does not cover its codes (a bug in the caller).
    #[error("quasi-identifier `{0}` has a code outside its dictionary")]
    BadDictionary(String),
    /// Inconsistent input to the engine (a bug in the caller).
    #[error("privacy engine input: {0}")]
    InvalidInput(String),
}

/// Result of the privacy stage.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
