//! Atomic releases: everything is written into a temporary folder beside the destination and
//! renamed into place only when the whole run has succeeded. A failed run leaves no partial
//! release (the temporary folder is removed on drop); one killed outright leaves a hidden
//! folder holding [`LEFTOVER_MARKER`], which the next run removes.
//!
//! Files are created readable by their owner only (0600, or the mode the config asks for) and
//! folders 0700: personal data is never readable by other users of the machine.

use std::path::{Path, PathBuf};

use polars::prelude::*;

/// Errors writing a release.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Writing Parquet.
    #[error("writing {file}: {source}")]
    Parquet {
        /// File name.
        file: String,
        /// Cause.
        source: PolarsError,
    },
    /// Serializing the report.
    #[error("serializing the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

/// Mode of released files unless the config sets one: the owner reads and writes.
pub const FILE_MODE: u32 = 0o600;

/// The file that marks a folder as tokumei's own scratch (a partial release, a run's work
/// folder): it holds the writing process's id, and nothing personal.
pub const LEFTOVER_MARKER: &str = ".tokumei-leftover";

/// The mode of a folder holding files of `file_mode`: search permission wherever read is given.
pub fn folder_mode(file_mode: u32) -> u32 {
    file_mode | ((file_mode & 0o444) >> 2)
}

/// Creates (or truncates) `path` with `mode` exactly (whatever the umask).
pub fn create_file(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let file = options.open(path)?;
    set_mode(path, mode)?;
    Ok(file)
}

/// Creates folder `path` (not its parents) with `mode` exactly.
pub fn create_folder(path: &Path, mode: u32) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    builder.create(path)?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Writes the leftover marker into `folder`: this process's id.
pub fn mark_leftover(folder: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = create_file(&folder.join(LEFTOVER_MARKER), FILE_MODE)?;
    writeln!(file, "tokumei scratch folder of process {}", std::process::id())
}

/// The report files of a release (not listed among its outputs).
pub const REPORT_FILES: [&str; 3] = ["report.json", "report.md", "report.html"];

/// The output files (name, blake3) that the tokumei report in `dir` lists; `None` when `dir`
/// holds no `report.json` that tokumei wrote.
pub fn listed_outputs(dir: &Path) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(dir.join("report.json")).ok()?;
    let report: serde_json::Value = serde_json::from_str(&text).ok()?;
    report.get("tokumei_version")?.as_str()?;
    report
        .get("outputs")?
        .as_array()?
        .iter()
        .map(|o| Some((o.get("file")?.as_str()?.to_string(), o.get("blake3")?.as_str()?.to_string())))
        .collect()
}

/// A release being written.
pub struct Release {
    destination: PathBuf,
    staging: PathBuf,
    committed: bool,
    file_mode: u32,
}

impl Release {
    /// Starts a release that will end up at `destination` (a folder), files 0600.
    pub fn begin(destination: &Path) -> Result<Release> {
        Release::begin_with_mode(destination, FILE_MODE)
    }

    /// Starts a release whose files get `file_mode` (its folder the matching [`folder_mode`]).
    pub fn begin_with_mode(destination: &Path, file_mode: u32) -> Result<Release> {
        let parent = destination.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let name = destination.file_name().map_or_else(|| "release".into(), |n| n.to_string_lossy().into_owned());
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        create_folder(&staging, 0o700).map_err(io(&staging))?;
        mark_leftover(&staging).map_err(io(&staging))?;
        Ok(Release { destination: destination.to_path_buf(), staging, committed: false, file_mode })
    }

    /// Path of `file` inside the staging folder.
    pub fn path(&self, file: &str) -> PathBuf {
        self.staging.join(file)
    }

    /// The folder being written (hidden, beside the destination) — for checks before
    /// [`commit`](Self::commit).
    pub fn folder(&self) -> &Path {
        &self.staging
    }

    /// Writes the frames `parts` yields, in order, into one Parquet file `file`. Each part is
    /// collected and written before the next is asked for, so memory holds one part; the bytes
    /// depend only on the data (same parts, same file).
    pub fn write_parquet_parts(
        &self,
        file: &str,
        parts: impl IntoIterator<Item = PolarsResult<DataFrame>>,
    ) -> Result<u64> {
        let path = self.path(file);
        let parquet = |source| Error::Parquet { file: file.to_string(), source };
        let mut writer = None;
        let mut rows = 0u64;
        for part in parts {
            let part = part.map_err(parquet)?;
            if writer.is_none() {
                let out = create_file(&path, self.file_mode).map_err(io(&path))?;
                writer = Some(
                    ParquetWriter::new(out)
                        .with_row_group_size(Some(128 * 1024))
                        .batched(part.schema())
                        .map_err(parquet)?,
                );
            }
            rows += part.height() as u64;
            if part.height() > 0 {
                writer.as_mut().expect("created above").write_batch(&part).map_err(parquet)?;
            }
        }
        match writer {
            Some(writer) => {
                writer.finish().map_err(parquet)?;
                Ok(rows)
            }
            None => Err(parquet(PolarsError::NoData("no part to write".into()))),
        }
    }

    /// Writes `text` to `file`.
    pub fn write_text(&self, file: &str, text: &str) -> Result<()> {
        self.write_bytes(file, text.as_bytes())
    }

    /// Writes `bytes` to `file`.
    pub fn write_bytes(&self, file: &str, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let path = self.path(file);
        create_file(&path, self.file_mode).and_then(|mut f| f.write_all(bytes)).map_err(io(&path))
    }

    /// blake3 of a staged file, hex.
    pub fn digest(&self, file: &str) -> Result<String> {
        crate::digest_file(&self.path(file))
    }

    /// Moves the release into place. An existing release at the destination is replaced only
    /// after the new one is complete.
    pub fn commit(mut self) -> Result<PathBuf> {
        // The previous release steps aside under a hidden name of this process's own (never a
        // name a user's folder could have, such as `release.previous`).
        let name = self.destination.file_name().map_or_else(|| "release".into(), |n| n.to_string_lossy().into_owned());
        let old = self.staging.with_file_name(format!(".{name}.previous-{}", std::process::id()));
        if self.destination.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io(&old))?;
            }
            std::fs::rename(&self.destination, &old).map_err(io(&self.destination))?;
            // Marked, so that a run killed before the removal below leaves a recognizable folder.
            mark_leftover(&old).map_err(io(&old))?;
        }
        let marker = self.staging.join(LEFTOVER_MARKER);
        std::fs::remove_file(&marker).map_err(io(&marker))?;
        set_mode(&self.staging, folder_mode(self.file_mode)).map_err(io(&self.staging))?;
        std::fs::rename(&self.staging, &self.destination).map_err(io(&self.staging))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        self.committed = true;
        Ok(self.destination.clone())
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("release");
        {
            let release = Release::begin(&out).unwrap();
            release.write_text("a.txt", "x").unwrap();
            assert!(!out.exists());
            // dropped without commit
        }
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "staging folder removed");

        let release = Release::begin(&out).unwrap();
        let df = df!("a" => [1i64, 2, 3]).unwrap();
        release.write_parquet_parts("t.parquet", [Ok(df)]).unwrap();
        release.commit().unwrap();
        let back = ParquetReader::new(std::fs::File::open(out.join("t.parquet")).unwrap()).finish().unwrap();
        assert_eq!(back.height(), 3);

        // Parts are written in order into one file.
        let release = Release::begin(&out).unwrap();
        let parts = [df!("a" => [1i64, 2]), df!("a" => Vec::<i64>::new()), df!("a" => [3i64])];
        assert_eq!(release.write_parquet_parts("p.parquet", parts).unwrap(), 3);
        let back = ParquetReader::new(std::fs::File::open(release.path("p.parquet")).unwrap()).finish().unwrap();
        assert_eq!(back.column("a").unwrap().i64().unwrap().iter().flatten().collect::<Vec<_>>(), [1, 2, 3]);
        drop(release);

        // A second release replaces the first whole.
        let release = Release::begin(&out).unwrap();
        release.write_text("b.txt", "y").unwrap();
        release.commit().unwrap();
        assert!(out.join("b.txt").exists());
        assert!(!out.join("t.parquet").exists());
    }
}
