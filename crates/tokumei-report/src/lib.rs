//! Report of tokumei: atomic release folders with Parquet tables, the run report (`report.json`,
//! `report.md`), blake3 digests of inputs, config and outputs, and self-contained HTML pages.
#![warn(missing_docs)]

pub mod html;
mod manifest;
mod release;

use std::io::Read;
use std::path::Path;

pub use manifest::{ColumnTreatment, InputFile, OutputFile, RunReport, TableAccount};
pub use release::{Error, Release, Result};

/// blake3 of a file's bytes, hex (streamed; files of any size).
pub fn digest_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
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
