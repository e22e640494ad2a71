//! The run: ingest → opt-out & linkage → transform → privacy model → risk → report.
//!
//! Record-level work stays lazy and streams (staged Parquet in, release Parquet out). What must
//! be global is materialized and nothing else: the linkage keys (union-find), one person index
//! per row, and the distinct person × quasi-identifier tuples for the privacy search.

mod destination;
mod encrypted;
mod guarantee;
mod leftovers;
mod linkage_quality;
mod output;
mod privacy;
mod staging;

pub use leftovers::clean as clean_leftovers;
pub use linkage_quality::{LinkageQuality, evaluate_linkage};

/// Reads opt-out list `index` of the plan (a plain list) and returns its token list: the same
/// entries as keyed hashes, so a provider can hand over a list that holds no plain identifier.
pub fn hash_opt_out_list(plan: &Plan, index: usize) -> Result<(String, u64), PipelineError> {
    let list = plan
        .opt_outs
        .get(index)
        .ok_or_else(|| PipelineError::Config(format!("the config has no opt-out list #{index}")))?;
    if matches!(list.list, OptOutList::Tokens(_)) {
        return Err(PipelineError::Config(format!("opt-out list #{index} is already a token list")));
    }
    let master = load_key(&plan.key)?;
    let read = staging::read_opt_outs(list, &ReleaseKeys::derive(&master, &plan.label).link())?;
    // A token list must not carry an entry the producer cannot honour.
    let path = list.path().display().to_string();
    if let Some(refusal) = opt_out_unreadable(&path, &read) {
        return Err(PipelineError::Refused(refusal));
    }
    let unresolved: Vec<tokumei_link::Unresolved> = read
        .entries
        .iter()
        .filter(|e| e.keys.iter().all(Option::is_none))
        .map(|e| tokumei_link::Unresolved { line: e.line, fields: e.fields.clone() })
        .collect();
    if !unresolved.is_empty() {
        return Err(PipelineError::Refused(Refusal::OptOutUnresolved { list: path, entries: unresolved }));
    }
    Ok((staging::token_list(&read.entries), read.stats.rows_quarantined))
}

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polars::prelude::*;
use tokumei_config::{KeySource, OptOutList, Plan, Profile, TablePlan, Transform};
use tokumei_core::{ROW_COLUMN, collect_streaming};
use tokumei_link::{KeyError, KeyKind, Linker, MasterKey, OptOutMatch, ReleaseKeys, match_opt_outs};
use tokumei_report::{
    GuaranteeSection, InputFile, ItemsSection, ListMatching, OptOutListReport, OptOutSection, OutputFile,
    PrivacySection, Release, RunReport, Stages, TableAccount, digest_file,
};
use tokumei_transform::PseudonymKey;

use staging::StagedTable;

/// Internal column: dense person index of a row.
pub(crate) const PERSON_INDEX: &str = "__person";
/// Internal column: keyed shuffle key of a row.
pub(crate) const ORDER_COLUMN: &str = "__order";
/// Submission token columns and their key kinds: K1 insurance, K2 name, K3 local, K1b card +
/// 枝番 (which tells twins on one card apart).
pub const TOKEN_COLUMNS: [(&str, KeyKind); 4] = [
    ("token_insurance", KeyKind::Insurance),
    ("token_name", KeyKind::Name),
    ("token_local", KeyKind::Local),
    ("token_card_branch", KeyKind::CardBranch),
];

/// Errors that stop a run (exit code 2; exit 1 for [`PipelineError::Refused`]).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The output folder cannot take a release (it holds what tokumei did not write, or an input).
    #[error("{0}")]
    Destination(String),
    /// A command that writes no release refused its input (exit 1), as a run would.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The master key could not be loaded.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// An input was rejected.
    #[error(transparent)]
    Ingest(#[from] tokumei_ingest::Error),
    /// Writing the release.
    #[error(transparent)]
    Report(#[from] tokumei_report::Error),
    /// The privacy engine rejected its input.
    #[error(transparent)]
    Privacy(#[from] tokumei_privacy::Error),
    /// A data-frame operation failed.
    #[error("data processing: {0}")]
    Polars(#[from] PolarsError),
    /// File system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A configuration problem found while running.
    #[error("configuration: {0}")]
    Config(String),
    /// An input that cannot be used as it is (file, line, column and what was expected).
    #[error("{0}")]
    Input(String),
    /// A token list that is not one `tokumei optout hash` wrote.
    #[error("{path}, line {line}: not a token list line (expected {})", staging::TOKEN_LIST_HEADER)]
    TokenList {
        /// File.
        path: String,
        /// Line.
        line: u64,
    },
    /// Rows do not add up: a bug; no release is written.
    #[error("internal error: rows of table `{0}` do not add up; no release written")]
    Accounting(String),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The release was written.
    Released,
    /// Nothing was written (exit 1), for this reason.
    Refused(Refusal),
}

/// Why a run released nothing. Anything that could put a person who must not be there into a
/// release, or drop a table or values silently, stops it. Each reason reads as one line and
/// names files, lines, tables and columns, never a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The privacy target is not met within the suppression limit.
    PrivacyTargetUnmet,
    /// The final opt-out check found an opted-out person in an output.
    OptOutCheckFailed,
    /// Measured on the assembled release, the guarantee does not hold.
    GuaranteeNotMet {
        /// k.
        k: u32,
        /// m.
        m: usize,
        /// Smallest class of the release.
        min_class: u64,
        /// Smallest support of up to m items within a class.
        min_item_support: Option<u64>,
    },
    /// Opt-out entries that yield no key: they cannot be honoured.
    OptOutUnresolved {
        /// The list.
        list: String,
        /// The entries, by line, with the fields they fill.
        entries: Vec<tokumei_link::Unresolved>,
    },
    /// Opt-out entries with a cell that cannot be read (an unreadable birth date…).
    OptOutUnreadable {
        /// The list.
        list: String,
        /// Their lines (the first 1,000).
        lines: Vec<u64>,
        /// How many.
        entries: u64,
    },
    /// An input with no data rows, and no `allow-empty = true`.
    EmptyInput {
        /// The table.
        table: String,
    },
    /// More of a table's rows quarantined than `max-quarantine` allows (every row, when the
    /// table accepted none).
    Quarantine {
        /// The table.
        table: String,
        /// Rows quarantined.
        quarantined: u64,
        /// Rows read.
        rows: u64,
        /// The limit, a fraction.
        limit: f64,
        /// The largest column × problem group: column, problem, rows.
        worst: Option<(String, String, u64)>,
    },
    /// A column about to be released holds free text or identifiers, and the config gives no
    /// `reason` to keep it.
    Released {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What it holds.
        findings: Vec<tokumei_core::scan::Finding>,
    },
    /// A transform could not read more of a column's values than `max-quarantine` allows.
    TransformFailed {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Values it could not read.
        values: u64,
        /// Rows of the table released.
        rows: u64,
        /// The limit.
        limit: f64,
    },
}

fn percent(part: u64, whole: u64) -> String {
    format!("{:.2} %", 100.0 * part as f64 / whole.max(1) as f64)
}

fn lines_shown(lines: impl IntoIterator<Item = u64>, total: usize) -> String {
    let shown: Vec<String> = lines.into_iter().take(5).map(|l| l.to_string()).collect();
    let more = if total > shown.len() { format!(" and {} more", total - shown.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::PrivacyTargetUnmet => {
                write!(f, "privacy target not met within the suppression limit; no release written")
            }
            Refusal::OptOutCheckFailed => {
                write!(f, "final opt-out check found an opted-out person in an output; no release written")
            }
            Refusal::GuaranteeNotMet { k, m, min_class, min_item_support } => write!(
                f,
                "the assembled release does not meet k = {k}, m = {m} (smallest class {min_class}, smallest item \
                 support {}); no release written",
                min_item_support.map_or("—".to_string(), |s| s.to_string())
            ),
            Refusal::OptOutUnresolved { list, entries } => write!(
                f,
                "opt-out list {list}: {} entr{} cannot be matched to anyone, so {} cannot be honoured: line{} {}                  (line {} {}); an entry needs one of {}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" },
                if entries.len() == 1 { "it" } else { "they" },
                if entries.len() == 1 { "" } else { "s" },
                lines_shown(entries.iter().map(|e| e.line), entries.len()),
                entries[0].line,
                entries[0].explain(),
                tokumei_link::key_requirements()
            ),
            Refusal::OptOutUnreadable { list, lines, entries } => write!(
                f,
                "opt-out list {list}: {entries} entr{} could not be read (line{} {}), so {} cannot be honoured;                  the report lists the column and problem of each",
                if *entries == 1 { "y" } else { "ies" },
                if *entries == 1 { "" } else { "s" },
                lines_shown(lines.iter().copied(), *entries as usize),
                if *entries == 1 { "it" } else { "they" }
            ),
            Refusal::EmptyInput { table } => write!(
                f,
                "input `{table}` has no data rows; if that is expected, set `allow-empty = true` on the input"
            ),
            Refusal::Quarantine { table, quarantined, rows, limit, worst } => {
                if quarantined == rows {
                    write!(f, "input `{table}`: all {rows} rows quarantined, none accepted")?;
                } else {
                    write!(
                        f,
                        "input `{table}`: {quarantined} of {rows} rows quarantined ({}), above max-quarantine {}",
                        percent(*quarantined, *rows),
                        limit
                    )?;
                }
                if let Some((column, problem, n)) = worst {
                    write!(f, "; most often column `{column}`: {problem} ({n} rows)")?;
                }
                Ok(())
            }
            Refusal::Released { table, column, findings } => write!(
                f,
                "table `{table}`, column `{column}` holds {}; drop it, or give the column a `reason = \"…\"` to \
                 release it as it is",
                findings.iter().map(|f| f.describe()).collect::<Vec<_>>().join(" and ")
            ),
            Refusal::TransformFailed { table, column, values, rows, limit } => write!(
                f,
                "table `{table}`, column `{column}`: its transform cannot read {values} of {rows} values ({}), above                  max-quarantine {limit}; check the column's transform against the data",
                percent(*values, *rows)
            ),
        }
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// How it ended.
    pub status: Status,
    /// The report (also written into the release when there is one).
    pub report: RunReport,
    /// Where the release is, when written.
    pub out: Option<PathBuf>,
    /// Where the report of a refused run was written.
    pub refusal_report: Option<PathBuf>,
    /// One line each: what the report details and the run did not stop for (opt-out entries
    /// matching nobody, values a transform could not read). Also in the report.
    pub warnings: Vec<String>,
    /// Wall time per stage, for `-v` (not in the report, which must not depend on the clock).
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

/// Wall-clock time per stage.
#[derive(Default)]
struct Timings {
    stages: Vec<(&'static str, std::time::Duration)>,
    started: Option<(&'static str, std::time::Instant)>,
}

impl Timings {
    fn stage(&mut self, name: &'static str) {
        self.finish();
        self.started = Some((name, std::time::Instant::now()));
    }

    fn finish(&mut self) -> Vec<(&'static str, std::time::Duration)> {
        if let Some((name, start)) = self.started.take() {
            self.stages.push((name, start.elapsed()));
        }
        self.stages.clone()
    }
}

/// Options of a run that are not in the config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output folder instead of the config's.
    pub out: Option<PathBuf>,
    /// Show progress bars on stderr.
    pub progress: bool,
    /// Input bytes per shuffle bucket (memory holds one bucket while writing). Default: 64 MiB.
    pub bucket_bytes: Option<u64>,
}

/// Loads the master key named by the plan.
pub fn load_key(source: &KeySource) -> Result<MasterKey, KeyError> {
    match source {
        KeySource::File(path) => MasterKey::from_file(path),
        KeySource::Env(name) => MasterKey::from_env(name),
    }
}

/// A spinner on stderr counting rows (the number of rows is not known before reading).
fn bar(options: &RunOptions, message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if options.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<24} {human_pos:>12} rows  {per_sec:>14}  {elapsed}")
            .expect("static template"),
    );
    bar.set_message(message);
    if options.progress {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    bar
}

fn person_of_row(rows: Arc<Vec<u32>>) -> Expr {
    col(ROW_COLUMN)
        .map(
            move |c| {
                let out: UInt32Chunked = c.u64()?.iter().map(|r| r.map(|r| rows[r as usize])).collect();
                Ok(out.with_name(PERSON_INDEX.into()).into_column())
            },
            |_, _| Ok(Field::new(PERSON_INDEX.into(), DataType::UInt32)),
        )
        .alias(PERSON_INDEX)
}

fn person_kept(removed: Arc<Vec<bool>>) -> Expr {
    col(PERSON_INDEX).map(
        move |c| {
            let out: BooleanChunked = c.u32()?.iter().map(|p| p.map(|p| !removed[p as usize])).collect();
            Ok(out.with_name("kept".into()).into_column())
        },
        |_, _| Ok(Field::new("kept".into(), DataType::Boolean)),
    )
}

fn person_pseudonym(key: PseudonymKey, representatives: Arc<Vec<u128>>) -> Expr {
    col(PERSON_INDEX).map(
        move |c| {
            let out: StringChunked =
                c.u32()?.iter().map(|p| p.map(|p| key.pseudonym(&representatives[p as usize].to_le_bytes()))).collect();
            Ok(out.with_name(PERSON_INDEX.into()).into_column())
        },
        |_, _| Ok(Field::new(PERSON_INDEX.into(), DataType::String)),
    )
}

fn scan(path: &Path) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())
}

fn distinct_strings(frame: LazyFrame, column: &str) -> PolarsResult<HashSet<String>> {
    let df = collect_streaming(frame.select([col(column)]).unique(None, UniqueKeepStrategy::Any))?;
    Ok(df.column(column)?.str()?.iter().flatten().map(str::to_string).collect())
}

fn distinct_staged(table: &StagedTable, column: &str) -> PolarsResult<HashSet<String>> {
    let df = table.gather(|f| f.select([col(column)]).unique(None, UniqueKeepStrategy::Any))?;
    Ok(df.column(column)?.str()?.iter().flatten().map(str::to_string).collect())
}

/// A refused run's report so far: what is known when the refusal comes.
struct Partial<'a> {
    plan: &'a Plan,
    out: &'a Path,
    stages: Stages,
    accounting: Vec<TableAccount>,
    warnings: Vec<String>,
    timings: Timings,
}

impl Partial<'_> {
    fn report(&self, status: String) -> Result<RunReport, PipelineError> {
        Ok(RunReport {
            tokumei_version: env!("CARGO_PKG_VERSION").into(),
            profile: format!("{:?}", self.plan.profile).to_lowercase(),
            label: self.plan.label.clone(),
            date: self.plan.date.to_string(),
            status,
            warnings: self.warnings.clone(),
            inputs: input_digests(self.plan)?,
            accounting: self.accounting.clone(),
            transforms: Vec::new(),
            stages: self.stages.clone(),
            outputs: Vec::new(),
        })
    }

    /// Ends the run with `refusal`: nothing released, the report written to `<out>.refused/`.
    fn refuse(mut self, refusal: Refusal) -> Result<RunOutcome, PipelineError> {
        let report = self.report(format!("refused: {refusal}"))?;
        let refusal_report = Some(destination::write_refusal(self.out, &report)?);
        Ok(RunOutcome {
            status: Status::Refused(refusal),
            report,
            out: None,
            refusal_report,
            warnings: self.warnings,
            timings: self.timings.finish(),
        })
    }
}

/// The refusal for an opt-out list with entries that could not be read, if any.
fn opt_out_unreadable(path: &str, read: &staging::OptOutRead) -> Option<Refusal> {
    (read.stats.rows_quarantined > 0).then(|| Refusal::OptOutUnreadable {
        list: path.to_string(),
        lines: read.stats.quarantine.iter().map(|q| q.line).collect(),
        entries: read.stats.rows_quarantined,
    })
}

/// The refusal for a staged table that breaks a gate: empty without `allow-empty`, every row
/// quarantined, or more than `max-quarantine` of them.
fn ingest_gate(table: &TablePlan, stats: &tokumei_ingest::IngestStats) -> Option<Refusal> {
    let name = table.source.table.clone();
    if stats.rows_read == 0 {
        return (!table.allow_empty).then_some(Refusal::EmptyInput { table: name });
    }
    let over = stats.rows_quarantined as f64 > table.max_quarantine * stats.rows_read as f64;
    (over || stats.rows_accepted == 0).then(|| Refusal::Quarantine {
        table: name,
        quarantined: stats.rows_quarantined,
        rows: stats.rows_read,
        limit: table.max_quarantine,
        worst: stats
            .quarantine_summary
            .iter()
            .max_by_key(|g| g.rows)
            .map(|g| (g.column.clone(), g.problem.expected().to_string(), g.rows)),
    })
}

/// Runs `plan`.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<RunOutcome, PipelineError> {
    let out = options.out.clone().unwrap_or_else(|| plan.out.clone());
    destination::check(plan, &out)?;
    let master = load_key(&plan.key)?;
    let parent =
        out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&parent)?;
    // Runs killed outright left their scratch folders here: remove them first.
    let leftovers = leftovers::clean(&parent)?;
    // The work folder: 0700, marked so that a crash leaves something the next run recognizes.
    let work = tempfile::Builder::new().prefix(".tokumei-work-").tempdir_in(&parent)?;
    tokumei_report::mark_leftover(work.path())?;
    let mut partial = Partial {
        plan,
        out: &out,
        stages: Stages::default(),
        accounting: Vec::new(),
        warnings: Vec::new(),
        timings: Timings::default(),
    };
    if !leftovers.is_empty() {
        partial.warnings.push(format!(
            "removed {} folder(s) left by interrupted tokumei runs in {} (work files, partial releases)",
            leftovers.len(),
            parent.display()
        ));
    }

    partial.timings.stage("opt-out lists");
    // Opt-out lists first: an entry that gives only a card needs the linker to note who holds it.
    let keys = ReleaseKeys::derive(&master, &plan.label);
    let link = keys.link();
    let mut opt_out_reads = Vec::new();
    for list in &plan.opt_outs {
        let read = staging::read_opt_outs(list, &link)?;
        if let Some(refusal) = opt_out_unreadable(&list.path().display().to_string(), &read) {
            partial.stages.opt_out = Some(OptOutSection {
                lists: vec![OptOutListReport {
                    path: list.path().display().to_string(),
                    matching: None,
                    quarantined_entries: read.stats.rows_quarantined,
                    quarantine: read.stats.quarantine,
                }],
                ..OptOutSection::default()
            });
            return partial.refuse(refusal);
        }
        opt_out_reads.push(read);
    }

    partial.timings.stage("ingest and linkage keys");
    // Ingest → staged Parquet, feeding the linker.
    let tokens = keys.submission_tokens();
    let hashes = staging::RowHashes::new(&keys);
    let stage_key = Arc::new(encrypted::StageKey::random()?);
    let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
    linker.watch_cards(staging::watched_cards(&opt_out_reads));
    let stager = staging::Stager {
        profile: plan.profile,
        link: &link,
        tokens: &tokens,
        hashes: &hashes,
        work: Some((work.path(), &stage_key)),
        bucket_bytes: options.bucket_bytes.unwrap_or(staging::BUCKET_BYTES).max(1),
    };
    let mut staged = Vec::new();
    for (i, table) in plan.tables.iter().enumerate() {
        let progress = bar(options, format!("reading {}", table.source.table));
        let result = stager.stage(i, table, &mut linker, &progress)?;
        progress.finish_and_clear();
        staged.push(result);
    }
    partial.stages.ingest =
        Some(plan.tables.iter().zip(&staged).map(|(t, s)| (t.source.table.clone(), s.stats.clone())).collect());
    for (table, s) in plan.tables.iter().zip(&staged) {
        if let Some(refusal) = ingest_gate(table, &s.stats) {
            return partial.refuse(refusal);
        }
        if s.stats.rows_quarantined > 0 {
            partial.warnings.push(format!(
                "input `{}`: {} of {} rows quarantined ({}; see the report's Ingest section)",
                table.source.table,
                s.stats.rows_quarantined,
                s.stats.rows_read,
                percent(s.stats.rows_quarantined, s.stats.rows_read)
            ));
        }
    }

    partial.timings.stage("linkage and opt-out");
    let mut persons = linker.finish();
    let matches: Vec<OptOutMatch> = opt_out_reads.iter().map(|read| match_opt_outs(&read.entries, &persons)).collect();
    partial.stages.linkage = Some(persons.stats.clone());
    let unresolved = plan.opt_outs.iter().zip(&matches).find(|(_, m)| !m.unresolved.is_empty());
    if let Some((list, m)) = unresolved {
        let refusal =
            Refusal::OptOutUnresolved { list: list.path().display().to_string(), entries: m.unresolved.clone() };
        partial.stages.opt_out =
            Some(OptOutSection { lists: opt_out_lists(plan, &matches, &opt_out_reads), ..OptOutSection::default() });
        return partial.refuse(refusal);
    }
    for (list, m) in plan.opt_outs.iter().zip(&matches) {
        if !m.unmatched_lines.is_empty() {
            partial.warnings.push(format!(
                "opt-out list {}: {} of {} entries match nobody in this data (allowed; lines in the report's Opt-out \
                 section)",
                list.path().display(),
                m.unmatched_lines.len(),
                m.entries
            ));
        }
        if m.card_only_entries > 0 {
            partial.warnings.push(format!(
                "opt-out list {}: {} entries give only an insurance card; every holder of those cards was removed \
                 ({} persons)",
                list.path().display(),
                m.card_only_entries,
                m.card_only_persons
            ));
        }
    }
    // Per table: the persons whose rows an opt-out removes there (a provider-scoped list covers
    // its tables only).
    let mut opted_out = vec![vec![false; persons.len()]; plan.tables.len()];
    for (list, m) in plan.opt_outs.iter().zip(&matches) {
        for (table, flags) in plan.tables.iter().zip(&mut opted_out) {
            if list.covers(&table.source.table) {
                for &p in &m.persons {
                    flags[p as usize] = true;
                }
            }
        }
    }
    let opted_out: Vec<Arc<Vec<bool>>> = opted_out.into_iter().map(Arc::new).collect();
    // Shared with the row-level expressions; moved, not copied (one u32 per row).
    let row_person: Vec<Arc<Vec<u32>>> = std::mem::take(&mut persons.row_person).into_iter().map(Arc::new).collect();
    // Per table: the staged rows (decrypted a bucket at a time) with their person index.
    let base: Vec<StagedTable> = staged
        .iter()
        .zip(&row_person)
        .map(|(s, rows)| StagedTable::new(s, stage_key.clone()).with_column(person_of_row(rows.clone())))
        .collect();
    let after_opt_out: Vec<StagedTable> =
        base.iter().zip(&opted_out).map(|(f, o)| f.filter(person_kept(o.clone()))).collect();

    partial.timings.stage("privacy model");
    // Privacy model.
    let mut suppressed = vec![false; persons.len()];
    // Per table: records whose items (event cells) are suppressed, by source row.
    let mut item_suppressed: Vec<Option<Arc<Vec<bool>>>> = vec![None; plan.tables.len()];
    let mut levels = BTreeMap::new();
    let mut target_met = true;
    if let Some(settings) = &plan.privacy {
        let specs = plan.quasi_identifiers();
        let frames: Vec<(StagedTable, Vec<String>)> = plan
            .tables
            .iter()
            .zip(&after_opt_out)
            .map(|(t, f)| (f.clone(), t.columns.iter().map(|c| c.name.clone()).collect()))
            .collect();
        let present = privacy::Present::new(persons.len(), &row_person, &|table, p| opted_out[table][p as usize]);
        let rows = privacy::person_rows(&specs, settings.sensitive.as_deref(), &settings.levels, &frames, &present)?;
        let (histogram, person_entry) = rows.histogram()?;
        let solution = tokumei_privacy::search(&histogram, &rows.qis, &settings.model, &settings.search)?;
        // Items: within each class of released persons, any m of a person's records' events; the
        // relational levels and the item levels are chosen together.
        let event_specs = plan.event_columns();
        let (solution, items) = if event_specs.is_empty() {
            (solution, None)
        } else {
            let events = privacy::event_rows(&event_specs, &frames, &present)?;
            let joint = privacy::JointSearch {
                histogram: &histogram,
                qis: &rows.qis,
                person_entry: &person_entry,
                events: &events,
                settings,
            }
            .run(solution)?;
            (joint.solution, Some((joint.items, joint.report, events)))
        };
        let suppressed_entries: std::collections::HashSet<u32> = solution.suppressed_entries.iter().copied().collect();
        for (c, entry) in person_entry.iter().enumerate() {
            if suppressed_entries.contains(entry) {
                suppressed[present.persons[c] as usize] = true;
            }
        }
        target_met = solution.target_met;
        levels = solution.levels.clone();
        let mut items_section = None;
        if let Some((items, joint, events)) = items {
            target_met &= items.target_met;
            levels.extend(items.levels.clone());
            for ((table, source_rows), flags) in events.rows.iter().zip(&items.suppressed) {
                let mut by_row = vec![false; staged[*table].stats.rows_accepted as usize];
                for (&row, &gone) in source_rows.iter().zip(flags) {
                    by_row[row as usize] = gone;
                }
                item_suppressed[*table] = Some(Arc::new(by_row));
            }
            let names: BTreeMap<String, String> = events
                .columns
                .iter()
                .zip(&items.level_vector)
                .map(|(c, &l)| (c.name.clone(), c.level_names[l].clone()))
                .collect();
            items_section = Some(ItemsSection { solution: items, level_names: names, joint });
        }
        partial.stages.risk = Some(tokumei_risk::class_risk(&solution.class_size_distribution));
        partial.stages.privacy = Some(PrivacySection {
            solution,
            k: settings.model.k,
            max_suppression: settings.model.max_suppression,
            sensitive: settings.sensitive.clone(),
            suppression_reason: "the person's equivalence class fails the privacy model".into(),
            items: items_section,
            guarantee: None,
        });
    }
    // Per table: opted out there, or suppressed.
    let removed: Vec<Arc<Vec<bool>>> =
        opted_out.iter().map(|o| Arc::new(o.iter().zip(&suppressed).map(|(o, s)| *o || *s).collect())).collect();

    // Accounting from the person index (checked against the written files below).
    partial.accounting = account(plan, &staged, &row_person, &opted_out, &suppressed);
    partial.stages.opt_out =
        Some(opt_out_report(plan, &row_person, &matches, &opt_out_reads, &opted_out, &partial.accounting));
    if !target_met {
        return partial.refuse(Refusal::PrivacyTargetUnmet);
    }

    partial.timings.stage("transform and write");
    // Transform and write.
    let release = Release::begin_with_mode(&out, plan.file_mode)?;
    let pseudonyms = PseudonymKey::new(keys.person_pseudonym().bytes());
    let representatives = Arc::new(persons.representative.clone());
    let releaser = output::Releaser {
        profile: plan.profile,
        label: &plan.label,
        master: &master,
        levels: &levels,
        person_pseudonym: person_pseudonym(pseudonyms.clone(), representatives),
    };
    let mut transforms = Vec::new();
    for (i, table) in plan.tables.iter().enumerate() {
        let name = &table.source.table;
        let progress = bar(options, format!("writing {name}"));
        progress.tick();
        let kept = person_kept(removed[i].clone());
        let released = base[i].filter(kept);
        let select = releaser.columns(table, &released, item_suppressed[i].clone(), &mut transforms)?;
        // Values a transform could not read became null: counted, warned about, and limited.
        let rows = partial.accounting[i].written;
        for (column, values) in output::unreadable_values(table, &released, &levels)? {
            let refusal = Refusal::TransformFailed {
                table: name.clone(),
                column: column.clone(),
                values,
                rows,
                limit: table.max_quarantine,
            };
            if values as f64 > table.max_quarantine * rows as f64 {
                return partial.refuse(refusal);
            }
            partial.warnings.push(format!(
                "table `{name}`, column `{column}`: its transform could not read {values} of {rows} values ({}); they \
                 are released empty",
                percent(values, rows)
            ));
            if let Some(t) = transforms.iter_mut().find(|t| &t.table == name && t.column == column) {
                t.detail.push_str(&format!("; {values} values unreadable → empty"));
            }
        }
        // Bucket by bucket, each in shuffle order: one bucket in memory at a time. Each part is
        // scanned for free text and identifiers on its way out.
        let mut scans = output::ReleaseScan::new(table);
        let parts = (0..released.bucket_count()).map(|b| {
            released
                .bucket(b)
                .and_then(|bucket| {
                    bucket
                        .sort_by_exprs([col(ORDER_COLUMN), col(ROW_COLUMN)], SortMultipleOptions::default())
                        .select(select.clone())
                        .collect()
                })
                .inspect(|part| {
                    scans.add(part);
                    progress.inc(part.height() as u64);
                })
        });
        release.write_parquet_parts(&format!("{name}.parquet"), parts)?;
        progress.finish_and_clear();
        for (column, findings, reason) in scans.findings() {
            match reason {
                None => {
                    drop(release);
                    return partial.refuse(Refusal::Released { table: name.clone(), column, findings });
                }
                Some(_) => {
                    let what: Vec<&str> = findings.iter().map(|f| f.describe()).collect();
                    if let Some(t) = transforms.iter_mut().find(|t| &t.table == name && t.column == column) {
                        t.detail.push_str(&format!("; holds {}, released by its reason", what.join(", ")));
                    }
                }
            }
        }
    }

    if let Some(settings) = &plan.privacy {
        partial.timings.stage("guarantee check");
        // The guarantee, measured on the files about to be released.
        let qis: Vec<String> = plan.quasi_identifiers().into_iter().map(|s| s.name).collect();
        let events: Vec<String> = plan.event_columns().into_iter().map(|s| s.name).collect();
        let files: Vec<PathBuf> =
            plan.tables.iter().map(|t| release.path(&format!("{}.parquet", t.source.table))).collect();
        let released: Vec<guarantee::ReleasedTable<'_>> = plan
            .tables
            .iter()
            .zip(&files)
            .map(|(t, file)| {
                let has = |name: &String| t.columns.iter().any(|c| &c.name == name && c.transform != Transform::Drop);
                guarantee::ReleasedTable {
                    file,
                    quasi_identifiers: qis.iter().filter(|q| has(q)).map(String::as_str).collect(),
                    events: events.iter().filter(|e| has(e)).map(String::as_str).collect(),
                }
            })
            .collect();
        let m = if events.is_empty() { 0 } else { settings.m };
        let measured = guarantee::measure(&released, &qis, m)?;
        let (english, japanese) = guarantee::statement(settings.model.k, m, &qis, &events);
        let meets = measured.meets(u64::from(settings.model.k));
        let (min_class, min_item_support) = (measured.min_class, measured.min_item_support);
        if let Some(section) = &mut partial.stages.privacy {
            section.guarantee = Some(GuaranteeSection {
                k: settings.model.k,
                m,
                quasi_identifiers: qis,
                events,
                measured,
                statement: english,
                statement_ja: japanese,
                not_covered: "Sensitive values (diagnoses, drugs, lab values) are not hidden by k and m: they are \
                    protected by rare-code and top/bottom coding, and by ℓ-diversity or t-closeness where configured."
                    .into(),
            });
        }
        if !meets {
            drop(release);
            return partial.refuse(Refusal::GuaranteeNotMet { k: settings.model.k, m, min_class, min_item_support });
        }
    }

    partial.timings.stage("final opt-out check");
    // Second opt-out pass, on the files about to be released.
    let leaked = final_opt_out_check(plan, &release, &pseudonyms, &persons.representative, &base, &opted_out)?;
    if leaked {
        drop(release);
        return partial.refuse(Refusal::OptOutCheckFailed);
    }

    partial.timings.stage("accounting and report");
    let mut report = partial.report(String::new())?;
    report.transforms = transforms;
    // Count what was written; the accounting must agree exactly.
    for (table, account) in plan.tables.iter().zip(&mut report.accounting) {
        let file = format!("{}.parquet", table.source.table);
        let rows = scan(&release.path(&file))?
            .select([len()])
            .collect()?
            .column("len")?
            .cast(&DataType::UInt64)?
            .u64()?
            .get(0)
            .unwrap_or(0);
        if rows != account.written || !account.balanced() {
            return Err(PipelineError::Accounting(account.table.clone()));
        }
        report.outputs.push(OutputFile { file: file.clone(), rows: Some(rows), blake3: release.digest(&file)? });
    }
    if plan.profile == Profile::Submission {
        let record = provision_record(plan, &report);
        release.write_text(
            "provision_record.json",
            &(serde_json::to_string_pretty(&record).map_err(tokumei_report::Error::Json)? + "\n"),
        )?;
        report.outputs.push(OutputFile {
            file: "provision_record.json".into(),
            rows: None,
            blake3: release.digest("provision_record.json")?,
        });
    }
    report.status = "released".into();
    release.write_text("report.json", &report.to_json().map_err(tokumei_report::Error::Json)?)?;
    release.write_text("report.md", &report.to_markdown())?;
    release.write_text("report.html", &report.to_html())?;
    let out = release.commit()?;
    destination::remove_refusal(&out);
    Ok(RunOutcome {
        status: Status::Released,
        report,
        out: Some(out),
        refusal_report: None,
        warnings: partial.warnings,
        timings: partial.timings.finish(),
    })
}

/// Rows and persons per table, from the person index: every row is opted out, suppressed or
/// written (quarantined rows never reached the index).
fn account(
    plan: &Plan,
    staged: &[staging::Staged],
    row_person: &[Arc<Vec<u32>>],
    opted_out: &[Arc<Vec<bool>>],
    suppressed: &[bool],
) -> Vec<TableAccount> {
    let mut accounting = Vec::new();
    for (((table, s), rows), opted_out) in plan.tables.iter().zip(staged).zip(row_person).zip(opted_out) {
        let mut a = TableAccount {
            table: table.source.table.clone(),
            rows_read: s.stats.rows_read,
            quarantined: s.stats.rows_quarantined,
            ..Default::default()
        };
        let mut seen = vec![false; suppressed.len()];
        for &p in rows.iter() {
            let first = !std::mem::replace(&mut seen[p as usize], true);
            a.persons_in += u64::from(first);
            if opted_out[p as usize] {
                a.opted_out += 1;
                a.persons_opted_out += u64::from(first);
            } else if suppressed[p as usize] {
                a.suppressed += 1;
                a.persons_suppressed += u64::from(first);
            } else {
                a.written += 1;
                a.persons_written += u64::from(first);
            }
        }
        accounting.push(a);
    }

    accounting
}

/// The lists part of the report's `opt_out` section: per list what matched, by line numbers
/// only.
fn opt_out_lists(plan: &Plan, matches: &[OptOutMatch], reads: &[staging::OptOutRead]) -> Vec<OptOutListReport> {
    plan.opt_outs
        .iter()
        .zip(matches)
        .zip(reads)
        .map(|((list, m), read)| OptOutListReport {
            path: list.path().display().to_string(),
            matching: Some(ListMatching {
                kind: match list.list {
                    OptOutList::Plain { .. } => "plain",
                    OptOutList::Tokens(_) => "tokens",
                }
                .into(),
                scope: match &list.tables {
                    None => "person".to_string(),
                    Some(t) => format!("provider: {}", t.join(", ")),
                },
                matched: m.clone(),
                requests_from: read.request_dates.map(|(from, _)| from.to_string()),
                requests_to: read.request_dates.map(|(_, to)| to.to_string()),
            }),
            quarantined_entries: read.stats.rows_quarantined,
            quarantine: read.stats.quarantine.clone(),
        })
        .collect()
}

/// The report's `opt_out` section: per list what matched, by line numbers only.
fn opt_out_report(
    plan: &Plan,
    row_person: &[Arc<Vec<u32>>],
    matches: &[OptOutMatch],
    reads: &[staging::OptOutRead],
    opted_out: &[Arc<Vec<bool>>],
    accounting: &[TableAccount],
) -> OptOutSection {
    // Rows removed per table and key kind: a row counts under every kind its person was matched by.
    let mut by_kind = BTreeMap::new();
    for (table, (rows, flags)) in plan.tables.iter().zip(row_person.iter().zip(opted_out)) {
        let mut kinds = BTreeMap::new();
        for kind in tokumei_link::KeyKind::ALL {
            let mut matched = vec![false; flags.len()];
            for list in matches {
                for &p in list.persons_by_kind.get(&kind).into_iter().flatten() {
                    matched[p as usize] = true;
                }
            }
            let n = rows.iter().filter(|&&p| flags[p as usize] && matched[p as usize]).count() as u64;
            if n > 0 {
                kinds.insert(kind.name().to_string(), n);
            }
        }
        by_kind.insert(table.source.table.clone(), kinds);
    }
    let removed_anywhere =
        (0..opted_out.first().map_or(0, |o| o.len())).filter(|&p| opted_out.iter().any(|o| o[p])).count() as u64;
    OptOutSection {
        lists: opt_out_lists(plan, matches, reads),
        rows_removed_by_key_kind: Some(by_kind),
        persons_removed: Some(removed_anywhere),
        rows_removed: Some(accounting.iter().map(|a| (a.table.clone(), a.opted_out)).collect()),
    }
}

/// blake3 of the config, every input and every opt-out list.
fn input_digests(plan: &Plan) -> Result<Vec<InputFile>, PipelineError> {
    let mut inputs = vec![InputFile {
        kind: "config".into(),
        path: plan.config_path.display().to_string(),
        blake3: digest_file(&plan.config_path)?,
    }];
    for table in &plan.tables {
        inputs.push(InputFile {
            kind: format!("input:{}", table.source.table),
            path: table.source.path.display().to_string(),
            blake3: digest_file(&table.source.path)?,
        });
    }
    for list in &plan.opt_outs {
        inputs.push(InputFile {
            kind: "opt-out".into(),
            path: list.path().display().to_string(),
            blake3: digest_file(list.path())?,
        });
    }
    Ok(inputs)
}

/// The second opt-out pass: reads the identity columns of the files about to be released and
/// looks for any value of an opted-out person (their person pseudonym, or for submissions any
/// token of their rows).
fn final_opt_out_check(
    plan: &Plan,
    release: &Release,
    pseudonyms: &PseudonymKey,
    representatives: &[u128],
    base: &[StagedTable],
    opted_out: &[Arc<Vec<bool>>],
) -> Result<bool, PipelineError> {
    let identity_columns: Vec<&str> = match plan.profile {
        Profile::Submission => TOKEN_COLUMNS.iter().map(|(name, _)| *name).collect(),
        _ => vec![tokumei_core::PERSON_COLUMN],
    };
    let mut leaked = false;
    for ((table, frame), flags) in plan.tables.iter().zip(base).zip(opted_out) {
        let mut forbidden: HashSet<String> = flags
            .iter()
            .enumerate()
            .filter(|(_, o)| **o)
            .map(|(p, _)| pseudonyms.pseudonym(&representatives[p].to_le_bytes()))
            .collect();
        if plan.profile == Profile::Submission {
            // Tokens of opted-out rows, less those that released persons hold too (twins share
            // card + birth date + sex; that token of the one who stays is not the other's).
            let opted = frame.filter(person_kept(flags.clone()).not());
            let kept = frame.filter(person_kept(flags.clone()));
            for (token, _) in TOKEN_COLUMNS {
                let shared = distinct_staged(&kept, token)?;
                forbidden.extend(distinct_staged(&opted, token)?.into_iter().filter(|t| !shared.contains(t)));
            }
        }
        let path = release.path(&format!("{}.parquet", table.source.table));
        for column in &identity_columns {
            leaked |= distinct_strings(scan(&path)?, column)?.iter().any(|v| forbidden.contains(v));
        }
    }
    Ok(leaked)
}

/// 提供記録: what was provided, when, to whom.
fn provision_record(plan: &Plan, report: &RunReport) -> serde_json::Value {
    let items: BTreeMap<&str, Vec<&str>> = plan
        .tables
        .iter()
        .map(|t| {
            let names = report
                .transforms
                .iter()
                .filter(|c| c.table == t.source.table && c.transform != "drop")
                .map(|c| c.column.as_str())
                .collect();
            (t.source.table.as_str(), names)
        })
        .collect();
    serde_json::json!({
        "record": "提供記録 (provision record)",
        "date": plan.date.to_string(),
        "provider": plan.provider,
        "recipient": plan.recipient,
        "release_label": plan.label,
        "items": items,
        "tables": report.accounting.iter().map(|a| serde_json::json!({
            "table": a.table, "rows": a.written, "persons": a.persons_written,
        })).collect::<Vec<_>>(),
        "opt_out_persons_excluded": report.stages.opt_out.as_ref().and_then(|o| o.persons_removed),
        "retain_until_at_least": format!("{}-{:02}-{:02}", plan.date.year + 3, plan.date.month, plan.date.day),
    })
}
