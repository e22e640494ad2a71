//! Population uniqueness: how many individuals of the population are unique on the
//! quasi-identifiers, estimated from the sample's class sizes and the population size — the
//! estimators ARX offers (`org.deidentifier.arx.risk`), ported from its definitions:
//!
//! - **Zayatz** (1991): the share of sample uniques that are population uniques, from
//!   hypergeometric draws of each sample class size, times sample uniques ÷ sampling fraction;
//! - **Pitman** (Hoshino 2001): the Pitman sampling formula's parameters (θ, α) by maximum
//!   likelihood (Newton–Raphson on the score equations), then Γ(θ+1)/Γ(θ+α)·N^α;
//! - **SNB** (Chen & Keller-McNulty 1998): a slide negative binomial fitted to the numbers of
//!   classes of size 1 and 2 (with Shlosser's estimate of the non-empty classes), then K·β^α;
//! - **Dankar et al.** (2012)'s rule: Pitman when the sampling fraction is at most 0.1 (Zayatz if
//!   Pitman fails), else the smaller of Zayatz and SNB (Zayatz if SNB fails).
//!
//! Results are numbers of population uniques; reports divide them by the population size (ARX's
//! convention). An estimate that does not converge, or falls outside [0, N], is `None`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Estimates of population uniqueness, as fractions of the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationUniqueness {
    /// Population size N.
    pub population: f64,
    /// Sampling fraction n / N.
    pub sampling_fraction: f64,
    /// Zayatz's estimate.
    pub zayatz: Option<f64>,
    /// Pitman's estimate.
    pub pitman: Option<f64>,
    /// The SNB estimate.
    pub snb: Option<f64>,
    /// Dankar et al.'s decision rule.
    pub dankar: Option<f64>,
    /// The model the rule chose.
    pub dankar_model: Option<&'static str>,
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(a: f64, b: f64) -> f64 {
    ln_gamma(a + 1.0) - ln_gamma(b + 1.0) - ln_gamma(a - b + 1.0)
}

/// P(X = 1) for X hypergeometric: `draws` from `population` holding `successes`.
fn hypergeometric_one(population: f64, successes: f64, draws: f64) -> f64 {
    if successes < 1.0 || draws < 1.0 || population - successes < draws - 1.0 {
        return 0.0;
    }
    (successes.ln() + ln_choose(population - successes, draws - 1.0) - ln_choose(population, draws)).exp()
}

fn valid(uniques: f64, population: f64) -> Option<f64> {
    (uniques.is_finite() && uniques > 0.0 && uniques <= population).then_some(uniques)
}

/// Solves F(x) = 0 in two dimensions by Newton–Raphson from `x`, damped: a step is halved
/// until it stays inside `domain` and lowers the residual, so the iteration cannot jump to a
/// root outside the parameters' range.
fn newton(
    mut x: [f64; 2],
    domain: impl Fn([f64; 2]) -> bool,
    f: impl Fn([f64; 2]) -> ([f64; 2], [[f64; 2]; 2]),
) -> Option<[f64; 2]> {
    if !domain(x) {
        return None;
    }
    let norm = |v: [f64; 2]| v[0].abs().max(v[1].abs());
    let (mut value, mut j) = f(x);
    for _ in 0..500 {
        if !(value[0].is_finite() && value[1].is_finite()) {
            return None;
        }
        if norm(value) < 1e-9 {
            return Some(x);
        }
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let dx = (value[0] * j[1][1] - value[1] * j[0][1]) / det;
        let dy = (value[1] * j[0][0] - value[0] * j[1][0]) / det;
        let mut step = 1.0;
        loop {
            let next = [x[0] - step * dx, x[1] - step * dy];
            if domain(next) {
                let (v, jn) = f(next);
                if v[0].is_finite() && v[1].is_finite() && norm(v) < norm(value) {
                    x = next;
                    value = v;
                    j = jn;
                    break;
                }
            }
            step /= 2.0;
            if step < 1e-12 {
                return None;
            }
        }
    }
    None
}

/// The estimates from the class-size histogram (size → number of classes) of a sample drawn
/// from a population of `population` individuals.
pub fn population_uniqueness(sizes: &BTreeMap<u64, u64>, population: f64) -> PopulationUniqueness {
    let n: f64 = sizes.iter().map(|(s, c)| (*s * *c) as f64).sum();
    let u: f64 = sizes.values().map(|&c| c as f64).sum();
    let c1 = sizes.get(&1).copied().unwrap_or(0) as f64;
    let c2 = sizes.get(&2).copied().unwrap_or(0) as f64;
    let pi = if population > 0.0 { n / population } else { f64::NAN };
    let mut out = PopulationUniqueness {
        population,
        sampling_fraction: pi,
        zayatz: None,
        pitman: None,
        snb: None,
        dankar: None,
        dankar_model: None,
    };
    if !(population >= n && n > 0.0) {
        return out;
    }
    if c1 == 0.0 {
        out.zayatz = Some(0.0);
        out.pitman = Some(0.0);
        out.snb = Some(0.0);
        out.dankar = Some(0.0);
        out.dankar_model = Some("none: no sample uniques");
        return out;
    }
    let zayatz = {
        let total: f64 = sizes.iter().map(|(&s, &c)| c as f64 / u * hypergeometric_one(population, s as f64, n)).sum();
        let conditional = (c1 / u) * hypergeometric_one(population, 1.0, n) / total;
        valid(c1 * conditional / pi, population)
    };
    let pitman = pitman(sizes, n, u, c1, c2, population);
    let snb = snb(sizes, u, c1, c2, pi);
    let snb = snb.and_then(|s| valid(s, population));
    let (dankar, model) = if pi <= 0.1 {
        match pitman {
            Some(p) => (Some(p), "pitman"),
            None => (zayatz, "zayatz"),
        }
    } else {
        match (snb, zayatz) {
            (Some(s), Some(z)) if z < s => (Some(z), "zayatz"),
            (Some(s), _) => (Some(s), "snb"),
            (None, z) => (z, "zayatz"),
        }
    };
    let fraction = |x: Option<f64>| x.map(|v| v / population);
    out.zayatz = fraction(zayatz);
    out.pitman = fraction(pitman);
    out.snb = fraction(snb);
    out.dankar = fraction(dankar);
    out.dankar_model = dankar.map(|_| model);
    out
}

fn pitman(sizes: &BTreeMap<u64, u64>, n: f64, u: f64, c1: f64, c2: f64, population: f64) -> Option<f64> {
    // ARX's initial guess (moment estimates).
    let c2 = if c2 == 0.0 { 1.0 } else { c2 };
    let c = c1 * (c1 - 1.0) / c2;
    let t0 = (n * u * c - c1 * (n - 1.0) * (2.0 * u + c)) / (2.0 * c1 * u + c1 * c - n * c);
    let a0 = (t0 * (c1 - n) + (n - 1.0) * c1) / (n * u);
    let classes: Vec<(f64, f64)> =
        sizes.iter().filter(|(s, _)| **s >= 2).map(|(&s, &c)| (s as f64, c as f64)).collect();
    let score = |[t, a]: [f64; 2]| {
        let (mut o1, mut o3, mut d1, mut d5, mut d3) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut i = 1.0;
        while i < u {
            let v = t + i * a;
            o1 += 1.0 / v;
            o3 += i / v;
            d1 += 1.0 / (v * v);
            d5 += i / (v * v);
            d3 += i * i / (v * v);
            i += 1.0;
        }
        let (mut o2, mut d2) = (0.0, 0.0);
        let mut i = 1.0;
        while i < n {
            let v = t + i;
            o2 += 1.0 / v;
            d2 += 1.0 / (v * v);
            i += 1.0;
        }
        let (mut o4, mut d4) = (0.0, 0.0);
        for &(size, count) in &classes {
            let mut j = 1.0;
            while j < size {
                let v = j - a;
                o4 += count / v;
                d4 += count / (v * v);
                j += 1.0;
            }
        }
        ([o1 - o2, o3 - o4], [[d2 - d1, -d5], [-d5, -d3 - d4]])
    };
    let domain = |[t, a]: [f64; 2]| a > 0.0 && a < 1.0 && t > -a;
    let start = if domain([t0, a0]) { [t0, a0] } else { [1.0, 0.5] };
    let [t, a] = newton(start, domain, score)?;
    valid((ln_gamma(t + 1.0) - ln_gamma(t + a) + a * population.ln()).exp(), population)
}

fn snb(sizes: &BTreeMap<u64, u64>, u: f64, c1: f64, c2: f64, f: f64) -> Option<f64> {
    // Shlosser's estimate of the non-empty classes in the population (Haas & Stokes 1998).
    let (mut v1, mut v2, mut v3, mut v4) = (0.0, 0.0, 0.0, 0.0);
    let f2 = f * f;
    for (&size, &count) in sizes {
        let (i, c) = (size as f64, count as f64);
        let q = (1.0 - f).powf(i) * c;
        v1 += i * f2 * (1.0 - f2).powf(i - 1.0) * c;
        v2 += q * (1.0 + f).powf(i) - 1.0;
        v3 += q;
        v4 += i * f * (1.0 - f).powf(i - 1.0) * c;
    }
    let k = u + c1 * (v1 / v2) * (v3 / v4) * (v3 / v4);
    let equations = |[a, b]: [f64; 2]| -> [f64; 2] {
        let d = (1.0 - f) * (1.0 - b);
        [
            k * f * (b / (1.0 - d)).powf(a) * (a * d / (1.0 - d) + 1.0) - c1,
            k * a * b.powf(a) * f2 * (1.0 - b) / 2.0 * (1.0 - d).powf(a + 2.0) * (2.0 - (1.0 - a) * d) - c2,
        ]
    };
    // A numeric Jacobian, and a few start values (α > 0, 0 < β < 1), as ARX's solver tries several.
    let system = |x: [f64; 2]| {
        let value = equations(x);
        let h = [1e-7 * x[0].abs().max(1e-7), 1e-7 * x[1].abs().max(1e-7)];
        let fa = equations([x[0] + h[0], x[1]]);
        let fb = equations([x[0], x[1] + h[1]]);
        let j = [
            [(fa[0] - value[0]) / h[0], (fb[0] - value[0]) / h[1]],
            [(fa[1] - value[1]) / h[0], (fb[1] - value[1]) / h[1]],
        ];
        // Scale to the counts so the tolerance is relative.
        let scale = c1.max(1.0);
        ([value[0] / scale, value[1] / scale], [[j[0][0] / scale, j[0][1] / scale], [j[1][0] / scale, j[1][1] / scale]])
    };
    for a in [0.5, 1.0, 0.1, 2.0, 5.0] {
        for b in [0.5, 0.1, 0.9, 0.01, 0.99] {
            if let Some([a, b]) = newton([a, b], |[a, b]| a > 0.0 && b > 0.0 && b < 1.0, system) {
                return Some(k * b.powf(a));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        for n in 1..30u32 {
            let factorial: f64 = (1..n).map(f64::from).product();
            assert!((ln_gamma(f64::from(n)) - factorial.ln()).abs() < 1e-10, "{n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn zayatz_by_hand() {
        // n = 4 (classes 1, 1, 2), N = 8. P(X=1) hypergeometric(N=8, K=k, n=4):
        // K=1: C(1,1)C(7,3)/C(8,4) = 35/70 = 0.5; K=2: 2·C(6,3)/70 = 40/70.
        // conditional = (2/3 · 0.5) / (2/3 · 0.5 + 1/3 · 40/70); uniques = 2 · conditional / 0.5.
        let sizes = BTreeMap::from([(1, 2), (2, 1)]);
        let p = population_uniqueness(&sizes, 8.0);
        let conditional = (2.0 / 3.0 * 0.5) / (2.0 / 3.0 * 0.5 + 1.0 / 3.0 * 40.0 / 70.0);
        let expected = 2.0 * conditional / 0.5 / 8.0;
        assert!((p.zayatz.unwrap() - expected).abs() < 1e-12, "{:?}", p.zayatz);
    }

    #[test]
    fn no_sample_uniques_means_none_in_the_population() {
        let p = population_uniqueness(&BTreeMap::from([(2, 10), (5, 3)]), 1_000.0);
        assert_eq!((p.zayatz, p.pitman, p.snb, p.dankar), (Some(0.0), Some(0.0), Some(0.0), Some(0.0)));
    }

    #[test]
    fn pitman_solves_its_score_equations_and_dankar_picks_it_for_small_samples() {
        // A skewed sample: many uniques, some pairs, a few large classes.
        let sizes = BTreeMap::from([(1, 600), (2, 150), (3, 60), (5, 20), (10, 8), (40, 2)]);
        let p = population_uniqueness(&sizes, 1_000_000.0);
        assert!(p.sampling_fraction < 0.1);
        let pitman = p.pitman.expect("Pitman converges on this sample");
        assert!(pitman > 0.0 && pitman < 1.0);
        assert_eq!(p.dankar, p.pitman);
        assert_eq!(p.dankar_model, Some("pitman"));
        // Every estimate is a fraction of the population.
        assert!(p.zayatz.unwrap() > 0.0 && p.zayatz.unwrap() <= 1.0);
    }

    #[test]
    fn dankar_uses_zayatz_or_snb_for_large_fractions() {
        let sizes = BTreeMap::from([(1, 300), (2, 120), (3, 40), (4, 20), (8, 5)]);
        let n: u64 = sizes.iter().map(|(s, c)| s * c).sum();
        let p = population_uniqueness(&sizes, n as f64 * 2.0);
        assert!(p.sampling_fraction > 0.1);
        assert!(matches!(p.dankar_model, Some("zayatz") | Some("snb")));
        let chosen = p.dankar.unwrap();
        if let (Some(s), Some(z)) = (p.snb, p.zayatz) {
            assert_eq!(chosen, s.min(z));
        }
    }
}
