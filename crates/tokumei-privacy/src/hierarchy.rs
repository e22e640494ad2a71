//! A quasi-identifier as the search sees it: a dictionary of base values and, per generalization
//! level, the generalized code of every base code.

use crate::histogram::NULL_CODE;

/// One quasi-identifier.
#[derive(Debug, Clone, PartialEq)]
pub struct QuasiIdentifier {
    /// Column name.
    pub name: String,
    /// `lookup[level][base_code]` = generalized code at that level. Level 0 is the finest; a
    /// proper hierarchy maps equal codes at one level to equal codes at every higher level.
    pub lookup: Vec<Vec<u32>>,
    /// Label per level for reports (e.g. `5-year age bands`).
    pub level_names: Vec<String>,
    /// Lowest level the search may choose (default 0).
    pub min_level: usize,
    /// Highest level the search may choose (default: the top).
    pub max_level: Option<usize>,
}

impl QuasiIdentifier {
    /// A quasi-identifier searchable over all of its levels.
    pub fn new(name: impl Into<String>, lookup: Vec<Vec<u32>>, level_names: Vec<String>) -> QuasiIdentifier {
        QuasiIdentifier { name: name.into(), lookup, level_names, min_level: 0, max_level: None }
    }

    /// Restricts the search to levels `min..=max`.
    pub fn with_bounds(mut self, min: usize, max: Option<usize>) -> QuasiIdentifier {
        self.min_level = min;
        self.max_level = max;
        self
    }

    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.lookup.len()
    }

    /// Height of the hierarchy (levels − 1).
    pub fn height(&self) -> usize {
        self.levels().saturating_sub(1)
    }

    /// Number of base values (the domain).
    pub fn domain(&self) -> usize {
        self.lookup.first().map_or(0, Vec::len)
    }

    /// Searchable levels, inclusive.
    pub fn bounds(&self) -> (usize, usize) {
        (self.min_level, self.max_level.unwrap_or(self.height()).min(self.height()))
    }

    /// The generalized code of `base` at `level`.
    pub fn code(&self, level: usize, base: u32) -> u32 {
        if base == NULL_CODE { NULL_CODE } else { self.lookup[level][base as usize] }
    }

    /// Distinct generalized codes at `level` (one more than the largest).
    pub(crate) fn cardinality(&self, level: usize) -> usize {
        self.lookup[level].iter().map(|&c| c as usize + 1).max().unwrap_or(0)
    }

    /// Per generalized code at `level`: how many base values it covers.
    pub(crate) fn leaves(&self, level: usize) -> Vec<u64> {
        let mut leaves = vec![0u64; self.cardinality(level)];
        for &c in &self.lookup[level] {
            leaves[c as usize] += 1;
        }
        leaves
    }

    /// Checks the ladder: at least one level, equal lengths, bounds inside, and each level a
    /// function of the one below (so classes only merge going up).
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        let bad = |why: &str| Err(crate::Error::BadHierarchy { column: self.name.clone(), why: why.into() });
        if self.lookup.is_empty() {
            return bad("it has no levels");
        }
        if self.lookup.iter().any(|l| l.len() != self.domain()) {
            return bad("its levels cover different numbers of values");
        }
        let (min, max) = self.bounds();
        if min > max {
            return bad("its minimum level is above its maximum level");
        }
        for level in 1..self.levels() {
            let mut up: Vec<u32> = vec![NULL_CODE; self.cardinality(level - 1)];
            for (&below, &above) in self.lookup[level - 1].iter().zip(&self.lookup[level]) {
                let slot = &mut up[below as usize];
                if *slot != NULL_CODE && *slot != above {
                    return bad(&format!("level {level} splits a group of level {}", level - 1));
                }
                *slot = above;
            }
        }
        Ok(())
    }
}
