//! Criterion benchmarks of the run and of its hot per-row pieces, on generated populations.
//!
//! `cargo bench` (release profile). The end-to-end figures for 1 M and 10 M dispensing rows come
//! from `benches/e2e.sh`, which also reports peak memory.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokumei::config::Plan;
use tokumei::core::normalize::{kana_key, parse_date};
use tokumei::synth::{SynthSpec, write_population};
use tokumei::{RunOptions, run};

fn workspace(persons: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    for sub in ["", "schemas", "keys"] {
        std::fs::create_dir_all(dir.path().join("configs").join(sub)).unwrap();
        for entry in std::fs::read_dir(configs.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path().join("configs").join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    write_population(&SynthSpec { persons, seed: 1, ..SynthSpec::default() }, &dir.path().join("datasets/sample"))
        .unwrap();
    dir
}

fn end_to_end(c: &mut Criterion) {
    let ws = workspace(20_000);
    let mut group = c.benchmark_group("run");
    group.sample_size(10);
    for profile in ["pseudonymized", "anonymized"] {
        let plan = Plan::load(&ws.path().join(format!("configs/{profile}.toml"))).unwrap();
        let options = RunOptions { out: Some(ws.path().join("out").join(profile)), ..RunOptions::default() };
        let rows: u64 = run(&plan, &options).unwrap().report.accounting.iter().map(|a| a.rows_read).sum();
        group.throughput(Throughput::Elements(rows));
        group.bench_function(profile, |b| b.iter(|| run(&plan, &options).unwrap()));
    }
    group.finish();
}

fn normalizers(c: &mut Criterion) {
    let names: Vec<String> = (0..10_000).map(|i| format!("ﾔﾏﾀﾞ ﾀﾛｳ{}", i % 7)).collect();
    let dates: Vec<String> =
        (0..10_000).map(|i| format!("昭和{}年{}月{}日", 20 + i % 40, 1 + i % 12, 1 + i % 28)).collect();
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function("kana_key", |b| b.iter(|| names.iter().map(|n| kana_key(n).len()).sum::<usize>()));
    group.bench_function("parse_date", |b| b.iter(|| dates.iter().filter(|d| parse_date(d).is_ok()).count()));
    group.finish();
}

/// Linkage keys (normalization + keyed hashing of K1–K4) over a batch of dispensing rows, as ingest
/// hands them over; rayon spreads the rows over the cores.
fn linkage_keys(c: &mut Criterion) {
    use tokumei::ingest::read_source;
    use tokumei::link::{MasterKey, ReleaseKeys};
    let ws = workspace(20_000);
    let plan = Plan::load(&ws.path().join("configs/pseudonymized.toml")).unwrap();
    let table = plan.table("dispensing").unwrap();
    let mut batches = Vec::new();
    read_source(&table.source, |batch| {
        batches.push(batch);
        Ok(())
    })
    .unwrap();
    let rows: usize = batches.iter().map(|b| b.height()).sum();
    let master = MasterKey::from_bytes([7; 32]);
    let hasher = ReleaseKeys::derive(&master, "bench").link();
    let mut group = c.benchmark_group("link");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("row_keys", |b| {
        b.iter(|| batches.iter().map(|batch| hasher.row_keys(batch, &table.link).unwrap().len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, end_to_end, normalizers, linkage_keys);
criterion_main!(benches);
