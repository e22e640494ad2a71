//! Staged files encrypted at rest.
//!
//! What a run must stage (birth dates, addresses before generalization, clinical values,
//! pseudonymized patient IDs) is written through ChaCha20-Poly1305 in the STREAM construction
//! (Hoang, Reyhanitabar, Rogaway, Vizár: 64 KiB chunks, each authenticated, the last one marked
//! so a truncated file is detected). The key is random, made for this run, and exists only in
//! this process's memory (zeroed on drop): a file left by a crash is unreadable, because the key
//! died with the process. Each file has its own key, derived from the run's key and the file's
//! name, so one nonce sequence never serves two files.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use rand::TryRngCore;
use zeroize::{Zeroize, Zeroizing};

/// Plaintext bytes per chunk.
const CHUNK: usize = 64 << 10;
/// Poly1305 tag bytes per chunk.
const TAG: usize = 16;
/// The first bytes of every encrypted staged file.
pub(crate) const MAGIC: &[u8; 8] = b"tokumei\x01";

/// A run's staging key: random, in memory only, zeroed on drop.
pub(crate) struct StageKey([u8; 32]);

impl Drop for StageKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl StageKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> io::Result<StageKey> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut key).map_err(io::Error::other)?;
        Ok(StageKey(key))
    }

    /// The cipher for the file named `name` (its own key).
    fn cipher(&self, name: &str) -> ChaCha20Poly1305 {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"tokumei staged file\x1f");
        hasher.update(name.as_bytes());
        let key = Zeroizing::new(*hasher.finalize().as_bytes());
        ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.as_ref()))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Why an encrypted staged file cannot be read back.
fn unreadable(path: &Path, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("staged file {}: {what}", path.display()))
}

struct Sealing {
    file: File,
    encryptor: Option<EncryptorBE32<ChaCha20Poly1305>>,
    /// Plaintext not yet encrypted: at most one chunk.
    pending: Zeroizing<Vec<u8>>,
}

impl Sealing {
    /// Encrypts and writes the pending chunk (the last one when `last`).
    fn seal_pending(&mut self, last: bool) -> io::Result<()> {
        let failed = |_| io::Error::other("encryption of a staged chunk failed");
        if last {
            let encryptor = self.encryptor.take().ok_or_else(|| io::Error::other("staged file already finished"))?;
            encryptor.encrypt_last_in_place(b"", &mut *self.pending).map_err(failed)?;
        } else {
            let encryptor = self.encryptor.as_mut().ok_or_else(|| io::Error::other("staged file already finished"))?;
            encryptor.encrypt_next_in_place(b"", &mut *self.pending).map_err(failed)?;
        }
        self.file.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

/// A file written encrypted. Cheap to clone: clones write to the same file, so one clone can be
/// given to a writer that keeps it (polars' Parquet writer) and another [`finish`]ed afterwards.
///
/// [`finish`]: EncryptedFile::finish
#[derive(Clone)]
pub(crate) struct EncryptedFile(Arc<Mutex<Sealing>>);

impl EncryptedFile {
    /// Creates `path` (mode `mode`) for writing under `key`.
    pub fn create(path: &Path, key: &StageKey, mode: u32) -> io::Result<EncryptedFile> {
        let mut file = tokumei_report::create_file(path, mode)?;
        file.write_all(MAGIC)?;
        let encryptor = EncryptorBE32::from_aead(key.cipher(&file_name(path)), &Default::default());
        Ok(EncryptedFile(Arc::new(Mutex::new(Sealing {
            file,
            encryptor: Some(encryptor),
            pending: Zeroizing::new(Vec::with_capacity(CHUNK + TAG)),
        }))))
    }

    /// Encrypts what is pending as the last chunk and flushes the file. Writing after this fails.
    pub fn finish(&self) -> io::Result<()> {
        let mut sealing = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sealing.seal_pending(true)?;
        sealing.file.flush()
    }
}

impl Write for EncryptedFile {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let written = buf.len();
        let mut sealing = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while !buf.is_empty() {
            // A full chunk is sealed only once more bytes come: the last chunk is sealed by
            // `finish`, marked as last.
            if sealing.pending.len() == CHUNK {
                sealing.seal_pending(false)?;
            }
            let take = (CHUNK - sealing.pending.len()).min(buf.len());
            sealing.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks are sealed whole; what is pending waits for more bytes or `finish`.
        Ok(())
    }
}

/// Reads and decrypts the staged file `path`. A changed, truncated or foreign file, or one
/// written under another run's key, is an error.
pub(crate) fn read(path: &Path, key: &StageKey) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len() as usize;
    let mut magic = [0u8; MAGIC.len()];
    if length < MAGIC.len() + TAG || file.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(unreadable(path, "not an encrypted staged file of this version"));
    }
    let body = length - MAGIC.len();
    let segment = CHUNK + TAG;
    let segments = body.div_ceil(segment);
    // Taken by the last chunk, which consumes it.
    let mut decryptor = Some(DecryptorBE32::from_aead(key.cipher(&file_name(path)), &Default::default()));
    let mut out = Vec::with_capacity(body - segments * TAG);
    let mut chunk = Zeroizing::new(Vec::with_capacity(segment));
    for i in 0..segments {
        let size = if i + 1 == segments { body - i * segment } else { segment };
        if size < TAG {
            return Err(unreadable(path, "truncated"));
        }
        chunk.resize(size, 0);
        file.read_exact(&mut chunk)?;
        let opened = if i + 1 == segments {
            decryptor.take().expect("taken by the last chunk only").decrypt_last_in_place(b"", &mut *chunk)
        } else {
            decryptor.as_mut().expect("taken by the last chunk only").decrypt_next_in_place(b"", &mut *chunk)
        };
        opened.map_err(|_| unreadable(path, "failed authentication (changed, truncated, or not this run's)"))?;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8], writes: usize) -> (tempfile::TempDir, std::path::PathBuf, StageKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.0000.parquet");
        let key = StageKey::random().unwrap();
        let mut file = EncryptedFile::create(&path, &key, 0o600).unwrap();
        let step = bytes.len().div_ceil(writes.max(1)).max(1);
        for part in bytes.chunks(step) {
            file.write_all(part).unwrap();
        }
        file.finish().unwrap();
        (dir, path, key)
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn reads_back_what_was_written_at_every_chunk_edge() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17] {
            for writes in [1, 3, 1000] {
                let bytes = data(n);
                let (_dir, path, key) = round_trip(&bytes, writes);
                assert_eq!(read(&path, &key).unwrap(), bytes, "{n} bytes in {writes} writes");
                let on_disk = std::fs::read(&path).unwrap();
                assert_eq!(on_disk.len(), MAGIC.len() + n + n.div_ceil(CHUNK).max(1) * TAG);
            }
        }
    }

    #[test]
    fn the_file_holds_no_plaintext() {
        let bytes = b"PAR1 \xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e 1970-03-02 ".repeat(5000);
        let (_dir, path, _key) = round_trip(&bytes, 7);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(!on_disk.windows(4).any(|w| w == b"PAR1"));
        assert!(!on_disk.windows(10).any(|w| w == b"1970-03-02"));
    }

    #[test]
    fn refuses_changed_truncated_and_foreign_files() {
        let bytes = data(3 * CHUNK + 100);
        let (_dir, path, key) = round_trip(&bytes, 5);
        let good = std::fs::read(&path).unwrap();
        let check = |damaged: Vec<u8>, what: &str| {
            std::fs::write(&path, &damaged).unwrap();
            let err = read(&path, &key).expect_err(what);
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{what}: {err}");
        };
        for at in [MAGIC.len(), MAGIC.len() + CHUNK + 3, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x20;
            check(flipped, "flipped byte");
        }
        // Cut at a chunk boundary: the last chunk left is not marked last.
        check(good[..MAGIC.len() + 2 * (CHUNK + TAG)].to_vec(), "truncated at a chunk boundary");
        check(good[..good.len() - 5].to_vec(), "truncated inside a chunk");
        check(good[..4].to_vec(), "truncated in the header");
        // Another run's key.
        std::fs::write(&path, &good).unwrap();
        assert!(read(&path, &StageKey::random().unwrap()).is_err());
        // The same bytes under another name (another file's key).
        let other = path.with_file_name("t.0001.parquet");
        std::fs::write(&other, &good).unwrap();
        assert!(read(&other, &key).is_err());
        assert_eq!(read(&path, &key).unwrap(), bytes);
    }
}
