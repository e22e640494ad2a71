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

    /// The key's fingerprint: 32 hex characters of a hash keyed with a key derived from it
    /// (`tokumei v1 fingerprint`). Equal keys give equal fingerprints; the fingerprint tells
    /// nothing about the key, so it may go in a report or a provision record.
    pub fn fingerprint(&self) -> String {
        let hash = blake3::keyed_hash(&self.derive("fingerprint"), b"tokumei key fingerprint");
        hex::encode(&hash.as_bytes()[..16])
    }

    /// A purpose key: `blake3::derive_key("tokumei v1 {purpose}", master)`. Only the key
    /// schedule ([`ReleaseKeys`]) names purposes.
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(&format!("tokumei v1 {purpose}"), &self.0)
    }

    /// A pseudonym key: `blake3::derive_key("tokumei pseudonym v1 {purpose}", master)`.
    fn derive_pseudonym(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(&format!("tokumei pseudonym v1 {purpose}"), &self.0)
    }
}

/// A key derived from the master key for one purpose; zeroed when dropped, never printed.
pub struct DerivedKey([u8; 32]);

impl Drop for DerivedKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl DerivedKey {
    /// The key's bytes, for the keyed hash that uses it. Do not log.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The key schedule: every key a run derives from the master key, each for one named purpose.
/// Nothing else reads the master key's bytes.
///
/// | method | blake3 `derive_key` context (the master key as input) | keys |
/// |---|---|---|
/// | [`link`](Self::link) | `tokumei v1 link {K1…K4, K1b, card}`, `tokumei v1 link evidence`; with a token key, the token keys below | linkage keys: persons across sources, opt-out matching, token lists |
/// | [`submission_tokens`](Self::submission_tokens) | `tokumei v1 submission-token {kind}`, `… evidence`, of the producer's token key ([`with_token_key`](Self::with_token_key)) when given | a submission's token columns |
/// | [`shuffle`](Self::shuffle) | `tokumei v1 {label} shuffle` | the release's row order (shuffle buckets) |
/// | [`keyless_row`](Self::keyless_row) | `tokumei v1 keyless row` | the identity of a row that carries no linkage key |
/// | [`person_pseudonym`](Self::person_pseudonym) | `tokumei pseudonym v1 {label} person` | `person_id` |
/// | [`column_pseudonym`](Self::column_pseudonym) | `tokumei pseudonym v1 {label} column {column}` | columns with `kind = "pseudonym"` |
///
/// Keys under the release label change with it, so two releases cannot be joined on their
/// pseudonyms or row order. Link and token keys do not: a person links the same way in every run,
/// and a provider's token list stays valid. The two prefixes (`tokumei v1`, `tokumei pseudonym
/// v1`) are historical and kept, so that every derived key is bit-identical to earlier releases.
pub struct ReleaseKeys<'a> {
    master: &'a MasterKey,
    /// The certified producer's token key, shared by its providers for their tokens only.
    token: Option<&'a MasterKey>,
    label: String,
}

impl<'a> ReleaseKeys<'a> {
    /// The schedule of the release labelled `label`.
    pub fn derive(master: &'a MasterKey, label: &str) -> ReleaseKeys<'a> {
        ReleaseKeys { master, token: None, label: label.to_string() }
    }

    /// Keys linkage with the producer's token key instead of the master key: a submission's
    /// tokens, so that the producer can link them with other providers' tokens, and the linkage
    /// keys of the run (the provider's and the producer's), so that one person has one key
    /// whether it came as a token or was computed from identifying fields, and a token list
    /// (`tokumei optout hash`) is valid at both. Row order, staging and pseudonyms stay on the
    /// master key.
    pub fn with_token_key(mut self, token: &'a MasterKey) -> ReleaseKeys<'a> {
        self.token = Some(token);
        self
    }

    /// Linkage keys (K1–K4, K1b, card) and address evidence: the token keys when a token key
    /// is given, else the master key's own.
    pub fn link(&self) -> crate::KeyHasher {
        match self.token {
            Some(_) => self.submission_tokens(),
            None => crate::KeyHasher::new(self.master, "link"),
        }
    }

    /// The keys of a submission's token columns: of the producer's token key when given.
    pub fn submission_tokens(&self) -> crate::KeyHasher {
        crate::KeyHasher::new(self.token.unwrap_or(self.master), "submission-token")
    }

    /// The release's row-order key.
    pub fn shuffle(&self) -> DerivedKey {
        DerivedKey(self.master.derive(&format!("{} shuffle", self.label)))
    }

    /// The key that names rows without a linkage key.
    pub fn keyless_row(&self) -> DerivedKey {
        DerivedKey(self.master.derive("keyless row"))
    }

    /// The key of the release's person pseudonyms.
    pub fn person_pseudonym(&self) -> DerivedKey {
        DerivedKey(self.master.derive_pseudonym(&format!("{} person", self.label)))
    }

    /// The key of the release's pseudonyms of `column`.
    pub fn column_pseudonym(&self, column: &str) -> DerivedKey {
        DerivedKey(self.master.derive_pseudonym(&format!("{} column {column}", self.label)))
    }
}

/// The identity of a row that carries no linkage key: a keyed hash (under
/// [`ReleaseKeys::keyless_row`]'s key) of its table and its number among the table's accepted
/// rows, so the row is a person of its own, the same in every run.
pub fn keyless_row_id(key: &[u8; 32], table: &str, row: u64) -> u128 {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(table.as_bytes());
    hasher.update(&[0x1f]);
    hasher.update(&row.to_le_bytes());
    u128::from_le_bytes(hasher.finalize().as_bytes()[..16].try_into().expect("16 bytes"))
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
        assert_eq!(MasterKey::from_file(&path).unwrap().0, [1; 32]);
        std::fs::write(&path, "# nothing\nabcd\n").unwrap();
        let err = MasterKey::from_file(&path).err().unwrap().to_string();
        assert!(!err.contains("abcd"), "error must not echo key material: {err}");
    }

    /// The schedule derives exactly the keys earlier releases used (their contexts written out).
    #[test]
    fn the_schedule_derives_the_keys_earlier_releases_used() {
        let master = MasterKey::from_bytes([7; 32]);
        let keys = ReleaseKeys::derive(&master, "2026-11 r");
        let old = |context: &str| blake3::derive_key(context, &[7; 32]);
        assert_eq!(keys.shuffle().bytes(), &old("tokumei v1 2026-11 r shuffle"));
        assert_eq!(keys.keyless_row().bytes(), &old("tokumei v1 keyless row"));
        assert_eq!(keys.person_pseudonym().bytes(), &old("tokumei pseudonym v1 2026-11 r person"));
        assert_eq!(
            keys.column_pseudonym("patient_id").bytes(),
            &old("tokumei pseudonym v1 2026-11 r column patient_id")
        );
        assert_eq!(keys.link().keys_for_test(), crate::KeyKind::ALL.map(|k| old(&format!("tokumei v1 link {k:?}"))));
        let tokens = keys.submission_tokens().keys_for_test();
        assert_eq!(tokens, crate::KeyKind::ALL.map(|k| old(&format!("tokumei v1 submission-token {k:?}"))));
        // Another label: other pseudonyms and order; the same linkage.
        let other = ReleaseKeys::derive(&master, "2026-12 r");
        assert_ne!(other.person_pseudonym().bytes(), keys.person_pseudonym().bytes());
        assert_ne!(other.shuffle().bytes(), keys.shuffle().bytes());
        assert_eq!(other.link().keys_for_test(), keys.link().keys_for_test());
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let key = MasterKey::from_bytes([9; 32]);
        assert_ne!(key.derive("a"), key.derive("b"));
        assert_eq!(key.derive("a"), key.derive("a"));
    }

    /// Two providers with their own master keys and the producer's token key give the same
    /// tokens, and nothing else of theirs agrees; the fingerprint names the token key, not them.
    #[test]
    fn providers_sharing_the_token_key_agree_on_tokens_only() {
        use polars::prelude::*;
        let (hospital, pharmacy) = (MasterKey::from_bytes([1; 32]), MasterKey::from_bytes([2; 32]));
        let (token, other) = (MasterKey::from_bytes([3; 32]), MasterKey::from_bytes([4; 32]));
        let birth = tokumei_core::normalize::CivilDate::new(1970, 3, 2).unwrap().to_epoch_days();
        let frame = df!("kana" => ["ﾔﾏﾀﾞ ﾀﾛｳ"], "birth" => [birth], "sex" => [1i32])
            .unwrap()
            .lazy()
            .with_column(col("birth").cast(DataType::Date))
            .collect()
            .unwrap();
        let columns = crate::LinkColumns(
            [
                (tokumei_core::LinkField::KanaName, "kana"),
                (tokumei_core::LinkField::BirthDate, "birth"),
                (tokumei_core::LinkField::Sex, "sex"),
            ]
            .into_iter()
            .map(|(f, c)| (f, c.to_string()))
            .collect(),
        );
        let tokens = |keys: ReleaseKeys<'_>| keys.submission_tokens().row_keys(&frame, &columns).unwrap()[0];
        let a = tokens(ReleaseKeys::derive(&hospital, "h").with_token_key(&token));
        let b = tokens(ReleaseKeys::derive(&pharmacy, "p").with_token_key(&token));
        assert!(a[crate::KeyKind::Name as usize].is_some());
        assert_eq!(a, b, "one producer's token key: the same person, the same tokens");
        assert_ne!(a, tokens(ReleaseKeys::derive(&hospital, "h").with_token_key(&other)));
        assert_ne!(a, tokens(ReleaseKeys::derive(&hospital, "h")), "without it, the provider's own key");
        let link = |key: &MasterKey| ReleaseKeys::derive(key, "x").link().row_keys(&frame, &columns).unwrap()[0];
        assert_ne!(link(&hospital), link(&pharmacy), "without a token key, linkage keys are the providers' own");
        let linked =
            ReleaseKeys::derive(&hospital, "h").with_token_key(&token).link().row_keys(&frame, &columns).unwrap();
        assert_eq!(linked[0], a, "with one, linkage keys are the tokens: a token list is valid at the producer");
        assert_eq!(token.fingerprint(), MasterKey::from_bytes([3; 32]).fingerprint());
        assert_ne!(token.fingerprint(), other.fingerprint());
        assert!(!token.fingerprint().contains(&"03".repeat(8)), "the fingerprint is not the key");
    }
}
