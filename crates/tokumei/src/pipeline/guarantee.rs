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

pub use tokumei_report::Measured;

/// One released table: its file, and which of its columns are quasi-identifiers and events.
pub struct ReleasedTable<'a> {
    pub file: &'a Path,
    pub quasi_identifiers: Vec<&'a str>,
    pub events: Vec<&'a str>,
}

/// Interns text: equal strings get equal numbers (0 stands for a missing value).
#[derive(Default)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return 0 };
        if let Some(&id) = self.0.get(value) {
            return id;
        }
        let id = self.0.len() as u32 + 1;
        self.0.insert(value.to_string(), id);
        id
    }
}

/// Measures classes and item supports over the released tables; `all_qis` orders the tuple.
pub fn measure(tables: &[ReleasedTable<'_>], all_qis: &[String], m: usize) -> Result<Measured, PipelineError> {
    let mut persons = Interner::default();
    let mut values = Interner::default();
    let star = values.id(Some(tokumei_transform::SUPPRESSED_LABEL));
    // Per person (interned id): their quasi-identifier tuples and their items.
    let mut signatures: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
    let mut items: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut item_ids: HashMap<(usize, Vec<u32>), u32> = HashMap::new();
    for (t, table) in tables.iter().enumerate() {
        let mut wanted = vec![col(PERSON_COLUMN)];
        wanted.extend(table.quasi_identifiers.iter().chain(&table.events).map(|c| col(*c).cast(DataType::String)));
        let frame = LazyFrame::scan_parquet(PlRefPath::try_from_path(table.file)?, ScanArgsParquet::default())?
            .select(wanted)
            .collect()?;
        let text = |name: &str| -> Result<StringChunked, PipelineError> { Ok(frame.column(name)?.str()?.clone()) };
        let ids = text(PERSON_COLUMN)?;
        let qis: Vec<(usize, StringChunked)> = all_qis
            .iter()
            .enumerate()
            .filter(|(_, q)| table.quasi_identifiers.contains(&q.as_str()))
            .map(|(i, q)| Ok((i, text(q)?)))
            .collect::<Result<_, PipelineError>>()?;
        let events: Vec<StringChunked> = table.events.iter().map(|e| text(e)).collect::<Result<_, _>>()?;
        for row in 0..frame.height() {
            let Some(person) = ids.get(row) else { continue };
            let person = persons.id(Some(person));
            if !qis.is_empty() {
                let mut tuple = vec![0u32; all_qis.len()];
                for (i, column) in &qis {
                    tuple[*i] = values.id(column.get(row));
                }
                signatures.entry(person).or_default().push(tuple);
            }
            let event: Vec<u32> = events.iter().map(|e| values.id(e.get(row))).collect();
            if event.is_empty() || event.iter().all(|&v| v == star) {
                continue;
            }
            let next = item_ids.len() as u32;
            let id = *item_ids.entry((t, event)).or_insert(next);
            items.entry(person).or_default().push(id);
        }
    }
    // Classes: persons with equal signature sets.
    let everyone = persons.0.len() as u32;
    let mut classes: BTreeMap<Vec<Vec<u32>>, Vec<u32>> = BTreeMap::new();
    for person in 1..=everyone {
        let mut signature = signatures.remove(&person).unwrap_or_default();
        signature.sort_unstable();
        signature.dedup();
        classes.entry(signature).or_default().push(person);
    }
    let min_class = classes.values().map(|c| c.len() as u64).min().unwrap_or(0);
    let mut min_item_support: Option<u64> = None;
    for members in classes.values().filter(|_| m > 0) {
        // An itemset of up to 4 items as one number (item + 1 per 32-bit lane): no allocation.
        let key = |set: &[u32]| set.iter().enumerate().fold(0u128, |k, (i, &x)| k | (u128::from(x) + 1) << (32 * i));
        let mut counts: HashMap<u128, u64> = HashMap::new();
        for person in members {
            let mut mine = items.remove(person).unwrap_or_default();
            mine.sort_unstable();
            mine.dedup();
            for_each_subset(&mine, m, &mut |set| *counts.entry(key(set)).or_insert(0) += 1);
        }
        if let Some(smallest) = counts.values().copied().min() {
            min_item_support = Some(min_item_support.map_or(smallest, |s| s.min(smallest)));
        }
    }
    Ok(Measured { persons: u64::from(everyone), classes: classes.len() as u64, min_class, m, min_item_support })
}

/// Calls `visit` with every subset of 1..=m of `items` (sorted). The item search has its own: the
/// check shares no code with what it checks.
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
