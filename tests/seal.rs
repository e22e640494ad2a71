//! Sealed submissions (issue 13): a provider seals its release to the producer's public key; only
//! the producer's identity opens it, every file comes back byte for byte, and a changed, cut or
//! foreign file is refused with nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tokumei::Status;

use crate::common::Workspace;

fn tokumei(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokumei")).args(args).output().unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Names in `dir` other than the ones given: what a refused command may not leave.
fn others(dir: &Path, known: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect()
}

struct Keys {
    identity: PathBuf,
    public: PathBuf,
}

fn keygen(dir: &Path, name: &str) -> Keys {
    let identity = dir.join(name);
    let out = tokumei(&["-q", "keygen", "--age", "--out", s(&identity)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public = dir.join(format!("{name}.pub"));
    Keys { identity, public }
}

#[test]
fn a_sealed_submission_opens_only_for_its_producer_and_only_whole() {
    let ws = Workspace::generate(400, 61);
    assert_eq!(ws.run("submission", "out/sub").status, Status::Released);
    let release = ws.path("out/sub");
    let keys = ws.path("keys");
    std::fs::create_dir(&keys).unwrap();
    let producer = keygen(&keys, "producer.key");
    let stranger = keygen(&keys, "stranger.key");
    let identity_text = std::fs::read_to_string(&producer.identity).unwrap();
    let public_text = std::fs::read_to_string(&producer.public).unwrap();
    assert!(public_text.starts_with("age1") && !public_text.contains("SECRET"));
    assert!(identity_text.contains("AGE-SECRET-KEY-1") && identity_text.contains(public_text.trim()));
    #[cfg(unix)]
    assert_eq!(mode(&producer.identity), 0o600);
    // An existing key is never overwritten.
    let again = tokumei(&["-q", "keygen", "--age", "--out", s(&producer.identity)]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&producer.identity).unwrap(), identity_text);

    // Seal: one file, nothing of the release readable in it.
    let work = ws.path("transfer");
    std::fs::create_dir(&work).unwrap();
    let sealed = work.join("sub.age");
    let out = tokumei(&["seal", s(&release), "--to", s(&producer.public), "--out", s(&sealed)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    for plain in [&b"PAR1"[..], b"tokumei_version", b"token_insurance", b"MANIFEST"] {
        assert!(!bytes.windows(plain.len()).any(|w| w == plain), "the sealed file shows its contents");
    }
    assert!(!identity_text.lines().any(|l| l.starts_with("AGE-SECRET") && stderr(&out).contains(l)));
    // Sealing never overwrites.
    let twice = tokumei(&["seal", s(&release), "--to", s(&producer.public), "--out", s(&sealed)]);
    assert_eq!(twice.status.code(), Some(2));
    assert_eq!(std::fs::read(&sealed).unwrap(), bytes);

    // Unseal: the same files, byte for byte, owner-only.
    let opened = work.join("opened");
    let out = tokumei(&["unseal", s(&sealed), "--identity", s(&producer.identity), "--out", s(&opened)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(files(&opened), files(&release));
    #[cfg(unix)]
    {
        assert_eq!(mode(&opened), 0o700);
        for (name, _) in files(&opened) {
            assert_eq!(mode(&opened.join(name)), 0o600);
        }
    }
    // Into a folder that is not empty: an error, nothing touched.
    let out = tokumei(&["unseal", s(&sealed), "--identity", s(&producer.identity), "--out", s(&opened)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Refused, with nothing written: a wrong identity, a public key, a flipped byte, a cut file.
    let known = ["sub.age", "opened", "damaged.age"];
    let refuse = |damaged: &[u8], identity: &Path, what: &str, code: i32| {
        let file = work.join("damaged.age");
        std::fs::write(&file, damaged).unwrap();
        let target = work.join("refused");
        let out = tokumei(&["unseal", s(&file), "--identity", s(identity), "--out", s(&target)]);
        assert_eq!(out.status.code(), Some(code), "{what}: {}", stderr(&out));
        if code == 1 {
            assert!(stderr(&out).starts_with("refused: "), "{what}: {}", stderr(&out));
            assert_eq!(stderr(&out).lines().count(), 1, "{what}: one line");
        }
        assert!(!target.exists(), "{what}: nothing written");
        assert_eq!(others(&work, &known), Vec::<String>::new(), "{what}: no scratch left");
    };
    refuse(&bytes, &stranger.identity, "another identity", 1);
    refuse(&bytes, &producer.public, "a public key as identity", 2);
    assert!(bytes.len() > 65_536 + 1_000, "the archive spans several age chunks ({} bytes)", bytes.len());
    for at in [30, 200, bytes.len() / 2, bytes.len() - 20] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x01;
        refuse(&flipped, &producer.identity, &format!("byte {at} flipped"), 1);
    }
    // Cut: inside a chunk, at a chunk's end (the last chunk is then missing), in the header.
    // The header ends with `--- <43 characters of MAC>\n`; a 16-byte nonce, then the chunks.
    let payload = bytes.windows(4).position(|w| w == b"\n---").unwrap() + 1 + 48 + 16;
    for cut in [bytes.len() - 1, bytes.len() / 2, payload + 65_536 + 16, 100] {
        refuse(&bytes[..cut], &producer.identity, &format!("cut at {cut}"), 1);
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"trailing");
    refuse(&longer, &producer.identity, "trailing bytes", 1);
}

#[test]
fn only_a_whole_unchanged_release_is_sealed() {
    let ws = Workspace::generate(150, 62);
    assert_eq!(ws.run("pseudonymized", "out/p").status, Status::Released);
    let release = ws.path("out/p");
    let keys = keygen(&ws.path("out"), "k");
    let seal = |name: &str| tokumei(&["seal", s(&release), "--to", s(&keys.public), "--out", s(&ws.path(name))]);
    // A file the report does not list.
    std::fs::write(release.join("notes.txt"), "x").unwrap();
    let out = seal("a.age");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));
    std::fs::remove_file(release.join("notes.txt")).unwrap();
    // A table changed after its run.
    let table = std::fs::read_dir(&release)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let original = std::fs::read(&table).unwrap();
    let mut changed = original.clone();
    changed[10] ^= 1;
    std::fs::write(&table, &changed).unwrap();
    let out = seal("b.age");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("changed after its run"), "{}", stderr(&out));
    // Not a release at all; an identity given where a public key belongs.
    let out = tokumei(&["seal", s(&ws.path("datasets")), "--to", s(&keys.public), "--out", s(&ws.path("c.age"))]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(&table, &original).unwrap();
    let out = tokumei(&["seal", s(&release), "--to", s(&keys.identity), "--out", s(&ws.path("d.age"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("AGE-SECRET-KEY"), "a key never reaches a message");
    for name in ["a.age", "b.age", "c.age", "d.age"] {
        assert!(!ws.path(name).exists(), "{name} written by a refused seal");
    }
    // Restored, it seals.
    assert_eq!(seal("e.age").status.code(), Some(0));
}
