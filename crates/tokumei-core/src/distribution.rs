//! Distances between distributions of a sensitive attribute, as t-closeness defines them (Li,
//! Li & Venkatasubramanian 2007): the earth mover's distance between a class's distribution P and
//! the whole table's Q, with equal ground distance (½·Σ|pᵢ − qᵢ|, categories) or ordered ground
//! distance (1/(m−1)·Σᵢ|Σ_{j≤i}(pⱼ − qⱼ)| over the m values in order, numbers). Shared by the
//! privacy models and the risk measures.

/// exp(entropy) of a distribution of counts (the "effective number" of values, entropy ℓ):
/// exp(−Σ p·ln p); 1 for a single value, k for k equally frequent values.
pub fn entropy_l(counts: &[(u32, u64)]) -> f64 {
    let total: u64 = counts.iter().map(|d| d.1).sum();
    if total == 0 {
        return 0.0;
    }
    let h: f64 = counts
        .iter()
        .filter(|d| d.1 > 0)
        .map(|&(_, n)| {
            let p = n as f64 / total as f64;
            -p * p.ln()
        })
        .sum();
    h.exp()
}

/// A table's distribution Q of sensitive codes (0..m, in value order), prepared for distances.
#[derive(Debug, Clone)]
pub struct Reference {
    /// qᵢ.
    q: Vec<f64>,
    /// Cumulative Q(i) = Σ_{j≤i} qⱼ.
    cumulative: Vec<f64>,
    /// prefix[i] = Σ_{j<i} Q(j).
    prefix: Vec<f64>,
}

impl Reference {
    /// From the count of every code (index = code).
    pub fn new(totals: &[u64]) -> Reference {
        let sum: u64 = totals.iter().sum();
        let q: Vec<f64> = totals.iter().map(|&n| if sum == 0 { 0.0 } else { n as f64 / sum as f64 }).collect();
        let mut cumulative = Vec::with_capacity(q.len());
        let mut running = 0.0;
        for &x in &q {
            running += x;
            cumulative.push(running);
        }
        let mut prefix = vec![0.0; q.len() + 1];
        for i in 0..q.len() {
            prefix[i + 1] = prefix[i] + cumulative[i];
        }
        Reference { q, cumulative, prefix }
    }

    /// Equal-distance EMD of a class distribution (sparse, sorted by code).
    pub fn equal_distance(&self, dist: &[(u32, u64)]) -> f64 {
        let total: u64 = dist.iter().map(|d| d.1).sum();
        if total == 0 {
            return 0.0;
        }
        let mut inside = 0.0;
        let mut q_inside = 0.0;
        for &(code, n) in dist {
            let q = self.q[code as usize];
            inside += (n as f64 / total as f64 - q).abs();
            q_inside += q;
        }
        0.5 * (inside + (1.0 - q_inside).max(0.0))
    }

    /// Σ_{i∈[a,b)} |c − Q(i)|, with Q non-decreasing.
    fn segment(&self, a: usize, b: usize, c: f64) -> f64 {
        if a >= b {
            return 0.0;
        }
        let j = a + self.cumulative[a..b].partition_point(|&x| x < c);
        let below = c * (j - a) as f64 - (self.prefix[j] - self.prefix[a]);
        let above = (self.prefix[b] - self.prefix[j]) - c * (b - j) as f64;
        below + above
    }

    /// Ordered-distance EMD of a class distribution (sparse, sorted by code).
    pub fn ordered_distance(&self, dist: &[(u32, u64)]) -> f64 {
        let m = self.q.len();
        let total: u64 = dist.iter().map(|d| d.1).sum();
        if m <= 1 || total == 0 {
            return 0.0;
        }
        let mut sum = 0.0;
        let mut at = 0usize;
        let mut cp = 0.0;
        for &(code, n) in dist {
            sum += self.segment(at, code as usize, cp);
            cp += n as f64 / total as f64;
            at = code as usize;
        }
        sum += self.segment(at, m, cp.min(1.0));
        sum.max(0.0) / (m - 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_distance_of_the_reference_is_zero_and_of_a_point_is_one_minus_q() {
        let r = Reference::new(&[2, 2, 4]);
        assert!(r.equal_distance(&[(0, 1), (1, 1), (2, 2)]).abs() < 1e-12);
        assert!((r.equal_distance(&[(2, 5)]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ordered_distance_matches_the_textbook_example() {
        // Li et al.: salaries 3k..11k, Q uniform over 9 values, P = {3k, 4k, 5k}: D = 0.375.
        let r = Reference::new(&[1; 9]);
        let d = r.ordered_distance(&[(0, 1), (1, 1), (2, 1)]);
        assert!((d - 0.375).abs() < 1e-12, "{d}");
        // P = {6k, 8k, 11k}: D = 0.167.
        let d = r.ordered_distance(&[(3, 1), (5, 1), (8, 1)]);
        assert!((d - 1.0 / 6.0).abs() < 1e-12, "{d}");
    }

    proptest::proptest! {
        /// The sparse ordered distance equals the dense definition.
        #[test]
        fn ordered_distance_equals_dense(totals in proptest::collection::vec(1u64..20, 1..12), class in proptest::collection::vec(0u64..5, 1..12)) {
            let m = totals.len();
            let class: Vec<(u32, u64)> = class.iter().take(m).enumerate().filter(|(_, n)| **n > 0).map(|(i, &n)| (i as u32, n)).collect();
            proptest::prop_assume!(!class.is_empty());
            let r = Reference::new(&totals);
            let qsum: u64 = totals.iter().sum();
            let psum: u64 = class.iter().map(|c| c.1).sum();
            let mut dense = 0.0;
            let mut running = 0.0;
            for (i, &total) in totals.iter().enumerate() {
                let p = class.iter().find(|c| c.0 as usize == i).map_or(0.0, |c| c.1 as f64 / psum as f64);
                running += p - total as f64 / qsum as f64;
                dense += f64::abs(running);
            }
            let expected = if m > 1 { dense / (m - 1) as f64 } else { 0.0 };
            proptest::prop_assert!((r.ordered_distance(&class) - expected).abs() < 1e-9);
        }
    }
}
