//! `docs/config.md` is generated from the doc comments of the config wire types, so the reference
//! cannot drift from the code. `UPDATE_DOCS=1 cargo test --test main docs` rewrites it.

use std::path::Path;

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders the reference from `wire.rs`: one section per struct or enum, one row per field or
/// variant, with its doc comment (which states default and example).
fn render(source: &str) -> String {
    let mut md = String::from(
        "# Configuration reference\n\n<!-- Generated from crates/tokumei-config/src/wire.rs by tests/docs.rs; do not edit. -->\n\n\
         Unknown fields are errors. Paths are relative to the config file. `tokumei check --config F` validates a file\n\
         and reports every problem at once.\n",
    );
    let mut doc: Vec<String> = Vec::new();
    let mut rename: Option<String> = None;
    let mut in_item = false;
    let mut in_attribute = false;
    for line in source.lines() {
        let trimmed = line.trim();
        if in_attribute {
            in_attribute = !trimmed.ends_with(']');
            continue;
        }
        if trimmed.starts_with("#[") && !trimmed.ends_with(']') {
            in_attribute = true;
            continue;
        }
        if let Some(text) = trimmed.strip_prefix("///") {
            doc.push(text.trim().to_string());
            continue;
        }
        if let Some(r) = trimmed.strip_prefix("#[serde(rename = \"").and_then(|r| r.strip_suffix("\")]")) {
            rename = Some(r.to_string());
            continue;
        }
        if trimmed.starts_with("#[") || trimmed.starts_with("//") || trimmed.starts_with("use ") {
            continue;
        }
        let header = trimmed.strip_prefix("pub struct ").or_else(|| trimmed.strip_prefix("pub enum "));
        if let Some(header) = header {
            let name = header.trim_end_matches(" {").trim();
            md.push_str(&format!(
                "\n## {}\n\n{}\n\n| key | meaning |\n|---|---|\n",
                name.trim_end_matches("Toml"),
                doc.join(" ")
            ));
            in_item = true;
        } else if in_item && trimmed.starts_with("pub ") && trimmed.contains(':') {
            let field = trimmed.trim_start_matches("pub ").split(':').next().unwrap_or_default();
            let key = rename.take().unwrap_or_else(|| kebab(field));
            md.push_str(&format!("| `{key}` | {} |\n", doc.join(" ")));
        } else if in_item
            && !doc.is_empty()
            && (trimmed.ends_with(',') || trimmed.ends_with('{'))
            && !trimmed.contains(':')
        {
            let variant = trimmed.trim_end_matches(['{', ',', ' ']);
            md.push_str(&format!("| `{}` | {} |\n", kebab(variant), doc.join(" ")));
        } else if trimmed.contains(':') && in_item && !doc.is_empty() {
            let field = trimmed.split(':').next().unwrap_or_default();
            md.push_str(&format!("| &nbsp;&nbsp;`{}` | {} |\n", kebab(field), doc.join(" ")));
        }
        doc.clear();
    }
    md
}

#[test]
fn config_reference_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("crates/tokumei-config/src/wire.rs")).unwrap();
    let rendered = render(&source);
    let path = root.join("docs/config.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(&path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(current == rendered, "docs/config.md is stale: run `UPDATE_DOCS=1 cargo test --test main docs`");
    for key in ["`reference-date`", "`max-suppression`", "`category-chars`", "`type`", "`opt-out`", "`age-band`"] {
        assert!(rendered.contains(key), "{key} missing from the reference");
    }
}

/// The generated part of `docs/formats.md`: every national table, its headers and where each
/// value comes from.
fn render_tables() -> String {
    use tokumei::ingest::{Format, national};
    let mut md = String::new();
    for (format, title) in [
        (Format::Uke, "UKE (`format = \"uke\"`)"),
        (Format::Cda, "特定健診 XML (`format = \"cda\"`)"),
        (Format::SsMix2, "SS-MIX2 (`format = \"ss-mix2\"`)"),
    ] {
        md.push_str(&format!("\n## Tables: {title}\n"));
        for table in national::tables(format) {
            md.push_str(&format!(
                "\n### `extract = \"{}\"` — one row per {}\n\n| header | from |\n|---|---|\n",
                table.name, table.row
            ));
            for field in table.fields {
                md.push_str(&format!("| {} | {} |\n", field.header, field.origin));
            }
        }
    }
    md
}

#[test]
fn formats_reference_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("docs/formats.md");
    let current = std::fs::read_to_string(&path).unwrap();
    let marker = "<!-- tables: generated";
    let cut = current.find(marker).expect("the generated-section marker");
    let end_of_marker = cut + current[cut..].find('\n').unwrap() + 1;
    let rendered = format!("{}{}", &current[..end_of_marker], render_tables());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap();
    assert!(current == rendered, "docs/formats.md is stale: run `UPDATE_DOCS=1 cargo test --test main docs`");
    assert!(rendered.contains("| 生年月日 | RE field 6 |"));
}

/// Where the report's types are declared: struct name → source file.
const REPORT_TYPES: &[(&str, &str)] = &[
    ("RunReport", "crates/tokumei-report/src/manifest.rs"),
    ("InputFile", "crates/tokumei-report/src/manifest.rs"),
    ("TableAccount", "crates/tokumei-report/src/manifest.rs"),
    ("ColumnTreatment", "crates/tokumei-report/src/manifest.rs"),
    ("OutputFile", "crates/tokumei-report/src/manifest.rs"),
    ("Stages", "crates/tokumei-report/src/stages.rs"),
    ("IngestStats", "crates/tokumei-ingest/src/reader.rs"),
    ("Quarantined", "crates/tokumei-ingest/src/reader.rs"),
    ("QuarantineGroup", "crates/tokumei-ingest/src/reader.rs"),
    ("NationalStats", "crates/tokumei-formats/src/lib.rs"),
    ("LinkStats", "crates/tokumei-link/src/persons.rs"),
    ("OptOutSection", "crates/tokumei-report/src/stages.rs"),
    ("OptOutListReport", "crates/tokumei-report/src/stages.rs"),
    ("ListMatching", "crates/tokumei-report/src/stages.rs"),
    ("OptOutMatch", "crates/tokumei-link/src/optout.rs"),
    ("Unresolved", "crates/tokumei-link/src/optout.rs"),
    ("PrivacySection", "crates/tokumei-report/src/stages.rs"),
    ("Solution", "crates/tokumei-privacy/src/search.rs"),
    ("Achieved", "crates/tokumei-privacy/src/search.rs"),
    ("ItemsSection", "crates/tokumei-report/src/stages.rs"),
    ("ItemSolution", "crates/tokumei-privacy/src/items.rs"),
    ("JointReport", "crates/tokumei-report/src/stages.rs"),
    ("GuaranteeSection", "crates/tokumei-report/src/stages.rs"),
    ("Measured", "crates/tokumei-report/src/stages.rs"),
    ("ClassRisk", "crates/tokumei-risk/src/lib.rs"),
];

/// One serialized field of a report type.
struct ReportField {
    key: String,
    rust_type: String,
    doc: String,
    /// `#[serde(flatten)]`: its type's keys appear here.
    flatten: bool,
}

/// A report type as declared: its doc comment and serialized fields (`#[serde(skip)]` left out).
struct ReportType {
    doc: String,
    fields: Vec<ReportField>,
}

fn report_type(root: &Path, name: &str, file: &str) -> ReportType {
    let source = std::fs::read_to_string(root.join(file)).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("pub struct {name} in {file}"));
    let mut doc_start = start;
    while doc_start > 0
        && (lines[doc_start - 1].trim().starts_with("///") || lines[doc_start - 1].trim().starts_with("#["))
    {
        doc_start -= 1;
    }
    let doc: Vec<&str> =
        lines[doc_start..start].iter().filter_map(|l| l.trim().strip_prefix("///")).map(str::trim).collect();
    let (mut fields, mut doc_lines, mut skip, mut flatten) = (Vec::new(), Vec::<String>::new(), false, false);
    for line in &lines[start + 1..] {
        let trimmed = line.trim();
        if trimmed == "}" {
            break;
        }
        if let Some(text) = trimmed.strip_prefix("///") {
            doc_lines.push(text.trim().to_string());
        } else if trimmed.starts_with("#[serde(") {
            skip |= trimmed == "#[serde(skip)]";
            flatten |= trimmed == "#[serde(flatten)]";
        } else if let Some(field) = trimmed.strip_prefix("pub ") {
            let (key, rust_type) = field.split_once(": ").unwrap();
            if !skip {
                fields.push(ReportField {
                    key: key.to_string(),
                    rust_type: rust_type.trim_end_matches(',').to_string(),
                    doc: doc_lines.join(" "),
                    flatten,
                });
            }
            (doc_lines, skip, flatten) = (Vec::new(), false, false);
        }
    }
    ReportType { doc: doc.join(" "), fields }
}

/// The report type a field's type holds, and how: `Option<T>`, `Vec<T>` and maps unwrapped.
/// Returns (type name, is a map keyed by data values).
fn inner_type(rust_type: &str) -> (String, bool) {
    let mut t = rust_type.trim().to_string();
    let mut map = false;
    loop {
        if let Some(inner) = t.strip_prefix("Option<").or_else(|| t.strip_prefix("Vec<")) {
            t = inner.strip_suffix('>').unwrap().to_string();
        } else if let Some(inner) =
            t.strip_prefix("BTreeMap<").or_else(|| t.strip_prefix("std::collections::BTreeMap<"))
        {
            t = inner.strip_suffix('>').unwrap().split_once(", ").unwrap().1.to_string();
            map = true;
        } else {
            return (t.rsplit("::").next().unwrap().to_string(), map);
        }
    }
}

fn render_report(root: &Path) -> String {
    let types: std::collections::BTreeMap<&str, ReportType> =
        REPORT_TYPES.iter().map(|(name, file)| (*name, report_type(root, name, file))).collect();
    let mut md = String::from(
        "# Report reference (`report.json`)\n\n<!-- Generated from the report's types by tests/docs.rs; do not edit. -->\n\n\
         Every release (and every refused run, in `<out>.refused/`) has a `report.json`. Each object below is one\n\
         type; a field whose type is another type of this page links to it. Inside `stages`, keys are written in\n\
         sorted order at every level, and a stage the run did not reach is absent. `null` means not known or not\n\
         applicable. Map keys (`map of …`) are data: table, column or quasi-identifier names, class sizes, key kinds.\n",
    );
    for (name, _) in REPORT_TYPES {
        let t = &types[name];
        md.push_str(&format!("\n## {name}\n\n{}\n\n| key | type | meaning |\n|---|---|---|\n", t.doc));
        for field in &t.fields {
            let (inner, map) = inner_type(&field.rust_type);
            let shown = if types.contains_key(inner.as_str()) {
                let link = format!("[{inner}](#{})", inner.to_lowercase());
                if map { format!("map of {link}") } else { field.rust_type.replace(&inner, &link) }
            } else {
                format!("`{}`", field.rust_type)
            };
            if field.flatten {
                md.push_str(&format!("| *(the keys of {shown})* | | {} |\n", field.doc));
            } else {
                md.push_str(&format!("| `{}` | {shown} | {} |\n", field.key, field.doc));
            }
        }
    }
    md
}

/// Every key of `value`, read as type `name`, is a documented field of it (flattened fields
/// included); nested report types are checked the same way.
fn check_keys(types: &std::collections::BTreeMap<&str, ReportType>, name: &str, value: &serde_json::Value, path: &str) {
    let Some(object) = value.as_object() else { return };
    let mut fields: Vec<&ReportField> = Vec::new();
    let mut pending = vec![name.to_string()];
    while let Some(t) = pending.pop() {
        for field in &types[t.as_str()].fields {
            if field.flatten {
                pending.push(inner_type(&field.rust_type).0);
            } else {
                fields.push(field);
            }
        }
    }
    for (key, child) in object {
        let field = fields
            .iter()
            .find(|f| &f.key == key)
            .unwrap_or_else(|| panic!("`{path}.{key}` is in report.json but not in {name}'s documented fields"));
        let (inner, map) = inner_type(&field.rust_type);
        if !types.contains_key(inner.as_str()) {
            continue;
        }
        let children: Vec<&serde_json::Value> = match (map, child) {
            (true, serde_json::Value::Object(m)) => m.values().collect(),
            (false, serde_json::Value::Array(items)) => items.iter().collect(),
            _ => vec![child],
        };
        for c in children {
            check_keys(types, &inner, c, &format!("{path}.{key}"));
        }
    }
}

#[test]
fn report_reference_is_current_and_covers_every_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = render_report(root);
    let path = root.join("docs/report.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(current == rendered, "docs/report.md is stale: run `UPDATE_DOCS=1 cargo test --test main docs`");
    // Every key of real reports (all four bundled configs) is documented where it appears.
    let types: std::collections::BTreeMap<&str, ReportType> =
        REPORT_TYPES.iter().map(|(name, file)| (*name, report_type(root, name, file))).collect();
    let ws = crate::common::Workspace::bundled();
    for profile in ["anonymized", "pseudonymized", "submission", "national"] {
        let outcome = ws.run(profile, &format!("out/{profile}"));
        let json: serde_json::Value = serde_json::from_str(&outcome.report.to_json().unwrap()).unwrap();
        check_keys(&types, "RunReport", &json, profile);
    }
}
