//! Report of tokumei: atomic release folders with Parquet tables, the run report (`report.json`,
//! `report.md`), blake3 digests of inputs, config and outputs, self-contained HTML pages, and
//! sealed releases ([`seal`]: age-encrypted archives for the certified producer).
//!
//! The report of one run is a [`RunReport`]: accounting per table, column treatments, files with
//! digests, and the typed [`Stages`] sections (ingest, linkage, opt-out, privacy, risk) that
//! `report.json` serializes and `report.md` / `report.html` render (`docs/report.md` lists every
//! key).
//!
//! A [`Release`] is written into a hidden scratch folder and appears at its destination only on
//! [`Release::commit`]; dropped uncommitted, it leaves nothing.
//!
//! ```
//! use tokumei_report::Release;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let out = dir.path().join("release");
//! let release = Release::begin(&out).unwrap();
//! release.write_text("notes.txt", "x").unwrap();
//! assert!(!out.exists(), "nothing appears before the commit");
//! release.commit().unwrap();
//! assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "x");
//! ```
#![warn(missing_docs)]

pub mod html;
pub mod ledger;
mod manifest;
pub mod records;
mod release;
pub mod seal;
mod sections;
mod stages;
pub mod submission;

use std::io::Read;
use std::path::Path;

pub use manifest::{ColumnTreatment, InputFile, OutputFile, RunReport, TableAccount};
pub use release::{
    Error, FILE_MODE, LEFTOVER_MARKER, REPORT_FILES, Release, Result, create_file, create_folder, folder_mode,
    listed_outputs, mark_leftover,
};
pub use stages::{
    GuaranteeSection, ItemsSection, JointReport, ListMatching, Measured, OptOutListReport, OptOutSection,
    PrivacySection, ProviderSection, Stages,
};

/// blake3 of a file's bytes, hex (streamed; files of any size). For a folder (a directory of UKE
/// files, an SS-MIX2 storage), blake3 over its files' relative paths and digests in name order,
/// so any changed, added or removed file changes it; the paths themselves are not shown.
pub fn digest_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    if path.is_dir() {
        let mut files = Vec::new();
        let mut pending = vec![path.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let entry = entry.map_err(io)?;
                if entry.file_type().map_err(io)?.is_dir() {
                    pending.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        let mut hasher = blake3::Hasher::new();
        for file in files {
            let relative = file.strip_prefix(path).unwrap_or(&file);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update(b"\0");
            hasher.update(digest_file(&file)?.as_bytes());
            hasher.update(b"\n");
        }
        return Ok(hasher.finalize().to_hex().to_string());
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}
