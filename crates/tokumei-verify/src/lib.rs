//! `tokumei verify`: a check of a finished release folder that does not trust the code that made
//! it. It reads only the folder — its files and the report's own account of them — and shares
//! with the pipeline only the definitions (what a My Number, a telephone number, an insurer
//! number or a street address looks like: `tokumei_core::scan`), not its stages.
//!
//! | check | a finding when |
//! |---|---|
//! | `changed`, `missing`, `unlisted` | a file's blake3 differs from the report's; a listed file is absent; a file is in the folder that the report does not list |
//! | `rows`, `persons` | a table's rows, or distinct `person_id`s, differ from the report's `written` / `persons_written` |
//! | `my-number`, `phone`, `street-address` | any cell of any table, or any text of the reports and records, holds one |
//! | `insurer-number` | a column's values are insurer numbers (90 % with a valid check digit) |
//! | `class-below-k` | persons grouped by everything the release says about their quasi-identifiers form a class smaller than the report's k |
//! | `input-identifier` | with the config (`--config`): a cell holds a name, kana name, address or telephone number of the inputs (in any spelling the normalizer folds together: width, 旧字体, kana, spaces), or is one of their card numbers, patient IDs, receipt numbers or My Numbers |
//! | `opted-out` | with the config and its key: a `person_id` (or, in a submission, a token) of a person who opted out of that table — recomputed from the inputs and the opt-out lists |
//! | `shared-pseudonym` | a `person_id` or pseudonym value also appears in another release (`--other`): the two could be joined (a submission's tokens are meant to link at its producer and are not compared) |
//!
//! Each finding names the file, column and row (1-based, in file order) and the kind — never the
//! value. At most [`ROWS_LISTED`] rows are listed per file, column and kind; the rest are counted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use tokumei_core::scan::classify;

mod optout;
pub use optout::OptedOut;

/// Rows listed per file, column and kind (the rest are counted in one more finding).
pub const ROWS_LISTED: usize = 10;

/// The files tokumei writes into every release besides those its report lists.
const REPORT_FILES: [&str; 3] = ["report.json", "report.md", "report.html"];

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A file differs from the digest its report gives.
    Changed,
    /// A file the report lists is not there.
    Missing,
    /// A file is there that the report does not list.
    Unlisted,
    /// A table's rows differ from the report's.
    Rows,
    /// A table's distinct persons differ from the report's.
    Persons,
    /// A My Number (個人番号) with a valid check digit.
    MyNumber,
    /// A telephone number.
    Phone,
    /// A column of insurer numbers (保険者番号).
    InsurerNumber,
    /// An address down to its block or lot number.
    StreetAddress,
    /// A class of persons smaller than k.
    ClassBelowK,
    /// A pseudonym or token value shared with another release.
    SharedPseudonym,
    /// An identifying value of the inputs (`--config`).
    InputIdentifier,
    /// A person who opted out (`--config`).
    OptedOut,
}

impl Kind {
    /// The kind as the output names it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Changed => "changed",
            Kind::Missing => "missing",
            Kind::Unlisted => "unlisted",
            Kind::Rows => "rows",
            Kind::Persons => "persons",
            Kind::MyNumber => "my-number",
            Kind::Phone => "phone",
            Kind::InsurerNumber => "insurer-number",
            Kind::StreetAddress => "street-address",
            Kind::ClassBelowK => "class-below-k",
            Kind::SharedPseudonym => "shared-pseudonym",
            Kind::InputIdentifier => "input-identifier",
            Kind::OptedOut => "opted-out",
        }
    }
}

/// One finding: where, and what — never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file in the release.
    pub file: String,
    /// The column (tables) or JSON path / line (reports), when it applies.
    pub column: Option<String>,
    /// The row (1-based, in file order) or line, when it applies.
    pub row: Option<u64>,
    /// What is wrong.
    pub kind: Kind,
    /// Details (counts, the expected figure).
    pub detail: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        write!(f, ": {}", self.kind.name())?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The release folder.
    pub release: String,
    /// Files checked.
    pub files: usize,
    /// Table rows read.
    pub rows: u64,
    /// The findings; none means the release passed.
    pub findings: Vec<Finding>,
    /// Cells of the tables holding each kind of identifier (columns, for insurer numbers), all
    /// of them counted (the findings list the first few).
    pub identifier_cells: BTreeMap<String, u64>,
    /// Distinct `person_id`s across the tables (none in a submission).
    pub persons: Option<u64>,
    /// Persons whose rows hold a My Number (rows, when the release has no `person_id`).
    pub persons_with_my_number: u64,
}

impl Verification {
    /// Whether the release passed every check.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Why the release could not be verified at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a tokumei release: no readable report.
    #[error("{0}: not a tokumei release (no readable report.json of tokumei's)")]
    NotARelease(String),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The key the config names could not be loaded.
    #[error("key: {0}")]
    Key(String),
    /// A table could not be read.
    #[error("{path}: {message}")]
    Table {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

/// What to check besides the folder itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Other releases that must share no pseudonym or token value with this one.
    pub others: Vec<PathBuf>,
    /// File names that are not part of the release (the run's own marker on the folder it is
    /// still writing).
    pub ignore: Vec<String>,
    /// The identifying values of the inputs (`--config`), to look for in every cell.
    pub identifiers: Option<InputIdentifiers>,
    /// Who opted out of which table (`--config`, with its key).
    pub opted_out: Option<OptedOut>,
}

/// A code as compared: the normalizer's code key, and an all-digit code without its leading
/// zeros (systems pad to different widths; `0000999`, a receipt number here and the code of an
/// uncoded diagnosis there, is too short to tell anyone apart).
fn code_form(raw: &str) -> String {
    let key = tokumei_core::normalize::code_key(raw);
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
        return key.trim_start_matches('0').to_string();
    }
    key
}

/// Whether a cell is a date or a month, quarter or year of one (`2025-06-10`, `2025/06`,
/// `2025-06`, `2025Q2`, `2025`).
fn looks_like_date(cell: &str) -> bool {
    let cell = cell.trim();
    if !cell.is_ascii() {
        return false;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = cell.split(['-', '/']).collect();
    match parts[..] {
        [y] => digits(y, 4) || (cell.len() == 6 && digits(&cell[..4], 4) && cell[4..5].eq_ignore_ascii_case("q")),
        [y, m] => digits(y, 4) && (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()),
        [y, m, d] => {
            digits(y, 4) && m.len() <= 2 && d.len() <= 2 && (m.to_string() + d).bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Shortest folded name, address or telephone number looked for inside cells (shorter ones, such
/// as two-character names, occur inside ordinary words).
pub const MIN_TEXT_CHARS: usize = 3;
/// Shortest folded code looked for (codes must equal a whole cell).
pub const MIN_CODE_CHARS: usize = 6;
/// Shortest all-digit code looked for, in digits after its leading zeros: 7-digit numbers (postal
/// codes, UKE diagnosis codes, receipt sequence numbers) coincide by chance, so a patient ID of
/// fewer than 8 significant digits is not looked for; card numbers and My Numbers are.
pub const MIN_DIGIT_CODE: usize = 8;

/// Every identifying value of a config's inputs, folded as the normalizer folds them: names,
/// kana names, addresses (those down to a number) and telephone numbers to be found anywhere in
/// a cell; card numbers, patient IDs, receipt numbers and My Numbers to be found as a whole cell.
#[derive(Clone)]
pub struct InputIdentifiers {
    text: aho_corasick::AhoCorasick,
    /// What each text pattern is (its column's name in the input), by pattern index.
    text_kinds: Vec<String>,
    codes: HashMap<String, String>,
}

impl std::fmt::Debug for InputIdentifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InputIdentifiers({} texts, {} codes)", self.text_kinds.len(), self.codes.len())
    }
}

impl InputIdentifiers {
    /// Reads every input of `plan` and keeps the values of its direct identifiers,
    /// identification codes and linkage identifiers.
    pub fn read(plan: &tokumei_config::Plan) -> Result<InputIdentifiers, VerifyError> {
        use tokumei_core::normalize::kanji_key;
        use tokumei_core::{LinkField, Role};
        let mut texts: HashMap<String, String> = HashMap::new();
        let mut codes: HashMap<String, String> = HashMap::new();
        for table in &plan.tables {
            let address = table.link.0.get(&LinkField::Address);
            let wanted: Vec<(&str, Role)> = table
                .columns
                .iter()
                .filter(|c| {
                    matches!(c.role, Role::DirectIdentifier | Role::IdentificationCode | Role::LinkageIdentifier)
                })
                .filter(|c| !table.link.0.iter().any(|(f, n)| f.is_token() && *n == c.name))
                .map(|c| (c.name.as_str(), c.role))
                .collect();
            let shown = table.source.path.display().to_string();
            tokumei_ingest::read_source(&table.source, |batch| {
                for (name, role) in &wanted {
                    let column = batch.column(name)?.cast(&DataType::String)?;
                    let what = format!("{}.{name}", table.source.table);
                    for value in column.str()?.iter().flatten() {
                        if role == &Role::DirectIdentifier {
                            let folded = kanji_key(value);
                            let is_address = address.is_some_and(|a| a == name);
                            if folded.chars().count() >= MIN_TEXT_CHARS
                                && (!is_address || folded.chars().any(|c| c.is_ascii_digit()))
                            {
                                texts.entry(folded).or_insert_with(|| what.clone());
                            }
                        } else {
                            let folded = code_form(value);
                            let digits = folded.bytes().all(|b| b.is_ascii_digit());
                            if folded.len() >= if digits { MIN_DIGIT_CODE } else { MIN_CODE_CHARS } {
                                codes.entry(folded).or_insert_with(|| what.clone());
                            }
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| VerifyError::Table { path: shown, message: e.to_string() })?;
        }
        let (patterns, text_kinds): (Vec<String>, Vec<String>) = texts.into_iter().collect();
        let text = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&patterns)
            .map_err(|e| VerifyError::Table { path: "(input identifiers)".into(), message: e.to_string() })?;
        Ok(InputIdentifiers { text, text_kinds, codes })
    }

    /// The input column whose value `cell` holds, if any. Codes are compared only in text cells
    /// (`codes`) that are not dates: `2025-06-10` is a date, whatever card bears `20250610`.
    fn find(&self, cell: &str, codes: bool) -> Option<&str> {
        use tokumei_core::normalize::kanji_key;
        if codes
            && !looks_like_date(cell)
            && let Some(what) = self.codes.get(&code_form(cell))
        {
            return Some(what);
        }
        self.text.find(&kanji_key(cell)).map(|m| self.text_kinds[m.pattern().as_usize()].as_str())
    }

    /// How many values are looked for.
    pub fn len(&self) -> usize {
        self.text_kinds.len() + self.codes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The report's account of the release, as `report.json` states it.
struct Account {
    profile: String,
    outputs: Vec<(String, String, Option<u64>)>,
    written: HashMap<String, (u64, u64)>,
    k: Option<u64>,
    quasi_identifiers: Vec<String>,
    pseudonym_columns: BTreeSet<String>,
}

fn read_account(folder: &Path) -> Result<Account, VerifyError> {
    let not = || VerifyError::NotARelease(folder.display().to_string());
    let text = std::fs::read_to_string(folder.join("report.json")).map_err(|_| not())?;
    let report: serde_json::Value = serde_json::from_str(&text).map_err(|_| not())?;
    report.get("tokumei_version").and_then(|v| v.as_str()).ok_or_else(not)?;
    let outputs = report["outputs"]
        .as_array()
        .ok_or_else(not)?
        .iter()
        .filter_map(|o| Some((o["file"].as_str()?.to_string(), o["blake3"].as_str()?.to_string(), o["rows"].as_u64())))
        .collect();
    let written = report["accounting"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let (rows, persons) = (a["written"].as_u64()?, a["persons_written"].as_u64()?);
            Some((a["table"].as_str()?.to_string(), (rows, persons)))
        })
        .collect();
    let guarantee = &report["stages"]["privacy"]["guarantee"];
    let pseudonym_columns = report["transforms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["transform"] == "pseudonym")
        .filter_map(|t| t["column"].as_str().map(str::to_string))
        .collect();
    Ok(Account {
        profile: report["profile"].as_str().unwrap_or_default().to_string(),
        outputs,
        written,
        k: guarantee["k"].as_u64(),
        quasi_identifiers: guarantee["quasi_identifiers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|q| q.as_str().map(str::to_string))
            .collect(),
        pseudonym_columns,
    })
}

/// Findings of one kind in one place, the first [`ROWS_LISTED`] listed and the rest counted.
struct Collector {
    findings: Vec<Finding>,
    counts: BTreeMap<(String, Option<String>, Kind), u64>,
}

impl Collector {
    fn add(&mut self, file: &str, column: Option<&str>, row: Option<u64>, kind: Kind, detail: String) {
        let count = self.counts.entry((file.to_string(), column.map(str::to_string), kind)).or_default();
        *count += 1;
        if *count as usize <= ROWS_LISTED {
            self.findings.push(Finding { file: file.into(), column: column.map(str::to_string), row, kind, detail });
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        for ((file, column, kind), n) in self.counts {
            if n as usize > ROWS_LISTED {
                self.findings.push(Finding {
                    file,
                    column,
                    row: None,
                    kind,
                    detail: format!("{} more, {n} in all", n as usize - ROWS_LISTED),
                });
            }
        }
        self.findings
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Io { path: path.display().to_string(), source }
}

fn table_error(path: &Path) -> impl Fn(PolarsError) -> VerifyError + '_ {
    move |e| VerifyError::Table { path: path.display().to_string(), message: e.to_string() }
}

fn scan(path: &Path) -> Result<LazyFrame, VerifyError> {
    PlRefPath::try_from_path(path)
        .and_then(|p| LazyFrame::scan_parquet(p, ScanArgsParquet::default()))
        .map_err(table_error(path))
}

/// One column of a table as text, in file order.
fn text_column(path: &Path, column: &str) -> Result<StringChunked, VerifyError> {
    let frame = scan(path)?.select([col(column).cast(DataType::String)]).collect().map_err(table_error(path))?;
    let text = frame.column(column).map_err(table_error(path))?.str().map_err(table_error(path))?.clone();
    Ok(text.rechunk().into_owned())
}

/// Verifies the release in `folder`.
pub fn verify(folder: &Path, options: &Options) -> Result<Verification, VerifyError> {
    let account = read_account(folder)?;
    let mut found = Collector { findings: Vec::new(), counts: BTreeMap::new() };
    let mut verification = Verification { release: folder.display().to_string(), ..Verification::default() };

    // 1. Every file is the one the report lists; nothing else is there.
    let listed: HashMap<&str, &str> = account.outputs.iter().map(|(f, d, _)| (f.as_str(), d.as_str())).collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(folder).map_err(io_error(folder))? {
        let entry = entry.map_err(io_error(folder))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if options.ignore.contains(&name) {
            continue;
        }
        present.insert(name.clone());
        if !listed.contains_key(name.as_str()) && !REPORT_FILES.contains(&name.as_str()) {
            found.add(&name, None, None, Kind::Unlisted, "not in the report's files".into());
        }
    }
    for (file, digest) in &listed {
        if !present.contains(*file) {
            found.add(file, None, None, Kind::Missing, "listed in the report".into());
            continue;
        }
        let path = folder.join(file);
        let opened = std::fs::File::open(&path).map_err(io_error(&path))?;
        let hash = blake3::Hasher::new().update_reader(opened).map_err(io_error(&path))?.finalize();
        verification.files += 1;
        if hash.to_hex().as_str() != *digest {
            found.add(file, None, None, Kind::Changed, "its blake3 differs from the report's".into());
        }
    }

    // 2–3. Each table: its rows and persons as the report says; no identifier in any cell. Each
    // column is read once; the person ids first, so that the same pass gathers each person's
    // quasi-identifier values for k.
    let qis: Vec<&String> = if account.k.is_some() { account.quasi_identifiers.iter().collect() } else { Vec::new() };
    let mut signatures: HashMap<String, BTreeSet<(String, String)>> = HashMap::new();
    let (mut all_persons, mut my_number_persons) = (HashSet::new(), HashSet::new());
    let mut my_number_cells = 0u64;
    let mut has_persons = false;
    for (file, _, reported_rows) in &account.outputs {
        let path = folder.join(file);
        if !file.ends_with(".parquet") || !path.exists() {
            continue;
        }
        let table = file.trim_end_matches(".parquet").to_string();
        let schema = scan(&path)?.collect_schema().map_err(table_error(&path))?;
        let columns: Vec<String> = schema.iter_names().map(|c| c.to_string()).collect();
        let persons = match columns.iter().any(|c| c == tokumei_core::PERSON_COLUMN) {
            true => Some(text_column(&path, tokumei_core::PERSON_COLUMN)?),
            false => None,
        };
        has_persons |= persons.is_some();
        let mut height = persons.as_ref().map_or(0, |p| p.len() as u64);
        let mut my_number_rows = BTreeSet::new();
        for column in &columns {
            let read;
            let text = match (&persons, column.as_str() == tokumei_core::PERSON_COLUMN) {
                (Some(persons), true) => persons,
                _ => {
                    read = text_column(&path, column)?;
                    &read
                }
            };
            height = text.len() as u64;
            let is_text = schema.get(column.as_str()).is_some_and(|t| t == &DataType::String);
            let identifiers = options.identifiers.as_ref().map(|i| (i, is_text));
            scan_cells(&mut found, &mut verification, &mut my_number_rows, file, column, text, identifiers);
            if let Some(forbidden) = options.opted_out.as_ref().and_then(|o| o.of(&table))
                && optout::is_identity_column(column)
            {
                for (i, value) in text.iter().enumerate() {
                    if value.is_some_and(|v| forbidden.contains(v)) {
                        found.add(
                            file,
                            Some(column),
                            Some(i as u64 + 1),
                            Kind::OptedOut,
                            "a person who opted out".into(),
                        );
                    }
                }
            }
            if let Some(persons) = &persons
                && qis.contains(&column)
            {
                for (person, value) in persons.iter().zip(text.iter()) {
                    let Some(person) = person else { continue };
                    signatures
                        .entry(person.to_string())
                        .or_default()
                        .insert((column.clone(), value.unwrap_or("").to_string()));
                }
            }
        }
        verification.rows += height;
        let written = account.written.get(&table).copied();
        if let Some(expected) = reported_rows.or(written.map(|w| w.0))
            && expected != height
        {
            found.add(file, None, None, Kind::Rows, format!("{height} rows, the report says {expected}"));
        }
        match &persons {
            Some(ids) => {
                my_number_persons.extend(my_number_rows.iter().filter_map(|&r| ids.get(r)).map(str::to_string))
            }
            None => my_number_cells += my_number_rows.len() as u64,
        }
        if let Some(persons) = &persons {
            let distinct: HashSet<&str> = persons.iter().flatten().collect();
            all_persons.extend(distinct.iter().map(|p| p.to_string()));
            for person in &distinct {
                signatures.entry(person.to_string()).or_default();
            }
            if let Some((_, reported)) = written
                && distinct.len() as u64 != reported
            {
                found.add(
                    file,
                    None,
                    None,
                    Kind::Persons,
                    format!("{} persons, the report says {reported}", distinct.len()),
                );
            }
        }
    }
    verification.persons = has_persons.then_some(all_persons.len() as u64);
    verification.persons_with_my_number = if has_persons { my_number_persons.len() as u64 } else { my_number_cells };
    for name in present.iter().filter(|n| n.ends_with(".json") || n.ends_with(".md") || n.ends_with(".html")) {
        let path = folder.join(name);
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        scan_text(&mut found, name, &text);
    }

    // 5. k over persons, from the released rows alone.
    if let Some(k) = account.k
        && !qis.is_empty()
    {
        check_k(&mut found, &signatures, &account.quasi_identifiers, k);
    }

    // 6. No pseudonym or token shared with another release.
    for other in &options.others {
        let theirs = read_account(other)?;
        let columns: BTreeSet<&String> = account.pseudonym_columns.iter().chain(&theirs.pseudonym_columns).collect();
        let ours = identity_values(folder, &account, &columns)?;
        let them = identity_values(other, &theirs, &columns)?;
        let shared = ours.intersection(&them).count();
        if shared > 0 {
            found.add(
                &other.display().to_string(),
                None,
                None,
                Kind::SharedPseudonym,
                format!("{shared} pseudonym or token values appear in both releases: they can be joined"),
            );
        }
    }
    verification.findings = found.finish();
    Ok(verification)
}

/// Every cell of one column.
#[allow(clippy::too_many_arguments)]
fn scan_cells(
    found: &mut Collector,
    verification: &mut Verification,
    my_number_rows: &mut BTreeSet<usize>,
    file: &str,
    column: &str,
    text: &StringChunked,
    identifiers: Option<(&InputIdentifiers, bool)>,
) {
    let mut values = 0u64;
    let mut insurer = Vec::new();
    let mut insurer_values = 0u64;
    for (i, value) in text.iter().enumerate() {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else { continue };
        values += 1;
        let kinds = classify(value);
        let row = Some(i as u64 + 1);
        for (hit, kind) in [
            (kinds.my_number || kinds.labelled_my_number, Kind::MyNumber),
            (kinds.phone, Kind::Phone),
            (kinds.street_address, Kind::StreetAddress),
        ] {
            if hit {
                found.add(file, Some(column), row, kind, String::new());
                *verification.identifier_cells.entry(kind.name().to_string()).or_default() += 1;
            }
        }
        if kinds.my_number || kinds.labelled_my_number {
            my_number_rows.insert(i);
        }
        if let Some(what) = identifiers.and_then(|(i, codes)| i.find(value, codes)) {
            found.add(file, Some(column), row, Kind::InputIdentifier, format!("a value of the inputs' {what}"));
        }
        if kinds.insurer_number {
            insurer_values += 1;
            if insurer.len() < ROWS_LISTED {
                insurer.push(i as u64 + 1);
            }
        }
    }
    // Insurer numbers by column: one random 8-digit number in ten passes the check digit.
    if values > 0 && insurer_values as f64 >= 0.9 * values as f64 {
        *verification.identifier_cells.entry("insurer-number columns".into()).or_default() += 1;
        for row in insurer {
            found.add(
                file,
                Some(column),
                Some(row),
                Kind::InsurerNumber,
                format!("{insurer_values} of {values} values are insurer numbers"),
            );
        }
    }
}

/// Every JSON string (reports, records) or line (Markdown, HTML) of a text file.
fn scan_text(found: &mut Collector, file: &str, text: &str) {
    if file.ends_with(".json")
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
    {
        let mut strings = Vec::new();
        collect_strings(&value, String::new(), &mut strings);
        for (path, value) in strings {
            let kinds = classify(&value);
            for (hit, kind) in [
                (kinds.my_number || kinds.labelled_my_number, Kind::MyNumber),
                (kinds.phone, Kind::Phone),
                (kinds.street_address, Kind::StreetAddress),
            ] {
                if hit {
                    found.add(file, Some(&path), None, kind, String::new());
                }
            }
        }
        return;
    }
    for (i, line) in text.lines().enumerate() {
        // Table cells and words: a My Number must stand alone, as in a cell.
        for cell in line.split(['|', '<', '>']) {
            let kinds = classify(cell);
            for (hit, kind) in [
                (kinds.my_number || kinds.labelled_my_number, Kind::MyNumber),
                (kinds.phone, Kind::Phone),
                (kinds.street_address, Kind::StreetAddress),
            ] {
                if hit {
                    found.add(file, None, Some(i as u64 + 1), kind, String::new());
                }
            }
        }
    }
}

fn collect_strings(value: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) => out.push((path, s.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_strings(item, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                collect_strings(item, if path.is_empty() { key.clone() } else { format!("{path}.{key}") }, out);
            }
        }
        _ => {}
    }
}

/// Persons grouped by everything the release says about their quasi-identifiers (every value
/// of every quasi-identifier column in any table, `*` included); each class must hold k.
fn check_k(
    found: &mut Collector,
    signatures: &HashMap<String, BTreeSet<(String, String)>>,
    quasi_identifiers: &[String],
    k: u64,
) {
    let mut classes: HashMap<&BTreeSet<(String, String)>, u64> = HashMap::new();
    for signature in signatures.values() {
        *classes.entry(signature).or_default() += 1;
    }
    let small: Vec<u64> = classes.values().copied().filter(|&n| n < k).collect();
    if !small.is_empty() {
        found.add(
            "(all tables)",
            Some(&quasi_identifiers.join(", ")),
            None,
            Kind::ClassBelowK,
            format!(
                "{} of {} classes hold fewer than k = {k} persons (smallest {})",
                small.len(),
                classes.len(),
                small.iter().min().copied().unwrap_or(0)
            ),
        );
    }
}

/// Every value of the release's identity columns: `person_id` and pseudonyms. (A submission's
/// tokens are keyed to link at the producer, release after release: they are not compared.)
fn identity_values(
    folder: &Path,
    account: &Account,
    columns: &BTreeSet<&String>,
) -> Result<HashSet<String>, VerifyError> {
    let mut values = HashSet::new();
    for (file, _, _) in account.outputs.iter().filter(|(f, _, _)| f.ends_with(".parquet")) {
        let path = folder.join(file);
        if !path.exists() {
            continue;
        }
        let schema = scan(&path)?.collect_schema().map_err(table_error(&path))?;
        for name in schema.iter_names() {
            let name = name.to_string();
            if name == tokumei_core::PERSON_COLUMN || columns.contains(&name) {
                values.extend(text_column(&path, &name)?.iter().flatten().map(str::to_string));
            }
        }
    }
    Ok(values)
}

/// Above this many persons whose 特定個人情報 (data with My Numbers) leaked, the leak is a
/// 重大な事態 to report to the Personal Information Protection Commission (特定個人情報の漏えい
/// その他の特定個人情報の安全の確保に係る重大な事態の報告に関する規則, 平成27年特定個人情報保護委員会規則
/// 第5号, 第2条: 「本人の数が100人を超える事態」; MHLW notice of 2016-01-28 in the reference seeds).
pub const SERIOUS_MY_NUMBER_PERSONS: u64 = 100;

/// What a leak of a release folder would mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// The release folder.
    pub release: String,
    /// Its profile, as its report says.
    pub profile: String,
    /// Table rows.
    pub rows: u64,
    /// Distinct persons: `person_id`s across tables, or (a submission, which has none) the most
    /// any one table holds, as its report counts them.
    pub persons: u64,
    /// Whether `persons` is exact (`person_id`) or a lower bound (a submission).
    pub persons_exact: bool,
    /// Direct identifiers and individual numbers found in the tables, by kind: cells (columns,
    /// for insurer numbers).
    pub identifiers: BTreeMap<String, u64>,
    /// Persons whose rows hold a My Number (rows, when the release has no `person_id`).
    pub persons_with_my_number: u64,
    /// Whether that crosses the 100-person threshold of a 重大な事態.
    pub serious_my_number_leak: bool,
    /// What it means, one sentence each.
    pub statements: Vec<String>,
}

/// Answers what a leak of the release in `folder` would mean, from the verifier's reading of it.
pub fn impact(folder: &Path) -> Result<Impact, VerifyError> {
    let account = read_account(folder)?;
    let verification = verify(folder, &Options::default())?;
    let (persons_count, exact) = match verification.persons {
        Some(n) => (n, true),
        None => (account.written.values().map(|(_, p)| *p).max().unwrap_or(0), false),
    };
    let persons_with_my_number = verification.persons_with_my_number;
    let serious = persons_with_my_number > SERIOUS_MY_NUMBER_PERSONS;
    let identifiers = verification.identifier_cells.clone();
    let mut statements = vec![format!(
        "The folder holds {}{persons_count} persons' records ({} rows).",
        if exact { "" } else { "at least " },
        verification.rows
    )];
    if identifiers.is_empty() {
        statements.push("No direct identifier or individual number was found in it.".into());
    } else {
        let found: Vec<String> = identifiers.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        statements.push(format!("It holds identifiers: {}.", found.join(", ")));
    }
    if persons_with_my_number > 0 {
        statements.push(format!(
            "{persons_with_my_number} persons' My Numbers (特定個人情報) are in it: {} the 100-person threshold of a \
             重大な事態 to report to the Personal Information Protection Commission (平成27年特定個人情報保護委員会規則第5号 第2条).",
            if serious { "above" } else { "within" }
        ));
    }
    statements.push(match account.profile.as_str() {
        "anonymized" => "Anonymized medical information (匿名加工医療情報) is not personal information; a leak still breaks the \
                         recipient's contract and the producer's safety-management duty."
            .into(),
        _ => "Pseudonymized medical information and submissions are personal information of the persons in them: a leak is \
              handled as a leak of personal data (medical data is 要配慮個人情報)."
            .into(),
    });
    Ok(Impact {
        release: folder.display().to_string(),
        profile: account.profile,
        rows: verification.rows,
        persons: persons_count,
        persons_exact: exact,
        identifiers,
        persons_with_my_number,
        serious_my_number_leak: serious,
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_their_generalizations_are_not_codes() {
        for date in ["2025-06-10", "2025/6/1", "2025-06", "2025Q2", "2025"] {
            assert!(looks_like_date(date), "{date}");
        }
        for code in ["20250610", "A123456", "12-3456-78", "２０２５年", "東京都"] {
            assert!(!looks_like_date(code), "{code}");
        }
    }
}
