//! `tokumei anonymize` on the field's reference table (UCI Adult with ARX hierarchies).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn adult() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/adult")
}

const QIS: &str = "sex,age,race,marital-status,education,native-country,workclass,occupation";

fn anonymize(out: &Path, extra: &[&str]) -> (i32, String) {
    let adult = adult();
    let mut args = vec![
        "anonymize".to_string(),
        "--input".into(),
        adult.join("adult.csv").display().to_string(),
        "--delimiter".into(),
        ";".into(),
        "--qi".into(),
        QIS.into(),
        "--hierarchies".into(),
        adult.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei")).args(&args).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn adult_is_released_k_anonymous_at_the_reported_levels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adult");
    let (code, stderr) = anonymize(&out, &["--k", "5", "--suppression", "0.05"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "levels",
        "suppressed_records",
        "classes",
        "min_class_size",
        "max_class_size",
        "utility",
        "optimal",
        "nodes_checked",
        "lattice_size",
    ] {
        assert!(report.get(key).is_some(), "report.json lacks `{key}`");
    }
    assert_eq!(report["optimal"], true);
    assert_eq!(report["lattice_size"], 6480);
    // Check the released table on its own: every class of quasi-identifier values has ≥ 5 rows.
    let text = std::fs::read_to_string(out.join("released.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let qi_index: Vec<usize> = QIS.split(',').map(|q| header.iter().position(|h| h == &q).unwrap()).collect();
    let mut classes: HashMap<Vec<String>, u64> = HashMap::new();
    let mut rows = 0u64;
    for line in lines {
        let fields: Vec<&str> = line.split(';').collect();
        *classes.entry(qi_index.iter().map(|&i| fields[i].to_string()).collect()).or_default() += 1;
        rows += 1;
    }
    assert!(classes.values().all(|&n| n >= 5), "a class smaller than k was released");
    assert_eq!(classes.len() as u64, report["classes"].as_u64().unwrap());
    assert_eq!(rows + report["suppressed_records"].as_u64().unwrap(), 30_162);
    assert!(report["suppressed_records"].as_u64().unwrap() <= 30_162 * 5 / 100);
    // Age generalized to the reported level: the released labels are that level's labels.
    let age_level = report["levels"]["age"].as_u64().unwrap() as usize;
    let hierarchy = std::fs::read_to_string(adult().join("adult_hierarchy_age.csv")).unwrap();
    let labels: std::collections::HashSet<&str> =
        hierarchy.lines().map(|l| l.split(';').nth(age_level).unwrap()).collect();
    let age = header.iter().position(|h| *h == "age").unwrap();
    assert!(text.lines().skip(1).all(|l| labels.contains(l.split(';').nth(age).unwrap())));
}

#[test]
fn unmet_targets_and_missing_hierarchy_values_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none");
    let (code, stderr) = anonymize(&out, &["--k", "40000", "--suppression", "0"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!out.exists());
    // A hierarchy that lacks a value: error names column and file, not the value.
    let short = dir.path().join("short_race.csv");
    std::fs::write(&short, "White;*\n").unwrap();
    let (code, stderr) = anonymize(&out, &["--hierarchy", &format!("race={}", short.display())]);
    assert_eq!(code, 2);
    assert!(stderr.contains("column `race`") && stderr.contains("short_race.csv"), "{stderr}");
    assert!(!stderr.contains("Black") && !stderr.contains("Asian"), "{stderr}");
    assert!(!out.exists());
}

/// Loss counts the leaves of the hierarchy, not only the values the data holds (as ARX does).
#[test]
fn loss_uses_the_hierarchys_domain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "a;b\n1;p\n1;q\n2;p\n2;q\n").unwrap();
    // Value 3 is in the hierarchy but not in the data: level 1 groups 1 and 2 under `x`.
    std::fs::write(dir.path().join("h_a.csv"), "1;x;*\n2;x;*\n3;y;*\n").unwrap();
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["anonymize", "--input", dir.path().join("t.csv").to_str().unwrap(), "--delimiter", ";"])
        .args(["--qi", "a", "--hierarchies", dir.path().to_str().unwrap(), "--k", "4", "--suppression", "0"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["levels"]["a"], 1);
    // (leaves under `x` − 1) / (domain − 1) = (2 − 1) / (3 − 1).
    assert!((report["utility"]["loss"].as_f64().unwrap() - 0.5).abs() < 1e-12, "{}", report["utility"]);
}

/// A municipality's checkup export, as a researcher might be handed it (cp932): names,
/// addresses and My Numbers beside the values.
fn checkup_export(dir: &Path, rows: usize) -> PathBuf {
    use tokumei::core::normalize::my_number_check_digit;
    let mut text = String::from("性別,年齢,カナ氏名,住所,個人番号,HbA1c\n");
    for i in 0..rows {
        let payload: [u8; 11] = std::array::from_fn(|d| ((i * 7 + d * 3 + i / 10) % 10) as u8);
        let digits: String = payload.iter().map(|d| char::from(b'0' + d)).collect();
        let my_number = format!("{digits}{}", my_number_check_digit(&payload));
        let sex = if i % 2 == 0 { "男" } else { "女" };
        text.push_str(&format!(
            "{sex},{},ヤマダ　タロウ{i},東京都千代田区丸の内{}-{},{},{:.1}\n",
            40 + i % 30,
            i % 5 + 1,
            i % 9 + 1,
            if i % 3 == 0 { my_number } else { String::new() },
            5.0 + (i % 20) as f64 / 10.0
        ));
    }
    let path = dir.join("checkups.csv");
    std::fs::write(&path, encoding_rs::SHIFT_JIS.encode(&text).0).unwrap();
    std::fs::write(dir.join("h_性別.csv"), "男;*\n女;*\n").unwrap();
    let ages: String = (40..70).map(|a| format!("{a};{}-{};*\n", a / 10 * 10, a / 10 * 10 + 9)).collect();
    std::fs::write(dir.join("h_年齢.csv"), ages).unwrap();
    path
}

fn anonymize_export(dir: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let input = checkup_export(dir, 300);
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["anonymize", "--input", input.to_str().unwrap(), "--encoding", "cp932"])
        .args(["--qi", "性別,年齢", "--hierarchies", dir.to_str().unwrap(), "--k", "5"])
        .args(["--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `tokumei anonymize` releases only what it is told to (issue 11): the quasi-identifiers, the
/// sensitive column and `--keep` columns; the rest is dropped and listed.
#[test]
fn anonymize_releases_only_the_columns_it_is_told_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = anonymize_export(dir.path(), &out, &["--keep", "HbA1c"]);
    assert_eq!(code, 0, "{stderr}");
    // Written in the encoding asked for, so Excel opens it.
    let bytes = std::fs::read(out.join("released.csv")).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad && std::str::from_utf8(&bytes).is_err(), "cp932, not UTF-8");
    assert_eq!(text.lines().next().unwrap(), "性別,年齢,HbA1c");
    assert!(!text.contains("ヤマダ") && !text.contains("東京都"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["dropped_columns"], serde_json::json!(["カナ氏名", "住所", "個人番号"]));
}

#[test]
fn anonymize_refuses_to_release_identifiers_even_when_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = anonymize_export(dir.path(), &out, &["--keep", "個人番号,HbA1c"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("column `個人番号` holds My Numbers"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    assert!(!stderr.as_bytes().windows(12).any(|w| w.iter().all(u8::is_ascii_digit)), "no value shown: {stderr}");
}

/// Each researcher's command says what went wrong as its own error type, which a caller (or a
/// test) can match, not a string.
#[test]
fn commands_fail_with_their_own_error_types() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "age,sex,zip\n30,1,100\n31,2,101\n").unwrap();
    let options = tokumei::AnonymizeOptions {
        input: csv.clone(),
        delimiter: b',',
        encoding: tokumei::ingest::TextEncoding::Utf8,
        quasi_identifiers: vec!["age".into()],
        hierarchies: None,
        hierarchy_files: Vec::new(),
        sensitive: None,
        model: tokumei::privacy::PrivacyModel {
            k: 2,
            diversity: None,
            closeness: None,
            average_risk: None,
            max_suppression: 0.0,
        },
        search: Default::default(),
        keep: Vec::new(),
        out: dir.path().join("out"),
    };
    match tokumei::anonymize(&options) {
        Err(tokumei::AnonymizeError::NoHierarchy(column)) => assert_eq!(column, "age"),
        other => panic!("{other:?}"),
    }
    let options = tokumei::AnonymizeOptions { quasi_identifiers: vec!["height".into()], ..options };
    match tokumei::anonymize(&options) {
        Err(tokumei::AnonymizeError::Table(tokumei::ingest::FlatTableError::NoColumn {
            column, available, ..
        })) => {
            assert_eq!(column, "height");
            assert_eq!(available, ["age", "sex", "zip"]);
        }
        other => panic!("{other:?}"),
    }
}
