//! tokumei (匿名): anonymized (匿名加工) and pseudonymized (仮名加工) medical information from
//! Japanese medical records, under the Next-Generation Medical Infrastructure Act
//! (次世代医療基盤法).
//!
//! ```text
//!  CSV / Parquet ──► ingest ──► opt-out & linkage ──► transform ──► privacy model ──► risk ──► report
//!  (UTF-8, cp932,    typed,      keyed K1–K4 keys,     drop, keyed    person-level     class    Parquet,
//!   Japanese         和暦 dates,  union-find persons,   pseudonyms,    k-anonymity,     risk     report.json/.md,
//!   headers; UKE,    quarantine  提供停止 matched      generalization suppression               provision record
//!   CDA, SS-MIX2)
//! ```
//!
//! | Crate | Owns |
//! |---|---|
//! | `tokumei-core` | Column roles; shared column names; value normalizers (kana, 旧字体, 和暦 dates, check digits). No I/O. |
//! | `tokumei-config` | TOML wire types, defaults, validation → typed `Plan` |
//! | `tokumei-formats` | National-format parsers: UKE receipt files, 特定健診 CDA XML, SS-MIX2 HL7 messages |
//! | `tokumei-ingest` | Charts, dispensing receipts, checkup tables (CSV, Parquet, national formats) → typed batches; cp932, 和暦 dates |
//! | `tokumei-link` | Master key, linkage keys, union-find persons, opt-out matching |
//! | `tokumei-transform` | Generalization ladders, pseudonyms, top/bottom coding, rare codes; one file each |
//! | `tokumei-privacy` | Privacy models (k, ℓ, t, average risk) and the optimal lattice search over a histogram of person signatures |
//! | `tokumei-risk` | Re-identification risk from equivalence classes, population uniqueness, SUDA2, simulated attacks |
//! | `tokumei-report` | Atomic release folder, Parquet, run report |
//! | `tokumei` (this crate) | The pipeline and the CLI |
//! | `tokumei-synth` | Seeded synthetic data for tests, benches, `datasets/` |
//!
//! [`run`] takes a validated [`config::Plan`] and returns a [`RunOutcome`]: released (the folder
//! appears whole) or refused ([`Refusal`]: nothing written), with the [`report::RunReport`]
//! either way.
//!
//! ```
//! use tokumei::{RunOptions, Status, config::Plan};
//!
//! // The bundled sample (2,000 synthetic persons) and its pseudonymized profile.
//! let plan = Plan::load("configs/pseudonymized.toml".as_ref()).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let options = RunOptions { out: Some(dir.path().join("release")), ..RunOptions::default() };
//! let outcome = tokumei::run(&plan, &options).unwrap();
//! assert_eq!(outcome.status, Status::Released);
//! assert!(outcome.report.balanced(), "every row written, quarantined, opted out or suppressed");
//! assert!(dir.path().join("release/report.json").exists());
//! ```
#![warn(missing_docs)]

mod anonymize;
mod assess;
mod attack;
mod coding;
mod pipeline;

pub use anonymize::{AnonymizeError, AnonymizeOptions, AnonymizeOutcome, anonymize};
pub use assess::{
    Contribution, PopulationTable, RiskAssessment, RiskError, RiskInput, SUDA_AUTO_BUDGET, SudaOutcome, SudaWhen,
    assess_risk, measure_coded, risk_html, suda_scores_csv,
};
pub use attack::{AnonymeterInput, AttackError, AttackInput, AttackReport, Matching, Normalize, attack, attack_html};

pub use pipeline::{
    EVIDENCE_TOKEN_COLUMNS, LinkageQuality, PipelineError, Refusal, RunOptions, RunOutcome, Status, TOKEN_COLUMNS,
    Truth, clean_leftovers, evaluate_linkage, hash_opt_out_list, load_key, run,
};
pub use tokumei_config as config;
pub use tokumei_core as core;
pub use tokumei_ingest as ingest;
pub use tokumei_link as link;
pub use tokumei_privacy as privacy;
pub use tokumei_report as report;
pub use tokumei_risk as risk;
pub use tokumei_synth as synth;
pub use tokumei_transform as transform;
pub use tokumei_verify as verify;
