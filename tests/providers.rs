//! From providers to a release (issue 15): a hospital, a pharmacy and a municipality each send a
//! submission made with their own master key and the producer's token key; the certified producer
//! links them into one anonymized release (configs/providers/*.toml, configs/producer.toml).

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Workspace, cells, read_parquet, text_column};
use tokumei::link::MasterKey;
use tokumei::synth::{SynthSpec, TRUTH_COLUMN};
use tokumei::{Refusal, Status, Truth};

const PROVIDERS: [(&str, &str); 3] = [("hospital", "charts"), ("pharmacy", "dispensing"), ("municipality", "checkups")];

/// A population split across the three providers, with the truth column carried through every
/// schema (provider and producer), so that linkage at the producer can be measured.
fn population(persons: usize, seed: u64) -> Workspace {
    let ws = Workspace::generate_with(SynthSpec {
        persons,
        seed,
        opt_out_rate: 0.03,
        truth_column: true,
        national: false,
        registry: false,
        ..SynthSpec::default()
    });
    let truth = format!(
        "\n[[column]]\nname = \"{TRUTH_COLUMN}\"\nheader = \"{TRUTH_COLUMN}\"\nrole = \"insensitive\"\n\
         reason = \"the synthetic population's truth, to measure linkage (tests only)\"\n"
    );
    for (_, table) in PROVIDERS {
        for schema in [format!("configs/schemas/{table}.toml"), format!("configs/schemas/submission-{table}.toml")] {
            let path = ws.path(&schema);
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text + &truth).unwrap();
        }
    }
    ws
}

/// Each provider's submission run; every one releases.
fn submit(ws: &Workspace) {
    for (provider, _) in PROVIDERS {
        let outcome = ws.run(&format!("providers/{provider}"), &format!("out/providers/{provider}"));
        assert_eq!(outcome.status, Status::Released, "{provider}");
    }
}

/// Each provider's submission rows by true person.
fn submitted_persons(ws: &Workspace, provider: &str, table: &str) -> BTreeMap<String, usize> {
    let frame = read_parquet(&ws.path(&format!("out/providers/{provider}/{table}.parquet")));
    let mut persons = BTreeMap::new();
    for person in text_column(&frame, TRUTH_COLUMN).into_iter().flatten() {
        *persons.entry(person).or_default() += 1;
    }
    persons
}

#[test]
fn the_producer_links_three_providers_as_well_as_one_run_does() {
    let ws = population(3_000, 31);
    submit(&ws);
    let producer = ws.plan("producer");
    // Linkage across providers, by tokens only, against the truth.
    let quality = tokumei::evaluate_linkage(&producer, &Truth::Column(TRUTH_COLUMN.into())).unwrap();
    assert!(quality.precision >= 0.999 && quality.recall >= 0.999, "{quality:#?}");
    assert!(quality.stats.persons_in_several_sources > 1_000, "{quality:#?}");
    // The same measure on the raw exports in one run (the truth file) agrees with it.
    let single =
        tokumei::evaluate_linkage(&ws.plan("pseudonymized"), &Truth::File(ws.path("datasets/sample/truth.csv")))
            .unwrap();
    assert!((single.precision - quality.precision).abs() < 0.001, "{single:#?}\n{quality:#?}");

    let outcome = ws.run("producer", "out/producer");
    assert_eq!(outcome.status, Status::Released);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/producer/report.json")).unwrap()).unwrap();
    let providers = report["stages"]["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 3);
    let mut everyone = BTreeMap::<String, usize>::new();
    for ((provider, table), section) in PROVIDERS.iter().zip(providers) {
        let submitted = submitted_persons(&ws, provider, table);
        for person in submitted.keys() {
            *everyone.entry(person.clone()).or_default() += 1;
        }
        assert_eq!(section["rows"], submitted.values().sum::<usize>(), "{provider}: {section}");
        let persons = section["persons"].as_u64().unwrap() as f64;
        assert!((persons - submitted.len() as f64).abs() <= 0.002 * persons, "{provider}: {section}");
        assert!(section["provider"].as_str().unwrap().contains("(synthetic)"), "{section}");
        assert_eq!(section["tables"][0], format!("{provider}_{table}"));
    }
    // Persons shared: in the truth, how many of each provider's persons another provider has.
    for ((provider, table), section) in PROVIDERS.iter().zip(providers) {
        let shared = submitted_persons(&ws, provider, table).keys().filter(|p| everyone[*p] > 1).count() as f64;
        let reported = section["shared_persons"].as_u64().unwrap() as f64;
        assert!(shared > 100.0 && (reported - shared).abs() <= 0.002 * shared, "{provider}: {section}, {shared}");
    }
}

/// Every identifying value of the providers' exports, as written there.
fn identifiers(ws: &Workspace) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for (_, table) in PROVIDERS {
        let input = ws.input(table);
        for header in ["氏名", "カナ氏名", "患者ID", "被保険者証番号", "住所", "電話番号", "個人番号", "レセプト番号"]
        {
            let Some(column) = input.headers.iter().position(|h| h == header) else { continue };
            values.extend(input.rows.iter().map(|(_, row)| row[column].clone()).filter(|v| v.chars().count() >= 4));
        }
    }
    values
}

#[test]
fn no_identifier_reaches_any_file_the_producer_holds() {
    let ws = population(600, 32);
    submit(&ws);
    assert_eq!(ws.run("producer", "out/producer").status, Status::Released);
    let identifiers = identifiers(&ws);
    assert!(identifiers.len() > 1_000, "{} identifiers", identifiers.len());
    let mut files = 0;
    for folder in ["out/providers/hospital", "out/providers/pharmacy", "out/providers/municipality", "out/producer"] {
        for entry in std::fs::read_dir(ws.path(folder)).unwrap() {
            let path = entry.unwrap().path();
            files += 1;
            if path.extension().is_some_and(|e| e == "parquet") {
                let frame = read_parquet(&path);
                let leaked: Vec<String> = cells(&frame).into_iter().filter(|c| identifiers.contains(c)).collect();
                assert!(leaked.is_empty(), "{}: {} identifying cells", path.display(), leaked.len());
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                let leaked = identifiers.iter().filter(|v| !v.is_ascii() && text.contains(v.as_str())).count();
                assert_eq!(leaked, 0, "{}: {leaked} names or addresses", path.display());
            }
        }
    }
    assert!(files >= 16, "{files} files");
}

#[test]
fn a_provider_keyed_with_another_token_key_is_refused_by_name() {
    let ws = population(300, 33);
    let other = ws.path("configs/keys/other-token.key");
    std::fs::write(&other, MasterKey::file_text(&[0x5c; 32], "another producer's token key")).unwrap();
    let pharmacy = ws.path("configs/providers/pharmacy.toml");
    let text = std::fs::read_to_string(&pharmacy).unwrap();
    std::fs::write(&pharmacy, text.replace("DEMO-ONLY-producer-token.key", "other-token.key")).unwrap();
    submit(&ws);
    let outcome = ws.run("producer", "out/producer");
    let Status::Refused(refusal) = outcome.status else { panic!("released") };
    assert!(matches!(&refusal, Refusal::Submission { table, .. } if table == "pharmacy_dispensing"), "{refusal:?}");
    let message = refusal.to_string();
    assert!(message.contains("サンプル薬局") && message.contains("token key"), "{message}");
    assert!(!ws.path("out/producer").exists(), "nothing released");

    // A submission changed after it was written: refused, naming its provider too.
    std::fs::write(&pharmacy, text).unwrap();
    assert_eq!(ws.run("providers/pharmacy", "out/providers/pharmacy").status, Status::Released);
    let charts = ws.path("out/providers/hospital/charts.parquet");
    let mut bytes = std::fs::read(&charts).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&charts, bytes).unwrap();
    let outcome = ws.run("producer", "out/producer");
    let Status::Refused(refusal) = outcome.status else { panic!("released") };
    let message = refusal.to_string();
    assert!(message.contains("サンプル病院") && message.contains("charts.parquet"), "{message}");
    assert!(!ws.path("out/producer").exists(), "nothing released");
}

/// A patient who opts out at the hospital after its submission was sent: the hospital hands the
/// producer a token list (`optout hash`), which removes that person's hospital records only.
#[test]
fn a_late_opt_out_at_one_provider_removes_its_records_and_no_others() {
    let ws = population(800, 34);
    submit(&ws);
    // Persons in both the hospital's and the pharmacy's submissions.
    let hospital = submitted_persons(&ws, "hospital", "charts");
    let pharmacy = submitted_persons(&ws, "pharmacy", "dispensing");
    let chosen: BTreeSet<String> = hospital.keys().filter(|p| pharmacy.contains_key(*p)).take(5).cloned().collect();
    assert_eq!(chosen.len(), 5);
    // The hospital's late list: each chosen person's card as the chart has it.
    let charts = ws.input("charts");
    let mut list = String::from(
        "保険者番号,被保険者証記号,被保険者証番号,枝番,カナ氏名,生年月日,性別,医療機関コード,患者ID,申出日\n",
    );
    let mut listed = BTreeSet::new();
    for (_, row) in &charts.rows {
        let person = &row[charts.column(TRUTH_COLUMN)];
        if chosen.contains(person) && listed.insert(person.clone()) {
            let cell = |h: &str| row[charts.column(h)].clone();
            list.push_str(&format!(
                ",,,,{},{},{},{},{},2026-11-20\n",
                cell("カナ氏名"),
                cell("生年月日"),
                cell("性別"),
                cell("医療機関コード"),
                cell("患者ID")
            ));
        }
    }
    std::fs::write(ws.path("datasets/sample/late.csv"), list).unwrap();
    let late = ws.path("configs/providers/hospital-late.toml");
    let text = std::fs::read_to_string(ws.path("configs/providers/hospital.toml")).unwrap();
    std::fs::write(&late, text.replace("datasets/sample/optout.csv", "datasets/sample/late.csv")).unwrap();
    let (tokens, _) = tokumei::hash_opt_out_list(&tokumei::config::Plan::load(&late).unwrap(), 0).unwrap();
    assert!(!tokens.contains("ｶ") && tokens.lines().count() == 6, "{tokens}");
    std::fs::write(ws.path("configs/hospital-late.tokens.csv"), tokens).unwrap();
    let producer = ws.path("configs/producer.toml");
    let text = std::fs::read_to_string(&producer).unwrap();
    let list = "\n[[opt-out]]\ntokens = \"hospital-late.tokens.csv\"\nscope = \"provider\"\n\
                provider-tables = [\"hospital_charts\"]\n";
    let at = text.find("# Quasi-identifiers").unwrap();
    std::fs::write(&producer, format!("{}{list}\n{}", &text[..at], &text[at..])).unwrap();

    let outcome = ws.run("producer", "out/producer");
    assert_eq!(outcome.status, Status::Released);
    let released = |table: &str| -> BTreeSet<String> {
        let frame = read_parquet(&ws.path(&format!("out/producer/{table}.parquet")));
        text_column(&frame, TRUTH_COLUMN).into_iter().flatten().collect()
    };
    let charts = released("hospital_charts");
    let dispensing = released("pharmacy_dispensing");
    assert!(chosen.iter().all(|p| !charts.contains(p)), "the hospital's records of the late opt-outs are gone");
    // The privacy model may suppress a person; at most one of the five, not all of them.
    assert!(chosen.iter().filter(|p| dispensing.contains(*p)).count() >= 4, "the pharmacy's records stay");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/producer/report.json")).unwrap()).unwrap();
    let removed: u64 =
        report["accounting"].as_array().unwrap().iter().map(|t| t["opted_out"].as_u64().unwrap_or(0)).sum();
    let hospital_rows: usize = chosen.iter().map(|p| hospital[p]).sum();
    assert_eq!(removed, hospital_rows as u64, "{}", report["accounting"]);
}

/// A submission sealed to the producer and unsealed on arrival is read exactly like the folder the
/// provider wrote: the producer's release is byte-identical.
#[test]
fn an_unsealed_submission_is_read_like_the_folder_it_came_from() {
    let ws = population(300, 35);
    submit(&ws);
    assert_eq!(ws.run("producer", "out/direct").status, Status::Released);
    let tokumei = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let path = |p: &str| ws.path(p).to_str().unwrap().to_string();
    tokumei(&["keygen", "--age", "--out", &path("producer.age")]);
    tokumei(&["seal", &path("out/providers/hospital"), "--to", &path("producer.age.pub"), "--out", &path("h.age")]);
    tokumei(&["unseal", &path("h.age"), "--identity", &path("producer.age"), "--out", &path("received/hospital")]);
    let producer = ws.path("configs/producer.toml");
    let text = std::fs::read_to_string(&producer).unwrap();
    std::fs::write(&producer, text.replace("../out/providers/hospital", "../received/hospital")).unwrap();
    assert_eq!(ws.run("producer", "out/unsealed").status, Status::Released);
    for table in ["hospital_charts", "pharmacy_dispensing", "municipality_checkups"] {
        let read = |out: &str| std::fs::read(ws.path(&format!("{out}/{table}.parquet"))).unwrap();
        assert_eq!(read("out/direct"), read("out/unsealed"), "{table}");
    }
}
