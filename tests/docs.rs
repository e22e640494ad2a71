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
