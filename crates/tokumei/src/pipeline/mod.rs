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
mod records;
mod staging;
mod steps;

pub use leftovers::clean as clean_leftovers;
pub use linkage_quality::{LinkageQuality, Truth, evaluate_linkage};

/// Reads opt-out list `index` of the plan (a plain list) and returns its token list: the same
/// entries as keyed hashes, so a provider can hand over a list that holds no plain identifier.
pub fn hash_opt_out_list(plan: &Plan, index: usize) -> Result<(String, u64), PipelineError> {
    let list = plan.opt_outs.get(index).ok_or(PipelineError::NoOptOutList(index))?;
    if matches!(list.list, OptOutList::Tokens(_)) {
        return Err(PipelineError::AlreadyTokens(index));
    }
    let keys = PlanKeys::load(plan)?;
    let read = staging::read_opt_outs(list, &keys.release(&plan.label).link())?;
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
    Ok((tokumei_link::write_token_list(&read.entries), read.stats.rows_quarantined))
}

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polars::prelude::*;
use tokumei_config::{KeySource, OptOutList, Plan, Profile, TablePlan};
use tokumei_core::{ROW_COLUMN, collect_streaming};
use tokumei_link::{KeyError, KeyKind, MasterKey, ReleaseKeys};
use tokumei_report::{Release, RunReport};
use tokumei_transform::PseudonymKey;

use staging::StagedTable;
use steps::{Run, Step, Stop};

/// Internal column: dense person index of a row.
pub(crate) const PERSON_INDEX: &str = "__person";
/// Internal column: keyed shuffle key of a row.
pub(crate) const ORDER_COLUMN: &str = "__order";
/// A submission's address evidence, as tokens keyed with the producer's token key: the street
/// (the address up to its first number) and the prefecture. With them the producer's `evidence`
/// rule keeps namesakes apart without seeing an address.
pub const EVIDENCE_TOKEN_COLUMNS: [&str; 2] = ["token_address", "token_prefecture"];
/// Submission token columns and their key kinds: K1 insurance, K2 name, K3 local, K1b card +
/// 枝番, and the card alone (a household's: it never joins, but with K1b it tells twins on one
/// card apart, and it finds the holders of a card-only opt-out entry). No My Number token: a code
/// derived from 個人番号 and used in its place is itself 個人番号 (番号法 第2条第8項).
pub const TOKEN_COLUMNS: [(&str, KeyKind); 5] = [
    ("token_insurance", KeyKind::Insurance),
    ("token_name", KeyKind::Name),
    ("token_local", KeyKind::Local),
    ("token_card_branch", KeyKind::CardBranch),
    ("token_card", KeyKind::Card),
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
    /// `optout hash --list N` names a list the config does not have.
    #[error("the config has no opt-out list #{0}")]
    NoOptOutList(usize),
    /// `optout hash` on a list that is already a token list.
    #[error("opt-out list #{0} is already a token list")]
    AlreadyTokens(usize),
    /// A truth file line that is not `person,table,line`.
    #[error("{}, line {line}: expected person,table,line", path.display())]
    TruthFile {
        /// The truth file.
        path: PathBuf,
        /// Its line.
        line: usize,
    },
    /// `linkage --truth-column` names a column an input does not have.
    #[error("input `{table}` has no column `{column}` (the truth column must be a column of every input's schema)")]
    TruthColumn {
        /// The input.
        table: String,
        /// The column asked for.
        column: String,
    },
    /// A token list that is not one `tokumei optout hash` wrote.
    #[error("{path}, line {line}: not a token list line (expected {})", tokumei_link::TOKEN_LIST_HEADER)]
    TokenList {
        /// File.
        path: String,
        /// Line.
        line: u64,
    },
    /// The verifier could not read the finished release.
    #[error(transparent)]
    Verify(#[from] tokumei_verify::VerifyError),
    /// The run ledger (`[records] ledger`) cannot be appended to.
    #[error(transparent)]
    Ledger(#[from] tokumei_report::ledger::LedgerError),
    /// A flat table (anonymize, risk, attack) could not be read as asked.
    #[error(transparent)]
    FlatTable(#[from] tokumei_ingest::FlatTableError),
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
    /// The independent verifier found something in the finished release folder.
    VerifyFailed {
        /// What it found, where (never a value).
        findings: Vec<tokumei_verify::Finding>,
    },
    /// A provider's submission cannot be used: changed, not a released submission, keyed with
    /// another token key, or with a cell that is not one of its tokens.
    Submission {
        /// The input table.
        table: String,
        /// Why, naming the provider.
        reason: String,
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
            Refusal::Submission { table, reason } => write!(f, "input `{table}`: {reason}; no release written"),
            Refusal::VerifyFailed { findings } => write!(
                f,
                "the verifier found {} problem(s) in the finished release, first: {}; no release written",
                findings.len(),
                findings.first().map(ToString::to_string).unwrap_or_default()
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

/// The keys a config names: its master key, and the certified producer's token key when it
/// names one (a submission, or a producer reading submissions).
pub(crate) struct PlanKeys {
    pub master: MasterKey,
    pub token: Option<MasterKey>,
}

impl PlanKeys {
    pub fn load(plan: &Plan) -> Result<PlanKeys, KeyError> {
        Ok(PlanKeys {
            master: load_key(&plan.key)?,
            token: plan.token_key.as_deref().map(MasterKey::from_file).transpose()?,
        })
    }

    /// The key schedule of the release labelled `label`.
    pub fn release(&self, label: &str) -> ReleaseKeys<'_> {
        let keys = ReleaseKeys::derive(&self.master, label);
        match &self.token {
            Some(token) => keys.with_token_key(token),
            None => keys,
        }
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

/// Runs `plan`: the steps in order, each taking what the one before produced. A step that finds
/// a reason not to release stops the run there: nothing is written, and the report as far as the
/// run got goes to `<out>.refused/`.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<RunOutcome, PipelineError> {
    // A ledger a run could not append to stops it before any work, not after a release.
    if let Some(ledger) = &plan.ledger {
        tokumei_report::ledger::check_appendable(ledger)?;
    }
    let result = run_steps(plan, options);
    if let Some(ledger) = &plan.ledger {
        record_run(ledger, plan, &result)?;
    }
    result
}

fn run_steps(plan: &Plan, options: &RunOptions) -> Result<RunOutcome, PipelineError> {
    let mut run = Run::begin(plan, options)?;
    let steps = |run: &mut Run<'_>| -> Step<steps::Verified> {
        run.open_submissions()?;
        let lists = run.read_opt_out_lists()?;
        let staged = run.stage(&lists)?;
        let linked = run.link(staged)?;
        let opted_out = run.apply_opt_outs(linked, lists)?;
        let outcome = run.privacy(&opted_out)?;
        let written = run.write(&opted_out, &outcome)?;
        run.verify(written, &opted_out)
    };
    match steps(&mut run) {
        Ok(verified) => run.release(verified),
        Err(Stop::Refused(refusal)) => run.refuse(refusal),
        Err(Stop::Failed(error)) => Err(error),
    }
}

/// Appends the run's line to the ledger: its report's digests and counts, or for a run that
/// failed, the config's digest and the error.
fn record_run(ledger: &Path, plan: &Plan, result: &Result<RunOutcome, PipelineError>) -> Result<(), PipelineError> {
    use tokumei_report::ledger::{Context, Digest, Entry, append};
    let context = Context::now();
    let entry = match result {
        Ok(outcome) => {
            let folder = outcome.out.as_ref().or(outcome.refusal_report.as_ref());
            let written: Vec<(String, PathBuf)> = folder
                .map(|f| tokumei_report::REPORT_FILES.iter().map(|name| (name.to_string(), f.join(name))).collect())
                .unwrap_or_default();
            let persons = outcome.report.stages.linkage.as_ref().map_or(0, |l| l.persons);
            Entry::of_run(&outcome.report, persons, &written, &context)
        }
        Err(error) => {
            let config = tokumei_report::digest_file(&plan.config_path)
                .map(|blake3| vec![Digest { name: "config".into(), blake3 }])
                .unwrap_or_default();
            let profile = format!("{:?}", plan.profile).to_lowercase();
            Entry::of_failure(&profile, &plan.label, config, &error.to_string(), &context)
        }
    };
    append(ledger, entry)?;
    Ok(())
}

/// The second opt-out pass: reads the identity columns of the files about to be released and
/// looks for any value of an opted-out person (their person pseudonym, or for submissions any
/// token of their rows).
fn final_opt_out_check(
    plan: &Plan,
    release: &Release,
    pseudonyms: &PseudonymKey,
    representatives: &[u128],
    base: &[&StagedTable],
    opted_out: &[Arc<Vec<bool>>],
) -> Result<bool, PipelineError> {
    let identity_columns: Vec<&str> = match plan.profile {
        Profile::Submission => TOKEN_COLUMNS.iter().map(|(name, _)| *name).chain(EVIDENCE_TOKEN_COLUMNS).collect(),
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
            for token in TOKEN_COLUMNS.iter().map(|(name, _)| *name).chain(EVIDENCE_TOKEN_COLUMNS) {
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
