//! Glue between the tables and the privacy engine: person signatures over the quasi-identifiers.
//!
//! One aggregation pass per table (distinct person × quasi-identifier values) builds per-column
//! dictionaries; every ladder level becomes a lookup table over those codes, so the search never
//! touches rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;
use tokumei_config::PrivacyPlan;
use tokumei_core::ROW_COLUMN;
use tokumei_privacy::dictionary::renumber;
use tokumei_privacy::{
    CodedRows, Dictionary, Histogram, ItemModel, ItemSolution, ItemTable, Key, NULL_CODE, QuasiIdentifier, Solution,
    entry_classes, search, search_items,
};
use tokumei_report::JointReport;

use super::staging::StagedTable;
use super::{PERSON_INDEX, PipelineError};
use crate::coding;

/// A quasi-identifier or event column shared by the tables that have it, with its ladder (the
/// plan validator made sure each name has one).
pub(crate) type QiSpec = tokumei_config::ModelColumn;

/// Persons present after opt-out, compacted: `compact[person]` or `u32::MAX`.
pub(crate) struct Present {
    pub compact: Vec<u32>,
    pub persons: Vec<u32>,
}

impl Present {
    /// Persons with at least one row not removed; `removed(table, person)`.
    pub fn new(total_persons: usize, row_person: &[Arc<Vec<u32>>], removed: &dyn Fn(usize, u32) -> bool) -> Present {
        let mut compact = vec![u32::MAX; total_persons];
        let mut persons = Vec::new();
        for (table, rows) in row_person.iter().enumerate() {
            for &p in rows.iter().filter(|&&p| !removed(table, p)) {
                if compact[p as usize] == u32::MAX {
                    compact[p as usize] = persons.len() as u32;
                    persons.push(p);
                }
            }
        }
        Present { compact, persons }
    }
}

/// The privacy engine's input for a run: quasi-identifiers with their ladders, and one coded row
/// per distinct (person, quasi-identifier tuple, sensitive value) with its record count.
pub(crate) struct PersonRows {
    pub qis: Vec<QuasiIdentifier>,
    pub columns: Vec<Vec<u32>>,
    /// Compact person index (see [`Present`]).
    pub units: Vec<u32>,
    pub weights: Vec<u64>,
    /// Sensitive codes (in value order) and the dictionary size.
    pub sensitive: Option<(Vec<u32>, u32)>,
}

impl PersonRows {
    /// The histogram and each compact person's entry.
    pub fn histogram(&self) -> Result<(Histogram, Vec<u32>), PipelineError> {
        let rows = CodedRows {
            columns: &self.columns,
            units: Some(&self.units),
            weights: Some(&self.weights),
            sensitive: self.sensitive.as_ref().map(|(c, n)| (c.as_slice(), *n)),
        };
        Ok(rows.build()?)
    }
}

/// Builds the dictionaries, ladders and coded rows from `frames` (each with `__person` and
/// whichever quasi-identifiers the table has). The sensitive column is read from the tables that
/// have it and at least one quasi-identifier.
pub(crate) fn person_rows(
    specs: &[QiSpec],
    sensitive: Option<&str>,
    levels: &BTreeMap<String, (usize, usize)>,
    frames: &[(StagedTable, Vec<String>)],
    present: &Present,
) -> Result<PersonRows, PipelineError> {
    let width = specs.len();
    let mut dictionaries: Vec<Dictionary<Key>> = vec![Dictionary::default(); width];
    let mut sensitive_dictionary: Dictionary<Key> = Dictionary::default();
    let mut out = PersonRows {
        qis: Vec::new(),
        columns: vec![Vec::new(); width],
        units: Vec::new(),
        weights: Vec::new(),
        sensitive: None,
    };
    let mut sensitive_codes: Vec<u32> = Vec::new();
    for (frame, columns) in frames {
        let qi_columns: Vec<(usize, &String)> = specs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| columns.iter().find(|c| **c == s.name).map(|c| (i, c)))
            .collect();
        if qi_columns.is_empty() {
            continue;
        }
        let sensitive_here = sensitive.filter(|s| columns.iter().any(|c| c == s));
        let mut keys = vec![col(PERSON_INDEX)];
        keys.extend(qi_columns.iter().map(|(_, c)| col(c.as_str())));
        keys.extend(sensitive_here.map(col));
        // Distinct tuples per bucket, then merged: a person's rows lie in several buckets.
        let parts = frame.gather(|f| f.group_by(keys.clone()).agg([len().alias("__records")]))?;
        let distinct = tokumei_core::collect_streaming(parts.lazy().group_by(keys).agg([col("__records").sum()]))?;
        let person = distinct.column(PERSON_INDEX)?.u32()?.clone();
        let records = distinct.column("__records")?.cast(&DataType::UInt64)?;
        let records = records.u64()?;
        let cells: Vec<&Column> = qi_columns.iter().map(|(_, c)| distinct.column(c)).collect::<PolarsResult<_>>()?;
        let sensitive_cells = sensitive_here.map(|s| distinct.column(s)).transpose()?;
        for row in 0..distinct.height() {
            let Some(p) = person.get(row) else { continue };
            let c = present.compact[p as usize];
            if c == u32::MAX {
                continue;
            }
            for (qi, column) in out.columns.iter_mut().enumerate() {
                let code = match qi_columns.iter().position(|(i, _)| *i == qi) {
                    Some(at) => dictionaries[qi].code_or_null(coding::key_of(&cells[at].get(row)?)),
                    None => NULL_CODE,
                };
                column.push(code);
            }
            out.units.push(c);
            out.weights.push(records.get(row).unwrap_or(0));
            if sensitive.is_some() {
                // A missing sensitive value is a value of its own ("unknown").
                let key = match &sensitive_cells {
                    Some(cells) => coding::key_of(&cells.get(row)?),
                    None => None,
                };
                sensitive_codes.push(sensitive_dictionary.code(key.unwrap_or(Key::Missing)));
            }
        }
    }
    // Codes in value order, whatever order the aggregation returned rows in: the same inputs
    // give the same histogram, so the same floating-point sums and the same tie-breaks.
    let mut values: Vec<Vec<Key>> = Vec::with_capacity(width);
    for (qi, dictionary) in dictionaries.into_iter().enumerate() {
        let (base, rank) = dictionary.into_value_order();
        renumber(&mut out.columns[qi], &rank);
        values.push(base);
    }
    if sensitive.is_some() {
        // Codes in value order, for ordered t-closeness.
        let (base, rank) = sensitive_dictionary.into_value_order();
        renumber(&mut sensitive_codes, &rank);
        out.sensitive = Some((sensitive_codes, base.len() as u32));
    }
    out.qis = specs
        .iter()
        .zip(&values)
        .map(|(spec, base)| {
            let qi = coding::ladder_qi(&spec.name, &spec.ladder, base);
            match levels.get(&spec.name) {
                Some(&(lo, hi)) => qi.with_bounds(lo, Some(hi)),
                None => qi,
            }
        })
        .collect();
    Ok(out)
}

/// The item search's input: the event columns' ladders and, per table with event columns, its
/// records (in source row order) with their persons and base codes.
pub(crate) struct EventRows {
    pub columns: Vec<QuasiIdentifier>,
    /// Per table with event columns: its records.
    pub tables: Vec<ItemTable>,
    /// Per table with event columns: the table's index in the plan, and each record's source
    /// row (`__row`).
    pub rows: Vec<(usize, Vec<u64>)>,
}

/// Reads the event columns of `frames` (released rows: opt-outs already left out) into coded
/// records, one pass per table.
pub(crate) fn event_rows(
    specs: &[QiSpec],
    frames: &[(StagedTable, Vec<String>)],
    present: &Present,
) -> Result<EventRows, PipelineError> {
    let mut dictionaries: Vec<Dictionary<Key>> = vec![Dictionary::default(); specs.len()];
    let mut tables = Vec::new();
    let mut source_rows = Vec::new();
    for (t, (frame, columns)) in frames.iter().enumerate() {
        let here: Vec<usize> = (0..specs.len()).filter(|&i| columns.contains(&specs[i].name)).collect();
        if here.is_empty() {
            continue;
        }
        let mut select = vec![col(ROW_COLUMN), col(PERSON_INDEX)];
        select.extend(here.iter().map(|&i| col(specs[i].name.as_str())));
        let rows = frame.gather(|f| f.select(select.clone()))?.sort([ROW_COLUMN], SortMultipleOptions::default())?;
        let row_ids: Vec<u64> = rows.column(ROW_COLUMN)?.u64()?.iter().map(|r| r.unwrap_or(0)).collect();
        let persons: Vec<u32> = rows
            .column(PERSON_INDEX)?
            .u32()?
            .iter()
            .map(|p| p.map_or(u32::MAX, |p| present.compact[p as usize]))
            .collect();
        let mut codes = Vec::with_capacity(here.len());
        for &i in &here {
            let column = rows.column(&specs[i].name)?;
            let mut coded = Vec::with_capacity(rows.height());
            for r in 0..rows.height() {
                coded.push(dictionaries[i].code_or_null(coding::key_of(&column.get(r)?)));
            }
            codes.push(coded);
        }
        tables.push(ItemTable { columns: here, persons, codes });
        source_rows.push((t, row_ids));
    }
    // Codes in value order, in every table holding the column: deterministic item ids.
    let mut values: Vec<Vec<Key>> = Vec::with_capacity(specs.len());
    for (i, dictionary) in dictionaries.into_iter().enumerate() {
        let (base, rank) = dictionary.into_value_order();
        values.push(base);
        for table in &mut tables {
            if let Some(at) = table.columns.iter().position(|&c| c == i) {
                renumber(&mut table.codes[at], &rank);
            }
        }
    }
    let columns =
        specs.iter().zip(&values).map(|(spec, base)| coding::ladder_qi(&spec.name, &spec.ladder, base)).collect();
    Ok(EventRows { columns, tables, rows: source_rows })
}

/// Above this many released persons the joint search keeps the relational optimum: classes are
/// large there, and each candidate costs a whole item search.
pub(crate) const JOINT_MAX_PERSONS: usize = 100_000;
/// Relational candidates the joint search may evaluate beyond the relational optimum.
pub(crate) const JOINT_CANDIDATES: usize = 12;

/// The relational levels and the item levels chosen together.
pub(crate) struct Joint {
    pub solution: Solution,
    pub items: ItemSolution,
    /// What the joint search did, for the report.
    pub report: JointReport,
}

/// What the joint search needs: the relational histogram and each present person's entry, the
/// events, and the models.
pub(crate) struct JointSearch<'a> {
    pub histogram: &'a Histogram,
    pub qis: &'a [QuasiIdentifier],
    pub person_entry: &'a [u32],
    pub events: &'a EventRows,
    pub settings: &'a PrivacyPlan,
}

impl JointSearch<'_> {
    fn item_model(&self) -> ItemModel {
        ItemModel { k: self.settings.model.k, m: self.settings.m, max_suppression: self.settings.model.max_suppression }
    }

    /// The item search within the classes of `solution`.
    fn items_within(&self, solution: &Solution) -> Result<ItemSolution, PipelineError> {
        let class_of_entry = entry_classes(self.histogram, self.qis, &solution.level_vector)?;
        let suppressed: std::collections::HashSet<u32> = solution.suppressed_entries.iter().copied().collect();
        let classes: Vec<u32> = self
            .person_entry
            .iter()
            .map(|e| if suppressed.contains(e) { u32::MAX } else { class_of_entry[*e as usize] })
            .collect();
        Ok(search_items(&classes, &self.events.columns, &self.events.tables, &self.item_model())?)
    }

    /// The relational solution at exactly `levels`.
    fn at(&self, levels: &[usize]) -> Result<Solution, PipelineError> {
        let fixed: Vec<QuasiIdentifier> =
            self.qis.iter().zip(levels).map(|(q, &l)| q.clone().with_bounds(l, Some(l))).collect();
        Ok(search(self.histogram, &fixed, &self.settings.model, &self.settings.search)?)
    }

    /// Loss over every quasi-identifying column, relational and event alike (ARX's Loss, each
    /// column weighing the same), and whether both models hold: the joint search minimizes it,
    /// a met target first.
    fn score(&self, solution: &Solution, items: &ItemSolution) -> Score {
        let (relational, events) = (self.qis.len() as f64, self.events.columns.len() as f64);
        let loss = solution.utility.get("loss").copied().unwrap_or(1.0);
        let combined = (relational * loss + events * items.loss) / (relational + events).max(1.0);
        (!(solution.target_met && items.target_met), combined)
    }

    /// Starting from the relational optimum `first`, climbs one quasi-identifier level at a time
    /// while the loss over all quasi-identifying columns falls: coarser demographics make larger
    /// classes, in which more events survive. Each step tries every quasi-identifier (in order) and
    /// takes the best; ties keep the earlier. At most [`JOINT_CANDIDATES`] candidates, and only up
    /// to [`JOINT_MAX_PERSONS`] released persons; the report says what was done.
    pub fn run(&self, first: Solution) -> Result<Joint, PipelineError> {
        let items = self.items_within(&first)?;
        let start = self.score(&first, &items);
        let persons = first.units.saturating_sub(first.suppressed_units) as usize;
        let mut best = (first, items);
        let mut best_score = start;
        let mut evaluated = 0usize;
        let mut raised: Vec<String> = Vec::new();
        let searched = persons <= JOINT_MAX_PERSONS && self.settings.m > 0;
        while searched && evaluated < JOINT_CANDIDATES {
            let current = best.0.level_vector.clone();
            // The best raise of this step: which quasi-identifier, the levels it gives, its score.
            let mut step: Option<(usize, Candidate, Score)> = None;
            for (i, qi) in self.qis.iter().enumerate() {
                if current[i] >= qi.bounds().1 || evaluated >= JOINT_CANDIDATES {
                    continue;
                }
                let mut levels = current.clone();
                levels[i] += 1;
                evaluated += 1;
                let solution = self.at(&levels)?;
                let items = self.items_within(&solution)?;
                let score = self.score(&solution, &items);
                let better_than_step = step.as_ref().is_none_or(|(_, _, s)| better(score, *s));
                if better(score, best_score) && better_than_step {
                    step = Some((i, (solution, items), score));
                }
            }
            let Some((i, joint, score)) = step else { break };
            raised.push(self.qis[i].name.clone());
            best = joint;
            best_score = score;
        }
        let report = JointReport {
            searched,
            why_not: (!searched).then(|| {
                if self.settings.m == 0 {
                    "m = 0: no items".to_string()
                } else {
                    format!("{persons} released persons > {JOINT_MAX_PERSONS}: the relational optimum is kept")
                }
            }),
            candidates_evaluated: evaluated as u64,
            raised,
            loss_at_relational_optimum: start.1,
            loss: best_score.1,
        };
        let (solution, items) = best;
        Ok(Joint { solution, items, report })
    }
}

/// Relational levels with the item levels chosen within them.
type Candidate = (Solution, ItemSolution);
/// Whether a target is unmet (so `false` sorts first), and the loss over all quasi-identifying
/// columns.
type Score = (bool, f64);

/// Whether score `a` beats `b`: a met target first, then a lower loss (by more than rounding).
fn better(a: Score, b: Score) -> bool {
    (a.0, a.1 + 1e-12) < (b.0, b.1)
}
