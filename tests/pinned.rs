//! The bundled sample releases, pinned to the byte: a restructuring that changes a single byte of
//! any output of any bundled config (a Parquet file, a report, a provision record) fails here. A
//! change that means to alter a release updates the snapshot and says why in its commit.

use crate::common::Workspace;
use tokumei::{RunOptions, Status};

#[test]
fn the_bundled_sample_releases_are_byte_identical_to_the_pinned_ones() {
    let ws = Workspace::bundled();
    let mut lines = Vec::new();
    // The walkthrough "From providers to a release": three providers, then the producer over
    // their submissions.
    let walkthrough = ["providers/hospital", "providers/pharmacy", "providers/municipality", "producer"];
    for profile in ["anonymized", "pseudonymized", "submission", "national"].into_iter().chain(walkthrough) {
        let out = format!("out/{profile}");
        let outcome = ws.run_with(profile, &out, RunOptions::default());
        assert_eq!(outcome.status, Status::Released, "{profile}");
        let mut files: Vec<_> = walk(&ws.path(&out));
        files.sort();
        // Reports name their inputs by path: the temporary workspace's own path is the one thing
        // that differs between two checkouts.
        let root = ws.dir.path().to_string_lossy().into_owned();
        for (name, mut bytes) in files {
            if !name.ends_with(".parquet") {
                bytes = String::from_utf8(bytes).unwrap().replace(&root, "<workspace>").into_bytes();
            }
            lines.push(format!("{profile}/{name} {} {}", bytes.len(), blake3::hash(&bytes).to_hex()));
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}

fn walk(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            found.extend(walk(&entry.path()).into_iter().map(|(inner, bytes)| (format!("{name}/{inner}"), bytes)));
        } else {
            found.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
    found
}
