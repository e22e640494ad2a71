//! UKE receipt files (レセプト電算処理システム, `RECEIPTC.UKE` / `RECEIPTY.UKE`): Shift_JIS
//! (cp932), CRLF, comma-separated without quoting, one record per line named by its first field.
//!
//! A facility block opens with `IR` (医科) or `YK` (調剤) and closes with `GO`; each `RE` opens a
//! receipt, whose `HO`/`KO`/`SN` records carry the insurance card and whose detail records follow.
//! Every table row carries the receipt's patient fields (name, birth date, card…), as the CSV
//! exports do, so linkage and opt-out work the same. Several facility blocks in one file and a
//! directory of files (read in name order) are both accepted.
//!
//! Field positions follow the 記録条件仕様 layouts (医科 `jiki_i01`, 調剤 `jiki_t01`) as
//! documented in `docs/formats.md`. Records may carry more fields than the layout (a newer
//! specification appends them): those are not read. A record that lacks a field where the layout
//! places an identifier is rejected, as its fields may have shifted. Record types the format
//! defines but a table does not use are counted as skipped; types it does not define (歯科, a newer
//! specification) are counted as unknown and reported.
//!
//! Dates: `GYYMMDD` / `GYYMM` (era code 1 明治 … 5 令和) as written, typed by the usual cell rules;
//! per-day 算定日 flags become one row per day of service (`実施日` = 診療年月 + day, `日別回数` =
//! the flag's count).

use std::io::BufRead;

use std::borrow::Cow;

use crate::{Field, FormatError, NationalStats, ReadError, RowRef, Table, field};

/// The two receipt kinds tokumei reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 医科 (opens with `IR`).
    Medical,
    /// 調剤 (opens with `YK`).
    Dispensing,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Medical => "医科 (IR)",
            Kind::Dispensing => "調剤 (YK)",
        }
    }

    fn defines(self, record: &str) -> bool {
        let types: &[&str] = match self {
            Kind::Medical => &[
                "IR", "RE", "HO", "KO", "SN", "JD", "MF", "SY", "SI", "IY", "TO", "CO", "SJ", "GR", "TI", "TR", "TS",
                "GO", "BU", "SB", "KK", "GA", "HH", "GT", "CD", "TE", "KH", "GK", "NI", "RR", "RC",
            ],
            Kind::Dispensing => {
                &["YK", "RE", "HO", "KO", "SN", "JD", "MF", "SH", "CZ", "IY", "TO", "CO", "TK", "KI", "ST", "GO"]
            }
        };
        types.contains(&record)
    }
}

/// Where a column's value is taken from. One declaration per column — header, origin (for docs
/// and messages) and this — drives the reader, `docs/formats.md` and the synthetic writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// The facility code: 都道府県 + 点数表 + 7-digit code of the IR/YK record (10 digits, the
    /// form used in OIDs and in the CSV exports).
    FacilityCode,
    /// The claim month of the IR/YK record.
    ClaimMonth,
    /// A field of the receipt's first record of this type (the patient columns).
    Rec(&'static str, usize),
    /// Three fields of the RE record joined (prefecture + 点数表 + code of the prescriber).
    ReCode,
    /// A field of the row's own record of this type.
    Field(&'static str, usize),
    /// A month-and-day field of the row's record of this type, completed from the receipt's
    /// month (see `day_in`).
    MonthDay(&'static str, usize),
    /// The day of service: the receipt's month + the number of the 算定日 flag.
    ServiceDate,
    /// The count in that 算定日 flag.
    ServiceCount,
    /// The row's record type (field 0).
    RecordType,
    /// A comment's code (see [`comment_pairs`]).
    CommentCode,
    /// A comment's text.
    CommentText,
}

/// How a table's rows come from the records of one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// One row per receipt, from its first record of this type.
    Receipt(&'static str),
    /// One row per record of this type.
    Each(&'static str),
    /// One row per day of service of each record of this type, its 算定日 flags starting at this
    /// field (one row with neither when no flag is set).
    ServiceDays(&'static str, usize),
    /// One row per comment (code and text) of any record.
    Comments,
    /// One row per drug (IY) × dispensing (CZ) of each prescription (SH).
    Dispensing,
}

/// One UKE table: its rows, and where each column comes from.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The table (name, row, headers with origins).
    pub table: Table,
    /// The receipt kind it belongs to.
    pub kind: Kind,
    /// How its rows come from a receipt.
    pub unit: Unit,
    /// The patient columns every row carries, then the table's own.
    pub columns: &'static [(Field, Src)],
}

impl Layout {
    /// The layout of table `name`.
    pub fn of(name: &str) -> Option<&'static Layout> {
        LAYOUTS.iter().find(|l| l.table.name == name)
    }

    /// Where this table reads `header`: its source.
    pub fn source(&self, header: &str) -> Option<Src> {
        self.columns.iter().find(|(f, _)| f.header == header).map(|&(_, src)| src)
    }

    /// Whether the table reads records of this type (the receipt's patient records included).
    fn reads(&self, record: &str) -> bool {
        let own = |src: &Src| matches!(src, Src::Rec(r, _) | Src::Field(r, _) | Src::MonthDay(r, _) if *r == record);
        let unit = match self.unit {
            Unit::Receipt(r) | Unit::Each(r) | Unit::ServiceDays(r, _) => r == record,
            Unit::Comments => !comment_pairs(self.kind, record).is_empty(),
            Unit::Dispensing => matches!(record, "SH" | "CZ" | "IY"),
        };
        unit || matches!(record, "RE" | "HO" | "KO" | "SN") || self.columns.iter().any(|(_, src)| own(src))
    }
}

/// The (code, text) field pairs of the comments a record of this type carries.
pub fn comment_pairs(kind: Kind, record: &str) -> &'static [(usize, usize)] {
    match (kind, record) {
        (Kind::Medical, "CO") => &[(3, 4)],
        (Kind::Medical, "SJ") => &[(1, 2)],
        (Kind::Medical, "SI" | "IY") => &[(7, 8), (9, 10), (11, 12)],
        (Kind::Medical, "TO") => &[(11, 12), (13, 14), (15, 16)],
        (Kind::Dispensing, "CO" | "TK") => &[(1, 2)],
        _ => &[],
    }
}

const MEDICAL_CONTEXT: [(Field, Src); 19] = [
    (field("医療機関コード", "IR fields 2–4"), Src::FacilityCode),
    (field("請求年月", "IR field 7"), Src::ClaimMonth),
    (field("レセプト番号", "RE field 1"), Src::Rec("RE", 1)),
    (field("レセプト種別", "RE field 2"), Src::Rec("RE", 2)),
    (field("診療年月", "RE field 3"), Src::Rec("RE", 3)),
    (field("氏名", "RE field 4"), Src::Rec("RE", 4)),
    (field("性別", "RE field 5"), Src::Rec("RE", 5)),
    (field("生年月日", "RE field 6"), Src::Rec("RE", 6)),
    (field("入院年月日", "RE field 8"), Src::Rec("RE", 8)),
    (field("カルテ番号等", "RE field 13"), Src::Rec("RE", 13)),
    (field("検索番号", "RE field 18"), Src::Rec("RE", 18)),
    (field("記録条件仕様年月情報", "RE field 19"), Src::Rec("RE", 19)),
    (field("カナ氏名", "RE field 36"), Src::Rec("RE", 36)),
    (field("保険者番号", "HO field 1"), Src::Rec("HO", 1)),
    (field("被保険者証記号", "HO field 2"), Src::Rec("HO", 2)),
    (field("被保険者証番号", "HO field 3"), Src::Rec("HO", 3)),
    (field("枝番", "SN field 6"), Src::Rec("SN", 6)),
    (field("公費負担者番号", "KO field 1"), Src::Rec("KO", 1)),
    (field("受給者番号", "KO field 2"), Src::Rec("KO", 2)),
];

const DISPENSING_CONTEXT: [(Field, Src); 19] = [
    (field("薬局コード", "YK fields 2–4"), Src::FacilityCode),
    (field("請求年月", "YK field 6"), Src::ClaimMonth),
    (field("レセプト番号", "RE field 1"), Src::Rec("RE", 1)),
    (field("レセプト種別", "RE field 2"), Src::Rec("RE", 2)),
    (field("調剤年月", "RE field 3"), Src::Rec("RE", 3)),
    (field("氏名", "RE field 4"), Src::Rec("RE", 4)),
    (field("性別", "RE field 5"), Src::Rec("RE", 5)),
    (field("生年月日", "RE field 6"), Src::Rec("RE", 6)),
    (field("処方医療機関コード", "RE fields 9–11"), Src::ReCode),
    (field("処方医氏名", "RE field 14"), Src::Rec("RE", 14)),
    (field("調剤録番号等", "RE field 35"), Src::Rec("RE", 35)),
    (field("検索番号", "RE field 37"), Src::Rec("RE", 37)),
    (field("記録条件仕様年月情報", "RE field 38"), Src::Rec("RE", 38)),
    (field("カナ氏名", "RE field 41"), Src::Rec("RE", 41)),
    (field("保険者番号", "HO field 1"), Src::Rec("HO", 1)),
    (field("被保険者証記号", "HO field 2"), Src::Rec("HO", 2)),
    (field("被保険者証番号", "HO field 3"), Src::Rec("HO", 3)),
    (field("枝番", "SN field 6"), Src::Rec("SN", 6)),
    (field("公費負担者番号", "KO field 1"), Src::Rec("KO", 1)),
];

/// Fewest fields each identifying record must have for the layout's identifier positions to exist.
fn min_fields(kind: Kind, record: &str) -> usize {
    match (kind, record) {
        (Kind::Medical, "RE") => 14,
        (Kind::Dispensing, "RE") => 15,
        (_, "HO") => 4,
        (_, "KO") => 3,
        (_, "SN") => 7,
        (_, "IR" | "YK") => 5,
        _ => 0,
    }
}

/// The headers of a column list.
const fn headers<const N: usize>(columns: &[(Field, Src); N]) -> [Field; N] {
    let mut out = [field("", ""); N];
    let mut i = 0;
    while i < N {
        out[i] = columns[i].0;
        i += 1;
    }
    out
}

/// A UKE table: the receipt kind's patient columns, then `(header, origin, source)` per column.
macro_rules! layout {
    ($name:literal, $row:literal, $kind:expr, $unit:expr, [$(($header:literal, $origin:literal, $src:expr)),* $(,)?]) => {{
        const CONTEXT: &[(Field, Src)] = match $kind {
            Kind::Medical => &MEDICAL_CONTEXT,
            Kind::Dispensing => &DISPENSING_CONTEXT,
        };
        const DETAIL: &[(Field, Src)] = &[$((field($header, $origin), $src)),*];
        const COLUMNS: [(Field, Src); CONTEXT.len() + DETAIL.len()] = crate::join(CONTEXT, DETAIL);
        const FIELDS: [Field; COLUMNS.len()] = headers(&COLUMNS);
        Layout { table: Table { name: $name, row: $row, fields: &FIELDS }, kind: $kind, unit: $unit, columns: &COLUMNS }
    }};
}

use Src::{CommentCode, CommentText, MonthDay, RecordType, ServiceCount, ServiceDate};

/// Every UKE table; the first six are for 医科 files, the rest for 調剤 files.
pub const LAYOUTS: [Layout; 10] = [
    layout!(
        "receipts",
        "receipt (医科)",
        Kind::Medical,
        Unit::Receipt("HO"),
        [("診療実日数", "HO field 4", Src::Field("HO", 4)), ("合計点数", "HO field 5", Src::Field("HO", 5)),]
    ),
    layout!(
        "diagnoses",
        "SY record",
        Kind::Medical,
        Unit::Each("SY"),
        [
            ("傷病名コード", "SY field 1", Src::Field("SY", 1)),
            ("診療開始日", "SY field 2", Src::Field("SY", 2)),
            ("転帰区分", "SY field 3", Src::Field("SY", 3)),
            ("修飾語コード", "SY field 4", Src::Field("SY", 4)),
            ("傷病名称", "SY field 5", Src::Field("SY", 5)),
            ("主傷病", "SY field 6", Src::Field("SY", 6)),
        ]
    ),
    layout!(
        "procedures",
        "day of service of an SI record",
        Kind::Medical,
        Unit::ServiceDays("SI", 13),
        [
            ("診療識別", "SI field 1", Src::Field("SI", 1)),
            ("負担区分", "SI field 2", Src::Field("SI", 2)),
            ("診療行為コード", "SI field 3", Src::Field("SI", 3)),
            ("数量データ", "SI field 4", Src::Field("SI", 4)),
            ("点数", "SI field 5", Src::Field("SI", 5)),
            ("回数", "SI field 6", Src::Field("SI", 6)),
            ("実施日", "SI fields 13–43 (算定日) with RE field 3", ServiceDate),
            ("日別回数", "SI fields 13–43 (算定日)", ServiceCount),
        ]
    ),
    layout!(
        "drugs",
        "day of service of an IY record",
        Kind::Medical,
        Unit::ServiceDays("IY", 13),
        [
            ("診療識別", "IY field 1", Src::Field("IY", 1)),
            ("負担区分", "IY field 2", Src::Field("IY", 2)),
            ("医薬品コード", "IY field 3", Src::Field("IY", 3)),
            ("使用量", "IY field 4", Src::Field("IY", 4)),
            ("点数", "IY field 5", Src::Field("IY", 5)),
            ("回数", "IY field 6", Src::Field("IY", 6)),
            ("実施日", "IY fields 13–43 (算定日) with RE field 3", ServiceDate),
            ("日別回数", "IY fields 13–43 (算定日)", ServiceCount),
        ]
    ),
    layout!(
        "devices",
        "day of service of a TO record",
        Kind::Medical,
        Unit::ServiceDays("TO", 17),
        [
            ("診療識別", "TO field 1", Src::Field("TO", 1)),
            ("負担区分", "TO field 2", Src::Field("TO", 2)),
            ("特定器材コード", "TO field 3", Src::Field("TO", 3)),
            ("使用量", "TO field 4", Src::Field("TO", 4)),
            ("点数", "TO field 5", Src::Field("TO", 5)),
            ("回数", "TO field 6", Src::Field("TO", 6)),
            ("単位コード", "TO field 7", Src::Field("TO", 7)),
            ("単価", "TO field 8", Src::Field("TO", 8)),
            ("商品名", "TO field 10", Src::Field("TO", 10)),
            ("実施日", "TO fields 17–47 (算定日) with RE field 3", ServiceDate),
            ("日別回数", "TO fields 17–47 (算定日)", ServiceCount),
        ]
    ),
    layout!(
        "comments",
        "CO or SJ record, or a comment in an SI/IY/TO record",
        Kind::Medical,
        Unit::Comments,
        [
            ("レコード識別", "field 0", RecordType),
            ("コメントコード", "CO field 3, SJ field 1, SI/IY fields 7/9/11, TO 11/13/15", CommentCode),
            ("文字データ", "CO field 4, SJ field 2, SI/IY fields 8/10/12, TO 12/14/16", CommentText),
        ]
    ),
    layout!(
        "dispensing-receipts",
        "receipt (調剤)",
        Kind::Dispensing,
        Unit::Receipt("HO"),
        [("処方箋受付回数", "HO field 4", Src::Field("HO", 4)), ("合計点数", "HO field 5", Src::Field("HO", 5)),]
    ),
    layout!(
        "dispensing",
        "drug (IY) of a dispensing (CZ) of a prescription (SH)",
        Kind::Dispensing,
        Unit::Dispensing,
        [
            ("Rp番号", "SH field 1", Src::Field("SH", 1)),
            ("剤形コード", "SH field 2", Src::Field("SH", 2)),
            ("用法コード", "SH field 3", Src::Field("SH", 3)),
            ("医師番号", "CZ field 1", Src::Field("CZ", 1)),
            ("処方日", "CZ field 2", MonthDay("CZ", 2)),
            ("調剤日", "CZ field 3", MonthDay("CZ", 3)),
            ("調剤日数", "CZ field 5", Src::Field("CZ", 5)),
            ("点数", "CZ field 13", Src::Field("CZ", 13)),
            ("負担区分", "IY field 1", Src::Field("IY", 1)),
            ("医薬品コード", "IY field 2", Src::Field("IY", 2)),
            ("数量", "IY field 3", Src::Field("IY", 3)),
            ("1回用量", "IY field 9", Src::Field("IY", 9)),
        ]
    ),
    layout!(
        "dispensing-devices",
        "TO record (調剤)",
        Kind::Dispensing,
        Unit::Each("TO"),
        [
            ("負担区分", "TO field 1", Src::Field("TO", 1)),
            ("特定器材コード", "TO field 2", Src::Field("TO", 2)),
            ("使用量", "TO field 3", Src::Field("TO", 3)),
            ("単位コード", "TO field 4", Src::Field("TO", 4)),
            ("単価", "TO field 5", Src::Field("TO", 5)),
        ]
    ),
    layout!(
        "dispensing-comments",
        "CO or TK record (調剤)",
        Kind::Dispensing,
        Unit::Comments,
        [
            ("レコード識別", "field 0", RecordType),
            ("コメントコード", "CO/TK field 1", CommentCode),
            ("文字データ", "CO/TK field 2", CommentText),
        ]
    ),
];

const fn tables<const N: usize>(layouts: &[Layout; N]) -> [Table; N] {
    let mut out = [Table { name: "", row: "", fields: &[] }; N];
    let mut i = 0;
    while i < N {
        out[i] = layouts[i].table;
        i += 1;
    }
    out
}

/// The tables UKE files offer; the first six are for 医科 files, the rest for 調剤 files.
pub const TABLES: &[Table] = &tables(&LAYOUTS);

/// Whether `path` looks like a UKE file (`*.UKE`, any case).
pub fn is_uke_file(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("uke"))
}

struct Record {
    line: u64,
    kind: [u8; 2],
    fields: std::ops::Range<usize>,
}

/// The records of one receipt (RE up to the next RE or GO), as decoded text and field spans.
#[derive(Default)]
struct Receipt {
    text: String,
    spans: Vec<std::ops::Range<usize>>,
    records: Vec<Record>,
}

impl Receipt {
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.records.clear();
    }

    fn push(&mut self, line: u64, text: &str) {
        let start = self.text.len();
        self.text.push_str(text);
        let first = self.spans.len();
        let mut at = start;
        for part in text.split(',') {
            self.spans.push(at..at + part.len());
            at += part.len() + 1;
        }
        let kind = text.as_bytes();
        let kind = [kind.first().copied().unwrap_or(b' '), kind.get(1).copied().unwrap_or(b' ')];
        self.records.push(Record { line, kind, fields: first..self.spans.len() });
    }

    fn field(&self, record: &Record, i: usize) -> Option<&str> {
        let span = self.spans[record.fields.clone()].get(i)?;
        let value = &self.text[span.clone()];
        (!value.trim().is_empty()).then_some(value)
    }

    fn len(&self, record: &Record) -> usize {
        record.fields.len()
    }

    fn first(&self, kind: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.kind == kind.as_bytes()[..2])
    }
}

#[derive(Default)]
struct Facility {
    code: Option<String>,
    claim_month: Option<String>,
    line: u64,
}

/// The longest line read (UKE records, 症状詳記 included, are a few kilobytes).
const MAX_LINE_BYTES: u64 = 1 << 20;

/// Reads one UKE file from `reader` (cp932 bytes), handing each row of `table` to `on_row`.
/// `file` names the file in messages.
pub fn parse<R: BufRead, E>(
    mut reader: R,
    file: &str,
    table: &Table,
    mut on_row: impl FnMut(RowRef<'_>) -> Result<(), E>,
) -> Result<NationalStats, ReadError<E>> {
    let Some(layout) = Layout::of(table.name) else {
        return Err(FormatError {
            file: file.to_string(),
            at: "table".into(),
            message: format!("`{}` is not a UKE table", table.name),
        }
        .into());
    };
    let wanted = layout.kind;
    let mut stats = NationalStats { files: 1, ..NationalStats::default() };
    let mut kind: Option<Kind> = None;
    let mut facility = Facility::default();
    let mut receipt = Receipt::default();
    let mut open = false;
    let mut bytes = Vec::with_capacity(512);
    let mut line = 0u64;
    let error =
        |line: u64, message: String| FormatError { file: file.to_string(), at: format!("line {line}"), message };
    loop {
        bytes.clear();
        let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES + 1).read_until(b'\n', &mut bytes);
        if read.map_err(ReadError::Io)? == 0 {
            break;
        }
        line += 1;
        if bytes.len() as u64 > MAX_LINE_BYTES {
            return Err(error(line, format!("longer than {} KiB: no UKE record is", MAX_LINE_BYTES >> 10)).into());
        }
        while bytes.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            bytes.pop();
        }
        // Old floppy-era files end with an EOF byte (0x1A).
        if bytes.is_empty() || bytes == [0x1a] {
            continue;
        }
        let Some(text) = encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&bytes) else {
            return Err(error(line, "bytes are not valid Shift_JIS (cp932), as UKE files must be".into()).into());
        };
        let record = text.split(',').next().unwrap_or("");
        let record = if record.len() == 2 && record.is_ascii() { record } else { "?" };
        NationalStats::count(&mut stats.records, record);
        match record {
            "IR" | "YK" => {
                if open {
                    emit(&receipt, &facility, layout, file, &mut stats, &mut on_row)?;
                    open = false;
                }
                let this = if record == "IR" { Kind::Medical } else { Kind::Dispensing };
                if kind.is_some_and(|k| k != this) {
                    return Err(
                        error(line, format!("a {} block in a {} file", this.name(), kind.unwrap().name())).into()
                    );
                }
                if this != wanted {
                    return Err(error(
                        line,
                        format!(
                            "this is a {} file; table `{}` is read from {} files",
                            this.name(),
                            table.name,
                            wanted.name()
                        ),
                    )
                    .into());
                }
                kind = Some(this);
                let fields: Vec<&str> = text.split(',').collect();
                if fields.len() < min_fields(this, record) {
                    return Err(error(
                        line,
                        format!("{record} record has {} fields, expected at least 5", fields.len()),
                    )
                    .into());
                }
                let month_at = if record == "IR" { 7 } else { 6 };
                let code: String = fields[2..5].concat();
                facility = Facility {
                    code: (!code.trim().is_empty()).then_some(code),
                    claim_month: fields.get(month_at).filter(|m| !m.is_empty()).map(|m| m.to_string()),
                    line,
                };
            }
            "RE" | "GO" => {
                if open {
                    emit(&receipt, &facility, layout, file, &mut stats, &mut on_row)?;
                    open = false;
                }
                if kind.is_none() {
                    return Err(error(
                        line,
                        "expected an IR (医科) or YK (調剤) record before the first receipt".into(),
                    )
                    .into());
                }
                if record == "RE" {
                    receipt.clear();
                    receipt.push(line, &text);
                    open = true;
                }
            }
            _ => {
                let Some(k) = kind else {
                    return Err(error(line, "expected an IR (医科) or YK (調剤) record first".into()).into());
                };
                if !k.defines(record) {
                    NationalStats::count(&mut stats.unknown, record);
                } else if open {
                    receipt.push(line, &text);
                } else if ["HO", "KO", "SN"].contains(&record) {
                    return Err(error(line, format!("{record} record outside a receipt (no RE before it)")).into());
                }
            }
        }
    }
    if open {
        emit(&receipt, &facility, layout, file, &mut stats, &mut on_row)?;
    }
    if kind.is_none() && line > 0 {
        return Err(error(1, "no IR (医科) or YK (調剤) record: not a UKE receipt file".into()).into());
    }
    Ok(stats)
}

/// Hands on the rows `layout` takes from one receipt.
fn emit<E>(
    receipt: &Receipt,
    facility: &Facility,
    layout: &Layout,
    file: &str,
    stats: &mut NationalStats,
    on_row: &mut impl FnMut(RowRef<'_>) -> Result<(), E>,
) -> Result<(), ReadError<E>> {
    let kind = layout.kind;
    let re = &receipt.records[0];
    for record in &receipt.records {
        let name = std::str::from_utf8(&record.kind).unwrap_or("?");
        let needed = min_fields(kind, name);
        if receipt.len(record) < needed {
            return Err(FormatError {
                file: file.to_string(),
                at: format!("line {} ({name} record)", record.line),
                message: format!(
                    "has {} fields; the layout places identifiers up to field {}, so fields may have shifted",
                    receipt.len(record),
                    needed - 1
                ),
            }
            .into());
        }
    }
    let version_at = if kind == Kind::Medical { 19 } else { 38 };
    NationalStats::count(&mut stats.versions, receipt.field(re, version_at).unwrap_or("unstated"));

    // The receipt's patient columns, shared by every row; then the table's own.
    let context = if kind == Kind::Medical { MEDICAL_CONTEXT.len() } else { DISPENSING_CONTEXT.len() };
    let (patient, detail) = layout.columns.split_at(context);
    let prescriber: Option<String> = match kind {
        Kind::Dispensing => {
            let parts: Vec<&str> = (9..12).filter_map(|i| receipt.field(re, i)).collect();
            (!parts.is_empty()).then(|| parts.concat())
        }
        Kind::Medical => None,
    };
    let mut base: Vec<Option<&str>> = Vec::with_capacity(layout.columns.len());
    let mut base_lines: Vec<u64> = Vec::with_capacity(layout.columns.len());
    for (_, src) in patient {
        let (value, line) = match *src {
            Src::FacilityCode => (facility.code.as_deref(), facility.line),
            Src::ClaimMonth => (facility.claim_month.as_deref(), facility.line),
            Src::ReCode => (prescriber.as_deref(), re.line),
            Src::Rec(kind, i) => match receipt.first(kind) {
                Some(r) => (receipt.field(r, i), r.line),
                None => (None, re.line),
            },
            other => unreachable!("{other:?} is not a patient column's source"),
        };
        base.push(value);
        base_lines.push(line);
    }
    let month = receipt.field(re, 3);
    let mut rows = Rows { base: &base, base_lines: &base_lines, file, on_row };
    let records = &receipt.records;
    let mut emit_at = |at: &At<'_>| rows.emit(&at.cells(receipt, detail, month));
    match layout.unit {
        Unit::Receipt(kind) => emit_at(&At::new(receipt.first(kind).into_iter().collect(), re.line))?,
        Unit::Each(kind) => {
            for r in records.iter().filter(|r| r.kind == kind.as_bytes()[..2]) {
                emit_at(&At::new(vec![r], r.line))?;
            }
        }
        Unit::ServiceDays(kind, days_from) => {
            for r in records.iter().filter(|r| r.kind == kind.as_bytes()[..2]) {
                let mut any = false;
                for day in 1..=31usize {
                    let Some(count) = receipt.field(r, days_from + day - 1) else { continue };
                    if count.trim() == "0" {
                        continue;
                    }
                    any = true;
                    let date = month.map(|m| format!("{}{day:02}", m.trim()));
                    emit_at(&At { day: Some((date, count)), ..At::new(vec![r], r.line) })?;
                }
                if !any {
                    emit_at(&At::new(vec![r], r.line))?;
                }
            }
        }
        Unit::Comments => {
            for r in records {
                let name = std::str::from_utf8(&r.kind).unwrap_or("?");
                for &(code, text) in comment_pairs(kind, name) {
                    let (code, text) = (receipt.field(r, code), receipt.field(r, text));
                    if code.is_none() && text.is_none() {
                        continue;
                    }
                    emit_at(&At { comment: Some((code, text)), ..At::new(vec![r], r.line) })?;
                }
            }
        }
        Unit::Dispensing => {
            // Each SH opens a prescription; its CZ records are the dispensings (several in a month
            // when dispensed in parts), its IY records the drugs: a row per dispensing × drug.
            let mut start = 0;
            while start < records.len() {
                if &records[start].kind != b"SH" {
                    start += 1;
                    continue;
                }
                let end =
                    records[start + 1..].iter().position(|r| &r.kind == b"SH").map_or(records.len(), |p| start + 1 + p);
                let sh = &records[start];
                let rp = &records[start..end];
                for cz in rp.iter().filter(|r| &r.kind == b"CZ") {
                    for iy in rp.iter().filter(|r| &r.kind == b"IY") {
                        emit_at(&At::new(vec![sh, cz, iy], sh.line))?;
                    }
                }
                start = end;
            }
        }
    }
    for r in records {
        let name = std::str::from_utf8(&r.kind).unwrap_or("?");
        if !layout.reads(name) {
            NationalStats::count(&mut stats.skipped, name);
        }
    }
    Ok(())
}

/// What one row is taken from: its records (one, or SH + CZ + IY), and its day of service or
/// comment.
struct At<'r> {
    records: Vec<&'r Record>,
    /// The line a column names when its record is missing.
    line: u64,
    day: Option<(Option<String>, &'r str)>,
    comment: Option<(Option<&'r str>, Option<&'r str>)>,
}

impl<'r> At<'r> {
    fn new(records: Vec<&'r Record>, line: u64) -> At<'r> {
        At { records, line, day: None, comment: None }
    }

    /// The row's own columns, each with the line of its record.
    fn cells<'a>(
        &'a self,
        receipt: &'a Receipt,
        detail: &[(Field, Src)],
        month: Option<&str>,
    ) -> Vec<(Option<Cow<'a, str>>, u64)> {
        let record = |kind: &str| self.records.iter().find(|r| r.kind == kind.as_bytes()[..2]).copied();
        let own = self.records.first().map_or(self.line, |r| r.line);
        let text = |kind: &'a [u8; 2]| std::str::from_utf8(kind).ok().map(Cow::Borrowed);
        detail
            .iter()
            .map(|&(_, src)| match src {
                Src::Field(kind, i) => match record(kind) {
                    Some(r) => (receipt.field(r, i).map(Cow::Borrowed), r.line),
                    None => (None, self.line),
                },
                Src::MonthDay(kind, i) => match record(kind) {
                    Some(r) => (day_in(receipt.field(r, i), month).map(Cow::Owned), r.line),
                    None => (None, self.line),
                },
                Src::ServiceDate => (self.day.as_ref().and_then(|(d, _)| d.as_deref()).map(Cow::Borrowed), own),
                Src::ServiceCount => (self.day.as_ref().map(|&(_, c)| Cow::Borrowed(c)), own),
                Src::RecordType => (self.records.first().and_then(|r| text(&r.kind)), own),
                Src::CommentCode => (self.comment.and_then(|(c, _)| c).map(Cow::Borrowed), own),
                Src::CommentText => (self.comment.and_then(|(_, t)| t).map(Cow::Borrowed), own),
                Src::FacilityCode | Src::ClaimMonth | Src::Rec(..) | Src::ReCode => {
                    unreachable!("{src:?} is a patient column's source")
                }
            })
            .collect()
    }
}

/// A CZ date (処方月日, 調剤月日) as written:
/// - a full date (`GYYMMDD`, `YYYYMMDD`), as is;
/// - a day of the month (1–2 digits), joined to the receipt's 調剤年月;
/// - a month and day (`MMDD`, as many pharmacy systems write 月日), in 調剤年月's year, except
///   that a month after 調剤年月's belongs to the year before (prescribed in December, dispensed
///   in January).
///
/// What cannot be completed is passed on as written, so that typing quarantines it rather than
/// losing it.
fn day_in(value: Option<&str>, month: Option<&str>) -> Option<String> {
    let value = value?.trim();
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let completed = match value.len() {
        1 | 2 if digits => {
            let day: u32 = value.parse().ok()?;
            month.map(|m| format!("{}{day:02}", m.trim()))
        }
        4 if digits => month.and_then(western_year_month).map(|(year, receipt_month)| {
            let written_month: u32 = value[..2].parse().unwrap_or(0);
            let year = if written_month > receipt_month { year - 1 } else { year };
            format!("{year:04}{value}")
        }),
        _ => None,
    };
    Some(completed.unwrap_or_else(|| value.to_string()))
}

/// 調剤年月 / 診療年月 (`GYYMM`, era code 1 明治 … 5 令和, or `YYYYMM`) → Western year and month.
fn western_year_month(raw: &str) -> Option<(i32, u32)> {
    let raw = raw.trim();
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| raw.get(range)?.parse::<i32>().ok();
    let (year, month) = match raw.len() {
        5 => {
            const ERA_FIRST_YEAR: [i32; 5] = [1868, 1912, 1926, 1989, 2019];
            let era = ERA_FIRST_YEAR.get(usize::try_from(number(0..1)?).ok()?.checked_sub(1)?)?;
            (era + number(1..3)? - 1, number(3..5)?)
        }
        6 => (number(0..4)?, number(4..6)?),
        _ => return None,
    };
    (1..=12).contains(&month).then_some((year, month as u32))
}

struct Rows<'a, F> {
    base: &'a [Option<&'a str>],
    base_lines: &'a [u64],
    file: &'a str,
    on_row: &'a mut F,
}

impl<F, E> Rows<'_, F>
where
    F: FnMut(RowRef<'_>) -> Result<(), E>,
{
    fn emit(&mut self, detail: &[(Option<Cow<'_, str>>, u64)]) -> Result<(), ReadError<E>> {
        let mut cells: Vec<Option<&str>> = Vec::with_capacity(self.base.len() + detail.len());
        cells.extend_from_slice(self.base);
        cells.extend(detail.iter().map(|d| d.0.as_deref()));
        let mut records = Vec::with_capacity(cells.len());
        records.extend_from_slice(self.base_lines);
        records.extend(detail.iter().map(|d| d.1));
        (self.on_row)(RowRef { file: Some(self.file), cells: &cells, records: &records }).map_err(ReadError::Sink)
    }
}

/// Builds a UKE record for a writer of UKE files (the synthetic data): each value goes where the
/// reader takes it from, by the same declarations.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    record: &'static str,
    fields: Vec<String>,
}

impl RecordBuilder {
    /// A record of type `record` with `width` fields (field 0 is the type).
    pub fn new(record: &'static str, width: usize) -> RecordBuilder {
        let mut fields = vec![String::new(); width.max(1)];
        fields[0] = record.to_string();
        RecordBuilder { record, fields }
    }

    /// Puts `value` in the field `table` reads `header` from.
    ///
    /// # Panics
    /// When `table` does not read `header` from a field of this record type, or the record is
    /// too narrow for it: the writer and the layout disagree (a bug, caught by its tests).
    pub fn set(self, table: &str, header: &str, value: &str) -> RecordBuilder {
        let layout = Layout::of(table).unwrap_or_else(|| panic!("no UKE table `{table}`"));
        let position = match layout.source(header) {
            Some(Src::Rec(record, i) | Src::Field(record, i) | Src::MonthDay(record, i)) if record == self.record => i,
            other => panic!("table `{table}` does not read `{header}` from a {} field ({other:?})", self.record),
        };
        self.other(position, value)
    }

    /// Puts `value` in the 算定日 flag of `day` (1–31) of a table whose rows are days of service.
    ///
    /// # Panics
    /// When the table's rows are not days of service of this record type.
    pub fn day(self, table: &str, day: u32, value: &str) -> RecordBuilder {
        match Layout::of(table).map(|l| l.unit) {
            Some(Unit::ServiceDays(record, from)) if record == self.record && (1..=31).contains(&day) => {
                self.other(from + day as usize - 1, value)
            }
            other => panic!("table `{table}` has no 算定日 {day} in a {} record ({other:?})", self.record),
        }
    }

    /// Puts a comment's code and text where the reader takes the first comment of this record.
    ///
    /// # Panics
    /// When records of this type carry no comment in `kind` files.
    pub fn comment(self, kind: Kind, code: &str, text: &str) -> RecordBuilder {
        let &(at_code, at_text) = comment_pairs(kind, self.record)
            .first()
            .unwrap_or_else(|| panic!("no comment in a {} record", self.record));
        self.other(at_code, code).other(at_text, text)
    }

    /// Puts `value` in field `position`, one no table reads.
    ///
    /// # Panics
    /// When the record is narrower.
    pub fn other(mut self, position: usize, value: &str) -> RecordBuilder {
        let width = self.fields.len();
        let field =
            self.fields.get_mut(position).unwrap_or_else(|| panic!("field {position} of a {width}-field record"));
        *field = value.to_string();
        self
    }

    /// The fields, type first.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn cz_month_and_day_complete_from_the_receipt_month() {
        // 調剤年月 令和7年6月: MMDD in June or before is 2025; a later month is December 2024's.
        assert_eq!(day_in(Some("0603"), Some("50706")).as_deref(), Some("20250603"));
        assert_eq!(day_in(Some("1228"), Some("50701")).as_deref(), Some("20241228"));
        assert_eq!(day_in(Some("0115"), Some("202501")).as_deref(), Some("20250115"));
        // 平成31年 → 令和 by the Western year.
        assert_eq!(day_in(Some("1230"), Some("50101")).as_deref(), Some("20181230"));
        assert_eq!(day_in(Some("17"), Some("50706")).as_deref(), Some("5070617"));
        assert_eq!(day_in(Some("5070601"), Some("50706")).as_deref(), Some("5070601"));
        // What cannot be completed stays as written (and is quarantined when typed).
        assert_eq!(day_in(Some("0603"), Some("5x706")).as_deref(), Some("0603"));
        assert_eq!(day_in(Some("0603"), None).as_deref(), Some("0603"));
    }

    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        encoding_rs::SHIFT_JIS.encode(&text.replace('\n', "\r\n")).0.into_owned()
    }

    fn table(name: &str) -> &'static Table {
        TABLES.iter().find(|t| t.name == name).unwrap()
    }

    type Rows = Vec<Vec<Option<String>>>;

    fn rows(bytes: &[u8], name: &str) -> Result<(Rows, NationalStats), String> {
        let mut out = Vec::new();
        let stats = parse(bytes, "test.UKE", table(name), |row| {
            assert_eq!(row.cells.len(), table(name).fields.len());
            out.push(row.cells.iter().map(|c| c.map(str::to_string)).collect());
            Ok::<_, ()>(())
        })
        .map_err(|e| match e {
            ReadError::Format(f) => f.to_string(),
            other => format!("{other:?}"),
        })?;
        Ok((out, stats))
    }

    fn col(table_name: &str, header: &str) -> usize {
        table(table_name).fields.iter().position(|f| f.header == header).unwrap()
    }

    const RE_DISP: &str =
        "RE,1,1112,50706,山田　太郎,1,3450302,,,13,1,1234567,,,佐藤　医師,,,,,,,,,,,,,,,,,,,,,A-001,,,50704,,,ﾔﾏﾀﾞ ﾀﾛｳ";

    fn dispensing_file() -> String {
        format!(
            "YK,1,13,4,7654321,さくら薬局,50706,00,0312345678\n{RE_DISP}\nHO,06139999,あいう,１２３,1,520\nSN,1,01,06139999,あいう,１２３,01\nSH,1,1,1013044400000000,,12\nCZ,12,5070601,5070603,1,14,,,,,,,,168\nIY,1,620004402,2\nIY,1,610406079,1,,,,,,1\nCZ,12,5070601,17,2,14,,,,,,,,168\nSH,2,2,,,20\nCZ,12,5070601,5070603,1,7,,,,,,,,40\nIY,1,1149019F1020,7\nTO,1,710010001,1,1,100\nCO,810000001,残薬確認済み\nZZ,1\nGO,1,520,99\n"
        )
    }

    #[test]
    fn dispensing_rows_are_dispensings_times_drugs() {
        let (rows, stats) = rows(&sjis(&dispensing_file()), "dispensing").unwrap();
        // Rp 1: two dispensings × two drugs; Rp 2: one × one.
        assert_eq!(rows.len(), 5);
        let at = |r: usize, h: &str| rows[r][col("dispensing", h)].clone();
        assert_eq!(at(0, "薬局コード").as_deref(), Some("1347654321"));
        assert_eq!(at(0, "処方医療機関コード").as_deref(), Some("1311234567"));
        assert_eq!(at(0, "生年月日").as_deref(), Some("3450302"));
        assert_eq!(at(0, "被保険者証番号").as_deref(), Some("１２３"));
        assert_eq!(at(0, "枝番").as_deref(), Some("01"));
        assert_eq!(at(0, "カナ氏名").as_deref(), Some("ﾔﾏﾀﾞ ﾀﾛｳ"));
        assert_eq!(at(0, "調剤日").as_deref(), Some("5070603"));
        assert_eq!(at(2, "調剤日").as_deref(), Some("5070617"), "a day of the month joins 調剤年月");
        assert_eq!(at(1, "医薬品コード").as_deref(), Some("610406079"));
        assert_eq!(at(1, "1回用量").as_deref(), Some("1"));
        assert_eq!(at(4, "医薬品コード").as_deref(), Some("1149019F1020"));
        assert_eq!(at(4, "点数").as_deref(), Some("40"));
        assert_eq!(stats.unknown.get("ZZ"), Some(&1));
        assert_eq!(stats.skipped.get("TO"), Some(&1));
        assert_eq!(stats.versions.get("50704"), Some(&1));
        assert_eq!(stats.records.get("IY"), Some(&3));
    }

    #[test]
    fn other_dispensing_tables() {
        let bytes = sjis(&dispensing_file());
        let (devices, _) = rows(&bytes, "dispensing-devices").unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0][col("dispensing-devices", "特定器材コード")].as_deref(), Some("710010001"));
        let (comments, _) = rows(&bytes, "dispensing-comments").unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0][col("dispensing-comments", "文字データ")].as_deref(), Some("残薬確認済み"));
        let (receipts, _) = rows(&bytes, "dispensing-receipts").unwrap();
        assert_eq!(receipts.len(), 1);
        assert_eq!(receipts[0][col("dispensing-receipts", "合計点数")].as_deref(), Some("520"));
    }

    fn medical_file() -> String {
        let days =
            |set: &[usize]| (1..=31).map(|d| if set.contains(&d) { "1" } else { "" }).collect::<Vec<_>>().join(",");
        format!(
            "IR,1,20,1,8222610,,長野中央病院,50706,00,0262000000\nRE,7,1112,50706,関　詩,2,3290820,30,,,,,,05243027,,,,,,50704,,,,,,,,,,,,,,,,,ｾｷ ｳﾀ,\nHO,01206861,929538,14354468,2,300\nSY,0000999,5070603,1,,急性上気道感染症,01\nSY,4659007,5070610,,,,\nSI,12,1,112007410,,73,2,,,,,,,{}\nIY,21,1,620004402,3,8,6,810000001,頓用,,,,,{}\nTO,40,1,700010000,1,50,1,001,100,,ガーゼ\nSJ,01,症状詳記の本文\nGO,1,300,99\n",
            days(&[3, 10]),
            days(&[])
        )
    }

    #[test]
    fn medical_tables() {
        let bytes = sjis(&medical_file());
        let (dx, stats) = rows(&bytes, "diagnoses").unwrap();
        assert_eq!(dx.len(), 2);
        assert_eq!(dx[0][col("diagnoses", "傷病名称")].as_deref(), Some("急性上気道感染症"));
        assert_eq!(dx[0][col("diagnoses", "医療機関コード")].as_deref(), Some("2018222610"));
        assert_eq!(dx[0][col("diagnoses", "カルテ番号等")].as_deref(), Some("05243027"));
        assert_eq!(dx[0][col("diagnoses", "カナ氏名")].as_deref(), Some("ｾｷ ｳﾀ"));
        assert_eq!(dx[1][col("diagnoses", "傷病名称")], None);
        assert_eq!(stats.skipped.get("SI"), Some(&1));

        let (si, _) = rows(&bytes, "procedures").unwrap();
        let dates: Vec<_> = si.iter().map(|r| r[col("procedures", "実施日")].clone().unwrap()).collect();
        assert_eq!(dates, ["5070603", "5070610"], "one row per day of service");

        let (iy, _) = rows(&bytes, "drugs").unwrap();
        assert_eq!(iy.len(), 1, "no 算定日 flags: one row without a date");
        assert_eq!(iy[0][col("drugs", "実施日")], None);

        let (to, _) = rows(&bytes, "devices").unwrap();
        assert_eq!(to[0][col("devices", "商品名")].as_deref(), Some("ガーゼ"));

        let (comments, _) = rows(&bytes, "comments").unwrap();
        let texts: Vec<_> = comments.iter().map(|r| r[col("comments", "文字データ")].clone().unwrap()).collect();
        assert_eq!(texts, ["頓用", "症状詳記の本文"]);

        let (receipts, _) = rows(&bytes, "receipts").unwrap();
        assert_eq!(receipts[0][col("receipts", "診療実日数")].as_deref(), Some("2"));
    }

    #[test]
    fn rejections_name_line_and_record_never_the_value() {
        let wrong_kind = rows(&sjis(&medical_file()), "dispensing").unwrap_err();
        assert!(wrong_kind.contains("line 1") && wrong_kind.contains("医科"), "{wrong_kind}");

        let short_ho = medical_file().replace("HO,01206861,929538,14354468,2,300", "HO,01206861");
        let e = rows(&sjis(&short_ho), "diagnoses").unwrap_err();
        assert!(e.contains("line 3 (HO record)") && !e.contains("01206861"), "{e}");

        let headless = "RE,1,1112,50706,山田\n";
        let e = rows(&sjis(headless), "receipts").unwrap_err();
        assert!(e.contains("line 1") && !e.contains("山田"), "{e}");

        let mut bad = sjis(&medical_file());
        bad.splice(2..2, [0x81, 0x20]);
        let e = rows(&bad, "diagnoses").unwrap_err();
        assert!(e.contains("line 1") && e.contains("Shift_JIS"), "{e}");

        let mut endless = sjis("IR,1,20,1,8222610,,x,50706,00,\n");
        endless.extend(std::iter::repeat_n(b'A', (MAX_LINE_BYTES + 10) as usize));
        let e = rows(&endless, "diagnoses").unwrap_err();
        assert!(e.contains("line 2") && e.contains("longer than"), "{e}");

        let (rows, _) = rows(&[], "diagnoses").unwrap();
        assert!(rows.is_empty());
    }

    #[test]
    fn every_column_reads_a_record_its_rows_come_from() {
        for layout in &LAYOUTS {
            let context = if layout.kind == Kind::Medical { MEDICAL_CONTEXT.len() } else { DISPENSING_CONTEXT.len() };
            let (patient, detail) = layout.columns.split_at(context);
            for (field, src) in patient {
                assert!(
                    matches!(src, Src::Rec(..) | Src::ReCode | Src::FacilityCode | Src::ClaimMonth),
                    "{}: {}",
                    layout.table.name,
                    field.header
                );
            }
            for (field, src) in detail {
                let fits = match (layout.unit, src) {
                    (Unit::Receipt(r) | Unit::Each(r) | Unit::ServiceDays(r, _), Src::Field(k, _)) => r == *k,
                    (Unit::Dispensing, Src::Field(k, _) | Src::MonthDay(k, _)) => ["SH", "CZ", "IY"].contains(k),
                    (Unit::ServiceDays(..), Src::ServiceDate | Src::ServiceCount) => true,
                    (Unit::Comments, Src::RecordType | Src::CommentCode | Src::CommentText) => true,
                    _ => false,
                };
                assert!(fits, "{}: {} ({src:?}) is not in its rows' records", layout.table.name, field.header);
            }
            assert_eq!(layout.table.fields.len(), layout.columns.len());
        }
    }

    #[test]
    fn a_record_built_from_the_layout_reads_back() {
        let sy = RecordBuilder::new("SY", 7)
            .set("diagnoses", "傷病名コード", "8830052")
            .set("diagnoses", "傷病名称", "高血圧症")
            .fields()
            .join(",");
        assert_eq!(sy, "SY,8830052,,,,高血圧症,");
        let si = RecordBuilder::new("SI", 44).day("procedures", 3, "1").fields().to_vec();
        assert_eq!(si[15], "1", "算定日 1 is field 13");
        let co = RecordBuilder::new("CO", 5).comment(Kind::Medical, "810000001", "メモ").fields().join(",");
        assert_eq!(co, "CO,,,810000001,メモ");
    }
}
