//! Configuration of tokumei: strict TOML wire types (`deny_unknown_fields`), defaults, and a
//! single validation into a typed [`Plan`] that reports every problem at once.
//!
//! Secrets never go in the TOML: `[key]` names a key file or an environment variable.
//!
//! ```
//! use std::path::Path;
//! use tokumei_config::{Error, Plan};
//!
//! // Two problems in one file: both are reported, each at its place.
//! let text = "[release]\nprofile = \"anonymized\"\nlabel = \"\"\nmode = \"0666\"\n[key]\nenv = \"TOKUMEI_KEY\"\n";
//! let Err(Error::Invalid(problems)) = Plan::from_toml(text, Path::new("tokumei.toml")) else { panic!() };
//! let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
//! assert!(shown.iter().any(|p| p.contains("release.label")), "{shown:?}");
//! assert!(shown.iter().any(|p| p.contains("release.mode")), "{shown:?}");
//! ```
#![warn(missing_docs)]

mod plan;
mod wire;

pub use plan::{
    ColumnPlan, Error, KeySource, MAX_CELL_BYTES, MAX_QUARANTINE, ModelColumn, ModelError, OptOutList, OptOutPlan,
    Plan, PrivacyPlan, Problem, TablePlan, Transform, closeness, default_transform, diversity, privacy_plan,
};
pub use wire::{
    ColumnToml, ConfigToml, IngestToml, InputToml, KeyToml, LinkageToml, OptOutScope, OptOutToml, PrivacyToml, Profile,
    ReleaseToml, SchemaToml, TransformToml,
};
