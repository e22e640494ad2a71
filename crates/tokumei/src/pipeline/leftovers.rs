//! Leftovers of interrupted runs: a run killed outright (power cut, out-of-memory kill) cannot
//! clean up after itself, so the next run in the same folder — or `tokumei clean DIR` — does.
//!
//! A folder is tokumei's leftover when it holds [`LEFTOVER_MARKER`] naming a process that is no
//! longer running: a run's work folder (`.tokumei-work-…`), a partial release (`.X.partial-PID`)
//! or a previous release stepped aside during a commit (`.X.previous-PID`). Nothing else is ever
//! removed: not a folder without the marker, not one whose process still runs.

use std::path::{Path, PathBuf};

use tokumei_report::LEFTOVER_MARKER;

/// The process id a marker names, if it names one.
fn marked_pid(folder: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(folder.join(LEFTOVER_MARKER)).ok()?;
    text.split_whitespace().last()?.parse().ok()
}

/// Whether process `pid` still runs (Linux: `/proc/<pid>`; elsewhere assumed running unless it
/// is this process's own id, which cannot be a leftover of another run).
fn running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// Removes the leftovers of interrupted runs directly inside `dir`; returns what was removed.
pub fn clean(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    let mut folders: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    folders.sort();
    for folder in folders {
        if marked_pid(&folder).is_some_and(|pid| !running(pid)) {
            std::fs::remove_dir_all(&folder)?;
            removed.push(folder);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_folders_of_ended_processes_go() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, marker: Option<&str>| {
            let path = dir.path().join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("data.parquet"), "x").unwrap();
            if let Some(text) = marker {
                std::fs::write(path.join(LEFTOVER_MARKER), text).unwrap();
            }
            path
        };
        // pid 4194304 is above Linux's pid_max: never running.
        let dead = make(".tokumei-work-abc", Some("tokumei scratch folder of process 4194304"));
        let alive = make(".out.partial-1", Some(&format!("tokumei scratch folder of process {}", std::process::id())));
        let unmarked = make(".mine", None);
        let visible = make("results", Some("tokumei scratch folder of process 4194304"));
        let removed = clean(dir.path()).unwrap();
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && alive.exists() && unmarked.exists() && visible.exists());
    }
}
