//! `tokumei attack`: an adversary's view of a release. The attacker's table (a resident registry,
//! another data source) is generalized the way the release is — each quasi-identifier to the
//! level of its hierarchy at which the release's values lie, found from the release itself — and
//! linked to the release on those values; with an identity column on both sides the outcomes
//! are scored. With the released persons' original records, a control set and a sensitive
//! column, singling-out and attribute-inference risks are estimated in the manner of anonymeter.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use tokumei_ingest::{FlatTableError, TextEncoding};
use tokumei_privacy::Dictionary;
use tokumei_risk::attack::{Estimate, Linkage, NO_ID, WILDCARD, attribute_inference, link, singling_out};
use tokumei_transform::{HierarchyError, HierarchyTable};

use crate::anonymize::{find_hierarchy, read_table};

/// Why `tokumei attack` stopped.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// A table could not be read as asked.
    #[error(transparent)]
    Table(#[from] FlatTableError),
    /// A hierarchy file that cannot be used.
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    /// The release's values of a column fit no one level of its hierarchy.
    #[error("the release's values of `{0}` are not the labels of any one level of its hierarchy")]
    NoLevel(String),
    /// Reading a hierarchy folder.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A data-frame operation failed.
    #[error("data processing: {0}")]
    Polars(#[from] PolarsError),
}

/// What to attack with.
#[derive(Debug, Clone)]
pub struct AttackInput {
    /// The release (CSV or Parquet).
    pub release: PathBuf,
    /// The attacker's table.
    pub attacker: PathBuf,
    /// CSV delimiter of every table.
    pub delimiter: u8,
    /// CSV encoding of every table.
    pub encoding: TextEncoding,
    /// Quasi-identifiers: (release column, attacker column).
    pub quasi_identifiers: Vec<(String, String)>,
    /// Identity columns (release, attacker) for scoring; not used to link.
    pub id: Option<(String, String)>,
    /// The release's person column (a pseudonym the attacker sees too): candidates count
    /// persons, not records.
    pub person: Option<String>,
    /// How to spell values before matching, per release column (the same on both sides).
    pub normalize: Vec<(String, Normalize)>,
    /// Folder of ARX hierarchies `*_<release column>.csv`.
    pub hierarchies: Option<PathBuf>,
    /// Hierarchy files per release column (win over the folder).
    pub hierarchy_files: Vec<(String, PathBuf)>,
    /// Released persons' original records and a control set (same columns as the attacker's
    /// table), with the sensitive column (release name, original/control name).
    pub anonymeter: Option<AnonymeterInput>,
}

/// Spelling normalization of a quasi-identifier's values, applied to release and attacker values
/// alike (`*` stays `*`): exports spell the same date or sex many ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// Any date form tokumei reads (和暦, GYYMMDD, YYYYMMDD…) → `YYYY-MM-DD`; unreadable stays as
    /// written.
    Date,
    /// `1/2`, `男/女`, `M/F`… → `1` / `2`.
    Sex,
    /// NFKC (full-width digits and letters, half-width kana), surrounding spaces trimmed.
    Text,
}

impl Normalize {
    /// From `date`, `sex` or `text`.
    pub fn parse(name: &str) -> Option<Normalize> {
        match name {
            "date" => Some(Normalize::Date),
            "sex" => Some(Normalize::Sex),
            "text" => Some(Normalize::Text),
            _ => None,
        }
    }

    fn apply(self, value: &str) -> String {
        use tokumei_core::normalize::{Sex, parse_date};
        match self {
            Normalize::Date => parse_date(value).map_or_else(|_| value.to_string(), |d| d.to_string()),
            Normalize::Sex => Sex::parse(value).map_or_else(|| value.to_string(), |s| s.code().to_string()),
            Normalize::Text => unicode_normalization::UnicodeNormalization::nfkc(value.trim()).collect(),
        }
    }
}

/// Inputs of the anonymeter-style estimates.
#[derive(Debug, Clone)]
pub struct AnonymeterInput {
    /// Original records of the released persons.
    pub original: PathBuf,
    /// Records of the same population that were not released.
    pub control: PathBuf,
    /// Sensitive column: (release column, original/control column).
    pub sensitive: (String, String),
}

/// How one quasi-identifier was matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matching {
    /// Release column.
    pub release: String,
    /// Attacker column.
    pub attacker: String,
    /// Hierarchy level of the release's values (0: as recorded; `None`: no hierarchy, exact).
    pub level: Option<usize>,
    /// Release values that are `*` (suppressed: match anything).
    pub suppressed_values: u64,
    /// Attacker values the hierarchy does not know (they match nothing).
    pub unknown_attacker_values: u64,
}

/// The attack's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// Release records.
    pub release_records: u64,
    /// How each quasi-identifier was matched.
    pub matching: Vec<Matching>,
    /// The linkage attack.
    pub linkage: Linkage,
    /// Singling out (anonymeter-style), with original and control records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub singling_out: Option<Estimate>,
    /// Attribute inference of the sensitive column (anonymeter-style).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_inference: Option<Estimate>,
}

fn text_column(frame: &DataFrame, column: &str, file: &Path) -> Result<Vec<Option<String>>, AttackError> {
    let values = tokumei_ingest::flat::text_column(frame, column, file)?;
    Ok(values.iter().map(|v| v.map(|s| s.trim().to_string())).collect())
}

/// One quasi-identifier's generalization of raw values to the release's level.
struct Generalize {
    table: Option<HierarchyTable>,
    level: usize,
}

impl Generalize {
    /// The release's level: the lowest level of the hierarchy whose labels include every
    /// release value that is not `*`.
    fn detect(
        table: Option<HierarchyTable>,
        release: &[Option<String>],
        column: &str,
    ) -> Result<Generalize, AttackError> {
        let Some(table) = table else { return Ok(Generalize { table: None, level: 0 }) };
        let values: std::collections::HashSet<&str> =
            release.iter().flatten().map(String::as_str).filter(|v| *v != "*").collect();
        for level in 0..table.levels() {
            let labels: std::collections::HashSet<&str> =
                table.values().iter().filter_map(|v| table.label(v, level)).collect();
            // Only `*` in the release: the level where everything is `*` (the top, in ARX files).
            let fits = if values.is_empty() {
                labels.iter().all(|l| *l == "*") || level + 1 == table.levels()
            } else {
                values.iter().all(|v| labels.contains(v))
            };
            if fits {
                return Ok(Generalize { table: Some(table), level });
            }
        }
        Err(AttackError::NoLevel(column.to_string()))
    }

    fn apply<'a>(&'a self, raw: &'a str) -> Option<&'a str> {
        match &self.table {
            None => Some(raw),
            Some(t) => t.label(raw, self.level),
        }
    }
}

/// Reads the tables and runs the attacks.
pub fn attack(input: &AttackInput) -> Result<AttackReport, AttackError> {
    let release = read_table(&input.release, input.delimiter, input.encoding, None)?;
    let attacker = read_table(&input.attacker, input.delimiter, input.encoding, None)?;
    let others = match &input.anonymeter {
        Some(a) => Some((
            read_table(&a.original, input.delimiter, input.encoding, None)?,
            read_table(&a.control, input.delimiter, input.encoding, None)?,
        )),
        None => None,
    };
    let mut matching = Vec::new();
    let mut release_codes = Vec::new();
    let mut attacker_codes = Vec::new();
    let mut original_codes = Vec::new();
    let mut control_codes = Vec::new();
    // Attacker-side values the hierarchy does not know get codes no release value has.
    let unknown = WILDCARD - 1;
    for (release_column, attacker_column) in &input.quasi_identifiers {
        let normalize = input.normalize.iter().find(|(c, _)| c == release_column).map(|(_, n)| *n);
        let spell = |values: Vec<Option<String>>| -> Vec<Option<String>> {
            match normalize {
                None => values,
                Some(n) => values.into_iter().map(|v| v.map(|v| if v == "*" { v } else { n.apply(&v) })).collect(),
            }
        };
        let release_values = spell(text_column(&release, release_column, &input.release)?);
        let table = find_hierarchy(&input.hierarchy_files, input.hierarchies.as_deref(), release_column)?
            .map(|path| HierarchyTable::from_arx_csv(&path, ';'))
            .transpose()?;
        let generalize = Generalize::detect(table, &release_values, release_column)?;
        let mut dictionary: Dictionary<String> = Dictionary::default();
        let mut suppressed = 0u64;
        release_codes.push(
            release_values
                .iter()
                .map(|v| match v.as_deref() {
                    Some("*") => {
                        suppressed += 1;
                        WILDCARD
                    }
                    v => dictionary.code(v.unwrap_or("").to_string()),
                })
                .collect::<Vec<u32>>(),
        );
        let mut unknown_values = 0u64;
        let mut generalized = |frame: &DataFrame, file: &Path, count: bool| -> Result<Vec<u32>, AttackError> {
            Ok(spell(text_column(frame, attacker_column, file)?)
                .iter()
                .map(|v| match generalize.apply(v.as_deref().unwrap_or("")) {
                    Some(label) => dictionary.code(label.to_string()),
                    None => {
                        if count {
                            unknown_values += 1;
                        }
                        unknown
                    }
                })
                .collect())
        };
        attacker_codes.push(generalized(&attacker, &input.attacker, true)?);
        if let (Some((original, control)), Some(a)) = (&others, &input.anonymeter) {
            original_codes.push(generalized(original, &a.original, false)?);
            control_codes.push(generalized(control, &a.control, false)?);
        }
        matching.push(Matching {
            release: release_column.clone(),
            attacker: attacker_column.clone(),
            level: generalize.table.as_ref().map(|_| generalize.level),
            suppressed_values: suppressed,
            unknown_attacker_values: unknown_values,
        });
    }
    let ids = match &input.id {
        Some((release_column, attacker_column)) => {
            let mut dictionary: Dictionary<String> = Dictionary::default();
            let mut coded = |frame: &DataFrame, column: &str, file: &Path| -> Result<Vec<u32>, AttackError> {
                Ok(text_column(frame, column, file)?
                    .iter()
                    .map(|v| v.as_deref().filter(|v| !v.is_empty()).map_or(NO_ID, |v| dictionary.code(v.to_string())))
                    .collect())
            };
            Some((
                coded(&release, release_column, &input.release)?,
                coded(&attacker, attacker_column, &input.attacker)?,
            ))
        }
        None => None,
    };
    let persons = match &input.person {
        Some(column) => {
            let mut dictionary: Dictionary<String> = Dictionary::default();
            Some(
                text_column(&release, column, &input.release)?
                    .iter()
                    .map(|v| dictionary.code(v.as_deref().unwrap_or("").to_string()))
                    .collect::<Vec<u32>>(),
            )
        }
        None => None,
    };
    let linkage = link(
        &release_codes,
        &attacker_codes,
        ids.as_ref().map(|(r, a)| (r.as_slice(), a.as_slice())),
        persons.as_deref(),
    );
    let (singling, inference) = match (&others, &input.anonymeter) {
        (Some((original, control)), Some(a)) => {
            // Equal sizes: singling out depends on how many records could match.
            let n = original.height().min(control.height());
            let take = |codes: &[Vec<u32>]| codes.iter().map(|c| c[..n].to_vec()).collect::<Vec<_>>();
            let (original_n, control_n) = (take(&original_codes), take(&control_codes));
            let singling = singling_out(&release_codes, &original_n, &control_n);
            let mut dictionary: Dictionary<String> = Dictionary::default();
            let mut sensitive = |frame: &DataFrame, column: &str, file: &Path| -> Result<Vec<u32>, AttackError> {
                Ok(text_column(frame, column, file)?
                    .iter()
                    .map(|v| dictionary.code(v.as_deref().unwrap_or("").to_string()))
                    .collect())
            };
            let release_s = sensitive(&release, &a.sensitive.0, &input.release)?;
            let original_s = sensitive(original, &a.sensitive.1, &a.original)?;
            let control_s = sensitive(control, &a.sensitive.1, &a.control)?;
            let inference = attribute_inference(
                (&release_codes, &release_s),
                (&original_n, &original_s[..n]),
                (&control_n, &control_s[..n]),
            );
            (Some(singling), Some(inference))
        }
        _ => (None, None),
    };
    Ok(AttackReport {
        release_records: release.height() as u64,
        matching,
        linkage,
        singling_out: singling,
        attribute_inference: inference,
    })
}

/// The attack as a self-contained HTML page.
pub fn attack_html(report: &AttackReport, title: &str) -> String {
    use tokumei_report::html::Page;
    let l = &report.linkage;
    let o = &l.overall;
    let mut page = Page::new(title);
    let pct = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{:.2} %", 100.0 * v));
    let mut rows = vec![
        vec!["release records".into(), report.release_records.to_string()],
        vec!["attacker records".into(), o.records.to_string()],
        vec!["unique matches".into(), o.unique_matches.to_string()],
        vec!["  correct".into(), o.correct.to_string()],
        vec!["  wrong".into(), o.wrong.to_string()],
        vec!["ambiguous (several candidates)".into(), o.ambiguous.to_string()],
        vec!["no match".into(), o.no_match.to_string()],
        vec!["re-identification rate (correct unique ÷ attacker records)".into(), pct(l.reidentification_rate)],
        vec!["re-identification rate of insiders".into(), pct(l.reidentification_rate_of_insiders)],
        vec!["false match rate (wrong ÷ unique matches)".into(), pct(l.false_match_rate)],
        vec!["expected right guesses picking a candidate at random".into(), format!("{:.1}", o.expected_correct)],
    ];
    if let Some(s) = &report.singling_out {
        rows.push(vec!["singling-out risk (anonymeter-style)".into(), format!("{:.4}", s.risk)]);
    }
    if let Some(s) = &report.attribute_inference {
        rows.push(vec!["attribute-inference risk (anonymeter-style)".into(), format!("{:.4}", s.risk)]);
    }
    page.heading("Linkage attack").table(&["measure", "value"], &rows);
    let order = ["0", "1", "2", "3-4", "5-9", "10-19", "20+"];
    let groups: Vec<(&str, &tokumei_risk::attack::Outcomes)> =
        order.iter().filter_map(|k| l.by_candidates.get(*k).map(|o| (*k, o))).collect();
    let bars: Vec<(String, f64)> = groups.iter().map(|(k, o)| (format!("{k} candidates"), o.records as f64)).collect();
    page.bar_chart("attacker records by number of candidates", &bars, "records");
    if l.reidentification_rate.is_some() {
        let correct: Vec<(String, f64)> =
            groups.iter().map(|(k, o)| (format!("{k} candidates"), o.expected_correct)).collect();
        page.bar_chart("expected right guesses by number of candidates", &correct, "records");
    }
    let matching: Vec<Vec<String>> = report
        .matching
        .iter()
        .map(|m| {
            vec![
                format!("{} ← {}", m.release, m.attacker),
                m.level.map_or_else(|| "exact".to_string(), |l| format!("level {l}")),
                m.suppressed_values.to_string(),
                m.unknown_attacker_values.to_string(),
            ]
        })
        .collect();
    page.heading("How the quasi-identifiers were matched").table(
        &[
            "release ← attacker",
            "generalization",
            "suppressed release values",
            "attacker values unknown to the hierarchy",
        ],
        &matching,
    );
    for (name, estimate) in
        [("Singling out", &report.singling_out), ("Attribute inference", &report.attribute_inference)]
    {
        if let Some(e) = estimate {
            page.heading(name).table(
                &["records", "success", "95 % interval", "attempts"],
                &[
                    vec![
                        "released persons".into(),
                        format!("{:.4}", e.released.rate),
                        format!("{:.4}–{:.4}", e.released.low, e.released.high),
                        e.released.attempts.to_string(),
                    ],
                    vec![
                        "control set".into(),
                        format!("{:.4}", e.control.rate),
                        format!("{:.4}–{:.4}", e.control.low, e.control.high),
                        e.control.attempts.to_string(),
                    ],
                    vec![
                        "risk (excess over the control)".into(),
                        format!("{:.4}", e.risk),
                        String::new(),
                        String::new(),
                    ],
                ],
            );
        }
    }
    page.finish()
}
