//! Where a release may go: never over what tokumei did not write.
//!
//! A run replaces its output folder wholesale, so before any work the folder must be absent,
//! empty, or a previous tokumei release: a folder whose `report.json` tokumei wrote and that holds
//! nothing but the files that report lists. Anything else — the folder of the raw exports, the
//! current directory, a folder holding the config or the key — is refused (exit 2), and nothing
//! is touched.
//!
//! A refused release (exit 1) writes no data, but its report goes to `<out>.refused/` so that the
//! reasons (line numbers, columns, counts; never values) can be read. That folder is tokumei's
//! too, recognized the same way; a later release removes it.

use std::path::{Path, PathBuf};

use tokumei_config::{KeySource, OptOutList, Plan};
use tokumei_report::{Release, RunReport};

use super::PipelineError;

/// The files a report writes beside the data.
pub(crate) use tokumei_report::REPORT_FILES;

/// `path` made absolute against the current directory, with `.` and `..` folded lexically (the
/// folder need not exist).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let mut joined = PathBuf::new();
    for component in std::path::absolute(path)?.components() {
        match component {
            std::path::Component::ParentDir => {
                joined.pop();
            }
            std::path::Component::CurDir => {}
            other => joined.push(other),
        }
    }
    // Resolve symbolic links of the part that exists, so that two spellings of one folder agree.
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.into_iter().rev());
    Ok(out)
}

/// The files of a folder that a tokumei report there accounts for: `Some(unexpected names)`
/// when the folder holds a report tokumei wrote, `None` when it holds no such report.
fn unexpected_files(dir: &Path) -> Option<Vec<String>> {
    let outputs = tokumei_report::listed_outputs(dir)?;
    let listed: Vec<&str> = outputs.iter().map(|(file, _)| file.as_str()).collect();
    let mut unexpected = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !(is_file && (REPORT_FILES.contains(&name.as_str()) || listed.contains(&name.as_str()))) {
            unexpected.push(name);
        }
    }
    unexpected.sort();
    Some(unexpected)
}

/// Whether `dir` is absent, empty, or a folder tokumei wrote whole (see the module docs).
fn replaceable(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) if dir.exists() => return Err("is not a folder".into()),
        Err(e) => return Err(format!("cannot be read ({})", e.kind())),
    };
    if entries.count() == 0 {
        return Ok(());
    }
    match unexpected_files(dir) {
        Some(unexpected) if unexpected.is_empty() => Ok(()),
        Some(unexpected) => Err(format!(
            "holds files its tokumei report does not list ({}); tokumei replaces only folders it wrote whole",
            shown(&unexpected)
        )),
        None => Err("is not empty and holds no tokumei release (no report.json of tokumei's); choose an empty or new \
                     folder"
            .into()),
    }
}

fn shown(names: &[String]) -> String {
    let mut text: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    if names.len() > 3 {
        text.push(format!("and {} more", names.len() - 3));
    }
    text.join(", ")
}

/// Checks, before any work, that a release may be written to `out`; the error names the
/// folder and why not.
pub(crate) fn check(plan: &Plan, out: &Path) -> Result<(), PipelineError> {
    let refuse = |why: String| PipelineError::Destination(format!("output folder {}: {why}", out.display()));
    let target = absolute(out).map_err(|e| refuse(format!("cannot be resolved ({})", e.kind())))?;
    let here = absolute(Path::new(".")).map_err(|e| refuse(format!("cannot be resolved ({})", e.kind())))?;
    if here.starts_with(&target) {
        return Err(refuse("is the current folder or holds it; a release replaces its folder whole".into()));
    }
    let mut protected: Vec<(&str, PathBuf)> = vec![("the config", plan.config_path.clone())];
    if let KeySource::File(key) = &plan.key {
        protected.push(("the key file", key.clone()));
    }
    for table in &plan.tables {
        protected.push(("an input", table.source.path.clone()));
    }
    for list in &plan.opt_outs {
        protected.push((
            "an opt-out list",
            match &list.list {
                OptOutList::Plain { source, .. } => source.path.clone(),
                OptOutList::Tokens(path) => path.clone(),
            },
        ));
    }
    for (what, path) in &protected {
        let path = absolute(path).map_err(|e| refuse(format!("cannot be resolved ({})", e.kind())))?;
        if path.starts_with(&target) {
            return Err(refuse(format!("holds {what} ({}); write the release elsewhere", path.display())));
        }
        if target.starts_with(&path) {
            return Err(refuse(format!("lies inside {what} ({}); write the release elsewhere", path.display())));
        }
    }
    replaceable(&target).map_err(refuse)?;
    let refused = refused_folder(out);
    if let Err(why) = replaceable(&refused) {
        return Err(PipelineError::Destination(format!(
            "folder {} (where a refused run's report goes): {why}",
            refused.display()
        )));
    }
    Ok(())
}

/// Where the report of a refused run goes: `<out>.refused`.
pub(crate) fn refused_folder(out: &Path) -> PathBuf {
    let name = out.file_name().map_or_else(|| "release".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!("{name}.refused"))
}

/// Writes the report of a refused run to `<out>.refused/` (replacing an earlier one), atomically.
pub(crate) fn write_refusal(out: &Path, report: &RunReport) -> Result<PathBuf, PipelineError> {
    let folder = refused_folder(out);
    let release = Release::begin(&folder)?;
    release.write_text("report.json", &report.to_json().map_err(tokumei_report::Error::Json)?)?;
    release.write_text("report.md", &report.to_markdown())?;
    release.write_text("report.html", &report.to_html())?;
    Ok(release.commit()?)
}

/// Removes the report of an earlier refused run, once a release succeeded (only if tokumei wrote
/// it whole).
pub(crate) fn remove_refusal(out: &Path) {
    let folder = refused_folder(out);
    if folder.exists() && unexpected_files(&folder).is_some_and(|u| u.is_empty()) {
        let _ = std::fs::remove_dir_all(&folder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_absent_or_tokumei_folders_are_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("release");
        assert!(replaceable(&release).is_ok(), "absent");
        std::fs::create_dir(&release).unwrap();
        assert!(replaceable(&release).is_ok(), "empty");
        std::fs::write(release.join("charts.csv"), "x").unwrap();
        assert!(replaceable(&release).unwrap_err().contains("holds no tokumei release"));
        let report = r#"{"tokumei_version": "0.1.0", "outputs": [{"file": "charts.parquet", "blake3": "00"}]}"#;
        std::fs::write(release.join("report.json"), report).unwrap();
        assert!(replaceable(&release).unwrap_err().contains("`charts.csv`"));
        std::fs::remove_file(release.join("charts.csv")).unwrap();
        std::fs::write(release.join("charts.parquet"), "x").unwrap();
        std::fs::write(release.join("report.md"), "x").unwrap();
        assert!(replaceable(&release).is_ok(), "a release tokumei wrote");
        std::fs::create_dir(release.join("raw")).unwrap();
        assert!(replaceable(&release).is_err(), "a folder inside is not tokumei's");
    }

    #[test]
    fn paths_are_compared_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let a = absolute(&dir.path().join("x/../y/./z")).unwrap();
        assert_eq!(a, dir.path().canonicalize().unwrap().join("y/z"));
    }
}
