//! `tokumei verify` (issue 16): an independent check of a finished release. A clean release
//! passes; each thing planted in one is found, by file, column, row and kind, never by value.

use std::process::Command;

use polars::prelude::*;

use crate::common::{Workspace, read_parquet};
use tokumei::Status;
use tokumei::verify::{Kind, Options, verify};

fn released(profile: &str, seed: u64) -> Workspace {
    let ws = Workspace::generate(600, seed);
    assert_eq!(ws.run(profile, &format!("out/{profile}")).status, Status::Released);
    ws
}

/// Replaces row `row` (0-based) of string column `column` in a release table with `value`.
fn plant(ws: &Workspace, file: &str, column: &str, row: usize, value: &str) {
    plant_rows(ws, file, column, row..row + 1, value);
}

/// Replaces rows `rows` (0-based) of string column `column` in a release table with `value`.
fn plant_rows(ws: &Workspace, file: &str, column: &str, rows: std::ops::Range<usize>, value: &str) {
    let path = ws.path(file);
    let frame = read_parquet(&path);
    let mut cells: Vec<Option<String>> = frame
        .column(column)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect();
    for row in rows {
        cells[row] = Some(value.to_string());
    }
    let mut frame = frame.clone();
    frame.with_column(Column::new(column.into(), cells)).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut frame).unwrap();
}

fn kinds(ws: &Workspace, release: &str, options: &Options) -> Vec<(Kind, String, Option<String>, Option<u64>)> {
    verify(&ws.path(release), options)
        .unwrap()
        .findings
        .into_iter()
        .map(|f| (f.kind, f.file, f.column, f.row))
        .collect()
}

#[test]
fn clean_releases_of_every_profile_pass() {
    for (profile, seed) in [("anonymized", 61), ("pseudonymized", 62), ("submission", 63)] {
        let ws = released(profile, seed);
        let verification = verify(&ws.path(&format!("out/{profile}")), &Options::default()).unwrap();
        assert!(verification.passed(), "{profile}: {:#?}", verification.findings);
        assert!(verification.rows > 1_000 && verification.files >= 4, "{profile}: {verification:?}");
    }
}

#[test]
fn each_planted_identifier_is_found_where_it_is() {
    let ws = released("pseudonymized", 64);
    let out = "out/pseudonymized";
    plant(&ws, &format!("{out}/checkups.parquet"), "urine_protein", 6, "１２３４ ５６７８ ９０１８");
    plant(&ws, &format!("{out}/dispensing.parquet"), "drug_name", 2, "折り返し 03-1234-5678 まで");
    plant(&ws, &format!("{out}/charts.parquet"), "diagnosis_name", 9, "東京都千代田区丸の内一丁目2番3号");
    let found = kinds(&ws, out, &Options::default());
    let has = |kind: Kind, file: &str, column: &str, row: u64| {
        found.iter().any(|(k, f, c, r)| *k == kind && f == file && c.as_deref() == Some(column) && *r == Some(row))
    };
    assert!(has(Kind::MyNumber, "checkups.parquet", "urine_protein", 7), "{found:#?}");
    assert!(has(Kind::Phone, "dispensing.parquet", "drug_name", 3), "{found:#?}");
    assert!(has(Kind::StreetAddress, "charts.parquet", "diagnosis_name", 10), "{found:#?}");
    // Each changed file shows as changed too; nothing else is reported.
    for file in ["checkups.parquet", "dispensing.parquet", "charts.parquet"] {
        assert!(found.iter().any(|(k, f, _, _)| *k == Kind::Changed && f == file), "{found:#?}");
    }
    assert_eq!(found.len(), 6, "{found:#?}");
    // The command: one line per finding, never the value; exit 1.
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei"))
        .args(["verify", "--release", ws.path(out).to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("checkups.parquet, column urine_protein, row 7: my-number"), "{stdout}");
    assert!(!stdout.contains("5678") && !stdout.contains("丸の内"), "values never printed: {stdout}");
}

#[test]
fn an_extra_file_an_added_person_and_a_class_below_k_are_found() {
    let ws = released("anonymized", 65);
    let out = "out/anonymized";
    std::fs::write(ws.path(&format!("{out}/notes.csv")), "x\n").unwrap();
    // A row of a new person, unique on the quasi-identifiers: a class of one.
    let path = ws.path(&format!("{out}/checkups.parquet"));
    let frame = read_parquet(&path);
    let mut extra = frame.slice(0, 1);
    extra.with_column(Column::new("person_id".into(), ["a-person-nobody-else-is"])).unwrap();
    assert_eq!(extra.column("birth_date").unwrap().dtype(), &DataType::String, "an age band");
    extra.with_column(Column::new("birth_date".into(), ["130-134"])).unwrap();
    let mut grown = frame.vstack(&extra).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut grown).unwrap();
    let found = kinds(&ws, out, &Options::default());
    let has = |kind: Kind| found.iter().any(|(k, _, _, _)| *k == kind);
    for kind in [Kind::Unlisted, Kind::Changed, Kind::Rows, Kind::Persons, Kind::ClassBelowK] {
        assert!(has(kind), "{kind:?}: {found:#?}");
    }
}

#[test]
fn a_release_sharing_pseudonyms_with_another_is_found() {
    let ws = released("pseudonymized", 66);
    // Another release of the same label and key: the same pseudonyms (a label must not be reused).
    assert_eq!(ws.run("pseudonymized", "out/again").status, Status::Released);
    let options = Options { others: vec![ws.path("out/again")], ..Options::default() };
    let found = kinds(&ws, "out/pseudonymized", &options);
    assert!(found.iter().any(|(k, _, _, _)| *k == Kind::SharedPseudonym), "{found:#?}");
    // A release under another label shares none.
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("label = \"", "label = \"other-")).unwrap();
    assert_eq!(ws.run("pseudonymized", "out/other").status, Status::Released);
    let options = Options { others: vec![ws.path("out/other")], ..Options::default() };
    assert!(kinds(&ws, "out/pseudonymized", &options).is_empty());
}

/// `tokumei run` ends with the verifier: a telephone number in a column the config releases with
/// a `reason` passes the run's own column scan, and the verifier still stops the release.
#[test]
fn the_run_refuses_a_release_the_verifier_finds_something_in() {
    let ws = Workspace::generate(300, 67);
    let schema = ws.path("configs/schemas/charts.toml");
    let text = std::fs::read_to_string(&schema).unwrap();
    let reasoned = text.replace(
        "name = \"department\"\nheader = \"診療科\"\nrole = \"insensitive\"\n",
        "name = \"department\"\nheader = \"診療科\"\nrole = \"insensitive\"\nreason = \"reviewed department names\"\n",
    );
    assert_ne!(reasoned, text);
    std::fs::write(&schema, reasoned).unwrap();
    let charts = ws.path("datasets/sample/charts.csv");
    let csv = std::fs::read_to_string(&charts).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let department = lines[0].split(',').position(|h| h == "診療科").unwrap();
    let mut cells: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    cells[department] = "内科 090-1234-5678".into();
    lines[5] = cells.join(",");
    std::fs::write(&charts, lines.join("\n") + "\n").unwrap();
    let outcome = ws.run("pseudonymized", "out/p");
    let Status::Refused(refusal) = outcome.status else { panic!("released") };
    let message = refusal.to_string();
    assert!(message.contains("verifier") && message.contains("department") && message.contains("phone"), "{message}");
    assert!(!ws.path("out/p").exists(), "nothing released");
    // With `verify = false` the run releases it (the config owner's call, recorded in the config).
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[release]\n", "[release]\nverify = false\n")).unwrap();
    assert_eq!(ws.run("pseudonymized", "out/p").status, Status::Released);
}

#[test]
fn impact_counts_persons_and_tells_a_serious_my_number_leak() {
    let ws = released("pseudonymized", 68);
    let out = "out/pseudonymized";
    let clean = tokumei::verify::impact(&ws.path(out)).unwrap();
    let mut persons = std::collections::HashSet::new();
    for table in ["checkups", "dispensing", "charts"] {
        let frame = read_parquet(&ws.path(&format!("{out}/{table}.parquet")));
        persons.extend(crate::common::text_column(&frame, "person_id").into_iter().flatten());
    }
    assert_eq!((clean.persons, clean.persons_exact), (persons.len() as u64, true));
    assert!(clean.identifiers.is_empty() && clean.persons_with_my_number == 0 && !clean.serious_my_number_leak);
    // My Numbers planted in the rows of 3 persons: within the threshold; of 150: above it.
    let path = ws.path(&format!("{out}/checkups.parquet"));
    let original = std::fs::read(&path).unwrap();
    let frame = read_parquet(&path);
    let ids = crate::common::text_column(&frame, "person_id");
    assert!(ids.len() >= 150, "{} checkup rows", ids.len());
    for (rows, serious) in [(3usize, false), (150, true)] {
        std::fs::write(&path, &original).unwrap();
        plant_rows(&ws, &format!("{out}/checkups.parquet"), "urine_protein", 0..rows, "123456789018");
        let impact = tokumei::verify::impact(&ws.path(out)).unwrap();
        let expected: std::collections::HashSet<_> = ids[..rows].iter().flatten().collect();
        assert_eq!(impact.persons_with_my_number, expected.len() as u64);
        assert_eq!(impact.identifiers.get("my-number"), Some(&(rows as u64)));
        assert_eq!(impact.serious_my_number_leak, serious, "{impact:#?}");
        assert!(impact.statements.iter().any(|s| s.contains(if serious { "above" } else { "within" })));
    }
}

/// Hiragana to katakana's twin: the spelling a clerk might type a kana name in.
fn hiragana(kana: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    kana.nfkc()
        .filter(|c| !c.is_whitespace())
        .map(|c| if ('ァ'..='ヶ').contains(&c) { char::from_u32(c as u32 - 0x60).unwrap() } else { c })
        .collect()
}

/// With the config, the inputs' own names, kana names and card numbers are found in any cell, in
/// any spelling the normalizer folds together.
#[test]
fn with_the_config_the_inputs_identifiers_are_found_in_any_spelling() {
    let ws = released("pseudonymized", 69);
    let out = "out/pseudonymized";
    let plan = ws.plan("pseudonymized");
    let identifiers = tokumei::verify::InputIdentifiers::read(&plan).unwrap();
    assert!(identifiers.len() > 1_000, "{identifiers:?}");
    let options = Options { identifiers: Some(identifiers), ..Options::default() };
    assert!(verify(&ws.path(out), &options).unwrap().passed(), "a clean release passes with the config too");
    // A kana name (half-width in the export) typed in hiragana into a drug name; a card number in
    // full-width digits in a lab column; a kanji name with its spaces dropped in a diagnosis.
    let charts = ws.input("charts");
    let kana =
        charts.rows.iter().map(|(_, r)| r[charts.column("カナ氏名")].clone()).find(|k| k.chars().count() >= 5).unwrap();
    let name = charts
        .rows
        .iter()
        .map(|(_, r)| r[charts.column("氏名")].clone())
        .find(|n| n.chars().filter(|c| !c.is_whitespace()).count() >= 3)
        .unwrap();
    let dispensing = ws.input("dispensing");
    let card = dispensing
        .rows
        .iter()
        .map(|(_, r)| r[dispensing.column("被保険者証番号")].clone())
        .find(|c| c.trim_start_matches(['0', '０']).chars().count() >= 8)
        .unwrap();
    let wide: String =
        card.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect();
    plant(&ws, &format!("{out}/dispensing.parquet"), "drug_name", 4, &format!("{}錠", hiragana(&kana)));
    plant(&ws, &format!("{out}/checkups.parquet"), "urine_glucose", 2, &wide);
    plant(&ws, &format!("{out}/charts.parquet"), "diagnosis_name", 7, &name.replace([' ', '　'], ""));
    let found = kinds(&ws, out, &options);
    let has = |file: &str, column: &str, row: u64| {
        found.iter().any(|(k, f, c, r)| {
            *k == Kind::InputIdentifier && f == file && c.as_deref() == Some(column) && *r == Some(row)
        })
    };
    assert!(has("dispensing.parquet", "drug_name", 5), "kana name: {found:#?}");
    assert!(has("checkups.parquet", "urine_glucose", 3), "card number: {found:#?}");
    assert!(has("charts.parquet", "diagnosis_name", 8), "kanji name: {found:#?}");
    // Without the config, the same cells are not identifiers by their shape alone.
    assert!(!kinds(&ws, out, &Options::default()).iter().any(|(k, _, _, _)| *k == Kind::InputIdentifier));
}

/// With the config and its key, the verifier recomputes who opted out and finds them in a release
/// made without the opt-out list (their person pseudonyms, or a submission's tokens).
#[test]
fn with_the_config_a_release_that_forgot_the_opt_out_list_is_found() {
    for (profile, column) in [("pseudonymized", "person_id"), ("submission", "token_")] {
        let ws = Workspace::generate(500, 70);
        assert_eq!(ws.run(profile, "out/clean").status, Status::Released);
        let plan = ws.plan(profile);
        let opted = tokumei::verify::OptedOut::recompute(&plan).unwrap();
        assert!(opted.persons > 5, "{profile}: {} persons opted out", opted.persons);
        let options = Options { opted_out: Some(opted), ..Options::default() };
        assert!(verify(&ws.path("out/clean"), &options).unwrap().passed(), "{profile}: the real release passes");
        // The same config without its opt-out list: the persons who opted out are released.
        let config = ws.path(&format!("configs/{profile}.toml"));
        let text = std::fs::read_to_string(&config).unwrap();
        let start = text.find("[[opt-out]]").unwrap();
        let end = start + text[start..].find("schema = \"schemas/optout.toml\"\n").unwrap() + 31;
        std::fs::write(ws.path("configs/forgot.toml"), format!("{}{}", &text[..start], &text[end..])).unwrap();
        assert_eq!(ws.run("forgot", "out/leaky").status, Status::Released);
        let found = kinds(&ws, "out/leaky", &options);
        let opted_out: Vec<_> = found.iter().filter(|(k, _, _, _)| *k == Kind::OptedOut).collect();
        assert!(!opted_out.is_empty(), "{profile}: {found:#?}");
        assert!(
            opted_out.iter().all(|(_, _, c, _)| c.as_deref().is_some_and(|c| c.starts_with(column))),
            "{opted_out:#?}"
        );
    }
}
