//! With the config and its key: who opted out, recomputed from the inputs and the opt-out lists,
//! and what of theirs must not be in the release — their person pseudonyms, or a submission's
//! tokens of their rows. It uses the definitions (the ingest reader, the linkage keys,
//! union-find and opt-out matching of `tokumei_link`, the key schedule), not the run's stages.

use std::collections::{BTreeSet, HashMap, HashSet};

use tokumei_config::{KeySource, OptOutList, Plan, Profile};
use tokumei_ingest::{LINE_COLUMN, read_source};
use tokumei_link::{
    KeyKind, Linker, MasterKey, ReleaseKeys, RowKeys, entries_of_batch, keyless_row_id, match_opt_outs,
    parse_token_list, token_hex,
};
use tokumei_transform::PseudonymKey;

use crate::VerifyError;

/// The key kinds a submission carries as token columns (evidence tokens are not identities).
const TOKEN_KINDS: [KeyKind; 5] =
    [KeyKind::Insurance, KeyKind::Name, KeyKind::Local, KeyKind::CardBranch, KeyKind::Card];

/// Per table: the values that would show an opted-out person in it.
#[derive(Debug, Clone, Default)]
pub struct OptedOut {
    /// Persons opted out of at least one table.
    pub persons: usize,
    /// Table → forbidden `person_id`s (pseudonymized, anonymized) or tokens (submissions).
    pub(crate) forbidden: HashMap<String, HashSet<String>>,
}

impl OptedOut {
    /// Recomputes who opted out of which table of `plan`, with the key the config names.
    pub fn recompute(plan: &Plan) -> Result<OptedOut, VerifyError> {
        let key_error = |e: tokumei_link::KeyError| VerifyError::Key(e.to_string());
        let master = match &plan.key {
            KeySource::File(path) => MasterKey::from_file(path),
            KeySource::Env(name) => MasterKey::from_env(name),
        }
        .map_err(key_error)?;
        let token = plan.token_key.as_deref().map(MasterKey::from_file).transpose().map_err(key_error)?;
        let mut keys = ReleaseKeys::derive(&master, &plan.label);
        if let Some(token) = &token {
            keys = keys.with_token_key(token);
        }
        let link = keys.link();

        let mut lists = Vec::new();
        for list in &plan.opt_outs {
            let entries = match &list.list {
                OptOutList::Plain { source, link: columns } => {
                    let mut entries = Vec::new();
                    read_source(source, |batch| {
                        let lines = batch.column(LINE_COLUMN)?.u64()?.clone();
                        entries.extend(entries_of_batch(&link, &batch, columns, &lines)?);
                        Ok(())
                    })
                    .map_err(|e| input_error(&source.path.display().to_string(), e))?;
                    entries
                }
                OptOutList::Tokens(path) => {
                    let shown = path.display().to_string();
                    let text = std::fs::read_to_string(path)
                        .map_err(|source| VerifyError::Io { path: shown.clone(), source })?;
                    parse_token_list(&text).map_err(|line| VerifyError::Table {
                        path: shown,
                        message: format!("line {line} is not a token list line"),
                    })?
                }
            };
            lists.push((list, entries));
        }

        let mut linker = Linker::new(plan.tables.len(), plan.conflict_rule);
        linker.watch_cards(lists.iter().flat_map(|(_, e)| e.iter().filter_map(|e| e.keys[KeyKind::Card as usize])));
        let keyless = *keys.keyless_row().bytes();
        let mut row_keys: Vec<Vec<RowKeys>> = Vec::new();
        for (i, table) in plan.tables.iter().enumerate() {
            let name = table.source.table.clone();
            let mut kept = Vec::new();
            read_source(&table.source, |batch| {
                let keys = link.row_keys(&batch, &table.link)?;
                let evidence = link.row_evidence(&batch, &table.link)?;
                linker.add_rows(i, &keys, &evidence, |row| keyless_row_id(&keyless, &name, row as u64));
                if plan.profile == Profile::Submission {
                    kept.extend(keys);
                }
                Ok(())
            })
            .map_err(|e| input_error(&table.source.path.display().to_string(), e))?;
            row_keys.push(kept);
        }
        let persons = linker.finish();
        let pseudonyms = PseudonymKey::new(keys.person_pseudonym().bytes());

        let mut all = BTreeSet::new();
        let mut forbidden = HashMap::new();
        for (i, table) in plan.tables.iter().enumerate() {
            let name = &table.source.table;
            let opted: BTreeSet<u32> = lists
                .iter()
                .filter(|(list, _)| list.covers(name))
                .flat_map(|(_, entries)| match_opt_outs(entries, &persons).persons)
                .collect();
            all.extend(opted.iter().copied());
            let values: HashSet<String> = if plan.profile == Profile::Submission {
                // Tokens of opted-out rows, less those a person who stays holds too (twins and
                // households share cards).
                let tokens = |out: bool| -> HashSet<String> {
                    persons.row_person[i]
                        .iter()
                        .zip(&row_keys[i])
                        .filter(|(p, _)| opted.contains(p) == out)
                        .flat_map(|(_, keys)| TOKEN_KINDS.iter().filter_map(|k| keys[*k as usize].map(token_hex)))
                        .collect()
                };
                let stays = tokens(false);
                tokens(true).into_iter().filter(|t| !stays.contains(t)).collect()
            } else {
                opted.iter().map(|&p| pseudonyms.pseudonym(&persons.representative[p as usize].to_le_bytes())).collect()
            };
            forbidden.insert(name.clone(), values);
        }
        Ok(OptedOut { persons: all.len(), forbidden })
    }

    /// The forbidden values of `table`'s identity columns.
    pub(crate) fn of(&self, table: &str) -> Option<&HashSet<String>> {
        self.forbidden.get(table)
    }
}

fn input_error(path: &str, e: tokumei_ingest::Error) -> VerifyError {
    VerifyError::Table { path: path.to_string(), message: e.to_string() }
}

/// Whether `column` carries a person's identity in a release (its pseudonym or a token).
pub(crate) fn is_identity_column(column: &str) -> bool {
    column == tokumei_core::PERSON_COLUMN
        || (column.starts_with("token_") && column != "token_address" && column != "token_prefecture")
}
