//! The privacy engine at scale, for `benches/e2e.sh`: builds the histogram of a generated
//! population (persons × 8 quasi-identifiers) and runs the optimal search (k = 5, 5 %
//! suppression, ARX's Loss), printing rows, distinct tuples, entries, seconds per phase and the
//! peak memory of the search.
//!
//! `cargo run --release --example privacy_scale -- 1000000 10000000`

#[path = "../benches/support/privacy_data.rs"]
mod privacy_data;

use std::time::Instant;

use tokumei::privacy::{CodedRows, HistogramSource, PrivacyModel, SearchOptions, search};

/// Peak resident memory of this process so far (Linux), in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak (Linux ≥ 4.0): writing 5 to clear_refs.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let sizes: Vec<u32> = std::env::args().skip(1).map(|a| a.parse().expect("persons")).collect();
    let sizes = if sizes.is_empty() { vec![1_000_000] } else { sizes };
    println!(
        "{:>10} {:>10} {:>10} {:>9} {:>11} {:>9} {:>9} {:>7} {:>10} {:>11}",
        "persons", "rows", "tuples", "entries", "histogram", "rows/s", "search", "nodes", "optimal", "search peak"
    );
    for persons in sizes {
        let table = privacy_data::table(persons, 7);
        let rows = table.units.len();
        let flat = CodedRows { columns: &table.columns, units: None, weights: None, sensitive: None };
        let started = Instant::now();
        let distinct_tuples = flat.histogram().expect("histogram").len();
        let flat_build = started.elapsed().as_secs_f64();
        let coded = CodedRows { columns: &table.columns, units: Some(&table.units), weights: None, sensitive: None };
        let started = Instant::now();
        let (histogram, _) = coded.build().expect("histogram");
        let build = started.elapsed().as_secs_f64();
        let before = peak_mb();
        reset_peak();
        let model = PrivacyModel::k_anonymity(5, 0.05).expect("model");
        let started = Instant::now();
        let solution = search(&histogram, &table.qis, &model, &SearchOptions::default()).expect("search");
        let took = started.elapsed().as_secs_f64();
        let search_peak = peak_mb();
        println!(
            "{:>10} {:>10} {:>10} {:>9} {:>9.2} s {:>9.0} {:>7.2} s {:>7} {:>10} {:>8.0} MB",
            persons,
            rows,
            distinct_tuples,
            histogram.len(),
            build,
            rows as f64 / build,
            took,
            solution.nodes_checked,
            solution.optimal,
            search_peak,
        );
        eprintln!(
            "  (histogram of rows without persons: {:.2} s = {:.0} rows/s; peak before the search: {before:.0} MB; levels {:?})",
            flat_build,
            rows as f64 / flat_build,
            solution.levels
        );
    }
}
