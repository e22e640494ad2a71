//! Configuration: strict, validated once, every problem reported together.

use std::path::Path;

use tokumei::config::{Error, Plan, Transform};

fn problems(toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    match Plan::from_toml(toml, &path) {
        Ok(_) => Vec::new(),
        Err(Error::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

const BASE: &str = r#"
[release]
profile = "anonymized"
label = "t"
reference-date = "2026-04-01"

[key]
env = "TOKUMEI_KEY"

[[input]]
name = "t"
path = "t.csv"
column = [
  { name = "card_number", header = "番号", role = "identification-code", link = "card-number" },
  { name = "birth_date", header = "生年月日", type = "date", role = "quasi-identifier", link = "birth-date" },
  { name = "note", header = "記事", role = "free-text" },
  { name = "lab", header = "検査値", type = "decimal", role = "sensitive" },
]
"#;

/// BASE with its lab values released as they are, said out loud (an anonymized config must).
fn valid() -> String {
    format!("{BASE}\n[transform.lab]\nkind = \"keep\"\n")
}

#[test]
fn the_bundled_profiles_are_valid() {
    for profile in ["submission", "pseudonymized", "anonymized"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/{profile}.toml"));
        let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{profile}: {e}"));
        assert_eq!(plan.tables.len(), 3);
        assert_eq!(plan.opt_outs.len(), 1);
    }
}

#[test]
fn a_valid_config_resolves_defaults() {
    assert!(problems(&valid()).is_empty(), "{:?}", problems(&valid()));
    let plan = Plan::from_toml(&valid(), Path::new("/x/c.toml")).unwrap();
    let columns = &plan.tables[0].columns;
    assert_eq!(columns[0].transform, Transform::Drop);
    assert_eq!(columns[2].transform, Transform::Drop);
    assert_eq!(columns[3].transform, Transform::Keep);
    assert_eq!(plan.privacy.unwrap().model.k, 5);
    assert_eq!(plan.tables[0].source.path, Path::new("/x/t.csv"));
    // Without `keep` said out loud, an anonymized release would carry extreme lab values raw.
    let found = problems(BASE);
    assert!(found.iter().any(|p| p.contains("`lab`") && p.contains("numbers would be released raw")), "{found:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = format!(
        "{BASE}\n[transform.card_number]\nkind = \"keep\"\n\n[transform.note]\nkind = \"keep\"\n\n[transform.lab]\nkind = \"age-band\"\n\n[transform.nothing]\nkind = \"drop\"\n"
    );
    let found = problems(&bad);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found.iter().any(|p| p.contains("card_number") && p.contains("個人識別符号")));
    assert!(found.iter().any(|p| p.contains("`note`") && p.contains("free text")));
    assert!(found.iter().any(|p| p.contains("`lab`") && p.contains("age-band")));
    assert!(found.iter().any(|p| p.contains("transform.nothing")));
}

#[test]
fn unknown_fields_are_rejected_with_their_line() {
    let found = problems(&BASE.replace("label = \"t\"", "label = \"t\"\nlabl = \"typo\""));
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("line 5") && found[0].contains("labl"), "{found:?}");
}

#[test]
fn keys_never_come_from_the_toml() {
    let found = problems(&BASE.replace("env = \"TOKUMEI_KEY\"", "value = \"00\""));
    assert!(found[0].contains("value"), "{found:?}");
    let found = problems(&BASE.replace("env = \"TOKUMEI_KEY\"", ""));
    assert!(found.iter().any(|p| p.contains("exactly one of `file` or `env`")), "{found:?}");
}

#[test]
fn privacy_belongs_to_the_anonymized_profile() {
    let found = problems(
        &BASE
            .replace("profile = \"anonymized\"", "profile = \"pseudonymized\"")
            .replace("[key]", "[privacy]\nk = 3\n\n[key]"),
    );
    assert!(found.iter().any(|p| p.contains("anonymized profile only")), "{found:?}");
    let found = problems(&BASE.replace("[key]", "[privacy]\nk = 1\n\n[key]"));
    assert!(found.iter().any(|p| p.contains("no privacy model")), "{found:?}");
}

#[test]
fn opt_out_scope_is_validated() {
    let list = "\n[[opt-out]]\npath = \"o.csv\"\ncolumn = [{ name = \"kana_name\", header = \"カナ\", link = \"kana-name\" }]\n";
    assert!(problems(&format!("{}{list}", valid())).is_empty());
    let found = problems(&format!("{BASE}{list}scope = \"provider\"\n"));
    assert!(found.iter().any(|p| p.contains("needs `provider-tables`")), "{found:?}");
    let found = problems(&format!("{BASE}{list}scope = \"provider\"\nprovider-tables = [\"nowhere\"]\n"));
    assert!(found.iter().any(|p| p.contains("`nowhere` is not an input table")), "{found:?}");
    let found = problems(&format!("{BASE}\n[[opt-out]]\ntokens = \"t.csv\"\npath = \"o.csv\"\n"));
    assert!(found.iter().any(|p| p.contains("exactly one of `path`")), "{found:?}");
}

#[test]
fn built_in_ladders_are_configured_and_must_nest() {
    let with = |transforms: &str| BASE.replace("[[input]]", &format!("{transforms}\n[[input]]"));
    let ok = with(
        "[transform.birth_date]\nkind = \"date\"\nlevels = [\"month\", \"quarter\", \"five-years\"]\n\n[transform.lab]\nkind = \"interval\"\nwidths = [5, 10]\nbottom = 0\ntop = 200\n",
    );
    assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
    let plan = Plan::from_toml(&ok, Path::new("/x/c.toml")).unwrap();
    match &plan.tables[0].columns[1].transform {
        Transform::Generalize(g) => assert_eq!(g.levels(), 4),
        other => panic!("{other:?}"),
    }
    for (bad, expected) in [
        ("[transform.birth_date]\nkind = \"date\"\nlevels = [\"year\", \"month\"]\n", "finest first"),
        ("[transform.birth_date]\nkind = \"age-band\"\nwidths = [10, 15]\n", "must nest"),
        ("[transform.lab]\nkind = \"interval\"\nwidths = [5, 12]\n", "not a multiple"),
        ("[transform.lab]\nkind = \"icd10\"\n", "cannot read"),
        ("[privacy]\nmetric = \"nope\"\n", "unknown metric"),
        ("[privacy]\nl = 2\n", "need a `sensitive` column"),
        ("[privacy]\nsensitive = \"lab\"\nt = 0.2\nt-distance = \"manhattan\"\n", "unknown t-closeness distance"),
    ] {
        let found = problems(&with(bad));
        assert!(found.iter().any(|p| p.contains(expected)), "{bad}: {found:?}");
    }
}

/// What the privacy model reads is checked before any data is read: `tokumei check` reports a
/// quasi-identifier with two ladders, level bounds for a column that is not one, and a sensitive
/// column that is transformed or missing — all at once.
#[test]
fn privacy_columns_are_checked_before_any_data_is_read() {
    let second = r#"
[[input]]
name = "u"
path = "u.csv"
column = [
  { name = "birth_date", header = "生年月日", type = "date", role = "quasi-identifier", link = "birth-date" },
  { name = "lab", header = "検査値", type = "decimal", role = "sensitive" },
]
"#;
    let transforms = "[transform.\"t.birth_date\"]\nkind = \"date\"\nlevels = [\"month\", \"year\"]\n\n\
                      [transform.\"u.birth_date\"]\nkind = \"date\"\nlevels = [\"year\"]\n\n\
                      [transform.lab]\nkind = \"interval\"\nwidths = [5, 10]\nbottom = 0\ntop = 200\n\n\
                      [privacy]\nsensitive = \"lab\"\nl = 2\nlevels = { note = [0, 1] }\n";
    let found = problems(&format!("{BASE}{second}\n{transforms}"));
    let has = |parts: &[&str]| found.iter().any(|p| parts.iter().all(|part| p.contains(part)));
    assert!(has(&["quasi-identifier `birth_date`", "different transforms"]), "{found:#?}");
    assert!(has(&["privacy.levels", "`note`", "not a quasi-identifier"]), "{found:#?}");
    assert!(has(&["privacy.sensitive", "`lab` is transformed in table `t`"]), "{found:#?}");
    assert!(has(&["privacy.sensitive", "`lab` is transformed in table `u`"]), "{found:#?}");
    assert_eq!(found.len(), 4, "{found:#?}");
    // One ladder in both tables, bounds for a quasi-identifier, lab kept: valid, and the plan
    // names the model's columns.
    let fixed = transforms
        .replace("levels = [\"year\"]", "levels = [\"month\", \"year\"]")
        .replace("levels = { note = [0, 1] }", "levels = { birth_date = [0, 1] }")
        .replace("kind = \"interval\"\nwidths = [5, 10]\nbottom = 0\ntop = 200", "kind = \"keep\"");
    let text = format!("{BASE}{second}\n{fixed}");
    assert!(problems(&text).is_empty(), "{:#?}", problems(&text));
    let plan = Plan::from_toml(&text, Path::new("/x/c.toml")).unwrap();
    let names: Vec<String> = plan.quasi_identifiers().into_iter().map(|q| q.name).collect();
    assert_eq!(names, ["birth_date"]);
    // A sensitive column no table has.
    let missing = format!("{BASE}\n[transform.lab]\nkind = \"keep\"\n\n[privacy]\nsensitive = \"diagnosis\"\nl = 2\n");
    assert!(
        problems(&missing).iter().any(|p| p.contains("names `diagnosis`, which no table has")),
        "{:?}",
        problems(&missing)
    );
}
