//! Ingest → linkage keys → staged Parquet, one streaming pass per input.
//!
//! Each batch from ingest gets its linkage keys computed (and fed to the union-find), a keyed
//! shuffle key, and for submissions its row tokens; then its rows are appended to the staged
//! Parquet file of their **bucket** in the run's work folder, encrypted under the run's key
//! ([`encrypted`](super::encrypted)). Only the keys stay in memory.
//!
//! Buckets are the first half of an external shuffle: a row's bucket comes from its keyed shuffle
//! key, and the release is written bucket by bucket, each sorted by that key. The output is a
//! uniformly random permutation, while memory holds one bucket (about [`BUCKET_BYTES`] of input)
//! however large the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use tokumei_config::{OptOutList, OptOutPlan, Profile, TablePlan};
use tokumei_core::normalize::CivilDate;
use tokumei_ingest::{IngestStats, LINE_COLUMN, read_source};
use tokumei_link::{KeyHasher, KeyKind, Linker, OptOutEntry, ReleaseKeys, RowKeys, parse_token_list, token_hex};

use super::encrypted::{self, EncryptedFile, StageKey};
use super::{EVIDENCE_TOKEN_COLUMNS, ORDER_COLUMN, PipelineError, TOKEN_COLUMNS};

/// Default input bytes per bucket: the release holds one bucket in memory at a time.
pub(crate) const BUCKET_BYTES: u64 = 64 << 20;

/// A staged table: its bucket files (in bucket order; bucket 0 always exists), ingest stats,
/// and (when asked for) each accepted row's source line.
pub(crate) struct Staged {
    pub buckets: Vec<PathBuf>,
    pub stats: IngestStats,
    pub lines: Vec<u64>,
    /// When asked for (linkage evaluation): each accepted row's cell of one column.
    pub collected: Vec<Option<String>>,
}

/// Keyed 64-bit shuffle keys and keyless-row identities, per release (keys zeroed on drop).
pub(crate) struct RowHashes {
    shuffle: [u8; 32],
    keyless: [u8; 32],
}

impl Drop for RowHashes {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.shuffle.zeroize();
        self.keyless.zeroize();
    }
}

impl RowHashes {
    pub fn new(keys: &ReleaseKeys<'_>) -> RowHashes {
        RowHashes { shuffle: *keys.shuffle().bytes(), keyless: *keys.keyless_row().bytes() }
    }

    fn hash(key: &[u8; 32], table: &str, row: u64) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(key);
        hasher.update(table.as_bytes());
        hasher.update(&[0x1f]);
        hasher.update(&row.to_le_bytes());
        *hasher.finalize().as_bytes()
    }

    fn order(&self, table: &str, row: u64) -> u64 {
        u64::from_le_bytes(Self::hash(&self.shuffle, table, row)[..8].try_into().expect("8 bytes"))
    }

    fn keyless(&self, table: &str, row: u64) -> u128 {
        tokumei_link::keyless_row_id(&self.keyless, table, row)
    }
}

/// What staging needs for every table of a run.
pub(crate) struct Stager<'a> {
    pub profile: Profile,
    /// Linkage keys.
    pub link: &'a KeyHasher,
    /// Submission tokens.
    pub tokens: &'a KeyHasher,
    pub hashes: &'a RowHashes,
    /// The run's work folder and the key its files are encrypted under; `None` links without
    /// staging (linkage evaluation).
    pub work: Option<(&'a Path, &'a StageKey)>,
    /// Input bytes per bucket.
    pub bucket_bytes: u64,
    /// Without staging: a column whose cells to collect per row (a truth column).
    pub collect: Option<&'a str>,
}

impl Stager<'_> {
    /// Reads table `index` of the plan into `work/<table>.<bucket>.parquet`, feeding `linker`.
    pub fn stage(
        &self,
        index: usize,
        table: &TablePlan,
        linker: &mut Linker,
        progress: &indicatif::ProgressBar,
    ) -> Result<Staged, PipelineError> {
        let name = table.source.table.clone();
        let input_bytes = bytes_under(&table.source.path);
        let buckets = input_bytes.div_ceil(self.bucket_bytes).clamp(1, 1024) as usize;
        let paths: Vec<PathBuf> = match self.work {
            Some((work, _)) => (0..buckets).map(|b| work.join(format!("{name}.{b:04}.parquet"))).collect(),
            None => Vec::new(),
        };
        let mut lines = Vec::new();
        let mut collected = Vec::new();
        let mut writers: Vec<Option<(polars::io::parquet::write::BatchedWriter<EncryptedFile>, EncryptedFile)>> =
            (0..buckets).map(|_| None).collect();
        let mut first_row = 0u64;
        let unneeded = unneeded_columns(table);
        let stats = read_source(&table.source, |mut batch| {
            let keys = self.link.row_keys(&batch, &table.link)?;
            let evidence = self.link.row_evidence(&batch, &table.link)?;
            let start = first_row;
            // `add_rows` passes each row's number within the source.
            linker.add_rows(index, &keys, &evidence, |row| self.hashes.keyless(&name, row as u64));
            let Some((_, key)) = self.work else {
                lines.extend(batch.column(LINE_COLUMN)?.u64()?.iter().map(|l| l.unwrap_or(0)));
                if let Some(name) = self.collect {
                    let cells = batch.column(name)?.cast(&DataType::String)?;
                    collected.extend(cells.str()?.iter().map(|c| c.map(str::to_string)));
                }
                return Ok(());
            };
            let orders: Vec<u64> = (0..batch.height() as u64).map(|r| self.hashes.order(&name, start + r)).collect();
            let mut rows_of_bucket: Vec<Vec<IdxSize>> = vec![Vec::new(); buckets];
            for (row, order) in orders.iter().enumerate() {
                rows_of_bucket[(order % buckets as u64) as usize].push(row as IdxSize);
            }
            batch.with_column(Column::new(ORDER_COLUMN.into(), orders))?;
            if self.profile == Profile::Submission {
                let row_tokens = self.tokens.row_keys(&batch, &table.link)?;
                let evidence = self.tokens.row_evidence(&batch, &table.link)?;
                add_tokens(&mut batch, row_tokens)?;
                let (streets, prefectures): (Vec<Option<String>>, Vec<Option<String>>) =
                    evidence.iter().map(|e| self.tokens.evidence_tokens(e)).unzip();
                let [street, prefecture] = EVIDENCE_TOKEN_COLUMNS;
                batch.with_column(Column::new(street.into(), streets))?;
                batch.with_column(Column::new(prefecture.into(), prefectures))?;
            }
            let _ = batch.drop_in_place(LINE_COLUMN)?;
            // What no later stage reads (names, card numbers, My Number: their keys are made
            // above, in memory) never reaches the disk.
            for name in &unneeded {
                let _ = batch.drop_in_place(name)?;
            }
            first_row += batch.height() as u64;
            progress.inc(batch.height() as u64);
            for (bucket, rows) in rows_of_bucket.into_iter().enumerate() {
                // Bucket 0 is written even when empty, so every table has a schema on disk.
                if rows.is_empty() && (bucket > 0 || writers[0].is_some()) {
                    continue;
                }
                let part = batch.take(&IdxCa::from_vec("rows".into(), rows))?;
                if writers[bucket].is_none() {
                    let file = EncryptedFile::create(&paths[bucket], key, tokumei_report::FILE_MODE)?;
                    // Staged files live for one run: no compression, to spend no CPU on them.
                    let writer = ParquetWriter::new(file.clone()).with_compression(ParquetCompression::Uncompressed);
                    writers[bucket] = Some((writer.batched(part.schema())?, file));
                }
                writers[bucket].as_mut().expect("created above").0.write_batch(&part)?;
            }
            Ok(())
        })?;
        let mut written = Vec::new();
        for (path, writer) in paths.into_iter().zip(writers) {
            if let Some((writer, file)) = writer {
                writer.finish()?;
                file.finish()?;
                written.push(path);
            }
        }
        Ok(Staged { buckets: written, stats, lines, collected })
    }
}

/// A staged table as the stages after staging read it: its encrypted buckets, decrypted into
/// memory one at a time, each with the columns and filters added so far.
#[derive(Clone)]
pub(crate) struct StagedTable {
    buckets: Arc<[PathBuf]>,
    key: Arc<StageKey>,
    columns: Vec<Expr>,
    filters: Vec<Expr>,
}

impl StagedTable {
    pub fn new(staged: &Staged, key: Arc<StageKey>) -> StagedTable {
        StagedTable { buckets: staged.buckets.as_slice().into(), key, columns: Vec::new(), filters: Vec::new() }
    }

    /// The table with a column added to every bucket.
    pub fn with_column(&self, column: Expr) -> StagedTable {
        let mut out = self.clone();
        out.columns.push(column);
        out
    }

    /// The table's rows that pass `predicate`.
    pub fn filter(&self, predicate: Expr) -> StagedTable {
        let mut out = self.clone();
        out.filters.push(predicate);
        out
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Bucket `b`, decrypted into memory, as a lazy frame; the plaintext lives as long as the
    /// frame.
    pub fn bucket(&self, b: usize) -> PolarsResult<LazyFrame> {
        let plaintext = encrypted::read(&self.buckets[b], &self.key)?;
        let source = ScanSources::Buffers(Arc::from([plaintext.into()]));
        let args = ScanArgsParquet { hive_options: HiveOptions::new_disabled(), glob: false, ..Default::default() };
        let mut frame = LazyFrame::scan_parquet_sources(source, args)?;
        for column in &self.columns {
            frame = frame.with_column(column.clone());
        }
        for predicate in &self.filters {
            frame = frame.filter(predicate.clone());
        }
        Ok(frame)
    }

    /// `query` run on every bucket (one in memory at a time), its results stacked. Aggregations
    /// whose parts merge (counts, distinct values, selected columns) run through this.
    pub fn gather(&self, query: impl Fn(LazyFrame) -> LazyFrame) -> PolarsResult<DataFrame> {
        let mut out: Option<DataFrame> = None;
        for b in 0..self.buckets.len() {
            let part = tokumei_core::collect_streaming(query(self.bucket(b)?))?;
            match &mut out {
                None => out = Some(part),
                Some(stacked) => {
                    stacked.vstack_mut(&part)?;
                }
            }
        }
        out.ok_or_else(|| polars_err!(ComputeError: "a staged table has no bucket"))
    }
}

/// The columns of `table` that no stage after staging reads: dropped from the release, and not
/// the grouping column of a per-group top/bottom coding.
pub(crate) fn unneeded_columns(table: &TablePlan) -> Vec<String> {
    let grouping: Vec<&str> = table
        .columns
        .iter()
        .filter_map(|c| match &c.transform {
            tokumei_config::Transform::TopBottomBy { by, .. } => Some(by.as_str()),
            _ => None,
        })
        .collect();
    table
        .columns
        .iter()
        .filter(|c| c.transform == tokumei_config::Transform::Drop && !grouping.contains(&c.name.as_str()))
        .map(|c| c.name.clone())
        .collect()
}

fn add_tokens(batch: &mut DataFrame, keys: Vec<RowKeys>) -> PolarsResult<()> {
    for (name, kind) in TOKEN_COLUMNS {
        let values: Vec<Option<String>> = keys.iter().map(|k| k[kind as usize].map(token_hex)).collect();
        batch.with_column(Column::new(name.into(), values))?;
    }
    Ok(())
}

/// An opt-out list as read.
pub(crate) struct OptOutRead {
    /// The entries: line, keys, and the link fields each fills.
    pub entries: Vec<OptOutEntry>,
    pub stats: IngestStats,
    /// Earliest and latest 申出日 (request date), when the list has a `request_date` column.
    pub request_dates: Option<(CivilDate, CivilDate)>,
}

/// The column of an opt-out list that holds the request date (申出日).
const REQUEST_DATE: &str = "request_date";

/// Reads an opt-out list.
pub(crate) fn read_opt_outs(list: &OptOutPlan, link: &KeyHasher) -> Result<OptOutRead, PipelineError> {
    match &list.list {
        OptOutList::Plain { source, link: columns } => {
            let mut entries = Vec::new();
            let mut dates: Option<(i32, i32)> = None;
            let stats = read_source(source, |batch| {
                let lines = batch.column(LINE_COLUMN)?.u64()?.clone();
                entries.extend(tokumei_link::entries_of_batch(link, &batch, columns, &lines)?);
                if let Ok(column) = batch.column(REQUEST_DATE) {
                    for day in column.to_physical_repr().i32()?.iter().flatten() {
                        dates = Some(dates.map_or((day, day), |(lo, hi)| (lo.min(day), hi.max(day))));
                    }
                }
                Ok(())
            })?;
            let request_dates = dates.map(|(lo, hi)| (CivilDate::from_epoch_days(lo), CivilDate::from_epoch_days(hi)));
            Ok(OptOutRead { entries, stats, request_dates })
        }
        OptOutList::Tokens(path) => {
            let entries = read_token_list(path)?;
            let stats = IngestStats {
                rows_read: entries.len() as u64,
                rows_accepted: entries.len() as u64,
                ..IngestStats::default()
            };
            Ok(OptOutRead { entries, stats, request_dates: None })
        }
    }
}

fn read_token_list(path: &Path) -> Result<Vec<OptOutEntry>, PipelineError> {
    let text = std::fs::read_to_string(path)?;
    parse_token_list(&text).map_err(|line| PipelineError::TokenList { path: path.display().to_string(), line })
}

/// The card keys of opt-out entries, which the linker must watch (see `Linker::watch_cards`).
pub(crate) fn watched_cards(reads: &[OptOutRead]) -> impl Iterator<Item = u128> + '_ {
    reads.iter().flat_map(|r| r.entries.iter().filter_map(|e| e.keys[KeyKind::Card as usize]))
}

/// Size of a file, or of every file under a folder (national formats read folders).
fn bytes_under(path: &std::path::Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.filter_map(Result::ok).map(|e| bytes_under(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
