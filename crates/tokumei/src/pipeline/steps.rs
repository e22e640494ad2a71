//! The steps of a run, each taking what the one before produced and returning a typed value:
//! opt-out lists read → tables staged → persons linked → opt-outs applied → privacy outcome →
//! written → verified → released. [`Run`] holds what every step shares (the plan, the key, the
//! work folder, the report so far); a step that finds a reason not to release returns
//! [`Stop::Refused`], and the run ends there with nothing written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use tokumei_config::{Plan, Profile, Transform};
use tokumei_link::{Linker, MasterKey, OptOutMatch, Persons, ReleaseKeys, match_opt_outs};
use tokumei_report::records::{CreationRecord, LegalRecord};
use tokumei_report::submission::{Submission, open_submission};
use tokumei_report::{
    GuaranteeSection, ItemsSection, OptOutListReport, OptOutSection, OutputFile, PrivacySection, ProviderSection,
    Release, RunReport, Stages, TableAccount,
};
use tokumei_transform::PseudonymKey;

use super::staging::{self, StagedTable};
use super::{
    ORDER_COLUMN, PipelineError, PlanKeys, Refusal, RunOptions, RunOutcome, Status, Timings, bar, destination,
    encrypted, final_opt_out_check, guarantee, ingest_gate, leftovers, opt_out_unreadable, output, percent,
    person_kept, person_of_row, person_pseudonym, privacy, records, scan,
};
use tokumei_core::ROW_COLUMN;

/// Why a step ended the run early.
pub(super) enum Stop {
    /// Nothing may be released, for this reason (exit 1; the report so far is written).
    Refused(Refusal),
    /// The run failed (exit 2).
    Failed(PipelineError),
}

impl<E: Into<PipelineError>> From<E> for Stop {
    fn from(error: E) -> Stop {
        Stop::Failed(error.into())
    }
}

/// A step's result.
pub(super) type Step<T> = Result<T, Stop>;

/// What every step shares, and the report as far as the run got.
pub(super) struct Run<'a> {
    plan: &'a Plan,
    options: &'a RunOptions,
    out: PathBuf,
    /// The master key, and the certified producer's token key (submissions, and a producer's
    /// run over them).
    keys: PlanKeys,
    /// The work folder (0700, marked as tokumei's scratch); removed when the run ends.
    work: tempfile::TempDir,
    /// The key of this run's encrypted staging files.
    stage_key: Arc<encrypted::StageKey>,
    stages: Stages,
    accounting: Vec<TableAccount>,
    warnings: Vec<String>,
    timings: Timings,
    /// Per table: the provider's submission it was read from (a producer's run).
    submissions: Vec<Option<Submission>>,
}

/// Step 1: every opt-out list read, in the plan's order.
pub(super) struct OptOutLists(Vec<staging::OptOutRead>);

/// Step 2: every input staged (encrypted buckets), its rows' keys handed to the linker.
pub(super) struct Staged {
    tables: Vec<staging::Staged>,
    linker: Linker,
}

/// Step 3: the persons, and each table's rows with their person.
pub(super) struct Linked {
    persons: Persons,
    tables: Vec<LinkedTable>,
}

/// One table after linkage.
struct LinkedTable {
    staged: staging::Staged,
    /// Person of each accepted row.
    rows: Arc<Vec<u32>>,
    /// The staged rows with their person index.
    base: StagedTable,
}

/// Step 4: who opted out, per table (a provider-scoped list covers its tables only).
pub(super) struct OptedOut {
    persons: Persons,
    matches: Vec<OptOutMatch>,
    lists: OptOutLists,
    tables: Vec<OptedOutTable>,
}

/// One table after opt-out.
struct OptedOutTable {
    linked: LinkedTable,
    /// Per person: removed from this table by an opt-out.
    opted_out: Arc<Vec<bool>>,
    /// The rows of persons who did not opt out.
    kept: StagedTable,
}

/// Step 5: the privacy model's outcome (anonymized releases; nothing suppressed otherwise).
pub(super) struct PrivacyOutcome {
    /// Per person: suppressed because their class fails the model.
    suppressed: Vec<bool>,
    /// Per table: records whose events are released as `*`, by source row.
    item_suppressed: Vec<Option<Arc<Vec<bool>>>>,
    /// Level chosen per quasi-identifier and event column.
    levels: BTreeMap<String, usize>,
}

/// Step 6: the release written into its scratch folder (not yet visible).
pub(super) struct Written {
    release: Release,
    pseudonyms: PseudonymKey,
    transforms: Vec<tokumei_report::ColumnTreatment>,
}

/// Step 7: a written release that passed the checks on its own files; only this can be released.
pub(super) struct Verified(Written);

impl<'a> Run<'a> {
    /// Checks the destination, loads the key, cleans what interrupted runs left and makes the
    /// work folder.
    pub(super) fn begin(plan: &'a Plan, options: &'a RunOptions) -> Result<Run<'a>, PipelineError> {
        let out = options.out.clone().unwrap_or_else(|| plan.out.clone());
        destination::check(plan, &out)?;
        let keys = PlanKeys::load(plan)?;
        let parent =
            out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        std::fs::create_dir_all(&parent)?;
        // Runs killed outright left their scratch folders here: remove them first.
        let leftovers = leftovers::clean(&parent)?;
        // The work folder: 0700, marked so that a crash leaves something the next run recognizes.
        let work = tempfile::Builder::new().prefix(".tokumei-work-").tempdir_in(&parent)?;
        tokumei_report::mark_leftover(work.path())?;
        let mut warnings = Vec::new();
        if !leftovers.is_empty() {
            warnings.push(format!(
                "removed {} folder(s) left by interrupted tokumei runs in {} (work files, partial releases)",
                leftovers.len(),
                parent.display()
            ));
        }
        Ok(Run {
            plan,
            options,
            out,
            keys,
            work,
            stage_key: Arc::new(encrypted::StageKey::random()?),
            stages: Stages::default(),
            accounting: Vec::new(),
            warnings,
            timings: Timings::default(),
            submissions: Vec::new(),
        })
    }

    /// Step 0, at a certified producer: every provider's submission opened whole (each file the
    /// one its report lists, nothing added), keyed with this producer's token key, and every
    /// token cell one that key could have written. Anything else refuses the release, naming
    /// the provider.
    pub(super) fn open_submissions(&mut self) -> Step<()> {
        self.timings.stage("submissions opened");
        let plan = self.plan;
        let link = self.keys().link();
        let mut opened: BTreeMap<PathBuf, Submission> = BTreeMap::new();
        let mut submissions = Vec::new();
        for table in &plan.tables {
            let Some(folder) = &table.submission else {
                submissions.push(None);
                continue;
            };
            let name = &table.source.table;
            let refuse = |reason: String| Stop::Refused(Refusal::Submission { table: name.clone(), reason });
            let fingerprint = self.keys.token.as_ref().map(MasterKey::fingerprint).unwrap_or_default();
            let submission = match opened.get(folder) {
                Some(submission) => submission.clone(),
                None => {
                    let submission = open_submission(folder, &fingerprint).map_err(|e| refuse(e.to_string()))?;
                    opened.insert(folder.clone(), submission.clone());
                    submission
                }
            };
            let extract = table.source.extract.as_deref().unwrap_or_default();
            if !submission.tables.iter().any(|(t, _)| t == extract) {
                let offered: Vec<&str> = submission.tables.iter().map(|(t, _)| t.as_str()).collect();
                return Err(refuse(format!(
                    "the submission of `{}` ({}) has no table `{extract}` (it has: {})",
                    submission.provider,
                    folder.display(),
                    offered.join(", ")
                )));
            }
            let header_of = |name: &str| {
                table.source.columns.iter().find(|c| c.name == name).map_or(name.to_string(), |c| c.header.clone())
            };
            let renames: Vec<Expr> = table
                .link
                .0
                .iter()
                .filter(|(f, _)| f.is_token())
                .map(|(_, c)| col(header_of(c).as_str()).cast(DataType::String).alias(c.as_str()))
                .collect();
            if !renames.is_empty() {
                let frame = scan(&table.source.path)?.select(renames).collect()?;
                if let Some((column, row)) = link.check_tokens(&frame, &table.link)? {
                    return Err(refuse(format!(
                        "the submission of `{}` ({}), row {} of column `{column}`, holds no token of this \
                         producer's token key",
                        submission.provider,
                        table.source.path.display(),
                        row + 1
                    )));
                }
            }
            submissions.push(Some(submission));
        }
        self.submissions = submissions;
        Ok(())
    }

    fn keys(&self) -> ReleaseKeys<'_> {
        self.keys.release(&self.plan.label)
    }

    /// Opt-out lists first: an entry that gives only a card needs the linker to note who holds
    /// it. An entry with a cell that cannot be read refuses the release.
    pub(super) fn read_opt_out_lists(&mut self) -> Step<OptOutLists> {
        self.timings.stage("opt-out lists");
        let link = self.keys().link();
        let mut reads = Vec::new();
        for list in &self.plan.opt_outs {
            let read = staging::read_opt_outs(list, &link)?;
            if let Some(refusal) = opt_out_unreadable(&list.path().display().to_string(), &read) {
                self.stages.opt_out = Some(OptOutSection {
                    lists: vec![OptOutListReport {
                        path: list.path().display().to_string(),
                        matching: None,
                        quarantined_entries: read.stats.rows_quarantined,
                        quarantine: read.stats.quarantine,
                    }],
                    ..OptOutSection::default()
                });
                return Err(Stop::Refused(refusal));
            }
            reads.push(read);
        }
        Ok(OptOutLists(reads))
    }

    /// Ingest → encrypted staged Parquet, feeding the linker. An empty table, or one with too
    /// many rows quarantined, refuses the release.
    pub(super) fn stage(&mut self, lists: &OptOutLists) -> Step<Staged> {
        self.timings.stage("ingest and linkage keys");
        let plan = self.plan;
        let keys = self.keys();
        let (link, tokens) = (keys.link(), keys.submission_tokens());
        let hashes = staging::RowHashes::new(&keys);
        let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
        linker.watch_cards(staging::watched_cards(&lists.0));
        let stager = staging::Stager {
            profile: plan.profile,
            link: &link,
            tokens: &tokens,
            hashes: &hashes,
            work: Some((self.work.path(), &self.stage_key)),
            bucket_bytes: self.options.bucket_bytes.unwrap_or(staging::BUCKET_BYTES).max(1),
            collect: None,
        };
        let mut tables = Vec::new();
        for (i, table) in plan.tables.iter().enumerate() {
            let progress = bar(self.options, format!("reading {}", table.source.table));
            let result = stager.stage(i, table, &mut linker, &progress)?;
            progress.finish_and_clear();
            tables.push(result);
        }
        self.stages.ingest =
            Some(plan.tables.iter().zip(&tables).map(|(t, s)| (t.source.table.clone(), s.stats.clone())).collect());
        for (table, s) in plan.tables.iter().zip(&tables) {
            if let Some(refusal) = ingest_gate(table, &s.stats) {
                return Err(Stop::Refused(refusal));
            }
            if s.stats.rows_quarantined > 0 {
                self.warnings.push(format!(
                    "input `{}`: {} of {} rows quarantined ({}; see the report's Ingest section)",
                    table.source.table,
                    s.stats.rows_quarantined,
                    s.stats.rows_read,
                    percent(s.stats.rows_quarantined, s.stats.rows_read)
                ));
            }
        }
        Ok(Staged { tables, linker })
    }

    /// The persons (union-find over the keys), and each row's person.
    pub(super) fn link(&mut self, staged: Staged) -> Step<Linked> {
        self.timings.stage("linkage and opt-out");
        let mut persons = staged.linker.finish();
        self.stages.linkage = Some(persons.stats.clone());
        self.stages.providers = provider_sections(self.plan, &self.submissions, &persons);
        // Shared with the row-level expressions; moved, not copied (one u32 per row).
        let tables = staged
            .tables
            .into_iter()
            .zip(std::mem::take(&mut persons.row_person))
            .map(|(staged, rows)| {
                let rows = Arc::new(rows);
                let base = StagedTable::new(&staged, self.stage_key.clone()).with_column(person_of_row(rows.clone()));
                LinkedTable { staged, rows, base }
            })
            .collect();
        Ok(Linked { persons, tables })
    }

    /// Matches every opt-out entry to persons. An entry that yields no key refuses the release;
    /// entries that match nobody, or give only a card, are warned about.
    pub(super) fn apply_opt_outs(&mut self, linked: Linked, lists: OptOutLists) -> Step<OptedOut> {
        let plan = self.plan;
        let Linked { persons, tables } = linked;
        let matches: Vec<OptOutMatch> = lists.0.iter().map(|read| match_opt_outs(&read.entries, &persons)).collect();
        let unresolved = plan.opt_outs.iter().zip(&matches).find(|(_, m)| !m.unresolved.is_empty());
        if let Some((list, m)) = unresolved {
            let refusal =
                Refusal::OptOutUnresolved { list: list.path().display().to_string(), entries: m.unresolved.clone() };
            self.stages.opt_out = Some(OptOutSection {
                lists: records::opt_out_lists(plan, &matches, &lists.0),
                ..OptOutSection::default()
            });
            return Err(Stop::Refused(refusal));
        }
        for (list, m) in plan.opt_outs.iter().zip(&matches) {
            if !m.unmatched_lines.is_empty() {
                self.warnings.push(format!(
                    "opt-out list {}: {} of {} entries match nobody in this data (allowed; lines in the report's \
                     Opt-out section)",
                    list.path().display(),
                    m.unmatched_lines.len(),
                    m.entries
                ));
            }
            if m.card_only_entries > 0 {
                self.warnings.push(format!(
                    "opt-out list {}: {} entries give only an insurance card; every holder of those cards was \
                     removed ({} persons)",
                    list.path().display(),
                    m.card_only_entries,
                    m.card_only_persons
                ));
            }
        }
        let tables = plan
            .tables
            .iter()
            .zip(tables)
            .map(|(table, linked)| {
                let mut flags = vec![false; persons.len()];
                for (list, m) in plan.opt_outs.iter().zip(&matches) {
                    if list.covers(&table.source.table) {
                        for &p in &m.persons {
                            flags[p as usize] = true;
                        }
                    }
                }
                let opted_out = Arc::new(flags);
                let kept = linked.base.filter(person_kept(opted_out.clone()));
                OptedOutTable { linked, opted_out, kept }
            })
            .collect();
        Ok(OptedOut { persons, matches, lists, tables })
    }

    /// The privacy model (anonymized profile): the levels, and who is suppressed. Then the
    /// accounting and the opt-out section; a target not met refuses the release.
    pub(super) fn privacy(&mut self, opted: &OptedOut) -> Step<PrivacyOutcome> {
        self.timings.stage("privacy model");
        let plan = self.plan;
        let mut outcome = PrivacyOutcome {
            suppressed: vec![false; opted.persons.len()],
            item_suppressed: vec![None; plan.tables.len()],
            levels: BTreeMap::new(),
        };
        let mut target_met = true;
        if let Some(settings) = &plan.privacy {
            let specs = plan.quasi_identifiers();
            let frames: Vec<(StagedTable, Vec<String>)> = plan
                .tables
                .iter()
                .zip(&opted.tables)
                .map(|(t, o)| (o.kept.clone(), t.columns.iter().map(|c| c.name.clone()).collect()))
                .collect();
            let rows_of: Vec<Arc<Vec<u32>>> = opted.tables.iter().map(|t| t.linked.rows.clone()).collect();
            let present = privacy::Present::new(opted.persons.len(), &rows_of, &|table, p| {
                opted.tables[table].opted_out[p as usize]
            });
            let rows =
                privacy::person_rows(&specs, settings.sensitive.as_deref(), &settings.levels, &frames, &present)?;
            let (histogram, person_entry) = rows.histogram()?;
            let solution = tokumei_privacy::search(&histogram, &rows.qis, &settings.model, &settings.search)?;
            // Items: within each class of released persons, any m of a person's records' events;
            // the relational levels and the item levels are chosen together.
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
            let suppressed_entries: std::collections::HashSet<u32> =
                solution.suppressed_entries.iter().copied().collect();
            for (c, entry) in person_entry.iter().enumerate() {
                if suppressed_entries.contains(entry) {
                    outcome.suppressed[present.persons[c] as usize] = true;
                }
            }
            target_met = solution.target_met;
            outcome.levels = solution.levels.clone();
            let mut items_section = None;
            if let Some((items, joint, events)) = items {
                target_met &= items.target_met;
                outcome.levels.extend(items.levels.clone());
                for ((table, source_rows), flags) in events.rows.iter().zip(&items.suppressed) {
                    let mut by_row = vec![false; opted.tables[*table].linked.staged.stats.rows_accepted as usize];
                    for (&row, &gone) in source_rows.iter().zip(flags) {
                        by_row[row as usize] = gone;
                    }
                    outcome.item_suppressed[*table] = Some(Arc::new(by_row));
                }
                let names: BTreeMap<String, String> = events
                    .columns
                    .iter()
                    .zip(&items.level_vector)
                    .map(|(c, &l)| (c.name.clone(), c.level_names[l].clone()))
                    .collect();
                items_section = Some(ItemsSection { solution: items, level_names: names, joint });
            }
            self.stages.risk = Some(tokumei_risk::class_risk(&solution.class_size_distribution));
            self.stages.privacy = Some(PrivacySection {
                solution,
                k: settings.model.k,
                max_suppression: settings.model.max_suppression,
                sensitive: settings.sensitive.clone(),
                suppression_reason: "the person's equivalence class fails the privacy model".into(),
                items: items_section,
                guarantee: None,
            });
        }
        // Accounting from the person index (checked against the written files at the end).
        let tables = opted.table_rows();
        self.accounting = records::account(plan, &tables, &outcome.suppressed);
        self.stages.opt_out =
            Some(records::opt_out_report(plan, &tables, (&opted.matches, &opted.lists.0), &self.accounting));
        if !target_met {
            return Err(Stop::Refused(Refusal::PrivacyTargetUnmet));
        }
        Ok(outcome)
    }

    /// Transforms and writes every table, bucket by bucket in shuffle order, scanning each part
    /// for free text and identifiers on its way out.
    pub(super) fn write(&mut self, opted: &OptedOut, outcome: &PrivacyOutcome) -> Step<Written> {
        self.timings.stage("transform and write");
        let plan = self.plan;
        let release = Release::begin_with_mode(&self.out, plan.file_mode)?;
        let pseudonyms = PseudonymKey::new(self.keys().person_pseudonym().bytes());
        let representatives = Arc::new(opted.persons.representative.clone());
        let releaser = output::Releaser {
            profile: plan.profile,
            label: &plan.label,
            master: &self.keys.master,
            levels: &outcome.levels,
            person_pseudonym: person_pseudonym(pseudonyms.clone(), representatives),
        };
        let mut transforms = Vec::new();
        for (i, (table, opted_table)) in plan.tables.iter().zip(&opted.tables).enumerate() {
            let name = &table.source.table;
            let progress = bar(self.options, format!("writing {name}"));
            progress.tick();
            // Opted out here, or suppressed.
            let removed: Arc<Vec<bool>> =
                Arc::new(opted_table.opted_out.iter().zip(&outcome.suppressed).map(|(o, s)| *o || *s).collect());
            let released = opted_table.linked.base.filter(person_kept(removed));
            let select = releaser.columns(table, &released, outcome.item_suppressed[i].clone(), &mut transforms)?;
            // Values a transform could not read became null: counted, warned about, and limited.
            let rows = self.accounting[i].written;
            for (column, values) in output::unreadable_values(table, &released, &outcome.levels)? {
                let refusal = Refusal::TransformFailed {
                    table: name.clone(),
                    column: column.clone(),
                    values,
                    rows,
                    limit: table.max_quarantine,
                };
                if values as f64 > table.max_quarantine * rows as f64 {
                    return Err(Stop::Refused(refusal));
                }
                self.warnings.push(format!(
                    "table `{name}`, column `{column}`: its transform could not read {values} of {rows} values ({}); \
                     they are released empty",
                    percent(values, rows)
                ));
                if let Some(t) = transforms.iter_mut().find(|t| &t.table == name && t.column == column) {
                    t.detail.push_str(&format!("; {values} values unreadable → empty"));
                }
            }
            // Bucket by bucket, each in shuffle order: one bucket in memory at a time.
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
                    None => return Err(Stop::Refused(Refusal::Released { table: name.clone(), column, findings })),
                    Some(_) => {
                        let what: Vec<&str> = findings.iter().map(|f| f.describe()).collect();
                        if let Some(t) = transforms.iter_mut().find(|t| &t.table == name && t.column == column) {
                            t.detail.push_str(&format!("; holds {}, released by its reason", what.join(", ")));
                        }
                    }
                }
            }
        }
        Ok(Written { release, pseudonyms, transforms })
    }

    /// On the files about to be released: the guarantee (anonymized releases), then opt-out a
    /// second time.
    pub(super) fn verify(&mut self, written: Written, opted: &OptedOut) -> Step<Verified> {
        let plan = self.plan;
        if let Some(settings) = &plan.privacy {
            self.timings.stage("guarantee check");
            let qis: Vec<String> = plan.quasi_identifiers().into_iter().map(|s| s.name).collect();
            let events: Vec<String> = plan.event_columns().into_iter().map(|s| s.name).collect();
            let files: Vec<PathBuf> =
                plan.tables.iter().map(|t| written.release.path(&format!("{}.parquet", t.source.table))).collect();
            let released: Vec<guarantee::ReleasedTable<'_>> = plan
                .tables
                .iter()
                .zip(&files)
                .map(|(t, file)| {
                    let has =
                        |name: &String| t.columns.iter().any(|c| &c.name == name && c.transform != Transform::Drop);
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
            if let Some(section) = &mut self.stages.privacy {
                section.guarantee = Some(GuaranteeSection {
                    k: settings.model.k,
                    m,
                    quasi_identifiers: qis,
                    events,
                    measured,
                    statement: english,
                    statement_ja: japanese,
                    not_covered: "Sensitive values (diagnoses, drugs, lab values) are not hidden by k and m: they \
                        are protected by rare-code and top/bottom coding, and by ℓ-diversity or t-closeness where \
                        configured."
                        .into(),
                });
            }
            if !meets {
                return Err(Stop::Refused(Refusal::GuaranteeNotMet {
                    k: settings.model.k,
                    m,
                    min_class,
                    min_item_support,
                }));
            }
        }
        self.timings.stage("final opt-out check");
        let base: Vec<&StagedTable> = opted.tables.iter().map(|t| &t.linked.base).collect();
        let opted_out: Vec<Arc<Vec<bool>>> = opted.tables.iter().map(|t| t.opted_out.clone()).collect();
        let leaked = final_opt_out_check(
            plan,
            &written.release,
            &written.pseudonyms,
            &opted.persons.representative,
            &base,
            &opted_out,
        )?;
        if leaked {
            return Err(Stop::Refused(Refusal::OptOutCheckFailed));
        }
        Ok(Verified(written))
    }

    /// Counts what was written (the accounting must agree exactly), writes the provision record
    /// and the reports, and commits the release into place.
    pub(super) fn release(mut self, verified: Verified) -> Result<RunOutcome, PipelineError> {
        self.timings.stage("accounting and report");
        let plan = self.plan;
        let Verified(Written { release, transforms, .. }) = verified;
        let mut report = self.report(String::new())?;
        report.transforms = transforms;
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
        // The 提供記録 of a submission, the 作成記録 of any other release.
        let record = match plan.profile {
            Profile::Submission => LegalRecord::Provision(records::provision_record(plan, &report)),
            _ => LegalRecord::Creation(Box::new(CreationRecord::of(
                &report,
                plan.provider.clone(),
                plan.recipient.clone(),
            ))),
        };
        release.write_text(record.file(), &record.to_json().map_err(tokumei_report::Error::Json)?)?;
        report.outputs.push(OutputFile {
            file: record.file().into(),
            rows: None,
            blake3: release.digest(record.file())?,
        });
        report.record = Some(record);
        report.status = "released".into();
        release.write_text("report.json", &report.to_json().map_err(tokumei_report::Error::Json)?)?;
        release.write_text("report.md", &report.to_markdown())?;
        release.write_text("report.html", &report.to_html())?;
        // The independent verifier, on the folder exactly as it would be released.
        if plan.verify {
            self.timings.stage("verify (independent)");
            let options = tokumei_verify::Options {
                ignore: vec![tokumei_report::LEFTOVER_MARKER.to_string()],
                ..tokumei_verify::Options::default()
            };
            let verification = tokumei_verify::verify(release.folder(), &options)?;
            if !verification.passed() {
                drop(release);
                return self.refuse(Refusal::VerifyFailed { findings: verification.findings });
            }
        }
        let out = release.commit()?;
        destination::remove_refusal(&out);
        Ok(RunOutcome {
            status: Status::Released,
            report,
            out: Some(out),
            refusal_report: None,
            warnings: self.warnings,
            timings: self.timings.finish(),
        })
    }

    /// The report as far as the run got.
    fn report(&self, status: String) -> Result<RunReport, PipelineError> {
        Ok(RunReport {
            tokumei_version: env!("CARGO_PKG_VERSION").into(),
            profile: format!("{:?}", self.plan.profile).to_lowercase(),
            label: self.plan.label.clone(),
            token_key_fingerprint: self.keys.token.as_ref().map(MasterKey::fingerprint),
            date: self.plan.date.to_string(),
            status,
            warnings: self.warnings.clone(),
            inputs: records::input_digests(self.plan)?,
            accounting: self.accounting.clone(),
            transforms: Vec::new(),
            stages: self.stages.clone(),
            outputs: Vec::new(),
            record: None,
        })
    }

    /// Ends the run with `refusal`: nothing released, the report written to `<out>.refused/`.
    pub(super) fn refuse(mut self, refusal: Refusal) -> Result<RunOutcome, PipelineError> {
        let report = self.report(format!("refused: {refusal}"))?;
        let refusal_report = Some(destination::write_refusal(&self.out, &report)?);
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

impl OptedOut {
    /// Per table: what ingest read, each row's person, and who opted out there.
    fn table_rows(&self) -> Vec<records::TableRows<'_>> {
        self.tables
            .iter()
            .map(|t| records::TableRows {
                stats: &t.linked.staged.stats,
                rows: &t.linked.rows,
                opted_out: &t.opted_out,
            })
            .collect()
    }
}

/// Per provider whose submission the run read: its rows, persons, and persons linkage found in
/// another provider's submission too. `None` when no input is a submission.
fn provider_sections(
    plan: &Plan,
    submissions: &[Option<Submission>],
    persons: &Persons,
) -> Option<Vec<ProviderSection>> {
    // Providers in the order their first table appears; a provider is its submission folder.
    let mut folders: Vec<&Path> = Vec::new();
    let mut provider_of_table = Vec::new();
    for submission in submissions {
        provider_of_table.push(submission.as_ref().map(|s| {
            folders.iter().position(|f| *f == s.folder).unwrap_or_else(|| {
                folders.push(&s.folder);
                folders.len() - 1
            })
        }));
    }
    if folders.is_empty() {
        return None;
    }
    let mut sections = vec![ProviderSection::default(); folders.len()];
    // Per person, a bit per provider (the first 64; more are counted as one).
    let mut seen = vec![0u64; persons.len()];
    for ((table, rows), provider) in plan.tables.iter().zip(&persons.row_person).zip(&provider_of_table) {
        let Some(p) = *provider else { continue };
        let bit = 1u64 << p.min(63);
        sections[p].tables.push(table.source.table.clone());
        sections[p].rows += rows.len() as u64;
        for &person in rows.iter() {
            seen[person as usize] |= bit;
        }
    }
    for (p, section) in sections.iter_mut().enumerate() {
        let bit = 1u64 << p.min(63);
        let submission =
            submissions.iter().flatten().find(|s| s.folder == folders[p]).expect("a provider's submission");
        section.provider = submission.provider.clone();
        section.label = submission.label.clone();
        section.persons = seen.iter().filter(|&&s| s & bit != 0).count() as u64;
        section.shared_persons = seen.iter().filter(|&&s| s & bit != 0 && s & !bit != 0).count() as u64;
    }
    Some(sections)
}
