//! Criterion benchmarks of the national-format parsers on the bundled sample's files:
//! - UKE: the sample's 調剤 receipt files repeated to ~48 MB, parsed into `dispensing` rows
//!   (throughput in bytes; the target is ≥ 50 MB/s per core);
//! - CDA: the sample's 1,200 特定健診 documents parsed into `checkups` rows, and the three exchange
//!   ZIPs read through ingest (decompression and cell typing included; target ≥ 5,000 files/s);
//! - SS-MIX2: a generated storage's messages parsed into `diagnoses` rows.
//!
//! `cargo bench --bench formats`; `benches/e2e.sh` prints the figures.

use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokumei::config::Plan;
use tokumei::ingest::national::{cda, ssmix2, uke};
use tokumei::ingest::read_source;

fn sample(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample").join(relative)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { pending.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

fn table(tables: &'static [tokumei::ingest::national::Table], name: &str) -> &'static tokumei::ingest::national::Table {
    tables.iter().find(|t| t.name == name).unwrap()
}

fn uke_parse(c: &mut Criterion) {
    let mut one = Vec::new();
    for f in files(&sample("uke/dispensing")) {
        one.extend(std::fs::read(f).unwrap());
    }
    let bytes = one.repeat((48 << 20) / one.len());
    let dispensing = table(uke::TABLES, "dispensing");
    let mut group = c.benchmark_group("formats");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("uke_dispensing_parse", |b| {
        b.iter(|| {
            let mut rows = 0u64;
            uke::parse(&bytes[..], "bench.UKE", dispensing, |_| {
                rows += 1;
                Ok::<_, ()>(())
            })
            .unwrap();
            rows
        })
    });
    group.finish();
}

fn cda_parse(c: &mut Criterion) {
    let mut documents = Vec::new();
    for f in files(&sample("cda")) {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(f).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            if entry.name().starts_with("DATA/") {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                documents.push(bytes);
            }
        }
    }
    let checkups = table(cda::TABLES, "checkups");
    let mut group = c.benchmark_group("formats");
    group.sample_size(10);
    group.throughput(Throughput::Elements(documents.len() as u64));
    group.bench_function("cda_documents_parse", |b| {
        b.iter(|| {
            for (i, doc) in documents.iter().enumerate() {
                cda::parse_document(doc, "bench.xml", i as u64, checkups, |_| Ok::<_, ()>(())).unwrap();
            }
        })
    });
    // Through ingest: ZIP entries decompressed, documents parsed, cells typed into batches.
    let plan = Plan::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/national.toml")).unwrap();
    let source = plan.tables.iter().find(|t| t.source.table == "checkups").unwrap().source.clone();
    group.bench_function("cda_packages_ingest", |b| b.iter(|| read_source(&source, |_| Ok(())).unwrap().rows_accepted));
    group.finish();
}

fn ssmix2_parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let spec = tokumei::synth::SynthSpec { persons: 2_000, national: true, ..Default::default() };
    tokumei::synth::write_population(&spec, dir.path()).unwrap();
    let messages: Vec<Vec<u8>> = files(&dir.path().join("ssmix2")).iter().map(|f| std::fs::read(f).unwrap()).collect();
    let diagnoses = table(ssmix2::TABLES, "diagnoses");
    let mut group = c.benchmark_group("formats");
    group.sample_size(10);
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("ssmix2_messages_parse", |b| {
        b.iter(|| {
            for (i, m) in messages.iter().enumerate() {
                ssmix2::parse_message(m, i as u64, diagnoses, None, |_| Ok::<_, ()>(())).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, uke_parse, cda_parse, ssmix2_parse);
criterion_main!(benches);
