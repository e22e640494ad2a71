//! 名寄せ: rows that share any key are one person (union-find over keys).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::keys::{KeyKind, RowKeys};

/// Keys are keyed blake3 hashes, already uniform: hashing them again (SipHash) is wasted work.
#[derive(Default)]
pub(crate) struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u128 keys; fold the bytes in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64 ^ (key >> 64) as u64;
    }
}

type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<PrehashedKey>>;

/// Builds persons from the keys of every row of every source.
#[derive(Default)]
pub struct Linker {
    parent: Vec<u32>,
    node_key: Vec<u128>,
    node_of_key: KeyMap<u32>,
    /// Per source, per row: the row's node.
    rows: Vec<Vec<u32>>,
    /// Rows that carried each key kind, for the report.
    key_rows: [u64; 4],
    /// Rows with no key at all (each becomes a person of its own).
    keyless_rows: u64,
}

/// The linked persons.
pub struct Persons {
    /// Per source, per row: dense person index.
    pub row_person: Vec<Vec<u32>>,
    /// Per person: a stable representative (the smallest key hash in its cluster).
    pub representative: Vec<u128>,
    person_of_key: KeyMap<u32>,
    /// Linkage statistics.
    pub stats: LinkStats,
}

/// What linkage did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Persons found.
    pub persons: u64,
    /// Rows that carried K1, K2, K3, K4.
    pub rows_with_key: BTreeMapCounts,
    /// Rows with no usable key: each is its own person.
    pub keyless_rows: u64,
    /// Persons whose rows come from more than one source.
    pub persons_in_several_sources: u64,
}

/// Counts per key kind.
pub type BTreeMapCounts = std::collections::BTreeMap<KeyKind, u64>;

impl Linker {
    /// A linker for `sources` sources.
    pub fn new(sources: usize) -> Linker {
        Linker { rows: vec![Vec::new(); sources], ..Linker::default() }
    }

    fn node(&mut self, key: u128) -> u32 {
        if let Some(&node) = self.node_of_key.get(&key) {
            return node;
        }
        let node = self.parent.len() as u32;
        self.parent.push(node);
        self.node_key.push(key);
        self.node_of_key.insert(key, node);
        node
    }

    fn find(&mut self, mut node: u32) -> u32 {
        while self.parent[node as usize] != node {
            let grandparent = self.parent[self.parent[node as usize] as usize];
            self.parent[node as usize] = grandparent;
            node = grandparent;
        }
        node
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller key as root so the representative needs no second pass.
            let (root, child) =
                if self.node_key[ra as usize] <= self.node_key[rb as usize] { (ra, rb) } else { (rb, ra) };
            self.parent[child as usize] = root;
        }
    }

    /// Adds the next rows of `source` (in order). `keyless_id` gives a row with no key a stable
    /// identity of its own (e.g. a keyed hash of source name and row number).
    pub fn add_rows(&mut self, source: usize, keys: &[RowKeys], keyless_id: impl Fn(usize) -> u128) {
        for row_keys in keys {
            let row = self.rows[source].len();
            let mut first = None;
            for (kind, key) in row_keys.iter().enumerate() {
                if let Some(key) = key {
                    self.key_rows[kind] += 1;
                    let node = self.node(*key);
                    match first {
                        None => first = Some(node),
                        Some(f) => self.union(f, node),
                    }
                }
            }
            let node = first.unwrap_or_else(|| {
                self.keyless_rows += 1;
                self.node(keyless_id(row))
            });
            self.rows[source].push(node);
        }
    }

    /// Resolves persons. Person indices are ordered by representative, so they do not depend on
    /// the order sources were read in.
    pub fn finish(mut self) -> Persons {
        let roots: Vec<u32> = (0..self.parent.len() as u32).map(|n| self.find(n)).collect();
        let mut root_keys: Vec<u128> =
            roots.iter().enumerate().filter(|(n, r)| *n as u32 == **r).map(|(n, _)| self.node_key[n]).collect();
        root_keys.sort_unstable();
        let person_of_root_key: KeyMap<u32> = root_keys.iter().enumerate().map(|(i, k)| (*k, i as u32)).collect();
        let person_of_node = |node: u32| person_of_root_key[&self.node_key[roots[node as usize] as usize]];
        let row_person: Vec<Vec<u32>> =
            self.rows.iter().map(|rows| rows.iter().map(|&n| person_of_node(n)).collect()).collect();
        let person_of_key = self.node_of_key.iter().map(|(k, &n)| (*k, person_of_node(n))).collect();

        let mut sources_of_person = vec![0u64; root_keys.len()];
        for (source, rows) in row_person.iter().enumerate() {
            for &p in rows {
                sources_of_person[p as usize] |= 1 << source.min(63);
            }
        }
        let stats = LinkStats {
            persons: root_keys.len() as u64,
            rows_with_key: KeyKind::ALL.into_iter().zip(self.key_rows).collect(),
            keyless_rows: self.keyless_rows,
            persons_in_several_sources: sources_of_person.iter().filter(|s| s.count_ones() > 1).count() as u64,
        };
        Persons { row_person, representative: root_keys, person_of_key, stats }
    }
}

impl Persons {
    /// The person holding any of `keys`, if one does. When keys point at different persons the
    /// first (K1 before K2 …) wins; the caller may treat all of them as matched.
    pub fn persons_of(&self, keys: &RowKeys) -> Vec<u32> {
        let mut found: Vec<u32> = keys.iter().flatten().filter_map(|k| self.person_of_key.get(k).copied()).collect();
        found.dedup();
        found
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.representative.len()
    }

    /// True when no rows were linked.
    pub fn is_empty(&self) -> bool {
        self.representative.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shared_keys_join_rows_across_sources() {
        let mut linker = Linker::new(2);
        // Source 0: row 0 has K1=10,K2=20; row 1 has K2=30.
        linker.add_rows(0, &[[Some(10), Some(20), None, None], [None, Some(30), None, None]], |r| 1000 + r as u128);
        // Source 1: row 0 has K2=20 (joins row 0 of source 0) and K3=40; row 1 has no key.
        linker.add_rows(1, &[[None, Some(20), Some(40), None], [None, None, None, None]], |r| 2000 + r as u128);
        let persons = linker.finish();
        assert_eq!(persons.len(), 3);
        assert_eq!(persons.row_person[0][0], persons.row_person[1][0]);
        assert_ne!(persons.row_person[0][0], persons.row_person[0][1]);
        assert_eq!(persons.stats.keyless_rows, 1);
        assert_eq!(persons.stats.persons_in_several_sources, 1);
        assert_eq!(persons.persons_of(&[None, None, Some(40), None]), vec![persons.row_person[0][0]]);
        assert_eq!(persons.representative[persons.row_person[0][0] as usize], 10);
    }

    proptest! {
        /// Union-find agrees with a naive transitive closure, and person numbering does not
        /// depend on the order rows arrive in.
        #[test]
        fn matches_naive_closure(rows in proptest::collection::vec(proptest::array::uniform4(proptest::option::of(0u128..12)), 1..40)) {
            let mut linker = Linker::new(1);
            linker.add_rows(0, &rows, |r| 1_000 + r as u128);
            let persons = linker.finish();
            // Naive: repeatedly merge rows that share a key.
            let mut group: Vec<usize> = (0..rows.len()).collect();
            loop {
                let mut changed = false;
                for i in 0..rows.len() {
                    for j in 0..rows.len() {
                        let share = rows[i].iter().zip(&rows[j]).any(|(a, b)| a.is_some() && a == b)
                            || rows[i].iter().flatten().any(|k| rows[j].iter().flatten().any(|m| m == k));
                        if share && group[i] != group[j] {
                            let (lo, hi) = (group[i].min(group[j]), group[i].max(group[j]));
                            for g in group.iter_mut() { if *g == hi { *g = lo; } }
                            changed = true;
                        }
                    }
                }
                if !changed { break; }
            }
            for i in 0..rows.len() {
                for j in 0..rows.len() {
                    prop_assert_eq!(group[i] == group[j], persons.row_person[0][i] == persons.row_person[0][j]);
                }
            }
            let mut reversed = rows.clone();
            reversed.reverse();
            let mut linker = Linker::new(1);
            linker.add_rows(0, &reversed, |r| 1_000 + (rows.len() - 1 - r) as u128);
            let again = linker.finish();
            let n = rows.len();
            for i in 0..n {
                prop_assert_eq!(persons.row_person[0][i], again.row_person[0][n - 1 - i]);
            }
        }
    }
}
