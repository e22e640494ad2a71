//! 提供停止 (opt-out): match request entries to linked persons.
//!
//! An entry names a person by whatever the requester had at hand: an insurance card (with 枝番,
//! with birth date and sex, or alone), a kana name with birth date and sex, a facility and
//! patient ID, My Number. Every entry must yield at least one key; one that does not cannot be
//! honoured and stops the release (the caller's job: see [`OptOutMatch::unresolved`]). An entry
//! matches every person [`Persons::resolve`] finds, and the whole person is then left out of
//! every table (scope: person).

use std::collections::{BTreeMap, BTreeSet};

use tokumei_core::LinkField;

use crate::keys::{KEY_KINDS, KeyKind, RowKeys};
use crate::persons::Persons;

/// One opt-out entry: its line in the list, its keys, and the link fields it fills (for
/// messages about entries that yield no key; never their values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutEntry {
    /// Source line (1-based, header = line 1).
    pub line: u64,
    /// The entry's keys.
    pub keys: RowKeys,
    /// The link fields the entry fills.
    pub fields: Vec<LinkField>,
}

/// An entry that yields no key: it cannot be honoured, so no release may go out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unresolved {
    /// Source line.
    pub line: u64,
    /// The link fields the entry fills (none of them enough for a key).
    pub fields: Vec<LinkField>,
}

impl Unresolved {
    /// What the entry lacks, in words: the fields it has, and what a key needs.
    pub fn explain(&self) -> String {
        let has: Vec<&str> = self.fields.iter().map(|f| f.name()).collect();
        let has = if has.is_empty() { "no identifying field".to_string() } else { has.join(", ") };
        let mut hints = Vec::new();
        if self.fields.contains(&LinkField::InsurerNumber) && self.fields.contains(&LinkField::CardNumber) {
            hints.push("the insurer number fails its check digit");
        }
        if self.fields.contains(&LinkField::MyNumber) {
            hints.push("a My Number must have 12 digits with a valid check digit");
        }
        let hint = if hints.is_empty() { String::new() } else { format!(" ({})", hints.join("; ")) };
        format!("has {has}{hint}")
    }
}

/// What each key needs, for messages: `card-branch: insurer-number + card-number + card-branch; …`.
pub fn key_requirements() -> String {
    KeyKind::ALL.iter().map(|k| format!("{}: {}", k.name(), k.needs())).collect::<Vec<_>>().join("; ")
}

/// The outcome of matching one opt-out list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OptOutMatch {
    /// Entries read.
    pub entries: u64,
    /// Entries that matched at least one person.
    pub matched: u64,
    /// Source line numbers (1-based, header = line 1) of entries that matched nobody in this
    /// data (allowed: the person may have no records here). Never their contents.
    pub unmatched_lines: Vec<u64>,
    /// Entries with no usable key, by line number, with the fields they do fill. Any of these
    /// stops the release.
    pub unresolved: Vec<Unresolved>,
    /// Entries matched per key kind (an entry may match by several).
    pub matched_by: BTreeMap<KeyKind, u64>,
    /// Entries that gave only a card: each removed every person holding it.
    pub card_only_entries: u64,
    /// Persons removed by card-only entries (a household each).
    pub card_only_persons: u64,
    /// Entries whose card + 枝番 no row carried: the card's holders without a known 枝番 were
    /// removed.
    pub card_without_branch_entries: u64,
    /// Per matched entry: its line and how many persons it removed.
    pub persons_by_line: Vec<(u64, u64)>,
    /// Persons to leave out.
    #[serde(skip)]
    pub persons: BTreeSet<u32>,
    /// Persons matched through each key kind (a person may be matched through several).
    #[serde(skip)]
    pub persons_by_kind: BTreeMap<KeyKind, BTreeSet<u32>>,
}

/// Matches `entries` against `persons`.
pub fn match_opt_outs(entries: &[OptOutEntry], persons: &Persons) -> OptOutMatch {
    let mut result = OptOutMatch { entries: entries.len() as u64, ..OptOutMatch::default() };
    let mut card_only = BTreeSet::new();
    for entry in entries {
        if entry.keys.iter().all(Option::is_none) {
            result.unresolved.push(Unresolved { line: entry.line, fields: entry.fields.clone() });
            continue;
        }
        let found = persons.resolve(&entry.keys);
        if found.persons.is_empty() {
            result.unmatched_lines.push(entry.line);
            continue;
        }
        result.matched += 1;
        result.persons_by_line.push((entry.line, found.persons.len() as u64));
        if found.whole_card {
            result.card_only_entries += 1;
            card_only.extend(found.persons.iter().copied());
        }
        result.card_without_branch_entries += u64::from(found.card_without_branch);
        for (kind, through) in found.by {
            *result.matched_by.entry(kind).or_default() += 1;
            result.persons_by_kind.entry(kind).or_default().extend(through);
        }
        result.persons.extend(found.persons);
    }
    result.card_only_persons = card_only.len() as u64;
    result
}

/// The entries of one batch of a plain opt-out list: each row's keys and the link fields it fills,
/// with its line (`lines`, the batch's source lines).
pub fn entries_of_batch(
    link: &crate::KeyHasher,
    batch: &polars::prelude::DataFrame,
    columns: &crate::LinkColumns,
    lines: &polars::prelude::UInt64Chunked,
) -> polars::prelude::PolarsResult<Vec<OptOutEntry>> {
    let keys = link.row_keys(batch, columns)?;
    let fields = crate::KeyHasher::row_fields(batch, columns)?;
    Ok(lines
        .iter()
        .zip(keys)
        .zip(fields)
        .map(|((line, keys), fields)| OptOutEntry { line: line.unwrap_or(0), keys, fields })
        .collect())
}

/// Header of a token list (`tokumei optout hash`): the plain list's line, then one token column
/// per key kind.
pub const TOKEN_LIST_HEADER: &str = "line,insurance,name,local,my-number,card-branch,card";

/// The header lists written before card keys existed: still read.
const TOKEN_LIST_HEADER_V1: &str = "line,insurance,name,local,my-number";

/// A token list for `entries` (keys of a plain list, with its lines). An entry that yields no key
/// is written with empty tokens, so that the run that reads it refuses it too.
pub fn write_token_list(entries: &[OptOutEntry]) -> String {
    let mut out = String::from(TOKEN_LIST_HEADER);
    out.push('\n');
    for entry in entries {
        out.push_str(&entry.line.to_string());
        for key in &entry.keys {
            out.push(',');
            if let Some(key) = key {
                out.push_str(&crate::token_hex(*key));
            }
        }
        out.push('\n');
    }
    out
}

/// The entries of a token list, or the line (1-based) that is not one of its lines.
pub fn parse_token_list(text: &str) -> Result<Vec<OptOutEntry>, u64> {
    let bad = |n: usize| n as u64 + 1;
    let mut lines = text.lines().enumerate();
    let columns = match lines.next() {
        Some((_, header)) if header.trim() == TOKEN_LIST_HEADER => 1 + KEY_KINDS,
        Some((_, header)) if header.trim() == TOKEN_LIST_HEADER_V1 => 5,
        _ => return Err(bad(0)),
    };
    let mut entries = Vec::new();
    for (n, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != columns {
            return Err(bad(n));
        }
        let source_line: u64 = fields[0].parse().map_err(|_| bad(n))?;
        let mut keys: RowKeys = [None; KEY_KINDS];
        for (slot, field) in keys.iter_mut().zip(&fields[1..]) {
            if field.is_empty() {
                continue;
            }
            *slot = Some(crate::parse_token(field).ok_or_else(|| bad(n))?);
        }
        // A token list holds no fields, only tokens: say which tokens the entry has (none).
        entries.push(OptOutEntry { line: source_line, keys, fields: Vec::new() });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEY_KINDS;
    use crate::persons::{ConflictRule, Linker};

    fn keys(pairs: &[(KeyKind, u128)]) -> RowKeys {
        let mut keys = [None; KEY_KINDS];
        for (kind, key) in pairs {
            keys[*kind as usize] = Some(*key);
        }
        keys
    }

    fn entry(line: u64, pairs: &[(KeyKind, u128)]) -> OptOutEntry {
        OptOutEntry { line, keys: keys(pairs), fields: Vec::new() }
    }

    #[test]
    fn entries_match_by_any_key_and_keyless_ones_are_unresolved() {
        let mut linker = Linker::new(1, ConflictRule::Merge);
        let rows = [keys(&[(KeyKind::Insurance, 1), (KeyKind::Name, 2)]), keys(&[(KeyKind::Name, 3)])];
        linker.add_rows(0, &rows, &[], |r| 100 + r as u128);
        let persons = linker.finish();
        let entries = vec![
            entry(2, &[(KeyKind::Name, 2)]),
            entry(3, &[(KeyKind::Insurance, 99)]),
            OptOutEntry { line: 4, keys: [None; KEY_KINDS], fields: vec![LinkField::KanaName] },
        ];
        let m = match_opt_outs(&entries, &persons);
        assert_eq!(m.matched, 1);
        assert_eq!(m.unmatched_lines, vec![3]);
        assert_eq!(m.unresolved, vec![Unresolved { line: 4, fields: vec![LinkField::KanaName] }]);
        assert_eq!(m.unresolved[0].explain(), "has kana-name");
        assert_eq!(m.persons.len(), 1);
        assert!(m.persons.contains(&persons.row_person[0][0]));
        assert_eq!(m.persons_by_kind[&KeyKind::Name], m.persons);
    }

    /// A household on one card: a parent (枝番 00) and a child (枝番 01); a third row from an
    /// export without 枝番 for the parent.
    fn household() -> (Persons, [u32; 2]) {
        let card = (KeyKind::Card, 50);
        let rows = [
            keys(&[card, (KeyKind::CardBranch, 500), (KeyKind::Insurance, 10), (KeyKind::Name, 20)]),
            keys(&[card, (KeyKind::CardBranch, 501), (KeyKind::Insurance, 11), (KeyKind::Name, 21)]),
            keys(&[card, (KeyKind::Insurance, 10), (KeyKind::Name, 20)]),
        ];
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.watch_cards([50]);
        linker.add_rows(0, &rows, &[], |r| 100 + r as u128);
        let persons = linker.finish();
        assert_eq!(persons.row_person[0][0], persons.row_person[0][2], "the export without 枝番 links by K1");
        let people = [persons.row_person[0][0], persons.row_person[0][1]];
        assert_ne!(people[0], people[1]);
        (persons, people)
    }

    #[test]
    fn a_card_alone_removes_the_household_and_card_with_branch_one_person() {
        let (persons, people) = household();
        let m = match_opt_outs(
            &[entry(2, &[(KeyKind::Card, 50)]), entry(3, &[(KeyKind::Card, 50), (KeyKind::CardBranch, 501)])],
            &persons,
        );
        assert_eq!(m.persons_by_line, vec![(2, 2), (3, 1)]);
        assert_eq!(m.card_only_entries, 1);
        assert_eq!(m.card_only_persons, 2);
        assert_eq!(persons.persons_of(&keys(&[(KeyKind::Card, 50), (KeyKind::CardBranch, 501)])), vec![people[1]]);
        // A card with birth date and sex is not a card-only entry.
        assert_eq!(persons.persons_of(&keys(&[(KeyKind::Card, 50), (KeyKind::Insurance, 11)])), vec![people[1]]);
    }

    #[test]
    fn an_unseen_branch_falls_back_to_holders_without_a_known_branch() {
        // The data never shows 枝番: a card + 枝番 entry takes every holder of the card.
        let card = (KeyKind::Card, 50);
        let rows = [
            keys(&[card, (KeyKind::Insurance, 10), (KeyKind::Name, 20)]),
            keys(&[card, (KeyKind::Insurance, 11), (KeyKind::Name, 21)]),
            keys(&[(KeyKind::Card, 60), (KeyKind::CardBranch, 600), (KeyKind::Insurance, 12)]),
        ];
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.watch_cards([50, 60]);
        linker.add_rows(0, &rows, &[], |r| 100 + r as u128);
        let persons = linker.finish();
        let m = match_opt_outs(&[entry(2, &[card, (KeyKind::CardBranch, 509)])], &persons);
        assert_eq!(m.persons.len(), 2);
        assert_eq!(m.card_without_branch_entries, 1);
        // On a card whose holders' 枝番 are all known, an unknown 枝番 names nobody.
        let m = match_opt_outs(&[entry(2, &[(KeyKind::Card, 60), (KeyKind::CardBranch, 601)])], &persons);
        assert_eq!(m.unmatched_lines, vec![2]);
    }
}
