//! The three profiles end to end on generated populations.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use proptest::prelude::*;
use tokumei::Status;
use tokumei::core::normalize::parse_date;

use crate::common::{PROFILES, Table, Workspace, cells, outputs, read_parquet, text_column};

/// The columns every profile but `anonymized` keeps verbatim, per table: (input header, output
/// column, kind).
/// (input header, output column, kind).
type KeptColumn = (&'static str, &'static str, Kind);

const KEPT: [(&str, &[KeptColumn]); 3] = [
    (
        "checkups",
        &[
            ("受診日", "exam_date", Kind::Date),
            ("身長", "height", Kind::Decimal),
            ("体重", "weight", Kind::Decimal),
            ("収縮期血圧", "systolic_bp", Kind::Integer),
        ],
    ),
    (
        "dispensing",
        &[
            ("調剤日", "dispensing_date", Kind::Date),
            ("医薬品コード", "drug_code", Kind::Text),
            ("数量", "quantity", Kind::Decimal),
            ("点数", "points", Kind::Integer),
        ],
    ),
    (
        "charts",
        &[
            ("受診日", "visit_date", Kind::Date),
            ("傷病名コード", "icd10", Kind::Text),
            ("診療科", "department", Kind::Text),
        ],
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Date,
    Decimal,
    Integer,
    Text,
}

fn canonical(raw: &str, kind: Kind) -> String {
    match kind {
        Kind::Date => parse_date(raw).map(|d| d.to_string()).unwrap_or_default(),
        Kind::Decimal => format!("{:.4}", raw.parse::<f64>().unwrap()),
        Kind::Integer => raw.parse::<i64>().unwrap().to_string(),
        Kind::Text => raw.to_string(),
    }
}

type Multiset = BTreeMap<Vec<String>, usize>;

fn expected_rows(input: &Table, columns: &[(&str, &str, Kind)], removed_lines: &BTreeSet<u64>) -> Multiset {
    let indices: Vec<usize> = columns.iter().map(|(h, _, _)| input.column(h)).collect();
    let mut set = Multiset::new();
    for (line, row) in &input.rows {
        if !removed_lines.contains(line) {
            let key = indices.iter().zip(columns).map(|(&i, (_, _, kind))| canonical(&row[i], *kind)).collect();
            *set.entry(key).or_default() += 1;
        }
    }
    set
}

fn released_rows(frame: &polars::prelude::DataFrame, columns: &[(&str, &str, Kind)]) -> Multiset {
    let texts: Vec<Vec<Option<String>>> = columns.iter().map(|(_, c, _)| text_column(frame, c)).collect();
    let mut set = Multiset::new();
    for row in 0..frame.height() {
        let key = texts
            .iter()
            .zip(columns)
            .map(|(t, (_, _, kind))| canonical(t[row].as_deref().unwrap_or(""), *kind))
            .collect();
        *set.entry(key).or_default() += 1;
    }
    set
}

/// Opted-out persons' rows are gone, and every other row is there: the released rows equal the
/// input rows of the persons who did not opt out, as multisets of their clinical values.
pub(crate) fn assert_exactly_opted_out_removed(ws: &Workspace, profile: &str) {
    let outcome = ws.run(profile, &format!("out/{profile}"));
    assert_eq!(outcome.status, Status::Released);
    let truth = ws.truth();
    assert!(!truth.opted_out.is_empty(), "the population should contain opt-outs");
    let released = outputs(&ws.path(&format!("out/{profile}")));
    for (table, columns) in KEPT {
        let removed = truth.opted_out_lines(table);
        let expected = expected_rows(&ws.input(table), columns, &removed);
        let actual = released_rows(&released[table], columns);
        let missing: Vec<_> = expected.iter().filter(|(k, n)| actual.get(*k) != Some(n)).collect();
        let extra: Vec<_> = actual.iter().filter(|(k, n)| expected.get(*k) != Some(n)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{profile}/{table}: kept rows missing {missing:?}; rows that should be gone {extra:?}"
        );
        let account = outcome.report.accounting.iter().find(|a| a.table == table).unwrap();
        assert_eq!(account.opted_out as usize, removed.len(), "{profile}: opted-out rows of {table}");
        assert_eq!(account.rows_read as usize, truth.rows(table));
        assert!(account.balanced());
    }
}

#[test]
fn submission_and_pseudonymized_remove_exactly_the_opted_out() {
    let ws = Workspace::generate(1_500, 7);
    for profile in ["submission", "pseudonymized"] {
        assert_exactly_opted_out_removed(&ws, profile);
    }
}

#[test]
fn many_shuffle_buckets_release_the_same_rows() {
    let ws = Workspace::generate(600, 31);
    let small = tokumei::RunOptions { bucket_bytes: Some(16 * 1024), ..Default::default() };
    for profile in ["pseudonymized", "anonymized"] {
        let one = ws.run(profile, "out/one-bucket");
        let many = ws.run_with(profile, "out/many-buckets", small.clone());
        assert_eq!(one.report.accounting, many.report.accounting, "{profile}");
        let again = ws.run_with(profile, "out/many-buckets-again", small.clone());
        for (table, columns) in KEPT {
            let a = read_parquet(&ws.path(&format!("out/one-bucket/{table}.parquet")));
            let b = read_parquet(&ws.path(&format!("out/many-buckets/{table}.parquet")));
            if profile == "pseudonymized" {
                assert_eq!(released_rows(&a, columns), released_rows(&b, columns), "{profile}/{table}");
            }
            let mut ids_a = text_column(&a, "person_id");
            let mut ids_b = text_column(&b, "person_id");
            assert_ne!(ids_a, ids_b, "{profile}/{table}: another bucket count gives another order");
            ids_a.sort();
            ids_b.sort();
            assert_eq!(ids_a, ids_b, "{profile}/{table}");
            let c = std::fs::read(ws.path(&format!("out/many-buckets-again/{table}.parquet"))).unwrap();
            assert!(c == std::fs::read(ws.path(&format!("out/many-buckets/{table}.parquet"))).unwrap());
        }
        assert_eq!(again.status, Status::Released);
    }
}

#[test]
fn the_bundled_sample_opt_out_list_is_fully_honoured() {
    let ws = Workspace::bundled();
    assert_exactly_opted_out_removed(&ws, "pseudonymized");
    let outcome = ws.run("anonymized", "out/anonymized");
    assert_eq!(outcome.status, Status::Released, "the main job must release on the sample");
    let truth = ws.truth();
    for account in &outcome.report.accounting {
        assert_eq!(account.opted_out as usize, truth.opted_out_lines(&account.table).len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// Over generated populations: no opted-out person in any output, and nobody else removed.
    #[test]
    fn opt_out_holds_for_any_population(seed in any::<u64>(), persons in 150usize..600) {
        let ws = Workspace::generate(persons, seed);
        assert_exactly_opted_out_removed(&ws, "pseudonymized");
    }
}

#[test]
fn every_row_is_accounted_for_in_every_profile() {
    let ws = Workspace::generate(1_200, 11);
    let truth = ws.truth();
    for profile in PROFILES {
        let outcome = ws.run(profile, &format!("out/{profile}"));
        assert_eq!(outcome.status, Status::Released, "{profile}");
        let released = outputs(&ws.path(&format!("out/{profile}")));
        for account in &outcome.report.accounting {
            assert_eq!(account.rows_read as usize, truth.rows(&account.table));
            assert_eq!(
                account.rows_read,
                account.quarantined + account.opted_out + account.suppressed + account.written
            );
            assert_eq!(account.written as usize, released[&account.table].height(), "{profile}: {}", account.table);
            assert_eq!(account.opted_out as usize, truth.opted_out_lines(&account.table).len());
            let opted_persons = truth.opted_out.iter().filter(|p| truth.lines[*p].contains_key(&account.table)).count();
            assert_eq!(account.persons_opted_out as usize, opted_persons, "{profile}: {}", account.table);
            assert_eq!(
                account.persons_in,
                account.persons_opted_out + account.persons_suppressed + account.persons_written
            );
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ws.path(&format!("out/{profile}/report.json"))).unwrap())
                .unwrap();
        assert_eq!(json["status"], "released");
        assert_eq!(json["stages"]["opt_out"]["persons_removed"].as_u64().unwrap() as usize, truth.opted_out.len());
    }
}

/// Identifiers from every input: names, kana, addresses, phones, My Numbers, card numbers,
/// insurer numbers, patient IDs, receipt numbers.
fn identifiers(ws: &Workspace) -> HashSet<String> {
    let wanted: [(&str, &[&str]); 3] = [
        ("checkups", &["保険者番号", "被保険者証番号", "カナ氏名", "住所", "個人番号"]),
        ("dispensing", &["レセプト番号", "氏名", "カナ氏名", "保険者番号", "被保険者証番号", "処方医氏名"]),
        ("charts", &["患者ID", "氏名", "カナ氏名", "住所", "電話番号"]),
    ];
    let mut values = HashSet::new();
    for (table, headers) in wanted {
        let input = ws.input(table);
        for header in headers {
            let i = input.column(header);
            values.extend(input.rows.iter().map(|(_, r)| r[i].trim().to_string()).filter(|v| !v.is_empty()));
        }
    }
    values
}

#[test]
fn no_identifier_survives_pseudonymization_or_anonymization() {
    let ws = Workspace::generate(800, 3);
    let identifiers = identifiers(&ws);
    // Long identifiers must not appear even inside a cell; short ones not as a whole cell.
    let long: Vec<&String> =
        identifiers.iter().filter(|v| v.chars().count() >= 8 || (!v.is_ascii() && v.chars().count() >= 4)).collect();
    for profile in ["pseudonymized", "anonymized"] {
        let outcome = ws.run(profile, &format!("out/{profile}"));
        assert_eq!(outcome.status, Status::Released);
        for (table, frame) in outputs(&ws.path(&format!("out/{profile}"))) {
            for cell in cells(&frame) {
                assert!(!identifiers.contains(&cell), "{profile}/{table}: an input identifier is a whole output cell");
                for id in &long {
                    assert!(
                        !cell.contains(id.as_str()),
                        "{profile}/{table}: an input identifier appears inside an output cell"
                    );
                }
            }
        }
        // The report and provision files carry no identifier either.
        let report = std::fs::read_to_string(ws.path(&format!("out/{profile}/report.json"))).unwrap();
        for id in &long {
            assert!(!report.contains(id.as_str()), "{profile}: report.json holds an identifier");
        }
    }
}

/// Per released person: the set of quasi-identifier tuples of their rows (their signature),
/// and the set of values of `sensitive` in their rows.
type PersonView = BTreeMap<String, (BTreeSet<Vec<String>>, BTreeSet<String>)>;

fn released_persons(out: &Path, sensitive: &str) -> PersonView {
    let qis = ["birth_date", "sex", "address", "postal_code"];
    let mut persons: PersonView = BTreeMap::new();
    for (_, frame) in outputs(out) {
        let ids = text_column(&frame, "person_id");
        let columns: Vec<Option<Vec<Option<String>>>> =
            qis.iter().map(|q| frame.column(q).ok().map(|_| text_column(&frame, q))).collect();
        let values = frame.column(sensitive).ok().map(|_| text_column(&frame, sensitive));
        for (row, person) in ids.iter().enumerate() {
            let tuple = columns
                .iter()
                .map(|c| c.as_ref().map_or("∅".to_string(), |c| c[row].clone().unwrap_or_else(|| "null".into())))
                .collect();
            let entry = persons.entry(person.clone().unwrap()).or_default();
            entry.0.insert(tuple);
            entry.1.insert(
                values.as_ref().map_or("missing".into(), |v| v[row].clone().unwrap_or_else(|| "missing".into())),
            );
        }
    }
    persons
}

#[test]
fn every_anonymized_class_has_at_least_k_persons() {
    let ws = Workspace::generate(3_000, 5);
    let outcome = ws.run("anonymized", "out/anonymized");
    assert_eq!(outcome.status, Status::Released);
    let k = 5;
    let persons = released_persons(&ws.path("out/anonymized"), "icd10");
    let signatures: BTreeMap<&String, &BTreeSet<Vec<String>>> = persons.iter().map(|(p, (s, _))| (p, s)).collect();
    let mut classes: BTreeMap<&BTreeSet<Vec<String>>, usize> = BTreeMap::new();
    for signature in signatures.values() {
        *classes.entry(*signature).or_default() += 1;
    }
    assert!(!classes.is_empty());
    let smallest = *classes.values().min().unwrap();
    assert!(smallest >= k, "a class of {smallest} persons was released");
    let privacy = &outcome.report.stages.privacy.as_ref().unwrap().solution;
    assert_eq!(privacy.min_class_size as usize, smallest);
    // The page for people: self-contained, with the accounting and the class sizes, smallest first.
    let html = std::fs::read_to_string(ws.path("out/anonymized/report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));
    assert!(
        html.contains(&format!("<td>{smallest} persons</td>")) || html.contains(&format!(">{smallest} persons</text>"))
    );
    let first_bar = html.find(" persons</text>").unwrap();
    assert!(html[..first_bar].ends_with(&format!(">{smallest}")), "the smallest class size comes first");
    assert_eq!(privacy.classes as usize, classes.len());
    // Birth dates are released as bands, never as dates.
    for (_, frame) in outputs(&ws.path("out/anonymized")) {
        for band in text_column(&frame, "birth_date").into_iter().flatten() {
            assert!(parse_date(&band).is_err(), "an exact birth date was released");
        }
    }
}

/// ℓ-diversity over persons in a run: every released class of persons shows at least ℓ distinct
/// diagnoses, checked from the released files; a transformed sensitive column is a config error.
#[test]
fn l_diversity_holds_for_every_released_class_of_persons() {
    let ws = Workspace::generate(2_000, 9);
    let config = ws.path("configs/anonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let diverse = text.replace("[privacy]\nk = 5\n", "[privacy]\nk = 5\nsensitive = \"icd10\"\nl = 3\n");
    assert_ne!(diverse, text);
    std::fs::write(&config, &diverse).unwrap();
    // Refused when the config is read, before any data is.
    let err = tokumei::config::Plan::load(&config).unwrap_err();
    assert!(err.to_string().contains("privacy.sensitive: `icd10` is transformed"), "{err}");
    let kept = diverse.replace("[transform.icd10]\nkind = \"rare-code\"", "[transform.icd10]\nkind = \"keep\"");
    assert_ne!(kept, diverse);
    // Persons seen only in tables without diagnoses form classes whose only value is "missing":
    // they fail ℓ and are suppressed, hence the generous limit.
    std::fs::write(&config, kept.replace("max-suppression = 0.05", "max-suppression = 0.4")).unwrap();
    let outcome = ws.run("anonymized", "out/diverse");
    assert_eq!(outcome.status, Status::Released);
    let persons = released_persons(&ws.path("out/diverse"), "icd10");
    let mut classes: BTreeMap<&BTreeSet<Vec<String>>, (usize, BTreeSet<&String>)> = BTreeMap::new();
    for (signature, values) in persons.values() {
        let class = classes.entry(signature).or_default();
        class.0 += 1;
        class.1.extend(values);
    }
    let privacy = &outcome.report.stages.privacy.as_ref().unwrap().solution;
    assert_eq!(privacy.classes as usize, classes.len());
    for (size, values) in classes.values() {
        assert!(*size >= 5, "a class of {size} persons");
        assert!(values.len() >= 3, "a class with {} distinct diagnoses", values.len());
    }
    assert_eq!(privacy.achieved.l_distinct.unwrap() as usize, classes.values().map(|c| c.1.len()).min().unwrap());
}

#[test]
fn same_inputs_and_key_give_byte_identical_releases() {
    let ws = Workspace::generate(700, 9);
    for profile in PROFILES {
        ws.run(profile, "out/a");
        ws.run(profile, "out/b");
        let mut files: Vec<_> = std::fs::read_dir(ws.path("out/a")).unwrap().map(|e| e.unwrap().file_name()).collect();
        files.sort();
        assert!(files.len() >= 5);
        for file in files {
            let a = std::fs::read(ws.path("out/a").join(&file)).unwrap();
            let b = std::fs::read(ws.path("out/b").join(&file)).unwrap();
            assert!(a == b, "{profile}: {file:?} differs between two identical runs");
        }
    }
}

#[test]
fn pseudonyms_change_with_the_key_and_the_release_label() {
    let ws = Workspace::generate(400, 13);
    ws.run("pseudonymized", "out/first");
    let persons = |dir: &str| -> HashSet<String> {
        text_column(&read_parquet(&ws.path(&format!("{dir}/charts.parquet"))), "person_id")
            .into_iter()
            .flatten()
            .collect()
    };
    let first = persons("out/first");
    // Another release label, same key.
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("label = \"sample-pseudonymized-2026-11\"", "label = \"another-release\""))
        .unwrap();
    ws.run("pseudonymized", "out/relabelled");
    assert!(first.is_disjoint(&persons("out/relabelled")), "two releases must not share pseudonyms");
    // Another key, same label.
    std::fs::write(&config, &text).unwrap();
    std::fs::write(ws.path("configs/keys/DEMO-ONLY-sample.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    ws.run("pseudonymized", "out/rekeyed");
    assert!(first.is_disjoint(&persons("out/rekeyed")));
    // Rows are shuffled: the release is not in input order.
    let visit_dates = text_column(&read_parquet(&ws.path("out/first/charts.parquet")), "visit_date");
    let input = ws.input("charts");
    let input_dates: Vec<Option<String>> =
        input.rows.iter().map(|(_, r)| parse_date(&r[input.column("受診日")]).ok().map(|d| d.to_string())).collect();
    assert_ne!(visit_dates[..20], input_dates[..20]);
}

#[test]
fn a_failed_privacy_target_writes_nothing_and_keeps_the_previous_release() {
    let ws = Workspace::generate(300, 17);
    assert_eq!(ws.run("anonymized", "out/anonymized").status, Status::Released);
    let before = std::fs::read(ws.path("out/anonymized/report.json")).unwrap();
    let config = ws.path("configs/anonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("k = 5\nmax-suppression = 0.05", "k = 400\nmax-suppression = 0.0")).unwrap();
    let outcome = ws.run("anonymized", "out/anonymized");
    assert_eq!(outcome.status, Status::Refused(tokumei::Refusal::PrivacyTargetUnmet));
    assert_eq!(outcome.out, None);
    assert_eq!(std::fs::read(ws.path("out/anonymized/report.json")).unwrap(), before, "previous release untouched");
    let mut leftovers: Vec<_> = std::fs::read_dir(ws.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(leftovers, ["anonymized", "anonymized.refused"], "no partial or work folders left behind");
    let refused = std::fs::read_to_string(ws.path("out/anonymized.refused/report.json")).unwrap();
    assert!(refused.contains("\"status\": \"refused: privacy target not met"), "{refused}");
}

#[test]
fn the_submission_carries_tokens_and_a_provision_record() {
    let ws = Workspace::generate(500, 19);
    let outcome = ws.run("submission", "out/submission");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/submission/provision_record.json")).unwrap())
            .unwrap();
    assert_eq!(record["date"], "2026-11-01");
    assert!(record["recipient"].as_str().unwrap().contains("認定作成事業者"));
    let dispensing = outcome.report.accounting.iter().find(|a| a.table == "dispensing").unwrap();
    let recorded = record["tables"].as_array().unwrap().iter().find(|t| t["table"] == "dispensing").unwrap();
    assert_eq!(recorded["rows"].as_u64().unwrap(), dispensing.written);
    let items: Vec<&str> =
        record["items"]["dispensing"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(items.contains(&"token_name") && !items.contains(&"name") && !items.contains(&"prescriber_facility"));
    let frame = read_parquet(&ws.path("out/submission/dispensing.parquet"));
    let names = text_column(&frame, "token_name");
    assert!(names.iter().all(|t| t.as_ref().is_some_and(|t| t.len() == 32)));
    // One person, one name token, across tables: the producer can link.
    let charts = text_column(&read_parquet(&ws.path("out/submission/charts.parquet")), "token_name");
    let dispensing_tokens: HashSet<&String> = names.iter().flatten().collect();
    let chart_tokens: HashSet<&String> = charts.iter().flatten().collect();
    assert!(dispensing_tokens.intersection(&chart_tokens).count() > 0);
}

#[test]
fn parquet_inputs_read_like_csv() {
    use polars::prelude::*;
    let ws = Workspace::generate(300, 29);
    ws.run("pseudonymized", "out/from-csv");
    // The same checkups as a Parquet file of text columns, as another system might export them.
    let input = ws.input("checkups");
    let columns: Vec<Column> = input
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| Column::new(h.as_str().into(), input.rows.iter().map(|(_, r)| r[i].clone()).collect::<Vec<_>>()))
        .collect();
    let mut frame = DataFrame::new_infer_height(columns).unwrap();
    let file = std::fs::File::create(ws.path("datasets/sample/checkups.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("checkups.csv\"\nencoding = \"cp932\"", "checkups.parquet\"")).unwrap();
    let outcome = ws.run("pseudonymized", "out/from-parquet");
    assert!(ws.plan("pseudonymized").tables[0].source.path.ends_with("checkups.parquet"));
    assert_eq!(outcome.status, Status::Released);
    for table in ["checkups", "dispensing", "charts"] {
        let a = std::fs::read(ws.path(&format!("out/from-csv/{table}.parquet"))).unwrap();
        let b = std::fs::read(ws.path(&format!("out/from-parquet/{table}.parquet"))).unwrap();
        assert!(a == b, "{table}: the Parquet input gave a different release");
    }
}

#[test]
fn a_provider_scoped_list_removes_only_that_providers_rows() {
    let ws = Workspace::generate(1_000, 43);
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let scoped = text.replace(
        "schema = \"schemas/optout.toml\"",
        "schema = \"schemas/optout.toml\"\nscope = \"provider\"\nprovider-tables = [\"charts\"]",
    );
    assert_ne!(scoped, text);
    std::fs::write(&config, scoped).unwrap();
    let outcome = ws.run("pseudonymized", "out/scoped");
    assert_eq!(outcome.status, Status::Released);
    let truth = ws.truth();
    let released = outputs(&ws.path("out/scoped"));
    for (table, columns) in KEPT {
        let removed = if table == "charts" { truth.opted_out_lines(table) } else { BTreeSet::new() };
        let expected = expected_rows(&ws.input(table), columns, &removed);
        assert_eq!(released_rows(&released[table], columns), expected, "{table}");
    }
    assert_eq!(
        outcome.report.stages.opt_out.as_ref().unwrap().lists[0].matching.as_ref().unwrap().scope,
        "provider: charts"
    );
}
