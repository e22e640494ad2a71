//! SS-MIX2 standardized storage (SS-MIX2 標準化ストレージ): the tree
//! `<root>/<ID[0:3]>/<ID[3:6]>/<ID>/<YYYYMMDD>/<データ種別>/<file>` of HL7 v2.5 messages in
//! ISO-2022-JP, one message per file.
//!
//! Messages are routed by their own type (MSH-9), not by the folder, and every row carries the
//! patient fields of the message's PID (and the facility of MSH-4), so linkage and opt-out work
//! as for the CSV exports. A message is decoded to Unicode before it is split on the HL7
//! delimiters (the bytes of many kanji contain `|`, `^`, `~`, `\` or `&` in ISO-2022-JP).
//!
//! The patient ID is in four levels of every path and in every file name: paths are never
//! copied into rows, messages or reports. A message is located by its number (in path order)
//! and segment/field (`PID-7`); the report counts messages whose path ID differs from PID-3.
//!
//! A message that cannot be decoded, does not begin with MSH, or lacks the PID its table needs is
//! quarantined whole.

use std::borrow::Cow;

use crate::{Field, NationalStats, RowRef, Table, field, table};

const CONTEXT: [Field; 9] = [
    field("医療機関コード", "MSH-4"),
    field("患者ID", "PID-3.1"),
    field("氏名", "PID-5 (the repetition with XPN.8 = I, else the first)"),
    field("カナ氏名", "PID-5 (the repetition with XPN.8 = P)"),
    field("生年月日", "PID-7 (date part)"),
    field("性別", "PID-8"),
    field("郵便番号", "PID-11.5"),
    field("住所", "PID-11 (.4 .3 .1 .2 joined; .8 when those are empty)"),
    field("電話番号", "PID-13.1 (else .12)"),
];

/// The tables SS-MIX2 storage offers.
pub const TABLES: &[Table] = &[
    table!("patients", "患者基本 message (ADT^A08, ADT-00)", CONTEXT, ["更新日時" => "MSH-7 (date part)"]),
    table!("visits", "visit message (ADT^A04 / A01 / A03 / A14 / A16: PV1)", CONTEXT, [
        "イベント" => "MSH-9.2", "患者区分" => "PV1-2", "診療科" => "PV1-10 (.2, else .1)",
        "受診日" => "PV1-44 (date part), else EVN-2", "退院日" => "PV1-45 (date part)",
    ]),
    table!("diagnoses", "PRB segment of a 病名 message (PPR^ZD1, PPR-01)", CONTEXT, [
        "受診日" => "PRB-2 (date part)", "診療科" => "PV1-10 (.2, else .1)",
        "傷病名コード" => "PRB-3: the code whose coding system is I10 (ICD-10)",
        "傷病名" => "PRB-3.2", "標準病名コード" => "PRB-3: the code whose coding system is not I10",
        "発症日" => "PRB-16 (date part)", "記事" => "NTE-3 after the PRB",
    ]),
    table!("prescriptions", "RXE segment of a 処方/注射 order (RDE^O11, OMP-01/02)", CONTEXT, [
        "オーダ番号" => "ORC-2", "処方日" => "ORC-9 (date part)", "診療科" => "PV1-10 (.2, else .1)",
        "医薬品コード" => "RXE-2.1", "医薬品名" => "RXE-2.2", "コード体系" => "RXE-2.3",
        "1回量" => "RXE-3", "単位" => "RXE-5.1", "総量" => "RXE-10", "総量単位" => "RXE-11.1",
    ]),
    table!("lab-results", "OBX segment of a 検体検査結果 message (OUL^R22, OML-11)", CONTEXT, [
        "検体採取日" => "SPM-17 (date part), else OBR-7", "検査項目コード" => "OBX-3.1",
        "検査項目名" => "OBX-3.2", "コード体系" => "OBX-3.3", "値の型" => "OBX-2",
        "数値" => "OBX-5 of a number (OBX-2 NM, SN)", "コード値" => "OBX-5.1 of a code (CWE, CE, CNE, CV, CF)",
        "文字値" => "OBX-5 of anything else (ST, TX, FT: free text)",
        "単位" => "OBX-6.1", "基準値" => "OBX-7", "異常フラグ" => "OBX-8", "結果日" => "OBX-14 (date part)",
    ]),
];

/// Why a message could not be read.
#[derive(Debug)]
pub enum MessageError<E> {
    /// Not decodable, not HL7, or without the segment its table needs: quarantined whole.
    Malformed {
        /// Where (`MSH`, `PID`, a byte offset).
        at: &'static str,
        /// What was expected.
        message: &'static str,
    },
    /// The row handler failed.
    Sink(E),
}

/// One segment: its fields (field 0 is the segment name; for MSH, field 1 is the separator, so
/// MSH-n is at index n like any other segment).
#[derive(Debug)]
struct Segment<'a> {
    fields: Vec<&'a str>,
}

impl<'a> Segment<'a> {
    fn name(&self) -> &'a str {
        self.fields[0]
    }

    fn field(&self, n: usize) -> &'a str {
        self.fields.get(n).copied().unwrap_or("")
    }

    fn repetitions(&self, n: usize) -> impl Iterator<Item = &'a str> {
        self.field(n).split('~')
    }

    /// Component `c` (1-based) of the first repetition of field `n`.
    fn component(&self, n: usize, c: usize) -> &'a str {
        component(self.field(n).split('~').next().unwrap_or(""), c)
    }
}

fn component(value: &str, c: usize) -> &str {
    value.split('^').nth(c - 1).unwrap_or("")
}

/// HL7 escapes (`\F\ \S\ \T\ \R\ \E\`) undone; other escapes kept as written.
fn unescape(value: &str) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let replaced = match after.get(..2) {
            Some("F\\") => Some('|'),
            Some("S\\") => Some('^'),
            Some("T\\") => Some('&'),
            Some("R\\") => Some('~'),
            Some("E\\") => Some('\\'),
            _ => None,
        };
        match replaced {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The date part of an HL7 timestamp (`YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]`).
fn date_part(value: &str) -> &str {
    let value = value.trim();
    if value.len() > 8 && value.as_bytes()[..8].iter().all(u8::is_ascii_digit) { &value[..8] } else { value }
}

fn nonempty(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// A text cell: trimmed, unescaped, absent when empty.
fn text_of(value: &str) -> Option<Cow<'_, str>> {
    nonempty(value).map(unescape)
}

/// What an OBX value holds, for the typed value columns of `lab-results`: free text never
/// shares a column with numbers and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Number,
    Code,
    Text,
}

/// OBX-5 as a cell of the column for `kind`, when the value is of that kind (by OBX-2; when
/// OBX-2 is empty, a value that reads as a number is one).
fn value_of<'a>(obx: &Segment<'a>, kind: ValueKind) -> Option<Cow<'a, str>> {
    let value = obx.field(5);
    let is = match obx.field(2).trim() {
        "NM" | "SN" => ValueKind::Number,
        "CWE" | "CE" | "CNE" | "CV" | "CF" => ValueKind::Code,
        "" if value.trim().parse::<f64>().is_ok() => ValueKind::Number,
        _ => ValueKind::Text,
    };
    if is != kind {
        return None;
    }
    match kind {
        ValueKind::Code => text_of(obx.component(5, 1)),
        ValueKind::Number | ValueKind::Text => text_of(value),
    }
}

/// A date cell: the date part of a timestamp, absent when empty.
fn date_of(value: &str) -> Option<Cow<'_, str>> {
    nonempty(date_part(value)).map(Cow::Borrowed)
}

/// Decodes a message: ISO-2022-JP (as SS-MIX2 requires), or UTF-8 when it has no escape
/// sequences and is valid UTF-8 (some exporters write it).
fn decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if !bytes.contains(&0x1b)
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Some(Cow::Borrowed(text));
    }
    encoding_rs::ISO_2022_JP.decode_without_bom_handling_and_without_replacement(bytes)
}

fn segments(text: &str) -> Result<Vec<Segment<'_>>, (&'static str, &'static str)> {
    let text = text.trim_start_matches('\u{feff}');
    if !text.starts_with("MSH") || text.len() < 8 {
        return Err(("byte 0", "an HL7 v2 message beginning with MSH"));
    }
    let separator = text[3..].chars().next().unwrap_or('|');
    if separator != '|' {
        return Err(("MSH-1", "the field separator |"));
    }
    let mut out = Vec::new();
    for line in text.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
        let mut fields: Vec<&str> = line.split('|').collect();
        if fields[0] == "MSH" {
            // MSH-1 is the separator itself: keep numbering aligned with other segments.
            fields.insert(1, "|");
        }
        if fields[0].len() != 3 || !fields[0].bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(("a segment", "segments named by three letters or digits"));
        }
        out.push(Segment { fields });
    }
    Ok(out)
}

/// What one message was, for the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// MSH-9.1^MSH-9.2 (`PPR^ZD1`).
    pub message_type: String,
    /// MSH-12 (`2.5`).
    pub version: String,
    /// Rows handed on.
    pub rows: u64,
    /// Whether PID-3 is the patient ID of the message's path (when a path ID was given and the
    /// message has a PID).
    pub matches_path: Option<bool>,
}

/// Parses one message and hands its rows of `table` to `on_row`. `number` is its ordinal in the
/// input (the record of every cell); `path_id`, the patient ID its storage path names, is
/// compared with PID-3 (never copied anywhere).
pub fn parse_message<E>(
    bytes: &[u8],
    number: u64,
    table: &Table,
    path_id: Option<&str>,
    mut on_row: impl FnMut(RowRef<'_>) -> Result<(), E>,
) -> Result<Parsed, MessageError<E>> {
    let malformed = |(at, message)| MessageError::Malformed { at, message };
    let text = decode(bytes)
        .ok_or(MessageError::Malformed { at: "byte 0", message: "ISO-2022-JP text (or UTF-8), as MSH-18 declares" })?;
    let segments = segments(&text).map_err(malformed)?;
    let msh = &segments[0];
    let message_type = format!("{}^{}", msh.component(9, 1), msh.component(9, 2));
    let version = msh.component(12, 1).to_string();
    let wanted: &[&str] = match table.name {
        "patients" => &["ADT^A08"],
        "visits" => &["ADT^A04", "ADT^A01", "ADT^A03", "ADT^A14", "ADT^A16"],
        "diagnoses" => &["PPR^ZD1"],
        "prescriptions" => &["RDE^O11"],
        "lab-results" => &["OUL^R22"],
        other => unreachable!("table `{other}` is listed in TABLES"),
    };
    let pid = segments.iter().find(|s| s.name() == "PID");
    let matches_path = path_id.zip(pid).map(|(id, pid)| unescape(pid.component(3, 1)).trim() == id);
    let mut parsed = Parsed { message_type, version, rows: 0, matches_path };
    if !wanted.contains(&parsed.message_type.as_str()) {
        return Ok(parsed);
    }
    let Some(pid) = pid else {
        return Err(MessageError::Malformed { at: "PID", message: "a PID segment (the patient)" });
    };
    let names: Vec<&str> = pid.repetitions(5).collect();
    let name_of = |kind: &str| names.iter().find(|n| component(n, 8) == kind).copied();
    let join_name = |n: &str| {
        let parts: Vec<&str> = [component(n, 1), component(n, 2)].into_iter().filter(|p| !p.is_empty()).collect();
        parts.join("\u{3000}")
    };
    let kanji = name_of("I").or(names.first().copied()).map(join_name);
    let kana = name_of("P").map(join_name);
    let address = {
        let a = pid.field(11).split('~').next().unwrap_or("");
        let parts: String = [4, 3, 1, 2].iter().map(|&c| component(a, c)).collect();
        // JAHIS samples write the whole address in component 8 (other geographic designation)
        // and leave 1–4 empty.
        if parts.is_empty() { component(a, 8).to_string() } else { parts }
    };
    let phone = nonempty(pid.component(13, 1)).or(nonempty(pid.component(13, 12)));
    let context: Vec<Option<Cow<'_, str>>> = vec![
        nonempty(msh.component(4, 1)).map(unescape),
        nonempty(pid.component(3, 1)).map(unescape),
        kanji.filter(|n| !n.is_empty()).map(Cow::Owned),
        kana.filter(|n| !n.is_empty()).map(Cow::Owned),
        nonempty(date_part(pid.field(7))).map(Cow::Borrowed),
        nonempty(pid.component(8, 1)).map(Cow::Borrowed),
        nonempty(component(pid.field(11), 5)).map(unescape),
        nonempty(&address).map(|a| Cow::Owned(unescape(a).into_owned())),
        phone.map(unescape),
    ];
    let records = vec![number; table.fields.len()];
    let pv1 = segments.iter().find(|s| s.name() == "PV1");
    let department = pv1.and_then(|p| nonempty(p.component(10, 2)).or(nonempty(p.component(10, 1))));
    let mut emit = |detail: Vec<Option<Cow<'_, str>>>| {
        let cells: Vec<Option<&str>> = context.iter().chain(detail.iter()).map(|c| c.as_deref()).collect();
        parsed.rows += 1;
        on_row(RowRef { file: None, cells: &cells, records: &records }).map_err(MessageError::Sink)
    };
    match table.name {
        "patients" => emit(vec![date_of(msh.field(7))])?,
        "visits" => {
            let evn = segments.iter().find(|s| s.name() == "EVN");
            let date = pv1
                .and_then(|p| nonempty(date_part(p.field(44))))
                .or(evn.and_then(|e| nonempty(date_part(e.field(2)))));
            emit(vec![
                text_of(msh.component(9, 2)),
                pv1.and_then(|p| text_of(p.field(2))),
                department.map(unescape),
                date.map(Cow::Borrowed),
                pv1.and_then(|p| date_of(p.field(45))),
            ])?;
        }
        "diagnoses" => {
            for (i, prb) in segments.iter().enumerate().filter(|(_, s)| s.name() == "PRB") {
                let problem = prb.field(3).split('~').next().unwrap_or("");
                let (icd10, other) = if component(problem, 3) == "I10" {
                    (component(problem, 1), component(problem, 4))
                } else if component(problem, 6) == "I10" {
                    (component(problem, 4), component(problem, 1))
                } else {
                    ("", component(problem, 1))
                };
                let note = segments[i + 1..]
                    .iter()
                    .take_while(|s| s.name() != "PRB")
                    .find(|s| s.name() == "NTE")
                    .and_then(|n| text_of(n.field(3)));
                emit(vec![
                    date_of(prb.field(2)),
                    department.map(unescape),
                    text_of(icd10),
                    text_of(component(problem, 2)),
                    text_of(other),
                    date_of(prb.field(16)),
                    note,
                ])?;
            }
        }
        "prescriptions" => {
            let mut orc: Option<&Segment<'_>> = None;
            for s in &segments {
                match s.name() {
                    "ORC" => orc = Some(s),
                    "RXE" => emit(vec![
                        orc.and_then(|o| text_of(o.component(2, 1))),
                        orc.and_then(|o| date_of(o.field(9))),
                        department.map(unescape),
                        text_of(s.component(2, 1)),
                        text_of(s.component(2, 2)),
                        text_of(s.component(2, 3)),
                        text_of(s.field(3)),
                        text_of(s.component(5, 1)),
                        text_of(s.field(10)),
                        text_of(s.component(11, 1)),
                    ])?,
                    _ => {}
                }
            }
        }
        "lab-results" => {
            let mut collected: Option<Cow<'_, str>> = None;
            for s in &segments {
                match s.name() {
                    "SPM" => collected = date_of(s.component(17, 1)),
                    "OBR" if collected.is_none() => collected = date_of(s.field(7)),
                    "OBX" => emit(vec![
                        collected.clone(),
                        text_of(s.component(3, 1)),
                        text_of(s.component(3, 2)),
                        text_of(s.component(3, 3)),
                        text_of(s.field(2)),
                        value_of(s, ValueKind::Number),
                        value_of(s, ValueKind::Code),
                        value_of(s, ValueKind::Text),
                        text_of(s.component(6, 1)),
                        text_of(s.field(7)),
                        text_of(s.field(8)),
                        date_of(s.field(14)),
                    ])?,
                    _ => {}
                }
            }
        }
        other => unreachable!("table `{other}` is listed in TABLES"),
    }
    Ok(parsed)
}

/// The patient ID a storage path names (`…/<ID[0:3]>/<ID[3:6]>/<ID>/<date>/<type>/<file>`), if
/// the path has that shape.
pub fn path_patient_id(path: &std::path::Path) -> Option<String> {
    let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let n = parts.len();
    (n >= 6).then(|| parts[n - 4].clone())
}

/// The data type folder of a storage path (`ADT-00`, `PPR-01`…), if the path has that shape.
pub fn path_data_type(path: &std::path::Path) -> Option<String> {
    let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let n = parts.len();
    (n >= 2).then(|| parts[n - 2].clone())
}

/// Adds one message to the counts.
pub fn count(parsed: &Parsed, data_type: Option<&str>, stats: &mut NationalStats) {
    let kind = match data_type {
        Some(t) => format!("{} ({t})", parsed.message_type),
        None => parsed.message_type.clone(),
    };
    NationalStats::count(&mut stats.records, &kind);
    NationalStats::count(&mut stats.versions, &format!("HL7 {}", parsed.version));
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn message(kind: &str, body: &str) -> String {
        format!(
            "MSH|^~\\&|HIS|2018222610|SSMIX2|2018222610|20250926123000||{kind}|MSG0001|P|2.5||||||~ISO IR87||ISO 2022-1994\rPID|0001||05243027^^^^PI||関^詩^^^^^L^I~セキ^ウタ^^^^^L^P||19540820|F|||^^長野県長野市西町2-2-18^^380-0801^JPN^H||026-232-6483^PRN^PH\r{body}"
        )
    }

    type Rows = Vec<Vec<Option<String>>>;

    fn rows(bytes: &[u8], table: &str) -> Result<(Rows, Parsed), String> {
        let table = TABLES.iter().find(|t| t.name == table).unwrap();
        let mut out = Vec::new();
        let parsed = parse_message(bytes, 3, table, None, |row| {
            assert_eq!(row.cells.len(), table.fields.len());
            assert!(row.file.is_none(), "paths hold patient IDs");
            out.push(row.cells.iter().map(|c| c.map(str::to_string)).collect());
            Ok::<_, ()>(())
        })
        .map_err(|e| match e {
            MessageError::Malformed { at, message } => format!("{at}: {message}"),
            MessageError::Sink(()) => "sink".into(),
        })?;
        Ok((out, parsed))
    }

    fn get(row: &[Option<String>], table: &str, header: &str) -> Option<String> {
        let table = TABLES.iter().find(|t| t.name == table).unwrap();
        row[table.fields.iter().position(|f| f.header == header).unwrap()].clone()
    }

    fn jis(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    }

    #[test]
    fn diagnoses_with_patient_fields_from_iso_2022_jp() {
        let text = message(
            "PPR^ZD1^PPR_ZD1",
            "PV1|0001|O||||||||01^内科^99Z01\rPRB|AD|20250926|J06.9^急性上気道感染症^I10^20060123^急性上気道炎^MDCDX2|1|||20250926|||||||||20250920\rNTE|1||症状安定。\\F\\処方継続。\rPRB|AD|20250926|8842587^本態性高血圧症^MDCDX2|2\r",
        );
        let bytes = jis(&text);
        assert!(bytes.contains(&0x1b), "written as ISO-2022-JP");
        let (rows, parsed) = rows(&bytes, "diagnoses").unwrap();
        assert_eq!(parsed.message_type, "PPR^ZD1");
        assert_eq!(rows.len(), 2);
        let g = |r: usize, h| get(&rows[r], "diagnoses", h);
        assert_eq!(g(0, "医療機関コード").as_deref(), Some("2018222610"));
        assert_eq!(g(0, "患者ID").as_deref(), Some("05243027"));
        assert_eq!(g(0, "氏名").as_deref(), Some("関\u{3000}詩"));
        assert_eq!(g(0, "カナ氏名").as_deref(), Some("セキ\u{3000}ウタ"));
        assert_eq!(g(0, "生年月日").as_deref(), Some("19540820"));
        assert_eq!(g(0, "性別").as_deref(), Some("F"));
        assert_eq!(g(0, "郵便番号").as_deref(), Some("380-0801"));
        assert_eq!(g(0, "住所").as_deref(), Some("長野県長野市西町2-2-18"));
        assert_eq!(g(0, "電話番号").as_deref(), Some("026-232-6483"));
        assert_eq!(g(0, "受診日").as_deref(), Some("20250926"));
        assert_eq!(g(0, "診療科").as_deref(), Some("内科"));
        assert_eq!(g(0, "傷病名コード").as_deref(), Some("J06.9"));
        assert_eq!(g(0, "標準病名コード").as_deref(), Some("20060123"));
        assert_eq!(g(0, "発症日").as_deref(), Some("20250920"));
        assert_eq!(g(0, "記事").as_deref(), Some("症状安定。|処方継続。"), "HL7 escapes undone");
        assert_eq!(g(1, "傷病名コード"), None, "no ICD-10 code given");
        assert_eq!(g(1, "標準病名コード").as_deref(), Some("8842587"));
        assert_eq!(g(1, "記事"), None, "the NTE belongs to the first PRB");
        // The same message is nothing for other tables.
        assert!(rows_of(&bytes, "lab-results").is_empty());
    }

    fn rows_of(bytes: &[u8], table: &str) -> Rows {
        rows(bytes, table).unwrap().0
    }

    #[test]
    fn an_address_written_whole_in_component_8_is_read() {
        // As in the JAHIS samples: components 1–4 empty, the whole address in component 8.
        let text = message("ADT^A08^ADT_A01", "PV1|0001|O\r")
            .replace("^^長野県長野市西町2-2-18^^380-0801^JPN^H", "^^^^380-0801^JPN^H^長野県長野市西町2-2-18");
        let rows = rows_of(&jis(&text), "patients");
        assert_eq!(get(&rows[0], "patients", "住所").as_deref(), Some("長野県長野市西町2-2-18"));
        assert_eq!(get(&rows[0], "patients", "郵便番号").as_deref(), Some("380-0801"));
        // Components 1–4 win when present.
        let rows = rows_of(&jis(&message("ADT^A08^ADT_A01", "PV1|0001|O\r")), "patients");
        assert_eq!(get(&rows[0], "patients", "住所").as_deref(), Some("長野県長野市西町2-2-18"));
    }

    #[test]
    fn prescriptions_lab_results_visits_patients() {
        let rde = message(
            "RDE^O11^RDE_O11",
            "PV1|0001|O||||||||01^内科\rORC|NW|12345678901234|||||||20250926100000\rRXE|1^TID&毎食後&JAMISDP01|620004402^アセトアミノフェン錠２００ｍｇ^HOT|2||TAB^錠^MR9P|||||42|TAB^錠^MR9P\r",
        );
        let rows = rows_of(&jis(&rde), "prescriptions");
        assert_eq!(rows.len(), 1);
        assert_eq!(get(&rows[0], "prescriptions", "医薬品コード").as_deref(), Some("620004402"));
        assert_eq!(get(&rows[0], "prescriptions", "処方日").as_deref(), Some("20250926"));
        assert_eq!(get(&rows[0], "prescriptions", "総量").as_deref(), Some("42"));

        let oul = message(
            "OUL^R22^OUL_R22",
            "SPM|1|||SER^血清^JC10|||||||||||||20250925083000\rOBR|1||||||20250925083000\rOBX|1|NM|3B035000002327201^AST^JC10||22|U/L^U/L^ISO+|10-40|N|||F|||20250925\rOBX|2|NM|3B045000002327201^ALT^JC10||55|U/L^U/L^ISO+|5-45|H|||F|||20250925\r",
        );
        let rows = rows_of(&jis(&oul), "lab-results");
        assert_eq!(rows.len(), 2);
        assert_eq!(get(&rows[1], "lab-results", "異常フラグ").as_deref(), Some("H"));
        assert_eq!(get(&rows[1], "lab-results", "検体採取日").as_deref(), Some("20250925"));
        assert_eq!(get(&rows[0], "lab-results", "検査項目コード").as_deref(), Some("3B035000002327201"));
        assert_eq!(get(&rows[0], "lab-results", "数値").as_deref(), Some("22"));
        assert_eq!(get(&rows[0], "lab-results", "文字値"), None);
        // A written comment and a coded result go to their own columns, never beside numbers.
        let text = message(
            "OUL^R22^OUL_R22",
            "OBR|1||||||20250925083000\rOBX|1|TX|9N511000000000049^医師の判断^JC10||特記すべき所見なし。||||||F\rOBX|2|CWE|1A020000000190111^尿糖^JC10||3^+^JJ1017-32||||||F\r",
        );
        let rows = rows_of(&jis(&text), "lab-results");
        assert_eq!(get(&rows[0], "lab-results", "文字値").as_deref(), Some("特記すべき所見なし。"));
        assert_eq!(get(&rows[0], "lab-results", "数値"), None);
        assert_eq!(get(&rows[1], "lab-results", "コード値").as_deref(), Some("3"));
        assert_eq!(get(&rows[1], "lab-results", "文字値"), None);

        let adt = message("ADT^A04^ADT_A01", "EVN||20250926090000\rPV1|0001|O||||||||02^外科\r");
        let rows = rows_of(&jis(&adt), "visits");
        assert_eq!(get(&rows[0], "visits", "受診日").as_deref(), Some("20250926"), "EVN-2 when PV1-44 is empty");
        assert_eq!(get(&rows[0], "visits", "診療科").as_deref(), Some("外科"));

        let basic = message("ADT^A08^ADT_A01", "");
        assert_eq!(rows_of(&jis(&basic), "patients").len(), 1);
        assert!(rows_of(&jis(&basic), "visits").is_empty());
    }

    #[test]
    fn broken_messages_are_named_by_segment_never_by_content() {
        let e = rows(b"not hl7 at all", "diagnoses").unwrap_err();
        assert!(e.contains("MSH"), "{e}");
        let no_pid = "MSH|^~\\&|HIS|1|X|1|2025||PPR^ZD1|1|P|2.5\rPRB|1|AD|20250926|J06.9^x^I10\r";
        let e = rows(no_pid.as_bytes(), "diagnoses").unwrap_err();
        assert!(e.contains("PID"), "{e}");
        // A truncated ISO-2022-JP escape sequence.
        let mut bytes = jis(&message("PPR^ZD1", "PRB|1|AD|20250926|J06.9^急性^I10\r"));
        let at = bytes.iter().position(|&b| b == 0x1b).unwrap();
        bytes.truncate(at + 2);
        bytes.extend_from_slice(&[0x1b, 0x24, 0x42, 0xff, 0xff]);
        let e = rows(&bytes, "diagnoses").unwrap_err();
        assert!(e.contains("ISO-2022-JP") && !e.contains("05243027"), "{e}");
    }

    #[test]
    fn paths_give_patient_id_and_data_type() {
        let p = std::path::Path::new("/s/052/430/05243027/20250926/PPR-01/05243027_20250926_PPR-01_x");
        assert_eq!(path_patient_id(p).as_deref(), Some("05243027"));
        assert_eq!(path_data_type(p).as_deref(), Some("PPR-01"));
        let text = message("PPR^ZD1", "");
        let diagnoses = TABLES.iter().find(|t| t.name == "diagnoses").unwrap();
        let matches =
            |id| parse_message(text.as_bytes(), 1, diagnoses, Some(id), |_| Ok::<_, ()>(())).unwrap().matches_path;
        assert_eq!(matches("05243027"), Some(true));
        assert_eq!(matches("05243028"), Some(false));
    }
}
