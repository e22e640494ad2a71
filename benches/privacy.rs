//! Criterion benchmarks of the privacy engine on integer-coded quasi-identifiers: the histogram
//! (one pass over the rows) and the optimal search (k = 5, 5 % suppression, ARX's Loss) over a
//! million persons × 8 quasi-identifiers with about 400 k distinct tuples.
//!
//! `cargo bench --bench privacy`; `benches/e2e.sh` prints the same at 1 M and 10 M persons with
//! peak memory (`examples/privacy_scale.rs`). The `risk` group measures `tokumei risk`.

#[path = "support/privacy_data.rs"]
mod privacy_data;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokumei::privacy::{CodedRows, HistogramSource, PrivacyModel, SearchOptions, search};
use tokumei::risk::RiskOptions;
use tokumei::{RiskInput, assess_risk, measure_coded};

fn histogram(c: &mut Criterion) {
    let table = privacy_data::table(1_000_000, 7);
    let mut group = c.benchmark_group("histogram");
    group.throughput(Throughput::Elements(table.units.len() as u64));
    group.sample_size(20);
    group.bench_function("rows", |b| {
        let rows = CodedRows { columns: &table.columns, units: None, weights: None, sensitive: None };
        b.iter(|| rows.histogram().unwrap())
    });
    group.bench_function("persons", |b| {
        let rows = CodedRows { columns: &table.columns, units: Some(&table.units), weights: None, sensitive: None };
        b.iter(|| rows.histogram().unwrap())
    });
    group.finish();
}

fn optimal_search(c: &mut Criterion) {
    let table = privacy_data::table(1_000_000, 7);
    let rows = CodedRows { columns: &table.columns, units: Some(&table.units), weights: None, sensitive: None };
    let histogram = rows.histogram().unwrap();
    let model = PrivacyModel::k_anonymity(5, 0.05).unwrap();
    let mut group = c.benchmark_group("search");
    group.sample_size(10);
    group.throughput(Throughput::Elements(histogram.unit_count()));
    group.bench_function("optimal_1m_persons", |b| {
        b.iter(|| {
            let s = search(&histogram, &table.qis, &model, &SearchOptions::default()).unwrap();
            assert!(s.optimal);
            s
        })
    });
    group.finish();
}

/// `tokumei risk`'s measures: every class-based measure and the eight per-attribute contributions
/// on 10 M rows × 8 quasi-identifiers (coded), and everything `tokumei risk` computes on Adult,
/// CSV reading included.
fn risk(c: &mut Criterion) {
    let table = privacy_data::table(9_100_000, 11);
    let names: Vec<String> = table.qis.iter().map(|q| q.name.clone()).collect();
    let mut group = c.benchmark_group("risk");
    group.sample_size(10);
    group.throughput(Throughput::Elements(table.units.len() as u64));
    group.bench_function("class_measures_10m_rows", |b| {
        b.iter(|| measure_coded(&table.columns, &names, None, None, &RiskOptions::default()).unwrap())
    });
    drop(table);
    let adult = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/adult/adult.csv");
    if adult.exists() {
        let input = RiskInput {
            input: adult,
            delimiter: b';',
            encoding: tokumei::ingest::TextEncoding::Utf8,
            quasi_identifiers: [
                "sex",
                "age",
                "race",
                "marital-status",
                "education",
                "native-country",
                "workclass",
                "occupation",
            ]
            .map(String::from)
            .to_vec(),
            sensitive: Some("salary-class".into()),
            person: None,
            options: RiskOptions::default(),
            population: Some(124_000_000.0),
            population_table: None,
            suda: tokumei::SudaWhen::Always,
            suda_options: tokumei::risk::SudaOptions::default(),
        };
        group.throughput(Throughput::Elements(30_162));
        // Every measure, t-closeness and SUDA2 (8 quasi-identifiers, all MSU sizes) included.
        group.bench_function("adult_all_measures", |b| b.iter(|| assess_risk(&input).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, histogram, optimal_search, risk);
criterion_main!(benches);
