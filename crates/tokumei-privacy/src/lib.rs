//! Privacy models of tokumei. Works on person signatures encoded as `u32` codes (one pass over
//! the data builds them), never on the rows.
//!
//! Now: person-level k-anonymity with record suppression and a greedy climb of the
//! generalization ladders.
#![warn(missing_docs)]

mod histogram;
mod kanonymity;
mod lattice;

pub use histogram::{NULL_CODE, PersonTuples, QuasiIdentifier};
pub use kanonymity::{Error, KAnonymity, Solution};
pub use lattice::Histogram;
