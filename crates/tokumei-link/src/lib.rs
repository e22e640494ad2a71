//! Linkage of tokumei: the master key, keyed linkage keys over normalized fields, persons by
//! union-find (名寄せ), and opt-out (提供停止) matching.
//!
//! Keys never leave this crate in the clear: [`MasterKey`] has no `Debug`, and what other stages
//! see are keyed hashes. [`ReleaseKeys`] is the key schedule: every key a run uses is derived there,
//! for one named purpose.
//!
//! ```
//! use tokumei_link::{MasterKey, ReleaseKeys};
//!
//! let master = MasterKey::from_bytes([7; 32]);
//! let march = ReleaseKeys::derive(&master, "2026-03 research-a");
//! let april = ReleaseKeys::derive(&master, "2026-04 research-a");
//! // Pseudonyms are keyed per release label: two releases cannot be joined on them.
//! assert_ne!(march.person_pseudonym().bytes(), april.person_pseudonym().bytes());
//! assert_eq!(march.person_pseudonym().bytes(), march.person_pseudonym().bytes());
//! ```
#![warn(missing_docs)]

mod key;
mod keys;
mod optout;
mod persons;

pub use key::{DerivedKey, KeyError, MasterKey, ReleaseKeys, keyless_row_id};
pub use keys::{Evidence, KEY_KINDS, KeyHasher, KeyKind, LinkColumns, RowKeys, TOKEN_FIELDS, parse_token, token_hex};
pub use optout::{
    OptOutEntry, OptOutMatch, TOKEN_LIST_HEADER, Unresolved, entries_of_batch, key_requirements, match_opt_outs,
    parse_token_list, write_token_list,
};
pub use persons::{ConflictRule, LinkStats, Linker, Persons, Resolution};
