//! The national formats as ingest sources: which tables each offers, and the files a source path
//! stands for. The parsers themselves are in `tokumei-formats`.

pub use tokumei_formats::{Field, FormatError, NationalStats, ReadError, RowRef, Table, cda, ssmix2, uke};

use crate::source::Format;

/// The tables `format` offers (none for CSV and Parquet).
pub fn tables(format: Format) -> &'static [Table] {
    match format {
        Format::Csv | Format::Parquet | Format::Submission => &[],
        Format::Uke => uke::TABLES,
        Format::Cda => cda::TABLES,
        Format::SsMix2 => ssmix2::TABLES,
    }
}

/// A table name the format does not offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a table of this format (one of: {})", offered.join(", "))]
pub struct UnknownTable {
    /// The name asked for.
    pub name: String,
    /// The tables the format offers.
    pub offered: Vec<&'static str>,
}

/// The table `name` of `format`, or an error listing the ones there are.
pub fn table(format: Format, name: &str) -> Result<&'static Table, UnknownTable> {
    let offered = tables(format);
    offered
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| UnknownTable { name: name.to_string(), offered: offered.iter().map(|t| t.name).collect() })
}

/// Files under `path` (or `path` itself) whose names satisfy `wanted`, in name order, so that a
/// run reads them in the same order on every machine.
pub(crate) fn files_under(
    path: &std::path::Path,
    wanted: &dyn Fn(&std::path::Path) -> bool,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if wanted(&entry.path()) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}
