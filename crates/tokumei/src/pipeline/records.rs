//! What the report records beyond the stages' own statistics: every row accounted for, the
//! opt-out section, the digests of the inputs, and the provision record (提供記録).

use std::collections::BTreeMap;

use tokumei_config::{OptOutList, Plan};
use tokumei_link::OptOutMatch;
use tokumei_report::records::{ProvisionRecord, TableCount, three_years_after};
use tokumei_report::{InputFile, ListMatching, OptOutListReport, OptOutSection, RunReport, TableAccount, digest_file};

use super::PipelineError;
use super::staging;

/// One table's rows as the records count them: what ingest read, each accepted row's person, and
/// per person whether an opt-out removed them from this table.
pub(super) struct TableRows<'a> {
    pub stats: &'a tokumei_ingest::IngestStats,
    pub rows: &'a [u32],
    pub opted_out: &'a [bool],
}

/// Rows and persons per table, from the person index: every row is opted out, suppressed or
/// written (quarantined rows never reached the index).
pub(super) fn account(plan: &Plan, tables: &[TableRows<'_>], suppressed: &[bool]) -> Vec<TableAccount> {
    let mut accounting = Vec::new();
    for (table, TableRows { stats: s, rows, opted_out }) in plan.tables.iter().zip(tables) {
        let mut a = TableAccount {
            table: table.source.table.clone(),
            rows_read: s.rows_read,
            quarantined: s.rows_quarantined,
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
pub(super) fn opt_out_lists(
    plan: &Plan,
    matches: &[OptOutMatch],
    reads: &[staging::OptOutRead],
) -> Vec<OptOutListReport> {
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
pub(super) fn opt_out_report(
    plan: &Plan,
    tables: &[TableRows<'_>],
    (matches, reads): (&[OptOutMatch], &[staging::OptOutRead]),
    accounting: &[TableAccount],
) -> OptOutSection {
    // Rows removed per table and key kind: a row counts under every kind its person was matched by.
    let mut by_kind = BTreeMap::new();
    for (table, TableRows { rows, opted_out: flags, .. }) in plan.tables.iter().zip(tables) {
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
    let persons = tables.first().map_or(0, |t| t.opted_out.len());
    let removed_anywhere = (0..persons).filter(|&p| tables.iter().any(|t| t.opted_out[p])).count() as u64;
    OptOutSection {
        lists: opt_out_lists(plan, matches, reads),
        rows_removed_by_key_kind: Some(by_kind),
        persons_removed: Some(removed_anywhere),
        rows_removed: Some(accounting.iter().map(|a| (a.table.clone(), a.opted_out)).collect()),
    }
}

/// blake3 of the config, every input and every opt-out list.
pub(super) fn input_digests(plan: &Plan) -> Result<Vec<InputFile>, PipelineError> {
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

/// 提供記録: what was provided, when, to whom.
pub(super) fn provision_record(plan: &Plan, report: &RunReport) -> ProvisionRecord {
    let items = plan
        .tables
        .iter()
        .map(|t| {
            let names = report
                .transforms
                .iter()
                .filter(|c| c.table == t.source.table && c.transform != "drop")
                .map(|c| c.column.clone())
                .collect();
            (t.source.table.clone(), names)
        })
        .collect();
    ProvisionRecord {
        date: plan.date.to_string(),
        items,
        opt_out_persons_excluded: report.stages.opt_out.as_ref().and_then(|o| o.persons_removed),
        provider: plan.provider.clone(),
        recipient: plan.recipient.clone(),
        record: "提供記録 (provision record)".into(),
        release_label: plan.label.clone(),
        retain_until_at_least: three_years_after(&plan.date.to_string()),
        tables: report
            .accounting
            .iter()
            .map(|a| TableCount { table: a.table.clone(), rows: a.written, persons: a.persons_written })
            .collect(),
        token_key_fingerprint: report.token_key_fingerprint.clone(),
    }
}
