//! Core types of tokumei: column roles, datasets and the value normalizers every stage shares.
//!
//! No I/O lives here. Stage crates (ingest, link, transform, privacy, risk, report) depend on this
//! crate and not on each other.
#![warn(missing_docs)]

mod dataset;
pub mod geo;
pub mod normalize;
mod role;

pub use dataset::{ColumnInfo, Dataset, PERSON_COLUMN, ROW_COLUMN, Stage};
pub use role::{LinkField, Role, ValueType};
