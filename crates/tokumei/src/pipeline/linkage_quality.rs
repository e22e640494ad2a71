//! Linkage quality against a truth file: pairwise precision and recall of the person clustering.
//!
//! For synthetic populations (`tokumei synth` writes `truth.csv`: person, table, line), or any
//! data set with known persons. Reads and links the inputs of a plan without writing anything.

use std::collections::HashMap;
use std::path::PathBuf;

use tokumei_config::Plan;
use tokumei_link::{LinkStats, Linker};

use super::{PipelineError, PlanKeys, staging};

/// How well linkage matched the truth, over pairs of records.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkageQuality {
    /// Records evaluated (those in both the inputs and the truth file).
    pub records: u64,
    /// Persons in the truth.
    pub true_persons: u64,
    /// Persons linkage found.
    pub linked_persons: u64,
    /// Record pairs of one true person.
    pub true_pairs: u64,
    /// Record pairs linkage put in one person.
    pub linked_pairs: u64,
    /// Pairs both agree on.
    pub correct_pairs: u64,
    /// correct / linked (1 when nothing was linked).
    pub precision: f64,
    /// correct / true (1 when the truth has no pairs).
    pub recall: f64,
    /// What linkage did.
    pub stats: LinkStats,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Where the true persons come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truth {
    /// A truth file: person, table, line (the line of each input row).
    File(PathBuf),
    /// A column of every input naming each row's person (`synth --truth-column`): for inputs
    /// whose rows have no stable line, such as providers' submissions.
    Column(String),
}

/// Links the inputs of `plan` and compares the persons with the truth.
pub fn evaluate_linkage(plan: &Plan, truth: &Truth) -> Result<LinkageQuality, PipelineError> {
    let loaded = PlanKeys::load(plan)?;
    let keys = loaded.release(&plan.label);
    let link = keys.link();
    let hashes = staging::RowHashes::new(&keys);
    let column = match truth {
        Truth::Column(name) => {
            if let Some(table) = plan.tables.iter().find(|t| !t.columns.iter().any(|c| &c.name == name)) {
                return Err(PipelineError::TruthColumn { table: table.source.table.clone(), column: name.clone() });
            }
            Some(name.as_str())
        }
        Truth::File(_) => None,
    };
    let stager = staging::Stager {
        profile: plan.profile,
        link: &link,
        tokens: &link,
        hashes: &hashes,
        work: None,
        bucket_bytes: staging::BUCKET_BYTES,
        collect: column,
    };
    let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
    let mut staged = Vec::new();
    for (i, table) in plan.tables.iter().enumerate() {
        staged.push(stager.stage(i, table, &mut linker, &indicatif::ProgressBar::hidden())?);
    }
    let persons = linker.finish();

    // Per table, per accepted row: its true person, if the truth knows it.
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut id_of = |person: &str| {
        let next = ids.len() as u32;
        *ids.entry(person.to_string()).or_insert(next)
    };
    let row_truth: Vec<Vec<Option<u32>>> = match truth {
        Truth::File(path) => {
            let mut true_person: HashMap<(String, u64), u32> = HashMap::new();
            let text = std::fs::read_to_string(path)?;
            for (n, line) in text.lines().enumerate().skip(1) {
                let fields: Vec<&str> = line.split(',').collect();
                let bad = || PipelineError::TruthFile { path: path.to_path_buf(), line: n + 1 };
                let [person, table, row_line] = fields[..] else { return Err(bad()) };
                let row_line: u64 = row_line.parse().map_err(|_| bad())?;
                true_person.insert((table.to_string(), row_line), id_of(person));
            }
            plan.tables
                .iter()
                .zip(&staged)
                .map(|(table, s)| {
                    s.lines.iter().map(|&line| true_person.get(&(table.source.table.clone(), line)).copied()).collect()
                })
                .collect()
        }
        Truth::Column(_) => staged
            .iter()
            .map(|s| s.collected.iter().map(|c| c.as_deref().filter(|c| !c.is_empty()).map(&mut id_of)).collect())
            .collect(),
    };

    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut linked_sizes: HashMap<u32, u64> = HashMap::new();
    let mut true_sizes: HashMap<u32, u64> = HashMap::new();
    let mut records = 0;
    for (rows, truths) in persons.row_person.iter().zip(&row_truth) {
        for (&linked, &truth) in rows.iter().zip(truths) {
            let Some(truth) = truth else { continue };
            records += 1;
            *cells.entry((linked, truth)).or_default() += 1;
            *linked_sizes.entry(linked).or_default() += 1;
            *true_sizes.entry(truth).or_default() += 1;
        }
    }
    let correct: u64 = cells.values().map(|&n| pairs(n)).sum();
    let linked: u64 = linked_sizes.values().map(|&n| pairs(n)).sum();
    let truth_pairs: u64 = true_sizes.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Ok(LinkageQuality {
        records,
        true_persons: true_sizes.len() as u64,
        linked_persons: linked_sizes.len() as u64,
        true_pairs: truth_pairs,
        linked_pairs: linked,
        correct_pairs: correct,
        precision: ratio(correct, linked),
        recall: ratio(correct, truth_pairs),
        stats: persons.stats,
    })
}
