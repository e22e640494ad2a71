//! What to read: a file, its format and encoding, and how its headers map to typed columns.

use std::path::PathBuf;

use tokumei_core::ValueType;

/// File format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Delimited text.
    Csv,
    /// Apache Parquet (cells are read as text and typed like CSV cells).
    Parquet,
    /// UKE receipt files (レセプト電算; 医科 or 調剤): a file or a directory of `*.UKE` files.
    Uke,
    /// 特定健診 HL7 CDA XML: one document, an exchange ZIP, or a directory of either.
    Cda,
    /// SS-MIX2 standardized storage: the root folder of the tree (HL7 v2.5, ISO-2022-JP).
    #[serde(rename = "ss-mix2")]
    SsMix2,
    /// A provider's submission (a `submission` release folder), at its certified producer: the
    /// source's path is the table's Parquet file in that folder, read like Parquet; the folder
    /// is checked whole before (see `tokumei_report::submission`).
    Submission,
}

/// Text encoding of a CSV input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// UTF-8 (a BOM, if present, is removed).
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-8 with a byte-order mark (as Excel writes it).
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// Shift_JIS as Windows writes it (cp932 / Windows-31J), including NEC and IBM extensions.
    Cp932,
}

impl TextEncoding {
    pub(crate) fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => encoding_rs::UTF_8,
            // encoding_rs's Shift_JIS is the WHATWG definition, i.e. Windows-31J (cp932).
            TextEncoding::Cp932 => encoding_rs::SHIFT_JIS,
        }
    }
}

/// One column to read.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Canonical name in the output table.
    pub name: String,
    /// Header in the file (Japanese headers are fine).
    pub header: String,
    /// How cells are typed.
    pub value_type: ValueType,
    /// Whether cells may hold line breaks and tabs (free text); other control characters
    /// quarantine the row in any column.
    pub multiline: bool,
}

/// One input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Table name, for messages.
    pub table: String,
    /// File path.
    pub path: PathBuf,
    /// Format.
    pub format: Format,
    /// Encoding (CSV only).
    pub encoding: TextEncoding,
    /// Field delimiter (CSV only).
    pub delimiter: u8,
    /// Columns to read; other headers are skipped and listed in the stats.
    pub columns: Vec<ColumnSpec>,
    /// Rows per batch handed to the caller.
    pub batch_rows: usize,
    /// For the national formats: which of the format's tables to read (see
    /// [`crate::national::tables`]).
    pub extract: Option<String>,
    /// Largest cell in bytes; a larger cell quarantines its row.
    pub max_cell_bytes: usize,
}
