//! The released columns of one table: each column's transform as a lazy expression.

use std::collections::BTreeMap;

use polars::prelude::*;
use tokumei_config::{Profile, TablePlan, Transform};
use tokumei_core::PERSON_COLUMN;
use tokumei_link::MasterKey;
use tokumei_report::ColumnTreatment;
use tokumei_transform::{PseudonymKey, RareCodes, TopBottom};

use super::{ORDER_COLUMN, PERSON_INDEX, PipelineError, TOKEN_COLUMNS};

/// What every table of a release is built with.
pub(crate) struct Releaser<'a> {
    pub profile: Profile,
    pub label: &'a str,
    pub master: &'a MasterKey,
    /// Level chosen per quasi-identifier (others use level 0).
    pub levels: &'a BTreeMap<String, usize>,
    /// The person pseudonym, computed from the internal person index.
    pub person_pseudonym: Expr,
}

impl Releaser<'_> {
    /// Builds the release frame of `table` from `frame` (already filtered to released rows), and
    /// records what was done to each column.
    pub fn frame(
        &self,
        table: &TablePlan,
        frame: LazyFrame,
        treatments: &mut Vec<ColumnTreatment>,
    ) -> Result<LazyFrame, PipelineError> {
        release_frame(self, table, frame, treatments)
    }
}

fn release_frame(
    releaser: &Releaser<'_>,
    table: &TablePlan,
    frame: LazyFrame,
    treatments: &mut Vec<ColumnTreatment>,
) -> Result<LazyFrame, PipelineError> {
    let Releaser { profile, label, master, levels, .. } = *releaser;
    let person_pseudonym = releaser.person_pseudonym.clone();
    let name = &table.source.table;
    let mut exprs = Vec::new();
    let mut record = |column: &str, role: String, transform: &str, detail: String| {
        treatments.push(ColumnTreatment {
            table: name.clone(),
            column: column.into(),
            role,
            transform: transform.into(),
            detail,
        });
    };
    match profile {
        Profile::Submission => {
            for token in TOKEN_COLUMNS {
                exprs.push(col(token));
                record(
                    token,
                    "linkage token".into(),
                    "keyed hash",
                    "blake3 keyed hash of normalized key fields (submission key)".into(),
                );
            }
        }
        Profile::Pseudonymized | Profile::Anonymized => {
            exprs.push(person_pseudonym.alias(PERSON_COLUMN));
            record(
                PERSON_COLUMN,
                "person".into(),
                "pseudonym",
                format!("per-release keyed pseudonym of the linked person (label `{label}`)"),
            );
        }
    }
    for column in &table.columns {
        let role = format!("{:?}", column.role).to_lowercase();
        let c = column.name.as_str();
        match &column.transform {
            Transform::Drop => record(c, role, "drop", String::new()),
            Transform::Keep => {
                exprs.push(col(c));
                record(c, role, "keep", String::new());
            }
            Transform::Pseudonym => {
                let key = PseudonymKey::derive(master.expose(), &format!("{label} column {c}"));
                exprs.push(key.expr(c));
                record(c, role, "pseudonym", "per-release keyed pseudonym".into());
            }
            Transform::Generalize(ladder) => {
                let level = levels.get(c).copied().unwrap_or(0);
                exprs.push(ladder.expr(c, level));
                record(c, role, "generalize", ladder.describe(level));
            }
            Transform::RareCode(rule) => {
                let map = RareCodes::plan(rule, frame.clone(), c, PERSON_INDEX)?;
                let (generalized, suppressed) = map.counts();
                exprs.push(map.expr(c));
                record(
                    c,
                    role,
                    "rare-code",
                    format!(
                        "{generalized} values held by < {} persons → {}-character category, {suppressed} suppressed",
                        rule.min_persons, rule.category_chars
                    ),
                );
            }
            Transform::TopBottom(rule) => {
                let bounds = TopBottom::bounds(rule, frame.clone(), c)?;
                exprs.push(bounds.expr(c));
                let show = |b: Option<f64>| b.map_or("open".to_string(), |v| format!("{v}"));
                record(c, role, "top-bottom", format!("lower {}, upper {}", show(bounds.lower), show(bounds.upper)));
            }
        }
    }
    Ok(frame
        .sort_by_exprs([col(ORDER_COLUMN), col(tokumei_core::ROW_COLUMN)], SortMultipleOptions::default())
        .select(exprs))
}
