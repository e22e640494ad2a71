//! `tokumei attack` on Adult: a release of 80 % of the rows (raw, and 5-anonymous), an attacker
//! holding a third of the released persons plus the other 20 % (outsiders); outcomes checked
//! against counts made here from the rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const QIS: [&str; 8] =
    ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"];

fn adult() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/adult")
}

fn tokumei(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

struct Setup {
    dir: tempfile::TempDir,
    header: Vec<String>,
    original: Vec<Vec<String>>,
    attacker: Vec<Vec<String>>,
}

impl Setup {
    fn new() -> Setup {
        let text = std::fs::read_to_string(adult().join("adult.csv")).unwrap();
        let mut lines = text.lines();
        let mut header: Vec<String> = lines.next().unwrap().split(';').map(str::to_string).collect();
        header.push("id".into());
        let rows: Vec<Vec<String>> = lines
            .enumerate()
            .map(|(i, l)| {
                let mut f: Vec<String> = l.split(';').map(str::to_string).collect();
                f.push(format!("r{i}"));
                f
            })
            .collect();
        let cut = rows.len() * 4 / 5;
        let (original, control) = rows.split_at(cut);
        let attacker: Vec<Vec<String>> = original.iter().step_by(3).chain(control.iter()).cloned().collect();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, rows: &[Vec<String>]| {
            let mut out = header.join(";") + "\n";
            for r in rows {
                out.push_str(&(r.join(";") + "\n"));
            }
            std::fs::write(dir.path().join(name), out).unwrap();
        };
        write("original.csv", original);
        write("control.csv", &control[..control.len().min(original.len())]);
        write("attacker.csv", &attacker);
        Setup { dir, header, original: original.to_vec(), attacker }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// The original records as they are: no protection.
    fn raw_release(&self) -> String {
        let out = self.path("raw");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(self.path("original.csv"), format!("{out}/released.csv")).unwrap();
        out
    }

    fn release(&self, k: &str) -> String {
        let out = self.path(&format!("k{k}"));
        let a = adult();
        let (code, stderr) = tokumei(&[
            "anonymize",
            "--input",
            &self.path("original.csv"),
            "--delimiter",
            ";",
            "--qi",
            &QIS.join(","),
            "--hierarchies",
            a.to_str().unwrap(),
            "--k",
            k,
            "--suppression",
            "0.02",
            // Only what the attack reads besides the quasi-identifiers: the scoring identity and
            // the sensitive column.
            "--keep",
            "id,salary-class",
            "--out",
            &out,
        ]);
        assert_eq!(code, 0, "{stderr}");
        out
    }

    fn attack(&self, release: &str) -> serde_json::Value {
        let json = self.path("attack.json");
        let html = self.path("attack.html");
        let a = adult();
        let (code, stderr) = tokumei(&[
            "attack",
            "--release",
            &format!("{release}/released.csv"),
            "--attacker",
            &self.path("attacker.csv"),
            "--delimiter",
            ";",
            "--qi",
            &QIS.join(","),
            "--hierarchies",
            a.to_str().unwrap(),
            "--id",
            "id",
            "--original",
            &self.path("original.csv"),
            "--control",
            &self.path("control.csv"),
            "--sensitive",
            "salary-class",
            "--json",
            &json,
            "--html",
            &html,
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
    }

    fn key<'a>(&self, row: &'a [String]) -> Vec<&'a str> {
        QIS.iter().map(|q| row[self.header.iter().position(|h| h == q).unwrap()].as_str()).collect()
    }
}

#[test]
fn on_the_raw_table_unique_tuples_are_reidentified_and_outsiders_misattributed() {
    let s = Setup::new();
    let raw = s.raw_release();
    let r = s.attack(&raw);
    let mut counts: HashMap<Vec<&str>, u64> = HashMap::new();
    for row in &s.original {
        *counts.entry(s.key(row)).or_default() += 1;
    }
    let ids: std::collections::HashSet<&str> = s.original.iter().map(|r| r.last().unwrap().as_str()).collect();
    let (mut correct, mut wrong, mut ambiguous, mut none) = (0u64, 0u64, 0u64, 0u64);
    for row in &s.attacker {
        let insider = ids.contains(row.last().unwrap().as_str());
        match (counts.get(&s.key(row)).copied().unwrap_or(0), insider) {
            (0, _) => none += 1,
            (1, true) => correct += 1,
            (1, false) => wrong += 1,
            _ => ambiguous += 1,
        }
    }
    let o = &r["linkage"]["overall"];
    assert_eq!(o["correct"], correct);
    assert_eq!(o["wrong"], wrong);
    assert_eq!(o["ambiguous"], ambiguous);
    assert_eq!(o["no_match"], none);
    assert_eq!(r["linkage"]["insiders"].as_u64().unwrap(), s.original.len().div_ceil(3) as u64);
    assert!(r["matching"].as_array().unwrap().iter().all(|m| m["level"] == 0));
    let rate = r["linkage"]["reidentification_rate"].as_f64().unwrap();
    assert!((rate - correct as f64 / s.attacker.len() as f64).abs() < 1e-12);
}

#[test]
fn a_five_anonymous_release_leaves_no_unique_match_and_less_risk() {
    let s = Setup::new();
    let raw = s.attack(&s.raw_release());
    let release = s.release("5");
    let r = s.attack(&release);
    let o = &r["linkage"]["overall"];
    // Every candidate set is a class of ≥ 5 records, or includes suppressed records.
    assert_eq!(o["correct"], 0);
    let insiders = r["linkage"]["insiders"].as_f64().unwrap();
    assert!(o["expected_correct"].as_f64().unwrap() <= insiders / 5.0 + 1e-9);
    assert!(r["linkage"]["by_candidates"].get("1").is_none_or(|b| b["correct"] == 0));
    // The levels found from the release are the levels the anonymizer reported.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{release}/report.json")).unwrap()).unwrap();
    let levels: Vec<u64> = r["matching"].as_array().unwrap().iter().map(|m| m["level"].as_u64().unwrap()).collect();
    let reported: Vec<u64> = QIS.iter().map(|q| report["levels"][q].as_u64().unwrap()).collect();
    assert_eq!(levels, reported);
    // anonymeter-style: less to gain from the 5-anonymous release than from the raw one.
    for attack in ["singling_out", "attribute_inference"] {
        let (a, b) = (r[attack]["risk"].as_f64().unwrap(), raw[attack]["risk"].as_f64().unwrap());
        assert!(a < b, "{attack}: {a} vs raw {b}");
    }
    let (released, control) = (
        raw["singling_out"]["released"]["rate"].as_f64().unwrap(),
        raw["singling_out"]["control"]["rate"].as_f64().unwrap(),
    );
    assert!(released > 2.0 * control, "the raw release singles out its own persons: {released} vs {control}");
}

#[test]
fn the_synthetic_registry_holds_released_persons_and_outsiders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stderr) = tokumei(&["synth", "--persons", "2000", "--seed", "9", "--registry", "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    let truth = std::fs::read_to_string(dir.path().join("truth.csv")).unwrap();
    let with_records: std::collections::HashSet<&str> =
        truth.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let registry = std::fs::read_to_string(dir.path().join("registry.csv")).unwrap();
    let mut lines = registry.lines();
    assert_eq!(lines.next().unwrap(), "person,氏名,カナ氏名,生年月日,性別,郵便番号,住所");
    let (mut insiders, mut outsiders, mut total) = (0, 0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        total += 1;
        assert!(f[3].len() == 10 && (f[4] == "男" || f[4] == "女"), "{line}");
        if f[0].starts_with('X') {
            outsiders += 1;
            assert!(!with_records.contains(f[0]));
        } else if with_records.contains(f[0]) {
            insiders += 1;
        }
    }
    assert!((800..1200).contains(&(total - outsiders)), "about half of 2,000 persons: {total}");
    assert!((150..350).contains(&outsiders), "{outsiders}");
    assert!(insiders > 500, "persons with records are in the registry: {insiders}");
    // The same seed without --registry writes the same other files.
    let plain = tempfile::tempdir().unwrap();
    tokumei(&["synth", "--persons", "2000", "--seed", "9", "--out", plain.path().to_str().unwrap()]);
    for f in ["checkups.csv", "dispensing.csv", "charts.csv", "optout.csv"] {
        assert!(std::fs::read(dir.path().join(f)).unwrap() == std::fs::read(plain.path().join(f)).unwrap(), "{f}");
    }
}

#[test]
fn the_registry_reidentifies_persons_of_a_raw_checkup_release() {
    use std::collections::{BTreeSet, HashSet};
    use tokumei::core::normalize::{Sex, parse_date};
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (code, stderr) = tokumei(&["synth", "--persons", "1500", "--seed", "12", "--registry", "--out", &path("")]);
    assert_eq!(code, 0, "{stderr}");
    // The checkups as released with no protection: birth date, sex and postal code as exported
    // (和暦 or ISO, 1/2), with the true person as the release's person column.
    let truth = std::fs::read_to_string(path("truth.csv")).unwrap();
    let person_of: HashMap<u64, &str> = truth
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1] == "checkups").then(|| (f[2].parse().unwrap(), f[0]))
        })
        .collect();
    let bytes = std::fs::read(path("checkups.csv")).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = |h: &str| headers.iter().position(|x| x == h).unwrap();
    let mut release = String::from("person,生年月日,性別,郵便番号\n");
    let mut released: Vec<(String, [String; 3])> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let r = record.unwrap();
        let person = person_of[&(i as u64 + 2)].to_string();
        let values = [r[at("生年月日")].to_string(), r[at("性別")].to_string(), r[at("郵便番号")].to_string()];
        release.push_str(&format!("{person},{},{},{}\n", values[0], values[1], values[2]));
        released.push((person, values));
    }
    std::fs::write(path("release.csv"), release).unwrap();

    let attack = |normalize: bool| -> serde_json::Value {
        let json = path(if normalize { "n.json" } else { "plain.json" });
        let mut args: Vec<String> = ["attack", "--release", &path("release.csv"), "--attacker", &path("registry.csv")]
            .iter()
            .chain(&["--qi", "生年月日,性別,郵便番号", "--id", "person", "--person", "person", "--json", &json])
            .map(|a| a.to_string())
            .collect();
        if normalize {
            args.extend(["--normalize", "生年月日=date", "--normalize", "性別=sex"].map(String::from));
        }
        let (code, stderr) = tokumei(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    let r = attack(true);
    // The same count here: persons per normalized tuple.
    let norm = |birth: &str, sex: &str, postal: &str| {
        let d = parse_date(birth).map_or_else(|_| birth.to_string(), |d| d.to_string());
        let s = Sex::parse(sex).map_or_else(|| sex.to_string(), |s| s.code().to_string());
        (d, s, postal.to_string())
    };
    let mut persons: HashMap<(String, String, String), BTreeSet<&str>> = HashMap::new();
    for (person, v) in &released {
        persons.entry(norm(&v[0], &v[1], &v[2])).or_default().insert(person);
    }
    let registry = std::fs::read_to_string(path("registry.csv")).unwrap();
    let (mut correct, mut wrong, mut ambiguous, mut none) = (0u64, 0u64, 0u64, 0u64);
    let in_release: HashSet<&str> = released.iter().map(|(p, _)| p.as_str()).collect();
    let mut insiders = 0u64;
    for line in registry.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        insiders += u64::from(in_release.contains(f[0]));
        match persons.get(&norm(f[3], f[4], f[5])) {
            None => none += 1,
            Some(p) if p.len() == 1 => {
                if p.contains(f[0]) {
                    correct += 1
                } else {
                    wrong += 1
                }
            }
            Some(_) => ambiguous += 1,
        }
    }
    let o = &r["linkage"]["overall"];
    assert_eq!((o["correct"].as_u64(), o["wrong"].as_u64()), (Some(correct), Some(wrong)));
    assert_eq!((o["ambiguous"].as_u64(), o["no_match"].as_u64()), (Some(ambiguous), Some(none)));
    assert_eq!(r["linkage"]["insiders"], insiders);
    assert!(
        correct as f64 > 0.9 * insiders as f64,
        "birth date, sex and postal code single out: {correct} of {insiders}"
    );
    // Without normalizing, 和暦 dates and 1/2 against 男/女 match nothing.
    let plain = attack(false);
    assert_eq!(plain["linkage"]["overall"]["correct"], 0);
}
