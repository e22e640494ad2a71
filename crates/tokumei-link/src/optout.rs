//! 提供停止 (opt-out): match request entries to linked persons.
//!
//! An entry names a person by any subset of key fields (insurance card, kana name + birth date +
//! sex, facility + patient ID, My Number). It matches every person holding any of its keys, and
//! the whole person is then left out of every table (scope: person).

use std::collections::BTreeSet;

use crate::keys::{KeyKind, RowKeys};
use crate::persons::Persons;

/// The outcome of matching one opt-out list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OptOutMatch {
    /// Entries read.
    pub entries: u64,
    /// Entries that matched at least one person.
    pub matched: u64,
    /// Source line numbers (1-based, header = line 1) of entries that matched nobody. Never
    /// their contents.
    pub unmatched_lines: Vec<u64>,
    /// Entries with no usable key (every key field missing or invalid), by line number.
    pub unusable_lines: Vec<u64>,
    /// Matches per key kind (an entry may match by several).
    pub matched_by: std::collections::BTreeMap<KeyKind, u64>,
    /// Persons to leave out.
    #[serde(skip)]
    pub persons: BTreeSet<u32>,
    /// Persons matched through each key kind (a person may be matched through several).
    #[serde(skip)]
    pub persons_by_kind: std::collections::BTreeMap<KeyKind, BTreeSet<u32>>,
}

/// Matches `entries` (keys and source line numbers) against `persons`.
pub fn match_opt_outs(entries: &[(u64, RowKeys)], persons: &Persons) -> OptOutMatch {
    let mut result = OptOutMatch { entries: entries.len() as u64, ..OptOutMatch::default() };
    for (line, keys) in entries {
        if keys.iter().all(Option::is_none) {
            result.unusable_lines.push(*line);
            continue;
        }
        let found = persons.persons_of(keys);
        if found.is_empty() {
            result.unmatched_lines.push(*line);
            continue;
        }
        result.matched += 1;
        for (kind, key) in KeyKind::ALL.iter().zip(keys) {
            let mut only = [None; 4];
            only[*kind as usize] = *key;
            let through = if key.is_some() { persons.persons_of(&only) } else { Vec::new() };
            if !through.is_empty() {
                *result.matched_by.entry(*kind).or_default() += 1;
                result.persons_by_kind.entry(*kind).or_default().extend(through);
            }
        }
        result.persons.extend(found);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persons::Linker;

    #[test]
    fn entries_match_by_any_key() {
        let mut linker = Linker::new(1, crate::ConflictRule::Merge);
        linker.add_rows(0, &[[Some(1), Some(2), None, None], [None, Some(3), None, None]], &[], |r| 100 + r as u128);
        let persons = linker.finish();
        let entries =
            vec![(2, [None, Some(2), None, None]), (3, [Some(99), None, None, None]), (4, [None, None, None, None])];
        let m = match_opt_outs(&entries, &persons);
        assert_eq!(m.matched, 1);
        assert_eq!(m.unmatched_lines, vec![3]);
        assert_eq!(m.unusable_lines, vec![4]);
        assert_eq!(m.persons.len(), 1);
        assert!(m.persons.contains(&persons.row_person[0][0]));
        assert_eq!(m.persons_by_kind[&KeyKind::Name], m.persons);
    }
}
