//! The run: ingest → opt-out & linkage → transform → privacy model → risk → report.
//!
//! Record-level work stays lazy and streams (staged Parquet in, release Parquet out). What must
//! be global is materialized and nothing else: the linkage keys (union-find), one person index
//! per row, and the distinct person × quasi-identifier tuples for the privacy search.

mod linkage_quality;
mod output;
mod privacy;
mod staging;

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
    let read = staging::read_opt_outs(list, &KeyHasher::new(&master, "link"))?;
    Ok((staging::token_list(&read.entries), read.stats.rows_quarantined))
}

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polars::prelude::*;
use tokumei_config::{KeySource, OptOutList, Plan, Profile};
use tokumei_core::{ROW_COLUMN, collect_streaming};
use tokumei_link::{KeyError, KeyHasher, Linker, MasterKey, OptOutMatch, match_opt_outs};
use tokumei_report::{InputFile, OutputFile, Release, RunReport, TableAccount, digest_file};
use tokumei_transform::PseudonymKey;

/// Internal column: dense person index of a row.
pub(crate) const PERSON_INDEX: &str = "__person";
/// Internal column: keyed shuffle key of a row.
pub(crate) const ORDER_COLUMN: &str = "__order";
/// Submission token columns: K1 insurance, K2 name, K3 local.
pub const TOKEN_COLUMNS: [&str; 3] = ["token_insurance", "token_name", "token_local"];

/// Errors that stop a run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The release was written.
    Released,
    /// The privacy target is not met within the suppression limit: nothing written (exit 1).
    PrivacyTargetUnmet,
    /// The final opt-out check found an opted-out person in an output: nothing written (exit 1).
    OptOutCheckFailed,
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

/// Runs `plan`.
pub fn run(plan: &Plan, options: &RunOptions) -> Result<RunOutcome, PipelineError> {
    let master = load_key(&plan.key)?;
    let out = options.out.clone().unwrap_or_else(|| plan.out.clone());
    let parent =
        out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&parent)?;
    let work = tempfile::Builder::new().prefix(".tokumei-work-").tempdir_in(&parent)?;

    let mut timings = Timings::default();
    timings.stage("ingest and linkage keys");
    // Ingest → staged Parquet, feeding the linker.
    let link = KeyHasher::new(&master, "link");
    let tokens = KeyHasher::new(&master, "submission-token");
    let hashes = staging::RowHashes::new(&master, &plan.label);
    let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
    let stager = staging::Stager {
        profile: plan.profile,
        link: &link,
        tokens: &tokens,
        hashes: &hashes,
        work: Some(work.path()),
        bucket_bytes: options.bucket_bytes.unwrap_or(staging::BUCKET_BYTES).max(1),
    };
    let mut staged = Vec::new();
    for (i, table) in plan.tables.iter().enumerate() {
        let progress = bar(options, format!("reading {}", table.source.table));
        let result = stager.stage(i, table, &mut linker, &progress)?;
        progress.finish_and_clear();
        staged.push(result);
    }

    timings.stage("linkage and opt-out");
    // Linkage and opt-out.
    let mut opt_out_reads = Vec::new();
    for list in &plan.opt_outs {
        opt_out_reads.push(staging::read_opt_outs(list, &link)?);
    }
    let mut persons = linker.finish();
    let matches: Vec<OptOutMatch> = opt_out_reads.iter().map(|read| match_opt_outs(&read.entries, &persons)).collect();
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
    // Per table, per bucket: the staged rows with their person index.
    let buckets: Vec<Vec<LazyFrame>> = staged
        .iter()
        .zip(&row_person)
        .map(|(s, rows)| s.buckets.iter().map(|b| Ok(scan(b)?.with_column(person_of_row(rows.clone())))).collect())
        .collect::<PolarsResult<_>>()?;
    // The whole table, for aggregations (privacy tuples, rare codes, quantiles); they stream.
    let base: Vec<LazyFrame> =
        buckets.iter().map(|parts| concat(parts.as_slice(), UnionArgs::default())).collect::<PolarsResult<_>>()?;
    let after_opt_out: Vec<LazyFrame> =
        base.iter().zip(&opted_out).map(|(f, o)| f.clone().filter(person_kept(o.clone()))).collect();

    timings.stage("privacy model");
    // Privacy model.
    let mut stages: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut suppressed = vec![false; persons.len()];
    let mut levels = BTreeMap::new();
    let mut target_met = true;
    if let Some(settings) = &plan.privacy {
        let specs = privacy::qi_specs(plan)?;
        let frames: Vec<(LazyFrame, Vec<String>)> = plan
            .tables
            .iter()
            .zip(&after_opt_out)
            .map(|(t, f)| (f.clone(), t.columns.iter().map(|c| c.name.clone()).collect()))
            .collect();
        if let Some(sensitive) = &settings.sensitive {
            privacy::check_sensitive_is_kept(plan, sensitive)?;
        }
        let present = privacy::Present::new(persons.len(), &row_person, &|table, p| opted_out[table][p as usize]);
        let rows = privacy::person_rows(&specs, settings.sensitive.as_deref(), &settings.levels, &frames, &present)?;
        let (histogram, person_entry) = rows.histogram()?;
        let solution = tokumei_privacy::search(&histogram, &rows.qis, &settings.model, &settings.search)?;
        let suppressed_entries: std::collections::HashSet<u32> = solution.suppressed_entries.iter().copied().collect();
        for (c, entry) in person_entry.iter().enumerate() {
            if suppressed_entries.contains(entry) {
                suppressed[present.persons[c] as usize] = true;
            }
        }
        target_met = solution.target_met;
        levels = solution.levels.clone();
        let mut section = serde_json::to_value(&solution).map_err(tokumei_report::Error::Json)?;
        section["k"] = settings.model.k.into();
        section["max_suppression"] = settings.model.max_suppression.into();
        section["sensitive"] = settings.sensitive.clone().into();
        section["suppression_reason"] = "the person's equivalence class fails the privacy model".into();
        stages.insert(
            "risk".into(),
            serde_json::to_value(tokumei_risk::class_risk(&solution.class_size_distribution))
                .map_err(tokumei_report::Error::Json)?,
        );
        stages.insert("privacy".into(), section);
    }
    // Per table: opted out there, or suppressed.
    let removed: Vec<Arc<Vec<bool>>> =
        opted_out.iter().map(|o| Arc::new(o.iter().zip(&suppressed).map(|(o, s)| *o || *s).collect())).collect();

    // Accounting from the person index (checked against the written files below).
    let accounting = account(plan, &staged, &row_person, &opted_out, &suppressed);
    let opt_out_section = opt_out_report(plan, &row_person, &matches, &opt_out_reads, &opted_out, &accounting);
    stages.insert("opt_out".into(), opt_out_section.into());
    stages.insert("linkage".into(), serde_json::to_value(&persons.stats).map_err(tokumei_report::Error::Json)?);
    stages.insert(
        "ingest".into(),
        plan.tables
            .iter()
            .zip(&staged)
            .map(|(t, s)| (t.source.table.clone(), serde_json::to_value(&s.stats).unwrap_or_default()))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    );

    let inputs = input_digests(plan)?;
    let mut report = RunReport {
        tokumei_version: env!("CARGO_PKG_VERSION").into(),
        profile: format!("{:?}", plan.profile).to_lowercase(),
        label: plan.label.clone(),
        date: plan.date.to_string(),
        status: String::new(),
        inputs,
        accounting,
        transforms: Vec::new(),
        stages,
        outputs: Vec::new(),
    };
    if !target_met {
        report.status = "privacy target not met: no release written".into();
        return Ok(RunOutcome { status: Status::PrivacyTargetUnmet, report, out: None, timings: timings.finish() });
    }

    timings.stage("transform and write");
    // Transform and write.
    let release = Release::begin(&out)?;
    let pseudonyms = PseudonymKey::derive(master.expose(), &format!("{} person", plan.label));
    let representatives = Arc::new(persons.representative.clone());
    let releaser = output::Releaser {
        profile: plan.profile,
        label: &plan.label,
        master: &master,
        levels: &levels,
        person_pseudonym: person_pseudonym(pseudonyms.clone(), representatives),
    };
    for (i, table) in plan.tables.iter().enumerate() {
        let name = &table.source.table;
        let progress = bar(options, format!("writing {name}"));
        progress.tick();
        let kept = person_kept(removed[i].clone());
        let select = releaser.columns(table, base[i].clone().filter(kept.clone()), &mut report.transforms)?;
        // Bucket by bucket, each in shuffle order: one bucket in memory at a time.
        let parts = buckets[i].iter().map(|bucket| {
            bucket
                .clone()
                .filter(kept.clone())
                .sort_by_exprs([col(ORDER_COLUMN), col(ROW_COLUMN)], SortMultipleOptions::default())
                .select(select.clone())
                .collect()
                .inspect(|part| progress.inc(part.height() as u64))
        });
        release.write_parquet_parts(&format!("{name}.parquet"), parts)?;
        progress.finish_and_clear();
    }

    timings.stage("final opt-out check");
    // Second opt-out pass, on the files about to be released.
    let leaked = final_opt_out_check(plan, &release, &pseudonyms, &persons.representative, &base, &opted_out)?;
    if leaked {
        report.status = "final opt-out check found an opted-out person: no release written".into();
        return Ok(RunOutcome { status: Status::OptOutCheckFailed, report, out: None, timings: timings.finish() });
    }

    timings.stage("accounting and report");
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
    Ok(RunOutcome { status: Status::Released, report, out: Some(out), timings: timings.finish() })
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

/// The report's `opt_out` section: per list what matched, by line numbers only.
fn opt_out_report(
    plan: &Plan,
    row_person: &[Arc<Vec<u32>>],
    matches: &[OptOutMatch],
    reads: &[staging::OptOutRead],
    opted_out: &[Arc<Vec<bool>>],
    accounting: &[TableAccount],
) -> serde_json::Map<String, serde_json::Value> {
    let mut opt_out_section = serde_json::Map::new();
    let lists: Vec<serde_json::Value> = plan
        .opt_outs
        .iter()
        .zip(matches)
        .zip(reads)
        .map(|((list, m), read)| {
            serde_json::json!({
                "path": list.path().display().to_string(),
                "kind": match list.list { OptOutList::Plain { .. } => "plain", OptOutList::Tokens(_) => "tokens" },
                "scope": match &list.tables { None => "person".to_string(), Some(t) => format!("provider: {}", t.join(", ")) },
                "entries": m.entries,
                "matched": m.matched,
                "unmatched_lines": m.unmatched_lines,
                "unusable_lines": m.unusable_lines,
                "matched_by": m.matched_by,
                "quarantined_entries": read.stats.rows_quarantined,
                "quarantine": read.stats.quarantine,
                "requests_from": read.request_dates.map(|(from, _)| from.to_string()),
                "requests_to": read.request_dates.map(|(_, to)| to.to_string()),
            })
        })
        .collect();
    opt_out_section.insert("lists".into(), lists.into());
    // Rows removed per table and key kind: a row counts under every kind its person was matched by.
    let mut by_kind = serde_json::Map::new();
    for (table, (rows, flags)) in plan.tables.iter().zip(row_person.iter().zip(opted_out)) {
        let mut kinds = serde_json::Map::new();
        for kind in tokumei_link::KeyKind::ALL {
            let matched: Vec<bool> = {
                let mut m = vec![false; flags.len()];
                for list in matches {
                    for &p in list.persons_by_kind.get(&kind).into_iter().flatten() {
                        m[p as usize] = true;
                    }
                }
                m
            };
            let n = rows.iter().filter(|&&p| flags[p as usize] && matched[p as usize]).count();
            if n > 0 {
                kinds.insert(
                    serde_json::to_value(kind).unwrap_or_default().as_str().unwrap_or_default().to_string(),
                    n.into(),
                );
            }
        }
        by_kind.insert(table.source.table.clone(), kinds.into());
    }
    opt_out_section.insert("rows_removed_by_key_kind".into(), by_kind.into());
    let removed_anywhere =
        (0..opted_out.first().map_or(0, |o| o.len())).filter(|&p| opted_out.iter().any(|o| o[p])).count();
    opt_out_section.insert("persons_removed".into(), removed_anywhere.into());
    opt_out_section.insert(
        "rows_removed".into(),
        accounting
            .iter()
            .map(|a| (a.table.clone(), serde_json::Value::from(a.opted_out)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    );
    opt_out_section
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
    base: &[LazyFrame],
    opted_out: &[Arc<Vec<bool>>],
) -> Result<bool, PipelineError> {
    let identity_columns: Vec<&str> = match plan.profile {
        Profile::Submission => TOKEN_COLUMNS.to_vec(),
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
            let opted = frame.clone().filter(person_kept(flags.clone()).not());
            for token in TOKEN_COLUMNS {
                forbidden.extend(distinct_strings(opted.clone(), token)?);
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
        "opt_out_persons_excluded": report.stages.get("opt_out").and_then(|o| o.get("persons_removed")).cloned(),
        "retain_until_at_least": format!("{}-{:02}-{:02}", plan.date.year + 3, plan.date.month, plan.date.day),
    })
}
