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
    let quality = tokumei::evaluate_linkage(&ws.plan("pseudonymized"), &ws.path("datasets/sample/truth.csv")).unwrap();
    let records: usize = ["checkups", "dispensing", "charts"].iter().map(|t| truth.rows(t)).sum();
    assert_eq!(quality.records as usize, records);
    assert_eq!(quality.true_persons as usize, truth.lines.len());
    assert!(quality.precision >= 0.999 && quality.recall >= 0.999, "{quality:#?}");
    assert_eq!(quality.stats.conflict_rule, ConflictRule::Merge);
    // Job changers (new card at the pharmacy) are joined by their name key across two insurances.
    assert!(quality.stats.name_conflicts > 0, "the generator changes some persons' insurance");
}

#[test]
fn insurance_wins_keeps_job_changers_apart_yet_their_opt_out_holds() {
    let ws = Workspace::generate(4_000, 37);
    set_rule(&ws, "pseudonymized", "insurance-wins");
    let plan = ws.plan("pseudonymized");
    assert_eq!(plan.conflict_rule, ConflictRule::InsuranceWins);
    let quality = tokumei::evaluate_linkage(&plan, &ws.path("datasets/sample/truth.csv")).unwrap();
    assert!(quality.recall < 1.0, "job changers are split under insurance-wins");
    assert!(quality.precision >= 0.999, "{quality:#?}");
    // Split persons are released apart, but an opt-out of either part removes both.
    crate::pipeline::assert_exactly_opted_out_removed(&ws, "pseudonymized");
}
