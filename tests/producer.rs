//! The certified producer's side (issue 15, first part): a token key the producer issues, with
//! which every provider keys its submission's tokens, so that the producer can link them.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{Workspace, read_parquet, text_column};
use tokumei::link::MasterKey;
use tokumei::{EVIDENCE_TOKEN_COLUMNS, Status, TOKEN_COLUMNS};

/// Every token value of a submission's tables, per token column.
fn tokens(ws: &Workspace, out: &str) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for table in ["charts", "dispensing", "checkups"] {
        let frame = read_parquet(&ws.path(&format!("{out}/{table}.parquet")));
        for column in TOKEN_COLUMNS.iter().map(|(name, _)| *name).chain(EVIDENCE_TOKEN_COLUMNS) {
            for value in text_column(&frame, column).into_iter().flatten() {
                all.insert((column.to_string(), value));
            }
        }
    }
    all
}

#[test]
fn providers_with_their_own_keys_and_the_producers_token_key_give_the_same_tokens() {
    let ws = Workspace::generate(400, 21);
    let token_path = ws.path("configs/keys/DEMO-ONLY-producer-token.key");
    let token_text = std::fs::read_to_string(&token_path).unwrap();
    assert_eq!(ws.run("submission", "out/hospital").status, Status::Released);
    let hospital = tokens(&ws, "out/hospital");
    assert!(hospital.len() > 400, "{} tokens", hospital.len());
    // Address evidence travels as tokens: streets (many) and prefectures (few), never as text.
    let count = |column: &str| hospital.iter().filter(|(c, _)| c == column).count();
    assert!(count("token_address") > 100, "{} street tokens", count("token_address"));
    assert!((1..=47).contains(&count("token_prefecture")), "{} prefecture tokens", count("token_prefecture"));
    // Another provider: its own master key, the same token key.
    std::fs::write(ws.path("configs/keys/DEMO-ONLY-sample.key"), format!("{}\n", "5a".repeat(32))).unwrap();
    assert_eq!(ws.run("submission", "out/pharmacy").status, Status::Released);
    assert_eq!(tokens(&ws, "out/pharmacy"), hospital, "one producer's token key: the same person, the same tokens");
    // Another producer's token key: nothing in common.
    std::fs::write(&token_path, format!("{}\n", "c3".repeat(32))).unwrap();
    assert_eq!(ws.run("submission", "out/elsewhere").status, Status::Released);
    let elsewhere: BTreeSet<String> = tokens(&ws, "out/elsewhere").into_iter().map(|(_, v)| v).collect();
    assert!(hospital.iter().all(|(_, v)| !elsewhere.contains(v)));
    // The report and the provision record carry the token key's fingerprint, never the key.
    std::fs::write(&token_path, &token_text).unwrap();
    let fingerprint = MasterKey::from_file(&token_path).unwrap().fingerprint();
    let key_hex = token_text.lines().find(|l| !l.starts_with('#')).unwrap().trim().to_string();
    for file in ["report.json", "report.md", "report.html", "provision_record.json"] {
        let text = std::fs::read_to_string(ws.path(&format!("out/hospital/{file}"))).unwrap();
        assert!(text.contains(&fingerprint), "{file} names the token key by its fingerprint");
        assert!(!text.contains(&key_hex), "{file} holds the token key");
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/hospital/provision_record.json")).unwrap()).unwrap();
    assert_eq!(record["token_key_fingerprint"], fingerprint.as_str());
}

#[test]
fn a_submission_needs_the_producers_token_key_and_nothing_else_takes_one() {
    let ws = Workspace::generate(50, 22);
    let submission = ws.path("configs/submission.toml");
    let text = std::fs::read_to_string(&submission).unwrap();
    std::fs::write(&submission, text.replace("token = \"keys/DEMO-ONLY-producer-token.key\"", "")).unwrap();
    let err = tokumei::config::Plan::load(&submission).unwrap_err().to_string();
    assert!(err.contains("key.token") && err.contains("tokumei keygen --token-key"), "{err}");
    let pseudonymized = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&pseudonymized).unwrap();
    let with_token = text.replace(
        "file = \"keys/DEMO-ONLY-sample.key\"",
        "file = \"keys/DEMO-ONLY-sample.key\"\ntoken = \"keys/DEMO-ONLY-producer-token.key\"",
    );
    assert_ne!(with_token, text);
    std::fs::write(&pseudonymized, with_token).unwrap();
    let err = tokumei::config::Plan::load(&pseudonymized).unwrap_err().to_string();
    assert!(err.contains("key.token") && err.contains("writes none and reads none"), "{err}");
}

#[test]
fn keygen_writes_a_token_key_and_prints_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.key");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap();
    let out = run(&["keygen", "--token-key", "--out", path.to_str().unwrap()]);
    assert!(out.status.success());
    let key = MasterKey::from_file(&path).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&key.fingerprint()), "{stderr}");
    assert!(std::fs::read_to_string(&path).unwrap().contains("token key of a certified producer"));
    assert!(!MasterKey::file_is_exposed(&path), "readable by its owner only");
    let again = run(&["keygen", "--token-key", "--out", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "an existing key is never overwritten");
    assert_eq!(MasterKey::from_file(&path).unwrap().fingerprint(), key.fingerprint());
    let both = run(&["keygen", "--token-key", "--age", "--out", dir.path().join("x").to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(2), "--age and --token-key are two different keys");
}

/// The producer opens a submission only whole, unchanged and keyed with its token key; each
/// refusal names the folder and, once known, the provider.
#[test]
fn a_submission_opens_only_whole_and_keyed_for_this_producer() {
    use tokumei::report::submission::{SubmissionError, open_submission};
    let ws = Workspace::generate(200, 23);
    assert_eq!(ws.run("submission", "out/s").status, Status::Released);
    let fingerprint =
        MasterKey::from_file(&ws.path("configs/keys/DEMO-ONLY-producer-token.key")).unwrap().fingerprint();
    let folder = ws.path("out/s");
    let opened = open_submission(&folder, &fingerprint).unwrap();
    assert_eq!(opened.provider, ws.plan("submission").provider.unwrap());
    let tables: Vec<&str> = opened.tables.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tables, ["charts", "checkups", "dispensing"]);
    // Another producer's key: refused, naming the provider.
    match open_submission(&folder, &"0".repeat(32)) {
        Err(e @ SubmissionError::WrongTokenKey { .. }) => assert!(e.to_string().contains(&opened.provider), "{e}"),
        other => panic!("{other:?}"),
    }
    // A changed table, or a file the report does not list: refused.
    let charts = folder.join("charts.parquet");
    let original = std::fs::read(&charts).unwrap();
    let mut changed = original.clone();
    changed[original.len() / 2] ^= 1;
    std::fs::write(&charts, &changed).unwrap();
    let err = open_submission(&folder, &fingerprint).unwrap_err().to_string();
    assert!(err.contains("charts.parquet") && err.contains("changed"), "{err}");
    std::fs::write(&charts, &original).unwrap();
    std::fs::write(folder.join("extra.csv"), "x\n").unwrap();
    let err = open_submission(&folder, &fingerprint).unwrap_err().to_string();
    assert!(err.contains("extra.csv"), "{err}");
    std::fs::remove_file(folder.join("extra.csv")).unwrap();
    assert!(open_submission(&folder, &fingerprint).is_ok());
    // A release of another profile is not a submission.
    assert_eq!(ws.run("pseudonymized", "out/p").status, Status::Released);
    assert!(matches!(open_submission(&ws.path("out/p"), &fingerprint), Err(SubmissionError::NotASubmission { .. })));
}

#[test]
fn check_says_when_the_token_key_file_is_missing() {
    let ws = Workspace::generate(30, 24);
    std::fs::remove_file(ws.path("configs/keys/DEMO-ONLY-producer-token.key")).unwrap();
    let config = ws.path("configs/submission.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("token key file") && stderr.contains("tokumei keygen --token-key"), "{stderr}");
}
