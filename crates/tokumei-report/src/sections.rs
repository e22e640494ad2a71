//! The report's opt-out, linkage and ingest sections as tables, shared by `report.md` and
//! `report.html`: every opt-out entry's fate, every quarantine group, what linkage did.

use serde_json::Value;

use crate::RunReport;

/// Entries listed one by one in the readable reports (all of them are in `report.json`).
const ENTRIES_LISTED: usize = 200;

/// One table of a section.
pub(crate) struct Table {
    pub caption: Option<String>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// A titled group of tables.
pub(crate) struct Section {
    pub heading: &'static str,
    pub note: Option<String>,
    pub tables: Vec<Table>,
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        other => other.to_string(),
    }
}

fn lines(value: &Value) -> String {
    let all: Vec<String> = value.as_array().into_iter().flatten().map(text).collect();
    let mut shown: Vec<String> = all.iter().take(10).cloned().collect();
    if all.len() > 10 {
        shown.push(format!("… ({} in all)", all.len()));
    }
    shown.join(", ")
}

impl RunReport {
    /// The opt-out, linkage and ingest sections, as far as the run got.
    pub(crate) fn detail_sections(&self) -> Vec<Section> {
        let mut sections = Vec::new();
        if let Some(opt_out) = self.stages.get("opt_out") {
            sections.push(opt_out_section(opt_out));
        }
        if let Some(linkage) = self.stages.get("linkage") {
            sections.push(linkage_section(linkage));
        }
        if let Some(ingest) = self.stages.get("ingest").and_then(Value::as_object) {
            sections.push(ingest_section(ingest));
        }
        sections
    }
}

fn opt_out_section(opt_out: &Value) -> Section {
    let lists: Vec<&Value> = opt_out["lists"].as_array().into_iter().flatten().collect();
    let summary = Table {
        caption: None,
        headers: vec![
            "list",
            "kind",
            "scope",
            "entries",
            "matched",
            "matched nobody here",
            "card only (persons removed)",
            "refused (no key)",
            "unreadable",
        ],
        rows: lists
            .iter()
            .map(|l| {
                vec![
                    text(&l["path"]),
                    text(&l["kind"]),
                    text(&l["scope"]),
                    text(&l["entries"]),
                    text(&l["matched"]),
                    l["unmatched_lines"].as_array().map_or(0, Vec::len).to_string(),
                    format!("{} ({})", text(&l["card_only_entries"]), text(&l["card_only_persons"])),
                    l["unresolved"].as_array().map_or(0, Vec::len).to_string(),
                    text(&l["quarantined_entries"]),
                ]
            })
            .collect(),
    };
    let mut tables = vec![summary];
    for l in &lists {
        let by_kind: Vec<Vec<String>> =
            l["matched_by"].as_object().into_iter().flatten().map(|(kind, n)| vec![kind.clone(), text(n)]).collect();
        if !by_kind.is_empty() {
            tables.push(Table {
                caption: Some(format!("{}: entries matched by key kind", text(&l["path"]))),
                headers: vec!["key kind", "entries"],
                rows: by_kind,
            });
        }
        // Every entry's fate, by line: matched (persons), matched nobody, refused, unreadable.
        let mut fates: Vec<(u64, String, String)> = Vec::new();
        for pair in l["persons_by_line"].as_array().into_iter().flatten() {
            fates.push((pair[0].as_u64().unwrap_or(0), "matched".into(), text(&pair[1])));
        }
        for line in l["unmatched_lines"].as_array().into_iter().flatten() {
            fates.push((line.as_u64().unwrap_or(0), "matched nobody in this data".into(), "0".into()));
        }
        for entry in l["unresolved"].as_array().into_iter().flatten() {
            let fields: Vec<String> = entry["fields"].as_array().into_iter().flatten().map(text).collect();
            let has = if fields.is_empty() { "no identifying field".to_string() } else { fields.join(", ") };
            fates.push((entry["line"].as_u64().unwrap_or(0), format!("refused: no key (has {has})"), "—".into()));
        }
        for q in l["quarantine"].as_array().into_iter().flatten() {
            fates.push((
                q["line"].as_u64().unwrap_or(0),
                format!("unreadable: column `{}`, {}", text(&q["column"]), text(&q["problem"])),
                "—".into(),
            ));
        }
        fates.sort();
        let total = fates.len();
        if total > 0 {
            tables.push(Table {
                caption: Some(if total > ENTRIES_LISTED {
                    format!("{}: the first {ENTRIES_LISTED} of {total} entries (all in report.json)", text(&l["path"]))
                } else {
                    format!("{}: every entry", text(&l["path"]))
                }),
                headers: vec!["line", "fate", "persons removed"],
                rows: fates.into_iter().take(ENTRIES_LISTED).map(|(l, f, p)| vec![l.to_string(), f, p]).collect(),
            });
        }
    }
    let removed: Vec<Vec<String>> = opt_out["rows_removed"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(table, n)| vec![table.clone(), text(n)])
        .collect();
    if !removed.is_empty() {
        tables.push(Table {
            caption: Some("rows removed per table".into()),
            headers: vec!["table", "rows"],
            rows: removed,
        });
    }
    Section {
        heading: "Opt-out (提供停止)",
        note: opt_out
            .get("persons_removed")
            .map(|n| format!("{} persons removed from every table their lists cover.", text(n))),
        tables,
    }
}

fn linkage_section(linkage: &Value) -> Section {
    let mut rows = vec![
        vec!["conflict rule".to_string(), text(&linkage["conflict_rule"])],
        vec!["persons found".into(), text(&linkage["persons"])],
        vec!["persons seen in several sources".into(), text(&linkage["persons_in_several_sources"])],
        vec!["namesakes kept apart by address".into(), text(&linkage["kept_apart_by_address"])],
        vec!["twins and household members kept apart on one card".into(), text(&linkage["kept_apart_on_card"])],
        vec!["name conflicts between two insured persons".into(), text(&linkage["name_conflicts"])],
        vec!["rows with no key (a person each)".into(), text(&linkage["keyless_rows"])],
    ];
    for (label, key) in [("rows carrying", "rows_with_key"), ("joins by", "merges")] {
        for (kind, n) in linkage[key].as_object().into_iter().flatten() {
            rows.push(vec![format!("{label} key `{kind}`"), text(n)]);
        }
    }
    Section {
        heading: "Linkage (名寄せ)",
        note: None,
        tables: vec![Table { caption: None, headers: vec!["", ""], rows }],
    }
}

fn ingest_section(ingest: &serde_json::Map<String, Value>) -> Section {
    let summary = Table {
        caption: None,
        headers: vec!["table", "rows read", "accepted", "quarantined", "headers not configured (not read)"],
        rows: ingest
            .iter()
            .map(|(table, s)| {
                vec![
                    table.clone(),
                    text(&s["rows_read"]),
                    text(&s["rows_accepted"]),
                    text(&s["rows_quarantined"]),
                    lines(&s["unmapped_headers"]),
                ]
            })
            .collect(),
    };
    let groups: Vec<Vec<String>> = ingest
        .iter()
        .flat_map(|(table, s)| {
            s["quarantine_summary"].as_array().into_iter().flatten().map(move |g| {
                vec![table.clone(), text(&g["column"]), text(&g["problem"]), text(&g["rows"]), lines(&g["first_lines"])]
            })
        })
        .collect();
    let mut tables = vec![summary];
    if !groups.is_empty() {
        tables.push(Table {
            caption: Some("quarantined rows by column and problem (every row is listed in report.json)".into()),
            headers: vec!["table", "column", "problem", "rows", "first lines"],
            rows: groups,
        });
    }
    Section {
        heading: "Ingest",
        note: Some("A quarantined row is left out, counted and located here; never its values.".into()),
        tables,
    }
}
