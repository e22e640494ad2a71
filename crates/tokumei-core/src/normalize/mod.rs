//! Value normalizers shared by ingest (typed parsing) and link (matching keys).
//!
//! They live in the core crate because two stages must agree on them exactly: a birth date that
//! ingest reads as 1970-03-02 must be the date the opt-out matcher compares.

mod date;
mod ids;
mod text;

pub use date::{CivilDate, DateError, Era, parse_date};
pub use ids::{Sex, insurer_check_digit, insurer_key, is_valid_my_number, my_number_check_digit};
pub(crate) use text::nfkc_chars;
pub use text::{code_key, digits_key, fold_variant, kana_key, kanji_key};
