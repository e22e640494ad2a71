//! Fail closed (issue 11): anything that could put a person who must not be there into a
//! release, or drop a table or values silently, stops the release — exit 1, nothing written, the
//! reason on stderr in one line and in `<out>.refused/report.md`. And tokumei never deletes what
//! it did not write. Every case runs on data the test generates, shaped like real exports.

use std::path::Path;
use std::process::Command;

use tokumei::Status;
use tokumei::synth::SynthSpec;

use crate::common::{Workspace, read_csv};
use crate::pipeline::assert_exactly_opted_out_removed;

fn tokumei(args: &[&str]) -> (i32, String) {
    tokumei_in(None, args)
}

fn tokumei_in(dir: Option<&Path>, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokumei"));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command.args(args).output().unwrap();
    assert!(out.stdout.is_empty(), "nothing on stdout");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn run(ws: &Workspace, profile: &str, out: &str) -> (i32, String) {
    let config = ws.path(&format!("configs/{profile}.toml"));
    tokumei(&["run", "--config", config.to_str().unwrap(), "--out", ws.path(out).to_str().unwrap()])
}

/// The one `refused:` line of stderr.
fn refusal(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("refused: ")).collect();
    assert_eq!(lines.len(), 1, "one refusal line expected:\n{stderr}");
    lines[0]
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn opt_out_entries_without_a_key_stop_the_release_and_name_their_lines() {
    let ws = Workspace::generate(300, 5);
    let list = ws.path("datasets/sample/optout.csv");
    let lines = std::fs::read_to_string(&list).unwrap().lines().count() as u64;
    // A kana name without birth date or sex; a request date alone; an insurer number that fails
    // its check digit with a card number.
    append(
        &list,
        ",,,,ヤマダ　タロウ,,,,,2025-05-01\n,,,,,,,,,2025-05-02\n06131238,,12345,,,1970-01-01,男,,,2025-05-03\n",
    );
    let (code, stderr) = run(&ws, "pseudonymized", "out/p");
    assert_eq!(code, 1, "{stderr}");
    let line = refusal(&stderr);
    let numbers = format!("lines {}, {}, {}", lines + 1, lines + 2, lines + 3);
    assert!(line.contains("optout.csv") && line.contains(&numbers), "{line}");
    assert!(line.contains("has kana-name"), "{line}");
    assert!(!stderr.contains("ヤマダ") && !stderr.contains("12345"), "values never shown: {stderr}");
    assert!(!ws.path("out/p").exists(), "nothing released");
    let refused = report(&ws.path("out/p.refused"));
    assert!(refused["status"].as_str().unwrap().starts_with("refused: "));
    let unresolved = &refused["stages"]["opt_out"]["lists"][0]["unresolved"];
    assert_eq!(unresolved.as_array().unwrap().len(), 3, "{unresolved}");
    let md = std::fs::read_to_string(ws.path("out/p.refused/report.md")).unwrap();
    assert!(md.contains("refused: no key (has insurer-number, card-number, birth-date, sex)"), "{md}");
    assert!(!md.contains("```json"), "tables, not raw JSON");
    // `optout hash` refuses the list too: a token list must not carry an entry nobody can honour.
    let (code, stderr) = tokumei(&[
        "optout",
        "hash",
        "--config",
        ws.path("configs/pseudonymized.toml").to_str().unwrap(),
        "--out",
        ws.path("tokens.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!ws.path("tokens.csv").exists());
    // Once the entries are completed (here: removed), the release goes out and the refusal
    // report is gone.
    let text = std::fs::read_to_string(&list).unwrap();
    let kept: Vec<&str> = text.lines().take(lines as usize).collect();
    std::fs::write(&list, kept.join("\n") + "\n").unwrap();
    let (code, stderr) = run(&ws, "pseudonymized", "out/p");
    assert_eq!(code, 0, "{stderr}");
    assert!(!ws.path("out/p.refused").exists());
}

/// Requests give whatever the requester had at hand: a card with 枝番 and nothing else, a card
/// alone (the household goes), full-width digits, hiragana, half-width kana.
#[test]
fn requests_by_card_and_branch_or_card_alone_are_honoured_exactly() {
    let ws = Workspace::generate_with(SynthSpec {
        persons: 2_500,
        seed: 11,
        opt_out_rate: 0.05,
        namesake_rate: 0.0,
        household_rate: 0.3,
        twin_rate: 0.05,
        ..SynthSpec::default()
    });
    let (headers, rows) = read_csv(&ws.path("datasets/sample/optout.csv"), encoding_rs::UTF_8);
    let filled = |row: &Vec<String>| -> Vec<&str> {
        headers.iter().zip(row).filter(|(h, v)| !v.is_empty() && *h != "申出日").map(|(h, _)| h.as_str()).collect()
    };
    let card = ["保険者番号", "被保険者証記号", "被保険者証番号"];
    let card_branch: Vec<&str> = card.iter().copied().chain(["枝番"]).collect();
    assert!(rows.iter().any(|(_, r)| filled(r) == card_branch), "the list has card + 枝番 requests");
    assert!(rows.iter().any(|(_, r)| filled(r) == card), "the list has card-only requests");
    assert_exactly_opted_out_removed(&ws, "pseudonymized");
    let outcome = ws.run("submission", "out/s");
    let list = &outcome.report.stages.opt_out.as_ref().unwrap().lists[0].matching.as_ref().unwrap().matched;
    assert!(list.card_only_persons > list.card_only_entries);
    assert!(list.matched_by[&tokumei::link::KeyKind::CardBranch] > 0, "{list:?}");
}

#[test]
fn an_empty_input_stops_the_release_unless_allowed() {
    let ws = Workspace::generate(300, 6);
    let charts = ws.path("datasets/sample/charts.csv");
    let header = std::fs::read_to_string(&charts).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&charts, header + "\n").unwrap();
    let (code, stderr) = run(&ws, "pseudonymized", "out/p");
    assert_eq!(code, 1, "{stderr}");
    assert!(refusal(&stderr).contains("input `charts` has no data rows"), "{stderr}");
    assert!(!ws.path("out/p").exists());
    // Allowed: released, and the entries that now match nobody are counted on stderr.
    edit(
        &ws.path("configs/pseudonymized.toml"),
        "schema = \"schemas/charts.toml\"",
        "schema = \"schemas/charts.toml\"\nallow-empty = true",
    );
    let (code, stderr) = run(&ws, "pseudonymized", "out/p");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("warning: opt-out list") && l.contains("match nobody in this data")),
        "{stderr}"
    );
}

/// Rewrites the cell of `header` in every `every`-th data row of a CSV (UTF-8 with BOM).
fn corrupt(path: &Path, header: &str, every: usize, value: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head = lines.next().unwrap();
    let column = head.trim_start_matches('\u{feff}').split(',').position(|h| h == header).unwrap();
    let mut out = vec![head.to_string()];
    let mut changed = 0;
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if i % every == 0 {
            fields[column] = value.to_string();
            changed += 1;
        }
        out.push(fields.join(","));
    }
    std::fs::write(path, out.join("\n") + "\n").unwrap();
    changed
}

#[test]
fn a_table_quarantined_beyond_the_limit_stops_the_release() {
    let ws = Workspace::generate(400, 8);
    let dispensing = ws.path("datasets/sample/dispensing.csv");
    let original = std::fs::read(&dispensing).unwrap();
    // 5 % of the rows with a date no one can read: above the default 1 %.
    corrupt(&dispensing, "調剤日", 20, "99/99");
    let (code, stderr) = run(&ws, "submission", "out/s");
    assert_eq!(code, 1, "{stderr}");
    let line = refusal(&stderr);
    assert!(line.contains("input `dispensing`") && line.contains("above max-quarantine 0.01"), "{line}");
    assert!(line.contains("column `dispensing_date`"), "{line}");
    let refused = report(&ws.path("out/s.refused"));
    let groups = &refused["stages"]["ingest"]["dispensing"]["quarantine_summary"];
    assert_eq!(groups[0]["problem"], "unreadable-date", "{groups}");
    assert_eq!(groups[0]["first_lines"][0], 2);
    // A looser limit for this input: released, with a warning.
    edit(
        &ws.path("configs/submission.toml"),
        "schema = \"schemas/dispensing.toml\"",
        "schema = \"schemas/dispensing.toml\"\nmax-quarantine = 0.1",
    );
    let (code, stderr) = run(&ws, "submission", "out/s");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("warning: input `dispensing`")), "{stderr}");
    // Every row unreadable: never released, whatever the limit.
    std::fs::write(&dispensing, original).unwrap();
    corrupt(&dispensing, "調剤日", 1, "99/99");
    edit(&ws.path("configs/submission.toml"), "max-quarantine = 0.1", "max-quarantine = 1.0");
    let (code, stderr) = run(&ws, "submission", "out/s2");
    assert_eq!(code, 1, "{stderr}");
    assert!(refusal(&stderr).contains("rows quarantined, none accepted"), "{stderr}");
}

#[test]
fn control_characters_and_oversized_cells_are_quarantined() {
    let ws = Workspace::generate(600, 9);
    let charts = ws.path("datasets/sample/charts.csv");
    let text = std::fs::read_to_string(&charts).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let column = lines[0].split(',').position(|h| h == "氏名").unwrap();
    let mut set = |row: usize, value: String| {
        let mut fields: Vec<String> = lines[row].split(',').map(str::to_string).collect();
        fields[column] = value;
        lines[row] = fields.join(",");
    };
    set(3, "関\u{0}詩".into());
    set(5, "名".repeat(2_500_000 / 3));
    std::fs::write(&charts, lines.join("\n") + "\n").unwrap();
    let outcome = ws.run("pseudonymized", "out/p");
    assert_eq!(outcome.status, Status::Released);
    let charts = outcome.report.accounting.iter().find(|a| a.table == "charts").unwrap();
    assert_eq!(charts.quarantined, 2);
    let groups = &outcome.report.stages.ingest.as_ref().unwrap()["charts"].quarantine_summary;
    let problems: Vec<String> = groups.iter().map(|g| serde_json::to_value(g.problem).unwrap().to_string()).collect();
    assert_eq!(problems, ["\"control-character\"", "\"cell-too-large\""]);
    assert!(outcome.warnings.iter().any(|w| w.starts_with("input `charts`: 2 of")), "{:?}", outcome.warnings);
}

#[test]
fn a_transform_that_cannot_read_values_never_nulls_them_silently() {
    let ws = Workspace::generate(500, 12);
    let charts = ws.path("datasets/sample/charts.csv");
    // 7-digit facility codes (the 医療機関コード without prefecture and 点数表), in every row.
    let text = std::fs::read_to_string(&charts).unwrap();
    let out: Vec<String> =
        text.lines().enumerate().map(|(i, l)| if i == 0 { l.to_string() } else { l[3..].to_string() }).collect();
    std::fs::write(&charts, out.join("\n") + "\n").unwrap();
    let (code, stderr) = run(&ws, "anonymized", "out/a");
    assert_eq!(code, 1, "{stderr}");
    let line = refusal(&stderr);
    assert!(line.contains("table `charts`, column `facility_code`: its transform cannot read"), "{line}");
    assert!(!ws.path("out/a").exists());
}

#[test]
fn the_output_folder_is_never_one_tokumei_did_not_write() {
    let ws = Workspace::generate(200, 13);
    let config = ws.path("configs/pseudonymized.toml");
    let config = config.to_str().unwrap();
    let inputs = std::fs::read_dir(ws.path("datasets/sample")).unwrap().count();
    // The folder of the raw exports, the config's folder, the current folder: refused, untouched.
    for (out, why) in [
        (ws.path("datasets/sample"), "holds an input"),
        (ws.path("datasets"), "holds an input"),
        (ws.path("configs"), "holds the config"),
        (ws.path("configs/keys"), "holds the key file"),
    ] {
        let (code, stderr) = tokumei(&["run", "--config", config, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(why), "{why}: {stderr}");
    }
    let (code, stderr) = tokumei_in(Some(&ws.path("datasets")), &["run", "--config", config, "--out", "."]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is the current folder"), "{stderr}");
    assert_eq!(std::fs::read_dir(ws.path("datasets/sample")).unwrap().count(), inputs);
    assert!(ws.path("configs/pseudonymized.toml").exists());
    // A folder with someone's files: refused, the files stay.
    let mine = ws.path("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let (code, stderr) = tokumei(&["run", "--config", config, "--out", mine.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not empty and holds no tokumei release"), "{stderr}");
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep me");
    // A release of tokumei's is replaced; with a file added to it, it is not.
    let release = ws.path("release");
    assert_eq!(tokumei(&["run", "--config", config, "--out", release.to_str().unwrap()]).0, 0);
    assert_eq!(tokumei(&["run", "--config", config, "--out", release.to_str().unwrap()]).0, 0);
    std::fs::write(release.join("analysis.xlsx"), "x").unwrap();
    let (code, stderr) = tokumei(&["run", "--config", config, "--out", release.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`analysis.xlsx`"), "{stderr}");
    // A user's `release.previous` is not tokumei's to remove.
    std::fs::remove_file(release.join("analysis.xlsx")).unwrap();
    std::fs::create_dir_all(ws.path("release.previous")).unwrap();
    std::fs::write(ws.path("release.previous/x"), "x").unwrap();
    assert_eq!(tokumei(&["run", "--config", config, "--out", release.to_str().unwrap()]).0, 0);
    assert!(ws.path("release.previous/x").exists());
}

#[test]
fn twins_and_households_on_one_card_stay_separate_persons() {
    let spec = SynthSpec {
        persons: 4_000,
        seed: 21,
        opt_out_rate: 0.03,
        namesake_rate: 0.0,
        household_rate: 0.4,
        twin_rate: 0.2,
        ..SynthSpec::default()
    };
    let ws = Workspace::generate_with(spec);
    let truth = tokumei::Truth::File(ws.path("datasets/sample/truth.csv"));
    let quality = tokumei::evaluate_linkage(&ws.plan("pseudonymized"), &truth).unwrap();
    assert!(quality.stats.kept_apart_on_card > 50, "{quality:#?}");
    assert!(quality.precision >= 0.999 && quality.recall >= 0.99, "{quality:#?}");
    // Job changers and movers still link (the population has them; recall says so), and every
    // opt-out is honoured exactly: a request by card + birth date + sex names both twins.
    assert_exactly_opted_out_removed(&ws, "pseudonymized");
    // Without 枝番 anywhere (many exports leave it empty), names still tell twins apart.
    for (file, encoding) in [("checkups.csv", encoding_rs::SHIFT_JIS), ("dispensing.csv", encoding_rs::UTF_8)] {
        let path = ws.path(&format!("datasets/sample/{file}"));
        let (headers, rows) = read_csv(&path, encoding);
        let branch = headers.iter().position(|h| h == "枝番").unwrap();
        let mut text = headers.join(",") + "\n";
        for (_, mut row) in rows {
            row[branch].clear();
            text.push_str(&(row.join(",") + "\n"));
        }
        let bytes = if file == "checkups.csv" { encoding.encode(&text).0.into_owned() } else { text.into_bytes() };
        std::fs::write(&path, bytes).unwrap();
    }
    let quality = tokumei::evaluate_linkage(&ws.plan("pseudonymized"), &truth).unwrap();
    assert!(quality.stats.kept_apart_on_card > 50, "{quality:#?}");
    assert!(quality.precision >= 0.999 && quality.recall >= 0.99, "{quality:#?}");
}

#[test]
fn free_text_in_a_released_column_stops_the_release_unless_a_reason_is_given() {
    let ws = Workspace::generate(800, 14);
    // A clerk maps the chart notes as a clinical column.
    let schema = ws.path("configs/schemas/charts.toml");
    let note = "header = \"記事\"\nrole = ";
    edit(&schema, &format!("{note}\"free-text\""), &format!("{note}\"sensitive\""));
    let (code, stderr) = run(&ws, "pseudonymized", "out/p");
    assert_eq!(code, 1, "{stderr}");
    let line = refusal(&stderr);
    assert!(line.contains("table `charts`, column `note`") && line.contains("free text"), "{line}");
    assert!(!ws.path("out/p").exists());
    // The notes also hold telephone numbers and My Numbers: a reason keeps them only knowingly.
    edit(
        &schema,
        &format!("{note}\"sensitive\""),
        &format!("{note}\"sensitive\"\nreason = \"reviewed by the privacy officer\""),
    );
    // The run's own column scan lets a reasoned column through; the verifier at the end of the
    // run still finds the My Numbers and telephone numbers cell by cell, and stops the release.
    let outcome = ws.run("pseudonymized", "out/p");
    let Status::Refused(refusal) = outcome.status else { panic!("the verifier should stop it") };
    assert!(refusal.to_string().contains("verifier"), "{refusal}");
    assert!(!ws.path("out/p").exists());
    // Only a config that turns the verifier off releases it (knowingly, and it says so).
    let config = ws.path("configs/pseudonymized.toml");
    edit(&config, "[release]\n", "[release]\nverify = false\n");
    let outcome = ws.run("pseudonymized", "out/p");
    assert_eq!(outcome.status, Status::Released);
    let note = outcome.report.transforms.iter().find(|t| t.column == "note").unwrap();
    assert!(note.detail.contains("reason: reviewed by the privacy officer"), "{}", note.detail);
    assert!(note.detail.contains("holds My Numbers"), "{}", note.detail);
}

/// 特定健診 XML observations in an anonymized release: numbers cannot go out raw, the doctor's
/// written judgement never goes out, and each test is top/bottom-coded at its own quantiles.
#[test]
fn lab_values_in_a_long_table_are_coded_per_test_and_free_text_never_released() {
    use polars::prelude::*;
    let ws = Workspace::generate_with(SynthSpec { persons: 1_500, seed: 15, national: true, ..SynthSpec::default() });
    let config = ws.path("configs/observations.toml");
    let base = r#"
[release]
profile = "anonymized"
label = "observations"
reference-date = "2026-04-01"
date = "2026-11-01"
out = "../out/observations"

[key]
file = "keys/DEMO-ONLY-sample.key"

[privacy]
k = 5
max-suppression = 0.05

[[input]]
name = "observations"
path = "../datasets/sample/cda"
format = "cda"
extract = "observations"
schema = "schemas/observations-cda.toml"

[[opt-out]]
path = "../datasets/sample/optout.csv"
schema = "schemas/optout.toml"

[transform.birth_date]
kind = "age-band"
widths = [5, 10, 20]
top = 90

[transform.postal_code]
kind = "postal-code"
digits = [3, 1]

[transform.exam_date]
kind = "month"
"#;
    std::fs::write(&config, base).unwrap();
    let (code, stderr) = tokumei(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("`value_number`") && stderr.contains("numbers would be released raw"), "{stderr}");
    let per_test =
        "\n[transform.value_number]\nkind = \"top-bottom\"\nlower = 0.01\nupper = 0.99\nby = \"jlac10_code\"\n";
    std::fs::write(&config, format!("{base}{per_test}")).unwrap();
    let outcome = tokumei::run(&tokumei::config::Plan::load(&config).unwrap(), &Default::default()).unwrap();
    assert_eq!(outcome.status, Status::Released);
    let released = crate::common::read_parquet(&ws.path("out/observations/observations.parquet"));
    assert!(released.column("value_text").is_err(), "free text is never released");
    // Each test's values pile up at its own bounds: the largest released value is the test's
    // 99th percentile, and for some test it is below what the data held.
    let plan = tokumei::config::Plan::load(&config).unwrap();
    let mut raw_max: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    tokumei::ingest::read_source(&plan.tables[0].source, |batch| {
        for (code, value) in batch.column("jlac10_code")?.str()?.iter().zip(batch.column("value_number")?.f64()?.iter())
        {
            if let (Some(code), Some(value)) = (code, value) {
                let max = raw_max.entry(code.to_string()).or_insert(f64::MIN);
                *max = max.max(value);
            }
        }
        Ok(())
    })
    .unwrap();
    let stats = released
        .lazy()
        .filter(col("value_number").is_not_null())
        .group_by([col("jlac10_code")])
        .agg([
            col("value_number").max().alias("max"),
            col("value_number").quantile(lit(0.99), QuantileMethod::Nearest).alias("q99"),
            col("value_number").count().alias("n"),
        ])
        .collect()
        .unwrap();
    let codes = stats.column("jlac10_code").unwrap().str().unwrap().clone();
    let max = stats.column("max").unwrap().f64().unwrap().clone();
    let q99 = stats.column("q99").unwrap().f64().unwrap().clone();
    let mut clamped = 0;
    for i in 0..stats.height() {
        assert_eq!(max.get(i), q99.get(i), "test {:?}", codes.get(i));
        if max.get(i).unwrap() < raw_max[codes.get(i).unwrap()] {
            clamped += 1;
        }
    }
    assert!(clamped >= 5, "{clamped} tests clamped");
}
