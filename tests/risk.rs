//! `tokumei risk` on the reference table and on longitudinal data, checked against counts made
//! here from the rows.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn adult() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/adult")
}

fn tokumei(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn risk_json(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("risk.json");
    let mut all = vec!["risk"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let (code, stderr) = tokumei(&all);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn adult_classes_uniques_and_diversity_match_a_count_from_the_rows() {
    let qis = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"];
    let csv = adult().join("adult.csv");
    let r = risk_json(&[
        "--input",
        csv.to_str().unwrap(),
        "--delimiter",
        ";",
        "--qi",
        &qis.join(","),
        "--sensitive",
        "salary-class",
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let index: Vec<usize> = qis.iter().map(|q| header.iter().position(|h| h == q).unwrap()).collect();
    let salary = header.iter().position(|h| *h == "salary-class").unwrap();
    let mut classes: HashMap<Vec<&str>, (u64, HashSet<&str>)> = HashMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(';').collect();
        let class = classes.entry(index.iter().map(|&i| fields[i]).collect()).or_default();
        class.0 += 1;
        class.1.insert(fields[salary]);
    }
    let rows: u64 = classes.values().map(|c| c.0).sum();
    assert_eq!(r["rows"], rows);
    assert_eq!(r["classes"], classes.len() as u64);
    assert_eq!(r["sample_uniques"], classes.values().filter(|c| c.0 == 1).count() as u64);
    assert_eq!(r["k"], classes.values().map(|c| c.0).min().unwrap());
    assert_eq!(r["l_distinct"], classes.values().map(|c| c.1.len() as u64).min().unwrap());
    let average = classes.len() as f64 / rows as f64;
    assert!((r["prosecutor"]["average"].as_f64().unwrap() - average).abs() < 1e-12);
    assert_eq!(r["journalist"], r["prosecutor"], "no population table: bounded by the sample");
    assert!(r["t_closeness"].as_f64().unwrap() > 0.0);
    // Dropping a quasi-identifier can only merge classes; without age, count them here.
    for q in qis {
        assert!(r["contribution"][q]["prosecutor_average_drop"].as_f64().unwrap() >= 0.0, "{q}");
    }
    let without_age: HashSet<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(';').collect();
            index.iter().filter(|&&i| header[i] != "age").map(|&i| fields[i]).collect()
        })
        .collect();
    let expected = without_age.len() as f64 / rows as f64;
    let got = r["contribution"]["age"]["prosecutor_average_without"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
}

#[test]
fn an_anonymized_release_has_the_k_its_report_claims() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adult");
    let qis = "sex,age,race,marital-status,education,native-country,workclass,occupation";
    let a = adult();
    let (code, stderr) = tokumei(&[
        "anonymize",
        "--input",
        a.join("adult.csv").to_str().unwrap(),
        "--delimiter",
        ";",
        "--qi",
        qis,
        "--hierarchies",
        a.to_str().unwrap(),
        "--k",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let released = out.join("released.csv");
    let r = risk_json(&["--input", released.to_str().unwrap(), "--delimiter", ";", "--qi", qis]);
    assert_eq!(r["k"], report["min_class_size"]);
    assert_eq!(r["classes"], report["classes"]);
    assert_eq!(r["sample_uniques"], 0);
}

#[test]
fn with_a_person_column_classes_count_persons() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("visits.csv");
    // p1 and p2 share both of their tuples; p3 has one of them only; p4 has a row of its own.
    std::fs::write(&csv, "person,age,sex\np1,40,1\np1,41,1\np2,41,1\np2,40,1\np2,40,1\np3,40,1\np4,70,2\n").unwrap();
    let rows = risk_json(&["--input", csv.to_str().unwrap(), "--qi", "age,sex"]);
    assert_eq!((rows["rows"].as_u64(), rows["classes"].as_u64()), (Some(7), Some(3)));
    let persons = risk_json(&["--input", csv.to_str().unwrap(), "--qi", "age,sex", "--person", "person"]);
    assert_eq!(persons["unit"], "persons");
    assert_eq!(persons["rows"], 4);
    assert_eq!(persons["classes"], 3);
    assert_eq!(persons["sample_uniques"], 2);
    assert_eq!(persons["k"], 1);
    let html = dir.path().join("risk.html");
    let (code, stderr) =
        tokumei(&["risk", "--input", csv.to_str().unwrap(), "--qi", "age,sex", "--html", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("sample uniques") && page.contains("Contribution"));
    assert!(
        !page.contains("<script") && page.matches("http").count() == page.matches("http://www.w3.org/2000/svg").count()
    );
    let (code, stderr) = tokumei(&["risk", "--input", csv.to_str().unwrap(), "--qi", "age,height"]);
    assert_eq!(code, 2);
    // The columns that are there are named: headers are not patient data.
    assert!(stderr.contains("no column `height` (it has `person`, `age`, `sex`)"), "{stderr}");
}

/// Population uniqueness needs a population; Dankar's rule takes Pitman for small sampling
/// fractions and Zayatz or SNB for large ones.
#[test]
fn population_uniqueness_follows_dankars_rule() {
    let csv = adult().join("adult.csv");
    let qis = "sex,age,race,marital-status,education,native-country,workclass,occupation";
    let base = ["--input", csv.to_str().unwrap(), "--delimiter", ";", "--qi", qis];
    let japan = risk_json(&[&base[..], &["--population", "124000000"]].concat());
    let p = &japan["population_uniqueness"];
    for model in ["pitman", "zayatz"] {
        let v = p[model].as_f64().unwrap();
        assert!(v > 0.0 && v < 1.0, "{model}: {v}");
    }
    assert_eq!(p["dankar_model"], "pitman");
    assert_eq!(p["dankar"], p["pitman"]);
    let town = risk_json(&[&base[..], &["--population", "40000"]].concat());
    let p = &town["population_uniqueness"];
    assert!(p["sampling_fraction"].as_f64().unwrap() > 0.1);
    assert!(matches!(p["dankar_model"].as_str(), Some("zayatz" | "snb")), "{p}");
    // A population smaller than the table is a mistake.
    let mut args = vec!["risk"];
    args.extend_from_slice(&base);
    args.extend_from_slice(&["--population", "100"]);
    let (code, stderr) = tokumei(&args);
    assert_eq!(code, 2);
    assert!(stderr.contains("must be at least"), "{stderr}");
}

#[test]
fn suda2_scores_exactly_the_sample_uniques_of_adult() {
    let qis = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"];
    let csv = adult().join("adult.csv");
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("suda.csv");
    let r = risk_json(&[
        "--input",
        csv.to_str().unwrap(),
        "--delimiter",
        ";",
        "--qi",
        &qis.join(","),
        "--suda2-scores",
        scores.to_str().unwrap(),
    ]);
    let s = &r["suda2"];
    assert_eq!(s["records_with_msu"], r["sample_uniques"], "every sample unique has an MSU; nobody else");
    assert_eq!(s["max_size"], 8);
    assert_eq!(s["dis_fraction"], 0.01);
    let msus: u64 = s["msu_sizes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(s["msus"], msus);
    // Per record: a score exactly for the rows in classes of size 1, counted here.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let index: Vec<usize> = qis.iter().map(|q| header.iter().position(|h| h == q).unwrap()).collect();
    let keys: Vec<Vec<&str>> =
        lines.map(|l| l.split(';').collect::<Vec<_>>()).map(|f| index.iter().map(|&i| f[i]).collect()).collect();
    let mut sizes: HashMap<&Vec<&str>, u64> = HashMap::new();
    for k in &keys {
        *sizes.entry(k).or_default() += 1;
    }
    let written = std::fs::read_to_string(&scores).unwrap();
    let rows: Vec<(u32, f64, f64)> = written
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), keys.len());
    let mut dis_sum = 0.0;
    let mut dis_max: f64 = 0.0;
    for (key, (msus, score, dis)) in keys.iter().zip(&rows) {
        assert_eq!(*msus > 0, sizes[key] == 1);
        assert!(*score == 0.0 || sizes[key] == 1);
        assert!((0.0..=1.0).contains(dis));
        dis_sum += dis;
        dis_max = dis_max.max(*dis);
    }
    assert!((s["dis_sum"].as_f64().unwrap() - dis_sum).abs() < 1e-6 * dis_sum.max(1.0));
    assert!((s["dis_max"].as_f64().unwrap() - dis_max).abs() < 1e-9);
    // A smaller search finds fewer MSUs; never is never.
    let small = risk_json(&[
        "--input",
        csv.to_str().unwrap(),
        "--delimiter",
        ";",
        "--qi",
        &qis.join(","),
        "--suda-max-size",
        "2",
    ]);
    assert!(small["suda2"]["msus"].as_u64().unwrap() < msus);
    let never =
        risk_json(&["--input", csv.to_str().unwrap(), "--delimiter", ";", "--qi", "age,sex", "--suda2", "never"]);
    assert!(never["suda2"]["skipped"].as_str().unwrap().contains("never"));
}

#[test]
fn journalist_risk_from_a_population_table() {
    let dir = tempfile::tempdir().unwrap();
    // The sample: (30, M) twice, (40, F) once. The population: (30, M) 10 times (aggregated), (40,
    // F) 4 times, and others.
    let sample = dir.path().join("sample.csv");
    std::fs::write(&sample, "age,sex\n30,M\n30,M\n40,F\n").unwrap();
    let population = dir.path().join("population.csv");
    std::fs::write(&population, "age,sex,n\n30,M,6\n30,M,4\n40,F,4\n50,F,100\n").unwrap();
    let base = ["--input", sample.to_str().unwrap(), "--qi", "age,sex"];
    let r = risk_json(
        &[&base[..], &["--population-table", population.to_str().unwrap(), "--population-count", "n"]].concat(),
    );
    assert_eq!(r["journalist_population"], "population table");
    assert_eq!(r["journalist"]["max"], 0.25);
    let expected = (2.0 / 10.0 + 1.0 / 4.0) / 3.0;
    assert!((r["journalist"]["average"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert!((r["marketer"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert_eq!(r["prosecutor"]["max"], 1.0, "the prosecutor risk is the sample's");
    // A population that does not contain the sample is an error, not a risk below the truth.
    std::fs::write(&population, "age,sex,n\n30,M,1\n40,F,4\n").unwrap();
    let (code, stderr) = tokumei(
        &[&["risk"][..], &base[..], &["--population-table", population.to_str().unwrap(), "--population-count", "n"]]
            .concat(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("must contain the sample"), "{stderr}");
}

#[test]
fn the_json_always_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "age,sex\n30,M\n30,M\n40,F\n").unwrap();
    let r = risk_json(&["--input", csv.to_str().unwrap(), "--qi", "age,sex"]);
    for key in [
        "rows",
        "classes",
        "sample_uniques",
        "prosecutor",
        "journalist",
        "marketer",
        "population_uniqueness",
        "k",
        "l_distinct",
        "t_closeness",
        "suda2",
    ] {
        assert!(r.get(key).is_some(), "{key} missing");
    }
    for (outer, inner) in [
        ("prosecutor", "max"),
        ("prosecutor", "average"),
        ("journalist", "max"),
        ("journalist", "average"),
        ("suda2", "dis_max"),
        ("suda2", "dis_sum"),
    ] {
        assert!(r[outer].get(inner).is_some(), "{outer}.{inner} missing");
    }
    assert!(
        r["l_distinct"].is_null() && r["population_uniqueness"].is_null(),
        "null without --sensitive / --population"
    );
    let p = risk_json(&["--input", csv.to_str().unwrap(), "--qi", "age,sex", "--population", "1000"]);
    for key in ["pitman", "zayatz", "snb", "dankar"] {
        assert!(p["population_uniqueness"].get(key).is_some(), "{key}");
    }
}
