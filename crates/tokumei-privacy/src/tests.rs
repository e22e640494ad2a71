//! The search against brute force, and every model's output checked independently of the search.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::*;

/// Level l groups values by `widths[l]` (1 = identity); a last level makes one group.
fn qi(name: &str, values: u32, widths: &[u32]) -> QuasiIdentifier {
    let mut lookup: Vec<Vec<u32>> = widths.iter().map(|&w| (0..values).map(|v| v / w.max(1)).collect()).collect();
    lookup.push(vec![0; values as usize]);
    let names = (0..lookup.len()).map(|l| format!("l{l}")).collect();
    QuasiIdentifier::new(name, lookup, names)
}

fn qis() -> Vec<QuasiIdentifier> {
    vec![qi("a", 20, &[1, 5, 10]), qi("b", 6, &[1, 3]), qi("c", 3, &[1])]
}

fn model_strategy() -> impl Strategy<Value = PrivacyModel> {
    (2u32..6, 0u32..20, 0u8..6, 1u32..4, 0u8..3).prop_map(|(k, limit, diversity, l, closeness)| PrivacyModel {
        k,
        diversity: match diversity {
            1 => Some(Diversity::Distinct { l }),
            2 => Some(Diversity::Entropy { l: f64::from(l) }),
            3 => Some(Diversity::Recursive { c: 2.0, l }),
            _ => None,
        },
        closeness: match closeness {
            1 => Some(Closeness::Equal { t: 0.4 }),
            2 => Some(Closeness::Ordered { t: 0.3 }),
            _ => None,
        },
        average_risk: (diversity == 5).then_some(0.2),
        max_suppression: f64::from(limit) / 100.0,
    })
}

/// Rows (a, b, c, sensitive).
type Rows = Vec<(u32, u32, u32, u32)>;

/// Rows and, optionally, persons with several rows each.
fn table_strategy() -> impl Strategy<Value = (Rows, Option<Vec<u32>>)> {
    proptest::collection::vec((0u32..20, 0u32..6, 0u32..3, 0u32..4), 1..100).prop_flat_map(|rows| {
        let n = rows.len();
        (Just(rows), proptest::option::of(proptest::collection::vec(0u32..(n as u32 / 2).max(1), n)))
    })
}

fn histogram(rows: &[(u32, u32, u32, u32)], units: Option<&[u32]>) -> (Histogram, Vec<u32>) {
    let columns = vec![
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        rows.iter().map(|r| r.1).collect(),
        rows.iter().map(|r| r.2).collect(),
    ];
    let sensitive: Vec<u32> = rows.iter().map(|r| r.3).collect();
    // Units must be dense: renumber.
    let dense: Option<Vec<u32>> = units.map(|u| {
        let mut ids: HashMap<u32, u32> = HashMap::new();
        u.iter()
            .map(|p| {
                let next = ids.len() as u32;
                *ids.entry(*p).or_insert(next)
            })
            .collect()
    });
    CodedRows { columns: &columns, units: dense.as_deref(), weights: None, sensitive: Some((&sensitive, 4)) }
        .build()
        .unwrap()
}

/// Checks a solution's release against the model, from the rows, without the search's code:
/// classes are formed from each unit's generalized rows.
fn check_release(
    rows: &[(u32, u32, u32, u32)],
    units: Option<&[u32]>,
    qis: &[QuasiIdentifier],
    model: &PrivacyModel,
    s: &Solution,
    unit_entry: &[u32],
) {
    let unit_of = |row: usize| units.map_or(row as u32, |u| u[row]);
    let mut ids: HashMap<u32, u32> = HashMap::new();
    for row in 0..rows.len() {
        let next = ids.len() as u32;
        ids.entry(unit_of(row)).or_insert(next);
    }
    let suppressed: std::collections::HashSet<u32> = s.suppressed_entries.iter().copied().collect();
    let levels = &s.level_vector;
    // Each released unit's signature and sensitive values.
    let mut signature: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
    let mut values: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, r) in rows.iter().enumerate() {
        let unit = ids[&unit_of(row)];
        if suppressed.contains(&unit_entry[unit as usize]) {
            continue;
        }
        let t = vec![qis[0].code(levels[0], r.0), qis[1].code(levels[1], r.1), qis[2].code(levels[2], r.2)];
        signature.entry(unit).or_default().push(t);
        values.entry(unit).or_default().push(r.3);
    }
    let mut classes: HashMap<Vec<Vec<u32>>, Vec<u32>> = HashMap::new();
    for (unit, mut sig) in signature {
        sig.sort();
        sig.dedup();
        classes.entry(sig).or_default().push(unit);
    }
    let mut total = [0u64; 4];
    // Reference distribution over all units (suppressed included): distinct values per unit.
    let mut all_values: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, r) in rows.iter().enumerate() {
        all_values.entry(ids[&unit_of(row)]).or_default().push(r.3);
    }
    for v in all_values.values_mut() {
        v.sort();
        v.dedup();
        for &x in v.iter() {
            total[x as usize] += 1;
        }
    }
    let q_sum: u64 = total.iter().sum();
    for members in classes.values() {
        assert!(members.len() as u64 >= u64::from(model.k), "class of {} < k = {}", members.len(), model.k);
        let mut counts = [0u64; 4];
        for unit in members {
            let mut v = values[unit].clone();
            v.sort();
            v.dedup();
            for x in v {
                counts[x as usize] += 1;
            }
        }
        let n: u64 = counts.iter().sum();
        let p: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
        let q: Vec<f64> = total.iter().map(|&c| c as f64 / q_sum as f64).collect();
        match model.diversity {
            Some(Diversity::Distinct { l }) => assert!(counts.iter().filter(|&&c| c > 0).count() as u32 >= l),
            Some(Diversity::Entropy { l }) => {
                let h: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum();
                assert!(h >= l.ln() - 1e-9);
            }
            Some(Diversity::Recursive { c, l }) => {
                let mut sorted: Vec<u64> = counts.iter().copied().filter(|&x| x > 0).collect();
                sorted.sort_by(|a, b| b.cmp(a));
                assert!(sorted.len() >= l as usize);
                assert!((sorted[0] as f64) < c * sorted[l as usize - 1..].iter().sum::<u64>() as f64);
            }
            None => {}
        }
        match model.closeness {
            Some(Closeness::Equal { t }) => {
                let d: f64 = 0.5 * p.iter().zip(&q).map(|(a, b)| (a - b).abs()).sum::<f64>();
                assert!(d <= t + 1e-9, "equal distance {d} > {t}");
            }
            Some(Closeness::Ordered { t }) => {
                let mut running = 0.0;
                let mut d = 0.0;
                for i in 0..4 {
                    running += p[i] - q[i];
                    d += f64::abs(running);
                }
                assert!(d / 3.0 <= t + 1e-9, "ordered distance {} > {t}", d / 3.0);
            }
            None => {}
        }
    }
    let released_units: usize = classes.values().map(Vec::len).sum();
    if let Some(r) = model.average_risk
        && released_units > 0
    {
        assert!(classes.len() as f64 / released_units as f64 <= r + 1e-12);
    }
    assert_eq!(released_units as u64 + s.suppressed_units, s.units);
    assert!(s.suppressed_units <= model.allowed(s.units));
    assert_eq!(classes.len() as u64, s.classes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The bounded search finds the same optimum as evaluating every node, for every metric
    /// and model, over persons with several rows or one row each; and its release satisfies
    /// the model when checked from the rows.
    #[test]
    fn optimal_matches_brute_force((rows, units) in table_strategy(), model in model_strategy(), metric in 0usize..5) {
        let metric = Metric::ALL[metric];
        let qis = qis();
        let (h, unit_entry) = histogram(&rows, units.as_deref());
        let options = SearchOptions { metric, ..SearchOptions::default() };
        let found = search(&h, &qis, &model, &options).unwrap();
        let expected = brute_force(&h, &qis, &model, metric).unwrap();
        match expected {
            Some((score, levels)) => {
                prop_assert!(found.target_met && found.optimal);
                prop_assert_eq!(&found.level_vector, &levels);
                prop_assert_eq!(found.utility[metric.name()], score);
                prop_assert!(found.nodes_checked <= found.lattice_size + 10);
                check_release(&rows, units.as_deref(), &qis, &model, &found, &unit_entry);
            }
            None => prop_assert!(!found.target_met && !found.optimal),
        }
    }

    /// The heuristic's release satisfies the model too, and never beats the optimum.
    #[test]
    fn heuristic_is_sound((rows, units) in table_strategy(), model in model_strategy()) {
        let qis = qis();
        let (h, unit_entry) = histogram(&rows, units.as_deref());
        let heuristic = SearchOptions { max_optimal_lattice: 0, ..SearchOptions::default() };
        let found = search(&h, &qis, &model, &heuristic).unwrap();
        prop_assert!(!found.optimal);
        if found.target_met {
            check_release(&rows, units.as_deref(), &qis, &model, &found, &unit_entry);
            let best = brute_force(&h, &qis, &model, Metric::Loss).unwrap().unwrap();
            prop_assert!(found.utility["loss"] >= best.0);
        }
    }
}

#[test]
fn level_bounds_are_respected() {
    let mut qis = qis();
    qis[0] = qis[0].clone().with_bounds(1, Some(2));
    let rows: Vec<(u32, u32, u32, u32)> = (0..60).map(|i| (i % 20, i % 6, i % 3, i % 4)).collect();
    let (h, _) = histogram(&rows, None);
    let model = PrivacyModel::k_anonymity(3, 0.0).unwrap();
    let s = search(&h, &qis, &model, &SearchOptions::default()).unwrap();
    assert!((1..=2).contains(&s.levels["a"]));
    assert_eq!(s.lattice_size, 2 * 3 * 2);
}

#[test]
fn a_non_hierarchy_is_rejected_with_its_column() {
    // Level 1 puts 0 and 1 together, level 2 splits them again.
    let bad = QuasiIdentifier::new("age", vec![vec![0, 1, 2], vec![0, 0, 1], vec![0, 1, 1]], vec![String::new(); 3]);
    let rows = vec![vec![0u32, 1, 2]];
    let h = CodedRows { columns: &rows, units: None, weights: None, sensitive: None }.histogram().unwrap();
    let err = search(&h, &[bad], &PrivacyModel::k_anonymity(2, 0.0).unwrap(), &SearchOptions::default()).unwrap_err();
    assert!(err.to_string().contains("`age`"), "{err}");
}

#[test]
fn l_diversity_without_a_sensitive_attribute_is_an_error() {
    let rows = vec![vec![0u32, 1, 2]];
    let h = CodedRows { columns: &rows, units: None, weights: None, sensitive: None }.histogram().unwrap();
    let model =
        PrivacyModel { diversity: Some(Diversity::Distinct { l: 2 }), ..PrivacyModel::k_anonymity(2, 0.0).unwrap() };
    assert!(search(&h, &[qi("a", 3, &[1])], &model, &SearchOptions::default()).is_err());
}

/// Domains too large for a `u64` key take the wide path and find the same classes.
#[test]
fn huge_domains_group_like_small_ones() {
    let small = |n: u32| qi("x", n, &[1, 5]);
    let huge = |name: &str| {
        let mut q = qi(name, 1 << 16, &[1, 5]);
        q.name = name.into();
        q
    };
    let rows: Vec<Vec<u32>> = (0..4).map(|a| (0..300u32).map(|i| (i * (a + 3) + i / 7) % 10).collect()).collect();
    let h = CodedRows { columns: &rows, units: None, weights: None, sensitive: None }.histogram().unwrap();
    let model = PrivacyModel::k_anonymity(3, 0.05).unwrap();
    let narrow: Vec<QuasiIdentifier> =
        ["a", "b", "c", "d"].iter().map(|n| QuasiIdentifier { name: (*n).into(), ..small(10) }).collect();
    let wide: Vec<QuasiIdentifier> = ["a", "b", "c", "d"].iter().map(|n| huge(n)).collect();
    let s1 = search(&h, &narrow, &model, &SearchOptions { metric: Metric::Discernibility, ..SearchOptions::default() })
        .unwrap();
    let s2 = search(&h, &wide, &model, &SearchOptions { metric: Metric::Discernibility, ..SearchOptions::default() })
        .unwrap();
    assert_eq!((s1.levels, s1.classes, s1.suppressed_units), (s2.levels, s2.classes, s2.suppressed_units));
    assert!(s1.target_met);
}
