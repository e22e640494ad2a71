//! The run ledger (`[records] ledger`, issue 16): every run appends one chained line, released,
//! refused or failed; `tokumei ledger verify` finds tampering.

use std::process::Command;

use crate::common::Workspace;
use tokumei::Status;

fn with_ledger(ws: &Workspace, profile: &str) {
    let path = ws.path(&format!("configs/{profile}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[records]\nledger = \"../records/ledger.jsonl\"\n")).unwrap();
}

fn lines(ws: &Workspace) -> Vec<serde_json::Value> {
    std::fs::read_to_string(ws.path("records/ledger.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(ws: &Workspace, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["ledger", "verify", ws.path("records/ledger.jsonl").to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_run_appends_a_chained_line_with_its_digests_and_counts() {
    let ws = Workspace::generate(300, 41);
    with_ledger(&ws, "anonymized");
    with_ledger(&ws, "pseudonymized");
    let released = ws.run("anonymized", "out/a");
    assert_eq!(released.status, Status::Released);
    // A refusal: a privacy target no suppression limit can meet.
    let strict = ws.path("configs/anonymized.toml");
    let text = std::fs::read_to_string(&strict).unwrap();
    std::fs::write(&strict, text.replace("k = 5", "k = 100000")).unwrap();
    assert!(matches!(ws.run("anonymized", "out/b").status, Status::Refused(_)));
    std::fs::write(&strict, text).unwrap();
    // A failure: an input that is not there.
    std::fs::remove_file(ws.path("datasets/sample/charts.csv")).unwrap();
    let plan = ws.plan("pseudonymized");
    assert!(tokumei::run(&plan, &tokumei::RunOptions { out: Some(ws.path("out/c")), ..Default::default() }).is_err());

    let entries = lines(&ws);
    assert_eq!(entries.len(), 3);
    let statuses: Vec<&str> = entries.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses[0], "released");
    assert!(statuses[1].starts_with("refused: privacy target not met"), "{statuses:?}");
    assert!(statuses[2].starts_with("failed: ") && statuses[2].contains("charts.csv"), "{statuses:?}");
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], i as u64 + 1);
        assert!(entry["time"].as_str().unwrap().ends_with('Z') && !entry["user"].as_str().unwrap().is_empty());
        assert!(!entry["host"].as_str().unwrap().is_empty());
        assert!(entry["inputs"].as_array().unwrap().iter().any(|d| d["name"] == "config"), "{entry}");
    }
    // The released line: the report's counts, and the digest of every file in the release.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/a/report.json")).unwrap()).unwrap();
    let written: u64 = report["accounting"].as_array().unwrap().iter().map(|a| a["written"].as_u64().unwrap()).sum();
    assert_eq!(entries[0]["counts"]["written"], written);
    assert_eq!(entries[0]["counts"]["persons"], report["stages"]["linkage"]["persons"]);
    for file in std::fs::read_dir(ws.path("out/a")).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let digest = blake3::hash(&std::fs::read(&path).unwrap()).to_hex().to_string();
        let listed =
            entries[0]["outputs"].as_array().unwrap().iter().any(|d| d["name"] == name && d["blake3"] == digest);
        assert!(listed, "{name} not in the ledger with its digest");
    }
    // The refused line names the refusal report it wrote; nothing of the data.
    assert!(entries[1]["outputs"].as_array().unwrap().iter().any(|d| d["name"] == "report.json"));
    let (code, stdout, stderr) = verify(&ws, &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("3 lines, intact"), "{stderr}");
}

#[test]
fn ledger_verify_names_the_tampered_line_and_a_cut_ledger_stops_the_next_run() {
    let ws = Workspace::generate(200, 42);
    with_ledger(&ws, "pseudonymized");
    for out in ["out/1", "out/2", "out/3"] {
        assert_eq!(ws.run("pseudonymized", out).status, Status::Released);
    }
    let (code, _, stderr) = verify(&ws, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let head = stderr.trim().rsplit(' ').next().unwrap().to_string();
    let path = ws.path("records/ledger.jsonl");
    let original = std::fs::read_to_string(&path).unwrap();
    // An edited count on line 1.
    let line1 = original.lines().next().unwrap();
    let edited = line1.replacen("\"written\":", "\"written\":1", 1);
    std::fs::write(&path, original.replacen(line1, &edited, 1)).unwrap();
    let (code, stdout, _) = verify(&ws, &[]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("line 2: does not chain to line 1"), "{stdout}");
    // The last line removed: only the kept head shows it.
    let kept: Vec<&str> = original.lines().take(2).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    assert_eq!(verify(&ws, &[]).0, Some(0));
    let (code, stdout, _) = verify(&ws, &["--head", &head]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("line 2: the last line is not the head kept"), "{stdout}");
    // Cut short: the next run stops before any work, with the reason; nothing is released.
    std::fs::write(&path, &original[..original.len() - 5]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["run", "--config", ws.path("configs/pseudonymized.toml").to_str().unwrap()])
        .args(["--out", ws.path("out/4").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3") && stderr.contains("cut short"), "{stderr}");
    assert!(!ws.path("out/4").exists());
    let (code, stdout, _) = verify(&ws, &[]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("line 3: cut short"), "{stdout}");
}
