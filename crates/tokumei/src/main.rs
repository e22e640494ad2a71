//! The `tokumei` command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokumei::config::Plan;
use tokumei::link::MasterKey;
use tokumei::synth::{SynthSpec, write_population};
use tokumei::{RunOptions, Status};

mod args;

use args::{AnonymizeArgs, AttackArgs, Cli, Color, Command, LedgerCommand, OptoutCommand, RiskArgs};

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
            truth_column,
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
                truth_column: *truth_column,
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
        Command::Keygen { out, age: true, .. } => {
            protect_keys();
            keygen_age(cli, out)
        }
        Command::Keygen { out, age: false, token_key } => {
            protect_keys();
            keygen(cli, out, *token_key)
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
        Command::Verify { release, other, config, json } => {
            let (identifiers, opted_out) = match config {
                Some(config) => {
                    protect_keys();
                    let plan = Plan::load(config)?;
                    (
                        Some(tokumei::verify::InputIdentifiers::read(&plan)?),
                        Some(tokumei::verify::OptedOut::recompute(&plan)?),
                    )
                }
                None => (None, None),
            };
            let options =
                tokumei::verify::Options { others: other.clone(), identifiers, opted_out, ..Default::default() };
            let verification = tokumei::verify::verify(release, &options)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&verification)?);
            } else {
                for finding in &verification.findings {
                    println!("{finding}");
                }
            }
            say(
                cli,
                format!(
                    "{}: {} files, {} rows; {}",
                    release.display(),
                    verification.files,
                    verification.rows,
                    if verification.passed() {
                        "passed".to_string()
                    } else {
                        format!("{} finding(s)", verification.findings.len())
                    }
                ),
            );
            Ok(if verification.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Impact { release, json } => {
            let impact = tokumei::verify::impact(release)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&impact)?);
            } else {
                for statement in &impact.statements {
                    println!("{statement}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger(LedgerCommand::Verify { file, head }) => {
            let verification = tokumei::report::ledger::verify(file, head.as_deref())?;
            for finding in &verification.findings {
                println!("{}, line {}: {}", file.display(), finding.line, finding.problem);
            }
            say(
                cli,
                format!(
                    "{}: {} lines, {}; head {}",
                    file.display(),
                    verification.lines,
                    if verification.findings.is_empty() {
                        "intact".to_string()
                    } else {
                        format!("{} finding(s)", verification.findings.len())
                    },
                    verification.head.as_deref().unwrap_or("(empty)")
                ),
            );
            Ok(if verification.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
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
        Command::Linkage { config, truth, truth_column, json } => {
            protect_keys();
            let plan = Plan::load(config)?;
            let truth = match (truth, truth_column) {
                (_, Some(column)) => tokumei::Truth::Column(column.clone()),
                (Some(file), None) => tokumei::Truth::File(file.clone()),
                (None, None) => unreachable!("clap requires --truth or --truth-column"),
            };
            let quality = tokumei::evaluate_linkage(&plan, &truth)?;
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
                problems
                    .push(format!("key file {} does not exist (tokumei keygen --out … writes one)", path.display()));
            }
            if let Some(path) = &plan.token_key
                && !path.exists()
            {
                problems.push(format!(
                    "token key file {} does not exist (your certified producer issues it: tokumei keygen --token-key)",
                    path.display()
                ));
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
        say(cli, format!("warning: key file {} is readable by other users; `chmod 600` it", path.display()));
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
    anyhow::ensure!((0.0..=1.0).contains(&args.threshold), "--threshold must be between 0 and 1");
    anyhow::ensure!(args.dis_fraction > 0.0 && args.dis_fraction < 1.0, "--dis-fraction must be between 0 and 1");
    anyhow::ensure!(args.suda_max_size != Some(0), "--suda-max-size must be at least 1");
    let input = tokumei::RiskInput {
        input: args.table.input.clone(),
        delimiter: args.table.delimiter,
        encoding: args.table.encoding.into(),
        quasi_identifiers: args.table.qi.clone(),
        sensitive: args.sensitive.clone(),
        person: args.person.clone(),
        options: tokumei::risk::RiskOptions {
            threshold: args.threshold,
            sensitive_values: 0,
            distance: args.t_distance.into(),
        },
        population: args.population,
        population_table: args
            .population_table
            .as_ref()
            .map(|path| tokumei::PopulationTable { path: path.clone(), count: args.population_count.clone() }),
        suda: args.suda2.into(),
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
    let input = tokumei::AttackInput {
        release: args.release.clone(),
        attacker: args.attacker.clone(),
        delimiter: args.delimiter,
        encoding: args.encoding.into(),
        quasi_identifiers: args.qi.iter().map(|q| column_pair(q)).collect(),
        id: args.id.as_deref().map(column_pair),
        person: args.person.clone(),
        normalize: args.normalize.clone(),
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
    let model = tokumei::privacy::PrivacyModel {
        k: args.k,
        diversity: tokumei::config::diversity(args.l, args.l_variant.map(args::LVariant::name), args.c)?,
        closeness: tokumei::config::closeness(args.t, args.t_distance.map(args::TDistance::name))?,
        average_risk: args.average_risk,
        max_suppression: args.suppression,
    }
    .validated()?;
    let options = tokumei::AnonymizeOptions {
        input: args.table.input.clone(),
        delimiter: args.table.delimiter,
        encoding: args.table.encoding.into(),
        quasi_identifiers: args.table.qi.clone(),
        hierarchies: args.hierarchies.clone(),
        hierarchy_files: args.hierarchy.clone(),
        sensitive: args.sensitive.clone(),
        model,
        search: tokumei::privacy::SearchOptions {
            metric: args.metric,
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

fn keygen(cli: &Cli, out: &Path, token_key: bool) -> anyhow::Result<ExitCode> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).context("reading the operating system's random source")?;
    let comment = if token_key {
        "tokumei token key of a certified producer. Give it to your providers only, never commit it; \
         their submissions' tokens are keyed with it."
    } else {
        "tokumei master key. Keep secret; never commit. Derived keys pseudonymize releases."
    };
    let text = MasterKey::file_text(&bytes, comment);
    let fingerprint = MasterKey::from_bytes(bytes).fingerprint();
    zeroize::Zeroize::zeroize(&mut bytes);
    create_secret_file(out)?.write_all(text.as_bytes())?;
    if token_key {
        say(cli, format!("wrote a new token key to {} (fingerprint {fingerprint})", out.display()));
    } else {
        say(cli, format!("wrote a new key to {}", out.display()));
    }
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
