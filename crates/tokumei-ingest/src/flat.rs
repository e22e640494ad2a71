//! Flat tables for the researcher's commands (`anonymize`, `risk`, `attack`): any CSV or Parquet
//! table read whole, every column as text. A row that cannot be read rejects the table (a row
//! left out would change every count), and a column that is not there is named with the columns
//! that are: headers are not patient data.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use tokumei_core::ValueType;

use crate::{ColumnSpec, Format, Source, TextEncoding, read_headers, read_source};

/// Why a flat table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FlatTableError {
    /// A column asked for is not in the table.
    #[error("{}: no column `{column}` (it has {})", path.display(), list(available))]
    NoColumn {
        /// The table.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The table's columns.
        available: Vec<String>,
    },
    /// A row with a cell that cannot be read.
    #[error(
        "{}, line {line}, column `{column}`: expected {expected} ({rows} row(s) like this; nothing is read from a table with such rows)",
        path.display()
    )]
    Unreadable {
        /// The table.
        path: PathBuf,
        /// The first such line.
        line: u64,
        /// Its column.
        column: String,
        /// What was expected.
        expected: &'static str,
        /// Rows like it.
        rows: u64,
    },
    /// The file could not be read.
    #[error(transparent)]
    Ingest(#[from] crate::Error),
    /// Assembling the table.
    #[error("data processing: {0}")]
    Polars(#[from] PolarsError),
}

fn list(columns: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut shown: Vec<String> = columns.iter().take(SHOWN).map(|c| format!("`{c}`")).collect();
    if columns.len() > SHOWN {
        shown.push(format!("… ({} in all)", columns.len()));
    }
    if shown.is_empty() { "no columns".into() } else { shown.join(", ") }
}

/// A flat table: its rows as text columns, and the file it came from (for messages).
#[derive(Debug, Clone)]
pub struct FlatTable {
    /// The file.
    pub path: PathBuf,
    /// The rows, every column as text.
    pub frame: DataFrame,
}

impl FlatTable {
    /// Reads `path` whole: CSV (with `delimiter` and `encoding`), or Parquet when the file name
    /// ends in `.parquet`. With `columns`, keeps only those (the rest is never held in memory);
    /// one the file does not have is an error listing the columns it has.
    pub fn read(
        path: &Path,
        delimiter: u8,
        encoding: TextEncoding,
        columns: Option<&[&str]>,
        max_cell_bytes: usize,
    ) -> Result<FlatTable, FlatTableError> {
        let parquet = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        let mut source = Source {
            table: "input".into(),
            path: path.to_path_buf(),
            format: if parquet { Format::Parquet } else { Format::Csv },
            encoding,
            delimiter,
            columns: Vec::new(),
            batch_rows: 64 * 1024,
            extract: None,
            max_cell_bytes,
        };
        let mut headers = read_headers(&source)?;
        if let Some(wanted) = columns {
            let mut kept: Vec<String> = Vec::new();
            for w in wanted {
                if !headers.iter().any(|h| h == w) {
                    return Err(FlatTableError::NoColumn {
                        path: path.to_path_buf(),
                        column: w.to_string(),
                        available: headers,
                    });
                }
                if !kept.iter().any(|k| k == w) {
                    kept.push(w.to_string());
                }
            }
            headers = kept;
        }
        source.columns = headers
            .iter()
            .map(|h| ColumnSpec { name: h.clone(), header: h.clone(), value_type: ValueType::Text, multiline: false })
            .collect();
        let mut frame: Option<DataFrame> = None;
        let stats = read_source(&source, |batch| {
            let batch = batch.select(headers.iter().map(|h| PlSmallStr::from(h.as_str())))?;
            match frame.as_mut() {
                Some(f) => {
                    f.vstack_mut(&batch)?;
                }
                None => frame = Some(batch),
            }
            Ok(())
        })?;
        if let Some(q) = stats.quarantine.first() {
            return Err(FlatTableError::Unreadable {
                path: path.to_path_buf(),
                line: q.line,
                column: q.column.clone(),
                expected: q.problem.expected(),
                rows: stats.rows_quarantined,
            });
        }
        Ok(FlatTable { path: path.to_path_buf(), frame: frame.unwrap_or_default() })
    }

    /// Column `name`, as text; a column the table does not have is an error listing those it has.
    pub fn text(&self, name: &str) -> Result<StringChunked, FlatTableError> {
        text_column(&self.frame, name, &self.path)
    }
}

/// Column `name` of `frame` (read from `path`), as text; a column the table does not have is an
/// error listing those it has.
pub fn text_column(frame: &DataFrame, name: &str, path: &Path) -> Result<StringChunked, FlatTableError> {
    let column = frame.column(name).map_err(|_| FlatTableError::NoColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        available: frame.get_column_names().iter().map(|c| c.to_string()).collect(),
    })?;
    Ok(column.cast(&DataType::String)?.str()?.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_column_is_named_with_the_columns_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "age,sex\n30,1\n").unwrap();
        let err = FlatTable::read(&path, b',', TextEncoding::Utf8, Some(&["age", "zip"]), 1 << 16).unwrap_err();
        assert!(err.to_string().ends_with("no column `zip` (it has `age`, `sex`)"), "{err}");
        let table = FlatTable::read(&path, b',', TextEncoding::Utf8, None, 1 << 16).unwrap();
        assert_eq!(table.text("age").unwrap().get(0), Some("30"));
        let err = table.text("height").unwrap_err().to_string();
        assert!(err.contains("no column `height` (it has `age`, `sex`)"), "{err}");
    }

    #[test]
    fn an_unreadable_row_rejects_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "age,note\n30,ok\n31,bad\u{7}\n").unwrap();
        let err = FlatTable::read(&path, b',', TextEncoding::Utf8, None, 1 << 16).unwrap_err().to_string();
        assert!(err.contains("line 3, column `note`"), "{err}");
    }
}
