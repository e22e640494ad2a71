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
    /// Exit 0: released. Exit 1: privacy target not met, or the final opt-out check failed (nothing
    /// written). Exit 2: error (bad input, bad config, I/O).
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
    /// k-anonymize any single table at the optimal generalization of its quasi-identifiers.
    ///
    /// Researchers' entry point: one CSV table, its quasi-identifiers, and generalization
    /// hierarchies in ARX's format (`;`-separated, column 0 the value, column i its level-i
    /// generalization). Finds the levels with the highest precision at which every class has at
    /// least k records with at most the allowed fraction suppressed (a pruned search over the whole
    /// lattice, provably optimal), writes `released.csv` and `report.json` to --out, and prints a
    /// summary. Exit 1 when no node of the lattice meets the target.
    Anonymize {
        /// The table (CSV with a header line).
        #[arg(long)]
        input: PathBuf,
        /// Field delimiter of the table, e.g. ';'.
        #[arg(long, default_value = ",")]
        delimiter: char,
        /// Text encoding: utf-8, utf-8-bom or cp932.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        /// Quasi-identifier columns, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        qi: Vec<String>,
        /// Folder of ARX hierarchy files named `*_<column>.csv`.
        #[arg(long)]
        hierarchies: Option<PathBuf>,
        /// A hierarchy file for one column, as COLUMN=FILE (repeatable; wins over --hierarchies).
        #[arg(long, value_parser = tokumei::parse_hierarchy_arg)]
        hierarchy: Vec<(String, PathBuf)>,
        /// Minimum records per equivalence class.
        #[arg(long, default_value_t = 5)]
        k: u32,
        /// Largest fraction of records that may be suppressed.
        #[arg(long, default_value_t = 0.05)]
        suppression: f64,
        /// Output folder (written atomically).
        #[arg(long)]
        out: PathBuf,
    },
    /// Opt-out lists (提供停止).
    #[command(subcommand)]
    Optout(OptoutCommand),
    /// Write a new random master key file (readable by its owner only).
    Keygen {
        /// Key file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
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
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
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
        Command::Run { config, out } => run_release(cli, config, out.clone()),
        Command::Synth { persons, seed, opt_out_rate, out } => {
            let spec = SynthSpec { persons: *persons, seed: *seed, opt_out_rate: *opt_out_rate };
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { out } => keygen(cli, out),
        Command::Anonymize { input, delimiter, encoding, qi, hierarchies, hierarchy, k, suppression, out } => {
            let encoding = match encoding.as_str() {
                "utf-8" => tokumei::ingest::TextEncoding::Utf8,
                "utf-8-bom" => tokumei::ingest::TextEncoding::Utf8Bom,
                "cp932" => tokumei::ingest::TextEncoding::Cp932,
                other => anyhow::bail!("--encoding: expected utf-8, utf-8-bom or cp932, got `{other}`"),
            };
            anyhow::ensure!(delimiter.is_ascii(), "--delimiter must be one ASCII character");
            let options = tokumei::AnonymizeOptions {
                input: input.clone(),
                delimiter: *delimiter as u8,
                encoding,
                quasi_identifiers: qi.clone(),
                hierarchies: hierarchies.clone(),
                hierarchy_files: hierarchy.clone(),
                model: tokumei::privacy::KAnonymity::new(*k, *suppression)?,
                out: out.clone(),
            };
            let outcome = tokumei::anonymize(&options)?;
            let s = &outcome.solution;
            say(
                cli,
                format!(
                    "k={} met={} levels={} classes={} smallest={} suppressed records={} precision={:.4} optimal={} nodes checked={}/{}",
                    k,
                    s.target_met,
                    serde_json::to_string(&s.levels)?,
                    s.classes,
                    s.min_class_size,
                    s.suppressed_records,
                    s.utility["precision"],
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
                    eprintln!("no generalization meets k={k} within {suppression} suppression: nothing written");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Optout(OptoutCommand::Hash { config, list, out }) => {
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
        if let Some(privacy) = report.stages.get("privacy") {
            writeln!(
                err,
                "k-anonymity: k={} target met={} smallest class={} classes={} suppressed persons={}",
                privacy["k"],
                privacy["target_met"],
                privacy["min_class_size"],
                privacy["classes"],
                privacy["suppressed_person_count"]
            )?;
            if cli.verbose {
                writeln!(err, "levels: {}", privacy["level_names"])?;
            }
        }
        if cli.verbose {
            for (stage, took) in &outcome.timings {
                writeln!(err, "{stage:>28}: {:.2} s", took.as_secs_f64())?;
            }
        }
    }
    match outcome.status {
        Status::Released => {
            say(cli, format!("released to {}", outcome.out.as_deref().unwrap_or(Path::new("?")).display()));
            Ok(ExitCode::SUCCESS)
        }
        Status::PrivacyTargetUnmet | Status::OptOutCheckFailed => {
            eprintln!("{}", report.status);
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
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .with_context(|| format!("creating {} (an existing key is never overwritten)", out.display()))?;
    file.write_all(text.as_bytes())?;
    say(cli, format!("wrote a new key to {}", out.display()));
    Ok(ExitCode::SUCCESS)
}
