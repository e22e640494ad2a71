//! The released columns of one table: each column's transform as a lazy expression.

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;
use tokumei_config::{ColumnPlan, Profile, TablePlan, Transform};
use tokumei_core::{PERSON_COLUMN, ROW_COLUMN, Role};
use tokumei_link::{MasterKey, ReleaseKeys};
use tokumei_report::ColumnTreatment;
use tokumei_transform::{PseudonymKey, RareCodes, TopBottom};

use super::staging::StagedTable;
use super::{EVIDENCE_TOKEN_COLUMNS, PERSON_INDEX, PipelineError, TOKEN_COLUMNS};

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
    /// transforms need (rare-code counts, quantile bounds) are computed over it, from the columns
    /// they read gathered bucket by bucket.
    pub fn columns(
        &self,
        table: &TablePlan,
        frame: &StagedTable,
        item_suppressed: Option<Arc<Vec<bool>>>,
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
        let all_bounds = if rules.is_empty() {
            Vec::new()
        } else {
            let numbers = frame.gather(|f| f.select(rules.iter().map(|(c, _)| col(*c)).collect::<Vec<_>>()))?;
            TopBottom::bounds_of_many(numbers.lazy(), &rules)?
        };
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
                for (token, _) in TOKEN_COLUMNS {
                    exprs.push(col(token));
                    record(
                        token,
                        "linkage token".into(),
                        "keyed hash",
                        "blake3 keyed hash of normalized key fields (the producer's token key)".into(),
                    );
                }
                for token in EVIDENCE_TOKEN_COLUMNS {
                    exprs.push(col(token));
                    record(
                        token,
                        "linkage evidence".into(),
                        "keyed hash",
                        "blake3 keyed hash of the street-level address or the prefecture (the producer's token key)"
                            .into(),
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
                Transform::Keep
                    if (column.role == Role::Event && item_suppressed.is_some())
                        || levels.get(c).is_some_and(|&l| l > 0) =>
                {
                    // Kept, but on its identity ladder: an item whose rare occurrences are
                    // suppressed, or a quasi-identifier the search raised to `*`. Released as text.
                    let level = levels.get(c).copied().unwrap_or(0);
                    let ladder = tokumei_transform::Generalizer::Identity;
                    exprs.push(with_item_suppression(column, ladder.expr(c, level), &item_suppressed));
                    record(c, role, "keep", ladder.describe(level));
                }
                Transform::Keep => {
                    exprs.push(col(c));
                    record(c, role, "keep", String::new());
                }
                Transform::Pseudonym => {
                    let key = PseudonymKey::new(ReleaseKeys::derive(master, label).column_pseudonym(c).bytes());
                    exprs.push(key.expr(c));
                    record(c, role, "pseudonym", "per-release keyed pseudonym".into());
                }
                Transform::Generalize(ladder) => {
                    let level = levels.get(c).copied().unwrap_or(0);
                    exprs.push(with_item_suppression(column, ladder.expr(c, level), &item_suppressed));
                    record(c, role, "generalize", ladder.describe(level));
                }
                Transform::RareCode(rule) => {
                    // Persons per code: the distinct (code, person) pairs are all it counts.
                    let holders = frame
                        .gather(|f| f.select([col(c), col(PERSON_INDEX)]).unique(None, UniqueKeepStrategy::Any))?;
                    let map = RareCodes::plan(rule, holders.lazy(), c, PERSON_INDEX)?;
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
                Transform::TopBottomBy { rule, by } => {
                    let values = frame.gather(|f| f.select([col(c), col(by.as_str())]))?;
                    let bounds = rule.bounds_by(values.lazy(), c, by)?;
                    exprs.push(bounds.expr(c));
                    record(c, role, "top-bottom", bounds.describe());
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
        // Why a column goes out as configured although it looks identifying: recorded.
        for column in table.columns.iter().filter(|c| c.reason.is_some()) {
            if let Some(t) = treatments.iter_mut().rev().find(|t| &t.table == name && t.column == column.name) {
                t.detail.push_str(&format!("; reason: {}", column.reason.as_deref().unwrap_or_default()));
            }
        }
        Ok(exprs)
    }
}

/// Per generalized column of `table`: how many of `frame`'s values its ladder cannot read at
/// the chosen level (a value present, its label missing). Only columns with such values.
pub(crate) fn unreadable_values(
    table: &TablePlan,
    frame: &StagedTable,
    levels: &BTreeMap<String, usize>,
) -> Result<Vec<(String, u64)>, PipelineError> {
    let counts: Vec<Expr> = table
        .columns
        .iter()
        .filter_map(|c| match &c.transform {
            Transform::Generalize(ladder) => {
                // At `*` nothing is read; the coarsest level that shows something says whether the
                // ladder understands the data at all.
                let level = levels.get(&c.name).copied().unwrap_or(0).min(ladder.levels().saturating_sub(2));
                let lost = col(c.name.as_str()).is_not_null().and(ladder.expr(&c.name, level).is_null());
                Some(lost.cast(DataType::UInt64).sum().alias(c.name.as_str()))
            }
            _ => None,
        })
        .collect();
    if counts.is_empty() {
        return Ok(Vec::new());
    }
    // One row of counts per bucket.
    let totals = frame.gather(|f| f.select(counts.clone()))?;
    let mut out = Vec::new();
    for column in totals.columns() {
        let n = column.cast(&DataType::UInt64)?.u64()?.sum().unwrap_or(0);
        if n > 0 {
            out.push((column.name().to_string(), n));
        }
    }
    Ok(out)
}

/// Scans of the released columns a config maps (not tokumei's own pseudonyms and tokens), fed
/// each part of a table as it is written.
pub(crate) struct ReleaseScan<'a> {
    table: &'a TablePlan,
    scans: BTreeMap<String, tokumei_core::scan::ColumnScan>,
}

impl<'a> ReleaseScan<'a> {
    pub fn new(table: &'a TablePlan) -> ReleaseScan<'a> {
        ReleaseScan { table, scans: BTreeMap::new() }
    }

    /// Counts the text columns of one written part, a column per thread.
    pub fn add(&mut self, part: &DataFrame) {
        use rayon::prelude::*;
        let columns: Vec<(&str, &StringChunked)> = self
            .table
            .columns
            .iter()
            .filter(|plan| !matches!(plan.transform, Transform::Drop | Transform::Pseudonym))
            .filter_map(|plan| Some((plan.name.as_str(), part.column(&plan.name).ok()?.str().ok()?)))
            .collect();
        let scanned: Vec<(&str, tokumei_core::scan::ColumnScan)> = columns
            .into_par_iter()
            .map(|(name, text)| {
                let mut scan = tokumei_core::scan::ColumnScan::default();
                for value in text.iter() {
                    scan.add(value);
                }
                (name, scan)
            })
            .collect();
        for (name, scan) in scanned {
            self.scans.entry(name.to_string()).or_default().merge(scan);
        }
    }

    /// Per column: what it holds that must not be released, and the config's reason to keep
    /// it anyway, if any.
    pub fn findings(&self) -> Vec<(String, Vec<tokumei_core::scan::Finding>, Option<String>)> {
        let reason = |column: &str| self.table.columns.iter().find(|c| c.name == column).and_then(|c| c.reason.clone());
        self.scans
            .iter()
            .map(|(column, scan)| (column.clone(), scan.findings(), reason(column)))
            .filter(|(_, findings, _)| !findings.is_empty())
            .collect()
    }
}

/// An event column's expression with the rows whose items were suppressed released as `*`.
fn with_item_suppression(column: &ColumnPlan, expr: Expr, suppressed: &Option<Arc<Vec<bool>>>) -> Expr {
    let Some(flags) = suppressed.clone().filter(|_| column.role == Role::Event) else { return expr };
    let gone = col(ROW_COLUMN).map(
        move |c| {
            let out: BooleanChunked = c.u64()?.iter().map(|r| r.map(|r| flags[r as usize])).collect();
            Ok(out.with_name("gone".into()).into_column())
        },
        |_, _| Ok(Field::new("gone".into(), DataType::Boolean)),
    );
    when(gone).then(lit(tokumei_transform::SUPPRESSED_LABEL)).otherwise(expr).alias(column.name.as_str())
}
