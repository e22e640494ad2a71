//! Ingest → linkage keys → staged Parquet, one streaming pass per input.
//!
//! Each batch from ingest gets its linkage keys computed (and fed to the union-find), a keyed
//! shuffle key, and for submissions its row tokens; then it is appended to a staged Parquet file
//! in the run's work folder. Only the keys stay in memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tokumei_config::{OptOutPlan, Profile, TablePlan};
use tokumei_ingest::{IngestStats, LINE_COLUMN, read_source};
use tokumei_link::{KeyHasher, Linker, MasterKey, RowKeys, token_hex};

use super::{ORDER_COLUMN, PipelineError, TOKEN_COLUMNS};

/// A staged table.
pub(crate) struct Staged {
    pub path: PathBuf,
    pub stats: IngestStats,
}

/// Keyed 64-bit shuffle keys and keyless-row identities, per release.
pub(crate) struct RowHashes {
    shuffle: [u8; 32],
    keyless: [u8; 32],
}

impl RowHashes {
    pub fn new(master: &MasterKey, label: &str) -> RowHashes {
        RowHashes { shuffle: master.derive(&format!("{label} shuffle")), keyless: master.derive("keyless row") }
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
        u128::from_le_bytes(Self::hash(&self.keyless, table, row)[..16].try_into().expect("16 bytes"))
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
    /// The run's work folder.
    pub work: &'a Path,
}

impl Stager<'_> {
    /// Reads table `index` of the plan into `work/<table>.parquet`, feeding `linker`.
    pub fn stage(
        &self,
        index: usize,
        table: &TablePlan,
        linker: &mut Linker,
        progress: &indicatif::ProgressBar,
    ) -> Result<Staged, PipelineError> {
        let name = table.source.table.clone();
        let path = self.work.join(format!("{name}.parquet"));
        let mut writer: Option<polars::io::parquet::write::BatchedWriter<File>> = None;
        let mut first_row = 0u64;
        let stats = read_source(&table.source, |mut batch| {
            let keys = self.link.row_keys(&batch, &table.link)?;
            let start = first_row;
            // `add_rows` passes each row's number within the source.
            linker.add_rows(index, &keys, |row| self.hashes.keyless(&name, row as u64));
            let orders: Vec<u64> = (0..batch.height() as u64).map(|r| self.hashes.order(&name, start + r)).collect();
            batch.with_column(Column::new(ORDER_COLUMN.into(), orders))?;
            if self.profile == Profile::Submission {
                let row_tokens = self.tokens.row_keys(&batch, &table.link)?;
                add_tokens(&mut batch, row_tokens)?;
            }
            let _ = batch.drop_in_place(LINE_COLUMN)?;
            first_row += batch.height() as u64;
            progress.inc(batch.height() as u64);
            if writer.is_none() {
                let file = File::create(&path)?;
                writer = Some(ParquetWriter::new(file).batched(batch.schema())?);
            }
            writer.as_mut().expect("created above").write_batch(&batch)?;
            Ok(())
        })?;
        if let Some(writer) = writer {
            writer.finish()?;
        }
        Ok(Staged { path, stats })
    }
}

fn add_tokens(batch: &mut DataFrame, keys: Vec<RowKeys>) -> PolarsResult<()> {
    for (kind, name) in TOKEN_COLUMNS.iter().enumerate() {
        let values: Vec<Option<String>> = keys.iter().map(|k| k[kind].map(token_hex)).collect();
        batch.with_column(Column::new((*name).into(), values))?;
    }
    Ok(())
}

/// Reads an opt-out list: per entry, its source line and its keys.
pub(crate) fn read_opt_outs(
    list: &OptOutPlan,
    link: &KeyHasher,
) -> Result<(Vec<(u64, RowKeys)>, IngestStats), PipelineError> {
    let mut entries = Vec::new();
    let stats = read_source(&list.source, |batch| {
        let keys = link.row_keys(&batch, &list.link)?;
        let lines = batch.column(LINE_COLUMN)?.u64()?.clone();
        entries.extend(lines.iter().map(|l| l.unwrap_or(0)).zip(keys));
        Ok(())
    })?;
    Ok((entries, stats))
}
