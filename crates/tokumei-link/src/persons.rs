//! 名寄せ: rows that share any key are one person (union-find over keys).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::keys::{Evidence, KeyKind, RowKeys};

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

/// How a shared name key (K2: kana name + birth date + sex) may join two persons.
///
/// Namesakes born on the same day share K2; so does one person seen under two insurances (a job
/// change). K2 alone cannot tell them apart; addresses usually can.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictRule {
    /// The name key joins the persons that carry it unless their addresses tell them apart:
    /// persons with an address (a column with `link = "address"`, compared up to the first
    /// number) join those with a matching address; persons without one join when exactly one
    /// address group exists. Persons kept apart stay linked for opt-out: an opt-out that names
    /// one of them by K2 removes all of them.
    #[default]
    Evidence,
    /// Any shared key joins (NDB's ID2 style). Namesakes may be merged: for opt-out the safe side,
    /// since a merged person's opt-out removes both.
    Merge,
    /// K2 does not join two persons that each already carry an insurance key (K1): they stay
    /// apart, and an opt-out that names them by K2 removes both.
    InsuranceWins,
}

/// Builds persons from the keys of every row of every source.
#[derive(Default)]
pub struct Linker {
    rule: ConflictRule,
    parent: Vec<u32>,
    node_key: Vec<u128>,
    node_of_key: KeyMap<u32>,
    /// Per node (valid at roots): whether the cluster carries an insurance key.
    insured: Vec<bool>,
    /// Per node (valid at roots): the cluster's street evidence (sorted, a few at most).
    evidence: Vec<Vec<u64>>,
    /// Per node (valid at roots): the cluster's prefectures, as a bit mask (bit = JIS code).
    prefectures: Vec<u64>,
    /// Per node: whether some row is anchored at it (a name key without rows is only a key).
    anchored: Vec<bool>,
    /// Per source, per row: the row's node.
    rows: Vec<Vec<u32>>,
    /// Name-key edges (a row's other key, its K2 node), joined in `finish` under `InsuranceWins`.
    name_edges: Vec<(u32, u32)>,
    /// Name keys whose holders addresses told apart, with a node of each holder.
    namesake_nodes: Vec<(u128, Vec<u32>)>,
    /// Rows that carried each key kind, for the report.
    key_rows: [u64; 4],
    /// Unions that joined two clusters, by the key kind that caused them.
    merges: [u64; 4],
    /// Name-key joins between two insured clusters: merged under `Merge`, refused otherwise.
    name_conflicts: u64,
    /// Clusters the evidence rule kept apart.
    kept_apart_by_address: u64,
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
    /// Persons a refused name join kept apart, both ways: an opt-out of one covers the others.
    kept_apart: HashMap<u32, Vec<u32>>,
    /// Name keys held by several persons that addresses told apart (namesakes), with them.
    namesakes: KeyMap<Vec<u32>>,
    /// Linkage statistics.
    pub stats: LinkStats,
}

/// What linkage did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// The conflict rule used.
    pub conflict_rule: ConflictRule,
    /// Persons found.
    pub persons: u64,
    /// Rows that carried K1, K2, K3, K4.
    pub rows_with_key: BTreeMapCounts,
    /// Joins of two clusters, by the key kind that caused them.
    pub merges: BTreeMapCounts,
    /// Name-key (K2) joins between two persons that each carry an insurance key: merged under
    /// `merge` (and under `evidence` when addresses agree or are missing), kept apart under
    /// `insurance-wins`.
    pub name_conflicts: u64,
    /// Persons sharing a name key that the `evidence` rule kept apart because their addresses
    /// differ (namesakes).
    pub kept_apart_by_address: u64,
    /// Rows with no usable key: each is its own person.
    pub keyless_rows: u64,
    /// Persons whose rows come from more than one source.
    pub persons_in_several_sources: u64,
}

/// Counts per key kind.
pub type BTreeMapCounts = std::collections::BTreeMap<KeyKind, u64>;

impl Linker {
    /// A linker for `sources` sources under `rule`.
    pub fn new(sources: usize, rule: ConflictRule) -> Linker {
        Linker { rule, rows: vec![Vec::new(); sources], ..Linker::default() }
    }

    fn node(&mut self, key: u128) -> u32 {
        if let Some(&node) = self.node_of_key.get(&key) {
            return node;
        }
        let node = self.parent.len() as u32;
        self.parent.push(node);
        self.node_key.push(key);
        self.insured.push(false);
        self.evidence.push(Vec::new());
        self.prefectures.push(0);
        self.anchored.push(false);
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

    /// Joins the clusters of `a` and `b`; counts the join under `kind`.
    fn union(&mut self, a: u32, b: u32, kind: KeyKind) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if kind == KeyKind::Name && self.insured[ra as usize] && self.insured[rb as usize] {
            self.name_conflicts += 1;
        }
        self.merges[kind as usize] += 1;
        // Keep the smaller key as root so the representative needs no second pass.
        let (root, child) = if self.node_key[ra as usize] <= self.node_key[rb as usize] { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.insured[root as usize] |= self.insured[child as usize];
        let moved = std::mem::take(&mut self.evidence[child as usize]);
        self.add_evidence(root, &moved);
        self.prefectures[root as usize] |= self.prefectures[child as usize];
    }

    /// Adds address hashes to a root's evidence (kept small: a person has few addresses).
    fn add_evidence(&mut self, root: u32, hashes: &[u64]) {
        let set = &mut self.evidence[root as usize];
        for &h in hashes {
            if let Err(at) = set.binary_search(&h)
                && set.len() < 8
            {
                set.insert(at, h);
            }
        }
    }

    /// Adds the next rows of `source` (in order), with each row's address evidence (see
    /// [`ConflictRule::Evidence`]). `keyless_id` gives a row with no key a stable identity of its
    /// own from its row number within the source.
    pub fn add_rows(
        &mut self,
        source: usize,
        keys: &[RowKeys],
        evidence: &[Evidence],
        keyless_id: impl Fn(usize) -> u128,
    ) {
        for (i, row_keys) in keys.iter().enumerate() {
            let row = self.rows[source].len();
            let mut anchor = None;
            // Insurance, local and My Number keys join at once.
            for kind in [KeyKind::Insurance, KeyKind::Local, KeyKind::MyNumber] {
                if let Some(key) = row_keys[kind as usize] {
                    self.key_rows[kind as usize] += 1;
                    let node = self.node(key);
                    if kind == KeyKind::Insurance {
                        let root = self.find(node);
                        self.insured[root as usize] = true;
                    }
                    match anchor {
                        None => anchor = Some(node),
                        Some(a) => self.union(a, node, kind),
                    }
                }
            }
            if let Some(key) = row_keys[KeyKind::Name as usize] {
                self.key_rows[KeyKind::Name as usize] += 1;
                let node = self.node(key);
                match (anchor, self.rule) {
                    (None, _) => anchor = Some(node),
                    (Some(a), ConflictRule::Merge) => self.union(a, node, KeyKind::Name),
                    (Some(a), ConflictRule::InsuranceWins | ConflictRule::Evidence) => self.name_edges.push((a, node)),
                }
            }
            let node = anchor.unwrap_or_else(|| {
                self.keyless_rows += 1;
                self.node(keyless_id(row))
            });
            self.anchored[node as usize] = true;
            if let Some(e) = evidence.get(i) {
                let root = self.find(node);
                if let Some(street) = e.street {
                    self.add_evidence(root, &[street]);
                }
                if let Some(p) = e.prefecture {
                    self.prefectures[root as usize] |= 1 << p;
                }
            }
            self.rows[source].push(node);
        }
    }

    /// The evidence rule: per name key (in key order), the clusters carrying it are grouped by
    /// shared address; clusters without an address join the single group, or stay apart (and
    /// linked for opt-out) when addresses show several persons.
    fn join_by_evidence(&mut self, refused: &mut Vec<(u32, u32)>) {
        let mut by_name: std::collections::BTreeMap<(u128, u32), Vec<u32>> = std::collections::BTreeMap::new();
        for (a, name) in std::mem::take(&mut self.name_edges) {
            by_name.entry((self.node_key[name as usize], name)).or_default().push(a);
        }
        for ((_, name), members) in by_name {
            // A name key no row is anchored at is only a key: it joins whichever person its
            // rows are given to, and counts as no cluster of its own.
            let bare = !self.anchored[name as usize] && self.find(name) == name;
            let nodes = members.iter().chain((!bare).then_some(&name));
            let mut roots: Vec<u32> = nodes.map(|&n| self.find(n)).collect();
            roots.sort_unstable_by_key(|&r| self.node_key[r as usize]);
            roots.dedup();
            if roots.len() < 2 {
                if bare {
                    self.union(roots[0], name, KeyKind::Name);
                }
                continue;
            }
            // Address groups: clusters whose streets intersect, transitively; each with the
            // prefectures its clusters show.
            let mut groups: Vec<(Vec<u32>, Vec<u64>, u64)> = Vec::new();
            let mut by_prefecture: Vec<u32> = Vec::new();
            let mut without: Vec<u32> = Vec::new();
            for &r in &roots {
                let evidence = self.evidence[r as usize].clone();
                let mask = self.prefectures[r as usize];
                if evidence.is_empty() {
                    if mask == 0 {
                        without.push(r)
                    } else {
                        by_prefecture.push(r)
                    }
                    continue;
                }
                let mut merged = (vec![r], evidence, mask);
                let mut i = 0;
                while i < groups.len() {
                    if groups[i].1.iter().any(|h| merged.1.binary_search(h).is_ok()) {
                        let (members, hashes, mask) = groups.remove(i);
                        merged.0.extend(members);
                        merged.1.extend(hashes);
                        merged.1.sort_unstable();
                        merged.1.dedup();
                        merged.2 |= mask;
                    } else {
                        i += 1;
                    }
                }
                groups.push(merged);
            }
            // Clusters with only a prefecture (no address): into the one group of that
            // prefecture; a prefecture no group has makes a group of its own; two groups of that
            // prefecture leave the cluster unplaced.
            for r in by_prefecture {
                let mask = self.prefectures[r as usize];
                let matching: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].2 & mask != 0).collect();
                match matching.as_slice() {
                    [g] => groups[*g].0.push(r),
                    [] => groups.push((vec![r], Vec::new(), mask)),
                    _ => without.push(r),
                }
            }
            let groups: Vec<(Vec<u32>, Vec<u64>)> = groups.into_iter().map(|(m, h, _)| (m, h)).collect();
            // The key itself goes with the first address group (or the one person).
            let home = groups.first().map_or(roots[0], |(members, _)| members[0]);
            if bare {
                self.union(home, name, KeyKind::Name);
            }
            if groups.len() <= 1 {
                for &r in &roots {
                    self.union(home, r, KeyKind::Name);
                }
                continue;
            }
            for (members, _) in &groups {
                for &m in &members[1..] {
                    self.union(members[0], m, KeyKind::Name);
                }
            }
            // Several persons by address (namesakes): the groups are persons of their own. The
            // clusters no address places stay apart, linked for opt-out to every group.
            self.kept_apart_by_address += (groups.len() - 1 + without.len()) as u64;
            let firsts: Vec<u32> = groups.iter().map(|(members, _)| members[0]).collect();
            for &w in &without {
                for &g in &firsts {
                    refused.push((w, g));
                }
            }
            let holders = firsts.iter().chain(&without).copied().collect();
            self.namesake_nodes.push((self.node_key[name as usize], holders));
        }
    }

    /// Resolves persons. Person indices are ordered by representative, so they do not depend on
    /// the order sources were read in.
    pub fn finish(mut self) -> Persons {
        let mut refused: Vec<(u32, u32)> = Vec::new();
        match self.rule {
            ConflictRule::Merge => {}
            ConflictRule::InsuranceWins => {
                // Deferred name joins: refused between two insured clusters.
                for (a, name) in std::mem::take(&mut self.name_edges) {
                    let (ra, rn) = (self.find(a), self.find(name));
                    if ra != rn && self.insured[ra as usize] && self.insured[rn as usize] {
                        self.name_conflicts += 1;
                        refused.push((name, a));
                    } else {
                        self.union(a, name, KeyKind::Name);
                    }
                }
            }
            ConflictRule::Evidence => self.join_by_evidence(&mut refused),
        }
        let roots: Vec<u32> = (0..self.parent.len() as u32).map(|n| self.find(n)).collect();
        let mut root_keys: Vec<u128> =
            roots.iter().enumerate().filter(|(n, r)| *n as u32 == **r).map(|(n, _)| self.node_key[n]).collect();
        root_keys.sort_unstable();
        let person_of_root_key: KeyMap<u32> = root_keys.iter().enumerate().map(|(i, k)| (*k, i as u32)).collect();
        let person_of_node = |node: u32| person_of_root_key[&self.node_key[roots[node as usize] as usize]];
        let row_person: Vec<Vec<u32>> =
            self.rows.iter().map(|rows| rows.iter().map(|&n| person_of_node(n)).collect()).collect();
        let person_of_key = self.node_of_key.iter().map(|(k, &n)| (*k, person_of_node(n))).collect();
        let namesakes: KeyMap<Vec<u32>> = std::mem::take(&mut self.namesake_nodes)
            .into_iter()
            .map(|(key, nodes)| {
                let mut holders: Vec<u32> = nodes.into_iter().map(person_of_node).collect();
                holders.sort_unstable();
                holders.dedup();
                (key, holders)
            })
            .collect();
        let mut kept_apart: HashMap<u32, Vec<u32>> = HashMap::new();
        for (name, other) in refused {
            let (a, b) = (person_of_node(name), person_of_node(other));
            for (from, to) in [(a, b), (b, a)] {
                let neighbours = kept_apart.entry(from).or_default();
                if !neighbours.contains(&to) {
                    neighbours.push(to);
                }
            }
        }

        let mut sources_of_person = vec![0u64; root_keys.len()];
        for (source, rows) in row_person.iter().enumerate() {
            for &p in rows {
                sources_of_person[p as usize] |= 1 << source.min(63);
            }
        }
        let stats = LinkStats {
            conflict_rule: self.rule,
            persons: root_keys.len() as u64,
            rows_with_key: KeyKind::ALL.into_iter().zip(self.key_rows).collect(),
            merges: KeyKind::ALL.into_iter().zip(self.merges).collect(),
            name_conflicts: self.name_conflicts,
            kept_apart_by_address: self.kept_apart_by_address,
            keyless_rows: self.keyless_rows,
            persons_in_several_sources: sources_of_person.iter().filter(|s| s.count_ones() > 1).count() as u64,
        };
        Persons { row_person, representative: root_keys, person_of_key, kept_apart, namesakes, stats }
    }
}

impl Persons {
    /// Every person any of `keys` names: the holder of each key, and every person a refused
    /// name join kept apart from those (transitively), so that an opt-out misses nobody the
    /// `merge` rule would have removed.
    pub fn persons_of(&self, keys: &RowKeys) -> Vec<u32> {
        let holder = |k: &Option<u128>| k.and_then(|k| self.person_of_key.get(&k).copied());
        let mut found: Vec<u32> = keys
            .iter()
            .enumerate()
            .filter(|(kind, _)| *kind != KeyKind::Name as usize)
            .filter_map(|(_, k)| holder(k))
            .collect();
        let name = keys[KeyKind::Name as usize];
        match name.and_then(|k| self.namesakes.get(&k)) {
            // A card, patient ID or My Number names the person; the name alone would not.
            Some(_) if !found.is_empty() => {}
            // Only the name: every namesake (the safe side).
            Some(all) => found.extend(all),
            None => found.extend(holder(&name)),
        }
        let mut next = 0;
        while next < found.len() {
            for &neighbour in self.kept_apart.get(&found[next]).into_iter().flatten() {
                if !found.contains(&neighbour) {
                    found.push(neighbour);
                }
            }
            next += 1;
        }
        found.sort_unstable();
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
        let mut linker = Linker::new(2, ConflictRule::Merge);
        // Source 0: row 0 has K1=10,K2=20; row 1 has K2=30.
        linker
            .add_rows(0, &[[Some(10), Some(20), None, None], [None, Some(30), None, None]], &[], |r| 1000 + r as u128);
        // Source 1: row 0 has K2=20 (joins row 0 of source 0) and K3=40; row 1 has no key.
        linker.add_rows(1, &[[None, Some(20), Some(40), None], [None, None, None, None]], &[], |r| 2000 + r as u128);
        let persons = linker.finish();
        assert_eq!(persons.len(), 3);
        assert_eq!(persons.row_person[0][0], persons.row_person[1][0]);
        assert_ne!(persons.row_person[0][0], persons.row_person[0][1]);
        assert_eq!(persons.stats.keyless_rows, 1);
        assert_eq!(persons.stats.persons_in_several_sources, 1);
        assert_eq!(persons.persons_of(&[None, None, Some(40), None]), vec![persons.row_person[0][0]]);
        assert_eq!(persons.representative[persons.row_person[0][0] as usize], 10);
    }

    #[test]
    fn insurance_wins_keeps_namesakes_apart_but_opt_out_names_both() {
        // Two insured persons (K1 = 1 and 2) share a name key (K2 = 9); a third row has only K2.
        let rows = [[Some(1), Some(9), None, None], [Some(2), Some(9), None, None], [None, Some(9), None, None]];
        let mut merged = Linker::new(1, ConflictRule::Merge);
        merged.add_rows(0, &rows, &[], |r| 100 + r as u128);
        let merged = merged.finish();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged.stats.name_conflicts, 1);

        let mut apart = Linker::new(1, ConflictRule::InsuranceWins);
        apart.add_rows(0, &rows, &[], |r| 100 + r as u128);
        let apart = apart.finish();
        assert_eq!(apart.len(), 2);
        assert_eq!(apart.stats.name_conflicts, 1);
        assert_ne!(apart.row_person[0][0], apart.row_person[0][1]);
        assert_eq!(apart.persons_of(&[None, Some(9), None, None]).len(), 2, "an opt-out by name removes both");
        assert_eq!(apart.persons_of(&[Some(2), None, None, None]).len(), 2, "so does one by either card");
    }

    #[test]
    fn evidence_keeps_namesakes_at_different_addresses_apart_and_joins_job_changers() {
        // Namesakes (K2 = 9): insured 1 at address 501, insured 2 at address 502. A job changer
        // (K2 = 8): insured 3 at address 503, insured 4 without an address. A chart row (K3 = 7,
        // K2 = 9) at address 502 belongs to the second namesake.
        let rows = [
            [Some(1), Some(9), None, None],
            [Some(2), Some(9), None, None],
            [Some(3), Some(8), None, None],
            [Some(4), Some(8), None, None],
            [None, Some(9), Some(7), None],
        ];
        let evidence =
            [Some(501), Some(502), Some(503), None, Some(502)].map(|street| Evidence { street, prefecture: None });
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.add_rows(0, &rows, &evidence, |r| 100 + r as u128);
        let p = linker.finish();
        let person = |row: usize| p.row_person[0][row];
        assert_ne!(person(0), person(1), "namesakes at different addresses");
        assert_eq!(person(1), person(4), "the chart joins the namesake at its address");
        assert_eq!(person(2), person(3), "a job changer with one address joins");
        assert_eq!(p.len(), 3);
        assert_eq!(p.stats.kept_apart_by_address, 1);
        assert_eq!(p.persons_of(&[None, Some(9), None, None]).len(), 2, "an opt-out by name removes both namesakes");
        // A card names one namesake; the name alone names both.
        assert_eq!(p.persons_of(&[Some(1), Some(9), None, None]), vec![person(0)]);
    }

    #[test]
    fn a_prefecture_places_a_cluster_without_an_address() {
        // Namesakes (K2 = 9) at streets 501 (prefecture 13) and 502 (prefecture 27); a pharmacy
        // cluster (K1 = 3, no address) in prefecture 27 belongs to the second.
        let rows = [[Some(1), Some(9), None, None], [Some(2), Some(9), None, None], [Some(3), Some(9), None, None]];
        let evidence = [
            Evidence { street: Some(501), prefecture: Some(13) },
            Evidence { street: Some(502), prefecture: Some(27) },
            Evidence { street: None, prefecture: Some(27) },
        ];
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.add_rows(0, &rows, &evidence, |r| 100 + r as u128);
        let p = linker.finish();
        assert_eq!(p.len(), 2);
        assert_eq!(p.row_person[0][1], p.row_person[0][2]);
        assert_ne!(p.row_person[0][0], p.row_person[0][2]);
    }

    proptest! {
        /// Union-find agrees with a naive transitive closure, and person numbering does not
        /// depend on the order rows arrive in.
        #[test]
        fn matches_naive_closure(rows in proptest::collection::vec(proptest::array::uniform4(proptest::option::of(0u128..12)), 1..40)) {
            let mut linker = Linker::new(1, ConflictRule::Merge);
            linker.add_rows(0, &rows, &[], |r| 1_000 + r as u128);
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
            let mut linker = Linker::new(1, ConflictRule::Merge);
            linker.add_rows(0, &reversed, &[], |r| 1_000 + (rows.len() - 1 - r) as u128);
            let again = linker.finish();
            let n = rows.len();
            for i in 0..n {
                prop_assert_eq!(persons.row_person[0][i], again.row_person[0][n - 1 - i]);
            }
        }
    }
}
