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
    /// The name key joins the persons that carry it unless their addresses and cards tell them
    /// apart: persons with an address (a column with `link = "address"`, compared up to the
    /// first number) join those with a matching address; address groups stay apart only when at
    /// least two of them carry an insurance card (a person who moved is not two persons);
    /// persons without an address join when exactly one group exists. Persons kept apart stay
    /// linked for opt-out: an opt-out that names one of them removes all of them.
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
    /// Per node (valid at roots): the cluster's (card, 枝番) pairs, as truncated hashes: two
    /// clusters holding one card under different 枝番 are two persons (twins, a household).
    branches: Vec<Vec<(u64, u64)>>,
    /// Per node (valid at roots): the cluster's name keys (K2), truncated.
    names: Vec<Vec<u64>>,
    /// Per node: whether some row is anchored at it (a name key without rows is only a key).
    anchored: Vec<bool>,
    /// Per source, per row: the row's node.
    rows: Vec<Vec<u32>>,
    /// Name-key edges (a row's anchor, its K2 node), joined in `finish` by the conflict rule.
    name_edges: Vec<(u32, u32)>,
    /// Insurance-key edges (a row's anchor, its K1 node), joined in `finish` unless 枝番 or names
    /// tell the holders apart.
    insurance_edges: Vec<(u32, u32)>,
    /// Insurance keys held by several persons on one card (twins), with a node of each.
    shared_insurance_nodes: Vec<(u128, Vec<u32>)>,
    /// Card keys (K1 without birth date and sex) whose holders opt-out needs to know.
    watched_cards: std::collections::HashSet<u128, BuildHasherDefault<PrehashedKey>>,
    /// (card key, node) of rows holding a watched card.
    card_nodes: Vec<(u128, u32)>,
    /// Clusters the insurance-key rule kept apart (twins, household members on one card).
    kept_apart_on_card: u64,
    /// Name keys whose holders addresses told apart, with a node of each holder.
    namesake_nodes: Vec<(u128, Vec<u32>)>,
    /// Rows that carried each key kind, for the report.
    key_rows: [u64; crate::keys::KEY_KINDS],
    /// Unions that joined two clusters, by the key kind that caused them.
    merges: [u64; crate::keys::KEY_KINDS],
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
    /// Persons a refused name join kept apart, both ways: an opt-out of one covers the others
    /// (transitively, as the `merge` rule would have joined them).
    kept_apart: HashMap<u32, Vec<u32>>,
    /// Clusters no evidence could place among the holders of a shared key (a record without
    /// address among namesakes, without 枝番 and name among twins), both ways: an opt-out of a
    /// holder covers the unplaced cluster, and one of the unplaced cluster every holder. One
    /// step only: the twin of an opted-out twin is not removed because a record could be
    /// either's.
    unplaced: HashMap<u32, Vec<u32>>,
    /// Name keys held by several persons that addresses told apart (namesakes), with them.
    namesakes: KeyMap<Vec<u32>>,
    /// Insurance keys held by several persons that 枝番 or names told apart (twins), with them.
    shared_insurance: KeyMap<Vec<u32>>,
    /// Per watched card: its holders, and whether the person's 枝番 on that card is known.
    card_holders: KeyMap<Vec<(u32, bool)>>,
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
    /// Persons sharing an insurance key (card + birth date + sex) that the rule kept apart
    /// because their 枝番 or kana names differ (same-sex twins, household members on one card).
    pub kept_apart_on_card: u64,
    /// Rows with no usable key: each is its own person.
    pub keyless_rows: u64,
    /// Persons whose rows come from more than one source.
    pub persons_in_several_sources: u64,
}

/// Counts per key kind.
pub type BTreeMapCounts = std::collections::BTreeMap<KeyKind, u64>;

/// Who an opt-out entry names, and through which keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The persons to leave out.
    pub persons: Vec<u32>,
    /// The persons found through each key kind.
    pub by: Vec<(KeyKind, Vec<u32>)>,
    /// The entry gave only a card: every holder was taken (a household).
    pub whole_card: bool,
    /// The entry's card + 枝番 is in no row: the card's holders without a known 枝番 were taken.
    pub card_without_branch: bool,
}

/// Mixed into the node key of a (K1, K2) pair, so it is never equal to a key of its own.
const PAIR_TWEAK: u128 = 0x7061_6972_2d6f_662d_6b31_2d6b_3200_0001;

/// Adds `items` to a sorted, deduplicated list kept small (a person has few names or cards).
fn add_sorted<T: Ord + Copy>(list: &mut Vec<T>, items: &[T]) {
    for &item in items {
        if let Err(at) = list.binary_search(&item)
            && list.len() < 16
        {
            list.insert(at, item);
        }
    }
}

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
        self.branches.push(Vec::new());
        self.names.push(Vec::new());
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
        let names = std::mem::take(&mut self.names[child as usize]);
        add_sorted(&mut self.names[root as usize], &names);
        let branches = std::mem::take(&mut self.branches[child as usize]);
        add_sorted(&mut self.branches[root as usize], &branches);
    }

    /// Whether the clusters of roots `a` and `b` hold one card under different 枝番.
    fn branches_conflict(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.branches[a as usize], &self.branches[b as usize]);
        a.iter().any(|(card, branch)| b.iter().any(|(c, other)| c == card && other != branch))
    }

    /// Whether the clusters of roots `a` and `b` both carry kana names, and none in common.
    fn names_conflict(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.names[a as usize], &self.names[b as usize]);
        !a.is_empty() && !b.is_empty() && !a.iter().any(|n| b.binary_search(n).is_ok())
    }

    /// Joins `a` and `b` by a name key unless their clusters hold one card under different 枝番;
    /// then they stay apart, linked for opt-out (`refused`).
    fn join_by_name(&mut self, a: u32, b: u32, refused: &mut Vec<(u32, u32)>) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb && self.branches_conflict(ra, rb) {
            refused.push((a, b));
        } else {
            self.union(a, b, KeyKind::Name);
        }
    }

    /// Asks the linker to record the holders of these card keys (opt-out entries that name a
    /// card without birth date and sex). Call before adding rows.
    pub fn watch_cards(&mut self, cards: impl IntoIterator<Item = u128>) {
        self.watched_cards.extend(cards);
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
            // An individual's card, a local patient ID and My Number join at once.
            for kind in [KeyKind::CardBranch, KeyKind::Local, KeyKind::MyNumber] {
                if let Some(key) = row_keys[kind as usize] {
                    self.key_rows[kind as usize] += 1;
                    let node = self.node(key);
                    if kind == KeyKind::CardBranch {
                        let root = self.find(node);
                        self.insured[root as usize] = true;
                    }
                    match anchor {
                        None => anchor = Some(node),
                        Some(a) => self.union(a, node, kind),
                    }
                }
            }
            let mut weak = |kind: KeyKind| {
                row_keys[kind as usize].map(|key| {
                    self.key_rows[kind as usize] += 1;
                    let node = self.node(key);
                    if kind == KeyKind::Insurance {
                        let root = self.find(node);
                        self.insured[root as usize] = true;
                    }
                    (key, node)
                })
            };
            let insurance = weak(KeyKind::Insurance);
            let name = weak(KeyKind::Name);
            if self.rule == ConflictRule::Merge {
                // Any shared key joins.
                for (node, kind) in [(insurance, KeyKind::Insurance), (name, KeyKind::Name)] {
                    if let Some((_, node)) = node {
                        match anchor {
                            None => anchor = Some(node),
                            Some(a) => self.union(a, node, kind),
                        }
                    }
                }
            } else {
                if anchor.is_none() {
                    anchor = match (insurance, name) {
                        // Card + birth date + sex with a name: the pair is one person (twins share
                        // the first, namesakes the second), its own node.
                        (Some((k1, _)), Some((k2, _))) => Some(self.node(k1 ^ k2.rotate_left(64) ^ PAIR_TWEAK)),
                        (Some((_, node)), None) | (None, Some((_, node))) => Some(node),
                        (None, None) => None,
                    };
                }
                if let Some(a) = anchor {
                    if let Some((_, node)) = insurance.filter(|&(_, n)| n != a)
                        && self.insurance_edges.last() != Some(&(a, node))
                    {
                        self.insurance_edges.push((a, node));
                    }
                    if let Some((_, node)) = name.filter(|&(_, n)| n != a)
                        && self.name_edges.last() != Some(&(a, node))
                    {
                        self.name_edges.push((a, node));
                    }
                }
            }
            let node = anchor.unwrap_or_else(|| {
                self.keyless_rows += 1;
                self.node(keyless_id(row))
            });
            self.anchored[node as usize] = true;
            let root = self.find(node);
            if insurance.is_some() || row_keys[KeyKind::CardBranch as usize].is_some() {
                self.insured[root as usize] = true;
            }
            if let Some((key, _)) = name {
                add_sorted(&mut self.names[root as usize], &[key as u64]);
            }
            if let (Some(card), Some(branch)) =
                (row_keys[KeyKind::Card as usize], row_keys[KeyKind::CardBranch as usize])
            {
                add_sorted(&mut self.branches[root as usize], &[(card as u64, branch as u64)]);
            }
            if let Some(card) = row_keys[KeyKind::Card as usize].filter(|c| self.watched_cards.contains(c))
                && self.card_nodes.last() != Some(&(card, node))
            {
                self.card_nodes.push((card, node));
            }
            if let Some(e) = evidence.get(i) {
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

    /// Deferred edges (anchor, key node) by key, in key order (so persons do not depend on the
    /// order rows arrived in).
    fn by_key(&self, edges: Vec<(u32, u32)>) -> std::collections::BTreeMap<(u128, u32), Vec<u32>> {
        let mut by_key: std::collections::BTreeMap<(u128, u32), Vec<u32>> = std::collections::BTreeMap::new();
        for (anchor, node) in edges {
            by_key.entry((self.node_key[node as usize], node)).or_default().push(anchor);
        }
        by_key
    }

    /// The distinct clusters holding the key at `node` (its edges' anchors, and the key's own
    /// cluster unless no row is anchored at it: then it is only a key — `bare` — and joins
    /// whichever person its rows are given to). A key held by one cluster joins it here and
    /// gives `None`.
    fn holders(&mut self, node: u32, anchors: &[u32], kind: KeyKind) -> Option<(bool, Vec<u32>)> {
        let bare = !self.anchored[node as usize] && self.find(node) == node;
        let nodes = anchors.iter().chain((!bare).then_some(&node));
        let mut roots: Vec<u32> = nodes.map(|&n| self.find(n)).collect();
        roots.sort_unstable_by_key(|&r| self.node_key[r as usize]);
        roots.dedup();
        if roots.len() < 2 {
            if bare {
                self.union(roots[0], node, kind);
            }
            return None;
        }
        Some((bare, roots))
    }

    /// The insurance-key rule: per K1 key (card + birth date + sex), the clusters carrying it
    /// join unless their 枝番 differ or their kana names do (twins and household members on one
    /// card). Clusters with an 枝番 are placed first, then those with a name; a cluster with
    /// neither joins the single group, or stays apart (linked for opt-out to every group) when
    /// the key is held by several persons.
    fn join_by_insurance(&mut self, unplaced_links: &mut Vec<(u32, u32)>) {
        let edges = std::mem::take(&mut self.insurance_edges);
        for ((key, key_node), members) in self.by_key(edges) {
            let Some((bare, mut roots)) = self.holders(key_node, &members, KeyKind::Insurance) else { continue };
            // Most telling first: an 枝番, then a name, then neither.
            roots.sort_by_key(|&r| (self.branches[r as usize].is_empty(), self.names[r as usize].is_empty()));
            let mut groups: Vec<u32> = Vec::new();
            let mut unplaced = Vec::new();
            for r in roots {
                let compatible: Vec<usize> = (0..groups.len())
                    .filter(|&g| {
                        let g = self.find(groups[g]);
                        !self.branches_conflict(g, r) && !self.names_conflict(g, r)
                    })
                    .collect();
                match compatible.as_slice() {
                    [] => groups.push(r),
                    [g] => self.union(groups[*g], r, KeyKind::Insurance),
                    _ => unplaced.push(r),
                }
            }
            if bare {
                self.union(groups[0], key_node, KeyKind::Insurance);
            }
            if groups.len() > 1 {
                self.kept_apart_on_card += (groups.len() - 1 + unplaced.len()) as u64;
                for &u in &unplaced {
                    for &g in &groups {
                        unplaced_links.push((u, g));
                    }
                }
                self.shared_insurance_nodes.push((key, groups.iter().chain(&unplaced).copied().collect()));
            }
        }
    }

    /// The evidence rule: per name key (in key order), the clusters carrying it are grouped by
    /// shared address; clusters without an address join the single group, or stay apart (and
    /// linked for opt-out) when addresses show several persons.
    fn join_by_evidence(&mut self, refused: &mut Vec<(u32, u32)>, unplaced_links: &mut Vec<(u32, u32)>) {
        let edges = std::mem::take(&mut self.name_edges);
        for ((_, name), members) in self.by_key(edges) {
            let Some((bare, roots)) = self.holders(name, &members, KeyKind::Name) else { continue };
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
            // Two addresses alone do not make two persons: people move, and a hospital keeps the
            // old address. Address groups are namesakes only when at least two of them carry an
            // insurance card; groups without a card then cannot be placed, and with one carded
            // group or none everything is one person.
            let mut carded = Vec::new();
            let mut uncarded = Vec::new();
            for (members, hashes, _) in groups {
                let insured = members.iter().any(|&m| {
                    let root = self.find(m);
                    self.insured[root as usize]
                });
                if insured { carded.push((members, hashes)) } else { uncarded.push((members, hashes)) }
            }
            let groups: Vec<(Vec<u32>, Vec<u64>)> = if carded.len() <= 1 {
                let all: Vec<u32> = carded.into_iter().chain(uncarded).flat_map(|(m, _)| m).collect();
                if all.is_empty() { Vec::new() } else { vec![(all, Vec::new())] }
            } else {
                without.extend(uncarded.into_iter().flat_map(|(m, _)| m));
                carded
            };
            // The key itself goes with the first address group (or the one person).
            let home = groups.first().map_or(roots[0], |(members, _)| members[0]);
            if bare {
                self.union(home, name, KeyKind::Name);
            }
            if groups.len() <= 1 {
                for &r in &roots {
                    self.join_by_name(home, r, refused);
                }
                continue;
            }
            for (members, _) in &groups {
                for &m in &members[1..] {
                    self.join_by_name(members[0], m, refused);
                }
            }
            // Several persons by address and card (namesakes): the groups are persons of their
            // own in the release. For opt-out they stay linked, as the `merge` rule would have
            // joined them: a namesake pair is also what one person who changed both job and
            // address looks like, and an opt-out must miss no record of theirs. The clusters no
            // address places stay apart, linked for opt-out to every group.
            self.kept_apart_by_address += (groups.len() - 1 + without.len()) as u64;
            let firsts: Vec<u32> = groups.iter().map(|(members, _)| members[0]).collect();
            for pair in firsts.windows(2) {
                refused.push((pair[0], pair[1]));
            }
            for &w in &without {
                for &g in &firsts {
                    unplaced_links.push((w, g));
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
        let mut unplaced_links: Vec<(u32, u32)> = Vec::new();
        if self.rule != ConflictRule::Merge {
            self.join_by_insurance(&mut unplaced_links);
        }
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
                        self.join_by_name(a, name, &mut refused);
                    }
                }
            }
            ConflictRule::Evidence => self.join_by_evidence(&mut refused, &mut unplaced_links),
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
        let holders_of = |shared: Vec<(u128, Vec<u32>)>| -> KeyMap<Vec<u32>> {
            shared
                .into_iter()
                .map(|(key, nodes)| {
                    let mut holders: Vec<u32> = nodes.into_iter().map(person_of_node).collect();
                    holders.sort_unstable();
                    holders.dedup();
                    (key, holders)
                })
                .collect()
        };
        let namesakes = holders_of(std::mem::take(&mut self.namesake_nodes));
        let shared_insurance = holders_of(std::mem::take(&mut self.shared_insurance_nodes));
        let mut card_holders: KeyMap<Vec<(u32, bool)>> = KeyMap::default();
        for (card, node) in std::mem::take(&mut self.card_nodes) {
            let root = roots[node as usize];
            let branch_known = self.branches[root as usize].iter().any(|(c, _)| *c == card as u64);
            let holders = card_holders.entry(card).or_default();
            let holder = (person_of_node(node), branch_known);
            if !holders.contains(&holder) {
                holders.push(holder);
            }
        }
        let links = |pairs: Vec<(u32, u32)>| {
            let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
            for (x, y) in pairs {
                let (a, b) = (person_of_node(x), person_of_node(y));
                for (from, to) in [(a, b), (b, a)] {
                    let neighbours = map.entry(from).or_default();
                    if !neighbours.contains(&to) {
                        neighbours.push(to);
                    }
                }
            }
            map
        };
        let kept_apart = links(refused);
        let unplaced = links(unplaced_links);

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
            kept_apart_on_card: self.kept_apart_on_card,
            keyless_rows: self.keyless_rows,
            persons_in_several_sources: sources_of_person.iter().filter(|s| s.count_ones() > 1).count() as u64,
        };
        Persons {
            row_person,
            representative: root_keys,
            person_of_key,
            kept_apart,
            unplaced,
            namesakes,
            shared_insurance,
            card_holders,
            stats,
        }
    }
}

impl Persons {
    /// Every person an opt-out entry with `keys` names (see [`Resolution`]).
    ///
    /// - An individual's card (card + 枝番), a patient ID or My Number names one person each.
    /// - Card + birth date + sex, and kana name + birth date + sex, name one person, or several
    ///   that linkage kept apart (twins on one card; namesakes at different addresses): then all
    ///   of them, unless the entry's other keys name one of them.
    /// - Card + 枝番 that no row carries (exports often leave 枝番 empty): every holder of that
    ///   card whose 枝番 is unknown, unless the entry's other keys name someone.
    /// - The card alone: every person holding it (a household), conservatively.
    ///
    /// Then every person a refused join kept apart from those (transitively), so that an opt-out
    /// misses nobody the `merge` rule would have removed, and every cluster that could be theirs
    /// but that no evidence placed.
    pub fn resolve(&self, keys: &RowKeys) -> Resolution {
        let holder = |kind: KeyKind| keys[kind as usize].and_then(|k| self.person_of_key.get(&k).copied());
        let mut resolution = Resolution::default();
        let mut pinned: Vec<u32> = Vec::new();
        let through = |kind: KeyKind, persons: &[u32], resolution: &mut Resolution| {
            if !persons.is_empty() {
                resolution.by.push((kind, persons.to_vec()));
            }
        };
        for kind in [KeyKind::CardBranch, KeyKind::Local, KeyKind::MyNumber] {
            if let Some(p) = holder(kind) {
                pinned.push(p);
                through(kind, &[p], &mut resolution);
            }
        }
        // Keys that may name several persons: used whole only when nothing else names one of them.
        let mut several: Vec<(KeyKind, Vec<u32>)> = Vec::new();
        for (kind, shared) in [(KeyKind::Insurance, &self.shared_insurance), (KeyKind::Name, &self.namesakes)] {
            match keys[kind as usize].and_then(|k| shared.get(&k)) {
                Some(all) => several.push((kind, all.clone())),
                None => {
                    if let Some(p) = holder(kind) {
                        pinned.push(p);
                        through(kind, &[p], &mut resolution);
                    }
                }
            }
        }
        let card_holders = keys[KeyKind::Card as usize].and_then(|c| self.card_holders.get(&c));
        if keys[KeyKind::CardBranch as usize].is_some() && holder(KeyKind::CardBranch).is_none() {
            let unknown: Vec<u32> =
                card_holders.into_iter().flatten().filter(|(_, known)| !known).map(|(p, _)| *p).collect();
            if !unknown.is_empty() {
                resolution.card_without_branch = true;
                several.push((KeyKind::Card, unknown));
            }
        }
        if keys[KeyKind::CardBranch as usize].is_none() && keys[KeyKind::Insurance as usize].is_none() {
            let all: Vec<u32> = card_holders.into_iter().flatten().map(|(p, _)| *p).collect();
            if !all.is_empty() {
                resolution.whole_card = true;
                through(KeyKind::Card, &all, &mut resolution);
                pinned.extend(all);
            }
        }
        let mut found = pinned.clone();
        for (kind, all) in several {
            if !all.iter().any(|p| pinned.contains(p)) {
                through(kind, &all, &mut resolution);
                found.extend(all);
            }
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
        let named = found.clone();
        for p in named {
            found.extend(self.unplaced.get(&p).into_iter().flatten().copied());
        }
        found.sort_unstable();
        found.dedup();
        resolution.persons = found;
        resolution
    }

    /// The persons [`Persons::resolve`] finds for `keys`.
    pub fn persons_of(&self, keys: &RowKeys) -> Vec<u32> {
        self.resolve(keys).persons
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
        linker.add_rows(
            0,
            &[[Some(10), Some(20), None, None, None, None], [None, Some(30), None, None, None, None]],
            &[],
            |r| 1000 + r as u128,
        );
        // Source 1: row 0 has K2=20 (joins row 0 of source 0) and K3=40; row 1 has no key.
        linker.add_rows(
            1,
            &[[None, Some(20), Some(40), None, None, None], [None, None, None, None, None, None]],
            &[],
            |r| 2000 + r as u128,
        );
        let persons = linker.finish();
        assert_eq!(persons.len(), 3);
        assert_eq!(persons.row_person[0][0], persons.row_person[1][0]);
        assert_ne!(persons.row_person[0][0], persons.row_person[0][1]);
        assert_eq!(persons.stats.keyless_rows, 1);
        assert_eq!(persons.stats.persons_in_several_sources, 1);
        assert_eq!(persons.persons_of(&[None, None, Some(40), None, None, None]), vec![persons.row_person[0][0]]);
        assert_eq!(persons.representative[persons.row_person[0][0] as usize], 10);
    }

    #[test]
    fn insurance_wins_keeps_namesakes_apart_but_opt_out_names_both() {
        // Two insured persons (K1 = 1 and 2) share a name key (K2 = 9); a third row has only K2.
        let rows = [
            [Some(1), Some(9), None, None, None, None],
            [Some(2), Some(9), None, None, None, None],
            [None, Some(9), None, None, None, None],
        ];
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
        assert_eq!(
            apart.persons_of(&[None, Some(9), None, None, None, None]).len(),
            2,
            "an opt-out by name removes both"
        );
        assert_eq!(apart.persons_of(&[Some(2), None, None, None, None, None]).len(), 2, "so does one by either card");
    }

    #[test]
    fn evidence_keeps_namesakes_at_different_addresses_apart_and_joins_job_changers() {
        // Namesakes (K2 = 9): insured 1 at address 501, insured 2 at address 502. A job changer
        // (K2 = 8): insured 3 at address 503, insured 4 without an address. A chart row (K3 = 7,
        // K2 = 9) at address 502 belongs to the second namesake.
        let rows = [
            [Some(1), Some(9), None, None, None, None],
            [Some(2), Some(9), None, None, None, None],
            [Some(3), Some(8), None, None, None, None],
            [Some(4), Some(8), None, None, None, None],
            [None, Some(9), Some(7), None, None, None],
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
        assert_eq!(
            p.persons_of(&[None, Some(9), None, None, None, None]).len(),
            2,
            "an opt-out by name removes both namesakes"
        );
        // A card names one namesake, but both go: they may be one person who moved and changed
        // job, and an opt-out must miss none of their records.
        assert_eq!(p.persons_of(&[Some(1), None, None, None, None, None]).len(), 2);
    }

    #[test]
    fn a_mover_links_and_namesakes_need_two_cards_to_stay_apart() {
        // A mover: checkups (K1 = 1) at street 501, a hospital's chart (K3 = 7) still at the old
        // street 502. One card among the address groups: one person.
        let rows = [[Some(1), Some(9), None, None, None, None], [None, Some(9), Some(7), None, None, None]];
        let evidence = [501, 502].map(|street| Evidence { street: Some(street), prefecture: None });
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.add_rows(0, &rows, &evidence, |r| 100 + r as u128);
        let p = linker.finish();
        assert_eq!(p.len(), 1);
        assert_eq!(p.stats.kept_apart_by_address, 0);
        // Two carded namesakes and a chart at a third street: the chart cannot be placed, and an
        // opt-out of either namesake takes it too.
        let rows = [
            [Some(1), Some(9), None, None, None, None],
            [Some(2), Some(9), None, None, None, None],
            [None, Some(9), Some(7), None, None, None],
        ];
        let evidence = [501, 502, 503].map(|street| Evidence { street: Some(street), prefecture: None });
        let mut linker = Linker::new(1, ConflictRule::Evidence);
        linker.add_rows(0, &rows, &evidence, |r| 100 + r as u128);
        let p = linker.finish();
        assert_eq!(p.len(), 3);
        assert_eq!(p.persons_of(&[Some(1), None, None, None, None, None]).len(), 3);
        assert_eq!(p.persons_of(&[None, None, Some(7), None, None, None]).len(), 3);
    }

    #[test]
    fn a_prefecture_places_a_cluster_without_an_address() {
        // Namesakes (K2 = 9) at streets 501 (prefecture 13) and 502 (prefecture 27); a pharmacy
        // cluster (K1 = 3, no address) in prefecture 27 belongs to the second.
        let rows = [
            [Some(1), Some(9), None, None, None, None],
            [Some(2), Some(9), None, None, None, None],
            [Some(3), Some(9), None, None, None, None],
        ];
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

    fn keys(pairs: &[(KeyKind, u128)]) -> RowKeys {
        let mut keys = [None; crate::keys::KEY_KINDS];
        for (kind, key) in pairs {
            keys[*kind as usize] = Some(*key);
        }
        keys
    }

    #[test]
    fn twins_on_one_card_stay_apart_by_branch_or_by_name() {
        use KeyKind::{Card, CardBranch, Insurance, Local, Name};
        for rule in [ConflictRule::Evidence, ConflictRule::InsuranceWins] {
            // Same-sex twins share card + birth date + sex. Pair A (K1 = 1) carries 枝番 and
            // names; a third row of twin A comes from an export without 枝番. Pair B (K1 = 2)
            // comes from an export without 枝番, told apart by names; a chart row (K3) joins a
            // twin by name; a row with only K1 = 2 cannot be placed. Pair C (K1 = 3) has 枝番
            // and no names.
            let rows = [
                keys(&[(Card, 5), (Insurance, 1), (CardBranch, 11), (Name, 31)]),
                keys(&[(Card, 5), (Insurance, 1), (CardBranch, 12), (Name, 32)]),
                keys(&[(Card, 5), (Insurance, 1), (Name, 31)]),
                keys(&[(Card, 6), (Insurance, 2), (Name, 21)]),
                keys(&[(Card, 6), (Insurance, 2), (Name, 22)]),
                keys(&[(Local, 40), (Name, 22)]),
                keys(&[(Card, 6), (Insurance, 2)]),
                keys(&[(Card, 7), (Insurance, 3), (CardBranch, 71)]),
                keys(&[(Card, 7), (Insurance, 3), (CardBranch, 72)]),
            ];
            let mut linker = Linker::new(1, rule);
            linker.add_rows(0, &rows, &[], |r| 100 + r as u128);
            let p = linker.finish();
            let person = |row: usize| p.row_person[0][row];
            assert_ne!(person(0), person(1), "{rule:?}: twins with their own 枝番");
            assert_eq!(person(0), person(2), "{rule:?}: a row without 枝番 joins the twin of its name");
            assert_ne!(person(3), person(4), "{rule:?}: twins told apart by name");
            assert_eq!(person(4), person(5), "{rule:?}: the chart joins by name");
            assert_ne!(person(6), person(3));
            assert_ne!(person(6), person(4));
            assert_ne!(person(7), person(8), "{rule:?}: 枝番 alone tells them apart");
            assert_eq!(p.len(), 7);
            assert_eq!(p.stats.kept_apart_on_card, 4);
            let sorted = |mut v: Vec<u32>| {
                v.sort_unstable();
                v
            };
            // An opt-out by card + birth date + sex names both twins (and the unplaced row).
            assert_eq!(p.persons_of(&keys(&[(Insurance, 1)])), sorted(vec![person(0), person(1)]));
            assert_eq!(p.persons_of(&keys(&[(Insurance, 2)])).len(), 3);
            // With the 枝番, or the name, only one twin; the unplaced row goes with either.
            assert_eq!(p.persons_of(&keys(&[(Insurance, 1), (CardBranch, 12)])), vec![person(1)]);
            assert_eq!(p.persons_of(&keys(&[(Insurance, 2), (Name, 21)])), sorted(vec![person(3), person(6)]));
        }
    }

    proptest! {
        /// Union-find agrees with a naive transitive closure, and person numbering does not
        /// depend on the order rows arrive in.
        #[test]
        fn matches_naive_closure(rows in proptest::collection::vec(proptest::array::uniform6(proptest::option::of(0u128..12)), 1..40)) {
            // A card alone never joins rows.
            let rows: Vec<RowKeys> = rows.into_iter().map(|mut r| { r[KeyKind::Card as usize] = None; r }).collect();
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
