//! Replays every input in `fuzz/regressions/<target>/` (inputs the fuzzers found that once
//! crashed or misbehaved) and `fuzz/seeds/<target>/` through the fuzz harnesses: none may panic.

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for folder in ["regressions", "seeds"] {
        let dir = root.join(folder).join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.file_name().is_some_and(|n| n != ".gitkeep")) {
            harness(&std::fs::read(file).unwrap());
            count += 1;
        }
    }
    count
}

#[test]
fn uke_inputs_replay() {
    assert!(replay("uke", tokumei_formats::fuzzing::uke) > 0);
}

#[test]
fn cda_inputs_replay() {
    assert!(replay("cda", tokumei_formats::fuzzing::cda) > 0);
}

#[test]
fn ssmix2_inputs_replay() {
    assert!(replay("ssmix2", tokumei_formats::fuzzing::ssmix2) > 0);
}
