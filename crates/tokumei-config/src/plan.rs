//! Validation: wire TOML → typed [`Plan`], reporting every problem at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use tokumei_core::normalize::{CivilDate, parse_date};
use tokumei_core::{LinkField, Role, ValueType};
use tokumei_ingest::{ColumnSpec, Format, Source, TextEncoding};
use tokumei_link::{ConflictRule, LinkColumns};
use tokumei_privacy::{Closeness, Diversity, Metric, PrivacyModel, SearchOptions};
use tokumei_transform::{
    AgeBands, DateLevel, DrugLevel, FacilityLevel, Generalizer, Icd10Level, Intervals, RareCodes, TopBottom,
};

use crate::wire::{
    ColumnToml, ConfigToml, InputToml, OptOutScope, OptOutToml, PrivacyToml, Profile, SchemaToml, TransformToml,
};

/// Rows per ingest batch.
const BATCH_ROWS: usize = 64 * 1024;

/// One problem in a configuration. Several are reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: file and TOML path, e.g. `anonymized.toml: input[0].column[3]`.
    pub at: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// One or more problems.
    #[error("{} problem(s) in the configuration:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// What happens to one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Kept as is.
    Keep,
    /// Removed.
    Drop,
    /// Per-release keyed pseudonym.
    Pseudonym,
    /// Generalized (level chosen by the privacy search for quasi-identifiers, else level 0).
    Generalize(Generalizer),
    /// Rare codes → category or suppressed.
    RareCode(RareCodes),
    /// Quantile top/bottom coding.
    TopBottom(TopBottom),
    /// Quantile top/bottom coding per value of another column (a lab test's code).
    TopBottomBy {
        /// The quantiles.
        rule: TopBottom,
        /// The grouping column.
        by: String,
    },
}

impl Transform {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Keep => "keep",
            Transform::Drop => "drop",
            Transform::Pseudonym => "pseudonym",
            Transform::Generalize(_) => "generalize",
            Transform::RareCode(_) => "rare-code",
            Transform::TopBottom(_) | Transform::TopBottomBy { .. } => "top-bottom",
        }
    }
}

/// One column of a table, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    /// Canonical name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Cell type.
    pub value_type: ValueType,
    /// Treatment.
    pub transform: Transform,
    /// Whether the treatment came from the config (else the profile default).
    pub explicit: bool,
    /// Why the column may be released although it looks like free text or identifiers.
    pub reason: Option<String>,
}

/// One input table, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    /// What ingest reads.
    pub source: Source,
    /// For a provider's submission: its folder (`source.path` is the table's file in it), which
    /// must be opened whole, with this producer's token key, before it is read.
    pub submission: Option<PathBuf>,
    /// Columns in file order.
    pub columns: Vec<ColumnPlan>,
    /// Link fields of the table.
    pub link: LinkColumns,
    /// Whether the input may have no data rows.
    pub allow_empty: bool,
    /// Largest fraction of rows that may be quarantined, and of a column's values a transform
    /// may fail to read.
    pub max_quarantine: f64,
}

/// Default largest fraction of a table's rows that may be quarantined.
pub const MAX_QUARANTINE: f64 = 0.01;
/// Default largest cell, in bytes.
pub const MAX_CELL_BYTES: usize = 64 * 1024;

/// One opt-out list, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOutPlan {
    /// The entries.
    pub list: OptOutList,
    /// The tables an entry's opt-out covers; `None` = every table (the whole person).
    pub tables: Option<Vec<String>>,
}

/// Where an opt-out list's entries come from.
#[derive(Debug, Clone, PartialEq)]
pub enum OptOutList {
    /// A list of identifying fields, read like an input.
    Plain {
        /// What ingest reads.
        source: Source,
        /// Link fields of the list.
        link: LinkColumns,
    },
    /// A token list (`tokumei optout hash`).
    Tokens(PathBuf),
}

impl OptOutPlan {
    /// The list's file.
    pub fn path(&self) -> &Path {
        match &self.list {
            OptOutList::Plain { source, .. } => &source.path,
            OptOutList::Tokens(path) => path,
        }
    }

    /// Whether an entry of this list removes the person's rows of `table`.
    pub fn covers(&self, table: &str) -> bool {
        self.tables.as_ref().is_none_or(|tables| tables.iter().any(|t| t == table))
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The config file.
    pub config_path: PathBuf,
    /// Profile.
    pub profile: Profile,
    /// Release label.
    pub label: String,
    /// Date ages are computed at.
    pub reference_date: Option<CivilDate>,
    /// Provision date recorded in the report.
    pub date: CivilDate,
    /// Output folder.
    pub out: PathBuf,
    /// Recipient (provision record).
    pub recipient: Option<String>,
    /// Provider (provision record).
    pub provider: Option<String>,
    /// Key source.
    pub key: KeySource,
    /// The certified producer's token key file (submission profile).
    pub token_key: Option<PathBuf>,
    /// Tables.
    pub tables: Vec<TablePlan>,
    /// Opt-out lists.
    pub opt_outs: Vec<OptOutPlan>,
    /// The privacy model and search (anonymized profile).
    pub privacy: Option<PrivacyPlan>,
    /// Linkage conflict rule.
    pub conflict_rule: ConflictRule,
    /// The run ledger to append to, if any (`[records] ledger`).
    pub ledger: Option<PathBuf>,
    /// Permissions of the release's files (`release.mode`; 0o600 by default).
    pub file_mode: u32,
    /// Whether the verifier checks the finished release before it is moved into place.
    pub verify: bool,
}

/// The privacy step of an anonymized release.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyPlan {
    /// The model (k, ℓ, t, average risk, suppression limit).
    pub model: PrivacyModel,
    /// Sensitive column for ℓ-diversity and t-closeness.
    pub sensitive: Option<String>,
    /// Metric and budgets.
    pub search: SearchOptions,
    /// Per quasi-identifier: lowest and highest level the search may choose.
    pub levels: BTreeMap<String, (usize, usize)>,
    /// How many of a person's items an attacker may know ((k, k^m)); 0 = quasi-identifiers only.
    pub m: usize,
}

/// A privacy setting that cannot be used; each names the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A metric name the search does not know.
    #[error("unknown metric `{0}` (loss, precision, discernibility, aecs, entropy)")]
    UnknownMetric(String),
    /// A time budget that is not a positive number of seconds.
    #[error("time-budget must be a positive number of seconds (got {0})")]
    TimeBudget(f64),
    /// The model's numbers are out of range.
    #[error("{0}")]
    Model(String),
    /// ℓ or t without a sensitive column, or the other way round.
    #[error("`l` and `t` need a `sensitive` column, and a `sensitive` column needs `l` or `t`")]
    Sensitive,
    /// m above what the item search can afford.
    #[error(
        "m = {0}: an attacker knowing more than 4 items is searched at a cost that grows as items^m; use at most 4"
    )]
    TooManyItems(usize),
    /// An ℓ-diversity variant or c without l.
    #[error("an ℓ-diversity variant or c without l")]
    VariantWithoutL,
    /// ℓ that must be whole and is not.
    #[error("l must be a whole number ≥ 1 (got {0})")]
    NotWhole(f64),
    /// An ℓ-diversity variant this search does not know.
    #[error("unknown ℓ-diversity variant `{0}` (distinct, entropy, recursive)")]
    UnknownVariant(String),
    /// A t-closeness distance without t.
    #[error("a t-closeness distance without t")]
    DistanceWithoutT,
    /// A t-closeness distance this search does not know.
    #[error("unknown t-closeness distance `{0}` (equal, ordered)")]
    UnknownDistance(String),
}

/// The `[privacy]` section as a plan; an error names the bad setting.
pub fn privacy_plan(wire: Option<&PrivacyToml>) -> Result<PrivacyPlan, ModelError> {
    let default = PrivacyToml {
        k: None,
        max_suppression: None,
        m: None,
        metric: None,
        average_risk: None,
        sensitive: None,
        l: None,
        l_variant: None,
        c: None,
        t: None,
        t_distance: None,
        max_optimal_lattice: None,
        node_budget: None,
        time_budget: None,
        levels: BTreeMap::new(),
    };
    let p = wire.unwrap_or(&default);
    let mut search = SearchOptions::default();
    if let Some(name) = &p.metric {
        search.metric = Metric::parse(name).ok_or_else(|| ModelError::UnknownMetric(name.clone()))?;
    }
    search.max_optimal_lattice = p.max_optimal_lattice.unwrap_or(search.max_optimal_lattice);
    search.node_budget = p.node_budget.unwrap_or(search.node_budget);
    if let Some(seconds) = p.time_budget {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(ModelError::TimeBudget(seconds));
        }
        search.time_budget = Some(std::time::Duration::from_secs_f64(seconds));
    }
    let model = PrivacyModel {
        k: p.k.unwrap_or(5),
        diversity: diversity(p.l, p.l_variant.as_deref(), p.c)?,
        closeness: closeness(p.t, p.t_distance.as_deref())?,
        average_risk: p.average_risk,
        max_suppression: p.max_suppression.unwrap_or(0.05),
    }
    .validated()
    .map_err(|e| ModelError::Model(e.to_string()))?;
    if model.needs_sensitive() != p.sensitive.is_some() {
        return Err(ModelError::Sensitive);
    }
    let levels = p.levels.iter().map(|(c, &[lo, hi])| (c.clone(), (lo, hi))).collect();
    let m = p.m.unwrap_or(2);
    if m > 4 {
        return Err(ModelError::TooManyItems(m));
    }
    Ok(PrivacyPlan { model, sensitive: p.sensitive.clone(), search, levels, m })
}

/// ℓ-diversity from its settings (`l`, variant name, `c`).
pub fn diversity(l: Option<f64>, variant: Option<&str>, c: Option<f64>) -> Result<Option<Diversity>, ModelError> {
    let Some(l) = l else {
        return match variant.or(c.map(|_| "c")) {
            Some(_) => Err(ModelError::VariantWithoutL),
            None => Ok(None),
        };
    };
    let whole = || if l.fract() == 0.0 && l >= 1.0 { Ok(l as u32) } else { Err(ModelError::NotWhole(l)) };
    match variant.unwrap_or("distinct") {
        "distinct" => Ok(Some(Diversity::Distinct { l: whole()? })),
        "entropy" => Ok(Some(Diversity::Entropy { l })),
        "recursive" => Ok(Some(Diversity::Recursive { c: c.unwrap_or(3.0), l: whole()? })),
        other => Err(ModelError::UnknownVariant(other.to_string())),
    }
}

/// t-closeness from its settings (`t`, distance name).
pub fn closeness(t: Option<f64>, distance: Option<&str>) -> Result<Option<Closeness>, ModelError> {
    match (t, distance.unwrap_or("equal")) {
        (None, _) if distance.is_some() => Err(ModelError::DistanceWithoutT),
        (None, _) => Ok(None),
        (Some(t), "equal") => Ok(Some(Closeness::Equal { t })),
        (Some(t), "ordered") => Ok(Some(Closeness::Ordered { t })),
        (Some(_), other) => Err(ModelError::UnknownDistance(other.to_string())),
    }
}

impl Plan {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Plan, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        Plan::from_toml(&text, path)
    }

    /// Validates TOML `text` as if read from `path` (relative paths resolve against its folder).
    pub fn from_toml(text: &str, path: &Path) -> Result<Plan, Error> {
        let shown = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let wire: ConfigToml = toml::from_str(text).map_err(|e| {
            let at = match e.span() {
                Some(span) => format!("{shown}, line {}", text[..span.start].matches('\n').count() + 1),
                None => shown.clone(),
            };
            Error::Invalid(vec![Problem { at, message: e.message().to_string() }])
        })?;
        let mut v = Validator {
            file: shown,
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            problems: Vec::new(),
            max_cell_bytes: MAX_CELL_BYTES,
        };
        let plan = v.plan(wire, path);
        if v.problems.is_empty() { Ok(plan) } else { Err(Error::Invalid(v.problems)) }
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.source.table == name)
    }

    /// The quasi-identifiers persons are classed by: columns with the quasi-identifier role that
    /// are kept or generalized, and direct identifiers released generalized (an address cut back
    /// to its prefecture is a quasi-identifier), each once, in table and column order. A valid
    /// plan gives a name one ladder in every table.
    pub fn quasi_identifiers(&self) -> Vec<ModelColumn> {
        model_columns(&self.tables, ModelRole::QuasiIdentifier).0
    }

    /// The event columns (role `event`, kept or generalized): each record's are one of its
    /// person's items.
    pub fn event_columns(&self) -> Vec<ModelColumn> {
        model_columns(&self.tables, ModelRole::Event).0
    }
}

/// A column the privacy model reads, with the ladder it is released on.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelColumn {
    /// Canonical name (one column in each table that has it).
    pub name: String,
    /// Its ladder (`Identity` when kept as is).
    pub ladder: Generalizer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ModelRole {
    QuasiIdentifier,
    Event,
}

/// The columns of `tables` the privacy model reads in `role`, and the names given different
/// ladders in different tables.
fn model_columns(tables: &[TablePlan], role: ModelRole) -> (Vec<ModelColumn>, Vec<String>) {
    let mut columns: Vec<ModelColumn> = Vec::new();
    let mut conflicts = Vec::new();
    for table in tables {
        for column in &table.columns {
            let wanted = match role {
                ModelRole::QuasiIdentifier => column.role == Role::QuasiIdentifier,
                ModelRole::Event => column.role == Role::Event,
            };
            let ladder = match (&column.transform, column.role) {
                (Transform::Keep, _) if wanted => Generalizer::Identity,
                (Transform::Generalize(g), _) if wanted => g.clone(),
                (Transform::Generalize(g), Role::DirectIdentifier) if role == ModelRole::QuasiIdentifier => g.clone(),
                _ => continue,
            };
            match columns.iter().find(|c| c.name == column.name) {
                Some(existing) if existing.ladder != ladder => {
                    if !conflicts.contains(&column.name) {
                        conflicts.push(column.name.clone());
                    }
                }
                Some(_) => {}
                None => columns.push(ModelColumn { name: column.name.clone(), ladder }),
            }
        }
    }
    (columns, conflicts)
}

struct Validator {
    file: String,
    base: PathBuf,
    problems: Vec<Problem>,
    /// `[ingest] max-cell-bytes`, given to every source.
    max_cell_bytes: usize,
}

impl Validator {
    fn problem(&mut self, at: impl std::fmt::Display, message: impl Into<String>) {
        self.problems.push(Problem { at: format!("{}: {at}", self.file), message: message.into() });
    }

    /// `path` relative to the config's folder, with `..` folded lexically (`configs/../out` →
    /// `out`) so messages show plain paths.
    fn resolve(&self, path: &Path) -> PathBuf {
        let joined = if path.is_absolute() { path.to_path_buf() } else { self.base.join(path) };
        let mut out = PathBuf::new();
        for component in joined.components() {
            match component {
                Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    /// A fraction in [0, 1].
    fn fraction(&mut self, at: &str, value: f64) {
        if !(0.0..=1.0).contains(&value) {
            self.problem(at, format!("must be a fraction between 0 and 1 (got {value})"));
        }
    }

    fn date(&mut self, at: &str, raw: Option<&str>) -> Option<CivilDate> {
        let raw = raw?;
        match parse_date(raw) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(at, format!("{e}"));
                None
            }
        }
    }

    fn plan(&mut self, wire: ConfigToml, path: &Path) -> Plan {
        let release = &wire.release;
        if release.label.trim().is_empty() {
            self.problem("release.label", "must not be empty: pseudonyms are keyed per label");
        }
        let reference_date = self.date("release.reference-date", release.reference_date.as_deref());
        let date = self.date("release.date", release.date.as_deref()).or(reference_date).unwrap_or(CivilDate {
            year: 1970,
            month: 1,
            day: 1,
        });
        let out = match &release.out {
            Some(out) => self.resolve(out),
            None => self.resolve(&Path::new("out").join(release.label.replace(['/', '\\', ' '], "_"))),
        };
        let file_mode = self.file_mode(release.mode.as_deref());
        let key = match (&wire.key.file, &wire.key.env) {
            (Some(file), None) => KeySource::File(self.resolve(file)),
            (None, Some(env)) => KeySource::Env(env.clone()),
            _ => {
                self.problem("key", "set exactly one of `file` or `env`");
                KeySource::Env(String::new())
            }
        };
        let reads_submissions = wire.input.iter().any(|i| i.format == Some(Format::Submission));
        let token_key = match (release.profile, &wire.key.token) {
            (Profile::Submission, Some(file)) => Some(self.resolve(file)),
            (Profile::Submission, None) => {
                self.problem(
                    "key.token",
                    "required by the submission profile: the token key file your certified producer issued \
                     (`tokumei keygen --token-key`), so that it can link your tokens with other providers'",
                );
                None
            }
            (_, Some(file)) if reads_submissions => Some(self.resolve(file)),
            (_, None) if reads_submissions => {
                self.problem(
                    "key.token",
                    "required to read submissions: the token key you issued to your providers \
                     (`tokumei keygen --token-key`), which their tokens are keyed with",
                );
                None
            }
            (_, Some(_)) => {
                self.problem(
                    "key.token",
                    "a token key keys a submission's tokens or reads them; this config writes none and reads none",
                );
                None
            }
            (_, None) => None,
        };
        let privacy = match (release.profile, &wire.privacy) {
            (Profile::Anonymized, p) => match privacy_plan(p.as_ref()) {
                Ok(plan) => Some(plan),
                Err(e) => {
                    self.problem("privacy", e.to_string());
                    None
                }
            },
            (_, Some(_)) => {
                self.problem("privacy", "privacy models apply to the anonymized profile only");
                None
            }
            (_, None) => None,
        };
        if wire.input.is_empty() {
            self.problem("input", "at least one [[input]] is required");
        }
        let mut names = BTreeSet::new();
        let mut used_transforms = BTreeSet::new();
        let mut tables = Vec::new();
        let ingest = wire.ingest.as_ref();
        let max_quarantine = ingest.and_then(|i| i.max_quarantine).unwrap_or(MAX_QUARANTINE);
        self.fraction("ingest.max-quarantine", max_quarantine);
        self.max_cell_bytes = ingest.and_then(|i| i.max_cell_bytes).unwrap_or(MAX_CELL_BYTES);
        if self.max_cell_bytes == 0 {
            self.problem("ingest.max-cell-bytes", "must be at least 1");
        }
        for (i, input) in wire.input.iter().enumerate() {
            if !names.insert(input.name.clone()) {
                self.problem(format!("input[{i}].name"), "table names must be unique");
            }
            let ctx =
                TableContext { profile: release.profile, reference_date, privacy: privacy.as_ref(), max_quarantine };
            if let Some(table) = self.table(i, input, &wire.transform, &mut used_transforms, ctx) {
                tables.push(table);
            }
        }
        for key in wire.transform.keys() {
            if !used_transforms.contains(key) {
                self.problem(
                    format!("transform.{key}"),
                    "names no column of any input (use `column` or `table.column`)",
                );
            }
        }
        let opt_outs = wire.opt_out.iter().enumerate().filter_map(|(i, o)| self.opt_out(i, o, &names)).collect();
        if let Some(privacy) = &privacy {
            self.model_columns(&tables, privacy);
        }
        Plan {
            config_path: path.to_path_buf(),
            profile: release.profile,
            label: release.label.clone(),
            reference_date,
            date,
            out,
            recipient: release.recipient.clone(),
            provider: release.provider.clone(),
            key,
            token_key,
            tables,
            opt_outs,
            privacy,
            conflict_rule: wire.linkage.as_ref().and_then(|l| l.conflict).unwrap_or_default(),
            ledger: wire.records.as_ref().and_then(|r| r.ledger.as_deref()).map(|p| self.resolve(p)),
            file_mode,
            verify: release.verify.unwrap_or(true),
        }
    }

    /// What the privacy model reads must be consistent before any data is read: one ladder per
    /// quasi-identifier and event name, level bounds only for quasi-identifiers, and a sensitive
    /// column that exists and is released as it is.
    fn model_columns(&mut self, tables: &[TablePlan], privacy: &PrivacyPlan) {
        for (role, what) in [(ModelRole::QuasiIdentifier, "quasi-identifier"), (ModelRole::Event, "event column")] {
            for name in model_columns(tables, role).1 {
                self.problem(
                    format!("column `{name}`"),
                    format!(
                        "{what} `{name}` has different transforms in different tables; persons could not be classed \
                         consistently"
                    ),
                );
            }
        }
        let quasi_identifiers = model_columns(tables, ModelRole::QuasiIdentifier).0;
        for name in privacy.levels.keys() {
            if !quasi_identifiers.iter().any(|q| &q.name == name) {
                self.problem("privacy.levels", format!("names `{name}`, which is not a quasi-identifier"));
            }
        }
        let Some(sensitive) = &privacy.sensitive else { return };
        let mut found = false;
        for table in tables {
            let Some(column) = table.columns.iter().find(|c| &c.name == sensitive) else { continue };
            found = true;
            if !matches!(column.transform, Transform::Keep) {
                self.problem(
                    "privacy.sensitive",
                    format!(
                        "`{sensitive}` is transformed in table `{}` ({:?}); ℓ-diversity and t-closeness hold only for \
                         values released as they are, so give it `kind = \"keep\"`",
                        table.source.table, column.transform
                    ),
                );
            }
        }
        if !found {
            self.problem("privacy.sensitive", format!("names `{sensitive}`, which no table has"));
        }
    }

    /// `release.mode`: octal, owner read + write, group/others read at most.
    fn file_mode(&mut self, raw: Option<&str>) -> u32 {
        const DEFAULT: u32 = 0o600;
        let Some(raw) = raw else { return DEFAULT };
        let digits = raw.trim().trim_start_matches("0o");
        match u32::from_str_radix(digits, 8) {
            Ok(mode) if mode & !0o644 == 0 && mode & 0o600 == 0o600 => mode,
            Ok(_) => {
                self.problem(
                    "release.mode",
                    format!(
                        "`{raw}` is not allowed: the owner must read and write (6), a group or others may only read (4 \
                         or 0), and no file is executable; e.g. \"0600\" or \"0640\""
                    ),
                );
                DEFAULT
            }
            Err(_) => {
                self.problem("release.mode", format!("`{raw}` is not an octal file mode such as \"0600\" or \"0640\""));
                DEFAULT
            }
        }
    }

    fn columns(
        &mut self,
        at: &str,
        schema: &Option<PathBuf>,
        inline: &Option<Vec<ColumnToml>>,
    ) -> Option<Vec<ColumnToml>> {
        match (schema, inline) {
            (Some(schema), None) => {
                let path = self.resolve(schema);
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        self.problem(format!("{at}.schema"), format!("cannot read {}: {e}", path.display()));
                        return None;
                    }
                };
                match toml::from_str::<SchemaToml>(&text) {
                    Ok(s) => Some(s.column),
                    Err(e) => {
                        let line = e.span().map_or(0, |s| text[..s.start].matches('\n').count() + 1);
                        self.problem(
                            format!("{at}.schema"),
                            format!("{}, line {line}: {}", path.display(), e.message()),
                        );
                        None
                    }
                }
            }
            (None, Some(columns)) => Some(columns.clone()),
            _ => {
                self.problem(at, "set exactly one of `schema` or `column`");
                None
            }
        }
    }

    fn source(&mut self, at: &str, table: &str, file: FileSpec<'_>, columns: &[ColumnToml]) -> Source {
        let FileSpec { path, format, encoding, delimiter, extract } = file;
        let path = self.resolve(path);
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        let format = format.unwrap_or(match extension.as_deref() {
            Some("parquet") => Format::Parquet,
            Some("uke") => Format::Uke,
            _ => Format::Csv,
        });
        let offered = tokumei_ingest::national::tables(format);
        let path = match (format, extract) {
            (Format::Submission, Some(name)) => path.join(format!("{name}.parquet")),
            (Format::Submission, None) => {
                self.problem(
                    format!("{at}.extract"),
                    "required for a submission: the table to read, e.g. \"charts\" (its file charts.parquet)",
                );
                path
            }
            _ => path,
        };
        match (extract, offered.is_empty()) {
            _ if format == Format::Submission => {}
            (Some(_), true) => self.problem(
                format!("{at}.extract"),
                "only the national formats (uke, cda, ss-mix2) and submissions have tables to extract",
            ),
            (None, false) => {
                let names: Vec<&str> = offered.iter().map(|t| t.name).collect();
                self.problem(format!("{at}.extract"), format!("required for this format: one of {}", names.join(", ")));
            }
            (Some(name), false) => {
                if let Err(e) = tokumei_ingest::national::table(format, name) {
                    self.problem(format!("{at}.extract"), e.to_string());
                }
            }
            (None, true) => {}
        }
        let delimiter = match delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(_) => {
                self.problem(format!("{at}.delimiter"), "must be one ASCII character, e.g. \",\" or \"\\t\"");
                b','
            }
        };
        let mut seen_names = BTreeSet::new();
        let mut seen_headers = BTreeSet::new();
        for (j, c) in columns.iter().enumerate() {
            if !seen_names.insert(c.name.as_str()) {
                self.problem(format!("{at}.column[{j}].name"), format!("column `{}` is defined twice", c.name));
            }
            if !seen_headers.insert(c.header.as_str()) {
                self.problem(format!("{at}.column[{j}].header"), format!("header of `{}` is mapped twice", c.name));
            }
            if c.name.starts_with("__") || c.name == tokumei_core::PERSON_COLUMN {
                self.problem(format!("{at}.column[{j}].name"), format!("`{}` is reserved", c.name));
            }
        }
        Source {
            table: table.to_string(),
            path,
            format,
            encoding: encoding.unwrap_or(TextEncoding::Utf8),
            delimiter,
            columns: columns
                .iter()
                .map(|c| ColumnSpec {
                    name: c.name.clone(),
                    header: c.header.clone(),
                    value_type: c.value_type.unwrap_or(ValueType::Text),
                    multiline: c.role == Some(Role::FreeText),
                })
                .collect(),
            batch_rows: BATCH_ROWS,
            extract: extract.map(str::to_string),
            max_cell_bytes: self.max_cell_bytes,
        }
    }

    fn link_columns(&mut self, at: &str, columns: &[ColumnToml]) -> LinkColumns {
        let mut link = BTreeMap::new();
        for (j, c) in columns.iter().enumerate() {
            let Some(field) = c.link else { continue };
            let expected = match field {
                LinkField::BirthDate => ValueType::Date,
                LinkField::Sex => ValueType::Sex,
                _ => ValueType::Text,
            };
            let actual = c.value_type.unwrap_or(ValueType::Text);
            if actual != expected {
                self.problem(
                    format!("{at}.column[{j}]"),
                    format!("link field {field:?} needs type `{expected:?}`").to_lowercase(),
                );
            }
            if link.insert(field, c.name.clone()).is_some() {
                self.problem(format!("{at}.column[{j}].link"), format!("two columns carry link field {field:?}"));
            }
        }
        LinkColumns(link)
    }

    fn table(
        &mut self,
        i: usize,
        input: &InputToml,
        transforms: &BTreeMap<String, TransformToml>,
        used: &mut BTreeSet<String>,
        ctx: TableContext,
    ) -> Option<TablePlan> {
        let at = format!("input[{i}]");
        let columns = self.columns(&at, &input.schema, &input.column)?;
        let source = self.source(
            &at,
            &input.name,
            FileSpec {
                extract: input.extract.as_deref(),
                ..FileSpec::of(&input.path, input.format, input.encoding, &input.delimiter)
            },
            &columns,
        );
        let link = self.link_columns(&at, &columns);
        let submission = (source.format == Format::Submission).then(|| self.resolve(&input.path));
        if submission.is_none()
            && let Some(field) = link.0.keys().find(|f| f.is_token())
        {
            self.problem(
                &at,
                format!("link field `{}` is read only from a submission (format = \"submission\")", field.name()),
            );
        }
        let mut plans = Vec::new();
        for (j, c) in columns.iter().enumerate() {
            let col_at = format!("{at}.column[{j}] `{}`", c.name);
            let Some(role) = c.role else {
                self.problem(&col_at, "`role` is required for input columns");
                continue;
            };
            let value_type = c.value_type.unwrap_or(ValueType::Text);
            let qualified = format!("{}.{}", input.name, c.name);
            let (key, wire) = match transforms.get(&qualified) {
                Some(t) => (Some(qualified), Some(t)),
                None => (transforms.get(&c.name).map(|_| c.name.clone()), transforms.get(&c.name)),
            };
            if let Some(key) = &key {
                used.insert(key.clone());
            }
            let transform = match wire {
                Some(w) => self.transform(&col_at, w, value_type, ctx),
                None => Some(default_transform(ctx.profile, role)),
            };
            let Some(transform) = transform else { continue };
            if let Err(message) = allowed(ctx.profile, role, &transform) {
                self.problem(&col_at, message);
            }
            // When and where someone was treated is known to neighbours, employers and
            // pharmacists: calling it insensitive needs a stated reason.
            let event_like = (value_type == ValueType::Date && c.link != Some(LinkField::BirthDate))
                || c.link == Some(LinkField::FacilityCode)
                || matches!(transform, Transform::Generalize(Generalizer::Facility(_)));
            if ctx.profile == Profile::Anonymized && role == Role::Insensitive && event_like && c.reason.is_none() {
                self.problem(
                    &col_at,
                    "a date or facility says when and where a person was treated, which others know: give it \
                     `role = \"event\"`, or a `reason = \"…\"` for releasing it as insensitive",
                );
            }
            // Extreme values are 特異な記述 (④): an anonymized release does not carry a number
            // column raw unless the config says so.
            let numeric = matches!(value_type, ValueType::Integer | ValueType::Decimal);
            if ctx.profile == Profile::Anonymized
                && wire.is_none()
                && numeric
                && matches!(role, Role::Sensitive | Role::Insensitive)
            {
                self.problem(
                    &col_at,
                    "numbers would be released raw, extremes included (特異な記述): give it a `top-bottom` \
                     transform (with `by = \"<test code column>\"` in a long table of results), or `keep` to \
                     release it as it is",
                );
            }
            plans.push(ColumnPlan {
                name: c.name.clone(),
                role,
                value_type,
                transform,
                explicit: wire.is_some(),
                reason: c.reason.clone(),
            });
        }
        for (j, plan) in plans.iter().enumerate() {
            if let Transform::TopBottomBy { by, .. } = &plan.transform
                && !columns.iter().any(|c| &c.name == by)
            {
                self.problem(
                    format!("{at}.column[{j}] `{}`", plan.name),
                    format!("top-bottom `by` names `{by}`, which is not a column of this input"),
                );
            }
        }
        let max_quarantine = input.max_quarantine.unwrap_or(ctx.max_quarantine);
        self.fraction(&format!("{at}.max-quarantine"), max_quarantine);
        Some(TablePlan {
            source,
            submission,
            columns: plans,
            link,
            allow_empty: input.allow_empty.unwrap_or(false),
            max_quarantine,
        })
    }

    /// A ladder's levels (or its default): non-empty, finest first, no repeats.
    fn levels<T: Copy + PartialEq>(
        &mut self,
        at: &str,
        kind: &str,
        wire: &Option<Vec<T>>,
        order: &[T],
        default: &[T],
    ) -> Option<Vec<T>> {
        let levels = wire.clone().unwrap_or_else(|| default.to_vec());
        let positions: Vec<usize> = levels.iter().filter_map(|l| order.iter().position(|o| o == l)).collect();
        if levels.is_empty() || positions.windows(2).any(|w| w[0] >= w[1]) {
            self.problem(at, format!("{kind} levels must be listed finest first, without repeats"));
            return None;
        }
        Some(levels)
    }

    fn transform(
        &mut self,
        at: &str,
        wire: &TransformToml,
        value_type: ValueType,
        ctx: TableContext,
    ) -> Option<Transform> {
        let needs = |types: &[ValueType]| types.contains(&value_type);
        let type_problem = |this: &mut Self, what: &str| {
            this.problem(at, format!("transform `{what}` cannot read a `{value_type:?}` column").to_lowercase());
            None
        };
        let t = match wire {
            TransformToml::Keep => Transform::Keep,
            TransformToml::Drop => Transform::Drop,
            TransformToml::Pseudonym if needs(&[ValueType::Text, ValueType::Integer]) => Transform::Pseudonym,
            TransformToml::Pseudonym => return type_problem(self, "pseudonym"),
            TransformToml::AgeBand { widths, top, bottom } if needs(&[ValueType::Date]) => {
                let Some(reference) = ctx.reference_date else {
                    self.problem(at, "age-band needs release.reference-date");
                    return None;
                };
                let widths = widths.clone().unwrap_or_else(|| vec![5, 10, 20]);
                let top = top.unwrap_or(90);
                let bottom = bottom.unwrap_or(0);
                if widths.is_empty() || widths.contains(&0) || top <= bottom {
                    self.problem(at, "age-band needs non-empty positive widths and top > bottom");
                    return None;
                }
                if widths.windows(2).any(|w| w[1] % w[0] != 0) {
                    self.problem(at, "age-band widths must nest: each a multiple of the one before");
                    return None;
                }
                Transform::Generalize(Generalizer::AgeBand(AgeBands { reference, widths, top, bottom }))
            }
            TransformToml::AgeBand { .. } => return type_problem(self, "age-band"),
            TransformToml::Month if needs(&[ValueType::Date]) => {
                Transform::Generalize(Generalizer::Date(vec![DateLevel::Month, DateLevel::Year]))
            }
            TransformToml::Month => return type_problem(self, "month"),
            TransformToml::Date { levels } if needs(&[ValueType::Date]) => {
                use DateLevel::*;
                let all = [Day, Month, Quarter, Year, FiveYears];
                let levels = self.levels(at, "date", levels, &all, &all)?;
                Transform::Generalize(Generalizer::Date(levels))
            }
            TransformToml::Date { .. } => return type_problem(self, "date"),
            TransformToml::Icd10 { levels } if needs(&[ValueType::Text]) => {
                use Icd10Level::*;
                let all = [Code, Category, Chapter];
                let levels = self.levels(at, "icd10", levels, &all, &all)?;
                Transform::Generalize(Generalizer::Icd10(levels))
            }
            TransformToml::Icd10 { .. } => return type_problem(self, "icd10"),
            TransformToml::Drug { levels } if needs(&[ValueType::Text]) => {
                use DrugLevel::*;
                let levels = self.levels(
                    at,
                    "drug",
                    levels,
                    &[Product, Ingredient, Class, ClassGroup],
                    &[Product, Ingredient, Class],
                )?;
                Transform::Generalize(Generalizer::Drug(levels))
            }
            TransformToml::Drug { .. } => return type_problem(self, "drug"),
            TransformToml::Facility { levels } if needs(&[ValueType::Text]) => {
                use FacilityLevel::*;
                let levels = self.levels(
                    at,
                    "facility",
                    levels,
                    &[Code, PrefectureType, Prefecture, Region],
                    &[Code, PrefectureType],
                )?;
                Transform::Generalize(Generalizer::Facility(levels))
            }
            TransformToml::Facility { .. } => return type_problem(self, "facility"),
            TransformToml::Interval { widths, bottom, top } if needs(&[ValueType::Integer, ValueType::Decimal]) => {
                let intervals = Intervals { widths: widths.clone(), bottom: *bottom, top: *top };
                if let Err(e) = intervals.validate() {
                    self.problem(at, e.to_string());
                    return None;
                }
                Transform::Generalize(Generalizer::Interval(intervals))
            }
            TransformToml::Interval { .. } => return type_problem(self, "interval"),
            TransformToml::Address { levels } if needs(&[ValueType::Text]) => {
                use tokumei_transform::AddressLevel::*;
                let levels = self.levels(
                    at,
                    "address",
                    &Some(levels.clone()),
                    &[Street, Municipality, Prefecture, Region],
                    &[],
                )?;
                Transform::Generalize(Generalizer::Address(levels))
            }
            TransformToml::Address { .. } => return type_problem(self, "address"),
            TransformToml::PostalCode { digits } if needs(&[ValueType::Text]) => {
                let digits = digits.clone().unwrap_or_else(|| vec![3, 1]);
                if digits.is_empty()
                    || digits.iter().any(|&d| d == 0 || d > 7)
                    || digits.windows(2).any(|w| w[0] <= w[1])
                {
                    self.problem(at, "postal-code digits must be between 1 and 7, fewer at each level");
                    return None;
                }
                Transform::Generalize(Generalizer::DigitsPrefix(digits))
            }
            TransformToml::PostalCode { .. } => return type_problem(self, "postal-code"),
            TransformToml::Prefix { chars } if needs(&[ValueType::Text]) => {
                if chars.is_empty() || chars.contains(&0) || chars.windows(2).any(|w| w[0] <= w[1]) {
                    self.problem(at, "prefix needs positive character counts, fewer at each level");
                    return None;
                }
                Transform::Generalize(Generalizer::Prefix(chars.clone()))
            }
            TransformToml::Prefix { .. } => return type_problem(self, "prefix"),
            TransformToml::RareCode { min_persons, category_chars } if needs(&[ValueType::Text]) => {
                let min_persons = min_persons.or(ctx.privacy.map(|p| p.model.k)).unwrap_or(5);
                Transform::RareCode(RareCodes { min_persons, category_chars: category_chars.unwrap_or(3) })
            }
            TransformToml::RareCode { .. } => return type_problem(self, "rare-code"),
            TransformToml::TopBottom { lower, upper, by } if needs(&[ValueType::Integer, ValueType::Decimal]) => {
                let ok = |q: &Option<f64>| q.is_none_or(|q| (0.0..=1.0).contains(&q));
                if !ok(lower) || !ok(upper) || lower.zip(*upper).is_some_and(|(l, u)| l >= u) {
                    self.problem(at, "top-bottom quantiles must lie in 0–1 with lower < upper");
                    return None;
                }
                let rule = TopBottom { lower: *lower, upper: *upper };
                match by {
                    Some(by) => Transform::TopBottomBy { rule, by: by.clone() },
                    None => Transform::TopBottom(rule),
                }
            }
            TransformToml::TopBottom { .. } => return type_problem(self, "top-bottom"),
        };
        Some(t)
    }

    fn opt_out(&mut self, i: usize, o: &OptOutToml, table_names: &BTreeSet<String>) -> Option<OptOutPlan> {
        let at = format!("opt-out[{i}]");
        let tables = match (o.scope.unwrap_or(OptOutScope::Person), &o.provider_tables) {
            (OptOutScope::Person, None) => None,
            (OptOutScope::Provider, Some(tables)) if !tables.is_empty() => {
                for t in tables.iter().filter(|t| !table_names.contains(*t)) {
                    self.problem(format!("{at}.provider-tables"), format!("`{t}` is not an input table"));
                }
                Some(tables.clone())
            }
            (OptOutScope::Person, Some(_)) => {
                self.problem(&at, "`provider-tables` needs `scope = \"provider\"`");
                None
            }
            (OptOutScope::Provider, _) => {
                self.problem(&at, "`scope = \"provider\"` needs `provider-tables`, e.g. [\"charts\"]");
                None
            }
        };
        let path = match (&o.path, &o.tokens) {
            (Some(path), None) => path,
            (None, Some(tokens)) => {
                if o.schema.is_some() || o.column.is_some() || o.encoding.is_some() || o.format.is_some() {
                    self.problem(&at, "a token list takes no `schema`, `column`, `format` or `encoding`");
                }
                return Some(OptOutPlan { list: OptOutList::Tokens(self.resolve(tokens)), tables });
            }
            _ => {
                self.problem(&at, "set exactly one of `path` (a plain list) or `tokens` (a token list)");
                return None;
            }
        };
        let columns = self.columns(&at, &o.schema, &o.column)?;
        for (j, c) in columns.iter().enumerate() {
            if c.link.is_none() && c.name != "request_date" {
                self.problem(format!("{at}.column[{j}]"), "opt-out columns need `link` (or be `request_date`)");
            }
        }
        if o.format.is_some_and(|f| f == Format::Submission || !tokumei_ingest::national::tables(f).is_empty()) {
            self.problem(format!("{at}.format"), "opt-out lists are CSV or Parquet files");
        }
        let file = FileSpec::of(path, o.format, o.encoding, &o.delimiter);
        let source = self.source(&at, &format!("opt-out[{i}]"), file, &columns);
        let link = self.link_columns(&at, &columns);
        if link.0.is_empty() {
            self.problem(&at, "an opt-out list needs at least one column with `link`");
        }
        if let Some(field) = link.0.keys().find(|f| f.is_token()) {
            self.problem(
                &at,
                format!(
                    "link field `{}` is read only from a submission; a provider's token list is `tokens = …`",
                    field.name()
                ),
            );
        }
        Some(OptOutPlan { list: OptOutList::Plain { source, link }, tables })
    }
}

/// The file fields that inputs and opt-out lists share.
struct FileSpec<'a> {
    path: &'a Path,
    format: Option<Format>,
    encoding: Option<TextEncoding>,
    delimiter: &'a Option<String>,
    extract: Option<&'a str>,
}

impl<'a> FileSpec<'a> {
    fn of(
        path: &'a Path,
        format: Option<Format>,
        encoding: Option<TextEncoding>,
        delimiter: &'a Option<String>,
    ) -> Self {
        FileSpec { path, format, encoding, delimiter, extract: None }
    }
}

#[derive(Clone, Copy)]
struct TableContext<'a> {
    profile: Profile,
    reference_date: Option<CivilDate>,
    privacy: Option<&'a PrivacyPlan>,
    max_quarantine: f64,
}

/// The profile's default treatment of a role.
pub fn default_transform(profile: Profile, role: Role) -> Transform {
    match (profile, role) {
        (_, Role::DirectIdentifier | Role::IdentificationCode | Role::FreeText) => Transform::Drop,
        (Profile::Pseudonymized, Role::LinkageIdentifier) => Transform::Pseudonym,
        (_, Role::LinkageIdentifier) => Transform::Drop,
        (_, Role::QuasiIdentifier | Role::Event | Role::Sensitive | Role::Insensitive) => Transform::Keep,
    }
}

/// Whether the law's processing standard allows `transform` for `role` in `profile`.
fn allowed(profile: Profile, role: Role, transform: &Transform) -> Result<(), String> {
    let released = matches!(profile, Profile::Pseudonymized | Profile::Anonymized);
    match (role, transform) {
        (Role::IdentificationCode, t) if released && !matches!(t, Transform::Drop) => {
            Err("個人識別符号 (identification codes) must be deleted in full: use `drop`".into())
        }
        (Role::DirectIdentifier, Transform::Keep | Transform::Pseudonym) if released => {
            Err("direct identifiers cannot be kept or pseudonymized here: use `drop` (or `address` levels)".into())
        }
        (Role::FreeText, t) if released && !matches!(t, Transform::Drop) => {
            Err("free text may carry names and numbers: use `drop`".into())
        }
        (Role::LinkageIdentifier, Transform::Keep) if released => {
            Err("linking codes must be deleted or replaced: use `drop` or `pseudonym`".into())
        }
        _ => Ok(()),
    }
}
