//! The honest guarantee (issue 12): an anonymized release is (k, k^m)-anonymous over everything it
//! releases about a person — the quasi-identifiers, and any m of the person's records' events
//! (dates of care, facilities, pharmacies) — measured here from the released rows alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use tokumei::Status;
use tokumei::synth::SynthSpec;

use crate::common::{Workspace, outputs, text_column};

const QIS: [&str; 4] = ["birth_date", "sex", "postal_code", "address"];
const EVENTS: [&str; 6] =
    ["exam_date", "dispensing_date", "pharmacy_code", "prescriber_facility", "visit_date", "facility_code"];

/// Smallest class and smallest support of up to `m` items within a class, from the released
/// files: a person's class is the set of their quasi-identifier tuples, their items each
/// record's events (table-tagged; all `*` is no item).
fn measure(out: &Path, m: usize) -> (usize, Option<usize>) {
    let mut signature: BTreeMap<String, BTreeSet<Vec<Option<String>>>> = BTreeMap::new();
    let mut items: BTreeMap<String, BTreeSet<(String, Vec<Option<String>>)>> = BTreeMap::new();
    for (table, frame) in outputs(out) {
        let ids = text_column(&frame, "person_id");
        let has = |c: &str| frame.column(c).is_ok();
        let qis: Vec<Option<Vec<Option<String>>>> =
            QIS.iter().map(|q| has(q).then(|| text_column(&frame, q))).collect();
        let events: Vec<Vec<Option<String>>> =
            EVENTS.iter().filter(|e| has(e)).map(|e| text_column(&frame, e)).collect();
        for (row, person) in ids.iter().enumerate() {
            let person = person.clone().unwrap();
            let tuple = qis.iter().map(|c| c.as_ref().and_then(|c| c[row].clone())).collect();
            signature.entry(person.clone()).or_default().insert(tuple);
            let values: Vec<Option<String>> = events.iter().map(|e| e[row].clone()).collect();
            if !values.is_empty() && !values.iter().all(|v| v.as_deref() == Some("*")) {
                items.entry(person).or_default().insert((table.clone(), values));
            }
        }
    }
    let mut classes: BTreeMap<&BTreeSet<Vec<Option<String>>>, Vec<&String>> = BTreeMap::new();
    for (person, sig) in &signature {
        classes.entry(sig).or_default().push(person);
    }
    let min_class = classes.values().map(Vec::len).min().unwrap_or(0);
    let mut min_support: Option<usize> = None;
    for members in classes.values() {
        let mut counts: HashMap<Vec<(String, Vec<Option<String>>)>, usize> = HashMap::new();
        for person in members {
            let mine: Vec<_> = items.get(*person).into_iter().flatten().cloned().collect();
            // Every subset of 1..=m items (m ≤ 2 here).
            for (i, a) in mine.iter().enumerate() {
                *counts.entry(vec![a.clone()]).or_default() += 1;
                if m >= 2 {
                    for b in &mine[i + 1..] {
                        *counts.entry(vec![a.clone(), b.clone()]).or_default() += 1;
                    }
                }
            }
        }
        if let Some(smallest) = counts.values().copied().min() {
            min_support = Some(min_support.map_or(smallest, |s| s.min(smallest)));
        }
    }
    (min_class, min_support)
}

fn set_m(ws: &Workspace, m: usize) {
    let config = ws.path("configs/anonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\nm = 2\n"));
    std::fs::write(&config, text.replace("\nm = 2\n", &format!("\nm = {m}\n"))).unwrap();
}

#[test]
fn an_anonymized_release_is_k_k_m_anonymous_as_measured_from_its_rows() {
    let ws = Workspace::generate_with(SynthSpec { persons: 4_000, seed: 29, ..SynthSpec::default() });
    let outcome = ws.run("anonymized", "out/a");
    assert_eq!(outcome.status, Status::Released);
    let (min_class, min_support) = measure(&ws.path("out/a"), 2);
    assert!(min_class >= 5, "{min_class}");
    assert!(min_support.is_none_or(|s| s >= 5), "{min_support:?}");
    // The report says what the rows say.
    let privacy = outcome.report.stages.privacy.as_ref().unwrap();
    let guarantee = privacy.guarantee.as_ref().unwrap();
    assert_eq!(guarantee.measured.min_class, min_class as u64);
    assert_eq!(guarantee.measured.min_item_support, min_support.map(|s| s as u64));
    assert!(guarantee.statement.contains("up to 2 of the records of their care"));
    assert!(guarantee.statement_ja.contains("該当者は必ず 5 人以上"));
    let md = std::fs::read_to_string(ws.path("out/a/report.md")).unwrap();
    assert!(md.contains("### Guarantee (保証)"), "{md}");
    // Relational and item levels chosen together: the loss over all quasi-identifying columns is
    // the one reported, and never above the relational optimum's.
    let items = privacy.items.as_ref().unwrap();
    let joint = &items.joint;
    assert!(joint.searched, "{joint:?}");
    assert!(joint.candidates_evaluated >= 1, "{joint:?}");
    let (qis, events) = (privacy.solution.levels.len() as f64, items.solution.levels.len() as f64);
    let combined = (qis * privacy.solution.utility["loss"] + events * items.solution.loss) / (qis + events);
    assert!((joint.loss - combined).abs() < 1e-9, "{joint:?} vs {combined}");
    assert!(joint.loss <= joint.loss_at_relational_optimum, "{joint:?}");
    assert!(md.contains("Joint search"), "{md}");
    // With m = 0, written out, events go out finer, and two of them single persons out.
    set_m(&ws, 0);
    let outcome = ws.run("anonymized", "out/m0");
    assert_eq!(outcome.status, Status::Released);
    let (min_class, min_support) = measure(&ws.path("out/m0"), 2);
    assert!(min_class >= 5);
    assert!(min_support.is_some_and(|s| s < 5), "m = 0 protects the quasi-identifiers only: {min_support:?}");
    let privacy = outcome.report.stages.privacy.as_ref().unwrap();
    assert_eq!(privacy.items.as_ref().unwrap().solution.suppressed_records, 0);
    assert_eq!(privacy.guarantee.as_ref().unwrap().m, 0);
}

#[test]
fn a_date_or_facility_is_insensitive_only_with_a_reason() {
    let ws = Workspace::generate(200, 30);
    let schema = ws.path("configs/schemas/charts.toml");
    let text = std::fs::read_to_string(&schema).unwrap();
    let visit = "name = \"visit_date\"\nheader = \"受診日\"\ntype = \"date\"\nrole = ";
    assert!(text.contains(&format!("{visit}\"event\"")), "{text}");
    std::fs::write(&schema, text.replace(&format!("{visit}\"event\""), &format!("{visit}\"insensitive\""))).unwrap();
    let problems = match tokumei::config::Plan::load(&ws.path("configs/anonymized.toml")) {
        Err(tokumei::config::Error::Invalid(problems)) => problems,
        other => panic!("{other:?}"),
    };
    assert!(problems.iter().any(|p| p.to_string().contains("`visit_date`") && p.message.contains("when and where")));
    let text = std::fs::read_to_string(&schema).unwrap();
    let reason = "reason = \"visit dates are already public in this registry\"";
    std::fs::write(
        &schema,
        text.replace(&format!("{visit}\"insensitive\""), &format!("{visit}\"insensitive\"\n{reason}")),
    )
    .unwrap();
    let outcome = ws.run("anonymized", "out/a");
    assert_eq!(outcome.status, Status::Released);
    let visit = outcome.report.transforms.iter().find(|t| t.column == "visit_date").unwrap();
    assert!(visit.detail.contains("already public in this registry"), "{}", visit.detail);
}

/// The bundled profile meets (5, 5²) on a 20,000-person population, measured from the rows.
#[test]
fn the_bundled_profile_meets_5_5_squared_on_20000_persons() {
    let ws = Workspace::generate_with(SynthSpec { persons: 20_000, seed: 33, ..SynthSpec::default() });
    let outcome = ws.run("anonymized", "out/a");
    assert_eq!(outcome.status, Status::Released);
    let (min_class, min_support) = measure(&ws.path("out/a"), 2);
    assert!(min_class >= 5 && min_support.is_none_or(|s| s >= 5), "{min_class} {min_support:?}");
    // Not by hiding every event: some event column still shows something.
    let levels = &outcome.report.stages.privacy.as_ref().unwrap().items.as_ref().unwrap().level_names;
    assert!(levels.values().any(|l| l != "suppressed (*)"), "{levels:?}");
}

/// On the bundled 2,000-person sample the relational optimum alone leaves classes so small that
/// every event would go out as `*`; chosen together, coarser birth dates keep some events.
#[test]
fn relational_and_item_levels_chosen_together_keep_events_on_the_bundled_sample() {
    let ws = Workspace::bundled();
    let outcome = ws.run("anonymized", "out/a");
    assert_eq!(outcome.status, Status::Released);
    let items = outcome.report.stages.privacy.as_ref().unwrap().items.as_ref().unwrap();
    let joint = &items.joint;
    assert!(!joint.raised.is_empty(), "{joint:?}");
    assert!(joint.loss < joint.loss_at_relational_optimum, "{joint:?}");
    let levels = &items.level_names;
    assert!(levels.values().any(|l| l != "suppressed (*)"), "{levels:?}");
    let (min_class, min_support) = measure(&ws.path("out/a"), 2);
    assert!(min_class >= 5 && min_support.is_some_and(|s| s >= 5), "{min_class} {min_support:?}");
}
