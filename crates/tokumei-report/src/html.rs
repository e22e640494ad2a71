//! A self-contained HTML page (inline CSS and SVG, no scripts, no network) for reports that
//! people read in a browser: headings, paragraphs, tables and horizontal bar charts.

use std::fmt::Write;

/// An HTML page under construction.
#[derive(Debug, Clone)]
pub struct Page {
    title: String,
    body: String,
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

impl Page {
    /// An empty page titled `title`.
    pub fn new(title: &str) -> Page {
        Page { title: title.to_string(), body: String::new() }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
        self
    }

    /// A paragraph of text.
    pub fn paragraph(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// A table with a header row.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) -> &mut Page {
        self.body.push_str("<table><thead><tr>");
        for h in headers {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
        self
    }

    /// A horizontal bar chart (inline SVG): one bar per `(label, value)`, scaled to the largest.
    pub fn bar_chart(&mut self, title: &str, bars: &[(String, f64)], unit: &str) -> &mut Page {
        const LABEL: f64 = 170.0;
        const WIDTH: f64 = 420.0;
        const ROW: f64 = 22.0;
        let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
        let height = ROW * bars.len() as f64 + 28.0;
        let _ = writeln!(
            self.body,
            r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" width="{}" height="{height}" viewBox="0 0 {} {height}">"#,
            escape(title),
            LABEL + WIDTH + 110.0,
            LABEL + WIDTH + 110.0
        );
        for (i, (label, value)) in bars.iter().enumerate() {
            let y = 8.0 + ROW * i as f64;
            let w = if max > 0.0 { WIDTH * value / max } else { 0.0 };
            let _ = writeln!(
                self.body,
                r##"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><rect x="{LABEL}" y="{y}" width="{w:.1}" height="{}" fill="#3b6ea5"><title>{}: {}</title></rect><text x="{}" y="{}" font-size="11">{}</text>"##,
                LABEL - 6.0,
                y + 13.0,
                escape(label),
                ROW - 6.0,
                escape(label),
                format_value(*value),
                LABEL + w + 4.0,
                y + 13.0,
                escape(format!("{} {unit}", format_value(*value)).trim_end()),
            );
        }
        self.body.push_str("</svg></figure>\n");
        self
    }

    /// The whole document.
    pub fn finish(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
             body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
             table{{border-collapse:collapse;margin:0.5rem 0 1rem}}td,th{{border:1px solid #ccc;padding:0.2rem 0.6rem;text-align:right}}\
             th{{background:#f3f3f3}}figure{{margin:1rem 0}}figcaption{{font-weight:600;margin-bottom:0.3rem}}\
             </style></head><body>\n<h1>{title}</h1>\n{}</body></html>\n",
            self.body,
            title = escape(&self.title)
        )
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.4}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_self_contained_and_escaped() {
        let mut page = Page::new("risk <of> table");
        page.heading("classes").table(&["size", "classes"], &[vec!["1".into(), "<3>".into()]]);
        page.bar_chart("sizes", &[("1".into(), 3.0), ("a&b".into(), 1.5)], "records");
        let html = page.finish();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("risk &lt;of&gt; table") && html.contains("&lt;3&gt;") && html.contains("a&amp;b"));
        assert!(html.contains("<svg") && html.contains("width=\"420.0\""), "the largest bar spans the chart");
        // Nothing fetched from the network: the only URL is the SVG namespace.
        assert_eq!(html.matches("http").count(), 1);
        assert!(!html.contains("<script"));
    }
}
