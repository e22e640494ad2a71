//! The run report: `report.json` for machines, `report.md` for people.

use std::collections::BTreeMap;

use serde::Serialize;

/// Every input row of one table, accounted for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableAccount {
    /// Table.
    pub table: String,
    /// Data rows in the input file.
    pub rows_read: u64,
    /// Rows quarantined at ingest (a cell could not be typed).
    pub quarantined: u64,
    /// Rows removed because their person opted out.
    pub opted_out: u64,
    /// Persons of this table removed by opt-out.
    pub persons_opted_out: u64,
    /// Rows removed because their person was suppressed for k-anonymity.
    pub suppressed: u64,
    /// Persons of this table suppressed for k-anonymity.
    pub persons_suppressed: u64,
    /// Rows written to the release.
    pub written: u64,
    /// Distinct persons among the rows read (after linkage).
    pub persons_in: u64,
    /// Distinct persons among the rows written.
    pub persons_written: u64,
}

impl TableAccount {
    /// read = quarantined + opted out + suppressed + written.
    pub fn balanced(&self) -> bool {
        self.rows_read == self.quarantined + self.opted_out + self.suppressed + self.written
    }
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFile {
    /// File name in the release folder.
    pub file: String,
    /// Rows (for tables).
    pub rows: Option<u64>,
    /// blake3, hex.
    pub blake3: String,
}

/// One input or config file, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputFile {
    /// Role (`config`, `input:<table>`, `opt-out`).
    pub kind: String,
    /// Path as given.
    pub path: String,
    /// blake3, hex.
    pub blake3: String,
}

/// What was done to one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnTreatment {
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
    /// Role.
    pub role: String,
    /// Transform name.
    pub transform: String,
    /// Details (level chosen, bounds, counts).
    pub detail: String,
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// tokumei version.
    pub tokumei_version: String,
    /// Profile.
    pub profile: String,
    /// Release label.
    pub label: String,
    /// Provision / release date.
    pub date: String,
    /// `released`, or `refused: <reason>` (nothing written; the reason in one line).
    pub status: String,
    /// What the run did not stop for but a reader must know, one line each (opt-out entries
    /// matching nobody, quarantined rows, values a transform could not read).
    pub warnings: Vec<String>,
    /// Inputs and config with digests.
    pub inputs: Vec<InputFile>,
    /// Row accounting per table.
    pub accounting: Vec<TableAccount>,
    /// Column treatments.
    pub transforms: Vec<ColumnTreatment>,
    /// Stage sections (ingest, linkage, opt_out, privacy, risk, rare_codes, top_bottom…).
    pub stages: BTreeMap<String, serde_json::Value>,
    /// Output files with digests (the report files themselves excluded).
    pub outputs: Vec<OutputFile>,
}

impl RunReport {
    /// Whether every table's rows add up.
    pub fn balanced(&self) -> bool {
        self.accounting.iter().all(TableAccount::balanced)
    }

    /// `report.json`.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self).map(|s| s + "\n")
    }

    /// `report.html`: the same summary as a self-contained page, with the class-size histogram.
    pub fn to_html(&self) -> String {
        let mut page = crate::html::Page::new(&format!("tokumei release {} ({})", self.label, self.profile));
        page.table(
            &["", ""],
            &[
                vec!["status".into(), self.status.clone()],
                vec!["date".into(), self.date.clone()],
                vec!["tokumei".into(), self.tokumei_version.clone()],
            ],
        );
        if !self.warnings.is_empty() {
            page.heading("Warnings");
            let rows: Vec<Vec<String>> = self.warnings.iter().map(|w| vec![w.clone()]).collect();
            page.table(&["what the run did not stop for"], &rows);
        }
        page.heading("Rows");
        page.paragraph("Every input row is written, quarantined, removed by opt-out, or suppressed.");
        let rows: Vec<Vec<String>> = self
            .accounting
            .iter()
            .map(|a| {
                vec![
                    a.table.clone(),
                    a.rows_read.to_string(),
                    a.quarantined.to_string(),
                    a.opted_out.to_string(),
                    a.suppressed.to_string(),
                    a.written.to_string(),
                    format!("{} → {}", a.persons_in, a.persons_written),
                    if a.balanced() { "yes" } else { "NO" }.into(),
                ]
            })
            .collect();
        page.table(
            &["table", "read", "quarantined", "opted out", "suppressed", "written", "persons", "adds up"],
            &rows,
        );
        if let Some(privacy) = self.stages.get("privacy") {
            let text = |key: &str| privacy[key].as_str().map_or_else(|| privacy[key].to_string(), str::to_string);
            page.heading("Privacy model");
            page.table(
                &["", ""],
                &[
                    vec!["model".into(), text("model")],
                    vec!["target met".into(), text("target_met")],
                    vec!["classes".into(), text("classes")],
                    vec!["smallest class (k achieved)".into(), text("min_class_size")],
                    vec!["persons suppressed".into(), text("suppressed_units")],
                    vec!["records suppressed".into(), text("suppressed_records")],
                    vec![
                        "search".into(),
                        format!("{} — {} of {} nodes", text("search"), text("nodes_checked"), text("lattice_size")),
                    ],
                ],
            );
            if let Some(levels) = privacy["level_names"].as_object() {
                let rows: Vec<Vec<String>> =
                    levels.iter().map(|(q, l)| vec![q.clone(), l.as_str().unwrap_or_default().to_string()]).collect();
                page.table(&["quasi-identifier", "released as"], &rows);
            }
            if let Some(g) = privacy.get("guarantee") {
                let text = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                page.heading("Guarantee (保証)");
                page.paragraph(&text("statement"));
                page.paragraph(&text("statement_ja"));
                let measured = &g["measured"];
                page.table(
                    &["measured on the released files", ""],
                    &[
                        vec!["persons".into(), measured["persons"].to_string()],
                        vec!["classes".into(), measured["classes"].to_string()],
                        vec!["smallest class".into(), measured["min_class"].to_string()],
                        vec![
                            format!("smallest support of up to {} items", measured["m"]),
                            measured["min_item_support"].to_string(),
                        ],
                    ],
                );
                page.paragraph(&format!("Not covered: {}", text("not_covered")));
            }
            if let Some(levels) = privacy["items"]["level_names"].as_object() {
                let rows: Vec<Vec<String>> =
                    levels.iter().map(|(q, l)| vec![q.clone(), l.as_str().unwrap_or_default().to_string()]).collect();
                page.table(&["event column", "released as"], &rows);
                let items = &privacy["items"];
                page.paragraph(&format!(
                    "{} records, {} with their events suppressed (`*`); {} distinct items released.",
                    items["records"], items["suppressed_records"], items["items"]
                ));
                if let Some(sentence) = joint_sentence(items) {
                    page.paragraph(&sentence);
                }
            }
            if let Some(sizes) = privacy["class_size_distribution"].as_object() {
                let mut numeric: Vec<(u64, f64)> =
                    sizes.iter().filter_map(|(size, n)| Some((size.parse::<u64>().ok()?, n.as_f64()?))).collect();
                numeric.sort_by_key(|&(size, _)| size);
                let bars: Vec<(String, f64)> =
                    numeric.into_iter().take(40).map(|(size, n)| (format!("{size} persons"), n)).collect();
                page.bar_chart("classes per class size (the 40 smallest sizes)", &bars, "classes");
            }
        }
        for section in self.detail_sections() {
            page.heading(section.heading);
            if let Some(note) = &section.note {
                page.paragraph(note);
            }
            for table in &section.tables {
                if let Some(caption) = &table.caption {
                    page.paragraph(caption);
                }
                page.table(&table.headers, &table.rows);
            }
        }
        if !self.outputs.is_empty() {
            page.heading("Files");
            let rows: Vec<Vec<String>> = self
                .outputs
                .iter()
                .map(|o| vec![o.file.clone(), o.rows.map(|r| r.to_string()).unwrap_or_default(), o.blake3.clone()])
                .collect();
            page.table(&["file", "rows", "blake3"], &rows);
        }
        page.finish()
    }

    /// `report.md`: a readable summary.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let line = |md: &mut String, s: String| {
            md.push_str(&s);
            md.push('\n');
        };
        line(&mut md, format!("# tokumei release `{}` ({})\n", self.label, self.profile));
        line(&mut md, format!("- status: **{}**", self.status));
        for warning in &self.warnings {
            line(&mut md, format!("- warning: {warning}"));
        }
        line(&mut md, format!("- date: {}", self.date));
        line(&mut md, format!("- tokumei {}\n", self.tokumei_version));
        line(&mut md, "## Rows\n".into());
        line(&mut md, "Every input row is written, quarantined, removed by opt-out, or suppressed.\n".into());
        line(&mut md, "Rows, with distinct persons in parentheses.\n".into());
        line(&mut md, "| table | read | quarantined | opted out | suppressed | written | adds up |".into());
        line(&mut md, "|---|---:|---:|---:|---:|---:|---|".into());
        for a in &self.accounting {
            line(
                &mut md,
                format!(
                    "| {} | {} ({}) | {} | {} ({}) | {} ({}) | {} ({}) | {} |",
                    a.table,
                    a.rows_read,
                    a.persons_in,
                    a.quarantined,
                    a.opted_out,
                    a.persons_opted_out,
                    a.suppressed,
                    a.persons_suppressed,
                    a.written,
                    a.persons_written,
                    if a.balanced() { "yes" } else { "**NO**" }
                ),
            );
        }
        if let Some(privacy) = self.stages.get("privacy") {
            line(&mut md, "\n## Privacy model\n".into());
            let get = |k: &str| privacy.get(k).map(|v| v.to_string()).unwrap_or_default();
            line(&mut md, format!("- k target: {}, suppression limit: {}", get("k"), get("max_suppression")));
            line(&mut md, format!("- target met: {}", get("target_met")));
            line(
                &mut md,
                format!(
                    "- k achieved (smallest class): {}; largest class: {}",
                    get("min_class_size"),
                    get("max_class_size")
                ),
            );
            line(
                &mut md,
                format!(
                    "- classes: {}; persons suppressed: {} ({} rows)",
                    get("classes"),
                    get("suppressed_units"),
                    get("suppressed_records")
                ),
            );
            line(
                &mut md,
                format!(
                    "- search: {} (optimal: {}), {} of {} lattice nodes checked",
                    get("search"),
                    get("optimal"),
                    get("nodes_checked"),
                    get("lattice_size")
                ),
            );
            if let Some(levels) = privacy.get("level_names").and_then(|l| l.as_object()) {
                line(&mut md, "\n| quasi-identifier | level |\n|---|---|".into());
                for (qi, level) in levels {
                    line(&mut md, format!("| {qi} | {} |", level.as_str().unwrap_or_default()));
                }
            }
            if let Some(items) = privacy.get("items") {
                let get = |k: &str| items.get(k).map(|v| v.to_string()).unwrap_or_default();
                line(
                    &mut md,
                    format!(
                        "\n- events (k^m, m = {}): {} records, {} with their events suppressed; {} distinct items released; smallest support {}; loss {}; {} of {} item-lattice nodes (optimal: {})",
                        get("m"),
                        get("records"),
                        get("suppressed_records"),
                        get("items"),
                        get("min_support"),
                        get("loss"),
                        get("nodes_checked"),
                        get("lattice_size"),
                        get("optimal")
                    ),
                );
                if let Some(sentence) = joint_sentence(items) {
                    line(&mut md, format!("- {sentence}"));
                }
                if let Some(levels) = items.get("level_names").and_then(|l| l.as_object()) {
                    line(&mut md, "\n| event column | level |\n|---|---|".into());
                    for (column, level) in levels {
                        line(&mut md, format!("| {column} | {} |", level.as_str().unwrap_or_default()));
                    }
                }
            }
            if let Some(g) = privacy.get("guarantee") {
                let text = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                line(&mut md, "\n### Guarantee (保証)\n".into());
                line(&mut md, format!("> {}\n", text("statement")));
                line(&mut md, format!("> {}\n", text("statement_ja")));
                let measured = &g["measured"];
                line(
                    &mut md,
                    format!(
                        "Measured on the released files: {} persons in {} classes, smallest class {}, smallest support of up to {} items {}.\n",
                        measured["persons"],
                        measured["classes"],
                        measured["min_class"],
                        measured["m"],
                        measured["min_item_support"]
                    ),
                );
                line(&mut md, format!("Not covered: {}", text("not_covered")));
            }
            if let Some(dist) = privacy.get("class_size_distribution").and_then(|d| d.as_object()) {
                line(&mut md, "\n| class size (persons) | classes |\n|---:|---:|".into());
                let mut sizes: Vec<(u64, &serde_json::Value)> =
                    dist.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
                sizes.sort_by_key(|(size, _)| *size);
                for (size, n) in sizes {
                    line(&mut md, format!("| {size} | {n} |"));
                }
            }
        }
        if let Some(risk) = self.stages.get("risk") {
            line(&mut md, "\n## Re-identification risk (persons, released classes)\n".into());
            for key in ["prosecutor_max", "prosecutor_average", "sample_uniques"] {
                line(&mut md, format!("- {key}: {}", risk.get(key).map(|v| v.to_string()).unwrap_or_default()));
            }
        }
        line(&mut md, "\n## Columns\n".into());
        line(&mut md, "| table | column | role | transform | detail |\n|---|---|---|---|---|".into());
        for t in &self.transforms {
            line(&mut md, format!("| {} | {} | {} | {} | {} |", t.table, t.column, t.role, t.transform, t.detail));
        }
        for section in self.detail_sections() {
            line(&mut md, format!("\n## {}\n", section.heading));
            if let Some(note) = &section.note {
                line(&mut md, format!("{note}\n"));
            }
            for table in &section.tables {
                if let Some(caption) = &table.caption {
                    line(&mut md, format!("{caption}:\n"));
                }
                line(&mut md, format!("| {} |", table.headers.join(" | ")));
                line(&mut md, format!("|{}", "---|".repeat(table.headers.len())));
                for row in &table.rows {
                    let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                    line(&mut md, format!("| {} |", cells.join(" | ")));
                }
                line(&mut md, String::new());
            }
        }
        line(&mut md, "\n## Files\n".into());
        line(&mut md, "| kind | file | blake3 |\n|---|---|---|".into());
        for i in &self.inputs {
            line(&mut md, format!("| {} | {} | `{}` |", i.kind, i.path, i.blake3));
        }
        for o in &self.outputs {
            line(&mut md, format!("| output | {} | `{}` |", o.file, o.blake3));
        }
        md
    }
}

/// What the joint search of relational and item levels did, in one sentence.
fn joint_sentence(items: &serde_json::Value) -> Option<String> {
    let joint = items.get("joint").filter(|j| j.is_object())?;
    let number = |k: &str| joint[k].as_f64().unwrap_or_default();
    if joint["searched"] != true {
        return Some(format!("Joint search not run: {}.", joint["why_not"].as_str().unwrap_or("not asked")));
    }
    let mut raised: BTreeMap<&str, usize> = BTreeMap::new();
    for name in joint["raised"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
        *raised.entry(name).or_default() += 1;
    }
    let raised: Vec<String> = raised.into_iter().map(|(name, n)| format!("{name} +{n}")).collect();
    Some(if raised.is_empty() {
        format!(
            "Joint search: {} coarser demographic levels were tried with their events; none loses less over all \
             quasi-identifying columns (loss {:.3}).",
            number("candidates_evaluated"),
            number("loss")
        )
    } else {
        format!(
            "Joint search: demographic levels raised ({}) so that more events survive; loss over all \
             quasi-identifying columns {:.3} instead of {:.3} ({} candidates tried).",
            raised.join(", "),
            number("loss"),
            number("loss_at_relational_optimum"),
            number("candidates_evaluated")
        )
    })
}
