//! The run report: `report.json` for machines, `report.md` for people.

use serde::Serialize;

use crate::stages::Stages;

/// A value as `report.json` writes it (strings quoted), for the readable reports.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

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
    /// Submissions: the fingerprint of the certified producer's token key the tokens are keyed
    /// with (never the key), so the producer can check it issued that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_key_fingerprint: Option<String>,
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
    /// Stage sections (ingest, linkage, opt_out, privacy, risk), as far as the run got; keys
    /// sorted at every level.
    #[serde(serialize_with = "Stages::serialize_sorted")]
    pub stages: Stages,
    /// Output files with digests (the report files themselves excluded).
    pub outputs: Vec<OutputFile>,
    /// The 提供記録 or 作成記録 written beside the release (its own file; rendered in Japanese in
    /// `report.md` and `report.html`).
    #[serde(skip)]
    pub record: Option<crate::records::LegalRecord>,
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
        let mut about = vec![
            vec!["status".into(), self.status.clone()],
            vec!["date".into(), self.date.clone()],
            vec!["tokumei".into(), self.tokumei_version.clone()],
        ];
        if let Some(fingerprint) = &self.token_key_fingerprint {
            about.push(vec!["producer's token key (fingerprint)".into(), fingerprint.clone()]);
        }
        page.table(&["", ""], &about);
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
        if let Some(privacy) = &self.stages.privacy {
            let solution = &privacy.solution;
            page.heading("Privacy model");
            page.table(
                &["", ""],
                &[
                    vec!["model".into(), solution.model.clone()],
                    vec!["target met".into(), solution.target_met.to_string()],
                    vec!["classes".into(), solution.classes.to_string()],
                    vec!["smallest class (k achieved)".into(), solution.min_class_size.to_string()],
                    vec!["persons suppressed".into(), solution.suppressed_units.to_string()],
                    vec!["records suppressed".into(), solution.suppressed_records.to_string()],
                    vec![
                        "search".into(),
                        format!("{} — {} of {} nodes", solution.search, solution.nodes_checked, solution.lattice_size),
                    ],
                ],
            );
            let rows: Vec<Vec<String>> = solution.level_names.iter().map(|(q, l)| vec![q.clone(), l.clone()]).collect();
            page.table(&["quasi-identifier", "released as"], &rows);
            if let Some(g) = &privacy.guarantee {
                page.heading("Guarantee (保証)");
                page.paragraph(&g.statement);
                page.paragraph(&g.statement_ja);
                let measured = &g.measured;
                page.table(
                    &["measured on the released files", ""],
                    &[
                        vec!["persons".into(), measured.persons.to_string()],
                        vec!["classes".into(), measured.classes.to_string()],
                        vec!["smallest class".into(), measured.min_class.to_string()],
                        vec![
                            format!("smallest support of up to {} items", measured.m),
                            json(&measured.min_item_support),
                        ],
                    ],
                );
                page.paragraph(&format!("Not covered: {}", g.not_covered));
            }
            if let Some(items) = &privacy.items {
                let rows: Vec<Vec<String>> =
                    items.level_names.iter().map(|(q, l)| vec![q.clone(), l.clone()]).collect();
                page.table(&["event column", "released as"], &rows);
                page.paragraph(&format!(
                    "{} records, {} with their events suppressed (`*`); {} distinct items released.",
                    items.solution.records, items.solution.suppressed_records, items.solution.items
                ));
                page.paragraph(&items.joint.sentence());
            }
            let bars: Vec<(String, f64)> = solution
                .class_size_distribution
                .iter()
                .take(40)
                .map(|(size, &n)| (format!("{size} persons"), n as f64))
                .collect();
            page.bar_chart("classes per class size (the 40 smallest sizes)", &bars, "classes");
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
        if let Some(fingerprint) = &self.token_key_fingerprint {
            line(&mut md, format!("- producer's token key (fingerprint): `{fingerprint}`"));
        }
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
        if let Some(privacy) = &self.stages.privacy {
            let solution = &privacy.solution;
            line(&mut md, "\n## Privacy model\n".into());
            line(&mut md, format!("- k target: {}, suppression limit: {}", privacy.k, json(&privacy.max_suppression)));
            line(&mut md, format!("- target met: {}", solution.target_met));
            line(
                &mut md,
                format!(
                    "- k achieved (smallest class): {}; largest class: {}",
                    solution.min_class_size, solution.max_class_size
                ),
            );
            line(
                &mut md,
                format!(
                    "- classes: {}; persons suppressed: {} ({} rows)",
                    solution.classes, solution.suppressed_units, solution.suppressed_records
                ),
            );
            line(
                &mut md,
                format!(
                    "- search: {} (optimal: {}), {} of {} lattice nodes checked",
                    json(&solution.search),
                    solution.optimal,
                    solution.nodes_checked,
                    solution.lattice_size
                ),
            );
            line(&mut md, "\n| quasi-identifier | level |\n|---|---|".into());
            for (qi, level) in &solution.level_names {
                line(&mut md, format!("| {qi} | {level} |"));
            }
            if let Some(items) = &privacy.items {
                let i = &items.solution;
                line(
                    &mut md,
                    format!(
                        "\n- events (k^m, m = {}): {} records, {} with their events suppressed; {} distinct items released; smallest support {}; loss {}; {} of {} item-lattice nodes (optimal: {})",
                        i.m,
                        i.records,
                        i.suppressed_records,
                        i.items,
                        json(&i.min_support),
                        json(&i.loss),
                        i.nodes_checked,
                        i.lattice_size,
                        i.optimal
                    ),
                );
                line(&mut md, format!("- {}", items.joint.sentence()));
                line(&mut md, "\n| event column | level |\n|---|---|".into());
                for (column, level) in &items.level_names {
                    line(&mut md, format!("| {column} | {level} |"));
                }
            }
            if let Some(g) = &privacy.guarantee {
                line(&mut md, "\n### Guarantee (保証)\n".into());
                line(&mut md, format!("> {}\n", g.statement));
                line(&mut md, format!("> {}\n", g.statement_ja));
                let measured = &g.measured;
                line(
                    &mut md,
                    format!(
                        "Measured on the released files: {} persons in {} classes, smallest class {}, smallest support of up to {} items {}.\n",
                        measured.persons,
                        measured.classes,
                        measured.min_class,
                        measured.m,
                        json(&measured.min_item_support)
                    ),
                );
                line(&mut md, format!("Not covered: {}", g.not_covered));
            }
            line(&mut md, "\n| class size (persons) | classes |\n|---:|---:|".into());
            for (size, n) in &solution.class_size_distribution {
                line(&mut md, format!("| {size} | {n} |"));
            }
        }
        if let Some(risk) = &self.stages.risk {
            line(&mut md, "\n## Re-identification risk (persons, released classes)\n".into());
            line(&mut md, format!("- prosecutor_max: {}", json(&risk.prosecutor_max)));
            line(&mut md, format!("- prosecutor_average: {}", json(&risk.prosecutor_average)));
            line(&mut md, format!("- sample_uniques: {}", risk.sample_uniques));
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
