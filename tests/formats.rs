//! National formats: `tokumei synth --national` writes the same population as UKE receipt files;
//! reading them gives the same typed tables as the CSV exports, and a run works the same after.

use polars::prelude::*;
use tokumei::Status;
use tokumei::config::Plan;
use tokumei::ingest::{IngestStats, Source, read_source};
use tokumei::synth::SynthSpec;

use super::common::Workspace;

fn national_workspace(persons: usize, seed: u64) -> Workspace {
    Workspace::generate_with(SynthSpec {
        persons,
        seed,
        opt_out_rate: 0.03,
        namesake_rate: 0.0,
        national: true,
        registry: false,
        ..SynthSpec::default()
    })
}

fn source(plan: &Plan, table: &str) -> Source {
    plan.tables.iter().find(|t| t.source.table == table).unwrap().source.clone()
}

/// The whole source, typed, without the internal columns.
fn read(source: &Source) -> (DataFrame, IngestStats) {
    let mut frame: Option<DataFrame> = None;
    let stats = read_source(source, |batch| {
        let batch = batch.drop_many(["__row", "__line"]);
        match frame.as_mut() {
            Some(f) => {
                f.vstack_mut(&batch)?;
            }
            None => frame = Some(batch),
        }
        Ok(())
    })
    .unwrap();
    (frame.unwrap(), stats)
}

fn sorted(frame: DataFrame, columns: &[&str]) -> DataFrame {
    let frame = frame.select(columns.iter().map(|c| PlSmallStr::from(*c))).unwrap();
    let by: Vec<PlSmallStr> = columns.iter().map(|c| PlSmallStr::from(*c)).collect();
    frame.sort(by, SortMultipleOptions::default().with_maintain_order(true)).unwrap()
}

#[test]
fn uke_dispensing_reads_as_the_csv_export() {
    let ws = national_workspace(1_500, 61);
    let uke_plan = Plan::load(&ws.path("configs/national.toml")).unwrap();
    let uke = source(&uke_plan, "dispensing");
    let csv = source(&ws.plan("submission"), "dispensing");
    let (from_uke, stats) = read(&uke);
    let (from_csv, _) = read(&csv);
    assert_eq!(stats.rows_quarantined, 0);
    let national = stats.national.unwrap();
    assert!(national.files > 12, "a file per claim month");
    assert!(national.unknown.is_empty());
    // Every column the UKE schema reads (all of the CSV's but the drug name), row for row: the
    // receipts keep their lines in order, so a stable sort by receipt number lines them up.
    let columns: Vec<&str> = uke.columns.iter().map(|c| c.name.as_str()).collect();
    assert!(columns.len() >= 16);
    let order = |frame: DataFrame| {
        let frame = frame.select(columns.iter().map(|c| PlSmallStr::from(*c))).unwrap();
        frame.sort(["receipt_number"], SortMultipleOptions::default().with_maintain_order(true)).unwrap()
    };
    let (a, b) = (order(from_uke), order(from_csv));
    assert_eq!(a.height(), b.height());
    assert!(a.equals_missing(&b), "UKE and CSV disagree:\n{a}\n{b}");
}

/// Pharmacy systems that write CZ 処方月日 / 調剤月日 as MMDD: read as the same dates (a month after
/// 調剤年月 is the previous year's), so no row is quarantined and the table reads as the export.
#[test]
fn uke_dispensing_dates_written_mmdd_read_as_the_csv_export() {
    let ws = national_workspace(1_000, 62);
    let folder = ws.path("datasets/sample/uke/dispensing");
    let mut rewritten = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        let lines: Vec<String> = text
            .split("\r\n")
            .map(|line| {
                if !line.starts_with("CZ,") {
                    return line.to_string();
                }
                let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
                for i in [2, 3] {
                    if fields[i].len() == 7 {
                        fields[i] = fields[i][3..].to_string();
                        rewritten += 1;
                    }
                }
                fields.join(",")
            })
            .collect();
        std::fs::write(&path, encoding_rs::SHIFT_JIS.encode(&lines.join("\r\n")).0).unwrap();
    }
    assert!(rewritten > 100);
    let uke = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "dispensing");
    let (from_uke, stats) = read(&uke);
    assert_eq!(stats.rows_quarantined, 0, "{:?}", stats.quarantine_summary);
    let (from_csv, _) = read(&source(&ws.plan("submission"), "dispensing"));
    let columns = ["receipt_number", "prescription_date", "dispensing_date"];
    let present: Vec<&str> = columns.iter().copied().filter(|c| from_uke.column(c).is_ok()).collect();
    assert!(present.contains(&"dispensing_date"), "{present:?}");
    let order = |frame: DataFrame| {
        let frame = frame.select(present.iter().map(|c| PlSmallStr::from(*c))).unwrap();
        frame.sort(["receipt_number"], SortMultipleOptions::default().with_maintain_order(true)).unwrap()
    };
    let (a, b) = (order(from_uke), order(from_csv));
    assert!(a.equals_missing(&b), "MMDD dates read differently:\n{a}\n{b}");
}

#[test]
fn uke_medical_diagnoses_read_as_the_chart_rows() {
    let ws = national_workspace(1_200, 62);
    let uke = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "diagnoses");
    let charts = source(&ws.plan("submission"), "charts");
    let (from_uke, _) = read(&uke);
    let (mut from_csv, _) = read(&charts);
    from_csv.rename("visit_date", "start_date".into()).unwrap();
    let columns =
        ["facility_code", "patient_id", "name", "kana_name", "birth_date", "sex", "start_date", "diagnosis_name"];
    let (a, b) = (sorted(from_uke, &columns), sorted(from_csv, &columns));
    assert_eq!(a.height(), b.height());
    assert!(a.equals_missing(&b), "UKE and charts disagree:\n{a}\n{b}");
}

#[test]
fn a_bad_uke_cell_quarantines_its_rows_and_names_line_field_and_file() {
    let ws = national_workspace(400, 63);
    let dir = ws.path("datasets/sample/uke/dispensing");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let bytes = std::fs::read(&files[0]).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let at = lines.iter().position(|l| l.starts_with("RE,")).unwrap();
    let mut fields: Vec<String> = lines[at].split(',').map(str::to_string).collect();
    let birth = fields[6].clone();
    fields[6] = "3640231".into(); // 昭和64年2月31日: no such day
    lines[at] = fields.join(",");
    std::fs::write(&files[0], encoding_rs::SHIFT_JIS.encode(&lines.join("\r\n")).0).unwrap();

    let uke = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "dispensing");
    let (_, stats) = read(&uke);
    assert!(stats.rows_quarantined >= 1);
    let q = &stats.quarantine[0];
    assert_eq!(q.line, at as u64 + 1);
    assert_eq!(q.column, "birth_date");
    assert_eq!(q.origin.as_deref(), Some("RE field 6"));
    assert!(q.file.as_deref().unwrap().ends_with(files[0].file_name().unwrap().to_str().unwrap()));
    let json = serde_json::to_string(&stats).unwrap();
    assert!(!json.contains(&birth) && !json.contains("3640231"), "no value in the report");
}

#[test]
fn a_broken_uke_file_is_rejected_naming_file_and_line() {
    let ws = national_workspace(300, 64);
    let dir = ws.path("datasets/sample/uke/medical");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let bytes = std::fs::read(&files[1]).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    // An HO record cut short: its card fields may have shifted, so the file cannot be trusted.
    let broken: Vec<String> =
        text.split("\r\n").map(|l| if l.starts_with("HO,") { "HO,12".to_string() } else { l.to_string() }).collect();
    std::fs::write(&files[1], encoding_rs::SHIFT_JIS.encode(&broken.join("\r\n")).0).unwrap();
    let plan = Plan::load(&ws.path("configs/national.toml")).unwrap();
    let error = tokumei::run(&plan, &tokumei::RunOptions { out: Some(ws.path("out/n")), ..Default::default() })
        .unwrap_err()
        .to_string();
    let name = files[1].file_name().unwrap().to_str().unwrap();
    assert!(error.contains(name) && error.contains("(HO record)") && error.contains("line 3"), "{error}");
    assert!(!ws.path("out/n").exists(), "no partial release");
}

#[test]
fn a_run_on_uke_inputs_accounts_for_every_row_and_honours_opt_out() {
    let ws = national_workspace(1_000, 65);
    // Beside the committed inputs (UKE, CDA), the charts from the SS-MIX2 storage.
    let config = ws.path("configs/national.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let charts = "[[input]]\nname = \"charts\"\npath = \"../datasets/sample/ssmix2\"\nformat = \"ss-mix2\"\nextract = \"diagnoses\"\nschema = \"schemas/charts.toml\"\n\n[[opt-out]]";
    std::fs::write(&config, text.replace("[[opt-out]]", charts)).unwrap();
    let plan = Plan::load(&config).unwrap();
    let outcome =
        tokumei::run(&plan, &tokumei::RunOptions { out: Some(ws.path("out/national")), ..Default::default() }).unwrap();
    assert_eq!(outcome.status, Status::Released);
    let truth = ws.truth();
    let account = |t: &str| outcome.report.accounting.iter().find(|a| a.table == t).unwrap().clone();
    for a in &outcome.report.accounting {
        assert_eq!(a.rows_read, a.quarantined + a.opted_out + a.suppressed + a.written);
        assert!(a.written > 0);
    }
    assert_eq!(account("dispensing").rows_read as usize, truth.rows("dispensing"));
    assert_eq!(account("dispensing").opted_out as usize, truth.opted_out_lines("dispensing").len());
    // One SY record per chart row: the opted-out persons' diagnoses are their chart rows.
    assert_eq!(account("diagnoses").rows_read as usize, truth.rows("charts"));
    assert_eq!(account("diagnoses").opted_out as usize, truth.opted_out_lines("charts").len());
    // The checkups came as CDA: the opt-out list names some persons only by their checkup card.
    assert_eq!(account("checkups").rows_read as usize, truth.rows("checkups"));
    assert_eq!(account("checkups").opted_out as usize, truth.opted_out_lines("checkups").len());
    assert_eq!(account("charts").rows_read as usize, truth.rows("charts"));
    assert_eq!(account("charts").opted_out as usize, truth.opted_out_lines("charts").len());
}

#[test]
fn writing_the_national_formats_changes_no_csv_byte() {
    let plain = Workspace::generate_with(SynthSpec {
        persons: 300,
        seed: 66,
        opt_out_rate: 0.03,
        namesake_rate: 0.001,
        national: false,
        registry: false,
        ..SynthSpec::default()
    });
    let national = Workspace::generate_with(SynthSpec {
        persons: 300,
        seed: 66,
        opt_out_rate: 0.03,
        namesake_rate: 0.001,
        national: true,
        registry: false,
        ..SynthSpec::default()
    });
    for file in ["checkups.csv", "dispensing.csv", "charts.csv", "optout.csv", "truth.csv"] {
        let path = format!("datasets/sample/{file}");
        assert!(std::fs::read(plain.path(&path)).unwrap() == std::fs::read(national.path(&path)).unwrap(), "{file}");
    }
}

#[test]
fn cda_checkups_read_as_the_csv_export() {
    let ws = national_workspace(1_500, 67);
    let cda = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "checkups");
    let csv = source(&ws.plan("submission"), "checkups");
    let (from_cda, stats) = read(&cda);
    let (from_csv, _) = read(&csv);
    assert_eq!(stats.rows_quarantined, 0);
    let national = stats.national.unwrap();
    assert_eq!(national.skipped.get("index"), Some(&3), "one index file per exchange package");
    assert_eq!(national.unknown.get("JLAC10 9N056160400000049").copied(), Some(from_cda.height() as u64));
    // Every CSV column CDA carries (all but the street address and 個人番号), row for row.
    let columns: Vec<&str> = cda.columns.iter().map(|c| c.name.as_str()).filter(|c| *c != "voucher_number").collect();
    assert!(columns.len() >= 22);
    let first = ["insurer_number", "card_number", "exam_date"];
    let mut keys = first.to_vec();
    keys.extend(columns.iter().filter(|c| !first.contains(c)));
    let (a, b) = (sorted(from_cda, &keys), sorted(from_csv, &keys));
    assert_eq!(a.height(), b.height());
    for column in a.columns() {
        let other = b.column(column.name()).unwrap();
        assert!(column.equals_missing(other), "CDA and CSV disagree on {}:\n{column:?}\n{other:?}", column.name());
    }
}

#[test]
fn a_malformed_cda_document_is_quarantined_whole_and_the_package_read_on() {
    use std::io::{Read, Write};
    let ws = national_workspace(600, 68);
    let dir = ws.path("datasets/sample/cda");
    let mut packages: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    packages.sort();
    // Rewrite the first package with its second document cut short.
    let mut archive = ::zip::ZipArchive::new(std::fs::File::open(&packages[0]).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        entries.push((entry.name().to_string(), bytes));
    }
    let (victim, bytes) = &mut entries[2];
    let victim = victim.clone();
    let secret = String::from_utf8(bytes.clone()).unwrap();
    bytes.truncate(bytes.len() / 2);
    let mut writer = ::zip::ZipWriter::new(std::fs::File::create(&packages[0]).unwrap());
    for (name, bytes) in &entries {
        writer.start_file(name.as_str(), ::zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();

    let cda = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "checkups");
    let (frame, stats) = read(&cda);
    assert_eq!(stats.rows_quarantined, 1);
    assert_eq!(stats.rows_read, frame.height() as u64 + 1);
    let q = &stats.quarantine[0];
    assert!(q.file.as_deref().unwrap().ends_with(&format!("!{victim}")), "{q:?}");
    assert_eq!(q.line, 2, "the second document of the input");
    assert!(q.origin.as_deref().unwrap().contains("well-formed XML"));
    let json = serde_json::to_string(&stats).unwrap();
    let kana = secret.split("<family>").nth(1).unwrap().split('<').next().unwrap();
    assert!(!json.contains(kana), "no content in the report");
}

/// Kana as linkage compares it (SS-MIX2 is JIS X 0208 text: half-width kana arrive full-width).
fn nfkc_kana(frame: DataFrame) -> DataFrame {
    use unicode_normalization::UnicodeNormalization;
    let kana: StringChunked = frame
        .column("kana_name")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|k| k.map(|k| k.nfkc().collect::<String>().replace(' ', "\u{3000}")))
        .collect();
    let mut frame = frame;
    frame.with_column(kana.with_name("kana_name".into()).into_column()).unwrap();
    frame
}

#[test]
fn ssmix2_diagnoses_read_as_the_chart_rows() {
    let ws = national_workspace(1_200, 69);
    let csv = source(&ws.plan("submission"), "charts");
    let mut storage = csv.clone();
    storage.path = ws.path("datasets/sample/ssmix2");
    storage.format = tokumei::ingest::Format::SsMix2;
    storage.extract = Some("diagnoses".into());
    let (from_storage, stats) = read(&storage);
    let (from_csv, _) = read(&csv);
    assert_eq!(stats.rows_quarantined, 0);
    let national = stats.national.unwrap();
    assert!(national.records.keys().any(|k| k.starts_with("ADT^A08")), "患者基本 messages are read past");
    assert!(national.anomalies.is_empty());
    // The chart schema reads every column, the note included.
    let columns: Vec<&str> = csv.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns.len(), 13);
    let (a, b) = (sorted(nfkc_kana(from_storage), &columns), sorted(nfkc_kana(from_csv), &columns));
    assert_eq!(a.height(), b.height());
    for column in a.columns() {
        let other = b.column(column.name()).unwrap();
        assert!(column.equals_missing(other), "SS-MIX2 and CSV disagree on {}:\n{column:?}\n{other:?}", column.name());
    }
}

#[test]
fn a_broken_ssmix2_message_is_quarantined_without_its_path() {
    let ws = national_workspace(300, 70);
    let root = ws.path("datasets/sample/ssmix2");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { pending.push(p) } else { files.push(p) }
        }
    }
    files.sort();
    let victim = files.iter().position(|f| f.to_string_lossy().contains("PPR-01")).unwrap();
    std::fs::write(
        &files[victim],
        b"MSH|^~\\&|HIS|X|SSMIX2|X|20250101||PPR^ZD1|1|P|2.5\rPRB|AD|20250101|J06.9^x^I10\r",
    )
    .unwrap();
    // A message filed under another patient's folder is counted, not shown.
    let moved = files.iter().position(|f| f.to_string_lossy().contains("ADT-00")).unwrap();
    let other_id = files.iter().rev().find(|f| f.to_string_lossy().contains("ADT-00")).unwrap();
    std::fs::copy(other_id, &files[moved]).unwrap();

    let plan = ws.plan("submission");
    let mut storage = source(&plan, "charts");
    storage.path = root.clone();
    storage.format = tokumei::ingest::Format::SsMix2;
    storage.extract = Some("diagnoses".into());
    let (_, stats) = read(&storage);
    assert_eq!(stats.rows_quarantined, 1);
    let q = &stats.quarantine[0];
    assert_eq!(q.line, victim as u64 + 1, "the message's number in path order");
    assert_eq!(q.file, None, "paths hold patient IDs");
    assert!(q.origin.as_deref().unwrap().starts_with("PID (PPR-01)"), "{q:?}");
    assert_eq!(stats.national.as_ref().unwrap().anomalies.values().sum::<u64>(), 1);
    let json = serde_json::to_string(&stats).unwrap();
    let id = files[victim].iter().rev().nth(3).unwrap().to_str().unwrap();
    assert!(!json.contains(id), "no patient ID from the path in the report");
}

#[test]
fn an_oversized_document_is_rejected_before_it_is_read_whole() {
    let ws = national_workspace(200, 71);
    let mut cda = source(&Plan::load(&ws.path("configs/national.toml")).unwrap(), "checkups");
    let dir = ws.path("big");
    std::fs::create_dir_all(&dir).unwrap();
    // 65 MiB of zeros (sparse): no 特定健診 document is this large.
    std::fs::File::create(dir.join("huge.xml")).unwrap().set_len(65 << 20).unwrap();
    cda.path = dir;
    let error = read_source(&cda, |_| Ok(())).unwrap_err().to_string();
    assert!(error.contains("huge.xml") && error.contains("larger than 64 MiB"), "{error}");
}
