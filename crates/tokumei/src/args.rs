//! The command line: every subcommand's arguments as types. Enum-like flags are clap
//! `ValueEnum`s and structured values (`COLUMN=FILE`, `COLUMN=date`, a delimiter) are parsed
//! here, so a wrong value is a usage error naming the flag and what it accepts, before any
//! command runs. main.rs dispatches and prints.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Anonymized and pseudonymized medical information from Japanese medical records.
///
/// tokumei reads charts, dispensing receipts and checkup tables, honours every opt-out, links each
/// person across sources with keyed pseudonyms, and writes a release (匿名加工 / 仮名加工 / a
/// provider's submission) with a report in which every input row is accounted for.
#[derive(Debug, Parser)]
#[command(name = "tokumei", version)]
pub(crate) struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Print more detail.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// When to use colour and progress bars on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub(crate) color: Color,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a release: ingest → opt-out → linkage → transform → privacy check → write.
    ///
    /// Exit 0: released. Exit 1: refused, nothing written (the reason on stderr and in
    /// `<out>.refused/report.md`): an opt-out entry that matches no key, an empty input, too
    /// many quarantined rows or unreadable values, the privacy target not met, the final opt-out
    /// check failed; or the config is invalid. Exit 2: error (unreadable input, an output folder
    /// holding what tokumei did not write, I/O).
    Run {
        /// Configuration file (e.g. configs/anonymized.toml).
        #[arg(long)]
        config: PathBuf,
        /// Output folder, instead of the config's `release.out`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate a configuration without reading any data; reports every problem at once.
    ///
    /// Exit 0: valid. Exit 1: invalid. Exit 2: the file cannot be read.
    Check {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Write a seeded synthetic population: checkups, dispensing, charts, opt-out list, truth.
    Synth {
        /// Persons in the population.
        #[arg(long, default_value_t = 2_000)]
        persons: usize,
        /// Seed; the same seed writes byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Fraction of persons with records who opt out.
        #[arg(long, default_value_t = 0.02)]
        opt_out_rate: f64,
        /// Fraction of persons who share kana name, sex and birth date with another (namesakes).
        #[arg(long, default_value_t = 0.001)]
        namesake_rate: f64,
        /// Fraction of persons who share an insurance card with their household (own 枝番 each).
        #[arg(long, default_value_t = 0.1)]
        household_rate: f64,
        /// Fraction of persons with a same-sex twin on their card.
        #[arg(long, default_value_t = 0.01)]
        twin_rate: f64,
        /// Fraction of persons who moved (their hospital's chart keeps the old address).
        #[arg(long, default_value_t = 0.03)]
        mover_rate: f64,
        /// Also write the same rows in the national formats (UKE under `uke/`, 特定健診 XML under
        /// `cda/`, SS-MIX2 under `ssmix2/`).
        #[arg(long)]
        national: bool,
        /// Also write `registry.csv`, a resident registry for `tokumei attack` (half of the
        /// persons, plus outsiders; `person` tells who is who).
        #[arg(long)]
        registry: bool,
        /// Also add a last column `synth_person` (the true person) to the three CSV exports, to
        /// measure linkage across providers' submissions (`linkage --truth-column`).
        #[arg(long)]
        truth_column: bool,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure linkage (名寄せ) against a truth file: pairwise precision and recall.
    ///
    /// Reads and links the config's inputs without writing a release, then compares the persons
    /// found with `truth.csv` (person,table,line) as `tokumei synth` writes it.
    Linkage {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Truth file: person,table,line (the line of each input row).
        #[arg(long, required_unless_present = "truth_column", conflicts_with = "truth_column")]
        truth: Option<PathBuf>,
        /// Instead of a truth file, a column of every input that names each row's true person
        /// (`synth --truth-column` writes `synth_person`; a provider's submission carries it when
        /// its schema keeps it), for inputs whose rows have no stable line: submissions.
        #[arg(long)]
        truth_column: Option<String>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Anonymize any single table at the optimal generalization of its quasi-identifiers.
    ///
    /// Researchers' entry point: one CSV table, its quasi-identifiers, and generalization
    /// hierarchies in ARX's format (`;`-separated, column 0 the value, column i its level-i
    /// generalization). Combines k-anonymity, ℓ-diversity and t-closeness of a sensitive column,
    /// an average-risk limit and a record-suppression limit; finds the levels with the least
    /// information loss (ARX's Loss by default) by a bounded search over the whole lattice,
    /// provably optimal (a greedy heuristic for huge lattices, reported as such); writes
    /// `released.csv` (in --encoding: cp932 or utf-8-bom for Excel) and `report.json` to --out,
    /// and prints a summary. Only the quasi-identifiers, the sensitive column and --keep columns
    /// are released. Exit 1, nothing written, when no node of the lattice meets the target or a
    /// released column holds identifiers (My Numbers, telephone or insurer numbers).
    Anonymize(Box<AnonymizeArgs>),
    /// Measure the re-identification risk of any table over its quasi-identifiers.
    ///
    /// CSV (delimiter and encoding options) or Parquet (`.parquet`). Prints a summary to stderr
    /// and, with --json, writes every measure: class sizes, sample uniques, prosecutor, journalist
    /// (bounded by the sample) and marketer risk, k, and with --sensitive ℓ and t; plus how much
    /// each quasi-identifier adds. --html writes the same as a page with plots that opens with no
    /// network. With --person, classes count persons, not rows.
    Risk(Box<RiskArgs>),
    /// Simulate an attacker linking their own table to a release.
    ///
    /// The attacker's table (e.g. a resident registry: `tokumei synth --registry`) is generalized
    /// the way the release is — each quasi-identifier to the level of its hierarchy at which the
    /// release's values lie — and matched to the release; `*` in the release matches anything.
    /// Reports unique, ambiguous and missing matches, and with --id (an identity column on both
    /// sides, not used to match) correct and wrong matches and the re-identification rate, also
    /// by number of candidates. With --original, --control and --sensitive, estimates
    /// singling-out and attribute-inference risk in the manner of anonymeter.
    Attack(Box<AttackArgs>),
    /// Opt-out lists (提供停止).
    #[command(subcommand)]
    Optout(OptoutCommand),
    /// Check a finished release folder independently of the run that made it.
    ///
    /// Reads only the folder: every file against the blake3 its report lists, nothing unlisted;
    /// each table's rows and distinct persons against the report's; every cell of every table and
    /// every text of the reports and records for My Numbers (valid check digit, any width or
    /// spacing), telephone numbers, addresses down to the block or lot, and columns of insurer
    /// numbers; persons grouped by everything the release says about their quasi-identifiers
    /// against the report's k; with --other, no person_id or pseudonym value shared with
    /// another release; with --config, the inputs' own identifiers in any cell. One line per
    /// finding on stdout (file, column, row, kind — never the value). Exit 0: passed. Exit 1:
    /// findings. Exit 2: error.
    Verify {
        /// The release folder.
        #[arg(long)]
        release: PathBuf,
        /// Another release that must share no pseudonym with this one (repeatable).
        #[arg(long)]
        other: Vec<PathBuf>,
        /// The config the release was made from: its inputs are read, and every name, kana name,
        /// address and telephone number in them (in any spelling the normalizer folds together)
        /// is looked for inside every cell, every card number, patient ID, receipt number and My
        /// Number as a whole cell; with the key it names, the persons who opted out are
        /// recomputed and none of their pseudonyms or tokens may be in the release.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the findings as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// What a leak of a release folder would mean: how many persons it holds, whether any direct
    /// identifier or individual number is in it (the verifier's checks), and whether the persons
    /// whose My Numbers it holds cross the 100-person threshold of a 重大な事態 to report to the
    /// Personal Information Protection Commission. For incident response. Exit 0; 2 on error.
    Impact {
        /// The release folder.
        #[arg(long)]
        release: PathBuf,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// The run ledger (`[records] ledger`): one chained line per run.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Remove the folders that interrupted tokumei runs left in DIR (work files, partial releases).
    ///
    /// Only folders marked as tokumei's scratch whose process no longer runs are removed; `tokumei
    /// run` does the same in its output's parent folder before it starts.
    Clean {
        /// The folder to clean (a release's parent folder).
        dir: PathBuf,
    },
    /// Write a new random master key file (readable by its owner only); with `--token-key` a
    /// certified producer's token key for its providers; with `--age` a key pair for sealed
    /// releases: the identity (secret) in OUT and its public key in OUT.pub.
    Keygen {
        /// Key file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Write an age X25519 key pair (the certified producer's, for `seal --to OUT.pub`).
        #[arg(long, conflicts_with = "token_key")]
        age: bool,
        /// Write a token key (the certified producer's): hand it to your providers only; their
        /// submissions name it as `[key] token` and key their tokens with it. Prints its
        /// fingerprint, which their provision records carry.
        #[arg(long)]
        token_key: bool,
    },
    /// Pack a release folder into one file encrypted to the receiver's public key (age, X25519).
    ///
    /// The file holds every file of the release (tables, report, provision record) and a
    /// manifest of their blake3; only a holder of the matching identity can open it. A folder
    /// that is not a whole, unchanged tokumei release is refused. Exit 0: sealed. Exit 2: error.
    Seal {
        /// The release folder to seal.
        release: PathBuf,
        /// The receiver's public key file (`age1…`, one per line; `tokumei keygen --age` writes it).
        #[arg(long)]
        to: PathBuf,
        /// The sealed file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Open a sealed release: decrypt, check every file against the manifest, write the folder.
    ///
    /// Exit 0: unsealed. Exit 1: refused, nothing written (changed or truncated file, an
    /// identity that does not open it, a file that does not match its blake3). Exit 2: error.
    Unseal {
        /// The sealed file.
        sealed: PathBuf,
        /// The identity file (`AGE-SECRET-KEY-1…`) whose public key the release was sealed to.
        #[arg(long)]
        identity: PathBuf,
        /// The folder to create (absent or empty).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The table of `risk` and `anonymize`, and its quasi-identifiers.
#[derive(Debug, clap::Args)]
pub(crate) struct TableArgs {
    /// The table: CSV with a header line, or Parquet (`.parquet`).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// CSV field delimiter, one ASCII character, e.g. ';' (also the released table's).
    #[arg(long, default_value = ",", value_parser = ascii_delimiter)]
    pub(crate) delimiter: u8,
    /// CSV text encoding (anonymize writes its table in it too).
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub(crate) encoding: Encoding,
    /// Quasi-identifier columns, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) qi: Vec<String>,
}

/// `tokumei risk …`
#[derive(Debug, clap::Args)]
pub(crate) struct RiskArgs {
    #[command(flatten)]
    pub(crate) table: TableArgs,
    /// Sensitive column, for ℓ-diversity and t-closeness.
    #[arg(long)]
    pub(crate) sensitive: Option<String>,
    /// t-closeness ground distance: equal (categories) or ordered (numbers).
    #[arg(long, value_enum, default_value_t = TDistance::Equal)]
    pub(crate) t_distance: TDistance,
    /// Person column: classes count persons (longitudinal tables).
    #[arg(long)]
    pub(crate) person: Option<String>,
    /// A record is at risk when its risk exceeds this.
    #[arg(long, default_value_t = 0.2)]
    pub(crate) threshold: f64,
    /// Population the table was drawn from (e.g. 124000000 for Japan), for population uniqueness.
    #[arg(long)]
    pub(crate) population: Option<f64>,
    /// A population table with the same quasi-identifier columns (a row per person, or with
    /// --population-count), for journalist and marketer risk from population class sizes.
    #[arg(long)]
    pub(crate) population_table: Option<PathBuf>,
    /// Column of the population table holding how many persons each row stands for.
    #[arg(long, requires = "population_table")]
    pub(crate) population_count: Option<String>,
    /// Write every measure as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write a self-contained HTML report (inline SVG plots) to this file.
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
    /// SUDA2 special uniques (cost 2^QIs × records): auto (when that is at most 2e8), always, never.
    #[arg(long, value_enum, default_value_t = Suda2::Auto)]
    pub(crate) suda2: Suda2,
    /// SUDA2's DIS fraction (sdcMicro's default).
    #[arg(long, default_value_t = 0.01)]
    pub(crate) dis_fraction: f64,
    /// Largest minimal-sample-unique size SUDA2 searches (default: all quasi-identifiers).
    #[arg(long)]
    pub(crate) suda_max_size: Option<usize>,
    /// Write each record's MSU count, SUDA2 and DIS score as CSV (row,msus,suda_score,dis_score).
    #[arg(long)]
    pub(crate) suda2_scores: Option<PathBuf>,
}

/// `tokumei attack …`
#[derive(Debug, clap::Args)]
pub(crate) struct AttackArgs {
    /// The release: CSV or Parquet.
    #[arg(long)]
    pub(crate) release: PathBuf,
    /// The attacker's table, with raw (not generalized) values.
    #[arg(long)]
    pub(crate) attacker: PathBuf,
    /// Quasi-identifiers: COLUMN (same name in both tables) or RELEASE=ATTACKER, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) qi: Vec<String>,
    /// Identity columns for scoring, COLUMN or RELEASE=ATTACKER (never used to match).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// The release's person column (a pseudonym): candidates count persons, not records.
    #[arg(long)]
    pub(crate) person: Option<String>,
    /// Spell a quasi-identifier alike on both sides before matching: RELEASE_COLUMN=date|sex|text
    /// (repeatable).
    #[arg(long, value_parser = normalize)]
    pub(crate) normalize: Vec<(String, tokumei::Normalize)>,
    /// Folder of ARX hierarchy files named `*_<release column>.csv`.
    #[arg(long)]
    pub(crate) hierarchies: Option<PathBuf>,
    /// A hierarchy file for one release column, as COLUMN=FILE (repeatable).
    #[arg(long, value_parser = column_file)]
    pub(crate) hierarchy: Vec<(String, PathBuf)>,
    /// Original records of the released persons (columns as the attacker's), for the
    /// anonymeter-style estimates.
    #[arg(long, requires_all = ["control", "sensitive"])]
    pub(crate) original: Option<PathBuf>,
    /// Records of the same population that were not released (the control set).
    #[arg(long, requires_all = ["original", "sensitive"])]
    pub(crate) control: Option<PathBuf>,
    /// Sensitive column for attribute inference, COLUMN or RELEASE=ORIGINAL.
    #[arg(long, requires_all = ["original", "control"])]
    pub(crate) sensitive: Option<String>,
    /// CSV field delimiter of every table, one ASCII character.
    #[arg(long, default_value = ",", value_parser = ascii_delimiter)]
    pub(crate) delimiter: u8,
    /// CSV text encoding of every table.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub(crate) encoding: Encoding,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write a self-contained HTML report to this file.
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
}

/// `tokumei anonymize …`
#[derive(Debug, clap::Args)]
pub(crate) struct AnonymizeArgs {
    #[command(flatten)]
    pub(crate) table: TableArgs,
    /// Folder of ARX hierarchy files named `*_<column>.csv`.
    #[arg(long)]
    pub(crate) hierarchies: Option<PathBuf>,
    /// A hierarchy file for one column, as COLUMN=FILE (repeatable; wins over --hierarchies).
    #[arg(long, value_parser = column_file)]
    pub(crate) hierarchy: Vec<(String, PathBuf)>,
    /// Minimum records per equivalence class (1 = no k-anonymity).
    #[arg(long, default_value_t = 5)]
    pub(crate) k: u32,
    /// Sensitive column for ℓ-diversity and t-closeness.
    #[arg(long)]
    pub(crate) sensitive: Option<String>,
    /// ℓ of ℓ-diversity of the sensitive column.
    #[arg(long)]
    pub(crate) l: Option<f64>,
    /// ℓ-diversity variant (default distinct).
    #[arg(long, value_enum)]
    pub(crate) l_variant: Option<LVariant>,
    /// c of recursive (c,ℓ)-diversity (default 3).
    #[arg(long)]
    pub(crate) c: Option<f64>,
    /// t of t-closeness of the sensitive column.
    #[arg(long)]
    pub(crate) t: Option<f64>,
    /// t-closeness ground distance: equal (categories) or ordered (numbers); default equal.
    #[arg(long, value_enum)]
    pub(crate) t_distance: Option<TDistance>,
    /// Largest average re-identification risk (classes ÷ records).
    #[arg(long)]
    pub(crate) average_risk: Option<f64>,
    /// Largest fraction of records that may be suppressed.
    #[arg(long, default_value_t = 0.05)]
    pub(crate) suppression: f64,
    /// Metric to minimize: loss, precision, discernibility, aecs or entropy.
    #[arg(long, default_value = "loss", value_parser = metric)]
    pub(crate) metric: tokumei::privacy::Metric,
    /// Lattices up to this many nodes are searched for the provable optimum.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) max_optimal_lattice: u64,
    /// Columns to release as they are, comma-separated. Only the quasi-identifiers, the
    /// sensitive column and these are released; every other column is dropped (and listed in
    /// report.json).
    #[arg(long, value_delimiter = ',')]
    pub(crate) keep: Vec<String>,
    /// Output folder (written atomically).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OptoutCommand {
    /// Turn a plain opt-out list into a token list that holds no plain identifiers.
    ///
    /// Reads the config's opt-out list (as `[[opt-out]] path` describes it), computes each entry's
    /// linkage keys with the config's key (the token key when the config names one, so that a
    /// provider's list is valid at its certified producer), and writes `line,insurance,name,local,my-number` rows of
    /// keyed hashes. A provider hands the token list over instead of names and card numbers; the
    /// producer's config reads it with `[[opt-out]] tokens = "…"`.
    Hash {
        /// Configuration file naming the list and the key.
        #[arg(long)]
        config: PathBuf,
        /// Which `[[opt-out]]` list of the config (0 = the first).
        #[arg(long, default_value_t = 0)]
        list: usize,
        /// Token list to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Check a run ledger: every line whole, in sequence, chained to the one before by its blake3.
    ///
    /// Prints one line per finding (line number and what is wrong: edited, removed, reordered,
    /// cut short) and the head — the blake3 of the last line. Keep the head: with --head, lines
    /// removed from the end show too. Exit 0: intact. Exit 1: findings. Exit 2: error.
    Verify {
        /// The ledger file.
        file: PathBuf,
        /// The head printed by an earlier verification: the ledger must still end with that line.
        #[arg(long)]
        head: Option<String>,
    },
}

/// A CSV text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Encoding {
    /// UTF-8 (a BOM, if present, is removed).
    #[value(name = "utf-8")]
    Utf8,
    /// UTF-8 with a byte-order mark (as Excel writes it).
    #[value(name = "utf-8-bom")]
    Utf8Bom,
    /// Shift_JIS as Windows writes it (cp932).
    Cp932,
}

impl From<Encoding> for tokumei::ingest::TextEncoding {
    fn from(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Utf8 => tokumei::ingest::TextEncoding::Utf8,
            Encoding::Utf8Bom => tokumei::ingest::TextEncoding::Utf8Bom,
            Encoding::Cp932 => tokumei::ingest::TextEncoding::Cp932,
        }
    }
}

/// t-closeness's ground distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TDistance {
    /// Categories: every two values equally far apart.
    Equal,
    /// Numbers: distance by rank.
    Ordered,
}

impl TDistance {
    /// The name the config's `t-distance` uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TDistance::Equal => "equal",
            TDistance::Ordered => "ordered",
        }
    }
}

impl From<TDistance> for tokumei::risk::Distance {
    fn from(distance: TDistance) -> Self {
        match distance {
            TDistance::Equal => tokumei::risk::Distance::Equal,
            TDistance::Ordered => tokumei::risk::Distance::Ordered,
        }
    }
}

/// ℓ-diversity's variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LVariant {
    /// At least ℓ distinct sensitive values per class.
    Distinct,
    /// Entropy of the sensitive values at least log ℓ.
    Entropy,
    /// Recursive (c, ℓ)-diversity.
    Recursive,
}

impl LVariant {
    /// The name the config's `l-variant` uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LVariant::Distinct => "distinct",
            LVariant::Entropy => "entropy",
            LVariant::Recursive => "recursive",
        }
    }
}

/// When `risk` runs SUDA2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Suda2 {
    /// When 2^QIs × records is at most 2e8.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl From<Suda2> for tokumei::SudaWhen {
    fn from(when: Suda2) -> Self {
        match when {
            Suda2::Auto => tokumei::SudaWhen::Auto,
            Suda2::Always => tokumei::SudaWhen::Always,
            Suda2::Never => tokumei::SudaWhen::Never,
        }
    }
}

/// `--delimiter`: one ASCII character.
fn ascii_delimiter(arg: &str) -> Result<u8, String> {
    match arg.as_bytes() {
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(format!("expected one ASCII character, got `{arg}`")),
    }
}

/// `--metric`.
fn metric(arg: &str) -> Result<tokumei::privacy::Metric, String> {
    tokumei::privacy::Metric::parse(arg).ok_or_else(|| {
        let names: Vec<&str> = tokumei::privacy::Metric::ALL.iter().map(|m| m.name()).collect();
        format!("expected one of {}, got `{arg}`", names.join(", "))
    })
}

/// `--hierarchy COLUMN=FILE`.
fn column_file(arg: &str) -> Result<(String, PathBuf), String> {
    let (column, file) = arg.split_once('=').ok_or_else(|| format!("expected COLUMN=FILE, got `{arg}`"))?;
    Ok((column.to_string(), PathBuf::from(file)))
}

/// `--normalize COLUMN=date|sex|text`.
fn normalize(arg: &str) -> Result<(String, tokumei::Normalize), String> {
    let (column, kind) = arg.split_once('=').unwrap_or((arg, ""));
    let kind = tokumei::Normalize::parse(kind.trim())
        .ok_or_else(|| format!("expected COLUMN=date, COLUMN=sex or COLUMN=text, got `{arg}`"))?;
    Ok((column.trim().to_string(), kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tokumei").chain(args.iter().copied()))
    }

    fn risk(args: &[&str]) -> Result<Box<RiskArgs>, clap::Error> {
        let mut all = vec!["risk", "--input", "t.csv", "--qi", "age,sex"];
        all.extend_from_slice(args);
        match parse(&all)?.command {
            Command::Risk(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_are_typed() {
        let args = risk(&[]).unwrap();
        assert_eq!(args.table.encoding, Encoding::Utf8);
        assert_eq!(args.table.delimiter, b',');
        assert_eq!(args.table.qi, ["age", "sex"]);
        assert_eq!(args.t_distance, TDistance::Equal);
        assert_eq!(args.suda2, Suda2::Auto);
    }

    #[test]
    fn enum_flags_take_their_names_and_nothing_else() {
        let args = risk(&["--encoding", "cp932", "--t-distance", "ordered", "--suda2", "never"]).unwrap();
        assert_eq!(tokumei::ingest::TextEncoding::from(args.table.encoding), tokumei::ingest::TextEncoding::Cp932);
        assert_eq!(tokumei::risk::Distance::from(args.t_distance), tokumei::risk::Distance::Ordered);
        assert_eq!(tokumei::SudaWhen::from(args.suda2), tokumei::SudaWhen::Never);
        assert_eq!(risk(&["--encoding", "utf-8-bom"]).unwrap().table.encoding, Encoding::Utf8Bom);
        let error = risk(&["--encoding", "sjis"]).unwrap_err().to_string();
        assert!(error.contains("--encoding") && error.contains("cp932"), "{error}");
        assert!(risk(&["--suda2", "sometimes"]).is_err());
    }

    #[test]
    fn a_delimiter_is_one_ascii_character() {
        assert_eq!(risk(&["--delimiter", ";"]).unwrap().table.delimiter, b';');
        assert_eq!(risk(&["--delimiter", "\t"]).unwrap().table.delimiter, b'\t', "a tab");
        assert!(risk(&["--delimiter", ";;"]).is_err(), "two characters");
        let error = risk(&["--delimiter", "、"]).unwrap_err().to_string();
        assert!(error.contains("one ASCII character"), "{error}");
    }

    #[test]
    fn anonymize_parses_metric_variant_and_hierarchies() {
        let base = ["anonymize", "--input", "a.csv", "--qi", "age", "--out", "o"];
        let parsed = |extra: &[&str]| {
            let all: Vec<&str> = base.iter().chain(extra).copied().collect();
            parse(&all).map(|cli| match cli.command {
                Command::Anonymize(args) => args,
                other => panic!("parsed as {other:?}"),
            })
        };
        let args =
            parsed(&["--metric", "entropy", "--l-variant", "recursive", "--hierarchy", "age=h/age.csv"]).unwrap();
        assert_eq!(args.metric, tokumei::privacy::Metric::parse("entropy").unwrap());
        assert_eq!(args.l_variant.map(LVariant::name), Some("recursive"));
        assert_eq!(args.hierarchy, [("age".to_string(), PathBuf::from("h/age.csv"))]);
        assert_eq!(parsed(&[]).unwrap().metric, tokumei::privacy::Metric::parse("loss").unwrap());
        let error = parsed(&["--metric", "speed"]).unwrap_err().to_string();
        assert!(error.contains("discernibility"), "the accepted metrics are listed: {error}");
        assert!(parsed(&["--hierarchy", "age"]).unwrap_err().to_string().contains("COLUMN=FILE"));
        assert_eq!(parsed(&["--t-distance", "ordered"]).unwrap().t_distance.map(TDistance::name), Some("ordered"));
    }

    #[test]
    fn attack_normalizations_are_column_and_kind() {
        let base = ["attack", "--release", "r.csv", "--attacker", "a.csv", "--qi", "birth"];
        let all: Vec<&str> =
            base.iter().chain(&["--normalize", "birth=date", "--normalize", " sex = sex "]).copied().collect();
        let Command::Attack(args) = parse(&all).unwrap().command else { panic!() };
        assert_eq!(
            args.normalize,
            [("birth".to_string(), tokumei::Normalize::Date), ("sex".into(), tokumei::Normalize::Sex)]
        );
        let all: Vec<&str> = base.iter().chain(&["--normalize", "birth=soundex"]).copied().collect();
        assert!(parse(&all).unwrap_err().to_string().contains("COLUMN=date"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
