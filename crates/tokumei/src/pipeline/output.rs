//! The released columns of one table: each column's transform as a lazy expression.

use std::collections::BTreeMap;

use polars::prelude::*;
use tokumei_config::{Profile, TablePlan, Transform};
use tokumei_core::PERSON_COLUMN;
use tokumei_link::MasterKey;
use tokumei_report::ColumnTreatment;
use tokumei_transform::{PseudonymKey, RareCodes, TopBottom};

use super::{PERSON_INDEX, PipelineError, TOKEN_COLUMNS};

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
    /// The released columns of `table` as expressions, and a record of what was done to each.
    /// `frame` is the whole table, already filtered to released rows: the aggregates some
    /// transforms need (rare-code counts, quantile bounds) are computed over it.
    pub fn columns(
        &self,
        table: &TablePlan,
        frame: LazyFrame,
        treatments: &mut Vec<ColumnTreatment>,
    ) -> Result<Vec<Expr>, PipelineError> {
        let Releaser { profile, label, master, levels, .. } = *self;
        let person_pseudonym = self.person_pseudonym.clone();
        let name = &table.source.table;
        // All quantile bounds of the table in one pass over it.
        let rules: Vec<(&str, TopBottom)> = table
            .columns
            .iter()
            .filter_map(|c| match &c.transform {
                Transform::TopBottom(rule) => Some((c.name.as_str(), *rule)),
                _ => None,
            })
            .collect();
        let all_bounds = TopBottom::bounds_of_many(frame.clone(), &rules)?;
        let bounds_of = |column: &str| rules.iter().position(|(c, _)| *c == column).map(|i| all_bounds[i]);
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
                Transform::TopBottom(_) => {
                    let bounds = bounds_of(c).expect("computed above for every top-bottom column");
                    exprs.push(bounds.expr(c));
                    let show = |b: Option<f64>| b.map_or("open".to_string(), |v| format!("{v}"));
                    record(
                        c,
                        role,
                        "top-bottom",
                        format!("lower {}, upper {}", show(bounds.lower), show(bounds.upper)),
                    );
                }
            }
        }
        Ok(exprs)
    }
}
