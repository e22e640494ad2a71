//! `tokumei risk`: the re-identification risk of any table, from its equivalence classes over the
//! given quasi-identifiers (over persons, with a person column).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use tokumei_ingest::{FlatTableError, TextEncoding};
use tokumei_privacy::{CodedRows, Dictionary, NULL_CODE, QuasiIdentifier, roll_up};
use tokumei_risk::{
    Class, PopulationUniqueness, RiskOptions, RiskReport, Suda2, SudaError, SudaOptions, measure,
    population_uniqueness, suda2,
};

use crate::anonymize::{read_table, sensitive_codes};

/// Why `tokumei risk` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// The table could not be read as asked.
    #[error(transparent)]
    Table(#[from] FlatTableError),
    /// A row without its person, with `--person`.
    #[error("{}: the person column has empty cells; every row needs its person", .0.display())]
    PersonMissing(PathBuf),
    /// A population smaller than the table.
    #[error("the population ({population}) must be at least the {rows} {unit} of the table")]
    PopulationTooSmall {
        /// `--population`.
        population: f64,
        /// Rows or persons of the table.
        rows: u64,
        /// `records` or `persons`.
        unit: String,
    },
    /// `--population-table` with `--person`.
    #[error("--population-table counts rows; it cannot be combined with --person")]
    PopulationTableWithPerson,
    /// A count of the population table that is not a whole number.
    #[error("{}: row {row} of the count column `{column}` is not a whole number", path.display())]
    NotACount {
        /// The population table.
        path: PathBuf,
        /// Its row.
        row: usize,
        /// The count column.
        column: String,
    },
    /// A population table that does not contain the sample.
    #[error(
        "{}: {short} classes of the table occur fewer times in the population table than in the table; the population must contain the sample",
        path.display()
    )]
    PopulationShort {
        /// The population table.
        path: PathBuf,
        /// Classes short.
        short: u64,
    },
    /// SUDA2 rejected its input.
    #[error(transparent)]
    Suda(#[from] SudaError),
    /// The privacy engine rejected its input.
    #[error(transparent)]
    Privacy(#[from] tokumei_privacy::Error),
    /// A data-frame operation failed.
    #[error("data processing: {0}")]
    Polars(#[from] PolarsError),
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct RiskInput {
    /// The table: CSV, or Parquet (`.parquet`).
    pub input: PathBuf,
    /// CSV field delimiter.
    pub delimiter: u8,
    /// CSV text encoding.
    pub encoding: TextEncoding,
    /// Quasi-identifier columns.
    pub quasi_identifiers: Vec<String>,
    /// Sensitive column, for ℓ and t.
    pub sensitive: Option<String>,
    /// Person column: classes count persons (a person's signature is the set of their tuples).
    pub person: Option<String>,
    /// Threshold and distance.
    pub options: RiskOptions,
    /// Population size (Japan, a prefecture, a municipality), for population uniqueness.
    pub population: Option<f64>,
    /// A population table (the same quasi-identifier columns; one row per person, or with a
    /// count column per row) for journalist and marketer risk.
    pub population_table: Option<PopulationTable>,
    /// SUDA2: always, never, or when the search is small enough (see [`SudaWhen`]).
    pub suda: SudaWhen,
    /// SUDA2 options (DIS fraction, largest MSU size).
    pub suda_options: SudaOptions,
}

/// A population table: a file with the quasi-identifier columns, and optionally a column of
/// counts (each row standing for that many persons).
#[derive(Debug, Clone)]
pub struct PopulationTable {
    /// CSV (same delimiter and encoding as the input) or Parquet.
    pub path: PathBuf,
    /// Count column, if rows are aggregated.
    pub count: Option<String>,
}

/// When `tokumei risk` runs SUDA2, whose cost is 2^(quasi-identifiers) × distinct records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SudaWhen {
    /// When 2^q × distinct records ≤ [`SUDA_AUTO_BUDGET`] (about a minute on one core).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The search size up to which `SudaWhen::Auto` runs SUDA2.
pub const SUDA_AUTO_BUDGET: f64 = 2.0e8;

/// SUDA2's result, or why it was not computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SudaOutcome {
    /// Computed (over records, also for tables read with a person column).
    Computed(Suda2),
    /// Not computed.
    Skipped {
        /// Why.
        skipped: String,
    },
}

/// How much each quasi-identifier adds to the risk: the measures without it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Average prosecutor risk without this quasi-identifier.
    pub prosecutor_average_without: f64,
    /// Sample uniques without it.
    pub sample_uniques_without: u64,
    /// Average prosecutor risk minus the same without it (how much it adds).
    pub prosecutor_average_drop: f64,
}

/// The measures and the per-attribute contributions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskAssessment {
    /// Records or persons counted as units.
    pub unit: String,
    /// Every class-based measure.
    #[serde(flatten)]
    pub report: RiskReport,
    /// Per quasi-identifier: the risk without it.
    pub contribution: BTreeMap<String, Contribution>,
    /// Estimated population uniques as fractions of the population (with a population size;
    /// `null` without).
    pub population_uniqueness: Option<PopulationUniqueness>,
    /// SUDA2 special uniques and DIS-SUDA scores (over records).
    pub suda2: SudaOutcome,
}

/// Codes of a text column (missing → [`NULL_CODE`]); equal values get equal codes.
fn codes(frame: &DataFrame, column: &str, input: &Path) -> Result<Vec<u32>, RiskError> {
    let values = tokumei_ingest::flat::text_column(frame, column, input)?;
    let mut dictionary: Dictionary<&str> = Dictionary::default();
    Ok(values.iter().map(|v| dictionary.code_or_null(v)).collect())
}

/// Every class-based measure of dictionary-coded columns (one per quasi-identifier, named by
/// `names`), and per quasi-identifier the measures without it. The histogram is built once;
/// leaving a quasi-identifier out is rolling it up to a single value.
pub fn measure_coded(
    columns: &[Vec<u32>],
    names: &[String],
    units: Option<&[u32]>,
    sensitive: Option<&(Vec<u32>, u32)>,
    options: &RiskOptions,
) -> Result<(RiskReport, BTreeMap<String, Contribution>), RiskError> {
    let rows = CodedRows { columns, units, weights: None, sensitive: sensitive.map(|(c, n)| (c.as_slice(), *n)) };
    let (histogram, _) = rows.build()?;
    let classes: Vec<Class<'_>> =
        histogram.entries().map(|e| Class { size: e.units, sensitive: e.sensitive }).collect();
    let report = measure(&classes, options);
    let mut contribution = BTreeMap::new();
    if columns.len() > 1 {
        // Each column as a two-level hierarchy: the value, then one group.
        let qis: Vec<QuasiIdentifier> = columns
            .iter()
            .zip(names)
            .map(|(codes, name)| {
                let domain = codes.iter().filter(|&&c| c != NULL_CODE).map(|&c| c as usize + 1).max().unwrap_or(0);
                QuasiIdentifier::new(name.clone(), vec![(0..domain as u32).collect(), vec![0; domain]], Vec::new())
            })
            .collect();
        let plain = RiskOptions { sensitive_values: 0, ..options.clone() };
        for (i, name) in names.iter().enumerate() {
            let levels: Vec<usize> = (0..names.len()).map(|j| usize::from(j == i)).collect();
            let rolled = roll_up(&histogram, &qis, &levels)?;
            let without: Vec<Class<'_>> = rolled.iter().map(|c| Class { size: c.units, sensitive: &[] }).collect();
            let r = measure(&without, &plain);
            contribution.insert(
                name.clone(),
                Contribution {
                    prosecutor_average_without: r.prosecutor.average,
                    sample_uniques_without: r.sample_uniques,
                    prosecutor_average_drop: report.prosecutor.average - r.prosecutor.average,
                },
            );
        }
    }
    Ok((report, contribution))
}

/// Reads the table and measures its risk.
pub fn assess_risk(input: &RiskInput) -> Result<RiskAssessment, RiskError> {
    // Only the columns measured are read: a wide table of tens of millions of rows stays small.
    let mut wanted: Vec<&str> = input.quasi_identifiers.iter().map(String::as_str).collect();
    wanted.extend(input.sensitive.as_deref());
    wanted.extend(input.person.as_deref());
    let frame = read_table(&input.input, input.delimiter, input.encoding, Some(&wanted))?;
    let columns: Vec<Vec<u32>> =
        input.quasi_identifiers.iter().map(|q| codes(&frame, q, &input.input)).collect::<Result<_, _>>()?;
    let units = input.person.as_ref().map(|p| codes(&frame, p, &input.input)).transpose()?;
    if units.as_ref().is_some_and(|u| u.contains(&NULL_CODE)) {
        return Err(RiskError::PersonMissing(input.input.clone()));
    }
    let sensitive = input.sensitive.as_ref().map(|s| sensitive_codes(&frame, s, &input.input)).transpose()?;
    let mut options = input.options.clone();
    options.sensitive_values = sensitive.as_ref().map_or(0, |(_, n)| *n);
    let (report, contribution) =
        measure_coded(&columns, &input.quasi_identifiers, units.as_deref(), sensitive.as_ref(), &options)?;
    let unit = if input.person.is_some() { "persons" } else { "records" }.to_string();
    if let Some(population) = input.population
        && (population.is_nan() || population < report.rows as f64)
    {
        return Err(RiskError::PopulationTooSmall { population, rows: report.rows, unit });
    }
    let mut report = report;
    if let Some(table) = &input.population_table {
        if input.person.is_some() {
            return Err(RiskError::PopulationTableWithPerson);
        }
        let sizes = population_class_sizes(&frame, table, input)?;
        let (journalist, marketer) = tokumei_risk::with_population(&sizes, report.threshold);
        report.journalist = journalist;
        report.marketer = marketer;
        report.journalist_population = "population table";
    }
    let population_uniqueness = input.population.map(|p| population_uniqueness(&report.class_sizes, p));
    let suda2 = run_suda(&columns, input)?;
    Ok(RiskAssessment { unit, report, contribution, population_uniqueness, suda2 })
}

/// For each class of the sample, (its size, its size in the population table). Every sample class
/// must be in the population at least as often as in the sample.
fn population_class_sizes(
    sample: &DataFrame,
    table: &PopulationTable,
    input: &RiskInput,
) -> Result<Vec<(u64, u64)>, RiskError> {
    let qis: Vec<&str> = input.quasi_identifiers.iter().map(String::as_str).collect();
    let mut wanted = qis.clone();
    wanted.extend(table.count.as_deref());
    let population = read_table(&table.path, input.delimiter, input.encoding, Some(&wanted))?;
    let text = |frame: &DataFrame, column: &str| -> Result<Vec<Option<String>>, RiskError> {
        Ok(frame
            .column(column)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.map(|s| s.trim().to_string()))
            .collect())
    };
    let keys = |frame: &DataFrame| -> Result<Vec<Vec<Option<String>>>, RiskError> {
        let columns: Vec<Vec<Option<String>>> = qis.iter().map(|q| text(frame, q)).collect::<Result<_, _>>()?;
        Ok((0..frame.height()).map(|r| columns.iter().map(|c| c[r].clone()).collect()).collect())
    };
    let counts: Vec<u64> = match &table.count {
        None => vec![1; population.height()],
        Some(column) => text(&population, column)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_deref().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| RiskError::NotACount {
                    path: table.path.clone(),
                    row: i + 1,
                    column: column.clone(),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut in_population: HashMap<Vec<Option<String>>, u64> = HashMap::new();
    for (key, n) in keys(&population)?.into_iter().zip(counts) {
        *in_population.entry(key).or_insert(0) += n;
    }
    let mut in_sample: HashMap<Vec<Option<String>>, u64> = HashMap::new();
    for key in keys(sample)? {
        *in_sample.entry(key).or_insert(0) += 1;
    }
    let mut short = 0u64;
    let sizes: Vec<(u64, u64)> = in_sample
        .iter()
        .map(|(key, &f)| {
            let big = in_population.get(key).copied().unwrap_or(0);
            if big < f {
                short += 1;
            }
            (f, big.max(f))
        })
        .collect();
    if short > 0 {
        return Err(RiskError::PopulationShort { path: table.path.clone(), short });
    }
    Ok(sizes)
}

/// SUDA2 over the rows' quasi-identifier codes, as `input.suda` says.
fn run_suda(columns: &[Vec<u32>], input: &RiskInput) -> Result<SudaOutcome, RiskError> {
    let q = columns.len();
    let rows = columns.first().map_or(0, Vec::len);
    let work = 2f64.powi(q as i32) * rows as f64;
    let skip = |why: String| Ok(SudaOutcome::Skipped { skipped: why });
    match input.suda {
        SudaWhen::Never => return skip("--suda2 never".into()),
        SudaWhen::Auto if q > tokumei_risk::suda::MAX_ATTRIBUTES || work > SUDA_AUTO_BUDGET => {
            return skip(format!(
                "2^{q} subsets × {rows} records exceeds the automatic budget ({SUDA_AUTO_BUDGET:e}); \
                 pass --suda2 always, or fewer quasi-identifiers or --suda-max-size"
            ));
        }
        _ => {}
    }
    Ok(SudaOutcome::Computed(suda2(columns, &input.suda_options)?))
}

/// Per-record SUDA2 results as CSV (`row,msus,suda_score,dis_score`; rows numbered from 1 in
/// input order).
pub fn suda_scores_csv(suda: &Suda2) -> String {
    let mut out = String::from("row,msus,suda_score,dis_score\n");
    for (i, ((s, d), n)) in suda.scores.iter().zip(&suda.dis).zip(&suda.msus_per_record).enumerate() {
        out.push_str(&format!("{},{n},{s},{d}\n", i + 1));
    }
    out
}

/// The assessment as a self-contained HTML page: summary table, class-size histogram, records at
/// risk by class size, and each quasi-identifier's contribution.
pub fn risk_html(assessment: &RiskAssessment, title: &str) -> String {
    use tokumei_report::html::Page;
    let r = &assessment.report;
    let unit = assessment.unit.as_str();
    let mut page = Page::new(title);
    let mut summary = vec![
        vec![unit.to_string(), r.rows.to_string()],
        vec!["equivalence classes".into(), r.classes.to_string()],
        vec!["sample uniques".into(), r.sample_uniques.to_string()],
        vec!["k (smallest class)".into(), r.k.to_string()],
        vec!["prosecutor risk, highest".into(), format!("{:.4}", r.prosecutor.max)],
        vec!["prosecutor risk, average".into(), format!("{:.4}", r.prosecutor.average)],
        vec![
            format!("{unit} with risk above {}", r.threshold),
            format!("{:.2} %", 100.0 * r.prosecutor.records_at_risk),
        ],
        vec![
            format!(
                "journalist risk ({}), highest",
                if r.journalist_population == "sample" { "bounded by the sample" } else { "population table" }
            ),
            format!("{:.4}", r.journalist.max),
        ],
        vec!["journalist risk, average".into(), format!("{:.4}", r.journalist.average)],
        vec!["marketer risk".into(), format!("{:.4}", r.marketer)],
    ];
    if let Some(l) = r.l_distinct {
        summary.push(vec!["l (distinct)".into(), l.to_string()]);
    }
    if let Some(l) = r.l_entropy {
        summary.push(vec!["l (entropy)".into(), format!("{l:.4}")]);
    }
    if let Some(t) = r.t_closeness {
        summary.push(vec!["t (closeness)".into(), format!("{t:.4}")]);
    }
    if let Some(p) = &assessment.population_uniqueness {
        let show = |x: Option<f64>| x.map_or_else(|| "no estimate".to_string(), |v| format!("{:.6} %", 100.0 * v));
        summary.push(vec![format!("population uniques, Pitman (N = {})", p.population), show(p.pitman)]);
        summary.push(vec!["population uniques, Zayatz".into(), show(p.zayatz)]);
        summary.push(vec!["population uniques, SNB".into(), show(p.snb)]);
        summary.push(vec![
            format!("population uniques, Dankar ({})", p.dankar_model.unwrap_or("no estimate")),
            show(p.dankar),
        ]);
    }
    if let SudaOutcome::Computed(s) = &assessment.suda2 {
        summary.push(vec!["SUDA2 DIS score, highest".into(), format!("{:.6}", s.dis_max)]);
        summary.push(vec!["SUDA2 DIS score, sum".into(), format!("{:.4}", s.dis_sum)]);
        summary.push(vec!["records with a minimal sample unique".into(), s.records_with_msu.to_string()]);
    }
    page.heading("Summary").table(&["measure", "value"], &summary);
    page.heading("Class sizes");
    let bars: Vec<(String, f64)> =
        r.class_sizes.iter().map(|(size, n)| (format!("size {size}"), *n as f64)).take(40).collect();
    page.bar_chart("classes per class size (the 40 smallest sizes)", &bars, "classes");
    let below: Vec<(String, f64)> =
        r.records_in_classes_below.iter().map(|(k, n)| (format!("classes < {k}"), *n as f64)).collect();
    page.bar_chart(&format!("{unit} in small classes"), &below, unit);
    if !assessment.contribution.is_empty() {
        page.heading("Contribution of each quasi-identifier");
        page.paragraph("How much the average prosecutor risk drops when the quasi-identifier is left out.");
        let mut bars: Vec<(String, f64)> =
            assessment.contribution.iter().map(|(q, c)| (q.clone(), c.prosecutor_average_drop)).collect();
        bars.sort_by(|a, b| b.1.total_cmp(&a.1));
        page.bar_chart("drop of the average prosecutor risk", &bars, "");
    }
    match &assessment.suda2 {
        SudaOutcome::Computed(s) => {
            page.heading("SUDA2 special uniques");
            page.paragraph(&format!(
                "Minimal sample uniques (MSUs) searched up to size {}; DIS fraction {}. A record's DIS score is the \
                 estimated probability that it is unique in the population too.",
                s.max_size, s.dis_fraction
            ));
            let sizes: Vec<(String, f64)> = s.msu_sizes.iter().map(|(k, n)| (format!("size {k}"), *n as f64)).collect();
            page.bar_chart("MSUs by size", &sizes, "MSUs");
            let edges = [0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0];
            let mut bins: Vec<(String, f64)> = Vec::new();
            for w in edges.windows(2) {
                let n = s.dis.iter().filter(|&&d| d > w[0] && d <= w[1]).count();
                bins.push((format!("({}, {}]", w[0], w[1]), n as f64));
            }
            page.bar_chart("records by DIS score (records scoring 0 not shown)", &bins, "records");
        }
        SudaOutcome::Skipped { skipped } => {
            page.heading("SUDA2 special uniques");
            page.paragraph(&format!("Not computed: {skipped}."));
        }
    }
    page.finish()
}
