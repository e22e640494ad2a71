//! Linkage of tokumei: the master key, keyed linkage keys over normalized fields, persons by
//! union-find (名寄せ), and opt-out (提供停止) matching.
//!
//! Keys never leave this crate in the clear: [`MasterKey`] has no `Debug`, and what other stages
//! see are keyed hashes.
#![warn(missing_docs)]

mod key;
mod keys;
mod optout;
mod persons;

pub use key::{DerivedKey, KeyError, MasterKey, ReleaseKeys};
pub use keys::{Evidence, KEY_KINDS, KeyHasher, KeyKind, LinkColumns, RowKeys, token_hex};
pub use optout::{OptOutEntry, OptOutMatch, Unresolved, key_requirements, match_opt_outs};
pub use persons::{ConflictRule, LinkStats, Linker, Persons, Resolution};
