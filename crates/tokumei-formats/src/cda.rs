//! 特定健診 XML (HL7 CDA R2, `hc08`): one checkup result per document, usually many documents in
//! an exchange ZIP with an index file. Reads the patient identifiers (保険者番号, 記号, 番号, 枝番 by
//! their OIDs), kana name, birth date, sex, postal code, exam date, the checkup facility and every
//! observation by its JLAC10 code.
//!
//! Two tables: `checkups`, one row per document and one column per known item (with its unit in
//! a `(単位)` column), named like the CSV exports' headers; and `observations`, one row per
//! observation in long format — every observation, including codes no column takes, so nothing
//! is dropped. When an item has several codes (血圧 1回目 / 2回目 / その他, 空腹時 / 随時, measuring
//! methods), the column takes the first present in the order listed in `docs/formats.md`; the
//! others stay in `observations`. HbA1c in JDS units (3D045…) is not put in the NGSP column.
//!
//! A document that is not well-formed XML, or whose bytes do not match its declared encoding, is
//! quarantined whole (one row), named by file and document number, never by its content. XML
//! files whose root is not `ClinicalDocument` (the index, aggregate and settlement files of an
//! exchange package) are counted as skipped.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};

use crate::{Field, NationalStats, RowRef, Table, field};

/// OIDs of the identifiers in `recordTarget/patientRole/id` and elsewhere.
pub mod oid {
    /// 保険者番号.
    pub const INSURER: &str = "1.2.392.200119.6.101";
    /// 健診機関 (医療機関コード).
    pub const FACILITY: &str = "1.2.392.200119.6.102";
    /// 被保険者証 記号.
    pub const SYMBOL: &str = "1.2.392.200119.6.204";
    /// 被保険者証 番号.
    pub const NUMBER: &str = "1.2.392.200119.6.205";
    /// 枝番.
    pub const BRANCH: &str = "1.2.392.200119.6.211";
    /// 受診券整理番号 (followed by `.<保険者番号>`).
    pub const VOUCHER: &str = "1.2.392.200119.6.209";
    /// JLAC10 item codes.
    pub const JLAC10: &str = "1.2.392.200119.6.1005";
    /// 報告区分.
    pub const REPORT_KIND: &str = "1.2.392.200119.6.1001";
}

const CONTEXT: [Field; 13] = [
    field("保険者番号", "recordTarget/patientRole/id[@root=…6.101]/@extension"),
    field("被保険者証記号", "recordTarget/patientRole/id[@root=…6.204]/@extension"),
    field("被保険者証番号", "recordTarget/patientRole/id[@root=…6.205]/@extension"),
    field("枝番", "recordTarget/patientRole/id[@root=…6.211]/@extension"),
    field("受診券整理番号", "participant//id[@root=…6.209.*]/@extension"),
    field("カナ氏名", "recordTarget/patientRole/patient/name"),
    field("生年月日", "recordTarget/patientRole/patient/birthTime/@value"),
    field("性別", "recordTarget/patientRole/patient/administrativeGenderCode/@code"),
    field("郵便番号", "recordTarget/patientRole/addr/postalCode"),
    field("住所", "recordTarget/patientRole/addr/streetAddressLine"),
    field("受診日", "documentationOf/serviceEvent/effectiveTime"),
    field("健診機関コード", "author//id[@root=…6.102]/@extension"),
    field("報告区分", "ClinicalDocument/code/@code"),
];

/// A checkup item: its column, and the JLAC10 codes that fill it, in order of preference.
struct Item {
    header: &'static str,
    unit_header: &'static str,
    origin: &'static str,
    codes: &'static [&'static str],
}

macro_rules! items {
    ($($header:literal [$($code:literal),+]),* $(,)?) => {
        &[$(Item {
            header: $header,
            unit_header: concat!($header, "(単位)"),
            origin: concat!("observation[code=", $($code, " "),+, "]/value"),
            codes: &[$($code),+],
        }),*]
    };
}

/// The known items (JLAC10 codes as in the MHLW 特定健診 XML item list; see `docs/formats.md`).
const ITEMS: &[Item] = items![
    "身長" ["9N001000000000001"],
    "体重" ["9N006000000000001"],
    "BMI" ["9N011000000000001"],
    "腹囲" ["9N016160100000001", "9N016160200000001", "9N016160300000001"],
    "収縮期血圧" ["9A755000000000001", "9A752000000000001", "9A751000000000001"],
    "拡張期血圧" ["9A765000000000001", "9A762000000000001", "9A761000000000001"],
    "中性脂肪" ["3F015000002327101", "3F015000002327201", "3F015000002399901"],
    "随時中性脂肪" ["3F015129902327101", "3F015129902327201", "3F015129902399901"],
    "HDLコレステロール" ["3F070000002327101", "3F070000002327201", "3F070000002399901"],
    "LDLコレステロール" ["3F077000002327101", "3F077000002327201", "3F077000002399901"],
    "AST" ["3B035000002327201", "3B035000002399901"],
    "ALT" ["3B045000002327201", "3B045000002399901"],
    "γ-GT" ["3B090000002327101", "3B090000002399901"],
    "空腹時血糖" ["3D010000001926101", "3D010000002227101", "3D010000001927201", "3D010000001999901"],
    "随時血糖" ["3D010129901926101", "3D010129902227101", "3D010129901927201", "3D010129901999901"],
    "HbA1c" ["3D046000001906202", "3D046000001920402", "3D046000001927102", "3D046000001999902"],
    "尿糖" ["1A020000000190111", "1A020000000191111"],
    "尿蛋白" ["1A010000000190111", "1A010000000191111"],
    "血色素量" ["2A030000001930101"],
    "赤血球数" ["2A020000001930101"],
    "メタボリックシンドローム判定" ["9N501000000000011"],
    "保健指導レベル" ["9N506000000000011"],
    "服薬1(血圧)" ["9N701000000000011"],
    "服薬2(血糖)" ["9N706000000000011"],
    "服薬3(脂質)" ["9N711000000000011"],
    "既往歴1(脳血管)" ["9N716000000000011"],
    "既往歴2(心血管)" ["9N721000000000011"],
    "既往歴3(腎不全・人工透析)" ["9N726000000000011"],
    "貧血" ["9N731000000000011"],
    "喫煙" ["9N736000000000011"],
];

/// Qualitative urine results (CO, code system `1.2.392.200119.6.2101`): code → the spelling the
/// CSV exports use. Negative is U+FF0D (－), as a cp932 export's minus sign decodes.
const URINE: [(&str, &str); 5] = [("1", "\u{ff0d}"), ("2", "±"), ("3", "+"), ("4", "2+"), ("5", "3+")];

const fn item_fields() -> [Field; 2 * ITEMS.len()] {
    let mut out = [field("", ""); 2 * ITEMS.len()];
    let mut j = 0;
    while j < ITEMS.len() {
        out[2 * j] = field(ITEMS[j].header, ITEMS[j].origin);
        out[2 * j + 1] = field(ITEMS[j].unit_header, "the same observation's value/@unit");
        j += 1;
    }
    out
}

const ITEM_FIELDS: [Field; 2 * ITEMS.len()] = item_fields();

const CHECKUP_FIELDS: [Field; CONTEXT.len() + 2 * ITEMS.len()] = crate::join(&CONTEXT, &ITEM_FIELDS);

const OBSERVATION_DETAIL: [Field; 9] = [
    field("JLAC10コード", "observation/code/@code"),
    field("項目名", "observation/code/@displayName"),
    field("値の型", "observation/value/@xsi:type"),
    field("数値", "observation/value/@value of a number (PQ, INT, REAL)"),
    field("コード値", "observation/value/@code of a code (CO, CD, CV, CE)"),
    field("文字値", "observation/value text or @value of anything else (ST: 医師の判断 and other free text)"),
    field("単位", "observation/value/@unit"),
    field("値の表示名", "observation/value/@displayName"),
    field("checkups列", "the checkups column this code fills (none: only in this table)"),
];

const OBSERVATION_FIELDS: [Field; CONTEXT.len() + OBSERVATION_DETAIL.len()] =
    crate::join(&CONTEXT, &OBSERVATION_DETAIL);

/// The tables 特定健診 XML offers.
pub const TABLES: &[Table] = &[
    Table { name: "checkups", row: "document (checkup)", fields: &CHECKUP_FIELDS },
    Table { name: "observations", row: "observation of a document", fields: &OBSERVATION_FIELDS },
];

/// Whether `path` is a file the CDA reader takes (`*.xml` or `*.zip`, any case).
pub fn is_cda_input(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml") || e.eq_ignore_ascii_case("zip"))
}

/// Why a document could not be read.
#[derive(Debug)]
pub enum DocumentError<E> {
    /// Not well-formed XML, or bytes that do not match the declared encoding: the document is
    /// quarantined whole.
    Malformed {
        /// Where (an element path, or a byte offset).
        at: String,
        /// What was expected.
        message: &'static str,
    },
    /// The row handler failed.
    Sink(E),
}

#[derive(Debug, Default)]
struct Observation {
    code: Option<String>,
    display: Option<String>,
    value_type: Option<String>,
    value: Option<String>,
    unit: Option<String>,
    value_code: Option<String>,
    value_display: Option<String>,
    text: String,
}

/// What kind of value an observation holds, for the typed columns of `observations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Number,
    Code,
    Text,
}

impl Observation {
    /// The value's kind: by `xsi:type`, else a number when the value reads as one.
    fn kind(&self) -> ValueKind {
        match self.value_type.as_deref() {
            Some("CO" | "CD" | "CV" | "CE") => ValueKind::Code,
            Some("PQ" | "INT" | "REAL") => ValueKind::Number,
            Some(_) => ValueKind::Text,
            None if self.value.as_deref().is_some_and(|v| v.trim().parse::<f64>().is_ok()) => ValueKind::Number,
            None => ValueKind::Text,
        }
    }

    /// The value as a cell: PQ/INT/REAL `@value`; CO `@code` (urine results spelled as in the CSV
    /// exports); ST and others the text.
    fn cell(&self) -> Option<Cow<'_, str>> {
        match self.kind() {
            ValueKind::Code => {
                let code = self.value_code.as_deref()?;
                let urine = self.code.as_deref().is_some_and(|c| c.starts_with("1A0"));
                match URINE.iter().find(|(k, _)| *k == code) {
                    Some((_, spelled)) if urine => Some(Cow::Borrowed(spelled)),
                    _ => Some(Cow::Borrowed(code)),
                }
            }
            ValueKind::Number | ValueKind::Text => match &self.value {
                Some(v) => Some(Cow::Borrowed(v)),
                None if !self.text.trim().is_empty() => Some(Cow::Borrowed(self.text.trim())),
                None => None,
            },
        }
    }
}

#[derive(Debug, Default)]
struct Document {
    root: Option<String>,
    schema: Option<String>,
    report_kind: Option<String>,
    patient_ids: Vec<(String, String)>,
    voucher: Option<String>,
    facility: Option<String>,
    postal: String,
    street: String,
    names: Vec<(Option<String>, String)>,
    sex: Option<String>,
    birth: Option<String>,
    exam_date: Option<String>,
    observations: Vec<Observation>,
}

impl Document {
    fn patient_id(&self, root: &str) -> Option<&str> {
        self.patient_ids.iter().find(|(r, _)| r == root).map(|(_, e)| e.as_str())
    }

    /// The kana name (`use="SYL"`), else the first name given.
    fn kana(&self) -> Option<&str> {
        self.names
            .iter()
            .find(|(u, _)| u.as_deref() == Some("SYL"))
            .or_else(|| self.names.first())
            .map(|(_, n)| n.as_str())
            .filter(|n| !n.is_empty())
    }

    fn context(&self) -> [Option<&str>; CONTEXT.len()] {
        fn text(s: &str) -> Option<&str> {
            Some(s.trim()).filter(|t| !t.is_empty())
        }
        [
            self.patient_id(oid::INSURER),
            self.patient_id(oid::SYMBOL),
            self.patient_id(oid::NUMBER),
            self.patient_id(oid::BRANCH),
            self.voucher.as_deref(),
            self.kana(),
            self.birth.as_deref(),
            self.sex.as_deref(),
            text(&self.postal),
            text(&self.street),
            self.exam_date.as_deref(),
            self.facility.as_deref(),
            self.report_kind.as_deref(),
        ]
    }
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_string()))
}

fn ends_with(stack: &[String], suffix: &[&str]) -> bool {
    stack.len() >= suffix.len() && stack[stack.len() - suffix.len()..].iter().zip(suffix).all(|(a, b)| a == b)
}

/// The document's text, decoded as its XML declaration says (UTF-8 unless it names Shift_JIS).
fn decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let declared = head.find("encoding=").map(|i| head[i + 9..].trim_start_matches(['"', '\'']).to_string());
    let sjis = declared.is_some_and(|d| {
        ["shift_jis", "shift-jis", "windows-31j", "cp932", "sjis", "x-sjis"].iter().any(|n| d.starts_with(n))
    });
    if sjis {
        encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
    } else {
        std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
    }
}

fn parse(text: &str) -> Result<Document, (String, &'static str)> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut doc = Document::default();
    let mut stack: Vec<String> = Vec::new();
    let mut open_obs: Vec<Observation> = Vec::new();
    let mut name_parts: Option<(Option<String>, Vec<String>)> = None;
    let malformed = |stack: &[String], position: u64| {
        let at = if stack.is_empty() {
            format!("byte {position}")
        } else {
            format!("/{} (byte {position})", stack.join("/"))
        };
        (at, "well-formed XML")
    };
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(_) => return Err(malformed(&stack, reader.error_position())),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    doc.root = Some(name.clone());
                    doc.schema = attr(e, b"schemaLocation").and_then(|s| {
                        s.split_whitespace().last().map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
                    });
                }
                stack.push(name);
                start(e, &stack, &mut doc, &mut open_obs, &mut name_parts);
                if empty {
                    end(&stack, &mut doc, &mut open_obs, &mut name_parts);
                    stack.pop();
                }
            }
            Event::End(_) => {
                end(&stack, &mut doc, &mut open_obs, &mut name_parts);
                stack.pop();
            }
            Event::Text(t) => {
                let Ok(t) = t.decode() else { return Err(malformed(&stack, reader.buffer_position())) };
                text_in(&t, &stack, &mut doc, &mut open_obs, &mut name_parts);
            }
            Event::CData(t) => {
                let Ok(t) = t.decode() else { return Err(malformed(&stack, reader.buffer_position())) };
                text_in(&t, &stack, &mut doc, &mut open_obs, &mut name_parts);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match r.decode().as_deref() {
                        Ok("amp") => "&".into(),
                        Ok("lt") => "<".into(),
                        Ok("gt") => ">".into(),
                        Ok("quot") => "\"".into(),
                        Ok("apos") => "'".into(),
                        _ => {
                            return Err((
                                malformed(&stack, reader.buffer_position()).0,
                                "only XML's predefined entities",
                            ));
                        }
                    },
                    Err(_) => return Err(malformed(&stack, reader.buffer_position())),
                };
                text_in(&resolved, &stack, &mut doc, &mut open_obs, &mut name_parts);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() || doc.root.is_none() {
        return Err(malformed(&stack, reader.buffer_position()));
    }
    Ok(doc)
}

fn start(
    e: &BytesStart<'_>,
    stack: &[String],
    doc: &mut Document,
    open_obs: &mut Vec<Observation>,
    name_parts: &mut Option<(Option<String>, Vec<String>)>,
) {
    let here = stack.last().map(String::as_str).unwrap_or("");
    let in_patient_role = stack.iter().any(|s| s == "recordTarget");
    match here {
        "id" => {
            let (Some(root), extension) = (attr(e, b"root"), attr(e, b"extension")) else { return };
            let extension = extension.unwrap_or_default();
            if ends_with(stack, &["recordTarget", "patientRole", "id"]) {
                doc.patient_ids.push((root, extension));
            } else if root.starts_with(oid::VOUCHER) && doc.voucher.is_none() {
                doc.voucher = Some(extension).filter(|x| !x.is_empty());
            } else if root == oid::FACILITY && !in_patient_role && doc.facility.is_none() {
                doc.facility = Some(extension).filter(|x| !x.is_empty());
            }
        }
        "code" if stack.len() == 2 => doc.report_kind = attr(e, b"code"),
        "effectiveTime" | "low" if stack.iter().any(|s| s == "serviceEvent") && doc.exam_date.is_none() => {
            doc.exam_date = attr(e, b"value");
        }
        "name" if ends_with(stack, &["patient", "name"]) => *name_parts = Some((attr(e, b"use"), Vec::new())),
        "administrativeGenderCode" if ends_with(stack, &["patient", "administrativeGenderCode"]) => {
            doc.sex = attr(e, b"code");
        }
        "birthTime" if ends_with(stack, &["patient", "birthTime"]) => doc.birth = attr(e, b"value"),
        "observation" => open_obs.push(Observation::default()),
        "code" if ends_with(stack, &["observation", "code"]) => {
            if let Some(obs) = open_obs.last_mut() {
                obs.code = attr(e, b"code");
                obs.display = attr(e, b"displayName");
            }
        }
        "value" if ends_with(stack, &["observation", "value"]) => {
            if let Some(obs) = open_obs.last_mut() {
                obs.value_type = attr(e, b"type");
                obs.value = attr(e, b"value");
                obs.unit = attr(e, b"unit");
                obs.value_code = attr(e, b"code");
                obs.value_display = attr(e, b"displayName");
            }
        }
        _ => {}
    }
}

fn end(
    stack: &[String],
    doc: &mut Document,
    open_obs: &mut Vec<Observation>,
    name_parts: &mut Option<(Option<String>, Vec<String>)>,
) {
    match stack.last().map(String::as_str) {
        Some("observation") => {
            if let Some(obs) = open_obs.pop() {
                doc.observations.push(obs);
            }
        }
        Some("name") if ends_with(stack, &["patient", "name"]) => {
            if let Some((use_, parts)) = name_parts.take() {
                doc.names.push((use_, parts.join("\u{3000}")));
            }
        }
        _ => {}
    }
}

fn text_in(
    text: &str,
    stack: &[String],
    doc: &mut Document,
    open_obs: &mut [Observation],
    name_parts: &mut Option<(Option<String>, Vec<String>)>,
) {
    if ends_with(stack, &["patientRole", "addr", "postalCode"]) {
        doc.postal.push_str(text);
    } else if ends_with(stack, &["patientRole", "addr", "streetAddressLine"]) {
        doc.street.push_str(text);
    } else if let Some((_, parts)) = name_parts.as_mut() {
        // family and given, or the whole name as the element's text.
        let part = text.trim();
        if !part.is_empty() {
            parts.push(part.to_string());
        }
    } else if ends_with(stack, &["observation", "value"])
        && let Some(obs) = open_obs.last_mut()
    {
        obs.text.push_str(text);
    }
}

/// What one document was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A CDA document: rows were handed on.
    Document {
        /// 報告区分 (10 特定健診, 2x 保健指導…).
        report_kind: Option<String>,
        /// The XSD named in `xsi:schemaLocation` (e.g. `hc08_V08.xsd`).
        schema: Option<String>,
        /// JLAC10 codes no checkups column takes.
        unknown_codes: Vec<String>,
    },
    /// Another XML file of the package (index, aggregate, settlement), by its root element.
    Other(String),
}

/// Parses one XML document and hands its rows of `table` to `on_row`. `file` names it and
/// `number` is its ordinal in the input, used as the record of every cell.
pub fn parse_document<E>(
    bytes: &[u8],
    file: &str,
    number: u64,
    table: &Table,
    mut on_row: impl FnMut(RowRef<'_>) -> Result<(), E>,
) -> Result<Parsed, DocumentError<E>> {
    let Some(text) = decode(bytes) else {
        return Err(DocumentError::Malformed {
            at: "the XML declaration".into(),
            message: "bytes in the declared encoding (UTF-8 unless it says Shift_JIS)",
        });
    };
    let doc = parse(&text).map_err(|(at, message)| DocumentError::Malformed { at, message })?;
    let root = doc.root.clone().unwrap_or_default();
    if root != "ClinicalDocument" {
        return Ok(Parsed::Other(root));
    }
    let context = doc.context();
    let unknown_codes: Vec<String> = doc
        .observations
        .iter()
        .filter_map(|o| o.code.as_deref())
        .filter(|c| !ITEMS.iter().any(|i| i.codes.contains(c)))
        .map(str::to_string)
        .collect();
    let records = vec![number; table.fields.len()];
    let emit = |cells: &[Option<&str>], on_row: &mut dyn FnMut(RowRef<'_>) -> Result<(), E>| {
        on_row(RowRef { file: Some(file), cells, records: &records }).map_err(DocumentError::Sink)
    };
    match table.name {
        "checkups" => {
            let mut values: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(2 * ITEMS.len());
            for item in ITEMS {
                let obs = item
                    .codes
                    .iter()
                    .find_map(|code| doc.observations.iter().find(|o| o.code.as_deref() == Some(code)));
                values.push(obs.and_then(Observation::cell));
                values.push(obs.and_then(|o| o.unit.as_deref()).map(Cow::Borrowed));
            }
            let mut cells: Vec<Option<&str>> = context.to_vec();
            cells.extend(values.iter().map(|v| v.as_deref()));
            emit(&cells, &mut on_row)?;
        }
        "observations" => {
            for obs in &doc.observations {
                let value = obs.cell();
                let column =
                    obs.code.as_deref().and_then(|c| ITEMS.iter().find(|i| i.codes.contains(&c))).map(|i| i.header);
                let mut cells: Vec<Option<&str>> = context.to_vec();
                let of = |kind: ValueKind| value.as_deref().filter(|_| obs.kind() == kind);
                cells.extend([
                    obs.code.as_deref(),
                    obs.display.as_deref(),
                    obs.value_type.as_deref(),
                    of(ValueKind::Number),
                    of(ValueKind::Code),
                    of(ValueKind::Text),
                    obs.unit.as_deref(),
                    obs.value_display.as_deref(),
                    column,
                ]);
                emit(&cells, &mut on_row)?;
            }
        }
        other => unreachable!("table `{other}` is listed in TABLES"),
    }
    Ok(Parsed::Document { report_kind: doc.report_kind.clone(), schema: doc.schema.clone(), unknown_codes })
}

/// Adds what a parsed document was to `stats`.
pub fn count(parsed: &Parsed, stats: &mut NationalStats) {
    match parsed {
        Parsed::Document { report_kind, schema, unknown_codes } => {
            let kind = format!("ClinicalDocument (報告区分 {})", report_kind.as_deref().unwrap_or("unstated"));
            NationalStats::count(&mut stats.records, &kind);
            NationalStats::count(&mut stats.versions, schema.as_deref().unwrap_or("unstated"));
            for code in unknown_codes {
                NationalStats::count(&mut stats.unknown, &format!("JLAC10 {code}"));
            }
        }
        Parsed::Other(root) => NationalStats::count(&mut stats.skipped, root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:hl7-org:v3 ../XSD/hc08_V08.xsd">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <code code="10" codeSystem="1.2.392.200119.6.1001"/>
  <effectiveTime value="20240901"/>
  <recordTarget><patientRole>
    <id root="1.2.392.200119.6.101" extension="01206861"/>
    <id root="1.2.392.200119.6.204" extension="ｾｷ&amp;ｳﾀ"/>
    <id root="1.2.392.200119.6.205" extension="１４３５４４６８"/>
    <id root="1.2.392.200119.6.211" extension="00"/>
    <addr><postalCode>380-4084</postalCode></addr>
    <patient>
      <name use="IDE"><family>関</family><given>詩</given></name>
      <name use="SYL"><family>セキ</family><given>ウタ</given></name>
      <administrativeGenderCode code="2" codeSystem="1.2.392.200119.6.1104"/>
      <birthTime value="19540820"/>
    </patient>
  </patientRole></recordTarget>
  <author><assignedAuthor><representedOrganization><id root="1.2.392.200119.6.102" extension="2018222610"/></representedOrganization></assignedAuthor></author>
  <participant typeCode="HLD"><associatedEntity><id root="1.2.392.200119.6.209.01206861" extension="24000001234"/></associatedEntity></participant>
  <documentationOf><serviceEvent><effectiveTime value="20230824"/></serviceEvent></documentationOf>
  <component><structuredBody><component><section>
    <entry><observation classCode="OBS" moodCode="EVN"><code code="9N001000000000001" codeSystem="1.2.392.200119.6.1005"/><value xsi:type="PQ" value="148.5" unit="cm"/></observation></entry>
    <entry><organizer classCode="BATTERY" moodCode="EVN"><component>
      <observation classCode="OBS" moodCode="EVN"><code code="9A751000000000001"/><value xsi:type="PQ" value="130" unit="mmHg"/></observation></component><component>
      <observation classCode="OBS" moodCode="EVN"><code code="9A755000000000001"/><value xsi:type="PQ" value="126" unit="mmHg"/></observation></component>
    </organizer></entry>
    <entry><observation><code code="1A020000000190111"/><value xsi:type="CO" code="4" codeSystem="1.2.392.200119.6.2101"/></observation></entry>
    <entry><observation><code code="3D045000001906202"/><value xsi:type="PQ" value="5.1" unit="%"/></observation></entry>
    <entry><observation><code code="9N056160400000049"/><value xsi:type="ST">特記事項なし</value></observation></entry>
  </section></component></structuredBody></component>
</ClinicalDocument>"#;

    type Rows = Vec<Vec<Option<String>>>;

    fn rows(bytes: &[u8], table: &str) -> Result<(Rows, Parsed), String> {
        let table = TABLES.iter().find(|t| t.name == table).unwrap();
        let mut out = Vec::new();
        let parsed = parse_document(bytes, "doc.xml", 7, table, |row| {
            assert!(row.records.iter().all(|&r| r == 7));
            out.push(row.cells.iter().map(|c| c.map(str::to_string)).collect());
            Ok::<_, ()>(())
        })
        .map_err(|e| match e {
            DocumentError::Malformed { at, message } => format!("{at}: {message}"),
            DocumentError::Sink(()) => "sink".into(),
        })?;
        Ok((out, parsed))
    }

    fn get(row: &[Option<String>], table: &str, header: &str) -> Option<String> {
        let table = TABLES.iter().find(|t| t.name == table).unwrap();
        row[table.fields.iter().position(|f| f.header == header).unwrap()].clone()
    }

    #[test]
    fn a_checkup_document_gives_one_row_with_its_items() {
        let (rows, parsed) = rows(SAMPLE.as_bytes(), "checkups").unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        let g = |h| get(r, "checkups", h);
        assert_eq!(g("保険者番号").as_deref(), Some("01206861"));
        assert_eq!(g("被保険者証記号").as_deref(), Some("ｾｷ&ｳﾀ"), "entities resolved");
        assert_eq!(g("被保険者証番号").as_deref(), Some("１４３５４４６８"));
        assert_eq!(g("枝番").as_deref(), Some("00"));
        assert_eq!(g("受診券整理番号").as_deref(), Some("24000001234"));
        assert_eq!(g("カナ氏名").as_deref(), Some("セキ\u{3000}ウタ"), "the SYL name, not the kanji one");
        assert_eq!(g("生年月日").as_deref(), Some("19540820"));
        assert_eq!(g("性別").as_deref(), Some("2"));
        assert_eq!(g("郵便番号").as_deref(), Some("380-4084"));
        assert_eq!(g("住所"), None);
        assert_eq!(g("受診日").as_deref(), Some("20230824"));
        assert_eq!(g("健診機関コード").as_deref(), Some("2018222610"));
        assert_eq!(g("報告区分").as_deref(), Some("10"));
        assert_eq!(g("身長").as_deref(), Some("148.5"));
        assert_eq!(g("身長(単位)").as_deref(), Some("cm"));
        assert_eq!(g("収縮期血圧").as_deref(), Some("126"), "その他 (9A755) preferred over 1回目");
        assert_eq!(g("尿糖").as_deref(), Some("2+"));
        assert_eq!(g("HbA1c"), None, "JDS HbA1c is not NGSP");
        let Parsed::Document { unknown_codes, schema, .. } = parsed else { panic!() };
        assert_eq!(unknown_codes, ["3D045000001906202", "9N056160400000049"]);
        assert_eq!(schema.as_deref(), Some("hc08_V08.xsd"));
    }

    #[test]
    fn every_observation_is_in_the_long_table() {
        let (rows, _) = rows(SAMPLE.as_bytes(), "observations").unwrap();
        assert_eq!(rows.len(), 6);
        let codes: Vec<_> = rows.iter().map(|r| get(r, "observations", "JLAC10コード").unwrap()).collect();
        assert!(codes.contains(&"9A751000000000001".to_string()), "nested in an organizer");
        let st = rows.iter().find(|r| get(r, "observations", "値の型").as_deref() == Some("ST")).unwrap();
        // Free text goes to its own column, never beside numbers and codes.
        assert_eq!(get(st, "observations", "文字値").as_deref(), Some("特記事項なし"));
        assert_eq!(get(st, "observations", "数値"), None);
        assert_eq!(get(st, "observations", "checkups列"), None);
        let height = &rows[0];
        assert_eq!(get(height, "observations", "数値").as_deref(), Some("148.5"));
        assert_eq!(get(height, "observations", "文字値"), None);
        let urine = rows.iter().find(|r| get(r, "observations", "値の型").as_deref() == Some("CO")).unwrap();
        assert_eq!(get(urine, "observations", "コード値").as_deref(), Some("2+"));
        assert_eq!(get(urine, "observations", "数値"), None);
        assert_eq!(get(height, "observations", "checkups列").as_deref(), Some("身長"));
        assert_eq!(get(height, "observations", "カナ氏名").as_deref(), Some("セキ\u{3000}ウタ"));
    }

    #[test]
    fn shift_jis_documents_are_read_as_declared() {
        let sjis = SAMPLE.replace("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"");
        let bytes = encoding_rs::SHIFT_JIS.encode(&sjis).0;
        let (read, _) = rows(&bytes, "checkups").unwrap();
        assert_eq!(get(&read[0], "checkups", "カナ氏名").as_deref(), Some("セキ\u{3000}ウタ"));
        // The same bytes declared as UTF-8 are not UTF-8.
        let lying = encoding_rs::SHIFT_JIS.encode(SAMPLE).0;
        assert!(rows(&lying, "checkups").unwrap_err().contains("declared encoding"));
    }

    #[test]
    fn malformed_documents_are_named_by_position_never_by_content() {
        let cut = &SAMPLE[..SAMPLE.find("<birthTime").unwrap() + 5];
        let e = rows(cut.as_bytes(), "checkups").unwrap_err();
        assert!(e.contains("well-formed XML"), "{e}");
        assert!(!e.contains("01206861") && !e.contains("セキ"), "{e}");
        let mismatched =
            SAMPLE.replace("</given></name>\n      <administrative", "</family></name>\n      <administrative");
        assert!(rows(mismatched.as_bytes(), "checkups").is_err());
        assert!(rows(b"", "checkups").is_err());
        assert!(rows("<a>&unknown;</a>".as_bytes(), "checkups").is_err());
    }

    #[test]
    fn other_package_files_are_skipped_by_root() {
        let (rows, parsed) = rows(b"<?xml version=\"1.0\"?><index><file>a.xml</file></index>", "checkups").unwrap();
        assert!(rows.is_empty());
        assert_eq!(parsed, Parsed::Other("index".into()));
    }
}
