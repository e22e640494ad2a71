//! Linking codes (患者ID, レセプト番号) → keyed pseudonyms.
//!
//! **What it does.** Replaces each value by a keyed blake3 hash of its normalized form, as 20 hex
//! characters (80 bits).
//! **Why.** ③ of the processing standard: codes that link back must be deleted or replaced "by a
//! method with no regularity that would allow restoration". A keyed hash has none without the key.
//! **Example.** `00012345` and `０００１２３４５` → the same pseudonym within one release.
//! **Privacy notes.** The key is derived per release and per column, so two releases (or two
//! columns) cannot be joined on it; the key type has no `Debug`.

use polars::prelude::*;
use tokumei_core::normalize::code_key;

/// A 32-byte key for one release and one purpose. Deliberately neither `Debug` nor `Serialize`;
/// zeroed when dropped.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl Drop for PseudonymKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl PseudonymKey {
    /// The pseudonym key with these bytes: a key the key schedule derived for one release and
    /// one purpose (`tokumei_link::ReleaseKeys::person_pseudonym`, `column_pseudonym`).
    pub fn new(key: &[u8; 32]) -> PseudonymKey {
        PseudonymKey(*key)
    }

    /// The pseudonym of `bytes` (already normalized): 20 lowercase hex characters.
    pub fn pseudonym(&self, bytes: &[u8]) -> String {
        let hash = blake3::keyed_hash(&self.0, bytes);
        hex::encode(&hash.as_bytes()[..10])
    }

    /// A lazy expression replacing column `name` by pseudonyms of its normalized text.
    pub fn expr(&self, name: &str) -> Expr {
        let key = self.clone();
        col(name).map(
            move |column| {
                let text = column.cast(&DataType::String)?;
                let out: StringChunked =
                    text.str()?.iter().map(|v| v.map(|s| key.pseudonym(code_key(s).as_bytes()))).collect();
                Ok(out.with_name(column.name().clone()).into_column())
            },
            |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_key_different_across_keys() {
        let a = PseudonymKey::new(&[7u8; 32]);
        let b = PseudonymKey::new(&[8u8; 32]);
        assert_eq!(a.pseudonym(b"123"), a.pseudonym(b"123"));
        assert_ne!(a.pseudonym(b"123"), b.pseudonym(b"123"));
        assert_eq!(a.pseudonym(b"123").len(), 20);
    }
}
