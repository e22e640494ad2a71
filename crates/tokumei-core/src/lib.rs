//! Core types of tokumei: column roles, shared column names and the value normalizers every
//! stage shares.
//!
//! No I/O lives here. Stage crates (ingest, link, transform, privacy, risk, report) depend on this
//! crate and not on each other.
//!
//! The normalizers are the definition of "the same value" everywhere (linkage keys, opt-out
//! matching, the verifier's identifier scan): 和暦, compact and ISO dates; full- and half-width
//! kana; 旧字体 and 新字体.
//!
//! ```
//! use tokumei_core::normalize::{kana_key, parse_date};
//!
//! let showa = parse_date("昭和45年3月2日").unwrap();
//! assert_eq!(showa, parse_date("S45.03.02").unwrap());
//! assert_eq!(showa, parse_date("1970-03-02").unwrap());
//! assert_eq!(showa.to_string(), "1970-03-02");
//! assert_eq!(kana_key("ﾔﾏﾀﾞ ﾀﾛｳ"), kana_key("ヤマダ　タロウ"));
//! ```
#![warn(missing_docs)]

mod columns;
pub mod distribution;
pub mod geo;
pub mod normalize;
mod role;
pub mod scan;

pub use columns::{PERSON_COLUMN, ROW_COLUMN, collect_streaming};
pub use role::{LinkField, Role, ValueType};
