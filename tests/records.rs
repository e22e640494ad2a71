//! The records beside a release (issue 16): the 作成記録 of pseudonymized and anonymized
//! releases and the 提供記録 of submissions, as files and in Japanese in the reports.

use crate::common::Workspace;
use tokumei::Status;

fn json(ws: &Workspace, path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(ws.path(path)).unwrap()).unwrap()
}

#[test]
fn a_creation_record_says_what_was_processed_how_and_what_the_model_reached() {
    let ws = Workspace::generate(800, 51);
    for profile in ["anonymized", "pseudonymized"] {
        let out = format!("out/{profile}");
        assert_eq!(ws.run(profile, &out).status, Status::Released);
        let report = json(&ws, &format!("{out}/report.json"));
        let record = json(&ws, &format!("{out}/creation_record.json"));
        // Listed among the outputs with its digest (the release's manifest covers it).
        let bytes = std::fs::read(ws.path(&format!("{out}/creation_record.json"))).unwrap();
        let listed = report["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["file"] == "creation_record.json" && o["blake3"] == blake3::hash(&bytes).to_hex().as_str());
        assert!(listed, "{profile}: creation_record.json not in the report's outputs");
        assert_eq!(record["kind"], if profile == "anonymized" { "匿名加工医療情報" } else { "仮名加工医療情報" });
        assert_eq!(record["release_label"], report["label"]);
        // Every column of every input, with what was done to it; identifiers deleted.
        let items = record["items"].as_array().unwrap();
        assert_eq!(items.len(), report["transforms"].as_array().unwrap().len());
        let method = |table: &str, column: &str| {
            items.iter().find(|i| i["table"] == table && i["column"] == column).map(|i| i["method"].as_str().unwrap())
        };
        for (table, column) in [("checkups", "my_number"), ("charts", "kana_name"), ("dispensing", "card_number")] {
            assert_eq!(method(table, column), Some("削除"), "{profile}: {table}.{column}");
        }
        assert!(method("charts", "patient_id").is_some_and(|m| m.starts_with(if profile == "anonymized" {
            "削除"
        } else {
            "置換"
        })));
        // Rows released and the opt-out lists applied, as the report has them.
        for (t, a) in record["tables"].as_array().unwrap().iter().zip(report["accounting"].as_array().unwrap()) {
            assert_eq!((&t["table"], &t["rows"]), (&a["table"], &a["written"]));
        }
        let lists: Vec<_> = report["inputs"].as_array().unwrap().iter().filter(|i| i["kind"] == "opt-out").collect();
        assert_eq!(record["opt_out_lists"].as_array().unwrap().len(), lists.len());
        assert_eq!(record["opt_out_lists"][0]["blake3"], lists[0]["blake3"]);
        assert!(record["retain_until_at_least"].as_str().unwrap().starts_with("2029-"));
        let md = std::fs::read_to_string(ws.path(&format!("{out}/report.md"))).unwrap();
        let html = std::fs::read_to_string(ws.path(&format!("{out}/report.html"))).unwrap();
        for text in [&md, &html] {
            assert!(text.contains("作成記録") && text.contains(record["kind"].as_str().unwrap()), "{profile}");
        }
        if profile == "anonymized" {
            let privacy = &record["privacy"];
            let guarantee = &report["stages"]["privacy"]["guarantee"];
            assert_eq!(privacy["k"], 5);
            assert_eq!(privacy["smallest_class"], guarantee["measured"]["min_class"]);
            assert!(privacy["smallest_class"].as_u64().unwrap() >= 5);
            assert_eq!(privacy["model"], guarantee["statement_ja"]);
            assert_eq!(privacy["persons_suppressed"], report["stages"]["privacy"]["suppressed_units"]);
            assert!(md.contains("匿名化の基準"));
        } else {
            assert!(record["privacy"].is_null());
        }
    }
    // A submission keeps its 提供記録, now also in Japanese in its reports; no 作成記録.
    assert_eq!(ws.run("submission", "out/s").status, Status::Released);
    assert!(!ws.path("out/s/creation_record.json").exists());
    let record = json(&ws, "out/s/provision_record.json");
    let md = std::fs::read_to_string(ws.path("out/s/report.md")).unwrap();
    assert!(md.contains("提供記録") && md.contains(record["recipient"].as_str().unwrap()), "{md}");
}
