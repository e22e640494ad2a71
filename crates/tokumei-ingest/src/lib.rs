//! Ingest of tokumei: reads charts (カルテ), dispensing receipts (調剤レセプト) and checkup tables
//! (特定健診) from CSV (UTF-8, UTF-8 with BOM, cp932; any delimiter; Japanese headers) or Parquet
//! — or from the national formats (UKE receipt files, 特定健診 CDA XML, SS-MIX2 storage) —
//! into typed batches, with 和暦 dates, full-width digits and sex codes normalized.
//!
//! Reading streams: memory holds one batch, not the file.
#![warn(missing_docs)]

mod cell;
mod decode;
pub mod national;
mod reader;
mod source;

pub use cell::CellProblem;
pub use reader::{Error, IngestStats, LINE_COLUMN, QuarantineGroup, Quarantined, Result, read_headers, read_source};
pub use source::{ColumnSpec, Format, Source, TextEncoding};
