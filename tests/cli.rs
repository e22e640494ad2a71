//! The command line: exit codes, messages, help.

use std::process::Command;

use crate::common::Workspace;

fn tokumei(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, stdout, _) = tokumei(&["--help"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
}

#[test]
fn check_exit_codes() {
    let ws = Workspace::generate(50, 1);
    let config = ws.path("configs/anonymized.toml");
    let (code, _, stderr) = tokumei(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("k = 5", "k = 1")).unwrap();
    let (code, _, stderr) = tokumei(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no privacy model"), "{stderr}");
    let (code, _, stderr) = tokumei(&["check", "--config", "/nonexistent/x.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: cannot read /nonexistent/x.toml"), "{stderr}");
}

#[test]
fn run_writes_a_release_and_bad_input_exits_2() {
    let ws = Workspace::generate(200, 2);
    let config = ws.path("configs/pseudonymized.toml");
    let out = ws.path("release");
    let (code, stdout, stderr) =
        tokumei(&["run", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "data and logs never go to stdout");
    assert!(out.join("report.md").exists());
    // A ragged row: error naming file and line, exit 2, nothing written.
    let charts = ws.path("datasets/sample/charts.csv");
    let mut text = std::fs::read_to_string(&charts).unwrap();
    text.push_str("1,2,3\n");
    std::fs::write(&charts, &text).unwrap();
    let out2 = ws.path("release2");
    let (code, _, stderr) = tokumei(&["run", "--config", config.to_str().unwrap(), "--out", out2.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("charts.csv, line") && stderr.contains("expected 13 fields"), "{stderr}");
    assert!(!out2.exists());
}

#[test]
fn keygen_writes_a_private_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let (code, stdout, _) = tokumei(&["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty(), "the key is never printed");
    let loaded = tokumei::link::MasterKey::from_file(&key).unwrap();
    assert!(!tokumei::link::MasterKey::file_is_exposed(&key));
    let (code, _, _) = tokumei(&["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 2, "an existing key is never overwritten");
    let again = tokumei::link::MasterKey::from_file(&key).unwrap();
    let person = |k: &tokumei::link::MasterKey| *tokumei::link::ReleaseKeys::derive(k, "x").person_pseudonym().bytes();
    assert_eq!(person(&again), person(&loaded), "the key file is unchanged");
}

#[test]
fn synth_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let (code, _, _) = tokumei(&["synth", "--persons", "300", "--seed", "5", "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0);
    }
    for file in ["checkups.csv", "dispensing.csv", "charts.csv", "optout.csv", "truth.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("a").join(file)).unwrap(),
            std::fs::read(dir.path().join("b").join(file)).unwrap(),
            "{file}"
        );
    }
}
