//! Core types of tokumei: column roles, shared column names and the value normalizers every
//! stage shares.
//!
//! No I/O lives here. Stage crates (ingest, link, transform, privacy, risk, report) depend on this
//! crate and not on each other.
#![warn(missing_docs)]

mod columns;
pub mod distribution;
pub mod geo;
pub mod normalize;
mod role;
pub mod scan;

pub use columns::{PERSON_COLUMN, ROW_COLUMN, collect_streaming};
pub use role::{LinkField, Role, ValueType};
