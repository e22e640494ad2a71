//! Column transforms of tokumei, one file each: generalization ladders (age bands, dates,
//! addresses, postal codes, ICD-10, drug and facility codes, numeric intervals, code prefixes), keyed pseudonyms, top/bottom coding and rare-code
//! generalization.
//!
//! Every transform is a lazy polars expression: the row-level part of the pipeline streams, and
//! only the aggregates a transform needs (quantile bounds, rare-code counts) are collected.
//!
//! ```
//! use tokumei_transform::{DateLevel, Generalizer, Value};
//!
//! // A visit date (2024-03-15, as days since 1970-01-01) up its ladder, `*` on top.
//! let ladder = Generalizer::Date(vec![DateLevel::Month, DateLevel::Quarter, DateLevel::Year]);
//! let day = Value::Date(19_797);
//! let labels: Vec<String> = (0..ladder.levels()).map(|l| ladder.label(day, l).unwrap()).collect();
//! assert_eq!(labels, ["2024-03", "2024-Q1", "2024", "*"]);
//! ```
#![warn(missing_docs)]

mod address;
mod age;
mod generalize;
mod hierarchy_file;
mod ladders;
mod pseudonym;
mod rare_code;
mod top_bottom;
mod value;

pub use address::{AddressLevel, generalize_address};
pub use age::AgeBands;
pub use generalize::{Generalizer, SUPPRESSED_LABEL};
pub use hierarchy_file::{HierarchyError, HierarchyTable};
pub use ladders::{DateLevel, DrugLevel, FacilityLevel, Icd10Level, IntervalError, Intervals};
pub use pseudonym::PseudonymKey;
pub use rare_code::{RareCodeMap, RareCodes, SUPPRESSED};
pub use top_bottom::{Bounds, GroupBounds, TopBottom};
pub use value::Value;
