//! Parsers for the national formats, giving canonical table rows: UKE receipt files (レセプト電算),
//! 特定健診 HL7 CDA XML and SS-MIX2 standardized storage. No I/O beyond the bytes handed in and
//! no dependency on the table engine, so the parsers can be fuzzed on their own; `tokumei-ingest`
//! walks files and archives and types the cells.
//!
//! Each format offers a few tables (`extract` in the configuration). A table has fixed headers,
//! named like the CSV exports' headers (`生年月日`, `保険者番号`…), so the same schema files map
//! them to canonical columns and roles, and cells are typed by the same rules as CSV cells. Every
//! header also records where its value comes from in the format (`RE field 6`, `PID-7`, an XML
//! path), which error messages and quarantine entries name — never the value.
//!
//! Only the fields a table lists are read into it: whatever else a record holds (the facility's
//! telephone number in IR and YK) is never copied anywhere. Identifying fields a table does list
//! (氏名, 処方医氏名, the card numbers) are there for linkage and opt-out; the schema's roles drop
//! or replace them.
//!
//! Main types: [`Table`] (a table's [`Field`]s and where each comes from), [`RowRef`] (one row
//! handed to the caller), [`NationalStats`] (record types read, skipped, unknown; versions) and
//! [`ReadError`]. Each format module has a `TABLES` list and a parser.
//!
//! ```
//! use tokumei_formats::uke;
//!
//! // A 調剤 (dispensing) UKE file: pharmacy (YK, with its telephone number), receipt (RE),
//! // insurance (HO), prescription (SH), dispensing (CZ), drug (IY).
//! let text = "YK,1,13,4,7654321,さくら薬局,50706,00,0312345678\r\n\
//!     RE,1,1112,50706,山田　太郎,1,3450302,,,13,1,1234567,,,佐藤　医師,,,,,,,,,,,,,,,,,,,,,A-001\r\n\
//!     HO,06139999,あいう,１２３,1,520\r\n\
//!     SH,1,1,1013044400000000,,12\r\n\
//!     CZ,12,5070601,5070603,1,14\r\n\
//!     IY,1,620004402,2\r\n\
//!     GO,1,520,99\r\n";
//! let bytes = encoding_rs::SHIFT_JIS.encode(text).0;
//! let table = uke::TABLES.iter().find(|t| t.name == "dispensing").unwrap();
//! let mut rows: Vec<Vec<Option<String>>> = Vec::new();
//! let stats = uke::parse(&bytes[..], "sample.UKE", table, |row| {
//!     rows.push(row.cells.iter().map(|c| c.map(str::to_string)).collect());
//!     Ok::<_, ()>(())
//! })
//! .unwrap();
//! assert_eq!(rows.len(), 1, "one dispensing of one drug");
//! let birth = table.fields.iter().position(|f| f.header == "生年月日").unwrap();
//! assert_eq!(rows[0][birth].as_deref(), Some("3450302"), "昭和45年3月2日, as written (typed at ingest)");
//! assert!(rows[0].iter().flatten().all(|cell| !cell.contains("0312345678")), "the telephone is never read");
//! assert_eq!(stats.records["RE"], 1);
//! ```

#![warn(missing_docs)]

pub mod cda;
pub mod fuzzing;
pub mod ssmix2;
pub mod uke;

use std::collections::BTreeMap;

/// One column of a national table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Header, as a schema's `header` names it.
    pub header: &'static str,
    /// Where the value comes from, for messages (`RE field 6`, `PID-7`, an XML path).
    pub origin: &'static str,
}

pub(crate) const fn field(header: &'static str, origin: &'static str) -> Field {
    Field { header, origin }
}

/// `a` then `b`, as one array (for tables: the shared patient columns, then the detail). `a`
/// must not be empty (its first element fills the array before it is written).
pub(crate) const fn join<T: Copy, const N: usize>(a: &[T], b: &[T]) -> [T; N] {
    assert!(a.len() + b.len() == N, "N must be the sum of the lengths");
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// A table of `context` columns followed by the listed detail columns.
macro_rules! table {
    ($name:literal, $row:literal, $context:expr, [$($header:literal => $origin:literal),* $(,)?]) => {{
        const DETAIL: &[$crate::Field] = &[$($crate::field($header, $origin)),*];
        const FIELDS: [$crate::Field; $context.len() + DETAIL.len()] = $crate::join(&$context, DETAIL);
        $crate::Table { name: $name, row: $row, fields: &FIELDS }
    }};
}
pub(crate) use table;

/// A table a national format offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Name, as `extract` selects it.
    pub name: &'static str,
    /// One row per what.
    pub row: &'static str,
    /// Columns.
    pub fields: &'static [Field],
}

impl Table {
    /// The headers, in column order.
    pub fn headers(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.header.to_string()).collect()
    }
}

/// One row handed on by a national reader: cells in the table's column order, and for each cell
/// the record it came from (a line of a UKE file, a document or message number).
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    /// File the row came from (a UKE file, a ZIP entry); `None` where the name itself would
    /// identify someone (SS-MIX2 paths hold the patient ID).
    pub file: Option<&'a str>,
    /// Cells; `None` where the record lacks the field.
    pub cells: &'a [Option<&'a str>],
    /// Record of each cell.
    pub records: &'a [u64],
}

/// What a national reader saw, beyond the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NationalStats {
    /// Files (UKE files, XML documents, HL7 messages) read.
    pub files: u64,
    /// Records or documents read, by type (`RE`, `IY`, `ClinicalDocument`, `PPR^ZD1`…).
    pub records: BTreeMap<String, u64>,
    /// Record types this table does not use but the format defines: read past, counted.
    pub skipped: BTreeMap<String, u64>,
    /// Record types the format does not define (a newer specification, another receipt kind):
    /// read past, counted, reported.
    pub unknown: BTreeMap<String, u64>,
    /// Specification versions seen (UKE 記録条件仕様年月, CDA/HL7 version), with counts.
    pub versions: BTreeMap<String, u64>,
    /// Oddities counted, never shown: SS-MIX2 messages whose PID-3 differs from the patient ID
    /// of their path (misfiled messages).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies: BTreeMap<String, u64>,
}

impl NationalStats {
    /// Adds one to `key` in `map`.
    pub fn count(map: &mut BTreeMap<String, u64>, key: &str) {
        match map.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                map.insert(key.to_string(), 1);
            }
        }
    }

    /// Adds another file's counts.
    pub fn merge(&mut self, other: NationalStats) {
        self.files += other.files;
        for (mine, theirs) in [
            (&mut self.records, other.records),
            (&mut self.skipped, other.skipped),
            (&mut self.unknown, other.unknown),
            (&mut self.versions, other.versions),
            (&mut self.anomalies, other.anomalies),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_insert(0) += v;
            }
        }
    }
}

/// Why a national file was rejected. Names the file, record and field, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, {at}: {message}")]
pub struct FormatError {
    /// File (or ZIP entry, or message number for SS-MIX2).
    pub file: String,
    /// Line, record, XML path or HL7 segment.
    pub at: String,
    /// What was expected.
    pub message: String,
}

/// Why reading a national file stopped.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The file cannot be read.
    Io(std::io::Error),
    /// The file breaks the format where tokumei cannot go on safely.
    Format(FormatError),
    /// The row handler failed.
    Sink(E),
}

impl<E> From<FormatError> for ReadError<E> {
    fn from(e: FormatError) -> Self {
        ReadError::Format(e)
    }
}
