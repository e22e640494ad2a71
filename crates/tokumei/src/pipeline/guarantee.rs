//! The guarantee, measured on the release itself: after an anonymized release is assembled, its
//! files alone (the person pseudonym, the quasi-identifiers and the event columns, as released)
//! must show the (k, k^m) the report claims. This reads no engine state: a bug in the search or
//! in writing would show here, and the release would not go out.
//!
//! - A person's **class** is the set of their released quasi-identifier tuples, over every table
//!   (a column a table lacks counts as missing), as the search defines it.
//! - A person's **items** are their records' event values, tagged with the table; a record whose
//!   event cells are all `*` tells nothing and is no item.
//! - Every class must hold at least k persons, and every set of up to m items a person of the
//!   class holds must be held by at least k persons of the class.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;
use tokumei_core::PERSON_COLUMN;

use super::PipelineError;

/// What the released files show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Measured {
    /// Persons released.
    pub persons: u64,
    /// Classes over the quasi-identifiers.
    pub classes: u64,
    /// Smallest class (persons).
    pub min_class: u64,
    /// m checked.
    pub m: usize,
    /// Smallest number of persons of a class sharing a set of up to m items one of them holds
    /// (`None`: no items released, or m = 0).
    pub min_item_support: Option<u64>,
}

impl Measured {
    /// Whether the release meets k and k^m.
    pub fn meets(&self, k: u64) -> bool {
        (self.persons == 0 || self.min_class >= k) && self.min_item_support.is_none_or(|s| s >= k)
    }
}

/// One released table: its file, and which of its columns are quasi-identifiers and events.
pub struct ReleasedTable<'a> {
    pub file: &'a Path,
    pub quasi_identifiers: Vec<&'a str>,
    pub events: Vec<&'a str>,
}

/// Measures classes and item supports over the released tables; `all_qis` orders the tuple.
pub fn measure(tables: &[ReleasedTable<'_>], all_qis: &[String], m: usize) -> Result<Measured, PipelineError> {
    type Tuple = Vec<Option<String>>;
    let mut signatures: HashMap<String, Vec<Tuple>> = HashMap::new();
    let mut items: HashMap<String, Vec<u32>> = HashMap::new();
    let mut item_ids: HashMap<(usize, Vec<Option<String>>), u32> = HashMap::new();
    for (t, table) in tables.iter().enumerate() {
        let mut wanted = vec![col(PERSON_COLUMN)];
        wanted.extend(table.quasi_identifiers.iter().chain(&table.events).map(|c| col(*c).cast(DataType::String)));
        let frame = LazyFrame::scan_parquet(PlRefPath::try_from_path(table.file)?, ScanArgsParquet::default())?
            .select(wanted)
            .collect()?;
        let text = |name: &str| -> Result<StringChunked, PipelineError> { Ok(frame.column(name)?.str()?.clone()) };
        let persons = text(PERSON_COLUMN)?;
        let qis: Vec<(usize, StringChunked)> = all_qis
            .iter()
            .enumerate()
            .filter(|(_, q)| table.quasi_identifiers.contains(&q.as_str()))
            .map(|(i, q)| Ok((i, text(q)?)))
            .collect::<Result<_, PipelineError>>()?;
        let events: Vec<StringChunked> = table.events.iter().map(|e| text(e)).collect::<Result<_, _>>()?;
        for row in 0..frame.height() {
            let Some(person) = persons.get(row) else { continue };
            if !qis.is_empty() {
                let mut tuple: Tuple = vec![None; all_qis.len()];
                for (i, column) in &qis {
                    tuple[*i] = column.get(row).map(str::to_string);
                }
                signatures.entry(person.to_string()).or_default().push(tuple);
            }
            let values: Vec<Option<String>> = events.iter().map(|e| e.get(row).map(str::to_string)).collect();
            if values.is_empty() || values.iter().all(|v| v.as_deref() == Some(tokumei_transform::SUPPRESSED_LABEL)) {
                continue;
            }
            let next = item_ids.len() as u32;
            let id = *item_ids.entry((t, values)).or_insert(next);
            items.entry(person.to_string()).or_default().push(id);
        }
    }
    // Classes: persons with equal signature sets.
    let mut classes: BTreeMap<Vec<Tuple>, Vec<String>> = BTreeMap::new();
    let mut persons: Vec<String> = signatures.keys().chain(items.keys()).cloned().collect();
    persons.sort();
    persons.dedup();
    for person in &persons {
        let mut signature = signatures.get(person).cloned().unwrap_or_default();
        signature.sort();
        signature.dedup();
        classes.entry(signature).or_default().push(person.clone());
    }
    let min_class = classes.values().map(|c| c.len() as u64).min().unwrap_or(0);
    let mut min_item_support: Option<u64> = None;
    for members in classes.values().filter(|_| m > 0) {
        let mut counts: HashMap<Vec<u32>, u64> = HashMap::new();
        for person in members {
            let mut mine = items.get(person).cloned().unwrap_or_default();
            mine.sort_unstable();
            mine.dedup();
            for_each_subset(&mine, m, &mut |set| *counts.entry(set.to_vec()).or_insert(0) += 1);
        }
        if let Some(smallest) = counts.values().copied().min() {
            min_item_support = Some(min_item_support.map_or(smallest, |s| s.min(smallest)));
        }
    }
    Ok(Measured { persons: persons.len() as u64, classes: classes.len() as u64, min_class, m, min_item_support })
}

/// Calls `visit` with every subset of 1..=m of `items` (sorted).
fn for_each_subset(items: &[u32], m: usize, visit: &mut dyn FnMut(&[u32])) {
    fn go(items: &[u32], m: usize, chosen: &mut Vec<u32>, visit: &mut dyn FnMut(&[u32])) {
        for (i, &item) in items.iter().enumerate() {
            chosen.push(item);
            visit(chosen);
            if chosen.len() < m {
                go(&items[i + 1..], m, chosen, visit);
            }
            chosen.pop();
        }
    }
    go(items, m, &mut Vec::with_capacity(m), visit);
}

/// The guarantee in plain words, in English and Japanese.
pub fn statement(k: u32, m: usize, qis: &[String], events: &[String]) -> (String, String) {
    let qis_text = qis.join(", ");
    if m == 0 || events.is_empty() {
        return (
            format!("Anyone who knows a person's {qis_text} finds at least {k} persons in this release."),
            format!("{qis_text} を知っている人がこの提供データを見ても、該当者は必ず {k} 人以上います。"),
        );
    }
    let events_text = events.join(", ");
    (
        format!(
            "Anyone who knows a person's {qis_text}, and up to {m} of the records of their care (each record's \
             {events_text}, as released), finds at least {k} persons in this release."
        ),
        format!(
            "{qis_text} と、受診・調剤などの記録のうち最大 {m} 件（各記録の {events_text}、提供時の粒度）を知っている人が\
             この提供データを見ても、該当者は必ず {k} 人以上います。"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_up_to_m() {
        let mut seen = Vec::new();
        for_each_subset(&[1, 2, 3], 2, &mut |s| seen.push(s.to_vec()));
        assert_eq!(seen, [vec![1], vec![1, 2], vec![1, 3], vec![2], vec![2, 3], vec![3]]);
    }
}
