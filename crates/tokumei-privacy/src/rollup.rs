//! Rolling a histogram up to a vector of levels: the equivalence classes there, without touching
//! rows. Used by the search for every lattice node, and by risk measures (a quasi-identifier left
//! out is one generalized to a single value).

use hashbrown::HashMap;

use crate::Error;
use crate::hierarchy::QuasiIdentifier;
use crate::histogram::{Histogram, NULL_CODE, sum_by_key};

/// Equivalence classes at one node.
pub(crate) struct Grouping {
    pub class_of: Vec<u32>,
    pub units: Vec<u64>,
    pub records: Vec<u64>,
    pub sensitive: Vec<Vec<(u32, u64)>>,
}

/// The histogram's entries arranged for fast roll-ups.
struct Layout {
    /// Entries with one tuple.
    single: Vec<u32>,
    /// Their base codes, attribute by attribute (`domain` for a missing value).
    columns: Vec<Vec<u32>>,
    /// Entries with several tuples.
    multi: Vec<u32>,
    /// Units and records per entry.
    units: Vec<u64>,
    records: Vec<u64>,
}

impl Layout {
    fn new(h: &Histogram, qis: &[QuasiIdentifier]) -> Layout {
        let (single, multi): (Vec<u32>, Vec<u32>) = (0..h.len() as u32).partition(|&e| h.slots(e as usize).len() == 1);
        let columns = qis
            .iter()
            .enumerate()
            .map(|(a, qi)| {
                single
                    .iter()
                    .map(|&e| {
                        let code = h.tuple(h.slots(e as usize).start)[a];
                        if code == NULL_CODE { qi.domain() as u32 } else { code }
                    })
                    .collect()
            })
            .collect();
        let records = (0..h.len()).map(|e| h.slots(e).map(|s| h.slot_records[s]).sum()).collect();
        Layout { single, columns, multi, units: h.units.clone(), records }
    }
}

/// A histogram prepared for roll-ups.
pub(crate) struct Roller<'a> {
    histogram: &'a Histogram,
    qis: &'a [QuasiIdentifier],
    layout: Layout,
}

impl<'a> Roller<'a> {
    pub(crate) fn new(histogram: &'a Histogram, qis: &'a [QuasiIdentifier]) -> Roller<'a> {
        Roller { histogram, qis, layout: Layout::new(histogram, qis) }
    }

    pub(crate) fn group(&self, levels: &[usize]) -> Grouping {
        let h = self.histogram;
        let layout = &self.layout;
        let mut class_of = vec![0u32; h.len()];
        let mut next = 0u32;
        match self.node_tables(levels) {
            Some((tables, key_space)) => {
                // Keys of the one-tuple entries, attribute by attribute.
                let mut keys = vec![0u64; layout.single.len()];
                for (table, column) in tables.iter().zip(&layout.columns) {
                    for (key, &code) in keys.iter_mut().zip(column) {
                        *key += table[code as usize];
                    }
                }
                let slot_key = |slot: usize| -> u64 {
                    h.tuple(slot)
                        .iter()
                        .zip(&tables)
                        .map(|(&b, t)| if b == NULL_CODE { 0 } else { t[b as usize] })
                        .sum()
                };
                let mut multi: HashMap<Vec<u64>, u32> = HashMap::new();
                let mut signature: Vec<u64> = Vec::new();
                let mut assign = |id: &mut dyn FnMut(u64) -> u32| {
                    for (&e, &key) in layout.single.iter().zip(&keys) {
                        class_of[e as usize] = id(key);
                    }
                    for &e in &layout.multi {
                        signature.clear();
                        signature.extend(h.slots(e as usize).map(slot_key));
                        signature.sort_unstable();
                        signature.dedup();
                        class_of[e as usize] = if signature.len() == 1 {
                            id(signature[0])
                        } else {
                            match multi.get(signature.as_slice()) {
                                Some(&c) => c,
                                None => {
                                    let c = id(u64::MAX);
                                    multi.insert(signature.clone(), c);
                                    c
                                }
                            }
                        };
                    }
                };
                // A fresh class id for u64::MAX (multi-tuple signatures, never a packed key).
                if key_space <= (layout.single.len() as u64 * 4).clamp(1 << 16, 1 << 24) {
                    let mut dense = vec![u32::MAX; key_space as usize];
                    assign(&mut |key| {
                        if key == u64::MAX {
                            next += 1;
                            return next - 1;
                        }
                        let slot = &mut dense[key as usize];
                        if *slot == u32::MAX {
                            *slot = next;
                            next += 1;
                        }
                        *slot
                    });
                } else {
                    let mut map: HashMap<u64, u32> = HashMap::with_capacity(layout.single.len().min(1 << 20));
                    assign(&mut |key| {
                        if key == u64::MAX {
                            next += 1;
                            return next - 1;
                        }
                        *map.entry(key).or_insert_with(|| {
                            next += 1;
                            next - 1
                        })
                    });
                }
            }
            None => {
                // Too many combinations for a u64 key: signatures of generalized codes.
                let qis = self.qis;
                let mut signatures: HashMap<Vec<u32>, u32> = HashMap::new();
                let mut tuples: Vec<Vec<u32>> = Vec::new();
                for (e, class) in class_of.iter_mut().enumerate() {
                    tuples.clear();
                    for slot in h.slots(e) {
                        tuples.push(
                            h.tuple(slot).iter().zip(qis).zip(levels).map(|((&b, qi), &l)| qi.code(l, b)).collect(),
                        );
                    }
                    tuples.sort_unstable();
                    tuples.dedup();
                    *class = *signatures.entry(tuples.concat()).or_insert_with(|| {
                        next += 1;
                        next - 1
                    });
                }
            }
        }
        let classes = next as usize;
        let mut units = vec![0u64; classes];
        let mut records = vec![0u64; classes];
        for (e, &c) in class_of.iter().enumerate() {
            units[c as usize] += layout.units[e];
            records[c as usize] += layout.records[e];
        }
        let mut sensitive: Vec<Vec<(u32, u64)>> = Vec::new();
        if h.has_sensitive() {
            sensitive = vec![Vec::new(); classes];
            for (e, &c) in class_of.iter().enumerate() {
                sensitive[c as usize].extend_from_slice(&h.sensitive[e]);
            }
            for dist in &mut sensitive {
                sum_by_key(dist);
            }
        }
        Grouping { class_of, units, records, sensitive }
    }

    /// Per attribute, the key contribution of every base code at `levels` (mixed radix over the
    /// node's generalized codes, 0 for a missing value, index `domain` = missing), and the size
    /// of the key space; `None` when the key space does not fit a `u64`.
    fn node_tables(&self, levels: &[usize]) -> Option<(Vec<Vec<u64>>, u64)> {
        let mut tables = vec![Vec::new(); levels.len()];
        let mut multiplier: u64 = 1;
        for a in (0..levels.len()).rev() {
            let qi = &self.qis[a];
            let next = multiplier.checked_mul(qi.cardinality(levels[a]) as u64 + 1)?;
            let mut table: Vec<u64> = qi.lookup[levels[a]].iter().map(|&c| (u64::from(c) + 1) * multiplier).collect();
            table.push(0);
            tables[a] = table;
            multiplier = next;
        }
        (multiplier < u64::MAX).then_some((tables, multiplier))
    }
}

/// One equivalence class after a roll-up.
#[derive(Debug, Clone, PartialEq)]
pub struct RolledClass {
    /// Units (persons or rows).
    pub units: u64,
    /// Records.
    pub records: u64,
    /// Sensitive code → units, sorted by code.
    pub sensitive: Vec<(u32, u64)>,
}

/// The equivalence classes of `histogram` with each quasi-identifier at its level in `levels`.
pub fn roll_up(histogram: &Histogram, qis: &[QuasiIdentifier], levels: &[usize]) -> Result<Vec<RolledClass>, Error> {
    if qis.len() != histogram.width || levels.len() != qis.len() {
        return Err(Error::InvalidInput("one quasi-identifier and one level per histogram column".into()));
    }
    for (qi, &level) in qis.iter().zip(levels) {
        qi.check()?;
        if level >= qi.levels() {
            return Err(Error::InvalidInput(format!("`{}` has no level {level}", qi.name)));
        }
    }
    let g = Roller::new(histogram, qis).group(levels);
    let mut sensitive = g.sensitive.into_iter();
    Ok(g.units
        .into_iter()
        .zip(g.records)
        .map(|(units, records)| RolledClass { units, records, sensitive: sensitive.next().unwrap_or_default() })
        .collect())
}

/// The equivalence class of every histogram entry at `levels`: entries whose signatures (sets of
/// tuples) generalize to the same set share a class id (dense, in order of first entry).
pub fn entry_classes(histogram: &Histogram, qis: &[QuasiIdentifier], levels: &[usize]) -> Result<Vec<u32>, Error> {
    if qis.len() != histogram.width || levels.len() != qis.len() {
        return Err(Error::InvalidInput("one quasi-identifier and one level per histogram column".into()));
    }
    let mut ids: hashbrown::HashMap<Vec<u32>, u32> = hashbrown::HashMap::new();
    Ok((0..histogram.len())
        .map(|e| {
            let mut tuples: Vec<Vec<u32>> = histogram
                .slots(e)
                .map(|s| {
                    histogram.tuple(s).iter().zip(qis.iter().zip(levels)).map(|(&c, (q, &l))| q.code(l, c)).collect()
                })
                .collect();
            tuples.sort_unstable();
            tuples.dedup();
            let next = ids.len() as u32;
            *ids.entry(tuples.concat()).or_insert(next)
        })
        .collect())
}
