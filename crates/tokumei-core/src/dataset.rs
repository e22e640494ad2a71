//! A table moving through the pipeline: a lazy polars plan plus what each column is.

use polars::prelude::*;

use crate::role::{Role, ValueType};

/// The name of the column every stage adds to carry the person (pseudonym or link token).
pub const PERSON_COLUMN: &str = "person_id";
/// Internal: the row's position in its source (0-based); never written to a release.
pub const ROW_COLUMN: &str = "__row";

/// One column's metadata as it moves through the stages.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// Canonical (English) column name, e.g. `birth_date`.
    pub name: String,
    /// Privacy role.
    pub role: Role,
    /// Cell type.
    pub value_type: ValueType,
}

/// A table: its canonical name, its lazy plan and column metadata.
#[derive(Clone)]
pub struct Dataset {
    /// Canonical table name (`checkups`, `dispensing`, `charts`).
    pub name: String,
    /// The lazy plan producing the table.
    pub frame: LazyFrame,
    /// The data columns, in order (internal columns such as [`ROW_COLUMN`] are not listed).
    pub columns: Vec<ColumnInfo>,
}

impl Dataset {
    /// Metadata of column `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The dataset with `frame` replaced.
    pub fn with_frame(self, frame: LazyFrame) -> Dataset {
        Dataset { frame, ..self }
    }
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset").field("name", &self.name).field("columns", &self.columns).finish()
    }
}

/// A pipeline stage: checked against its input at construction, applied lazily.
pub trait Stage {
    /// The stage's error type.
    type Error;
    /// Adds this stage to the dataset's plan. Must not collect.
    fn apply(&self, input: Dataset) -> Result<Dataset, Self::Error>;
}
