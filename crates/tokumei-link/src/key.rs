//! The master key: read from a key file or an environment variable, never from the config.

use std::path::Path;

/// Errors reading a key. They name the source, never the key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// Key file path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The key text is not 64 hex characters.
    #[error("{0} does not hold a key: expected 64 hex characters (32 bytes) on one line")]
    Malformed(String),
}

/// The 32-byte master key. All purpose keys are derived from it with `blake3::derive_key`.
/// It has no `Debug`, `Display` or `Serialize`, so it cannot reach a log or an output by accident,
/// and its bytes are zeroed when it is dropped.
pub struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl MasterKey {
    /// From raw bytes (tests and `keygen`).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Reads a key file: `#` comment lines, then one line of 64 hex characters.
    pub fn from_file(path: &Path) -> Result<MasterKey, KeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: shown.clone(), source })?;
        Self::parse(&text).ok_or(KeyError::Malformed(shown))
    }

    /// Whether group or others may read the key file (Unix); callers warn. Not an error, since a
    /// fresh clone gives the committed demo key the default mode.
    pub fn file_is_exposed(path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            false
        }
    }

    /// Reads the key from environment variable `name` (64 hex characters).
    pub fn from_env(name: &str) -> Result<MasterKey, KeyError> {
        let text = std::env::var(name).map_err(|_| KeyError::MissingEnv(name.to_string()))?;
        Self::parse(&text).ok_or_else(|| KeyError::Malformed(format!("environment variable {name}")))
    }

    fn parse(text: &str) -> Option<MasterKey> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        let line = lines.next()?;
        if lines.next().is_some() || line.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(line, &mut bytes).ok()?;
        let key = MasterKey(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Some(key)
    }

    /// The key file text for `bytes`, with a comment saying what it is.
    pub fn file_text(bytes: &[u8; 32], comment: &str) -> String {
        format!("# {comment}\n{}\n", hex::encode(bytes))
    }

    /// A purpose key: `blake3::derive_key("tokumei … {purpose}", master)`.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(&format!("tokumei v1 {purpose}"), &self.0)
    }

    /// The raw bytes, for deriving stage keys (e.g. `PseudonymKey::derive`). Do not log.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_files_and_rejects_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, MasterKey::file_text(&[1; 32], "test")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(MasterKey::file_is_exposed(&path));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(!MasterKey::file_is_exposed(&path));
        }
        assert_eq!(MasterKey::from_file(&path).unwrap().expose(), &[1; 32]);
        std::fs::write(&path, "# nothing\nabcd\n").unwrap();
        let err = MasterKey::from_file(&path).err().unwrap().to_string();
        assert!(!err.contains("abcd"), "error must not echo key material: {err}");
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let key = MasterKey::from_bytes([9; 32]);
        assert_ne!(key.derive("a"), key.derive("b"));
        assert_eq!(key.derive("a"), key.derive("a"));
    }
}
