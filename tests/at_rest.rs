//! Personal data at rest (issue 13): what a run leaves on disk — by design, or when it is killed —
//! is readable by its owner only, holds no name, kana, card number, My Number, address or phone
//! number, stages nothing unencrypted, and is removed by the next run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokumei::Status;
use tokumei::core::normalize::{digits_key, kana_key, kanji_key};

use crate::common::{Workspace, read_csv};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every spelling of the inputs' names, kana names, card numbers, My Numbers, street addresses
/// and phone numbers that the normalizers produce (only those long enough not to occur by
/// chance, or in a release that keeps an address's prefecture).
fn identifiers(ws: &Workspace) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (file, encoding) in [
        ("checkups.csv", encoding_rs::SHIFT_JIS),
        ("dispensing.csv", encoding_rs::UTF_8),
        ("charts.csv", encoding_rs::UTF_8),
    ] {
        let (headers, rows) = read_csv(&ws.path(&format!("datasets/sample/{file}")), encoding);
        let digits: fn(&str) -> String = |s| digits_key(s).unwrap_or_default();
        let forms: [(&str, fn(&str) -> String); 6] = [
            ("氏名", kanji_key),
            ("カナ氏名", kana_key),
            ("被保険者証番号", digits),
            ("個人番号", digits),
            ("住所", kanji_key),
            ("電話番号", digits),
        ];
        for (header, form) in forms {
            let Some(column) = headers.iter().position(|h| h == header) else { continue };
            for (_, row) in &rows {
                let value = row[column].trim();
                let spellings = [value.to_string(), form(value)];
                // Long enough not to occur by chance: numbers of 7 digits or more, names of 4
                // characters or more, addresses of 10 or more (down to the street).
                let shortest = if header == "住所" { 10 } else { 4 };
                let long = |s: &String| {
                    let n = s.chars().count();
                    if s.chars().all(|c| c.is_ascii_digit()) { n >= 7 } else { n >= shortest }
                };
                found.extend(spellings.into_iter().filter(long));
            }
        }
    }
    found
}

/// Identifier spellings found in the bytes of any file under `dir` (one multi-pattern pass per
/// file). A number counts only where it stands alone, not inside a longer code or number.
fn leaked(dir: &Path, identifiers: &BTreeSet<String>) -> Vec<(PathBuf, String)> {
    let patterns: Vec<&String> = identifiers.iter().collect();
    let matcher = aho_corasick::AhoCorasick::new(&patterns).unwrap();
    let mut out = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for hit in matcher.find_overlapping_iter(&bytes) {
            let id = patterns[hit.pattern().as_usize()];
            let digit = |at: Option<&u8>| at.is_some_and(u8::is_ascii_digit);
            let alone = !id.bytes().all(|b| b.is_ascii_digit())
                || !(hit.start() > 0 && digit(bytes.get(hit.start() - 1))) && !digit(bytes.get(hit.end()));
            if alone {
                out.push((file.clone(), format!("{} characters", id.chars().count())));
                break;
            }
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn releases_are_readable_by_their_owner_only() {
    let ws = Workspace::generate(300, 40);
    let outcome = ws.run("pseudonymized", "out/p");
    assert_eq!(outcome.status, Status::Released);
    assert_eq!(mode(&ws.path("out/p")), 0o700);
    for file in files_under(&ws.path("out/p")) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    // `release.mode` lets a group read; never write, never execute.
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replacen("[release]\n", "[release]\nmode = \"0640\"\n", 1)).unwrap();
    assert_eq!(ws.run("pseudonymized", "out/g").status, Status::Released);
    assert_eq!(mode(&ws.path("out/g")), 0o750);
    for file in files_under(&ws.path("out/g")) {
        assert_eq!(mode(&file), 0o640, "{}", file.display());
    }
    for bad in ["0660", "0644x", "0700", "0400"] {
        std::fs::write(&config, text.replacen("[release]\n", &format!("[release]\nmode = \"{bad}\"\n"), 1)).unwrap();
        let err = tokumei::config::Plan::load(&config).expect_err(bad).to_string();
        assert!(err.contains("release.mode"), "{bad}: {err}");
    }
}

/// Killed outright during ingest, staging, the privacy search or writing: what is left holds no
/// name, kana, card number or My Number, is readable by its owner only, and the next run removes it.
#[test]
fn a_killed_run_leaves_nothing_readable_and_the_next_run_removes_it() {
    let ws = Workspace::generate(40_000, 41);
    let ids = identifiers(&ws);
    assert!(ids.len() > 10_000);
    let config = ws.path("configs/anonymized.toml");
    let out = ws.path("out/a");
    let mut left = 0;
    let mut staged = 0;
    for delay in [300, 1_000, 2_500, 4_500] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokumei"))
            .args(["-q", "run", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let parent = ws.path("out");
        assert_eq!(leaked(&parent, &ids), Vec::<(PathBuf, String)>::new(), "killed after {delay} ms");
        #[cfg(unix)]
        for file in files_under(&parent) {
            assert_eq!(mode(&file) & 0o077, 0, "{} is readable by others", file.display());
        }
        // Whatever was staged is encrypted: no Parquet, no column name, in any work file.
        for file in files_under(&parent).iter().filter(|f| in_work_folder(f)) {
            let bytes = std::fs::read(file).unwrap();
            if file.file_name().is_some_and(|n| n == tokumei::report::LEFTOVER_MARKER) {
                continue;
            }
            assert!(bytes.is_empty() || bytes.starts_with(b"tokumei\x01"), "{} is not encrypted", file.display());
            for plain in [&b"PAR1"[..], "生年月日".as_bytes(), "住所".as_bytes(), b"__order"] {
                assert!(!bytes.windows(plain.len()).any(|w| w == plain), "{} holds plaintext", file.display());
            }
            staged += 1;
        }
        left += std::fs::read_dir(&parent).map_or(0, |d| d.count());
    }
    assert!(left > 0, "some kill left a scratch folder behind");
    assert!(staged > 0, "some kill left staged files to look at");
    // The next run removes what the killed ones left, and says so.
    let outcome = ws.run("anonymized", "out/a");
    assert_eq!(outcome.status, Status::Released);
    assert!(outcome.warnings.iter().any(|w| w.contains("left by interrupted tokumei runs")), "{:?}", outcome.warnings);
    let names: Vec<String> = std::fs::read_dir(ws.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a"], "only the release is left");
}

fn in_work_folder(file: &Path) -> bool {
    file.ancestors().any(|a| a.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".tokumei-work-")))
}

#[test]
fn clean_removes_only_tokumei_scratch_of_ended_runs() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join(".tokumei-work-x");
    std::fs::create_dir(&scratch).unwrap();
    std::fs::write(scratch.join(tokumei::report::LEFTOVER_MARKER), "tokumei scratch folder of process 4194304")
        .unwrap();
    let mine = dir.path().join(".cache");
    std::fs::create_dir(&mine).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_tokumei")).args(["clean", dir.path().to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 1 folder(s)"));
    assert!(!scratch.exists() && mine.exists());
}
