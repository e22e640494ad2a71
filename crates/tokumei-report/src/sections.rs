//! The report's opt-out, linkage and ingest sections as tables, shared by `report.md` and
//! `report.html`: every opt-out entry's fate, every quarantine group, what linkage did.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tokumei_ingest::IngestStats;
use tokumei_link::{KeyKind, LinkStats};

use crate::RunReport;
use crate::stages::{OptOutSection, ProviderSection};

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

/// A value as a cell: its `report.json` form, strings unquoted, booleans as yes/no.
fn cell<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_value(value).map(|v| text(&v)).unwrap_or_default()
}

/// Counts by key kind, in the order `report.json` lists them (by name).
fn by_name(counts: &BTreeMap<KeyKind, u64>) -> Vec<(&'static str, u64)> {
    let mut named: Vec<(&'static str, u64)> = counts.iter().map(|(kind, &n)| (kind.name(), n)).collect();
    named.sort();
    named
}

fn lines<T: Serialize>(values: &[T]) -> String {
    let mut shown: Vec<String> = values.iter().take(10).map(cell).collect();
    if values.len() > 10 {
        shown.push(format!("… ({} in all)", values.len()));
    }
    shown.join(", ")
}

impl RunReport {
    /// The opt-out, linkage and ingest sections, as far as the run got.
    pub(crate) fn detail_sections(&self) -> Vec<Section> {
        let mut sections = self.record.as_ref().map(|r| r.sections()).unwrap_or_default();
        if let Some(opt_out) = &self.stages.opt_out {
            sections.push(opt_out_section(opt_out));
        }
        if let Some(linkage) = &self.stages.linkage {
            sections.push(linkage_section(linkage));
        }
        if let Some(providers) = &self.stages.providers {
            sections.push(providers_section(providers));
        }
        if let Some(ingest) = &self.stages.ingest {
            sections.push(ingest_section(ingest));
        }
        sections
    }
}

fn opt_out_section(opt_out: &OptOutSection) -> Section {
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
        rows: opt_out
            .lists
            .iter()
            .map(|l| match &l.matching {
                Some(m) => vec![
                    l.path.clone(),
                    m.kind.clone(),
                    m.scope.clone(),
                    m.matched.entries.to_string(),
                    m.matched.matched.to_string(),
                    m.matched.unmatched_lines.len().to_string(),
                    format!("{} ({})", m.matched.card_only_entries, m.matched.card_only_persons),
                    m.matched.unresolved.len().to_string(),
                    l.quarantined_entries.to_string(),
                ],
                // Unreadable: nothing was matched.
                None => vec![
                    l.path.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    "0".into(),
                    " ()".into(),
                    "0".into(),
                    l.quarantined_entries.to_string(),
                ],
            })
            .collect(),
    };
    let mut tables = vec![summary];
    for l in &opt_out.lists {
        let matched = l.matching.as_ref().map(|m| &m.matched);
        let by_kind: Vec<Vec<String>> = matched
            .map(|m| by_name(&m.matched_by))
            .unwrap_or_default()
            .into_iter()
            .map(|(kind, n)| vec![kind.to_string(), n.to_string()])
            .collect();
        if !by_kind.is_empty() {
            tables.push(Table {
                caption: Some(format!("{}: entries matched by key kind", l.path)),
                headers: vec!["key kind", "entries"],
                rows: by_kind,
            });
        }
        // Every entry's fate, by line: matched (persons), matched nobody, refused, unreadable.
        let mut fates: Vec<(u64, String, String)> = Vec::new();
        if let Some(m) = matched {
            for &(line, persons) in &m.persons_by_line {
                fates.push((line, "matched".into(), persons.to_string()));
            }
            for &line in &m.unmatched_lines {
                fates.push((line, "matched nobody in this data".into(), "0".into()));
            }
            for entry in &m.unresolved {
                let fields: Vec<String> = entry.fields.iter().map(cell).collect();
                let has = if fields.is_empty() { "no identifying field".to_string() } else { fields.join(", ") };
                fates.push((entry.line, format!("refused: no key (has {has})"), "—".into()));
            }
        }
        for q in &l.quarantine {
            fates.push((q.line, format!("unreadable: column `{}`, {}", q.column, cell(&q.problem)), "—".into()));
        }
        fates.sort();
        let total = fates.len();
        if total > 0 {
            tables.push(Table {
                caption: Some(if total > ENTRIES_LISTED {
                    format!("{}: the first {ENTRIES_LISTED} of {total} entries (all in report.json)", l.path)
                } else {
                    format!("{}: every entry", l.path)
                }),
                headers: vec!["line", "fate", "persons removed"],
                rows: fates.into_iter().take(ENTRIES_LISTED).map(|(l, f, p)| vec![l.to_string(), f, p]).collect(),
            });
        }
    }
    let removed: Vec<Vec<String>> =
        opt_out.rows_removed.iter().flatten().map(|(table, n)| vec![table.clone(), n.to_string()]).collect();
    if !removed.is_empty() {
        tables.push(Table {
            caption: Some("rows removed per table".into()),
            headers: vec!["table", "rows"],
            rows: removed,
        });
    }
    Section {
        heading: "Opt-out (提供停止)",
        note: opt_out.persons_removed.map(|n| format!("{n} persons removed from every table their lists cover.")),
        tables,
    }
}

fn linkage_section(linkage: &LinkStats) -> Section {
    let mut rows = vec![
        vec!["conflict rule".to_string(), cell(&linkage.conflict_rule)],
        vec!["persons found".into(), linkage.persons.to_string()],
        vec!["persons seen in several sources".into(), linkage.persons_in_several_sources.to_string()],
        vec!["namesakes kept apart by address".into(), linkage.kept_apart_by_address.to_string()],
        vec!["twins and household members kept apart on one card".into(), linkage.kept_apart_on_card.to_string()],
        vec!["name conflicts between two insured persons".into(), linkage.name_conflicts.to_string()],
        vec!["rows with no key (a person each)".into(), linkage.keyless_rows.to_string()],
    ];
    for (label, counts) in [("rows carrying", &linkage.rows_with_key), ("joins by", &linkage.merges)] {
        for (kind, n) in by_name(counts) {
            rows.push(vec![format!("{label} key `{kind}`"), n.to_string()]);
        }
    }
    Section {
        heading: "Linkage (名寄せ)",
        note: None,
        tables: vec![Table { caption: None, headers: vec!["", ""], rows }],
    }
}

fn providers_section(providers: &[ProviderSection]) -> Section {
    let rows = providers
        .iter()
        .map(|p| {
            vec![
                p.provider.clone(),
                p.label.clone(),
                p.tables.join(", "),
                p.rows.to_string(),
                p.persons.to_string(),
                p.shared_persons.to_string(),
            ]
        })
        .collect();
    Section {
        heading: "Providers' submissions",
        note: Some("Persons shared: linked to a person in another provider's submission.".into()),
        tables: vec![Table {
            caption: None,
            headers: vec!["provider", "submission", "tables", "rows", "persons", "persons shared"],
            rows,
        }],
    }
}

fn ingest_section(ingest: &BTreeMap<String, IngestStats>) -> Section {
    let summary = Table {
        caption: None,
        headers: vec!["table", "rows read", "accepted", "quarantined", "headers not configured (not read)"],
        rows: ingest
            .iter()
            .map(|(table, s)| {
                vec![
                    table.clone(),
                    s.rows_read.to_string(),
                    s.rows_accepted.to_string(),
                    s.rows_quarantined.to_string(),
                    lines(&s.unmapped_headers),
                ]
            })
            .collect(),
    };
    let groups: Vec<Vec<String>> = ingest
        .iter()
        .flat_map(|(table, s)| {
            s.quarantine_summary.iter().map(move |g| {
                vec![table.clone(), g.column.clone(), cell(&g.problem), g.rows.to_string(), lines(&g.first_lines)]
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
