//! Sealed releases: a release folder packed into one file that only the receiver can open.
//!
//! A provider hands its submission to the certified producer as one [age] file encrypted to the
//! producer's X25519 public key (several recipients allowed). Inside is a tar archive whose
//! first entry, `MANIFEST.json`, lists every file with its size and blake3; the files follow,
//! report and provision record included. [`seal`] refuses a folder that is not a whole tokumei
//! release, or whose files no longer match their report. [`unseal`] refuses a changed, truncated
//! or foreign archive, or one this identity cannot open, before anything appears at its
//! destination: files are unpacked into a marked scratch folder and checked against the
//! manifest, and only a complete, verified release is moved into place.
//!
//! [age]: https://age-encryption.org/v1

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::release::{FILE_MODE, REPORT_FILES, Release, create_file, listed_outputs};

/// The archive's first entry.
pub const MANIFEST: &str = "MANIFEST.json";
/// The manifest's format name.
const FORMAT: &str = "tokumei sealed release 1";
/// The largest manifest read (it lists file names and digests only).
const MANIFEST_LIMIT: u64 = 1 << 20;

/// Why sealing or unsealing stopped.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The folder is not a whole, unchanged tokumei release (nothing written).
    #[error("{0}")]
    NotARelease(String),
    /// A key file cannot be read or holds no key of the expected kind.
    #[error("{0}")]
    Key(String),
    /// The archive is changed, truncated, not a sealed release, or not for this identity
    /// (nothing unpacked). Exit code 1.
    #[error("{0}")]
    Refused(String),
    /// The destination exists and is not empty.
    #[error("{0} exists and is not empty; unseal into a new or empty folder")]
    Destination(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The unsealed folder could not be put in place.
    #[error(transparent)]
    Release(#[from] crate::Error),
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> SealError + '_ {
    move |source| SealError::Io { path: path.to_path_buf(), source }
}

/// What the manifest says of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedFile {
    /// File name in the release folder.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// blake3, hex.
    pub blake3: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: String,
    pub(crate) files: Vec<SealedFile>,
}

/// A sealed or unsealed release's files.
#[derive(Debug)]
pub struct Sealed {
    /// The files, as the manifest lists them.
    pub files: Vec<SealedFile>,
}

impl Sealed {
    /// Bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// A new X25519 key pair: the identity file's text (secret; zeroed on drop) and the recipient
/// (public key) line.
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = Zeroizing::new(format!(
        "# tokumei age identity (X25519). Keep secret: it opens every release sealed to its public key.\n# \
         public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    ));
    (text, recipient)
}

/// The lines of a key file that are not blank or comments.
fn key_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Reads recipients (`age1…` public keys, one per line; `#` comments) from `path`.
pub fn read_recipients(path: &Path) -> Result<Vec<age::x25519::Recipient>, SealError> {
    let text = std::fs::read_to_string(path).map_err(io_at(path))?;
    let mut out = Vec::new();
    for (n, line) in key_lines(&text).enumerate() {
        let recipient = age::x25519::Recipient::from_str(line).map_err(|_| {
            SealError::Key(format!("{}: key {} is not an age X25519 public key (age1…)", path.display(), n + 1))
        })?;
        out.push(recipient);
    }
    if out.is_empty() {
        return Err(SealError::Key(format!("{}: holds no age public key (age1…)", path.display())));
    }
    Ok(out)
}

/// Reads identities (`AGE-SECRET-KEY-1…`, one per line; `#` comments) from `path`. The file's
/// text is zeroed after parsing; the message never repeats a line of it.
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, SealError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io_at(path))?);
    let mut out = Vec::new();
    for (n, line) in key_lines(&text).enumerate() {
        let identity = age::x25519::Identity::from_str(line).map_err(|_| {
            SealError::Key(format!(
                "{}: key {} is not an age X25519 identity (AGE-SECRET-KEY-1…); a public key cannot unseal",
                path.display(),
                n + 1
            ))
        })?;
        out.push(identity);
    }
    if out.is_empty() {
        return Err(SealError::Key(format!("{}: holds no age identity (AGE-SECRET-KEY-1…)", path.display())));
    }
    Ok(out)
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hasher: blake3::Hasher::new(), bytes: 0 }
    }

    /// Size and blake3 (hex) of what was read.
    fn finish(&self) -> (u64, String) {
        (self.bytes, self.hasher.finalize().to_hex().to_string())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Size and blake3 of what `reader` yields, copied to `out`.
fn copy_hashed(reader: impl Read, out: impl Write) -> io::Result<(u64, String)> {
    let mut hashing = Hashing::new(reader);
    let mut out = out;
    io::copy(&mut hashing, &mut out)?;
    Ok(hashing.finish())
}

/// The files of the release in `folder`, checked against its report: every file the report
/// lists, unchanged, and the report files; nothing else.
pub(crate) fn release_manifest(folder: &Path) -> Result<Manifest, SealError> {
    let listed = listed_outputs(folder).ok_or_else(|| {
        SealError::NotARelease(format!("{} holds no tokumei release (no report.json of tokumei's)", folder.display()))
    })?;
    let expected: HashSet<&str> = listed.iter().map(|(f, _)| f.as_str()).chain(REPORT_FILES.iter().copied()).collect();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(io_at(folder))? {
        let entry = entry.map_err(io_at(folder))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().is_ok_and(|t| t.is_file()) || !expected.contains(name.as_str()) {
            return Err(SealError::NotARelease(format!(
                "{} holds `{name}`, which its report does not list; seal only a release as tokumei wrote it",
                folder.display()
            )));
        }
        names.push(name);
    }
    for (file, _) in &listed {
        if !names.contains(file) {
            return Err(SealError::NotARelease(format!(
                "{}: `{file}`, listed in its report, is missing",
                folder.display()
            )));
        }
    }
    names.sort();
    let digests: BTreeMap<&str, &str> = listed.iter().map(|(f, d)| (f.as_str(), d.as_str())).collect();
    let mut files = Vec::new();
    for name in names {
        let path = folder.join(&name);
        let (bytes, blake3) =
            copy_hashed(File::open(&path).map_err(io_at(&path))?, io::sink()).map_err(io_at(&path))?;
        if let Some(&reported) = digests.get(name.as_str())
            && reported != blake3
        {
            return Err(SealError::NotARelease(format!(
                "{}: `{name}` was changed after its run (its blake3 differs from the report's)",
                folder.display()
            )));
        }
        files.push(SealedFile { file: name, bytes, blake3 });
    }
    Ok(Manifest { format: FORMAT.into(), files })
}

fn tar_header(bytes: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes);
    header.set_mode(FILE_MODE);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// Packs the release in `folder` into `out`, encrypted to `recipients`. `out` must not exist; it
/// appears only complete.
pub fn seal(folder: &Path, recipients: &[age::x25519::Recipient], out: &Path) -> Result<Sealed, SealError> {
    if recipients.is_empty() {
        return Err(SealError::Key("no recipient to seal to".into()));
    }
    let manifest = release_manifest(folder)?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temporary = parent.join(format!(
        ".{}.partial-{}",
        out.file_name().map_or_else(|| "sealed".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let written = (|| -> Result<(), SealError> {
        let file = create_file(&temporary, FILE_MODE).map_err(io_at(&temporary))?;
        let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| SealError::Key(format!("cannot seal to these recipients: {e}")))?;
        let stream = encryptor.wrap_output(BufWriter::new(file)).map_err(io_at(&temporary))?;
        let mut archive = tar::Builder::new(stream);
        let listing = serde_json::to_vec_pretty(&manifest).map_err(crate::Error::Json)?;
        archive
            .append_data(&mut tar_header(listing.len() as u64), MANIFEST, listing.as_slice())
            .map_err(io_at(&temporary))?;
        for entry in &manifest.files {
            let path = folder.join(&entry.file);
            // Hashed again on the way in: a file changed since the manifest was made is refused.
            let mut data = Hashing::new(File::open(&path).map_err(io_at(&path))?);
            archive
                .append_data(&mut tar_header(entry.bytes), &entry.file, &mut data)
                .map_err(|_| SealError::NotARelease(format!("`{}` changed while it was being sealed", entry.file)))?;
            if data.finish() != (entry.bytes, entry.blake3.clone()) {
                return Err(SealError::NotARelease(format!("`{}` changed while it was being sealed", entry.file)));
            }
        }
        let stream = archive.into_inner().map_err(io_at(&temporary))?;
        let file =
            stream.finish().map_err(io_at(&temporary))?.into_inner().map_err(|e| io_at(&temporary)(e.into_error()))?;
        file.sync_all().map_err(io_at(&temporary))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    // Never replaces a file: `out` appears only if it did not exist.
    let placed = std::fs::hard_link(&temporary, out).map_err(io_at(out));
    let _ = std::fs::remove_file(&temporary);
    placed?;
    Ok(Sealed { files: manifest.files })
}

fn refused(what: &str) -> SealError {
    SealError::Refused(what.to_string())
}

/// An error while reading the decrypted stream: age fails a changed chunk, a cut file, a
/// missing last chunk.
fn damaged(e: &io::Error) -> SealError {
    SealError::Refused(format!(
        "the sealed file cannot be read to its end ({e}): it is changed, truncated or damaged; nothing was unpacked"
    ))
}

/// Whether `name` is a plain file name (no folder, no `..`).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Opens `archive` with `identities`, checks every file against the manifest, and moves the
/// release to `out` (absent or empty) only when all of it is there and unchanged.
pub fn unseal(archive: &Path, identities: &[age::x25519::Identity], out: &Path) -> Result<Sealed, SealError> {
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) || out.is_file() {
        return Err(SealError::Destination(out.to_path_buf()));
    }
    let input = BufReader::new(File::open(archive).map_err(io_at(archive))?);
    let decryptor = age::Decryptor::new_buffered(input).map_err(|e| match e {
        age::DecryptError::Io(e) => damaged(&e),
        _ => refused("not a sealed release (no readable age header)"),
    })?;
    let reader = decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => refused("none of the given identities opens this sealed file"),
        age::DecryptError::Io(e) => damaged(&e),
        _ => refused("the sealed file's header is changed or damaged; nothing was unpacked"),
    })?;
    let release = Release::begin(out)?;
    let mut tar = tar::Archive::new(reader);
    let mut manifest: Option<Manifest> = None;
    let mut seen: Vec<SealedFile> = Vec::new();
    for entry in tar.entries().map_err(|e| damaged(&e))? {
        let mut entry = entry.map_err(|e| damaged(&e))?;
        let name = entry.path().map_err(|e| damaged(&e))?.to_string_lossy().into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular || !plain_name(&name) {
            return Err(refused("the sealed file holds an entry that is not a plain file; nothing was unpacked"));
        }
        let Some(listing) = &manifest else {
            if name != MANIFEST || entry.size() > MANIFEST_LIMIT {
                return Err(refused("the sealed file does not start with its manifest; nothing was unpacked"));
            }
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(|e| damaged(&e))?;
            let parsed: Manifest = serde_json::from_slice(&text)
                .map_err(|_| refused("the sealed file's manifest cannot be read; nothing was unpacked"))?;
            if parsed.format != FORMAT || parsed.files.iter().any(|f| !plain_name(&f.file) || f.file == MANIFEST) {
                return Err(refused("the sealed file's manifest is not of a sealed tokumei release"));
            }
            manifest = Some(parsed);
            continue;
        };
        let Some(expected) = listing.files.iter().find(|f| f.file == name) else {
            return Err(refused("the sealed file holds a file its manifest does not list; nothing was unpacked"));
        };
        if seen.iter().any(|f| f.file == name) {
            return Err(refused("the sealed file holds a file twice; nothing was unpacked"));
        }
        let path = release.path(&name);
        let file = create_file(&path, FILE_MODE).map_err(io_at(&path))?;
        let mut writer = BufWriter::new(file);
        let (bytes, blake3) = copy_hashed(&mut entry, &mut writer).map_err(|e| damaged(&e))?;
        writer.flush().map_err(io_at(&path))?;
        if bytes != expected.bytes || blake3 != expected.blake3 {
            return Err(refused(&format!("`{name}` does not match the manifest's blake3; nothing was unpacked")));
        }
        seen.push(expected.clone());
    }
    // Read to the end, so the stream's last chunk is authenticated (a cut file fails here).
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| damaged(&e))?;
    let Some(listing) = manifest else {
        return Err(refused("the sealed file is empty or truncated; nothing was unpacked"));
    };
    if let Some(missing) = listing.files.iter().find(|f| !seen.contains(f)) {
        return Err(refused(&format!("`{}`, listed in the manifest, is missing; nothing was unpacked", missing.file)));
    }
    let report_lists: Option<Vec<(String, String)>> = listed_outputs(&release.path(""));
    let consistent = report_lists.is_some_and(|outputs| {
        outputs.iter().all(|(file, digest)| listing.files.iter().any(|f| &f.file == file && &f.blake3 == digest))
    });
    if !consistent {
        return Err(refused("the release's report does not match its files; nothing was unpacked"));
    }
    release.commit()?;
    Ok(Sealed { files: listing.files })
}
