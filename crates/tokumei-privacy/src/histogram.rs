//! Person signatures: the set of a person's quasi-identifier tuples, encoded as `u32` codes.
//!
//! A person with many records counts once. Their signature is the sorted set of distinct tuples
//! their records show after generalization; two persons are in one equivalence class when their
//! signatures are equal, so classes never split one person's records.

use std::collections::HashMap;

use rayon::prelude::*;

/// Code of a missing value.
pub const NULL_CODE: u32 = u32::MAX;

/// One quasi-identifier: a dictionary of base values and, per level, the generalized code of each
/// base code.
#[derive(Debug, Clone, PartialEq)]
pub struct QuasiIdentifier {
    /// Column name.
    pub name: String,
    /// `lookup[level][base_code]` = generalized code at that level.
    pub lookup: Vec<Vec<u32>>,
    /// Label per level for reports (e.g. `5-year age bands`).
    pub level_names: Vec<String>,
}

impl QuasiIdentifier {
    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.lookup.len()
    }

    fn code(&self, level: usize, base: u32) -> u32 {
        if base == NULL_CODE { NULL_CODE } else { self.lookup[level][base as usize] }
    }
}

/// Every person's distinct base tuples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonTuples {
    /// Number of quasi-identifiers per tuple.
    pub width: usize,
    /// Per person: its distinct tuples, flattened (`width` codes each).
    pub persons: Vec<Vec<u32>>,
    /// Per person: its number of records, to report suppressed records.
    pub records: Vec<u64>,
}

impl PersonTuples {
    /// Empty, for `persons` persons with tuples of `width` codes.
    pub fn new(persons: usize, width: usize) -> PersonTuples {
        PersonTuples { width, persons: vec![Vec::new(); persons], records: vec![0; persons] }
    }

    /// Adds one distinct tuple of `person`.
    pub fn push(&mut self, person: u32, tuple: &[u32]) {
        debug_assert_eq!(tuple.len(), self.width);
        self.persons[person as usize].extend_from_slice(tuple);
    }

    /// Equivalence class of every person at `levels` (dense class ids), and each class's size.
    pub fn classes(&self, qis: &[QuasiIdentifier], levels: &[usize]) -> (Vec<u32>, Vec<u64>) {
        let signatures: Vec<Vec<u32>> = self
            .persons
            .par_iter()
            .map(|flat| {
                let mut tuples: Vec<&[u32]> = Vec::new();
                let generalized: Vec<u32> = flat
                    .chunks(self.width.max(1))
                    .flat_map(|tuple| tuple.iter().zip(qis).zip(levels).map(|((&b, qi), &l)| qi.code(l, b)))
                    .collect();
                tuples.extend(generalized.chunks(self.width.max(1)));
                tuples.sort_unstable();
                tuples.dedup();
                tuples.concat()
            })
            .collect();
        let mut ids: HashMap<&[u32], u32> = HashMap::new();
        let mut sizes = Vec::new();
        let class_of = signatures
            .iter()
            .map(|sig| {
                let next = ids.len() as u32;
                let id = *ids.entry(sig.as_slice()).or_insert(next);
                if id as usize == sizes.len() {
                    sizes.push(0);
                }
                sizes[id as usize] += 1;
                id
            })
            .collect();
        (class_of, sizes)
    }
}
