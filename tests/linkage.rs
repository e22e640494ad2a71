//! Linkage (名寄せ) against the synthetic truth, and the conflict rule.

use tokumei::link::ConflictRule;

use crate::common::Workspace;

fn set_rule(ws: &Workspace, profile: &str, rule: &str) {
    let config = ws.path(&format!("configs/{profile}.toml"));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[linkage]\nconflict = \"{rule}\"\n")).unwrap();
}

#[test]
fn linkage_finds_the_true_persons_on_generated_data() {
    let ws = Workspace::generate(4_000, 37);
    let truth = ws.truth();
    let quality = tokumei::evaluate_linkage(
        &ws.plan("pseudonymized"),
        &tokumei::Truth::File(ws.path("datasets/sample/truth.csv")),
    )
    .unwrap();
    let records: usize = ["checkups", "dispensing", "charts"].iter().map(|t| truth.rows(t)).sum();
    assert_eq!(quality.records as usize, records);
    assert_eq!(quality.true_persons as usize, truth.lines.len());
    assert!(quality.precision >= 0.999 && quality.recall >= 0.999, "{quality:#?}");
    assert_eq!(quality.stats.conflict_rule, ConflictRule::Evidence);
    // Job changers (new card at the pharmacy) are joined by their name key across two insurances.
    assert!(quality.stats.name_conflicts > 0, "the generator changes some persons' insurance");
}

/// Namesakes (same kana name, birth date and sex) are merged by `merge` and told apart by their
/// addresses under the default `evidence` rule, which links at least as precisely with the same
/// recall.
#[test]
fn addresses_tell_namesakes_apart() {
    let spec = tokumei::synth::SynthSpec {
        persons: 20_000,
        seed: 43,
        opt_out_rate: 0.03,
        namesake_rate: 0.01,
        national: false,
        registry: false,
        ..tokumei::synth::SynthSpec::default()
    };
    let ws = Workspace::generate_with(spec);
    let evidence = tokumei::evaluate_linkage(
        &ws.plan("pseudonymized"),
        &tokumei::Truth::File(ws.path("datasets/sample/truth.csv")),
    )
    .unwrap();
    set_rule(&ws, "pseudonymized", "merge");
    let merge = tokumei::evaluate_linkage(
        &ws.plan("pseudonymized"),
        &tokumei::Truth::File(ws.path("datasets/sample/truth.csv")),
    )
    .unwrap();
    assert!(evidence.stats.kept_apart_by_address > 0, "{evidence:#?}");
    assert!(evidence.precision > merge.precision, "{} vs {}", evidence.precision, merge.precision);
    assert!(evidence.precision >= 0.999 && evidence.recall >= 0.999, "{evidence:#?}");
}

#[test]
fn insurance_wins_keeps_job_changers_apart_yet_their_opt_out_holds() {
    let ws = Workspace::generate(4_000, 37);
    set_rule(&ws, "pseudonymized", "insurance-wins");
    let plan = ws.plan("pseudonymized");
    assert_eq!(plan.conflict_rule, ConflictRule::InsuranceWins);
    let quality =
        tokumei::evaluate_linkage(&plan, &tokumei::Truth::File(ws.path("datasets/sample/truth.csv"))).unwrap();
    assert!(quality.recall < 1.0, "job changers are split under insurance-wins");
    assert!(quality.precision >= 0.999, "{quality:#?}");
    // Split persons are released apart, but an opt-out of either part removes both.
    crate::pipeline::assert_exactly_opted_out_removed(&ws, "pseudonymized");
}

#[test]
fn a_token_list_removes_the_same_persons_as_the_plain_list() {
    let ws = crate::common::Workspace::generate(1_000, 41);
    let plain = ws.run("pseudonymized", "out/plain");
    let (tokens, quarantined) = tokumei::hash_opt_out_list(&ws.plan("pseudonymized"), 0).unwrap();
    assert_eq!(quarantined, 0);
    // No plain identifier of the list survives in the token list.
    let list = std::fs::read_to_string(ws.path("datasets/sample/optout.csv")).unwrap();
    for field in list.lines().skip(1).flat_map(|l| l.split(',')).filter(|f| f.chars().count() >= 4) {
        assert!(!tokens.contains(field), "a plain identifier is in the token list");
    }
    std::fs::write(ws.path("datasets/sample/optout.tokens.csv"), &tokens).unwrap();
    let config = ws.path("configs/pseudonymized.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let replaced = text.replace(
        "path = \"../datasets/sample/optout.csv\"\nschema = \"schemas/optout.toml\"",
        "tokens = \"../datasets/sample/optout.tokens.csv\"",
    );
    assert_ne!(replaced, text);
    std::fs::write(&config, replaced).unwrap();
    let hashed = ws.run("pseudonymized", "out/hashed");
    assert_eq!(plain.report.accounting, hashed.report.accounting);
    let lists = |o: &tokumei::RunOutcome| o.report.stages.opt_out.clone().unwrap().lists[0].matching.clone().unwrap();
    assert_eq!(lists(&plain).matched.unmatched_lines, lists(&hashed).matched.unmatched_lines);
    assert_eq!(lists(&hashed).kind, "tokens");
    for table in ["checkups", "dispensing", "charts"] {
        let a = std::fs::read(ws.path(&format!("out/plain/{table}.parquet"))).unwrap();
        assert!(a == std::fs::read(ws.path(&format!("out/hashed/{table}.parquet"))).unwrap(), "{table}");
    }
    // A damaged token list is an error with its line.
    let mut lines: Vec<String> = tokens.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen(',', ",zz", 1);
    std::fs::write(ws.path("datasets/sample/optout.tokens.csv"), lines.join("\n")).unwrap();
    let err = tokumei::run(&ws.plan("pseudonymized"), &tokumei::RunOptions::default()).unwrap_err().to_string();
    assert!(err.contains("optout.tokens.csv, line 2"), "{err}");
}
