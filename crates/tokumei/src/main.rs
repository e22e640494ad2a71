//! The `tokumei` command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokumei::config::Plan;
use tokumei::link::MasterKey;
use tokumei::synth::{SynthSpec, write_population};
use tokumei::{RunOptions, Status};

/// Anonymized and pseudonymized medical information from Japanese medical records.
///
/// tokumei reads charts, dispensing receipts and checkup tables, honours every opt-out, links each
/// person across sources with keyed pseudonyms, and writes a release (匿名加工 / 仮名加工 / a
/// provider's submission) with a report in which every input row is accounted for.
#[derive(Debug, Parser)]
#[command(name = "tokumei", version)]
struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print more detail.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// When to use colour and progress bars on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        /// Truth file: person,table,line.
        #[arg(long)]
        truth: PathBuf,
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
    /// Remove the folders that interrupted tokumei runs left in DIR (work files, partial releases).
    ///
    /// Only folders marked as tokumei's scratch whose process no longer runs are removed; `tokumei
    /// run` does the same in its output's parent folder before it starts.
    Clean {
        /// The folder to clean (a release's parent folder).
        dir: PathBuf,
    },
    /// Write a new random master key file (readable by its owner only), or with `--age` a key
    /// pair for sealed releases: the identity (secret) in OUT and its public key in OUT.pub.
    Keygen {
        /// Key file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Write an age X25519 key pair (the certified producer's, for `seal --to OUT.pub`).
        #[arg(long)]
        age: bool,
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
struct TableArgs {
    /// The table: CSV with a header line, or Parquet (`.parquet`).
    #[arg(long)]
    input: PathBuf,
    /// CSV field delimiter, e.g. ';' (also the released table's).
    #[arg(long, default_value = ",")]
    delimiter: char,
    /// CSV text encoding: utf-8, utf-8-bom or cp932 (anonymize writes its table in it too).
    #[arg(long, default_value = "utf-8")]
    encoding: String,
    /// Quasi-identifier columns, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    qi: Vec<String>,
}

impl TableArgs {
    fn encoding(&self) -> anyhow::Result<tokumei::ingest::TextEncoding> {
        anyhow::ensure!(self.delimiter.is_ascii(), "--delimiter must be one ASCII character");
        Ok(match self.encoding.as_str() {
            "utf-8" => tokumei::ingest::TextEncoding::Utf8,
            "utf-8-bom" => tokumei::ingest::TextEncoding::Utf8Bom,
            "cp932" => tokumei::ingest::TextEncoding::Cp932,
            other => anyhow::bail!("--encoding: expected utf-8, utf-8-bom or cp932, got `{other}`"),
        })
    }
}

/// `tokumei risk …`
#[derive(Debug, clap::Args)]
struct RiskArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Sensitive column, for ℓ-diversity and t-closeness.
    #[arg(long)]
    sensitive: Option<String>,
    /// t-closeness ground distance: equal (categories) or ordered (numbers).
    #[arg(long, default_value = "equal")]
    t_distance: String,
    /// Person column: classes count persons (longitudinal tables).
    #[arg(long)]
    person: Option<String>,
    /// A record is at risk when its risk exceeds this.
    #[arg(long, default_value_t = 0.2)]
    threshold: f64,
    /// Population the table was drawn from (e.g. 124000000 for Japan), for population uniqueness.
    #[arg(long)]
    population: Option<f64>,
    /// A population table with the same quasi-identifier columns (a row per person, or with
    /// --population-count), for journalist and marketer risk from population class sizes.
    #[arg(long)]
    population_table: Option<PathBuf>,
    /// Column of the population table holding how many persons each row stands for.
    #[arg(long, requires = "population_table")]
    population_count: Option<String>,
    /// Write every measure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report (inline SVG plots) to this file.
    #[arg(long)]
    html: Option<PathBuf>,
    /// SUDA2 special uniques (cost 2^QIs × records): auto (when that is at most 2e8), always, never.
    #[arg(long, default_value = "auto")]
    suda2: String,
    /// SUDA2's DIS fraction (sdcMicro's default).
    #[arg(long, default_value_t = 0.01)]
    dis_fraction: f64,
    /// Largest minimal-sample-unique size SUDA2 searches (default: all quasi-identifiers).
    #[arg(long)]
    suda_max_size: Option<usize>,
    /// Write each record's MSU count, SUDA2 and DIS score as CSV (row,msus,suda_score,dis_score).
    #[arg(long)]
    suda2_scores: Option<PathBuf>,
}

/// `tokumei attack …`
#[derive(Debug, clap::Args)]
struct AttackArgs {
    /// The release: CSV or Parquet.
    #[arg(long)]
    release: PathBuf,
    /// The attacker's table, with raw (not generalized) values.
    #[arg(long)]
    attacker: PathBuf,
    /// Quasi-identifiers: COLUMN (same name in both tables) or RELEASE=ATTACKER, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    qi: Vec<String>,
    /// Identity columns for scoring, COLUMN or RELEASE=ATTACKER (never used to match).
    #[arg(long)]
    id: Option<String>,
    /// The release's person column (a pseudonym): candidates count persons, not records.
    #[arg(long)]
    person: Option<String>,
    /// Spell a quasi-identifier alike on both sides before matching: RELEASE_COLUMN=date|sex|text
    /// (repeatable).
    #[arg(long)]
    normalize: Vec<String>,
    /// Folder of ARX hierarchy files named `*_<release column>.csv`.
    #[arg(long)]
    hierarchies: Option<PathBuf>,
    /// A hierarchy file for one release column, as COLUMN=FILE (repeatable).
    #[arg(long, value_parser = tokumei::parse_hierarchy_arg)]
    hierarchy: Vec<(String, PathBuf)>,
    /// Original records of the released persons (columns as the attacker's), for the
    /// anonymeter-style estimates.
    #[arg(long, requires_all = ["control", "sensitive"])]
    original: Option<PathBuf>,
    /// Records of the same population that were not released (the control set).
    #[arg(long, requires_all = ["original", "sensitive"])]
    control: Option<PathBuf>,
    /// Sensitive column for attribute inference, COLUMN or RELEASE=ORIGINAL.
    #[arg(long, requires_all = ["original", "control"])]
    sensitive: Option<String>,
    /// CSV field delimiter of every table.
    #[arg(long, default_value = ",")]
    delimiter: char,
    /// CSV text encoding of every table: utf-8, utf-8-bom or cp932.
    #[arg(long, default_value = "utf-8")]
    encoding: String,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report to this file.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// `tokumei anonymize …`
#[derive(Debug, clap::Args)]
struct AnonymizeArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Folder of ARX hierarchy files named `*_<column>.csv`.
    #[arg(long)]
    hierarchies: Option<PathBuf>,
    /// A hierarchy file for one column, as COLUMN=FILE (repeatable; wins over --hierarchies).
    #[arg(long, value_parser = tokumei::parse_hierarchy_arg)]
    hierarchy: Vec<(String, PathBuf)>,
    /// Minimum records per equivalence class (1 = no k-anonymity).
    #[arg(long, default_value_t = 5)]
    k: u32,
    /// Sensitive column for ℓ-diversity and t-closeness.
    #[arg(long)]
    sensitive: Option<String>,
    /// ℓ of ℓ-diversity of the sensitive column.
    #[arg(long)]
    l: Option<f64>,
    /// ℓ-diversity variant: distinct, entropy or recursive (default distinct).
    #[arg(long)]
    l_variant: Option<String>,
    /// c of recursive (c,ℓ)-diversity (default 3).
    #[arg(long)]
    c: Option<f64>,
    /// t of t-closeness of the sensitive column.
    #[arg(long)]
    t: Option<f64>,
    /// t-closeness ground distance: equal (categories) or ordered (numbers); default equal.
    #[arg(long)]
    t_distance: Option<String>,
    /// Largest average re-identification risk (classes ÷ records).
    #[arg(long)]
    average_risk: Option<f64>,
    /// Largest fraction of records that may be suppressed.
    #[arg(long, default_value_t = 0.05)]
    suppression: f64,
    /// Metric to minimize: loss, precision, discernibility, aecs or entropy.
    #[arg(long, default_value = "loss")]
    metric: String,
    /// Lattices up to this many nodes are searched for the provable optimum.
    #[arg(long, default_value_t = 1 << 20)]
    max_optimal_lattice: u64,
    /// Columns to release as they are, comma-separated. Only the quasi-identifiers, the
    /// sensitive column and these are released; every other column is dropped (and listed in
    /// report.json).
    #[arg(long, value_delimiter = ',')]
    keep: Vec<String>,
    /// Output folder (written atomically).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Subcommand)]
enum OptoutCommand {
    /// Turn a plain opt-out list into a token list that holds no plain identifiers.
    ///
    /// Reads the config's opt-out list (as `[[opt-out]] path` describes it), computes each entry's
    /// linkage keys with the config's key, and writes `line,insurance,name,local,my-number` rows of
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            // A refusal is not an error: the input cannot be released as it is (exit 1).
            if let Some(refused) =
                err.downcast_ref::<tokumei::PipelineError>().filter(|e| matches!(e, tokumei::PipelineError::Refused(_)))
            {
                eprintln!("{refused}");
                return ExitCode::from(1);
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Marks the process non-dumpable before it holds key material: no core dump, and no other
/// process of the same user may attach to read its memory (Linux `PR_SET_DUMPABLE`).
fn protect_keys() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

fn say(cli: &Cli, text: impl AsRef<str>) {
    if !cli.quiet {
        eprintln!("{}", text.as_ref());
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Check { config } => check(cli, config),
        Command::Run { config, out } => {
            protect_keys();
            run_release(cli, config, out.clone())
        }
        Command::Synth {
            persons,
            seed,
            opt_out_rate,
            namesake_rate,
            household_rate,
            twin_rate,
            mover_rate,
            national,
            registry,
            out,
        } => {
            let spec = SynthSpec {
                persons: *persons,
                seed: *seed,
                opt_out_rate: *opt_out_rate,
                namesake_rate: *namesake_rate,
                household_rate: *household_rate,
                twin_rate: *twin_rate,
                mover_rate: *mover_rate,
                national: *national,
                registry: *registry,
            };
            let summary =
                write_population(&spec, out).with_context(|| format!("writing synthetic data to {}", out.display()))?;
            say(
                cli,
                format!(
                    "wrote {} persons to {}: {} checkup rows, {} dispensing rows, {} chart rows, {} opt-out entries ({} persons)",
                    summary.persons,
                    out.display(),
                    summary.checkups,
                    summary.dispensing,
                    summary.charts,
                    summary.opt_out_entries,
                    summary.opted_out_persons
                ),
            );
            if *registry {
                say(cli, format!("and {} registry entries (outsiders included)", summary.registry_entries));
            }
            if *national {
                say(
                    cli,
                    format!("and {} files in the national formats under {}", summary.national_files, out.display()),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { out, age: false } => {
            protect_keys();
            keygen(cli, out)
        }
        Command::Keygen { out, age: true } => {
            protect_keys();
            keygen_age(cli, out)
        }
        Command::Seal { release, to, out } => {
            let recipients = tokumei::report::seal::read_recipients(to)?;
            let sealed = tokumei::report::seal::seal(release, &recipients, out)
                .with_context(|| format!("sealing {}", release.display()))?;
            say(
                cli,
                format!(
                    "sealed {} files ({} bytes) of {} into {} for {} recipient(s)",
                    sealed.files.len(),
                    sealed.bytes(),
                    release.display(),
                    out.display(),
                    recipients.len()
                ),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Unseal { sealed, identity, out } => {
            protect_keys();
            let identities = tokumei::report::seal::read_identities(identity)?;
            match tokumei::report::seal::unseal(sealed, &identities, out) {
                Ok(opened) => {
                    say(
                        cli,
                        format!(
                            "unsealed {} files ({} bytes) into {}; every blake3 matches the manifest and the report",
                            opened.files.len(),
                            opened.bytes(),
                            out.display()
                        ),
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(tokumei::report::seal::SealError::Refused(why)) => {
                    eprintln!("refused: {}: {why}", sealed.display());
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e).with_context(|| format!("unsealing {}", sealed.display())),
            }
        }
        Command::Clean { dir } => {
            let removed = tokumei::clean_leftovers(dir).with_context(|| format!("cleaning {}", dir.display()))?;
            say(
                cli,
                format!("removed {} folder(s) left by interrupted tokumei runs in {}", removed.len(), dir.display()),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Anonymize(args) => anonymize(cli, args),
        Command::Risk(args) => risk(cli, args),
        Command::Attack(args) => attack(cli, args),
        Command::Optout(OptoutCommand::Hash { config, list, out }) => {
            protect_keys();
            let plan = Plan::load(config)?;
            let (tokens, quarantined) = tokumei::hash_opt_out_list(&plan, *list)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .with_context(|| format!("creating {} (an existing file is never overwritten)", out.display()))?;
            file.write_all(tokens.as_bytes())?;
            let entries = tokens.lines().count().saturating_sub(1);
            say(cli, format!("wrote {entries} token entries to {} ({quarantined} entries unreadable)", out.display()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Linkage { config, truth, json } => {
            protect_keys();
            let plan = Plan::load(config)?;
            let quality = tokumei::evaluate_linkage(&plan, truth)?;
            say(
                cli,
                format!(
                    "linkage ({:?}): {} records, {} true persons, {} linked persons, precision {:.5}, recall {:.5}, {} name conflicts",
                    quality.stats.conflict_rule,
                    quality.records,
                    quality.true_persons,
                    quality.linked_persons,
                    quality.precision,
                    quality.recall,
                    quality.stats.name_conflicts
                ),
            );
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&quality)? + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(cli: &Cli, config: &Path) -> anyhow::Result<ExitCode> {
    match Plan::load(config) {
        Ok(plan) => {
            let mut problems = Vec::new();
            if let tokumei::config::KeySource::File(path) = &plan.key
                && !path.exists()
            {
                {
                    problems.push(format!(
                        "key file {} does not exist (tokumei keygen --out … writes one)",
                        path.display()
                    ));
                }
            }
            for table in &plan.tables {
                if !table.source.path.exists() {
                    problems.push(format!(
                        "input `{}`: {} does not exist",
                        table.source.table,
                        table.source.path.display()
                    ));
                }
            }
            for list in &plan.opt_outs {
                if !list.path().exists() {
                    problems.push(format!("opt-out list {} does not exist", list.path().display()));
                }
            }
            if problems.is_empty() {
                say(
                    cli,
                    format!(
                        "{}: valid ({:?} profile, {} inputs, {} opt-out lists)",
                        config.display(),
                        plan.profile,
                        plan.tables.len(),
                        plan.opt_outs.len()
                    )
                    .to_lowercase(),
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problem(s) in {}:", problems.len(), config.display());
                for p in problems {
                    eprintln!("  - {p}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Err(tokumei::config::Error::Invalid(problems)) => {
            eprintln!("{} problem(s) in the configuration:", problems.len());
            for p in problems {
                eprintln!("  - {p}");
            }
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn run_release(cli: &Cli, config: &Path, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let plan = match Plan::load(config) {
        Ok(plan) => plan,
        Err(tokumei::config::Error::Invalid(problems)) => {
            eprintln!("{} problem(s) in the configuration:", problems.len());
            for p in problems {
                eprintln!("  - {p}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if let tokumei::config::KeySource::File(path) = &plan.key
        && MasterKey::file_is_exposed(path)
    {
        {
            say(cli, format!("warning: key file {} is readable by other users; `chmod 600` it", path.display()));
        }
    }
    let progress = !cli.quiet && cli.color != Color::Never && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let outcome = tokumei::run(&plan, &RunOptions { out, progress, ..RunOptions::default() })?;
    let report = &outcome.report;
    if !cli.quiet {
        let mut err = std::io::stderr().lock();
        for a in &report.accounting {
            writeln!(
                err,
                "{:>12}: {} rows read, {} quarantined, {} opted out, {} suppressed, {} written ({} persons)",
                a.table, a.rows_read, a.quarantined, a.opted_out, a.suppressed, a.written, a.persons_written
            )?;
        }
        if let Some(privacy) = &report.stages.privacy {
            let solution = &privacy.solution;
            writeln!(
                err,
                "privacy ({}): target met={} smallest class={} classes={} suppressed persons={} {}={} optimal={}",
                solution.model,
                solution.target_met,
                solution.min_class_size,
                solution.classes,
                solution.suppressed_units,
                solution.metric,
                serde_json::to_string(&solution.utility.get(&solution.metric))?,
                solution.optimal
            )?;
            if cli.verbose {
                writeln!(err, "levels: {}", serde_json::to_string(&solution.level_names)?)?;
            }
        }
        if cli.verbose {
            for (stage, took) in &outcome.timings {
                writeln!(err, "{stage:>28}: {:.2} s", took.as_secs_f64())?;
            }
        }
    }
    if !cli.quiet {
        for warning in &outcome.warnings {
            eprintln!("warning: {warning}");
        }
    }
    match &outcome.status {
        Status::Released => {
            say(cli, format!("released to {}", outcome.out.as_deref().unwrap_or(Path::new("?")).display()));
            Ok(ExitCode::SUCCESS)
        }
        Status::Refused(refusal) => {
            let details = outcome
                .refusal_report
                .as_ref()
                .map(|dir| format!(" (details: {})", dir.join("report.md").display()))
                .unwrap_or_default();
            eprintln!("refused: {refusal}{details}");
            Ok(ExitCode::from(1))
        }
    }
}

fn risk(cli: &Cli, args: &RiskArgs) -> anyhow::Result<ExitCode> {
    let encoding = args.table.encoding()?;
    let distance = match args.t_distance.as_str() {
        "equal" => tokumei::risk::Distance::Equal,
        "ordered" => tokumei::risk::Distance::Ordered,
        other => anyhow::bail!("--t-distance: expected equal or ordered, got `{other}`"),
    };
    anyhow::ensure!((0.0..=1.0).contains(&args.threshold), "--threshold must be between 0 and 1");
    anyhow::ensure!(args.dis_fraction > 0.0 && args.dis_fraction < 1.0, "--dis-fraction must be between 0 and 1");
    anyhow::ensure!(args.suda_max_size != Some(0), "--suda-max-size must be at least 1");
    let suda = match args.suda2.as_str() {
        "auto" => tokumei::SudaWhen::Auto,
        "always" => tokumei::SudaWhen::Always,
        "never" => tokumei::SudaWhen::Never,
        other => anyhow::bail!("--suda2: expected auto, always or never, got `{other}`"),
    };
    let input = tokumei::RiskInput {
        input: args.table.input.clone(),
        delimiter: args.table.delimiter as u8,
        encoding,
        quasi_identifiers: args.table.qi.clone(),
        sensitive: args.sensitive.clone(),
        person: args.person.clone(),
        options: tokumei::risk::RiskOptions { threshold: args.threshold, sensitive_values: 0, distance },
        population: args.population,
        population_table: args
            .population_table
            .as_ref()
            .map(|path| tokumei::PopulationTable { path: path.clone(), count: args.population_count.clone() }),
        suda,
        suda_options: tokumei::risk::SudaOptions { dis_fraction: args.dis_fraction, max_size: args.suda_max_size },
    };
    let assessment = tokumei::assess_risk(&input)?;
    let r = &assessment.report;
    let mut summary = format!(
        "{} {}, {} classes, {} sample uniques, k = {}; prosecutor risk max {:.4}, average {:.4}, {:.2} % of {} above {}; marketer {:.4}",
        r.rows,
        assessment.unit,
        r.classes,
        r.sample_uniques,
        r.k,
        r.prosecutor.max,
        r.prosecutor.average,
        100.0 * r.prosecutor.records_at_risk,
        assessment.unit,
        r.threshold,
        r.marketer
    );
    if let (Some(l), Some(t)) = (r.l_distinct, r.t_closeness) {
        summary.push_str(&format!("; l (distinct) = {l}, t = {t:.4}"));
    }
    if let Some(p) = &assessment.population_uniqueness {
        match (p.dankar, p.dankar_model) {
            (Some(d), Some(model)) => summary.push_str(&format!(
                "; population uniques {:.6} % of {} (Dankar: {model})",
                100.0 * d,
                p.population
            )),
            _ => summary.push_str("; population uniqueness: no estimate converged"),
        }
    }
    match &assessment.suda2 {
        tokumei::SudaOutcome::Computed(s) => summary.push_str(&format!(
            "; SUDA2: {} records with an MSU, DIS max {:.4}, sum {:.3}",
            s.records_with_msu, s.dis_max, s.dis_sum
        )),
        tokumei::SudaOutcome::Skipped { skipped } => summary.push_str(&format!("; SUDA2 skipped: {skipped}")),
    }
    say(cli, summary);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&assessment)? + "\n";
        write_atomically(path, text.as_bytes())?;
    }
    if let Some(path) = &args.html {
        let name = args.table.input.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let html = tokumei::risk_html(&assessment, &format!("Re-identification risk of {name}"));
        write_atomically(path, html.as_bytes())?;
    }
    if let Some(path) = &args.suda2_scores {
        match &assessment.suda2 {
            tokumei::SudaOutcome::Computed(s) => write_atomically(path, tokumei::suda_scores_csv(s).as_bytes())?,
            tokumei::SudaOutcome::Skipped { skipped } => {
                anyhow::bail!("--suda2-scores: SUDA2 was not computed: {skipped}")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `A=B` → (A, B); `A` → (A, A).
fn column_pair(arg: &str) -> (String, String) {
    match arg.split_once('=') {
        Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
        None => (arg.trim().to_string(), arg.trim().to_string()),
    }
}

fn attack(cli: &Cli, args: &AttackArgs) -> anyhow::Result<ExitCode> {
    let table = TableArgs {
        input: args.release.clone(),
        delimiter: args.delimiter,
        encoding: args.encoding.clone(),
        qi: args.qi.clone(),
    };
    let input = tokumei::AttackInput {
        release: args.release.clone(),
        attacker: args.attacker.clone(),
        delimiter: args.delimiter as u8,
        encoding: table.encoding()?,
        quasi_identifiers: args.qi.iter().map(|q| column_pair(q)).collect(),
        id: args.id.as_deref().map(column_pair),
        person: args.person.clone(),
        normalize: args
            .normalize
            .iter()
            .map(|n| {
                let (column, kind) = n.split_once('=').unwrap_or((n.as_str(), ""));
                tokumei::Normalize::parse(kind.trim())
                    .map(|k| (column.trim().to_string(), k))
                    .ok_or_else(|| anyhow::anyhow!("--normalize {n}: expected COLUMN=date, COLUMN=sex or COLUMN=text"))
            })
            .collect::<anyhow::Result<_>>()?,
        hierarchies: args.hierarchies.clone(),
        hierarchy_files: args.hierarchy.clone(),
        anonymeter: match (&args.original, &args.control, &args.sensitive) {
            (Some(original), Some(control), Some(sensitive)) => Some(tokumei::AnonymeterInput {
                original: original.clone(),
                control: control.clone(),
                sensitive: column_pair(sensitive),
            }),
            _ => None,
        },
    };
    let report = tokumei::attack(&input)?;
    let o = &report.linkage.overall;
    let mut summary = format!(
        "{} attacker records against {} released: {} unique matches, {} ambiguous, {} without a match",
        o.records, report.release_records, o.unique_matches, o.ambiguous, o.no_match
    );
    if let Some(rate) = report.linkage.reidentification_rate {
        summary.push_str(&format!(
            "; {} correct, {} wrong; re-identification rate {:.4} ({:.4} of insiders)",
            o.correct,
            o.wrong,
            rate,
            report.linkage.reidentification_rate_of_insiders.unwrap_or(0.0)
        ));
    }
    if let (Some(s), Some(a)) = (&report.singling_out, &report.attribute_inference) {
        summary.push_str(&format!("; singling-out risk {:.4}, attribute-inference risk {:.4}", s.risk, a.risk));
    }
    say(cli, summary);
    if let Some(path) = &args.json {
        write_atomically(path, (serde_json::to_string_pretty(&report)? + "\n").as_bytes())?;
    }
    if let Some(path) = &args.html {
        let name = args.release.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        write_atomically(path, tokumei::attack_html(&report, &format!("Linkage attack on {name}")).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn anonymize(cli: &Cli, args: &AnonymizeArgs) -> anyhow::Result<ExitCode> {
    let encoding = args.table.encoding()?;
    let metric = tokumei::privacy::Metric::parse(&args.metric).ok_or_else(|| {
        anyhow::anyhow!("--metric: expected loss, precision, discernibility, aecs or entropy, got `{}`", args.metric)
    })?;
    let model = tokumei::privacy::PrivacyModel {
        k: args.k,
        diversity: tokumei::config::diversity(args.l, args.l_variant.as_deref(), args.c).map_err(anyhow::Error::msg)?,
        closeness: tokumei::config::closeness(args.t, args.t_distance.as_deref()).map_err(anyhow::Error::msg)?,
        average_risk: args.average_risk,
        max_suppression: args.suppression,
    }
    .validated()?;
    let options = tokumei::AnonymizeOptions {
        input: args.table.input.clone(),
        delimiter: args.table.delimiter as u8,
        encoding,
        quasi_identifiers: args.table.qi.clone(),
        hierarchies: args.hierarchies.clone(),
        hierarchy_files: args.hierarchy.clone(),
        sensitive: args.sensitive.clone(),
        model,
        search: tokumei::privacy::SearchOptions {
            metric,
            max_optimal_lattice: args.max_optimal_lattice,
            ..Default::default()
        },
        keep: args.keep.clone(),
        out: args.out.clone(),
    };
    let outcome = tokumei::anonymize(&options)?;
    if let Some(refused) = &outcome.refused {
        eprintln!("refused: {refused}; nothing written");
        return Ok(ExitCode::from(1));
    }
    let s = &outcome.solution;
    say(
        cli,
        format!(
            "{}: met={} levels={} classes={} smallest={} suppressed records={} {}={:.6} optimal={} nodes checked={}/{}",
            s.model,
            s.target_met,
            serde_json::to_string(&s.levels)?,
            s.classes,
            s.min_class_size,
            s.suppressed_records,
            s.metric,
            s.utility[&s.metric],
            s.optimal,
            s.nodes_checked,
            s.lattice_size
        ),
    );
    match outcome.out {
        Some(out) => {
            say(cli, format!("released to {}", out.display()));
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no generalization meets {} within {} suppression: nothing written", s.model, args.suppression);
            Ok(ExitCode::from(1))
        }
    }
}

fn keygen(cli: &Cli, out: &Path) -> anyhow::Result<ExitCode> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).context("reading the operating system's random source")?;
    let text = MasterKey::file_text(
        &bytes,
        "tokumei master key. Keep secret; never commit. Derived keys pseudonymize releases.",
    );
    create_secret_file(out)?.write_all(text.as_bytes())?;
    say(cli, format!("wrote a new key to {}", out.display()));
    Ok(ExitCode::SUCCESS)
}

/// Creates a key file readable by its owner only; never an existing one.
fn create_secret_file(out: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(out).with_context(|| format!("creating {} (an existing key is never overwritten)", out.display()))
}

/// `tokumei keygen --age`: an age X25519 identity in `out` (0600) and its public key in
/// `out.pub`. Neither existing file is overwritten.
fn keygen_age(cli: &Cli, out: &Path) -> anyhow::Result<ExitCode> {
    let public = {
        let mut name = out.as_os_str().to_owned();
        name.push(".pub");
        PathBuf::from(name)
    };
    if public.exists() {
        anyhow::bail!("{} exists (an existing key is never overwritten)", public.display());
    }
    let (identity, recipient) = tokumei::report::seal::generate_identity();
    create_secret_file(out)?.write_all(identity.as_bytes())?;
    std::fs::write(&public, format!("{recipient}\n")).with_context(|| format!("writing {}", public.display()))?;
    say(cli, format!("wrote an age identity to {} and its public key to {}", out.display(), public.display()));
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed into place: a
/// failed write leaves no partial file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
