//! Configuration of tokumei: strict TOML wire types (`deny_unknown_fields`), defaults, and a
//! single validation into a typed [`Plan`] that reports every problem at once.
//!
//! Secrets never go in the TOML: `[key]` names a key file or an environment variable.
#![warn(missing_docs)]

mod plan;
mod wire;

pub use plan::{
    ColumnPlan, Error, KeySource, MAX_CELL_BYTES, MAX_QUARANTINE, OptOutList, OptOutPlan, Plan, PrivacyPlan, Problem,
    TablePlan, Transform, closeness, default_transform, diversity, privacy_plan,
};
pub use wire::{
    ColumnToml, ConfigToml, IngestToml, InputToml, KeyToml, LinkageToml, OptOutScope, OptOutToml, PrivacyToml, Profile,
    ReleaseToml, SchemaToml, TransformToml,
};
