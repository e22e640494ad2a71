//! Helpers: a generated population laid out like the repository (configs/ + datasets/sample/),
//! reading inputs and outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tokumei::config::Plan;
use tokumei::synth::{SynthSpec, write_population};
use tokumei::{RunOptions, RunOutcome};

pub const PROFILES: [&str; 3] = ["submission", "pseudonymized", "anonymized"];

/// A temporary copy of `configs/` with a generated population in `datasets/sample/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Workspace {
    /// Without namesakes, so that opt-out tests can demand that exactly the opted-out persons go
    /// (an opt-out naming a person only by kana name, birth date and sex removes every namesake).
    pub fn generate(persons: usize, seed: u64) -> Workspace {
        Workspace::generate_with(SynthSpec {
            persons,
            seed,
            opt_out_rate: 0.03,
            namesake_rate: 0.0,
            national: false,
            registry: false,
            ..SynthSpec::default()
        })
    }

    pub fn generate_with(spec: SynthSpec) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"), &dir.path().join("configs"));
        write_population(&spec, &dir.path().join("datasets/sample")).unwrap();
        Workspace { dir }
    }

    /// A copy of the repository's `configs/` and bundled `datasets/sample/`.
    pub fn bundled() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&root.join("configs"), &dir.path().join("configs"));
        copy_dir(&root.join("datasets/sample"), &dir.path().join("datasets/sample"));
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn plan(&self, profile: &str) -> Plan {
        Plan::load(&self.path(&format!("configs/{profile}.toml"))).unwrap()
    }

    pub fn run(&self, profile: &str, out: &str) -> RunOutcome {
        self.run_with(profile, out, RunOptions::default())
    }

    pub fn run_with(&self, profile: &str, out: &str, options: RunOptions) -> RunOutcome {
        let plan = self.plan(profile);
        tokumei::run(&plan, &RunOptions { out: Some(self.path(out)), ..options }).unwrap()
    }

    /// person → table → source lines, and the opted-out persons.
    pub fn truth(&self) -> Truth {
        let mut lines: BTreeMap<String, BTreeMap<String, BTreeSet<u64>>> = BTreeMap::new();
        for (_, row) in read_csv(&self.path("datasets/sample/truth.csv"), encoding_rs::UTF_8).1 {
            lines.entry(row[0].clone()).or_default().entry(row[1].clone()).or_default().insert(row[2].parse().unwrap());
        }
        let opted_out = read_csv(&self.path("datasets/sample/truth_optout.csv"), encoding_rs::UTF_8)
            .1
            .into_iter()
            .map(|(_, r)| r[0].clone())
            .collect();
        Truth { lines, opted_out }
    }

    /// An input table as text rows, with each row's source line.
    pub fn input(&self, table: &str) -> Table {
        let encoding = if table == "checkups" { encoding_rs::SHIFT_JIS } else { encoding_rs::UTF_8 };
        let (headers, rows) = read_csv(&self.path(&format!("datasets/sample/{table}.csv")), encoding);
        Table { headers, rows }
    }
}

pub struct Truth {
    pub lines: BTreeMap<String, BTreeMap<String, BTreeSet<u64>>>,
    pub opted_out: BTreeSet<String>,
}

impl Truth {
    /// Source lines of `table` that belong to opted-out persons.
    pub fn opted_out_lines(&self, table: &str) -> BTreeSet<u64> {
        self.opted_out
            .iter()
            .flat_map(|p| self.lines.get(p).and_then(|t| t.get(table)).into_iter().flatten().copied())
            .collect()
    }

    pub fn rows(&self, table: &str) -> usize {
        self.lines.values().filter_map(|t| t.get(table)).map(BTreeSet::len).sum()
    }
}

pub struct Table {
    pub headers: Vec<String>,
    /// (line, cells); the header is line 1.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    pub fn column(&self, header: &str) -> usize {
        self.headers.iter().position(|h| h == header).unwrap_or_else(|| panic!("no header {header}"))
    }
}

pub fn read_csv(path: &Path, encoding: &'static encoding_rs::Encoding) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
    let bytes = std::fs::read(path).unwrap();
    let (text, _, malformed) = encoding.decode(&bytes);
    assert!(!malformed, "{} is not valid {}", path.display(), encoding.name());
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
    // The synthetic files have no line breaks inside fields: record i is on line i + 2.
    let rows = reader
        .records()
        .enumerate()
        .map(|(i, r)| (i as u64 + 2, r.unwrap().iter().map(str::to_string).collect()))
        .collect();
    (headers, rows)
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

/// Every cell of a frame as text (nulls skipped).
pub fn cells(frame: &DataFrame) -> Vec<String> {
    let mut out = Vec::new();
    for column in frame.columns() {
        let text = column.cast(&DataType::String).unwrap();
        out.extend(text.str().unwrap().iter().flatten().map(str::to_string));
    }
    out
}

/// Column `name` of `frame` as text per row.
pub fn text_column(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    let c = frame.column(name).unwrap().cast(&DataType::String).unwrap();
    c.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
}

/// The output tables of a release.
pub fn outputs(dir: &Path) -> BTreeMap<String, DataFrame> {
    ["checkups", "dispensing", "charts"]
        .iter()
        .map(|t| (t.to_string(), read_parquet(&dir.join(format!("{t}.parquet")))))
        .collect()
}
