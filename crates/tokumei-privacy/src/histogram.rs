//! The one pass over the data: distinct quasi-identifier signatures with their counts.
//!
//! Rows arrive as per-column `u32` codes (dictionary-encoded by the caller). A *unit* is what the
//! privacy model counts: a person for longitudinal data (many rows per person), or each row for a
//! flat table. A unit's *signature* is the sorted set of its distinct tuples; units with the same
//! signature form one histogram entry, which carries how many units it holds, how many records
//! each of its tuples has, and (with a sensitive attribute) how many units show each sensitive
//! value. Every lattice node is evaluated on these entries, never on the rows.

use hashbrown::HashMap;
use rayon::prelude::*;

use crate::Error;

/// Code of a missing value.
pub const NULL_CODE: u32 = u32::MAX;

/// Distinct unit signatures and their counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Codes per tuple (quasi-identifiers).
    pub width: usize,
    /// Entry `e` holds tuple slots `starts[e]..starts[e + 1]`.
    pub(crate) starts: Vec<u32>,
    /// Codes of every slot, flattened (`width` each).
    pub(crate) codes: Vec<u32>,
    /// Records per slot.
    pub(crate) slot_records: Vec<u64>,
    /// Units (persons or rows) per entry.
    pub(crate) units: Vec<u64>,
    /// Per entry: sensitive code → units showing it, sorted by code (empty without one).
    pub(crate) sensitive: Vec<Vec<(u32, u64)>>,
    /// Size of the sensitive attribute's dictionary (0 without one). Codes are in value order.
    pub sensitive_values: u32,
}

impl Histogram {
    /// Number of entries (distinct signatures).
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Units (persons or rows) counted.
    pub fn unit_count(&self) -> u64 {
        self.units.iter().sum()
    }

    /// Records counted.
    pub fn record_count(&self) -> u64 {
        self.slot_records.iter().sum()
    }

    /// Every entry: units, records and sensitive distribution. At the finest levels the entries
    /// are the equivalence classes (units with equal signatures), which is what risk measures
    /// count.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        (0..self.len()).map(|e| Entry {
            units: self.units[e],
            records: self.slots(e).map(|s| self.slot_records[s]).sum(),
            sensitive: &self.sensitive[e],
        })
    }

    /// Whether the entries carry a sensitive attribute.
    pub fn has_sensitive(&self) -> bool {
        self.sensitive_values > 0
    }

    pub(crate) fn slots(&self, entry: usize) -> std::ops::Range<usize> {
        self.starts[entry] as usize..self.starts[entry + 1] as usize
    }

    pub(crate) fn tuple(&self, slot: usize) -> &[u32] {
        &self.codes[slot * self.width..(slot + 1) * self.width]
    }

    /// Per quasi-identifier: records per base code (the input's marginal frequencies).
    pub(crate) fn marginals(&self, dictionary_sizes: &[usize]) -> Vec<Vec<u64>> {
        let mut out: Vec<Vec<u64>> = dictionary_sizes.iter().map(|&n| vec![0; n]).collect();
        for (slot, &records) in self.slot_records.iter().enumerate() {
            for (a, &code) in self.tuple(slot).iter().enumerate() {
                if code != NULL_CODE {
                    out[a][code as usize] += records;
                }
            }
        }
        out
    }

    /// Sensitive distribution of the whole input: units per sensitive code.
    pub(crate) fn sensitive_totals(&self) -> Vec<u64> {
        let mut totals = vec![0u64; self.sensitive_values as usize];
        for dist in &self.sensitive {
            for &(code, n) in dist {
                totals[code as usize] += n;
            }
        }
        totals
    }

    /// Adds another histogram's entries (e.g. from another worker), merging equal signatures.
    pub fn merge(self, other: Histogram) -> Result<Histogram, Error> {
        if self.is_empty() {
            return Ok(other);
        }
        if other.is_empty() {
            return Ok(self);
        }
        if self.width != other.width || self.sensitive_values != other.sensitive_values {
            return Err(Error::InvalidInput("histograms of different shapes cannot be merged".into()));
        }
        let mut builder = EntryTable::new(self.width, self.sensitive_values);
        for h in [&self, &other] {
            for e in 0..h.len() {
                let slots = h.slots(e);
                let tuples: Vec<&[u32]> = slots.clone().map(|s| h.tuple(s)).collect();
                let records: Vec<u64> = slots.map(|s| h.slot_records[s]).collect();
                builder.add(None, &tuples, &records, h.units[e], &h.sensitive[e]);
            }
        }
        Ok(builder.finish())
    }
}

/// One histogram entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    /// Units (persons, or rows) with this signature.
    pub units: u64,
    /// Their records.
    pub records: u64,
    /// Sensitive code → units showing it, sorted by code.
    pub sensitive: &'a [(u32, u64)],
}

/// Supplies the histogram of a table. The in-memory implementation is [`CodedRows`]; a
/// distributed engine can implement this to count distinct signatures where the data lives.
pub trait HistogramSource {
    /// Builds the histogram in one pass over the data.
    fn histogram(&self) -> Result<Histogram, Error>;
}

/// Dictionary-encoded rows held in memory.
#[derive(Debug, Clone, Copy)]
pub struct CodedRows<'a> {
    /// One code column per quasi-identifier, all of one length ([`NULL_CODE`] for missing).
    pub columns: &'a [Vec<u32>],
    /// The unit (person, dense from 0) of every row; without it, every row is its own unit.
    pub units: Option<&'a [u32]>,
    /// Records each row stands for (e.g. after a distinct over person × tuple); default 1.
    pub weights: Option<&'a [u64]>,
    /// Sensitive code per row (dense, in value order), and the dictionary size.
    pub sensitive: Option<(&'a [u32], u32)>,
}

impl HistogramSource for CodedRows<'_> {
    fn histogram(&self) -> Result<Histogram, Error> {
        Ok(self.build()?.0)
    }
}

impl CodedRows<'_> {
    fn rows(&self) -> usize {
        self.columns.first().map_or_else(|| self.units.map_or(0, <[u32]>::len), Vec::len)
    }

    fn check(&self) -> Result<(), Error> {
        let rows = self.rows();
        let same = |n: usize, what: &str| {
            if n == rows { Ok(()) } else { Err(Error::InvalidInput(format!("{what} has {n} rows, expected {rows}"))) }
        };
        for column in self.columns {
            same(column.len(), "a quasi-identifier column")?;
        }
        if let Some(units) = self.units {
            same(units.len(), "the unit column")?;
        }
        if let Some(weights) = self.weights {
            same(weights.len(), "the weight column")?;
        }
        if let Some((codes, n)) = self.sensitive {
            same(codes.len(), "the sensitive column")?;
            if codes.iter().any(|&c| c >= n) {
                return Err(Error::InvalidInput("a sensitive code is outside its dictionary".into()));
            }
        }
        Ok(())
    }

    /// Builds the histogram and returns, per unit (person, or row without units), its entry.
    pub fn build(&self) -> Result<(Histogram, Vec<u32>), Error> {
        self.check()?;
        let width = self.columns.len();
        let sensitive_values = self.sensitive.map_or(0, |(_, n)| n);
        let rows = self.rows();
        let keys = Keys::new(self);
        let weight = |row: usize| self.weights.map_or(1, |w| w[row]);
        let mut table = EntryTable::new(width, sensitive_values);
        match self.units {
            None => Ok(flat_histogram(&keys, rows, width, sensitive_values, &weight)),
            Some(units) => {
                let unit_count = units.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
                // Rows grouped by unit (already so in most exports; else sorted by unit, then row):
                // each unit's distinct tuples become its signature.
                let order: Vec<u32> = if units.is_sorted() {
                    (0..rows as u32).collect()
                } else {
                    let mut pairs: Vec<u64> = (0..rows).map(|row| (u64::from(units[row]) << 32) | row as u64).collect();
                    pairs.par_sort_unstable();
                    pairs.into_iter().map(|p| p as u32).collect()
                };
                let mut unit_entry = vec![u32::MAX; unit_count];
                let mut pairs: Vec<(u128, u64)> = Vec::new();
                let mut tuples: Vec<u32> = Vec::new();
                let mut records: Vec<u64> = Vec::new();
                let mut values: Vec<u32> = Vec::new();
                let mut codes = vec![0u32; width];
                for group in order.chunk_by(|&a, &b| units[a as usize] == units[b as usize]) {
                    pairs.clear();
                    values.clear();
                    for &row in group {
                        let key = keys.key(row as usize);
                        values.extend(keys.sensitive_of(key));
                        pairs.push((keys.without_sensitive(key), weight(row as usize)));
                    }
                    if pairs.len() > 1 {
                        sum_by_key(&mut pairs);
                        values.sort_unstable();
                        values.dedup();
                    }
                    tuples.clear();
                    records.clear();
                    for &(tuple_key, weight) in &pairs {
                        keys.decode(tuple_key, &mut codes);
                        tuples.extend_from_slice(&codes);
                        records.push(weight);
                    }
                    let dist: Vec<(u32, u64)> = values.iter().map(|&v| (v, 1)).collect();
                    let refs: Vec<&[u32]> = tuples.chunks(width.max(1)).collect();
                    let key = (pairs.len() == 1).then(|| pairs[0].0);
                    unit_entry[units[group[0] as usize] as usize] = table.add(key, &refs, &records, 1, &dist);
                }
                Ok((table.finish(), unit_entry))
            }
        }
    }
}

/// Sorts `(key, count)` pairs by key and sums the counts of equal keys.
pub(crate) fn sum_by_key<K: Ord + Copy>(pairs: &mut Vec<(K, u64)>) {
    pairs.sort_unstable_by_key(|p| p.0);
    pairs.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
}

/// Partitions for the flat histogram: enough for both cores to stay busy, few enough that
/// every partition scans the key column cheaply.
const PARTITIONS: usize = 16;

/// Which partition a tuple key belongs to (a fixed mix, so entry order is deterministic).
fn partition(tuple_key: u128) -> usize {
    let folded = (tuple_key as u64) ^ ((tuple_key >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % PARTITIONS
}

/// Every row is a unit. Rows are split by key into disjoint partitions, each counted by one
/// thread with a small map (no merging); entries come partition by partition, in order of first
/// occurrence, so the same rows always give the same histogram.
fn flat_histogram(
    keys: &Keys<'_>,
    rows: usize,
    width: usize,
    sensitive_values: u32,
    weight: &(dyn Fn(usize) -> u64 + Sync),
) -> (Histogram, Vec<u32>) {
    // Rows bucketed by partition with their keys: per chunk of rows, in parallel, chunks in order.
    let chunk = (rows / (4 * rayon::current_num_threads().max(1))).max(1 << 14);
    let buckets: Vec<Vec<(Vec<u32>, Vec<u128>)>> = (0..rows.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let capacity = chunk / PARTITIONS * 5 / 4;
            let mut out: Vec<(Vec<u32>, Vec<u128>)> =
                (0..PARTITIONS).map(|_| (Vec::with_capacity(capacity), Vec::with_capacity(capacity))).collect();
            for row in c * chunk..((c + 1) * chunk).min(rows) {
                let k = keys.key(row);
                let bucket = &mut out[partition(keys.without_sensitive(k))];
                bucket.0.push(row as u32);
                bucket.1.push(k);
            }
            out
        })
        .collect();
    struct Local {
        tuples: Vec<u128>,
        units: Vec<u64>,
        records: Vec<u64>,
        sensitive: Vec<Vec<(u32, u64)>>,
        /// Local entry of each of the partition's rows, in bucket order.
        ids: Vec<u32>,
        /// The partition's tuples decoded (`width` codes each).
        codes: Vec<u32>,
    }
    let locals: Vec<Local> = (0..PARTITIONS)
        .into_par_iter()
        .map(|p| {
            let in_partition: usize = buckets.iter().map(|b| b[p].0.len()).sum();
            let mut index: HashMap<u128, u32> = HashMap::with_capacity(in_partition / 2);
            let mut local = Local {
                tuples: Vec::new(),
                units: Vec::new(),
                records: Vec::new(),
                sensitive: Vec::new(),
                ids: Vec::new(),
                codes: Vec::new(),
            };
            let with_sensitive = sensitive_values > 0;
            for (&row, &key) in buckets.iter().flat_map(|b| b[p].0.iter().zip(&b[p].1)) {
                let row = row as usize;
                let tuple = keys.without_sensitive(key);
                let next = local.tuples.len() as u32;
                let id = *index.entry(tuple).or_insert(next);
                if id == next {
                    local.tuples.push(tuple);
                    local.units.push(0);
                    local.records.push(0);
                    if with_sensitive {
                        local.sensitive.push(Vec::new());
                    }
                }
                let e = id as usize;
                local.units[e] += 1;
                local.records[e] += weight(row);
                if let Some(s) = keys.sensitive_of(key) {
                    let dist = &mut local.sensitive[e];
                    match dist.iter_mut().find(|d| d.0 == s) {
                        Some(d) => d.1 += 1,
                        None => dist.push((s, 1)),
                    }
                }
                local.ids.push(id);
            }
            for dist in &mut local.sensitive {
                dist.sort_unstable_by_key(|d| d.0);
            }
            if !with_sensitive {
                local.sensitive = vec![Vec::new(); local.tuples.len()];
            }
            let mut codes = vec![0u32; width];
            local.codes.reserve(local.tuples.len() * width);
            for &tuple in &local.tuples {
                keys.decode(tuple, &mut codes);
                local.codes.extend_from_slice(&codes);
            }
            local
        })
        .collect();
    let entries: usize = locals.iter().map(|l| l.tuples.len()).sum();
    let mut h = Histogram {
        width,
        starts: (0..=entries as u32).collect(),
        codes: Vec::with_capacity(entries * width),
        slot_records: Vec::with_capacity(entries),
        units: Vec::with_capacity(entries),
        sensitive: Vec::with_capacity(entries),
        sensitive_values,
    };
    let mut unit_entry = vec![0u32; rows];
    for (p, local) in locals.into_iter().enumerate() {
        let offset = h.units.len() as u32;
        h.codes.extend_from_slice(&local.codes);
        h.slot_records.extend(local.records);
        h.units.extend(local.units);
        h.sensitive.extend(local.sensitive);
        let partition_rows = buckets.iter().flat_map(|b| b[p].0.iter());
        for (&row, id) in partition_rows.zip(local.ids) {
            unit_entry[row as usize] = offset + id;
        }
    }
    (h, unit_entry)
}

/// Packs a row's tuple and sensitive code into one `u128`: bit fields when they fit, else an
/// interned tuple id. Tuples sort like their packed keys only within one packing; the histogram
/// never relies on more than equality.
struct Keys<'a> {
    rows: &'a CodedRows<'a>,
    /// Bit width per quasi-identifier (codes + 1 for the missing value), when packed.
    bits: Option<Vec<u32>>,
    /// Interned tuples (flattened) and their ids, when not packed.
    interned: Vec<u32>,
    tuple_ids: Vec<u32>,
}

impl<'a> Keys<'a> {
    fn new(rows: &'a CodedRows<'a>) -> Keys<'a> {
        let bits: Vec<u32> = rows
            .columns
            .par_iter()
            .map(|c| {
                let max = c.iter().fold(0u64, |m, &v| if v == NULL_CODE { m } else { m.max(u64::from(v) + 1) });
                u64::BITS - (max + 1).leading_zeros()
            })
            .collect();
        if bits.iter().sum::<u32>() <= 96 {
            return Keys { rows, bits: Some(bits), interned: Vec::new(), tuple_ids: Vec::new() };
        }
        // Too wide to pack: intern the tuples (one sequential pass).
        let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut interned = Vec::new();
        let width = rows.columns.len();
        let tuple_ids = (0..rows.rows())
            .map(|row| {
                let tuple: Vec<u32> = rows.columns.iter().map(|c| c[row]).collect();
                let next = index.len() as u32;
                *index.entry(tuple).or_insert_with_key(|t| {
                    interned.extend_from_slice(t);
                    next
                })
            })
            .collect();
        debug_assert_eq!(interned.len() % width.max(1), 0);
        Keys { rows, bits: None, interned, tuple_ids }
    }

    /// Tuple bits in the low 96 bits, sensitive code + 1 (0 = none) in the high 32.
    fn key(&self, row: usize) -> u128 {
        let sensitive = self.rows.sensitive.map_or(0, |(c, _)| u128::from(c[row]) + 1) << 96;
        match &self.bits {
            Some(bits) => {
                let mut key = 0u128;
                for (c, &b) in self.rows.columns.iter().zip(bits) {
                    let code = c[row];
                    let v = if code == NULL_CODE { 0 } else { u128::from(code) + 1 };
                    key = (key << b) | v;
                }
                key | sensitive
            }
            None => u128::from(self.tuple_ids[row]) | sensitive,
        }
    }

    fn sensitive_of(&self, key: u128) -> Option<u32> {
        match (key >> 96) as u32 {
            0 => None,
            s => Some(s - 1),
        }
    }

    fn without_sensitive(&self, key: u128) -> u128 {
        key & ((1u128 << 96) - 1)
    }

    /// Writes the tuple of `key` into `codes` and returns its sensitive code.
    fn decode(&self, key: u128, codes: &mut [u32]) -> Option<u32> {
        let tuple = self.without_sensitive(key);
        match &self.bits {
            Some(bits) => {
                let mut rest = tuple;
                for (code, &b) in codes.iter_mut().zip(bits).rev() {
                    let v = (rest & ((1u128 << b) - 1)) as u32;
                    *code = if v == 0 { NULL_CODE } else { v - 1 };
                    rest >>= b;
                }
            }
            None => {
                let id = tuple as usize;
                let width = codes.len();
                codes.copy_from_slice(&self.interned[id * width..(id + 1) * width]);
            }
        }
        match (key >> 96) as u32 {
            0 => None,
            s => Some(s - 1),
        }
    }
}

/// Collects entries, merging equal signatures.
struct EntryTable {
    histogram: Histogram,
    /// Entries by packed tuple key (one-tuple signatures, when the caller has a key).
    by_key: HashMap<u128, u32>,
    /// Entries by concatenated codes (every other signature).
    index: HashMap<Vec<u32>, u32>,
}

impl EntryTable {
    fn new(width: usize, sensitive_values: u32) -> EntryTable {
        EntryTable {
            histogram: Histogram { width, starts: vec![0], sensitive_values, ..Histogram::default() },
            by_key: HashMap::new(),
            index: HashMap::new(),
        }
    }

    /// Adds `units` units with the signature `tuples` (sorted, distinct), returning its entry.
    /// `key` identifies a one-tuple signature (a caller uses keys for all of them or for none).
    fn add(&mut self, key: Option<u128>, tuples: &[&[u32]], records: &[u64], units: u64, dist: &[(u32, u64)]) -> u32 {
        let h = &mut self.histogram;
        let next = h.units.len() as u32;
        let existing = match key {
            Some(key) if tuples.len() == 1 => *self.by_key.entry(key).or_insert(next),
            _ => *self.index.entry(tuples.concat()).or_insert(next),
        };
        let entry = existing;
        if entry == next {
            for t in tuples {
                h.codes.extend_from_slice(t);
            }
            h.slot_records.extend(std::iter::repeat_n(0, tuples.len()));
            h.starts.push(h.slot_records.len() as u32);
            h.units.push(0);
            h.sensitive.push(Vec::new());
        }
        let e = entry as usize;
        h.units[e] += units;
        let first = h.starts[e] as usize;
        for (i, r) in records.iter().enumerate() {
            h.slot_records[first + i] += r;
        }
        if !dist.is_empty() {
            let merged = &mut h.sensitive[e];
            merged.extend_from_slice(dist);
            sum_by_key(merged);
        }
        entry
    }

    fn finish(self) -> Histogram {
        self.histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_entries_with_counts() {
        let columns = vec![vec![0, 0, 1, 0], vec![5, 5, 5, 6]];
        let sens = [0u32, 1, 1, 0];
        let rows = CodedRows { columns: &columns, units: None, weights: None, sensitive: Some((&sens, 2)) };
        let (h, entry_of) = rows.build().unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.unit_count(), 4);
        assert_eq!(entry_of[0], entry_of[1]);
        let e = entry_of[0] as usize;
        assert_eq!(h.units[e], 2);
        assert_eq!(h.sensitive[e], vec![(0, 1), (1, 1)]);
        assert_eq!(h.sensitive_totals(), vec![2, 2]);
    }

    #[test]
    fn a_person_with_two_tuples_is_one_unit() {
        let columns = vec![vec![40, 41, 40, 41, 40]];
        let units = [0u32, 0, 1, 1, 2];
        let rows = CodedRows { columns: &columns, units: Some(&units), weights: None, sensitive: None };
        let (h, entry_of) = rows.build().unwrap();
        assert_eq!(h.unit_count(), 3);
        assert_eq!(h.record_count(), 5);
        assert_eq!(entry_of[0], entry_of[1]);
        assert_ne!(entry_of[0], entry_of[2]);
        assert_eq!(h.slots(entry_of[0] as usize).len(), 2);
    }

    #[test]
    fn a_persons_signature_holds_each_tuple_once_whatever_its_sensitive_values() {
        // Person 0: tuple 1 with values 0 and 1, tuple 2 with value 0; person 1: tuples 1 and 2.
        let columns = vec![vec![1, 2, 1, 2, 1]];
        let units = [0u32, 0, 0, 1, 1];
        let sens = [0u32, 0, 1, 0, 0];
        let rows = CodedRows { columns: &columns, units: Some(&units), weights: None, sensitive: Some((&sens, 2)) };
        let (h, entry_of) = rows.build().unwrap();
        assert_eq!(entry_of[0], entry_of[1], "same tuple set, one entry");
        assert_eq!(h.slots(entry_of[0] as usize).len(), 2);
        assert_eq!(h.sensitive[entry_of[0] as usize], vec![(0, 2), (1, 1)]);
        assert_eq!(h.record_count(), 5);
    }

    #[test]
    fn merge_adds_equal_signatures() {
        let a = vec![vec![1, 2, 2]];
        let b = vec![vec![2, 3]];
        let ha = CodedRows { columns: &a, units: None, weights: None, sensitive: None }.histogram().unwrap();
        let hb = CodedRows { columns: &b, units: None, weights: None, sensitive: None }.histogram().unwrap();
        let m = ha.merge(hb).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.unit_count(), 5);
    }

    #[test]
    fn ragged_input_is_an_error() {
        let columns = vec![vec![1, 2], vec![1]];
        assert!(CodedRows { columns: &columns, units: None, weights: None, sensitive: None }.build().is_err());
    }
}
