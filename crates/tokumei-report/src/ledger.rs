//! The run ledger: one JSON line per run, released or refused, each carrying the blake3 of the
//! line before it, so that an edited, removed, reordered or cut-short line shows.
//!
//! A line holds what a run read and wrote by digest, its counts and its status — never a value of
//! the data, never a key. Appending takes an exclusive lock on the file (two runs at once append
//! one after the other), writes the whole line in one write and syncs it.
//!
//! What the chain proves: every line was written after the one before it, unchanged since. A
//! removed *last* line leaves a valid chain; [`verify`] with the head a reader kept (`--head`,
//! printed by every verification) shows that too.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::RunReport;

/// The `previous` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why the ledger cannot be appended to or read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// File system.
    #[error("ledger {path}: {source}")]
    Io {
        /// The ledger.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Its last line is not whole: appending would chain to a line that cannot be verified.
    #[error(
        "ledger {path}: line {line}, its last, is cut short; no run appends to it until it is repaired \
         (`tokumei ledger verify {path}` tells more)"
    )]
    CutShort {
        /// The ledger.
        path: String,
        /// The line.
        line: usize,
    },
}

/// Counts of one run, over all its tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Rows read.
    pub rows: u64,
    /// Persons found by linkage.
    pub persons: u64,
    /// Rows removed by opt-out.
    pub opted_out: u64,
    /// Rows quarantined at ingest.
    pub quarantined: u64,
    /// Rows suppressed by the privacy model.
    pub suppressed: u64,
    /// Rows written.
    pub written: u64,
}

/// A file by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// What it is (`config`, `input:<table>`, `opt-out`) or its name in the release.
    pub name: String,
    /// blake3, hex.
    pub blake3: String,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the first line, then one more per line.
    pub seq: u64,
    /// When the run ended, UTC (`2026-12-02T00:18:12Z`).
    pub time: String,
    /// The OS user who ran it.
    pub user: String,
    /// The machine.
    pub host: String,
    /// tokumei version.
    pub tokumei_version: String,
    /// Profile.
    pub profile: String,
    /// Release label.
    pub label: String,
    /// `released`, `refused: <reason>` or `failed: <error>` (one line, never a value).
    pub status: String,
    /// Config, inputs and opt-out lists, by digest.
    pub inputs: Vec<Digest>,
    /// The files written (the release's, or the refusal report), by digest.
    pub outputs: Vec<Digest>,
    /// Counts.
    pub counts: Counts,
    /// blake3 of the previous line (without its line break); [`GENESIS`] for the first.
    pub previous: String,
}

/// Who ran where, when: the fields of an entry that do not come from the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// UTC time.
    pub time: String,
    /// OS user.
    pub user: String,
    /// Host name.
    pub host: String,
}

impl Context {
    /// This process's user and host, now.
    pub fn now() -> Context {
        let seconds =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Context { time: utc(seconds), user: os_user(), host: host_name() }
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

fn os_user() -> String {
    for name in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(user) = std::env::var(name)
            && !user.is_empty()
        {
            return user;
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        format!("uid {}", unsafe { libc::getuid() })
    }
    #[cfg(not(unix))]
    {
        "unknown".into()
    }
}

fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is writable for its whole length; gethostname writes at most that.
        if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0 {
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            return String::from_utf8_lossy(&buffer[..end]).into_owned();
        }
    }
    std::env::var("HOSTNAME").or_else(|_| std::env::var("COMPUTERNAME")).unwrap_or_else(|_| "unknown".into())
}

impl Entry {
    /// The entry of a run that produced `report` (released or refused), with the digests of the
    /// files it wrote (`written`: name and path).
    pub fn of_run(report: &RunReport, persons: u64, written: &[(String, PathBuf)], context: &Context) -> Entry {
        let sum = |f: fn(&crate::TableAccount) -> u64| report.accounting.iter().map(f).sum();
        let mut outputs: Vec<Digest> =
            report.outputs.iter().map(|o| Digest { name: o.file.clone(), blake3: o.blake3.clone() }).collect();
        for (name, path) in written {
            if let Ok(blake3) = crate::digest_file(path) {
                outputs.push(Digest { name: name.clone(), blake3 });
            }
        }
        Entry {
            seq: 0,
            time: context.time.clone(),
            user: context.user.clone(),
            host: context.host.clone(),
            tokumei_version: report.tokumei_version.clone(),
            profile: report.profile.clone(),
            label: report.label.clone(),
            status: report.status.clone(),
            inputs: report.inputs.iter().map(|i| Digest { name: i.kind.clone(), blake3: i.blake3.clone() }).collect(),
            outputs,
            counts: Counts {
                rows: sum(|a| a.rows_read),
                persons,
                opted_out: sum(|a| a.opted_out),
                quarantined: sum(|a| a.quarantined),
                suppressed: sum(|a| a.suppressed),
                written: sum(|a| a.written),
            },
            previous: String::new(),
        }
    }

    /// The entry of a run that failed before it had a report.
    pub fn of_failure(profile: &str, label: &str, inputs: Vec<Digest>, error: &str, context: &Context) -> Entry {
        Entry {
            seq: 0,
            time: context.time.clone(),
            user: context.user.clone(),
            host: context.host.clone(),
            tokumei_version: env!("CARGO_PKG_VERSION").to_string(),
            profile: profile.to_string(),
            label: label.to_string(),
            status: format!("failed: {}", error.lines().next().unwrap_or_default()),
            inputs,
            outputs: Vec::new(),
            counts: Counts::default(),
            previous: String::new(),
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io { path: path.display().to_string(), source }
}

/// The last line of `text` and how many lines there are, or an error if the last is cut short.
fn tail(path: &Path, text: &str) -> Result<(Option<String>, u64), LedgerError> {
    if text.is_empty() {
        return Ok((None, 0));
    }
    let lines = text.split_terminator('\n').count();
    if !text.ends_with('\n') {
        return Err(LedgerError::CutShort { path: path.display().to_string(), line: lines });
    }
    let last = text.trim_end_matches('\n').rsplit('\n').next().unwrap_or_default();
    Ok((Some(last.to_string()), lines as u64))
}

/// Checks that a run could append to the ledger at `path` (it exists and ends with a whole line,
/// or it can be created), before the run does any work.
pub fn check_appendable(path: &Path) -> Result<(), LedgerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(path))?;
    }
    match std::fs::read_to_string(path) {
        Ok(text) => tail(path, &text).map(|_| ()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Appends `entry` (its `seq` and `previous` filled in here) under an exclusive lock; returns the
/// line written.
pub fn append(path: &Path, mut entry: Entry) -> Result<String, LedgerError> {
    let mut file = open_for_append(path)?;
    file.lock().map_err(io(path))?;
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).map_err(io(path))?;
    file.read_to_string(&mut text).map_err(io(path))?;
    let (last, lines) = tail(path, &text)?;
    entry.seq = lines + 1;
    entry.previous = last.map_or_else(|| GENESIS.to_string(), |l| blake3::hash(l.as_bytes()).to_hex().to_string());
    let line = serde_json::to_string(&entry).expect("an entry serializes");
    file.seek(SeekFrom::End(0)).map_err(io(path))?;
    file.write_all(format!("{line}\n").as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    file.unlock().map_err(io(path))?;
    Ok(line)
}

fn open_for_append(path: &Path) -> Result<File, LedgerError> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io(path))
}

/// What is wrong with one line of a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Line number (1-based).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// A ledger's verification: the lines read, the head (blake3 of the last line), what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Lines read.
    pub lines: usize,
    /// blake3 of the last whole line: keep it, and a later `--head` check shows removed lines.
    pub head: Option<String>,
    /// What is wrong, by line; empty when the ledger is intact.
    pub findings: Vec<Finding>,
}

/// Verifies the chain of the ledger at `path`; with `head`, also that its last line is the one
/// whose digest a reader kept (lines removed from the end show only so).
pub fn verify(path: &Path, head: Option<&str>) -> Result<Verification, LedgerError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let mut findings = Vec::new();
    let mut previous_hash = GENESIS.to_string();
    let mut previous_seq = 0u64;
    let mut head_hash = None;
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    // A last line without its line break was cut short, even if what is left still parses.
    let cut = !text.is_empty() && !text.ends_with('\n');
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        let mut finding = |problem: String| findings.push(Finding { line: number, problem });
        let hash = blake3::hash(line.as_bytes()).to_hex().to_string();
        match serde_json::from_str::<Entry>(line) {
            _ if cut && number == lines.len() => finding("cut short (the file ends inside it)".into()),
            Err(_) => finding("not a ledger entry (edited, or not written by tokumei)".into()),
            Ok(entry) => {
                if entry.seq != previous_seq + 1 {
                    finding(if entry.seq <= previous_seq {
                        format!("seq {} after {previous_seq}: lines reordered, or one copied", entry.seq)
                    } else {
                        format!(
                            "seq {} after {previous_seq}: {} line(s) removed before it",
                            entry.seq,
                            entry.seq - previous_seq - 1
                        )
                    });
                } else if entry.previous != previous_hash {
                    let before = number.saturating_sub(1);
                    finding(format!("does not chain to line {before}: line {before} was edited (or replaced)"));
                }
                previous_seq = entry.seq;
            }
        }
        previous_hash = hash.clone();
        head_hash = Some(hash);
    }
    if let Some(expected) = head
        && head_hash.as_deref() != Some(expected)
    {
        let at = lines.len();
        findings.push(Finding {
            line: at,
            problem: format!(
                "the last line is not the head kept ({expected}): lines removed from the end, or the last one edited"
            ),
        });
    }
    Ok(Verification { lines: lines.len(), head: head_hash, findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str) -> Entry {
        let context = Context { time: utc(1_764_634_692), user: "clerk".into(), host: "h".into() };
        Entry::of_failure("anonymized", label, Vec::new(), "x", &context)
    }

    #[test]
    fn utc_matches_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_169_599), "2026-12-01T23:59:59Z");
        assert_eq!(utc(1_764_634_692), "2025-12-02T00:18:12Z");
    }

    #[test]
    fn an_intact_ledger_verifies_and_each_tampering_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        for label in ["a", "b", "c", "d"] {
            append(&path, entry(label)).unwrap();
        }
        let intact = verify(&path, None).unwrap();
        assert_eq!((intact.lines, intact.findings.len()), (4, 0), "{intact:?}");
        let head = intact.head.clone().unwrap();
        assert!(verify(&path, Some(&head)).unwrap().findings.is_empty());
        let original = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = original.lines().collect();
        let check = |text: String, head: Option<&str>| {
            std::fs::write(&path, text).unwrap();
            verify(&path, head).unwrap().findings
        };
        // Edited: line 2's label; line 3 no longer chains to it.
        let edited = original.replacen("\"label\":\"b\"", "\"label\":\"B\"", 1);
        let findings = check(edited, None);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].line, 3);
        assert!(findings[0].problem.contains("line 2 was edited"), "{findings:?}");
        // Removed: line 2.
        let findings = check(format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]), None);
        assert_eq!((findings[0].line, findings.len()), (2, 1), "{findings:?}");
        assert!(findings[0].problem.contains("1 line(s) removed"), "{findings:?}");
        // Reordered: lines 3 and 4 swapped.
        let findings = check(format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[3], lines[2]), None);
        assert!(findings.iter().any(|f| f.line == 4 && f.problem.contains("reordered")), "{findings:?}");
        // Cut short: the file ends inside line 4, or just before its line break.
        let findings = check(original[..original.len() - 10].to_string(), None);
        assert_eq!(findings, vec![Finding { line: 4, problem: "cut short (the file ends inside it)".into() }]);
        let findings = check(original[..original.len() - 1].to_string(), None);
        assert_eq!(findings, vec![Finding { line: 4, problem: "cut short (the file ends inside it)".into() }]);
        assert!(matches!(check_appendable(&path), Err(LedgerError::CutShort { line: 4, .. })));
        assert!(matches!(append(&path, entry("e")), Err(LedgerError::CutShort { .. })));
        // The last line removed: the chain holds, the kept head does not.
        assert!(check(format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]), None).is_empty());
        let findings = check(format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]), Some(&head));
        assert!(findings[0].problem.contains("removed from the end"), "{findings:?}");
        // Not an entry at all.
        let findings = check(format!("{}\nhello\n{}\n", lines[0], lines[1]), None);
        assert!(findings.iter().any(|f| f.line == 2 && f.problem.contains("not a ledger entry")), "{findings:?}");
        // Restored: intact again.
        assert!(check(original, Some(&head)).is_empty());
    }

    #[test]
    fn runs_at_once_append_whole_lines_in_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..10 {
                        append(path, entry(&format!("{t}-{i}"))).unwrap();
                    }
                });
            }
        });
        let verified = verify(&path, None).unwrap();
        assert_eq!((verified.lines, verified.findings.len()), (80, 0), "{verified:?}");
    }
}
