//! Reading a source into typed batches, quarantining rows whose cells cannot be typed.
//!
//! Decided per case:
//! - **rejected (error)**: missing file, undecodable bytes, a configured header that is absent or
//!   duplicated, a row with the wrong number of fields (columns may have shifted, so no cell of
//!   the row can be trusted, nor can the rest of the file);
//! - **quarantined (row left out, counted, located in the report)**: a cell that does not parse as
//!   its declared type (unreadable or impossible date, non-number, unknown sex code).

use std::fs::File;
use std::io::BufReader;

use polars::prelude::*;
use tokumei_core::{ROW_COLUMN, ValueType};

use crate::cell::{Cell, CellProblem, check_cell, type_cell};
use crate::decode::{Malformed, StrictDecoder};
use crate::national::{self, FormatError, NationalStats, ReadError, RowRef};
use crate::source::{Format, Source};

/// Internal column: the 1-based line (CSV) or record number (Parquet) of the row.
pub const LINE_COLUMN: &str = "__line";

/// Errors that reject a source. Each names file and position, never a cell value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Bytes that are not valid in the declared encoding.
    #[error("{path}, line {line}: bytes are not valid {encoding}; check the input's `encoding`")]
    Encoding {
        /// File.
        path: String,
        /// Line.
        line: u64,
        /// Declared encoding.
        encoding: &'static str,
    },
    /// A configured header is not in the file.
    #[error("{path}: column `{column}` expects header `{header}`, which the file does not have")]
    MissingHeader {
        /// File.
        path: String,
        /// Canonical column.
        column: String,
        /// Expected header.
        header: String,
    },
    /// A header appears twice.
    #[error("{path}: header `{header}` appears more than once")]
    DuplicateHeader {
        /// File.
        path: String,
        /// Header.
        header: String,
    },
    /// A row with a different number of fields than the header.
    #[error("{path}, line {line}: expected {expected} fields as in the header, found {found}")]
    Ragged {
        /// File.
        path: String,
        /// Line.
        line: u64,
        /// Header's field count.
        expected: u64,
        /// Row's field count.
        found: u64,
    },
    /// Any other CSV syntax problem.
    #[error("{path}, line {line}: malformed CSV ({kind})")]
    Csv {
        /// File.
        path: String,
        /// Line.
        line: u64,
        /// Kind of problem (no data).
        kind: String,
    },
    /// A Parquet column that cannot be read as text.
    #[error("{path}: {message}")]
    Parquet {
        /// File.
        path: String,
        /// Message.
        message: String,
    },
    /// A national-format file that breaks its format where reading cannot safely go on.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A national format without `extract`, or with one the format does not offer.
    #[error("{path}: {message}")]
    Extract {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The caller's batch handler failed.
    #[error(transparent)]
    Handler(Box<dyn std::error::Error + Send + Sync>),
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One quarantined row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// National formats: the file (UKE file, ZIP entry); absent for SS-MIX2, whose paths hold
    /// patient IDs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line (CSV with header = 1, UKE), record (Parquet), document (CDA) or message
    /// (SS-MIX2) of the bad cell.
    pub line: u64,
    /// National formats: where the cell comes from (`RE field 6`, `PID-7`, an XML path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Canonical column of the first bad cell.
    pub column: String,
    /// What was wrong.
    pub problem: CellProblem,
}

/// What reading a source found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestStats {
    /// Data rows in the file.
    pub rows_read: u64,
    /// Rows handed on.
    pub rows_accepted: u64,
    /// Rows left out because a cell could not be typed.
    pub rows_quarantined: u64,
    /// The quarantined rows (the first 1,000; `rows_quarantined` counts all).
    pub quarantine: Vec<Quarantined>,
    /// Every quarantined row counted by column × problem, with the first lines of each.
    pub quarantine_summary: Vec<QuarantineGroup>,
    /// Headers present in the file but not configured: not read, not released.
    pub unmapped_headers: Vec<String>,
    /// National formats: files, record types read, skipped and unknown, specification versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national: Option<NationalStats>,
}

const QUARANTINE_LISTED: usize = 1_000;

/// Quarantined rows of one column × problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineGroup {
    /// Canonical column (`(whole record)` for a national-format record quarantined whole).
    pub column: String,
    /// What was wrong.
    pub problem: CellProblem,
    /// Rows.
    pub rows: u64,
    /// The first lines (up to 5).
    pub first_lines: Vec<u64>,
}

impl IngestStats {
    /// Counts one quarantined row (listing it among the first 1,000).
    fn quarantine_row(&mut self, row: Quarantined) {
        self.rows_quarantined += 1;
        match self.quarantine_summary.iter_mut().find(|g| g.column == row.column && g.problem == row.problem) {
            Some(group) => {
                group.rows += 1;
                if group.first_lines.len() < 5 {
                    group.first_lines.push(row.line);
                }
            }
            None => self.quarantine_summary.push(QuarantineGroup {
                column: row.column.clone(),
                problem: row.problem,
                rows: 1,
                first_lines: vec![row.line],
            }),
        }
        if self.quarantine.len() < QUARANTINE_LISTED {
            self.quarantine.push(row);
        }
    }
}

struct Batch {
    columns: Vec<ColumnBuffer>,
    lines: Vec<u64>,
    rows: Vec<u64>,
}

enum ColumnBuffer {
    Text(StringChunkedBuilder),
    Date(Vec<Option<i32>>),
    Int(Vec<Option<i64>>),
    Int32(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
}

impl ColumnBuffer {
    fn new(name: &str, value_type: ValueType, capacity: usize) -> ColumnBuffer {
        match value_type {
            ValueType::Text => ColumnBuffer::Text(StringChunkedBuilder::new(name.into(), capacity)),
            ValueType::Date => ColumnBuffer::Date(Vec::with_capacity(capacity)),
            ValueType::Integer => ColumnBuffer::Int(Vec::with_capacity(capacity)),
            ValueType::Sex => ColumnBuffer::Int32(Vec::with_capacity(capacity)),
            ValueType::Decimal => ColumnBuffer::Float(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (ColumnBuffer::Text(v), Cell::Text(s)) => v.append_value(s),
            (ColumnBuffer::Date(v), Cell::Date(d)) => v.push(Some(d)),
            (ColumnBuffer::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (ColumnBuffer::Int32(v), Cell::Int(i)) => v.push(i32::try_from(i).ok()),
            (ColumnBuffer::Float(v), Cell::Float(x)) => v.push(Some(x)),
            (ColumnBuffer::Text(v), _) => v.append_null(),
            (ColumnBuffer::Date(v), _) | (ColumnBuffer::Int32(v), _) => v.push(None),
            (ColumnBuffer::Int(v), _) => v.push(None),
            (ColumnBuffer::Float(v), _) => v.push(None),
        }
    }

    fn into_column(self, name: &str) -> PolarsResult<Column> {
        let name = PlSmallStr::from(name);
        Ok(match self {
            ColumnBuffer::Text(v) => v.finish().with_name(name).into_column(),
            ColumnBuffer::Date(v) => Column::new(name, v).cast(&DataType::Date)?,
            ColumnBuffer::Int(v) => Column::new(name, v),
            ColumnBuffer::Int32(v) => Column::new(name, v),
            ColumnBuffer::Float(v) => Column::new(name, v),
        })
    }
}

/// Where a quarantined cell comes from.
struct Location {
    file: Option<String>,
    line: u64,
    origin: Option<String>,
}

struct Reading<'a, F> {
    source: &'a Source,
    stats: IngestStats,
    batch: Batch,
    on_batch: F,
}

impl<F> Reading<'_, F>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    fn new_batch(source: &Source) -> Batch {
        Batch {
            columns: source
                .columns
                .iter()
                .map(|c| ColumnBuffer::new(&c.name, c.value_type, source.batch_rows))
                .collect(),
            lines: Vec::with_capacity(source.batch_rows),
            rows: Vec::with_capacity(source.batch_rows),
        }
    }

    /// Types one row's cells (given in column order) and buffers it, or quarantines it.
    fn row<'c>(&mut self, line: u64, cells: impl Iterator<Item = Option<&'c str>>) -> Result<()> {
        self.located_row(line, cells, |_| Location { file: None, line, origin: None })
    }

    /// As `row`, with `locate` telling where the cell of column `i` comes from.
    fn located_row<'c>(
        &mut self,
        line: u64,
        cells: impl Iterator<Item = Option<&'c str>>,
        locate: impl Fn(usize) -> Location,
    ) -> Result<()> {
        self.stats.rows_read += 1;
        let mut parsed = Vec::with_capacity(self.source.columns.len());
        for (i, (spec, raw)) in self.source.columns.iter().zip(cells).enumerate() {
            let max = self.source.max_cell_bytes;
            let typed = raw.map_or(Ok(Cell::Null), |raw| {
                check_cell(raw, spec.multiline, max).and_then(|()| type_cell(raw, spec.value_type))
            });
            match typed {
                Ok(cell) => parsed.push(cell),
                Err(problem) => {
                    let Location { file, line, origin } = locate(i);
                    self.stats.quarantine_row(Quarantined { file, line, origin, column: spec.name.clone(), problem });
                    return Ok(());
                }
            }
        }
        for (buffer, cell) in self.batch.columns.iter_mut().zip(parsed) {
            buffer.push(cell);
        }
        self.batch.lines.push(line);
        self.batch.rows.push(self.stats.rows_accepted);
        self.stats.rows_accepted += 1;
        if self.batch.lines.len() >= self.source.batch_rows {
            self.flush(false)?;
        }
        Ok(())
    }

    /// Hands the buffered rows on. With `force`, an empty batch is handed on too, so that the
    /// caller learns the schema of a source with no accepted rows.
    fn flush(&mut self, force: bool) -> Result<()> {
        if self.batch.lines.is_empty() && !force {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Self::new_batch(self.source));
        let polars_error = |e: PolarsError| Error::Handler(Box::new(e));
        let mut columns = Vec::with_capacity(batch.columns.len() + 2);
        for (spec, buffer) in self.source.columns.iter().zip(batch.columns) {
            columns.push(buffer.into_column(&spec.name).map_err(polars_error)?);
        }
        columns.push(Column::new(ROW_COLUMN.into(), batch.rows));
        columns.push(Column::new(LINE_COLUMN.into(), batch.lines));
        let frame = DataFrame::new_infer_height(columns).map_err(polars_error)?;
        (self.on_batch)(frame).map_err(Error::Handler)
    }
}

/// Reads `source`, calling `on_batch` with each typed batch (canonical columns plus the internal
/// `__row` and `__line` columns). Returns what was read and quarantined.
pub fn read_source<F>(source: &Source, on_batch: F) -> Result<IngestStats>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let mut reading =
        Reading { source, stats: IngestStats::default(), batch: Reading::<F>::new_batch(source), on_batch };
    match source.format {
        Format::Csv => read_csv(&mut reading)?,
        Format::Parquet | Format::Submission => read_parquet(&mut reading)?,
        Format::Uke | Format::Cda | Format::SsMix2 => read_national(&mut reading)?,
    }
    let nothing_sent = reading.stats.rows_accepted == 0;
    reading.flush(nothing_sent)?;
    Ok(reading.stats)
}

fn path_of(source: &Source) -> String {
    source.path.display().to_string()
}

/// Positions of the configured headers; unknown headers are recorded, missing ones rejected.
fn header_positions(source: &Source, headers: &[String], stats: &mut IngestStats) -> Result<Vec<usize>> {
    let mut seen = std::collections::HashSet::new();
    for header in headers {
        if !seen.insert(header.as_str()) {
            return Err(Error::DuplicateHeader { path: path_of(source), header: header.clone() });
        }
    }
    stats.unmapped_headers =
        headers.iter().filter(|h| !source.columns.iter().any(|c| &c.header == *h)).cloned().collect();
    source
        .columns
        .iter()
        .map(|spec| {
            headers.iter().position(|h| h == &spec.header).ok_or_else(|| Error::MissingHeader {
                path: path_of(source),
                column: spec.name.clone(),
                header: spec.header.clone(),
            })
        })
        .collect()
}

/// An open CSV source: the reader over strictly decoded text, the line index of that text, and
/// what error messages need.
struct OpenCsv {
    reader: csv::Reader<StrictDecoder<BufReader<File>>>,
    lines: std::rc::Rc<std::cell::RefCell<crate::decode::LineIndex>>,
    path: String,
    encoding: &'static str,
}

impl OpenCsv {
    fn open(source: &Source) -> Result<OpenCsv> {
        let path = path_of(source);
        let file = File::open(&source.path).map_err(|e| Error::Io { path: path.clone(), source: e })?;
        let decoder = StrictDecoder::new(BufReader::with_capacity(1 << 20, file), source.encoding.encoding());
        let lines = decoder.line_index();
        let reader = csv::ReaderBuilder::new()
            .delimiter(source.delimiter)
            .has_headers(true)
            .flexible(false)
            .from_reader(decoder);
        Ok(OpenCsv { reader, lines, path, encoding: source.encoding.encoding().name() })
    }

    fn line_of(&self, position: Option<&csv::Position>) -> u64 {
        position.map_or(0, |p| self.lines.borrow_mut().line_of(p.byte()))
    }

    fn error(&self, e: csv::Error) -> Error {
        let line = self.line_of(e.position());
        let path = self.path.clone();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<Malformed>()) {
                Some(m) => Error::Encoding { path, line: m.line, encoding: self.encoding },
                None => Error::Io { path, source: io },
            },
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                Error::Ragged { path, line, expected: expected_len, found: len }
            }
            csv::ErrorKind::Utf8 { .. } => Error::Encoding { path, line, encoding: self.encoding },
            other => Error::Csv { path, line, kind: format!("{:?}", std::mem::discriminant(&other)) },
        }
    }

    fn headers(&mut self) -> Result<Vec<String>> {
        match self.reader.headers() {
            Ok(headers) => Ok(headers.iter().map(|h| h.trim().to_string()).collect()),
            Err(e) => Err(self.error(e)),
        }
    }
}

/// The headers of `source`, reading nothing past them (CSV) or only the schema (Parquet); for
/// national formats, the headers of the extracted table.
pub fn read_headers(source: &Source) -> Result<Vec<String>> {
    match source.format {
        Format::Uke | Format::Cda | Format::SsMix2 => Ok(national_table(source)?.headers()),
        Format::Csv => OpenCsv::open(source)?.headers(),
        Format::Parquet | Format::Submission => {
            let path = path_of(source);
            let file = File::open(&source.path).map_err(|e| Error::Io { path: path.clone(), source: e })?;
            let schema = ParquetReader::new(file)
                .schema()
                .map_err(|e| Error::Parquet { path: path.clone(), message: e.to_string() })?;
            Ok(schema.iter_names().map(|n| n.to_string()).collect())
        }
    }
}

fn read_csv<F>(reading: &mut Reading<'_, F>) -> Result<()>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let mut csv = OpenCsv::open(reading.source)?;
    let headers = csv.headers()?;
    let positions = header_positions(reading.source, &headers, &mut reading.stats)?;
    let mut record = csv::StringRecord::new();
    loop {
        match csv.reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = csv.line_of(record.position());
                reading.row(line, positions.iter().map(|&i| record.get(i)))?;
            }
            Err(e) => return Err(csv.error(e)),
        }
    }
    Ok(())
}

fn read_parquet<F>(reading: &mut Reading<'_, F>) -> Result<()>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let source = reading.source;
    let path = path_of(source);
    let parquet_error = |e: PolarsError| Error::Parquet { path: path.clone(), message: e.to_string() };
    let file = File::open(&source.path).map_err(|e| Error::Io { path: path.clone(), source: e })?;
    let mut reader = ParquetReader::new(file);
    let headers: Vec<String> = reader.schema().map_err(parquet_error)?.iter_names().map(|h| h.to_string()).collect();
    let positions = header_positions(source, &headers, &mut reading.stats)?;
    // Only the configured columns are read, and turned into text a batch at a time: memory holds
    // the typed columns once, not a text copy of the whole table.
    let wanted: Vec<String> = positions.iter().map(|&i| headers[i].clone()).collect();
    let frame = reader.with_columns(Some(wanted.clone())).finish().map_err(parquet_error)?;
    let columns = wanted.iter().map(|h| frame.column(h)).collect::<PolarsResult<Vec<_>>>().map_err(parquet_error)?;
    let batch = source.batch_rows.max(1);
    for start in (0..frame.height()).step_by(batch) {
        let len = batch.min(frame.height() - start);
        let mut texts = Vec::with_capacity(columns.len());
        for (column, spec) in columns.iter().zip(&source.columns) {
            // Dates are written as ISO text, numbers as decimal text, so they type like CSV cells.
            let text = column.slice(start as i64, len).cast(&DataType::String).map_err(|_| Error::Parquet {
                path: path.clone(),
                message: format!("column `{}` (header `{}`) cannot be read as text", spec.name, spec.header),
            })?;
            texts.push(text.str().map_err(parquet_error)?.rechunk().into_owned());
        }
        for row in 0..len {
            let cells: Vec<Option<&str>> = texts.iter().map(|t| t.get(row)).collect();
            reading.row((start + row) as u64 + 1, cells.into_iter())?;
        }
    }
    Ok(())
}

fn national_table(source: &Source) -> Result<&'static national::Table> {
    let path = path_of(source);
    let Some(name) = source.extract.as_deref() else {
        let names: Vec<&str> = national::tables(source.format).iter().map(|t| t.name).collect();
        return Err(Error::Extract { path, message: format!("set `extract` to one of: {}", names.join(", ")) });
    };
    national::table(source.format, name).map_err(|e| Error::Extract { path, message: e.to_string() })
}

/// Reads a national-format source: every file under the path, in name order.
fn read_national<F>(reading: &mut Reading<'_, F>) -> Result<()>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let source = reading.source;
    let table = national_table(source)?;
    let path = path_of(source);
    let io = |e: std::io::Error| Error::Io { path: path.clone(), source: e };
    let headers = table.headers();
    let positions = header_positions(source, &headers, &mut reading.stats)?;
    let files = match source.format {
        Format::Uke => national::files_under(&source.path, &national::uke::is_uke_file).map_err(io)?,
        Format::Cda => national::files_under(&source.path, &national::cda::is_cda_input).map_err(io)?,
        Format::SsMix2 => national::files_under(&source.path, &|p: &std::path::Path| {
            !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .map_err(io)?,
        Format::Csv | Format::Parquet | Format::Submission => unreachable!("not a national format"),
    };
    if files.is_empty() {
        return Err(Error::Extract { path, message: "no files of this format found here".into() });
    }
    let mut all = NationalStats::default();
    match source.format {
        Format::Cda => {
            read_cda(reading, table, &positions, &files, &mut all)?;
            reading.stats.national = Some(all);
            return Ok(());
        }
        Format::SsMix2 => {
            read_ssmix2(reading, table, &positions, &files, &mut all)?;
            reading.stats.national = Some(all);
            return Ok(());
        }
        _ => {}
    }
    for file in &files {
        let shown = file.display().to_string();
        let mut on_row = |row: RowRef<'_>| -> Result<()> { reading.national_row(table, &positions, row) };
        let opened = File::open(file).map_err(|e| Error::Io { path: shown.clone(), source: e })?;
        let stats = match source.format {
            Format::Uke => national::uke::parse(BufReader::with_capacity(1 << 20, opened), &shown, table, &mut on_row),
            Format::Csv | Format::Parquet | Format::Submission | Format::Cda | Format::SsMix2 => {
                unreachable!("read above")
            }
        };
        match stats {
            Ok(stats) => all.merge(stats),
            Err(ReadError::Io(e)) => return Err(Error::Io { path: shown, source: e }),
            Err(ReadError::Format(e)) => return Err(Error::Format(e)),
            Err(ReadError::Sink(e)) => return Err(e),
        }
    }
    reading.stats.national = Some(all);
    Ok(())
}

impl<F> Reading<'_, F>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    /// Hands on the rows of one national row callback.
    fn national_row(&mut self, table: &national::Table, positions: &[usize], row: RowRef<'_>) -> Result<()> {
        let line = positions.iter().map(|&i| row.records[i]).max().unwrap_or(0);
        self.located_row(line, positions.iter().map(|&i| row.cells[i]), |c| Location {
            file: row.file.map(str::to_string),
            line: row.records[positions[c]],
            origin: Some(table.fields[positions[c]].origin.to_string()),
        })
    }

    /// Counts a whole record (a document, a message) as read and quarantined.
    fn quarantine_record(&mut self, file: Option<String>, line: u64, origin: String, problem: CellProblem) {
        self.stats.rows_read += 1;
        self.stats.quarantine_row(Quarantined {
            file,
            line,
            origin: Some(origin),
            column: "(whole record)".into(),
            problem,
        });
    }
}

/// The largest document or message read whole. A 特定健診 document or an HL7 message is a few
/// kilobytes: anything this large is not one, and reading it (a ZIP entry can inflate without
/// bound) could exhaust memory.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Reads one whole document or message into `buffer`; `false` when it exceeds
/// [`MAX_RECORD_BYTES`].
fn read_record(source: impl std::io::Read, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    buffer.clear();
    let n = std::io::Read::read_to_end(&mut source.take(MAX_RECORD_BYTES + 1), buffer)?;
    Ok(n as u64 <= MAX_RECORD_BYTES)
}

fn too_large(file: String, at: &str) -> Error {
    Error::Format(FormatError {
        file,
        at: at.to_string(),
        message: format!("larger than {} MiB, which no document or message is", MAX_RECORD_BYTES >> 20),
    })
}

/// CDA documents: each `*.xml` file, and each `*.xml` entry of each ZIP, in name order; the
/// document number counts across all of them.
fn read_cda<F>(
    reading: &mut Reading<'_, F>,
    table: &'static national::Table,
    positions: &[usize],
    files: &[std::path::PathBuf],
    stats: &mut NationalStats,
) -> Result<()>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    use national::cda::{self, DocumentError};
    let mut number = 0u64;
    let mut document = |reading: &mut Reading<'_, F>, bytes: &[u8], label: &str, stats: &mut NationalStats| {
        number += 1;
        stats.files += 1;
        let result =
            cda::parse_document(bytes, label, number, table, |row| reading.national_row(table, positions, row));
        match result {
            Ok(parsed) => {
                cda::count(&parsed, stats);
                Ok(())
            }
            Err(DocumentError::Malformed { at, message }) => {
                NationalStats::count(&mut stats.records, "malformed document");
                reading.quarantine_record(
                    Some(label.to_string()),
                    number,
                    format!("{at}: expected {message}"),
                    CellProblem::MalformedRecord,
                );
                Ok(())
            }
            Err(DocumentError::Sink(e)) => Err(e),
        }
    };
    for file in files {
        let shown = file.display().to_string();
        let io = |e: std::io::Error| Error::Io { path: shown.clone(), source: e };
        let is_zip = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let mut bytes = Vec::new();
        if !is_zip {
            if !read_record(File::open(file).map_err(io)?, &mut bytes).map_err(io)? {
                return Err(too_large(shown, "document"));
            }
            document(reading, &bytes, &shown, stats)?;
            continue;
        }
        let broken =
            |message: &str| FormatError { file: shown.clone(), at: "ZIP archive".into(), message: message.into() };
        let mut archive = ::zip::ZipArchive::new(File::open(file).map_err(io)?)
            .map_err(|_| broken("not a readable ZIP archive (an exchange package is a ZIP of XML files)"))?;
        let mut entries: Vec<(String, usize)> = (0..archive.len())
            .filter_map(|i| archive.name_for_index(i).map(|n| (n.to_string(), i)))
            .filter(|(n, _)| n.to_ascii_lowercase().ends_with(".xml"))
            .collect();
        entries.sort();
        for (name, index) in entries {
            let entry = archive.by_index(index).map_err(|_| broken("an entry cannot be read"))?;
            let fits = read_record(entry, &mut bytes)
                .map_err(|_| broken("an entry's data is corrupt (checksum or compression)"))?;
            if !fits {
                return Err(too_large(format!("{shown}!{name}"), "ZIP entry"));
            }
            document(reading, &bytes, &format!("{shown}!{name}"), stats)?;
        }
    }
    Ok(())
}

/// SS-MIX2 messages: every file under the storage root, in path order, numbered. Paths hold the
/// patient ID, so nothing of them is kept but the data type folder.
fn read_ssmix2<F>(
    reading: &mut Reading<'_, F>,
    table: &'static national::Table,
    positions: &[usize],
    files: &[std::path::PathBuf],
    stats: &mut NationalStats,
) -> Result<()>
where
    F: FnMut(DataFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    use national::ssmix2::{self, MessageError};
    let mut bytes = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let number = i as u64 + 1;
        stats.files += 1;
        // The path is not named in errors: it holds the patient ID.
        let shown = format!("{}: message {number} of the storage", path_of(reading.source));
        let io = |e: std::io::Error| Error::Io { path: shown.clone(), source: e };
        if !read_record(File::open(file).map_err(io)?, &mut bytes).map_err(io)? {
            return Err(too_large(shown, "message"));
        }
        let data_type = ssmix2::path_data_type(file);
        let path_id = ssmix2::path_patient_id(file);
        let on_row = |row: RowRef<'_>| reading.national_row(table, positions, row);
        match ssmix2::parse_message(&bytes, number, table, path_id.as_deref(), on_row) {
            Ok(parsed) => {
                if parsed.matches_path == Some(false) {
                    NationalStats::count(&mut stats.anomalies, "messages whose PID-3 differs from their path");
                }
                ssmix2::count(&parsed, data_type.as_deref(), stats);
            }
            Err(MessageError::Malformed { at, message }) => {
                NationalStats::count(&mut stats.records, "malformed message");
                let origin = format!("{at} ({}): expected {message}", data_type.as_deref().unwrap_or("?"));
                reading.quarantine_record(None, number, origin, CellProblem::MalformedRecord);
            }
            Err(MessageError::Sink(e)) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{ColumnSpec, TextEncoding};
    use tokumei_core::ValueType;

    /// A Parquet input is read in batches of `batch_rows`, only its configured columns, each row
    /// numbered as in the file and typed like a CSV cell; a bad cell quarantines its row.
    #[test]
    fn parquet_is_read_a_batch_at_a_time_and_typed_like_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let dates: Vec<Option<&str>> = vec![Some("2020-01-02"), None, Some("1970-03-02"), Some("not a date")]
            .into_iter()
            .cycle()
            .take(10)
            .collect();
        let mut frame = df!(
            "ID" => (0..10).map(|i| format!("p{i}")).collect::<Vec<_>>(),
            "日付" => dates,
            "点数" => (0..10i64).collect::<Vec<_>>(),
            "備考" => vec!["unread"; 10],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut frame).unwrap();
        let column = |name: &str, header: &str, value_type| ColumnSpec {
            name: name.into(),
            header: header.into(),
            value_type,
            multiline: false,
        };
        let source = Source {
            table: "t".into(),
            path,
            format: Format::Parquet,
            encoding: TextEncoding::Utf8,
            delimiter: b',',
            columns: vec![
                column("points", "点数", ValueType::Integer),
                column("id", "ID", ValueType::Text),
                column("date", "日付", ValueType::Date),
            ],
            batch_rows: 3,
            extract: None,
            max_cell_bytes: 1 << 16,
        };
        let mut batches = Vec::new();
        let stats = read_source(&source, |batch| {
            batches.push(batch);
            Ok(())
        })
        .unwrap();
        assert_eq!((stats.rows_read, stats.rows_accepted, stats.rows_quarantined), (10, 8, 2));
        assert_eq!(stats.quarantine.iter().map(|q| q.line).collect::<Vec<_>>(), [4, 8]);
        assert_eq!(stats.unmapped_headers, ["備考"]);
        assert!(batches.len() >= 3, "{} batches", batches.len());
        let mut ids = Vec::new();
        let mut lines = Vec::new();
        for batch in &batches {
            assert_eq!(batch.column("date").unwrap().dtype(), &DataType::Date);
            ids.extend(batch.column("id").unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()));
            lines.extend(batch.column(LINE_COLUMN).unwrap().u64().unwrap().iter().map(Option::unwrap));
        }
        assert_eq!(ids, ["p0", "p1", "p2", "p4", "p5", "p6", "p8", "p9"]);
        assert_eq!(lines, [1, 2, 3, 5, 6, 7, 9, 10]);
    }
}
