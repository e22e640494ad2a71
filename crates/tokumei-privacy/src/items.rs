//! (k, k^m)-anonymity over persons: the transactional half.
//!
//! After the relational search, every released person belongs to a class of at least k persons
//! over the demographic quasi-identifiers (age band, sex, area). An attacker who also knows where
//! and when the person was treated — a pharmacist, an employer, a neighbour — knows some of the
//! person's **items**: one per record, the record's event columns (visit or dispensing date,
//! facility, pharmacy) at their released levels, tagged with the table. k^m-anonymity (Terrovitis
//! et al. 2008) within each class (Poulis et al. 2013, "Anonymizing data with relational and
//! transaction attributes") means that any m of a person's items, with the class, still match at
//! least k persons.
//!
//! The search:
//! 1. every combination of levels of the event columns (ladders: day → month → quarter → year;
//!    facility → prefecture → region; the top level `*` hides a column) is a node;
//! 2. at a node, within each class, itemsets of up to m items held by fewer than k persons are
//!    removed by **suppressing items**: an item too rare on its own is suppressed for everyone in
//!    the class holding it; for a rarer combination, the item of it that fewer persons hold is
//!    suppressed for the persons holding the combination — until none is left (each step removes
//!    something, so it ends);
//! 3. the node with the least information loss whose suppressed records stay within the budget
//!    is chosen. Loss is ARX's Loss over the event cells of every record: (leaves under the
//!    released value − 1) / (domain − 1), a suppressed cell counting 1.
//!
//! Lattices up to [`EXACT_LATTICE`] nodes are searched whole (`optimal: true`); larger ones
//! (`optimal: false`) by a greedy climb from the finest node — columns with the same ladder
//! (every date, every facility) move together, taking the move that removes the most suppression
//! per unit of loss, until within budget — then a descent that lowers single columns again while
//! the node stays within budget and loses less.

use hashbrown::HashMap;
use rayon::prelude::*;

use crate::histogram::NULL_CODE;
use crate::{Error, QuasiIdentifier};

/// Largest item lattice searched exhaustively.
pub const EXACT_LATTICE: u64 = 512;

/// The transactional model: any `m` items of a person match at least `k` persons of its class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemModel {
    /// k.
    pub k: u32,
    /// m: how many items an attacker may know (0 turns the model off).
    pub m: usize,
    /// Largest share of records whose items may be suppressed.
    pub max_suppression: f64,
}

/// One table's records, as the item search sees them.
#[derive(Debug, Clone)]
pub struct ItemTable {
    /// The table's event columns (indices into the search's columns).
    pub columns: Vec<usize>,
    /// Per record: its person (compact index into the classes), or `u32::MAX` when the record is
    /// not released.
    pub persons: Vec<u32>,
    /// Per event column of the table: the base code of each record (`NULL_CODE` when missing).
    pub codes: Vec<Vec<u32>>,
}

/// The chosen item levels and suppressions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemSolution {
    /// k and m.
    pub k: u32,
    /// m.
    pub m: usize,
    /// Chosen level per event column, by name.
    pub levels: std::collections::BTreeMap<String, usize>,
    /// Chosen levels in column order.
    #[serde(skip)]
    pub level_vector: Vec<usize>,
    /// Per table, per record: whether the record's items are suppressed (its event cells
    /// released as `*`).
    #[serde(skip)]
    pub suppressed: Vec<Vec<bool>>,
    /// Released records with items.
    pub records: u64,
    /// Records whose items were suppressed.
    pub suppressed_records: u64,
    /// Distinct items released (table × event values), suppressed ones excluded.
    pub items: u64,
    /// (person, item) pairs suppressed.
    pub suppressed_items: u64,
    /// Smallest number of persons of a class sharing any itemset of up to m released items
    /// (`None` when no item is released).
    pub min_support: Option<u64>,
    /// Whether the model holds within the suppression budget.
    pub target_met: bool,
    /// Information loss of the event cells (ARX's Loss; suppressed = 1).
    pub loss: f64,
    /// Whether the whole lattice was searched.
    pub optimal: bool,
    /// Nodes evaluated.
    pub nodes_checked: u64,
    /// Nodes in the lattice.
    pub lattice_size: u64,
}

/// One node's evaluation.
struct NodeEval {
    suppressed: Vec<Vec<bool>>,
    suppressed_records: u64,
    suppressed_items: u64,
    items: u64,
    min_support: Option<u64>,
    loss: f64,
}

/// What a node's evaluation needs, computed once.
struct Prepared<'a> {
    columns: &'a [QuasiIdentifier],
    tables: &'a [ItemTable],
    classes: &'a [u32],
    /// Per column, per level, per generalized code: its Loss ((leaves − 1) / (domain − 1)).
    cell_loss: Vec<Vec<Vec<f64>>>,
    /// Per table: the distinct base tuples of its released records, and each record's tuple
    /// (`u32::MAX`: not released). A node generalizes the distinct tuples, not every record.
    base: Vec<(Vec<Vec<u32>>, Vec<u32>)>,
}

/// Searches the item levels and suppressions under which every released person's items satisfy
/// `model` within the person's class (`classes[person]`, `u32::MAX` for a suppressed person).
pub fn search_items(
    classes: &[u32],
    columns: &[QuasiIdentifier],
    tables: &[ItemTable],
    model: &ItemModel,
) -> Result<ItemSolution, Error> {
    for column in columns {
        column.check()?;
    }
    if model.m > MAX_M {
        return Err(Error::InvalidModel(format!("m = {} is more than {MAX_M}", model.m)));
    }
    for table in tables {
        if table.codes.len() != table.columns.len() || table.codes.iter().any(|c| c.len() != table.persons.len()) {
            return Err(Error::InvalidInput("one code per record and event column".into()));
        }
        if table.columns.iter().any(|&c| c >= columns.len()) {
            return Err(Error::InvalidInput("an event column index out of range".into()));
        }
    }
    let records = tables
        .iter()
        .map(|t| {
            t.persons.iter().filter(|&&p| p != u32::MAX && classes.get(p as usize) != Some(&u32::MAX)).count() as u64
        })
        .sum();
    let cell_loss = columns
        .iter()
        .map(|c| {
            let domain = c.domain().max(2) as f64 - 1.0;
            (0..c.levels()).map(|level| c.leaves(level).iter().map(|&n| (n as f64 - 1.0) / domain).collect()).collect()
        })
        .collect();
    let base = tables
        .iter()
        .map(|table| {
            let mut ids: HashMap<Vec<u32>, u32> = HashMap::new();
            let mut tuples = Vec::new();
            let of_row = (0..table.persons.len())
                .map(|r| {
                    let person = table.persons[r];
                    if person == u32::MAX || classes[person as usize] == u32::MAX {
                        return u32::MAX;
                    }
                    let tuple: Vec<u32> = table.codes.iter().map(|codes| codes[r]).collect();
                    *ids.entry(tuple.clone()).or_insert_with(|| {
                        tuples.push(tuple);
                        tuples.len() as u32 - 1
                    })
                })
                .collect();
            (tuples, of_row)
        })
        .collect();
    let prepared = Prepared { columns, tables, classes, cell_loss, base };
    let bounds: Vec<(usize, usize)> = columns.iter().map(QuasiIdentifier::bounds).collect();
    let lattice_size: u64 = bounds.iter().map(|(lo, hi)| (hi - lo + 1) as u64).product();
    let allowed = (model.max_suppression * records as f64).floor() as u64;
    let within = |e: &NodeEval| e.suppressed_records <= allowed;
    let mut nodes_checked = 0u64;
    let (best, optimal) = if model.m == 0 || columns.is_empty() {
        let levels: Vec<usize> = bounds.iter().map(|b| b.0).collect();
        nodes_checked += 1;
        let eval = prepared.evaluate(&levels, model, model.m == 0);
        (Some((levels, eval)), true)
    } else if lattice_size <= EXACT_LATTICE {
        let nodes = lattice(&bounds);
        nodes_checked += nodes.len() as u64;
        let mut evaluated: Vec<(Vec<usize>, NodeEval)> =
            nodes.into_iter().map(|levels| (levels.clone(), prepared.evaluate(&levels, model, false))).collect();
        evaluated.retain(|(_, e)| within(e));
        // Least loss; ties: the smallest level sum, then the smallest level vector.
        evaluated.sort_by(|(la, a), (lb, b)| {
            a.loss.total_cmp(&b.loss).then(la.iter().sum::<usize>().cmp(&lb.iter().sum::<usize>())).then(la.cmp(lb))
        });
        (evaluated.into_iter().next(), true)
    } else {
        // Climb: columns with the same ladder (every date, every facility) move together, from
        // the finest node, taking the move that removes the most suppression per unit of loss.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (c, column) in columns.iter().enumerate() {
            match groups.iter_mut().find(|g| columns[g[0]].level_names == column.level_names) {
                Some(group) => group.push(c),
                None => groups.push(vec![c]),
            }
        }
        let mut levels: Vec<usize> = bounds.iter().map(|b| b.0).collect();
        let mut eval = prepared.evaluate(&levels, model, false);
        nodes_checked += 1;
        while !within(&eval) {
            let mut best: Option<(f64, Vec<usize>, NodeEval)> = None;
            for group in &groups {
                let mut up = levels.clone();
                for &c in group {
                    up[c] = (up[c] + 1).min(bounds[c].1);
                }
                if up == levels {
                    continue;
                }
                let e = prepared.evaluate(&up, model, false);
                nodes_checked += 1;
                let gain = eval.suppressed_records.saturating_sub(e.suppressed_records) as f64;
                let score = gain / (e.loss - eval.loss).max(1e-9);
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, up, e));
                }
            }
            match best {
                Some((_, up, e)) => (levels, eval) = (up, e),
                None => break,
            }
        }
        // Descend: lower single columns again while the node stays within budget and loses less.
        let mut improved = within(&eval);
        while improved {
            improved = false;
            for c in 0..columns.len() {
                if levels[c] <= bounds[c].0 {
                    continue;
                }
                let mut down = levels.clone();
                down[c] -= 1;
                let e = prepared.evaluate(&down, model, false);
                nodes_checked += 1;
                if within(&e) && e.loss < eval.loss {
                    (levels, eval) = (down, e);
                    improved = true;
                }
            }
        }
        (within(&eval).then_some((levels, eval)), false)
    };
    let (level_vector, eval, target_met) = match best {
        Some((levels, eval)) => (levels, eval, true),
        None => {
            // Nothing within budget: report the coarsest node, which fails.
            let levels: Vec<usize> = bounds.iter().map(|b| b.1).collect();
            let eval = prepared.evaluate(&levels, model, false);
            (levels, eval, false)
        }
    };
    Ok(ItemSolution {
        k: model.k,
        m: model.m,
        levels: columns.iter().zip(&level_vector).map(|(c, &l)| (c.name.clone(), l)).collect(),
        level_vector,
        suppressed: eval.suppressed,
        records,
        suppressed_records: eval.suppressed_records,
        items: eval.items,
        suppressed_items: eval.suppressed_items,
        min_support: eval.min_support,
        target_met,
        loss: eval.loss,
        optimal,
        nodes_checked,
        lattice_size,
    })
}

/// Every node of the lattice within `bounds`, in lexicographic order.
fn lattice(bounds: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut nodes = vec![Vec::new()];
    for &(lo, hi) in bounds {
        nodes = nodes.into_iter().flat_map(|n| (lo..=hi).map(move |l| [n.clone(), vec![l]].concat())).collect();
    }
    nodes
}

impl Prepared<'_> {
    /// Items per record at `levels`, suppression within classes, and the loss. With
    /// `measure_only`, nothing is suppressed (m = 0: the supports are still reported).
    fn evaluate(&self, levels: &[usize], model: &ItemModel, measure_only: bool) -> NodeEval {
        // Item ids: (table, generalized codes) → dense id, from each table's distinct tuples.
        let mut ids: HashMap<(u16, Vec<u32>), u32> = HashMap::new();
        let mut row_items: Vec<Vec<u32>> = Vec::with_capacity(self.tables.len());
        let mut tuple_loss: Vec<Vec<f64>> = Vec::with_capacity(self.tables.len());
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (t, (table, (tuples, of_row))) in self.tables.iter().zip(&self.base).enumerate() {
            let mut losses = Vec::with_capacity(tuples.len());
            let item_of_tuple: Vec<u32> = tuples
                .iter()
                .map(|tuple| {
                    let mut loss = 0.0;
                    let key: Vec<u32> = table
                        .columns
                        .iter()
                        .zip(tuple)
                        .map(|(&c, &base)| {
                            let code = self.columns[c].code(levels[c], base);
                            loss += if code == NULL_CODE { 0.0 } else { self.cell_loss[c][levels[c]][code as usize] };
                            code
                        })
                        .collect();
                    losses.push(loss);
                    let next = ids.len() as u32;
                    *ids.entry((t as u16, key)).or_insert(next)
                })
                .collect();
            let items: Vec<u32> =
                of_row.iter().map(|&b| if b == u32::MAX { u32::MAX } else { item_of_tuple[b as usize] }).collect();
            pairs.extend(table.persons.iter().zip(&items).filter(|(_, i)| **i != u32::MAX).map(|(&p, &i)| (p, i)));
            row_items.push(items);
            tuple_loss.push(losses);
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        // Persons by class, each with its sorted items.
        let mut by_class: std::collections::BTreeMap<u32, Vec<(u32, Vec<u32>)>> = std::collections::BTreeMap::new();
        let mut start = 0;
        while start < pairs.len() {
            let person = pairs[start].0;
            let end = start + pairs[start..].iter().take_while(|(p, _)| *p == person).count();
            let items = pairs[start..end].iter().map(|(_, i)| *i).collect();
            by_class.entry(self.classes[person as usize]).or_default().push((person, items));
            start = end;
        }
        let classes: Vec<Vec<(u32, Vec<u32>)>> = by_class.into_values().collect();
        // With m = 0 nothing is suppressed, and single items are still measured.
        let (m, report_m) = if measure_only { (0, model.m.max(1)) } else { (model.m, model.m) };
        let results: Vec<(Vec<(u32, u32)>, Option<u64>)> = classes
            .into_par_iter()
            .map(|mut persons| suppress_class(&mut persons, model.k as u64, m, report_m))
            .collect();
        let mut removed: Vec<(u32, u32)> = results.iter().flat_map(|(r, _)| r.iter().copied()).collect();
        removed.sort_unstable();
        let min_support = results.iter().filter_map(|(_, s)| *s).min();
        let suppressed_items = removed.len() as u64;
        let mut released_items: hashbrown::HashSet<u32> = hashbrown::HashSet::new();
        let mut suppressed = Vec::with_capacity(self.tables.len());
        let mut suppressed_records = 0u64;
        let mut loss_sum = 0.0;
        let mut cells = 0u64;
        for (t, (table, items)) in self.tables.iter().zip(&row_items).enumerate() {
            let mut flags = vec![false; items.len()];
            for (r, &item) in items.iter().enumerate() {
                if item == u32::MAX {
                    continue;
                }
                let gone = removed.binary_search(&(table.persons[r], item)).is_ok();
                flags[r] = gone;
                cells += table.columns.len() as u64;
                if gone {
                    suppressed_records += 1;
                    loss_sum += table.columns.len() as f64;
                } else {
                    released_items.insert(item);
                    loss_sum += tuple_loss[t][self.base[t].1[r] as usize];
                }
            }
            suppressed.push(flags);
        }
        NodeEval {
            suppressed,
            suppressed_records,
            suppressed_items,
            items: released_items.len() as u64,
            min_support,
            loss: if cells == 0 { 0.0 } else { loss_sum / cells as f64 },
        }
    }
}

/// Itemsets of size 1..=m of a sorted item list.
fn subsets(items: &[u32], m: usize, mut visit: impl FnMut(&[u32])) {
    let mut chosen: Vec<u32> = Vec::with_capacity(m);
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
    go(items, m, &mut chosen, &mut visit);
}

/// An itemset of up to [`MAX_M`] items as one number: item + 1 in each 32-bit lane, in order.
type SetKey = u128;

/// The largest m the search takes (itemsets are packed into a [`SetKey`]).
pub const MAX_M: usize = 4;

fn pack(set: &[u32]) -> SetKey {
    set.iter().enumerate().fold(0, |key, (i, &item)| key | (SetKey::from(item) + 1) << (32 * i))
}

fn unpack(key: SetKey) -> Vec<u32> {
    (0..MAX_M).map(|i| ((key >> (32 * i)) & 0xffff_ffff) as u32).take_while(|&lane| lane != 0).map(|l| l - 1).collect()
}

/// Persons holding each itemset of up to `m` items, sorted by itemset (sorting the keys is
/// cheaper than hashing them, and makes the order deterministic).
fn supports(persons: &[(u32, Vec<u32>)], m: usize) -> Vec<(SetKey, u64)> {
    let mut keys: Vec<SetKey> = Vec::new();
    for (_, items) in persons {
        subsets(items, m, |set| keys.push(pack(set)));
    }
    keys.sort_unstable();
    let mut counts: Vec<(SetKey, u64)> = Vec::new();
    for key in keys {
        match counts.last_mut() {
            Some((last, n)) if *last == key => *n += 1,
            _ => counts.push((key, 1)),
        }
    }
    counts
}

/// Suppresses items of one class until every itemset of up to `m` items that a person holds is
/// held by at least `k` persons. Returns the (person, item) pairs suppressed, and the smallest
/// support of an itemset of up to `report_m` items afterwards (`None`: no items left). With
/// `m = 0` nothing is suppressed.
fn suppress_class(
    persons: &mut [(u32, Vec<u32>)],
    k: u64,
    m: usize,
    report_m: usize,
) -> (Vec<(u32, u32)>, Option<u64>) {
    let mut removed = Vec::new();
    loop {
        let counts = supports(persons, report_m.max(m));
        let mut violations: Vec<(usize, u64, SetKey)> = if m == 0 {
            Vec::new()
        } else {
            counts
                .iter()
                .filter(|(_, n)| *n < k)
                .map(|&(set, n)| (unpack(set).len(), n, set))
                .filter(|(len, _, _)| *len <= m)
                .collect()
        };
        if violations.is_empty() {
            let smallest = counts.iter().filter(|(set, _)| unpack(*set).len() <= report_m).map(|&(_, n)| n).min();
            return (removed, smallest);
        }
        // Smallest itemsets first (a rare item goes for everyone), then the rarest.
        violations.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(unpack(a.2).cmp(&unpack(b.2))));
        let smallest = violations[0].0;
        let single = |item: u32| {
            let key = pack(&[item]);
            counts.binary_search_by_key(&key, |&(k, _)| k).map_or(0, |at| counts[at].1)
        };
        // Who holds each item (positions in `persons`), so a violation touches its holders only.
        let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
        for (at, (_, items)) in persons.iter().enumerate() {
            for &item in items {
                postings.entry(item).or_default().push(at);
            }
        }
        let mut changed = false;
        for (_, _, key) in violations.into_iter().take_while(|v| v.0 == smallest) {
            let set = unpack(key);
            // The item of the set that fewest persons hold (ties: the larger id).
            let victim = *set.iter().min_by_key(|&&i| (single(i), std::cmp::Reverse(i))).expect("non-empty");
            // Holders of every item of the set: the shortest posting list, checked.
            let shortest =
                set.iter().filter_map(|i| postings.get(i)).min_by_key(|p| p.len()).cloned().unwrap_or_default();
            for at in shortest {
                let (person, items) = &mut persons[at];
                if set.iter().all(|i| items.binary_search(i).is_ok())
                    && let Ok(position) = items.binary_search(&victim)
                {
                    items.remove(position);
                    removed.push((*person, victim));
                    changed = true;
                }
            }
        }
        if !changed {
            let smallest = supports(persons, report_m).into_iter().map(|(_, n)| n).min();
            return (removed, smallest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ladder over `n` base values: level 0 the value, level 1 value / 2, level 2 `*`.
    fn ladder(name: &str, n: u32) -> QuasiIdentifier {
        QuasiIdentifier::new(
            name,
            vec![(0..n).collect(), (0..n).map(|v| v / 2).collect(), vec![0; n as usize]],
            vec!["value".into(), "pairs".into(), "*".into()],
        )
    }

    /// Brute force from the definition: for every class and every person, every itemset of up
    /// to m of the person's released items is held by at least k persons of the class.
    fn holds(classes: &[u32], tables: &[ItemTable], columns: &[QuasiIdentifier], s: &ItemSolution) -> bool {
        let mut items: std::collections::BTreeMap<u32, std::collections::BTreeSet<(usize, Vec<u32>)>> =
            Default::default();
        for (t, table) in tables.iter().enumerate() {
            for (r, &p) in table.persons.iter().enumerate() {
                if p == u32::MAX || classes[p as usize] == u32::MAX || s.suppressed[t][r] {
                    continue;
                }
                let key = table
                    .columns
                    .iter()
                    .zip(&table.codes)
                    .map(|(&c, codes)| columns[c].code(s.level_vector[c], codes[r]))
                    .collect();
                items.entry(p).or_default().insert((t, key));
            }
        }
        for (p, mine) in &items {
            let mine: Vec<_> = mine.iter().cloned().collect();
            let mut ok = true;
            let idx: Vec<u32> = (0..mine.len() as u32).collect();
            subsets(&idx, s.m, |set| {
                let holders = items
                    .iter()
                    .filter(|(q, theirs)| {
                        classes[**q as usize] == classes[*p as usize]
                            && set.iter().all(|&i| theirs.contains(&mine[i as usize]))
                    })
                    .count();
                ok &= holders as u64 >= s.k as u64;
            });
            if !ok {
                return false;
            }
        }
        true
    }

    #[test]
    fn rare_items_and_rare_pairs_are_suppressed_until_k_m_holds() {
        // One class of 6 persons; months 0..8. Everyone has month 0; persons 0–2 month 1,
        // persons 3–5 month 2; person 0 alone month 7 (rare); persons 0 and 3 share month 3 and
        // month 4 (a pair only two hold).
        let visits: Vec<(u32, u32)> = vec![
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (5, 0),
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 2),
            (0, 7),
            (0, 3),
            (3, 3),
            (0, 4),
            (3, 4),
        ];
        let table = ItemTable {
            columns: vec![0],
            persons: visits.iter().map(|v| v.0).collect(),
            codes: vec![visits.iter().map(|v| v.1).collect()],
        };
        let classes = vec![0; 6];
        let columns = vec![ladder("month", 8).with_bounds(0, Some(0))];
        let model = ItemModel { k: 3, m: 2, max_suppression: 0.5 };
        let s = search_items(&classes, &columns, std::slice::from_ref(&table), &model).unwrap();
        assert!(s.target_met);
        assert!(holds(&classes, std::slice::from_ref(&table), &columns, &s));
        // Months 7, 3 and 4 go; nothing else.
        let gone: Vec<u32> = (0..visits.len()).filter(|&r| s.suppressed[0][r]).map(|r| visits[r].1).collect();
        assert_eq!(gone, [7, 3, 3, 4, 4]);
        assert_eq!(s.min_support, Some(3));
        assert_eq!(s.suppressed_records, 5);
        // Generalizing months to pairs would keep more: allowed to, the search prefers it.
        let free = vec![ladder("month", 8)];
        let s = search_items(&classes, &free, std::slice::from_ref(&table), &model).unwrap();
        assert!(s.target_met && s.optimal);
        assert!(holds(&classes, std::slice::from_ref(&table), &free, &s));
    }

    #[test]
    fn m_zero_suppresses_nothing() {
        let table = ItemTable { columns: vec![0], persons: vec![0, 1], codes: vec![vec![0, 1]] };
        let model = ItemModel { k: 5, m: 0, max_suppression: 0.0 };
        let s = search_items(&[0, 0], &[ladder("month", 2)], &[table], &model).unwrap();
        assert!(s.target_met);
        assert_eq!(s.suppressed_records, 0);
        assert_eq!(s.min_support, Some(1));
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// On small populations, whatever the search returns as met holds by the definition.
        #[test]
        fn a_met_target_holds_by_brute_force(
            rows in proptest::collection::vec((0u32..12, 0u32..6, 0u32..4), 1..60),
            k in 2u32..4,
            m in 1usize..3,
        ) {
            let persons = 12;
            let classes: Vec<u32> = (0..persons).map(|p| p % 3).collect();
            let table = ItemTable {
                columns: vec![0, 1],
                persons: rows.iter().map(|r| r.0).collect(),
                codes: vec![rows.iter().map(|r| r.1).collect(), rows.iter().map(|r| r.2).collect()],
            };
            let columns = vec![ladder("month", 6), ladder("facility", 4)];
            let model = ItemModel { k, m, max_suppression: 1.0 };
            let s = search_items(&classes, &columns, std::slice::from_ref(&table), &model).unwrap();
            prop_assert!(s.target_met);
            prop_assert!(holds(&classes, std::slice::from_ref(&table), &columns, &s));
        }
    }
}
