//! `tokumei anonymize`: any single table, k-anonymized at the optimal generalization of its
//! quasi-identifiers, with hierarchies in ARX's file format.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use tokumei_ingest::flat::text_column;
use tokumei_ingest::{FlatTable, FlatTableError, TextEncoding};
use tokumei_privacy::{CodedRows, PrivacyModel, SearchOptions, Solution};
use tokumei_report::Release;

use crate::coding;
use tokumei_transform::{HierarchyError, HierarchyTable};

/// Why `tokumei anonymize` (or the hierarchy lookup `attack` shares) stopped.
#[derive(Debug, thiserror::Error)]
pub enum AnonymizeError {
    /// A quasi-identifier without a hierarchy file.
    #[error(
        "no hierarchy for quasi-identifier `{0}` (use --hierarchies DIR with a file *_{0}.csv, or --hierarchy {0}=FILE)"
    )]
    NoHierarchy(String),
    /// A hierarchy file that cannot be used (unreadable, not nested, missing a value of the data).
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    /// ℓ or t without a sensitive column, or the other way round.
    #[error("--l and --t need --sensitive, and --sensitive needs --l or --t")]
    SensitiveWithoutModel,
    /// A `--keep` column the table does not have.
    #[error("--keep: {0}")]
    Keep(FlatTableError),
    /// The table could not be read as asked.
    #[error(transparent)]
    Table(#[from] FlatTableError),
    /// The released table holds a character cp932 cannot.
    #[error("released.csv, line {line}: a character cp932 cannot hold; use --encoding utf-8-bom")]
    NotCp932 {
        /// The line of the released table.
        line: usize,
    },
    /// The privacy engine rejected its input.
    #[error(transparent)]
    Privacy(#[from] tokumei_privacy::Error),
    /// Writing the release.
    #[error(transparent)]
    Report(#[from] tokumei_report::Error),
    /// A data-frame operation failed.
    #[error("data processing: {0}")]
    Polars(#[from] PolarsError),
    /// Reading a hierarchy folder.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What to anonymize and how.
#[derive(Debug, Clone)]
pub struct AnonymizeOptions {
    /// The table (CSV).
    pub input: PathBuf,
    /// Field delimiter of the table (and of the released table).
    pub delimiter: u8,
    /// Text encoding of the table.
    pub encoding: TextEncoding,
    /// Quasi-identifier columns, by header.
    pub quasi_identifiers: Vec<String>,
    /// A folder of ARX hierarchy files named `*_<column>.csv`.
    pub hierarchies: Option<PathBuf>,
    /// Explicit hierarchy files per column (win over the folder).
    pub hierarchy_files: Vec<(String, PathBuf)>,
    /// The sensitive column for ℓ-diversity and t-closeness.
    pub sensitive: Option<String>,
    /// The privacy model.
    pub model: PrivacyModel,
    /// Metric and budgets of the search.
    pub search: SearchOptions,
    /// Columns released as they are, besides the quasi-identifiers and the sensitive column.
    /// Every other column is dropped (and listed in the report).
    pub keep: Vec<String>,
    /// Output folder (written atomically).
    pub out: PathBuf,
}

/// The outcome: the solution and where the release is (when the target was met).
#[derive(Debug)]
pub struct AnonymizeOutcome {
    /// The search's result.
    pub solution: Solution,
    /// The release folder, when written.
    pub out: Option<PathBuf>,
    /// Why nothing was written although the target was met: a released column holds
    /// identifiers (one line, naming the column and what it holds, never a value).
    pub refused: Option<String>,
    /// `report.json` as written.
    pub report: serde_json::Value,
}

/// The hierarchy of `column`: its own file, else the folder's `*_<column>.csv` (first by name).
pub(crate) fn find_hierarchy(
    files: &[(String, PathBuf)],
    dir: Option<&Path>,
    column: &str,
) -> Result<Option<PathBuf>, std::io::Error> {
    if let Some((_, path)) = files.iter().find(|(c, _)| c == column) {
        return Ok(Some(path.clone()));
    }
    let Some(dir) = dir else { return Ok(None) };
    let suffix = format!("_{column}.csv");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(&suffix)))
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

fn hierarchy_path(options: &AnonymizeOptions, column: &str) -> Result<PathBuf, AnonymizeError> {
    find_hierarchy(&options.hierarchy_files, options.hierarchies.as_deref(), column)?
        .ok_or_else(|| AnonymizeError::NoHierarchy(column.to_string()))
}

/// A whole flat table, every column as text (see [`FlatTable::read`]).
pub(crate) fn read_table(
    path: &Path,
    delimiter: u8,
    encoding: TextEncoding,
    columns: Option<&[&str]>,
) -> Result<DataFrame, FlatTableError> {
    Ok(FlatTable::read(path, delimiter, encoding, columns, tokumei_config::MAX_CELL_BYTES)?.frame)
}

/// Reads the table, searches the lattice, writes `released.csv` and `report.json`.
pub fn anonymize(options: &AnonymizeOptions) -> Result<AnonymizeOutcome, AnonymizeError> {
    let frame = read_table(&options.input, options.delimiter, options.encoding, None)?;
    let mut qis = Vec::new();
    let mut row_codes: Vec<Vec<u32>> = Vec::new();
    let mut tables = Vec::new();
    for column in &options.quasi_identifiers {
        let values = text_column(&frame, column, &options.input)?;
        let path = hierarchy_path(options, column)?;
        let table = HierarchyTable::from_arx_csv(&path, ';')?;
        let (qi, codes) = coding::hierarchy_qi(column, &table, &values)?;
        qis.push(qi);
        row_codes.push(codes);
        tables.push(table);
    }
    let sensitive = match &options.sensitive {
        Some(column) => Some(sensitive_codes(&frame, column, &options.input)?),
        None => None,
    };
    if options.model.needs_sensitive() != sensitive.is_some() {
        return Err(AnonymizeError::SensitiveWithoutModel);
    }
    // One pass builds the histogram of distinct tuples, remembering each row's entry.
    let rows = CodedRows {
        columns: &row_codes,
        units: None,
        weights: None,
        sensitive: sensitive.as_ref().map(|(codes, n)| (codes.as_slice(), *n)),
    };
    let (histogram, row_entry) = rows.build()?;
    let solution = tokumei_privacy::search(&histogram, &qis, &options.model, &options.search)?;
    let mut report = serde_json::to_value(&solution).map_err(tokumei_report::Error::Json)?;
    report["k"] = options.model.k.into();
    report["max_suppression"] = options.model.max_suppression.into();
    report["sensitive"] = options.sensitive.clone().into();
    report["records"] = (frame.height() as u64).into();
    report["input"] = options.input.display().to_string().into();
    report["input_blake3"] = tokumei_report::digest_file(&options.input)?.into();
    // Released columns: the quasi-identifiers, the sensitive column and those kept; in file order.
    for column in &options.keep {
        if let Err(e) = text_column(&frame, column, &options.input) {
            return Err(AnonymizeError::Keep(e));
        }
    }
    let released_columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| {
            options.quasi_identifiers.contains(c) || options.sensitive.as_ref() == Some(c) || options.keep.contains(c)
        })
        .collect();
    let dropped: Vec<String> =
        frame.get_column_names().iter().map(|c| c.to_string()).filter(|c| !released_columns.contains(c)).collect();
    report["released_columns"] = released_columns.clone().into();
    report["dropped_columns"] = dropped.into();
    report["encoding"] = format!("{:?}", options.encoding).to_lowercase().into();
    if !solution.target_met {
        return Ok(AnonymizeOutcome { solution, out: None, refused: None, report });
    }

    // The released table: rows of suppressed tuples left out, quasi-identifiers at their levels.
    let suppressed: std::collections::HashSet<u32> = solution.suppressed_entries.iter().copied().collect();
    let keep: BooleanChunked = row_entry.iter().map(|t| Some(!suppressed.contains(t))).collect();
    let mut released = frame.select(released_columns.iter().map(|c| PlSmallStr::from(c.as_str())))?.filter(&keep)?;
    for (qi, table) in options.quasi_identifiers.iter().zip(&tables) {
        let level = solution.levels[qi];
        let labels: StringChunked =
            released.column(qi)?.str()?.iter().map(|v| v.and_then(|v| table.label(v, level))).collect();
        released.with_column(labels.with_name(qi.as_str().into()).into_column())?;
    }
    // Nothing that looks like an identifier leaves, whatever the user kept.
    let mut findings = Vec::new();
    for column in released.columns() {
        let mut scan = tokumei_core::scan::ColumnScan::default();
        for value in column.cast(&DataType::String)?.str()?.iter() {
            scan.add(value);
        }
        for finding in scan.findings().into_iter().filter(|f| f.is_identifier()) {
            findings.push(format!("column `{}` holds {}", column.name(), finding.describe()));
        }
    }
    report["identifier_findings"] = findings.clone().into();
    if !findings.is_empty() {
        let refused = format!(
            "the released table would carry identifiers: {}; leave the column out (only --qi, --sensitive and --keep              columns are released)",
            findings.join("; ")
        );
        return Ok(AnonymizeOutcome { solution, out: None, refused: Some(refused), report });
    }
    let release = Release::begin(&options.out)?;
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv).with_separator(options.delimiter).finish(&mut released)?;
    release.write_bytes("released.csv", &encode_text(csv, options.encoding)?)?;
    report["outputs"] = serde_json::json!({ "released.csv": release.digest("released.csv")? });
    release.write_text(
        "report.json",
        &(serde_json::to_string_pretty(&report).map_err(tokumei_report::Error::Json)? + "\n"),
    )?;
    let out = release.commit()?;
    Ok(AnonymizeOutcome { solution, out: Some(out), refused: None, report })
}

/// UTF-8 text in the encoding asked for: as is, with a byte-order mark (Excel reads UTF-8 with
/// one), or cp932. A character cp932 cannot hold is an error, never a silent substitute.
fn encode_text(utf8: Vec<u8>, encoding: TextEncoding) -> Result<Vec<u8>, AnonymizeError> {
    match encoding {
        TextEncoding::Utf8 => Ok(utf8),
        TextEncoding::Utf8Bom => Ok([&b"\xef\xbb\xbf"[..], &utf8].concat()),
        TextEncoding::Cp932 => {
            // CsvWriter writes UTF-8.
            let text = String::from_utf8_lossy(&utf8);
            let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
            if unmappable {
                let line = text.lines().position(|l| encoding_rs::SHIFT_JIS.encode(l).2).map_or(0, |i| i + 1);
                return Err(AnonymizeError::NotCp932 { line });
            }
            Ok(bytes.into_owned())
        }
    }
}

/// Codes of the sensitive column in value order (numeric when every value is a number, else
/// by text; a missing value is a value of its own, last), and the dictionary size.
pub(crate) fn sensitive_codes(
    frame: &DataFrame,
    column: &str,
    input: &Path,
) -> Result<(Vec<u32>, u32), FlatTableError> {
    let values = text_column(frame, column, input)?;
    let values: Vec<Option<&str>> = values.iter().collect();
    Ok(tokumei_privacy::dictionary::ordered_text_codes(&values))
}
