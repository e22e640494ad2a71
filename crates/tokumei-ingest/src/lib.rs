//! Ingest of tokumei: reads charts (カルテ), dispensing receipts (調剤レセプト) and checkup tables
//! (特定健診) from CSV (UTF-8, UTF-8 with BOM, cp932; any delimiter; Japanese headers) or Parquet
//! — or from the national formats (UKE receipt files, 特定健診 CDA XML, SS-MIX2 storage) —
//! into typed batches, with 和暦 dates, full-width digits and sex codes normalized.
//!
//! Reading streams: memory holds one batch, not the file. [`read_source`] hands each batch of
//! typed rows to the caller and returns [`IngestStats`]: every row is accepted or quarantined
//! ([`Quarantined`]: line, column and [`CellProblem`], never the value). A [`Source`] names the
//! file, its [`Format`] and [`TextEncoding`], and the [`ColumnSpec`]s to read; other headers are
//! not read, and listed.
//!
//! ```
//! use tokumei_core::ValueType;
//! use tokumei_ingest::{ColumnSpec, Format, Source, TextEncoding, read_source};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("charts.csv");
//! // A cp932 export with a 和暦 birth date, a full-width one, a date that does not exist, and a
//! // column nobody configured.
//! let text = "ｶﾅ氏名,生年月日,電話番号\r\nﾔﾏﾀﾞ ﾀﾛｳ,昭和45年3月2日,03-1234-5678\r\nｽｽﾞｷ ﾊﾅｺ,１９７０－０３－０２,\r\n\
//!             ｻﾄｳ ｼﾞﾛｳ,S45.02.30,\r\n";
//! std::fs::write(&path, encoding_rs::SHIFT_JIS.encode(text).0).unwrap();
//! let column = |name: &str, header: &str, value_type| ColumnSpec {
//!     name: name.into(),
//!     header: header.into(),
//!     value_type,
//!     multiline: false,
//! };
//! let source = Source {
//!     table: "charts".into(),
//!     path,
//!     format: Format::Csv,
//!     encoding: TextEncoding::Cp932,
//!     delimiter: b',',
//!     columns: vec![column("kana_name", "ｶﾅ氏名", ValueType::Text), column("birth_date", "生年月日", ValueType::Date)],
//!     batch_rows: 1024,
//!     extract: None,
//!     max_cell_bytes: 1 << 16,
//! };
//! let mut accepted = 0;
//! let stats = read_source(&source, |batch| {
//!     accepted += batch.height();
//!     Ok(())
//! })
//! .unwrap();
//! assert_eq!((stats.rows_read, stats.rows_accepted, accepted), (3, 2, 2));
//! assert_eq!((stats.quarantine[0].line, stats.quarantine[0].column.as_str()), (4, "birth_date"));
//! assert_eq!(stats.unmapped_headers, ["電話番号"], "read past, and listed");
//! ```
#![warn(missing_docs)]

mod cell;
mod decode;
pub mod flat;
pub mod national;
mod reader;
mod source;

pub use cell::CellProblem;
pub use flat::{FlatTable, FlatTableError};
pub use reader::{Error, IngestStats, LINE_COLUMN, QuarantineGroup, Quarantined, Result, read_headers, read_source};
pub use source::{ColumnSpec, Format, Source, TextEncoding};
