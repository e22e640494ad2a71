//! Seeded synthetic Japanese populations for tests, benchmarks and `datasets/`.
//!
//! One population, three exports that each spell it their own way, as real systems do:
//! - `checkups.csv` — 特定健診, a municipality's export: cp932, CRLF, 和暦 birth dates for some,
//!   full-width 記号・番号 for some, 個人番号 in some rows;
//! - `dispensing.csv` — 調剤, a pharmacy's export: UTF-8 with BOM, 旧字体 surnames for some,
//!   receipt-style GYYMMDD birth dates, 国保 insurer numbers zero-padded to 8 digits;
//! - `charts.csv` — カルテ, a hospital's export: half-width kana for some, era-letter dates,
//!   full-width addresses, and free-text notes that sometimes hold a name, phone or My Number;
//! - `optout.csv` — 提供停止 requests by insurance card, by kana + birth date + sex, or by facility
//!   + patient ID, spelled differently again (hiragana, half-width, dropped leading zeros);
//! - `truth.csv` and `truth_optout.csv` — which person each line belongs to;
//! - with `registry`, `registry.csv` — a resident registry an attacker might hold: about half of
//!   the persons and some outsiders, with their true `person` (`X…` for outsiders);
//! - with `national`, the same rows in the national formats: `uke/medical/RECEIPTC_YYYYMM.UKE`
//!   (医科 receipts from the chart visits) and `uke/dispensing/RECEIPTY_YYYYMM.UKE` (調剤);
//!   `cda/checkups_FY<year>.zip` (特定健診 XML exchange packages, one document per checkup);
//!   `ssmix2/<facility>/…` (SS-MIX2 storage per hospital: 患者基本 and a 病名 message per chart
//!   row, ISO-2022-JP).
//!
//! The same seed gives byte-identical files (ChaCha8, independent of `rand`'s default RNG).
//!
//! ```
//! use tokumei_synth::{SynthSpec, write_population};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let spec = SynthSpec { persons: 60, seed: 1, ..SynthSpec::default() };
//! let summary = write_population(&spec, dir.path()).unwrap();
//! assert_eq!(summary.persons, 60);
//! let again = tempfile::tempdir().unwrap();
//! write_population(&spec, again.path()).unwrap();
//! let read = |d: &std::path::Path| std::fs::read(d.join("checkups.csv")).unwrap();
//! assert_eq!(read(dir.path()), read(again.path()), "one seed, one population");
//! ```
#![warn(missing_docs)]

mod national;
mod population;
mod spelling;
mod vocab;
mod writer;

pub use population::{SynthSpec, SynthSummary, TRUTH_COLUMN, generator_date, write_population};
pub use spelling::{DateForm, full_width, half_width_kana, hiragana, write_date};
pub use writer::{Encoding, Error};
