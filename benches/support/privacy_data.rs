//! Integer-coded quasi-identifiers for the privacy benchmarks: a checkup-like population with
//! skewed distributions (Zipf), one exam per person and a second one for every tenth person, and
//! hierarchies built by grouping codes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokumei::privacy::QuasiIdentifier;

/// Coded rows: columns, the person of each row, and the quasi-identifiers.
pub struct Table {
    pub columns: Vec<Vec<u32>>,
    pub units: Vec<u32>,
    pub qis: Vec<QuasiIdentifier>,
}

/// Level l groups codes by `widths[l]`; a last level makes one group.
fn ladder(name: &str, values: u32, widths: &[u32]) -> QuasiIdentifier {
    let mut lookup: Vec<Vec<u32>> = widths.iter().map(|&w| (0..values).map(|v| v / w).collect()).collect();
    lookup.push(vec![0; values as usize]);
    let names = (0..lookup.len()).map(|l| format!("level {l}")).collect();
    QuasiIdentifier::new(name, lookup, names)
}

struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: u32, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for i in 0..n {
            total += 1.0 / f64::from(i + 1).powf(s);
            cdf.push(total);
        }
        Zipf(cdf.into_iter().map(|c| c / total).collect())
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        let u: f64 = rng.random();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1) as u32
    }
}

/// `persons` persons (about 1.1 rows each), deterministic for `seed`.
pub fn table(persons: u32, seed: u64) -> Table {
    let qis = vec![
        ladder("age", 100, &[1, 5, 10, 20]),
        ladder("sex", 2, &[1]),
        ladder("prefecture", 47, &[1, 6]),
        ladder("postal3", 940, &[1, 10]),
        ladder("exam_month", 24, &[1, 3, 12]),
        ladder("diagnosis", 200, &[1, 10]),
        ladder("drug_class", 60, &[1, 6]),
        ladder("facility_type", 8, &[1]),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Skewed and correlated like real checkups: diagnoses depend on age, drug classes mostly on
    // the diagnosis, facility types mostly on the prefecture; about 400 k distinct tuples per
    // million persons.
    let prefecture = Zipf::new(47, 1.1);
    let postal = Zipf::new(20, 2.3);
    let month = Zipf::new(24, 1.9);
    let diagnosis = Zipf::new(200, 2.3);
    let drug = Zipf::new(60, 1.2);
    let facility = Zipf::new(8, 1.0);
    let mut columns: Vec<Vec<u32>> = vec![Vec::with_capacity(persons as usize * 11 / 10); qis.len()];
    let mut units = Vec::with_capacity(persons as usize * 11 / 10);
    for person in 0..persons {
        let age = rng.random_range(0..100u32);
        let sex = rng.random_range(0..2u32);
        let pref = prefecture.sample(&mut rng);
        let post = pref * 20 + postal.sample(&mut rng);
        let exams = if person % 10 == 0 { 2 } else { 1 };
        for _ in 0..exams {
            let diag = (diagnosis.sample(&mut rng) + (age / 10) * 3) % 200;
            let drug_class = if rng.random::<f64>() < 0.95 { diag % 60 } else { drug.sample(&mut rng) };
            let facility_type = if rng.random::<f64>() < 0.95 { pref % 8 } else { facility.sample(&mut rng) };
            let row = [age, sex, pref, post, month.sample(&mut rng), diag, drug_class, facility_type];
            for (column, value) in columns.iter_mut().zip(row) {
                column.push(value);
            }
            units.push(person);
        }
    }
    Table { columns, units, qis }
}
