//! SUDA2 special-uniques scores (Manning, Haglin & Keane 2008; Elliot et al.), as sdcMicro's
//! `suda2` computes them.
//!
//! A *minimal sample unique* (MSU) of a record is a set of its quasi-identifier values that no
//! other record shares, while every proper subset is shared. Records that are not sample-unique
//! have none. With `M` quasi-identifiers, an MSU of size `k` scores
//! `(2^(M−k) − 1) · k! · (M−k)! / M!` (sdcMicro's weighting, as ARX's SUDA2 implements it for
//! sdcMicro compatibility); a record's SUDA score is the sum over its MSUs.
//!
//! The DIS-SUDA score (Elliot, *Special Uniques Detection Algorithm — User Guide*, 2004) turns the
//! scores into probabilities that a sample unique is a population unique, given the DIS fraction
//! `f` (sdcMicro's default 0.01), the number `U` of records in classes of size 1 and `D` in
//! classes of size 2: `q = 1 + (8 − M)/20`, `f′ = U·f / (U·f + D·(1 − f))`,
//! `a = (U/f′ − U) / Σ_{score>0} score^−q`, and per record `dis = 1 / (1 + a·score^−q)` (0 for a
//! score of 0).
//!
//! The search counts, for every subset of the quasi-identifiers up to `max_size`, how often each
//! distinct record's projection occurs (over distinct tuples, weighted), so it costs
//! `2^M × distinct tuples`; it refuses more than [`MAX_ATTRIBUTES`] quasi-identifiers.

use std::collections::BTreeMap;

use hashbrown::HashMap;

/// The most quasi-identifiers SUDA2 takes (2^20 subsets).
pub const MAX_ATTRIBUTES: usize = 20;

/// Options.
#[derive(Debug, Clone, PartialEq)]
pub struct SudaOptions {
    /// DIS fraction (sdcMicro's `DisFraction`, default 0.01).
    pub dis_fraction: f64,
    /// Largest MSU size searched (default: all quasi-identifiers).
    pub max_size: Option<usize>,
}

impl Default for SudaOptions {
    fn default() -> Self {
        SudaOptions { dis_fraction: 0.01, max_size: None }
    }
}

/// SUDA2 results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suda2 {
    /// Highest DIS-SUDA score.
    pub dis_max: f64,
    /// Sum of the DIS-SUDA scores (the expected number of population uniques among the
    /// records, in the DIS model).
    pub dis_sum: f64,
    /// Highest SUDA score.
    pub score_max: f64,
    /// MSUs found.
    pub msus: u64,
    /// MSUs by size.
    pub msu_sizes: BTreeMap<usize, u64>,
    /// Records with at least one MSU (with every size searched: the sample uniques).
    pub records_with_msu: u64,
    /// Largest MSU size searched.
    pub max_size: usize,
    /// DIS fraction used.
    pub dis_fraction: f64,
    /// SUDA score per record, in input order.
    #[serde(skip)]
    pub scores: Vec<f64>,
    /// DIS-SUDA score per record, in input order.
    #[serde(skip)]
    pub dis: Vec<f64>,
    /// MSUs per record, in input order (an MSU of all M quasi-identifiers scores 0, so a sample
    /// unique can have MSUs and a score of 0).
    #[serde(skip)]
    pub msus_per_record: Vec<u32>,
}

/// Why SUDA2 was not computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SudaError {
    /// Too many quasi-identifiers.
    #[error("SUDA2 takes at most {MAX_ATTRIBUTES} quasi-identifiers (got {0}); pass a smaller --qi list")]
    TooManyAttributes(usize),
    /// Columns of different lengths.
    #[error("quasi-identifier columns have different lengths")]
    Ragged,
}

/// sdcMicro's score of an MSU of `size` among `columns` quasi-identifiers.
pub fn msu_score(columns: usize, size: usize) -> f64 {
    let factorial = |n: usize| (2..=n).map(|i| i as f64).product::<f64>();
    let upper = columns - size;
    (2f64.powi(upper as i32) - 1.0) * factorial(size) * factorial(upper) / factorial(columns)
}

/// DIS-SUDA scores from SUDA scores (see the module docs).
pub fn dis_scores(scores: &[f64], uniques: u64, pairs: u64, columns: usize, dis_fraction: f64) -> Vec<f64> {
    let q = 1.0 + (8.0 - columns as f64) / 20.0;
    let (u, d) = (uniques as f64, pairs as f64);
    let f = u * dis_fraction / (u * dis_fraction + d * (1.0 - dis_fraction));
    let inverse_sum: f64 = scores.iter().filter(|&&s| s > 0.0).map(|s| s.powf(-q)).sum();
    let adjustment = (u / f - u) / inverse_sum;
    scores.iter().map(|&s| if s > 0.0 { 1.0 / (1.0 + s.powf(-q) * adjustment) } else { 0.0 }).collect()
}

/// Keys of projections: exact packing of the selected codes (bit widths from the column
/// cardinalities) into a u128.
struct Packer {
    widths: Vec<u32>,
}

impl Packer {
    fn fits(&self, mask: u32) -> bool {
        (0..self.widths.len()).filter(|i| mask & (1 << i) != 0).map(|i| self.widths[i]).sum::<u32>() <= 128
    }

    fn key(&self, tuple: &[u32], mask: u32) -> u128 {
        let mut key = 0u128;
        for (i, (&code, &width)) in tuple.iter().zip(&self.widths).enumerate() {
            if mask & (1 << i) != 0 {
                key = (key << width) | u128::from(code);
            }
        }
        key
    }
}

/// SUDA2 over dictionary-coded quasi-identifier columns (one `Vec` per column, equal lengths;
/// missing values are a value like any other).
pub fn suda2(columns: &[Vec<u32>], options: &SudaOptions) -> Result<Suda2, SudaError> {
    let m = columns.len();
    if m > MAX_ATTRIBUTES {
        return Err(SudaError::TooManyAttributes(m));
    }
    let rows = columns.first().map_or(0, Vec::len);
    if columns.iter().any(|c| c.len() != rows) {
        return Err(SudaError::Ragged);
    }
    let max_size = options.max_size.unwrap_or(m).clamp(1.min(m), m);

    // Distinct tuples with their multiplicity; each row's tuple.
    let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut tuples: Vec<Vec<u32>> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    let mut row_tuple: Vec<u32> = Vec::with_capacity(rows);
    let mut tuple = Vec::with_capacity(m);
    for r in 0..rows {
        tuple.clear();
        tuple.extend(columns.iter().map(|c| c[r]));
        let id = match index.get(&tuple) {
            Some(&id) => id,
            None => {
                let id = tuples.len() as u32;
                index.insert(tuple.clone(), id);
                tuples.push(tuple.clone());
                counts.push(0);
                id
            }
        };
        counts[id as usize] += 1;
        row_tuple.push(id);
    }
    drop(index);
    let uniques: Vec<usize> = (0..tuples.len()).filter(|&t| counts[t] == 1).collect();
    let pairs = counts.iter().filter(|&&c| c == 2).count() as u64 * 2;

    // Per unique tuple, which subsets are unique (bit per subset mask).
    let subsets = 1usize << m;
    let words = subsets.div_ceil(64);
    let mut unique_in: Vec<Vec<u64>> = vec![vec![0u64; words]; uniques.len()];
    let widths: Vec<u32> = columns
        .iter()
        .map(|c| {
            let max = c.iter().copied().max().unwrap_or(0);
            (32 - max.leading_zeros()).max(1)
        })
        .collect();
    let packer = Packer { widths };
    let mut masks: Vec<u32> = (1..subsets as u32).filter(|s| s.count_ones() as usize <= max_size).collect();
    masks.sort_by_key(|s| (s.count_ones(), *s));
    let mut tuple_score = vec![0f64; tuples.len()];
    let mut tuple_msus = vec![0u32; tuples.len()];
    let mut msu_sizes: BTreeMap<usize, u64> = BTreeMap::new();
    let scores_by_size: Vec<f64> = (0..=m).map(|k| if k == 0 { 0.0 } else { msu_score(m, k) }).collect();
    let mut projection_u128: HashMap<u128, u64> = HashMap::new();
    let mut projection_vec: HashMap<Vec<u32>, u64> = HashMap::new();
    for &mask in &masks {
        let size = mask.count_ones() as usize;
        // A subset all of whose unique records already have a unique proper subset adds nothing:
        // it cannot be minimal for anyone. Skip the count when every unique record's immediate
        // subsets include a unique one (cheap test first).
        let needed = uniques.iter().enumerate().any(|(u, _)| {
            (0..m).filter(|a| mask & (1 << a) != 0).all(|a| {
                let sub = mask & !(1 << a);
                sub == 0 || unique_in[u][sub as usize / 64] & (1 << (sub % 64)) == 0
            })
        });
        if !needed {
            // Still record uniqueness (upward-closed): every unique record with a unique subset
            // of this mask is unique here.
            for bits in unique_in.iter_mut() {
                let any_sub = (0..m).filter(|a| mask & (1 << a) != 0).any(|a| {
                    let sub = mask & !(1 << a);
                    sub != 0 && bits[sub as usize / 64] & (1 << (sub % 64)) != 0
                });
                if any_sub {
                    bits[mask as usize / 64] |= 1 << (mask % 64);
                }
            }
            continue;
        }
        let exact = packer.fits(mask);
        projection_u128.clear();
        projection_vec.clear();
        let project = |t: &[u32]| -> Vec<u32> {
            t.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, &c)| c).collect()
        };
        for (t, codes) in tuples.iter().enumerate() {
            if exact {
                *projection_u128.entry(packer.key(codes, mask)).or_insert(0) += counts[t];
            } else {
                *projection_vec.entry(project(codes)).or_insert(0) += counts[t];
            }
        }
        for (u, &t) in uniques.iter().enumerate() {
            let count = if exact {
                projection_u128[&packer.key(&tuples[t], mask)]
            } else {
                projection_vec[&project(&tuples[t])]
            };
            if count != 1 {
                continue;
            }
            let bits = &mut unique_in[u];
            let minimal = (0..m).filter(|a| mask & (1 << a) != 0).all(|a| {
                let sub = mask & !(1 << a);
                sub == 0 || bits[sub as usize / 64] & (1 << (sub % 64)) == 0
            });
            bits[mask as usize / 64] |= 1 << (mask % 64);
            if minimal {
                tuple_score[t] += scores_by_size[size];
                tuple_msus[t] += 1;
                *msu_sizes.entry(size).or_insert(0) += 1;
            }
        }
    }
    let scores: Vec<f64> = row_tuple.iter().map(|&t| tuple_score[t as usize]).collect();
    let msus_per_record: Vec<u32> = row_tuple.iter().map(|&t| tuple_msus[t as usize]).collect();
    let dis = if uniques.is_empty() {
        vec![0.0; rows]
    } else {
        dis_scores(&scores, uniques.len() as u64, pairs, m, options.dis_fraction)
    };
    Ok(Suda2 {
        dis_max: dis.iter().copied().fold(0.0, f64::max),
        dis_sum: dis.iter().sum(),
        score_max: scores.iter().copied().fold(0.0, f64::max),
        msus: msu_sizes.values().sum(),
        msu_sizes,
        records_with_msu: msus_per_record.iter().filter(|&&n| n > 0).count() as u64,
        max_size,
        dis_fraction: options.dis_fraction,
        scores,
        dis,
        msus_per_record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// MSUs by definition: every subset of every record, checked against every other record.
    fn brute_force(rows: &[Vec<u32>], max_size: usize) -> (Vec<f64>, BTreeMap<usize, u64>, Vec<u32>) {
        let m = rows.first().map_or(0, Vec::len);
        let unique = |r: usize, mask: u32| {
            rows.iter()
                .enumerate()
                .all(|(o, other)| o == r || (0..m).any(|a| mask & (1 << a) != 0 && other[a] != rows[r][a]))
        };
        let mut scores = vec![0.0; rows.len()];
        let mut counts = vec![0u32; rows.len()];
        let mut sizes = BTreeMap::new();
        for r in 0..rows.len() {
            for mask in 1u32..(1 << m) {
                let size = mask.count_ones() as usize;
                if size > max_size || !unique(r, mask) {
                    continue;
                }
                let minimal = (0..m).filter(|a| mask & (1 << a) != 0).all(|a| {
                    let sub = mask & !(1 << a);
                    sub == 0 || !unique(r, sub)
                });
                if minimal {
                    scores[r] += msu_score(m, size);
                    counts[r] += 1;
                    *sizes.entry(size).or_insert(0) += 1;
                }
            }
        }
        (scores, sizes, counts)
    }

    fn columns(rows: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let m = rows.first().map_or(0, Vec::len);
        (0..m).map(|a| rows.iter().map(|r| r[a]).collect()).collect()
    }

    #[test]
    fn a_small_table_by_hand() {
        // Record 3 is unique on attribute 0 alone (value 9) — an MSU of size 1; record 2 is unique
        // only on the pair (0, 1) = (1, 2); records 0 and 1 are identical.
        let rows = vec![vec![1, 1, 5], vec![1, 1, 5], vec![1, 2, 5], vec![9, 1, 5], vec![2, 2, 5]];
        let s = suda2(&columns(&rows), &SudaOptions::default()).unwrap();
        assert_eq!(s.scores[0], 0.0);
        assert_eq!(s.scores[1], 0.0);
        assert_eq!(s.scores[3], msu_score(3, 1));
        assert_eq!(s.scores[2], msu_score(3, 2));
        // Record 4: (2) on attribute 0 is unique → size-1 MSU.
        assert_eq!(s.scores[4], msu_score(3, 1));
        assert_eq!(s.msu_sizes, BTreeMap::from([(1, 2), (2, 1)]));
        assert_eq!(s.records_with_msu, 3);
        // An MSU of all M quasi-identifiers scores 0 under sdcMicro's weighting.
        assert_eq!(msu_score(3, 3), 0.0);
        // sdcMicro weights: M = 3, k = 1: (2² − 1)·1!·2!/3! = 1; k = 2: (2 − 1)·2!·1!/3! = 1/3.
        assert!((msu_score(3, 1) - 1.0).abs() < 1e-12);
        assert!((msu_score(3, 2) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn dis_scores_by_hand() {
        // M = 8 → q = 1. U = 2, D = 2, f = 0.5 → f′ = 2·0.5 / (2·0.5 + 2·0.5) = 0.5;
        // a = (2/0.5 − 2) / (1/1 + 1/4) = 1.6; dis = 1/(1 + 1.6/s).
        let dis = dis_scores(&[1.0, 4.0, 0.0], 2, 2, 8, 0.5);
        assert!((dis[0] - 1.0 / 2.6).abs() < 1e-12);
        assert!((dis[1] - 1.0 / 1.4).abs() < 1e-12);
        assert_eq!(dis[2], 0.0);
    }

    #[test]
    fn too_many_attributes_is_an_error() {
        let columns = vec![vec![0u32; 3]; MAX_ATTRIBUTES + 1];
        assert_eq!(suda2(&columns, &SudaOptions::default()), Err(SudaError::TooManyAttributes(MAX_ATTRIBUTES + 1)));
    }

    proptest! {
        #[test]
        fn msus_match_the_definition(
            rows in prop::collection::vec(prop::collection::vec(0u32..3, 4), 1..40),
            max_size in 1usize..=4,
        ) {
            let s = suda2(&columns(&rows), &SudaOptions { max_size: Some(max_size), ..SudaOptions::default() }).unwrap();
            let (scores, sizes, counts) = brute_force(&rows, max_size);
            prop_assert_eq!(&s.msu_sizes, &sizes);
            prop_assert_eq!(&s.msus_per_record, &counts);
            for (a, b) in s.scores.iter().zip(&scores) {
                prop_assert!((a - b).abs() < 1e-9);
            }
            // Only sample uniques score; with every size searched, every sample unique does.
            for (r, row) in rows.iter().enumerate() {
                let copies = rows.iter().filter(|o| *o == row).count();
                if copies > 1 { prop_assert_eq!(s.scores[r], 0.0); prop_assert_eq!(s.msus_per_record[r], 0); }
                else if max_size == 4 { prop_assert!(s.msus_per_record[r] > 0); }
                prop_assert!((0.0..=1.0).contains(&s.dis[r]));
            }
        }
    }
}
