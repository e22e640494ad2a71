//! Linkage quality against a truth file: pairwise precision and recall of the person clustering.
//!
//! For synthetic populations (`tokumei synth` writes `truth.csv`: person, table, line), or any
//! data set with known persons. Reads and links the inputs of a plan without writing anything.

use std::collections::HashMap;
use std::path::Path;

use tokumei_config::Plan;
use tokumei_link::{LinkStats, Linker, ReleaseKeys};

use super::{PipelineError, load_key, staging};

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

/// Links the inputs of `plan` and compares the persons with `truth` (CSV: person, table, line).
pub fn evaluate_linkage(plan: &Plan, truth: &Path) -> Result<LinkageQuality, PipelineError> {
    let master = load_key(&plan.key)?;
    let keys = ReleaseKeys::derive(&master, &plan.label);
    let link = keys.link();
    let hashes = staging::RowHashes::new(&keys);
    let stager = staging::Stager {
        profile: plan.profile,
        link: &link,
        tokens: &link,
        hashes: &hashes,
        work: None,
        bucket_bytes: staging::BUCKET_BYTES,
    };
    let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
    let mut lines = Vec::new();
    for (i, table) in plan.tables.iter().enumerate() {
        lines.push(stager.stage(i, table, &mut linker, &indicatif::ProgressBar::hidden())?.lines);
    }
    let persons = linker.finish();

    let mut true_person: HashMap<(String, u64), u32> = HashMap::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let text = std::fs::read_to_string(truth)?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let bad = || PipelineError::TruthFile { path: truth.to_path_buf(), line: n + 1 };
        let [person, table, row_line] = fields[..] else { return Err(bad()) };
        let row_line: u64 = row_line.parse().map_err(|_| bad())?;
        let next = ids.len() as u32;
        let id = *ids.entry(person.to_string()).or_insert(next);
        true_person.insert((table.to_string(), row_line), id);
    }

    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut linked_sizes: HashMap<u32, u64> = HashMap::new();
    let mut true_sizes: HashMap<u32, u64> = HashMap::new();
    let mut records = 0;
    for ((table, rows), table_lines) in plan.tables.iter().zip(&persons.row_person).zip(&lines) {
        for (&linked, &line) in rows.iter().zip(table_lines) {
            let Some(&truth) = true_person.get(&(table.source.table.clone(), line)) else { continue };
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
