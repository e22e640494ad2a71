//! The report's stage sections as types: `report.json`'s `stages` object. Each stage that ran
//! fills its section; a refused run's report has the sections of the stages it reached.
//!
//! The sections reuse the types of the crates that compute them (ingest statistics, linkage
//! statistics, an opt-out list's matches, the privacy search's solution, class risk), so a
//! renamed field is a compile error in the renderers, not a silently empty cell. Inside `stages`,
//! keys are written in sorted order at every level, whatever the field order here.
//! `docs/report.md` lists every key, generated from these types.

use std::collections::BTreeMap;

use serde::Serialize;
use tokumei_ingest::{IngestStats, Quarantined};
use tokumei_link::{LinkStats, OptOutMatch};
use tokumei_privacy::{ItemSolution, Solution};
use tokumei_risk::ClassRisk;

/// The stage sections, as far as the run got.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stages {
    /// Per input table: rows read, accepted and quarantined, the quarantine by column and
    /// problem, headers not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<BTreeMap<String, IngestStats>>,
    /// What linkage (名寄せ) did: persons, keys, joins, conflicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkage: Option<LinkStats>,
    /// At a certified producer: every provider's submission read, and how many of its persons
    /// linkage found in another provider's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<ProviderSection>>,
    /// Opt-out (提供停止): every list, every entry's fate by line, rows removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<OptOutSection>,
    /// The privacy model: the levels chosen, the classes, suppression, the guarantee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacySection>,
    /// Re-identification risk of the released persons' classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<ClassRisk>,
}

impl Stages {
    /// Serializes with every object's keys in sorted order, at every level.
    pub(crate) fn serialize_sorted<S: serde::Serializer>(stages: &Stages, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(stages).map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

/// One provider's submission, as the producer read and linked it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderSection {
    /// The provider, as its 提供記録 names it.
    pub provider: String,
    /// The submission's release label.
    pub label: String,
    /// The tables read from it (this run's table names).
    pub tables: Vec<String>,
    /// Rows accepted from those tables.
    pub rows: u64,
    /// Distinct persons among those rows.
    pub persons: u64,
    /// Of those persons, how many linkage found in another provider's submission too.
    pub shared_persons: u64,
}

/// The `opt_out` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OptOutSection {
    /// Per list: what it held and what matched, by line numbers only.
    pub lists: Vec<OptOutListReport>,
    /// Per table and key kind: rows removed (a row counts under every kind its person was matched
    /// by). Absent when the run stopped before opt-out was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_removed_by_key_kind: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Persons removed from at least one table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persons_removed: Option<u64>,
    /// Rows removed per table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_removed: Option<BTreeMap<String, u64>>,
}

/// One opt-out list in the `opt_out` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptOutListReport {
    /// The list's path, as configured.
    pub path: String,
    /// What matching it found; absent when the list could not be read.
    #[serde(flatten)]
    pub matching: Option<ListMatching>,
    /// Entries with a cell that could not be read (any of them refuses the release).
    pub quarantined_entries: u64,
    /// Those entries: line, column, problem (never a value).
    pub quarantine: Vec<Quarantined>,
}

/// How one opt-out list matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListMatching {
    /// `plain` (identifiers) or `tokens` (keyed tokens from `tokumei optout hash`).
    pub kind: String,
    /// `person` (every table), or `provider: <tables>` (only those tables).
    pub scope: String,
    /// Entries, matches, lines and key kinds.
    #[serde(flatten)]
    pub matched: OptOutMatch,
    /// Earliest 申出日 (request date), when the list has one.
    pub requests_from: Option<String>,
    /// Latest 申出日.
    pub requests_to: Option<String>,
}

/// The `privacy` section: the search's solution, the model's settings, items and guarantee.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacySection {
    /// Levels chosen, classes, suppression, what the classes achieve, the search.
    #[serde(flatten)]
    pub solution: Solution,
    /// The k target.
    pub k: u32,
    /// The suppression limit (share of persons).
    pub max_suppression: f64,
    /// The sensitive column (ℓ-diversity, t-closeness), when configured.
    pub sensitive: Option<String>,
    /// Why a suppressed person was suppressed.
    pub suppression_reason: String,
    /// Events (k^m over the items of each class), when event columns are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemsSection>,
    /// The guarantee, measured on the files about to be released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guarantee: Option<GuaranteeSection>,
}

/// The `privacy.items` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemsSection {
    /// Levels chosen, records and items suppressed, support, loss, the item search.
    #[serde(flatten)]
    pub solution: ItemSolution,
    /// Per event column: its released level, in words.
    pub level_names: BTreeMap<String, String>,
    /// What the joint search of relational and item levels did.
    pub joint: JointReport,
}

/// What the joint search of relational and item levels did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointReport {
    /// Whether it ran.
    pub searched: bool,
    /// Why it did not run.
    pub why_not: Option<String>,
    /// Relational candidates evaluated beyond the relational optimum.
    pub candidates_evaluated: u64,
    /// The quasi-identifiers raised, one entry per step.
    pub raised: Vec<String>,
    /// Loss over all quasi-identifying columns at the relational optimum.
    pub loss_at_relational_optimum: f64,
    /// Loss over all quasi-identifying columns at the levels chosen.
    pub loss: f64,
}

impl JointReport {
    /// What the joint search did, in one sentence.
    pub fn sentence(&self) -> String {
        if !self.searched {
            return format!("Joint search not run: {}.", self.why_not.as_deref().unwrap_or("not asked"));
        }
        let mut raised: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &self.raised {
            *raised.entry(name).or_default() += 1;
        }
        let raised: Vec<String> = raised.into_iter().map(|(name, n)| format!("{name} +{n}")).collect();
        if raised.is_empty() {
            format!(
                "Joint search: {} coarser demographic levels were tried with their events; none loses less over all \
                 quasi-identifying columns (loss {:.3}).",
                self.candidates_evaluated, self.loss
            )
        } else {
            format!(
                "Joint search: demographic levels raised ({}) so that more events survive; loss over all \
                 quasi-identifying columns {:.3} instead of {:.3} ({} candidates tried).",
                raised.join(", "),
                self.loss,
                self.loss_at_relational_optimum,
                self.candidates_evaluated
            )
        }
    }
}

/// The `privacy.guarantee` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuaranteeSection {
    /// k over persons.
    pub k: u32,
    /// m: itemsets of up to m events (0: none).
    pub m: usize,
    /// The quasi-identifiers the classes are formed over.
    pub quasi_identifiers: Vec<String>,
    /// The event columns.
    pub events: Vec<String>,
    /// What the released files show.
    pub measured: Measured,
    /// The guarantee in one English sentence.
    pub statement: String,
    /// The guarantee in Japanese.
    pub statement_ja: String,
    /// What the guarantee does not cover.
    pub not_covered: String,
}

/// What the released files show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measured {
    /// Persons released.
    pub persons: u64,
    /// Classes over the quasi-identifiers.
    pub classes: u64,
    /// Smallest class (persons).
    pub min_class: u64,
    /// m checked.
    pub m: usize,
    /// Smallest number of persons of a class sharing a set of up to m items one of them holds
    /// (`None`: no items released, or m = 0).
    pub min_item_support: Option<u64>,
}

impl Measured {
    /// Whether the release meets k and k^m.
    pub fn meets(&self, k: u64) -> bool {
        (self.persons == 0 || self.min_class >= k) && self.min_item_support.is_none_or(|s| s >= k)
    }
}
