//! Generalization hierarchies from files in ARX's CSV format.
//!
//! **What it does.** Reads one line per original value, `;`-separated: column 0 the value, column
//! i its generalization at level i (the last column usually `*`).
//! **Why.** Researchers already have hierarchies for their tables (ARX writes and reads this
//! format); tokumei uses them as they are, so results compare with other tools.
//! **Example.** `39;35-39;30-39;*` gives 39 the levels `39`, `35-39`, `30-39`, `*`.
//! **Privacy notes.** A value missing from its hierarchy is an error naming the column and the
//! hierarchy file, never the value.

use std::collections::HashMap;
use std::path::Path;

/// Errors reading or using a hierarchy file. They never show a value.
#[derive(Debug, thiserror::Error)]
pub enum HierarchyError {
    /// The file could not be read.
    #[error("hierarchy {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Lines with different numbers of levels, or an empty file.
    #[error("hierarchy {path}, line {line}: expected {expected} `;`-separated levels like the first line")]
    Ragged {
        /// File.
        path: String,
        /// Line.
        line: usize,
        /// Levels on the first line.
        expected: usize,
    },
    /// A value of the column is not in its hierarchy.
    #[error("column `{column}`: a value is missing from hierarchy {path} (row {row})")]
    MissingValue {
        /// Column.
        column: String,
        /// File.
        path: String,
        /// 1-based data row of the first such value.
        row: usize,
    },
}

/// A value → levels table.
#[derive(Debug, Clone, PartialEq)]
pub struct HierarchyTable {
    /// The file it came from, for messages.
    pub path: String,
    levels: usize,
    labels: HashMap<String, Vec<String>>,
    /// The values (column 0), in file order.
    values: Vec<String>,
}

impl HierarchyTable {
    /// Reads an ARX hierarchy file with `delimiter` (ARX writes `;`).
    pub fn from_arx_csv(path: &Path, delimiter: char) -> Result<HierarchyTable, HierarchyError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| HierarchyError::Read { path: shown.clone(), source })?;
        HierarchyTable::parse(&text, delimiter, shown)
    }

    /// Parses the text of an ARX hierarchy file.
    pub fn parse(text: &str, delimiter: char, path: String) -> Result<HierarchyTable, HierarchyError> {
        let mut labels = HashMap::new();
        let mut values = Vec::new();
        let mut levels = 0;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let fields: Vec<String> = line.trim_end_matches('\r').split(delimiter).map(str::to_string).collect();
            if levels == 0 {
                levels = fields.len();
            }
            if fields.len() != levels {
                return Err(HierarchyError::Ragged { path, line: i + 1, expected: levels });
            }
            if !labels.contains_key(&fields[0]) {
                values.push(fields[0].clone());
            }
            labels.insert(fields[0].clone(), fields);
        }
        if levels == 0 {
            return Err(HierarchyError::Ragged { path, line: 1, expected: 1 });
        }
        Ok(HierarchyTable { path, levels, labels, values })
    }

    /// Number of levels, the value itself included.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// The label of `value` at `level`, if the value is in the table.
    pub fn label(&self, value: &str, level: usize) -> Option<&str> {
        self.labels.get(value).map(|l| l[level.min(self.levels - 1)].as_str())
    }

    /// The values the hierarchy covers (its domain), in file order.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `value` is in the table.
    pub fn contains(&self, value: &str) -> bool {
        self.labels.contains_key(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arx_format() {
        let h = HierarchyTable::parse("39;35-39;30-39;*\n40;40-44;40-49;*\n", ';', "age.csv".into()).unwrap();
        assert_eq!(h.levels(), 4);
        assert_eq!(h.label("39", 0), Some("39"));
        assert_eq!(h.label("39", 2), Some("30-39"));
        assert_eq!(h.label("40", 3), Some("*"));
        assert_eq!(h.label("41", 1), None);
        let err = HierarchyTable::parse("1;a\n2;b;c\n", ';', "x.csv".into()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
