//! The same population in the national formats: UKE receipt files (医科 from the chart visits,
//! 調剤 from the dispensing receipts). Values are those of the CSV rows, spelled as the format
//! spells them (GYYMMDD era dates, sex 1/2), so that reading either gives the same typed tables.
//! No random draws: writing the national formats changes nothing in the CSV files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use tokumei_core::normalize::CivilDate;
use tokumei_formats::uke::{Kind, RecordBuilder};

use crate::spelling::{DateForm, write_date};
use crate::writer::Error;

/// GYYMM of the month of `date`.
pub(crate) fn era_month(date: CivilDate) -> String {
    write_date(date, DateForm::Receipt)[..5].to_string()
}

/// Free text in a UKE field: the format has no quoting, so commas become 、 and line breaks
/// spaces.
fn uke_text(text: &str) -> String {
    text.replace(',', "、").replace(['\r', '\n'], " ")
}

/// A UKE field list as a line.
fn record(fields: &[&str]) -> String {
    fields.iter().map(|f| uke_text(f)).collect::<Vec<_>>().join(",")
}

/// A record built from the reader's layout (see [`RecordBuilder`]), as a line.
fn built(record: RecordBuilder) -> String {
    let fields: Vec<&str> = record.fields().iter().map(String::as_str).collect();
    self::record(&fields)
}

/// A patient's insurance card as a receipt carries it.
pub(crate) struct Card<'a> {
    pub insurer: &'a str,
    pub symbol: &'a str,
    pub number: &'a str,
    pub branch: &'a str,
}

/// The patient fields of one receipt.
pub(crate) struct Patient<'a> {
    pub name: &'a str,
    pub kana: &'a str,
    pub male: bool,
    pub birth: CivilDate,
    pub card: Card<'a>,
}

/// One dispensed drug line, as in `dispensing.csv`.
pub(crate) struct DispensedLine<'a> {
    pub date: CivilDate,
    pub code: &'a str,
    pub quantity: &'a str,
    pub days: u32,
    pub points: &'a str,
}

/// One chart row (visit diagnosis), as in `charts.csv`.
pub(crate) struct Visit<'a> {
    pub date: CivilDate,
    pub diagnosis: &'a str,
    pub note: &'a str,
}

/// Receipts buffered per claim month and facility, written at the end as one file per month.
#[derive(Default)]
pub(crate) struct UkeFiles {
    /// (month YYYYMM, facility code) → receipts (lines).
    medical: BTreeMap<(String, String), Vec<String>>,
    dispensing: BTreeMap<(String, String), Vec<String>>,
    receipts: u64,
}

impl UkeFiles {
    /// RE, HO and SN of a receipt. `local` is RE field 13 (医科: カルテ番号等) or 14 (調剤: the
    /// prescriber's name); `number` the receipt number (else the next of this writer's).
    fn patient_records(
        &mut self,
        kind: &str,
        month: &str,
        p: &Patient<'_>,
        local: &str,
        prescriber: &str,
        number: Option<&str>,
    ) -> String {
        self.receipts += 1;
        let number = number.map_or_else(|| self.receipts.to_string(), str::to_string);
        let sex = if p.male { "1" } else { "2" };
        let birth = write_date(p.birth, DateForm::Receipt);
        // Each layout's receipt table names the patient columns; 給付割合 (field 7) no table reads.
        let (table, width, month_header, local_header) = if kind == "medical" {
            ("receipts", 38, "診療年月", "カルテ番号等")
        } else {
            ("dispensing-receipts", 42, "調剤年月", "処方医氏名")
        };
        let mut re = RecordBuilder::new("RE", width)
            .set(table, "レセプト番号", &number)
            .set(table, "レセプト種別", "1112")
            .set(table, month_header, month)
            .set(table, "氏名", p.name)
            .set(table, "性別", sex)
            .set(table, "生年月日", &birth)
            .other(7, "30")
            .set(table, local_header, local)
            .set(table, "記録条件仕様年月情報", "50704")
            .set(table, "カナ氏名", p.kana);
        if kind != "medical" {
            // 処方医療機関コード: prefecture, 点数表 and code, which the reader joins.
            re = re.other(9, &prescriber[..2]).other(10, &prescriber[2..3]).other(11, &prescriber[3..]);
        }
        let c = &p.card;
        let visits = if kind == "medical" { "診療実日数" } else { "処方箋受付回数" };
        let ho = RecordBuilder::new("HO", 6)
            .set(table, "保険者番号", c.insurer)
            .set(table, "被保険者証記号", c.symbol)
            .set(table, "被保険者証番号", c.number)
            .set(table, visits, "1")
            .set(table, "合計点数", "0");
        // SN repeats the card (fields 3–5, which the reader takes from HO) before its 枝番.
        let sn = RecordBuilder::new("SN", 7)
            .other(1, "1")
            .other(2, "01")
            .other(3, c.insurer)
            .other(4, c.symbol)
            .other(5, c.number)
            .set(table, "枝番", c.branch);
        format!("{}\r\n{}\r\n{}\r\n", built(re), built(ho), built(sn))
    }

    /// One 調剤 receipt: a prescription (SH + CZ + IY) per line.
    pub fn dispensing(
        &mut self,
        receipt_number: &str,
        pharmacy: &str,
        prescriber: &str,
        doctor: &str,
        p: &Patient<'_>,
        lines: &[DispensedLine<'_>],
    ) {
        let Some(first) = lines.first() else { return };
        let month = era_month(first.date);
        let mut text = self.patient_records("dispensing", &month, p, doctor, prescriber, Some(receipt_number));
        for (rp, line) in lines.iter().enumerate() {
            let date = write_date(line.date, DateForm::Receipt);
            let rp = (rp + 1).to_string();
            let table = "dispensing";
            let sh = RecordBuilder::new("SH", 6).set(table, "Rp番号", &rp).set(table, "剤形コード", "1");
            // SH field 5 (the prescription's points) and CZ field 4 (調剤数量) no table reads.
            text.push_str(&built(sh.other(5, line.points)));
            text.push_str("\r\n");
            let cz = RecordBuilder::new("CZ", 14)
                .set(table, "処方日", &date)
                .set(table, "調剤日", &date)
                .other(4, "1")
                .set(table, "調剤日数", &line.days.to_string())
                .set(table, "点数", line.points);
            text.push_str(&built(cz));
            text.push_str("\r\n");
            let iy = RecordBuilder::new("IY", 4).set(table, "負担区分", "1").set(table, "医薬品コード", line.code).set(
                table,
                "数量",
                line.quantity,
            );
            text.push_str(&built(iy));
            text.push_str("\r\n");
        }
        let key = (format!("{}{:02}", first.date.year, first.date.month), pharmacy.to_string());
        self.dispensing.entry(key).or_default().push(text);
    }

    /// 医科 receipts for one patient at one facility: one per month, a diagnosis (SY) and a
    /// 再診料 (SI, with the day of the visit) per visit, the chart note as a comment (CO).
    pub fn medical(&mut self, facility: &str, patient_id: &str, p: &Patient<'_>, visits: &[Visit<'_>]) {
        let mut by_month: BTreeMap<(i32, u32), Vec<&Visit<'_>>> = BTreeMap::new();
        for v in visits {
            by_month.entry((v.date.year, v.date.month)).or_default().push(v);
        }
        for ((year, month_number), visits) in by_month {
            let month = era_month(visits[0].date);
            let mut text = self.patient_records("medical", &month, p, patient_id, "", None);
            for v in &visits {
                let date = write_date(v.date, DateForm::Receipt);
                let sy = RecordBuilder::new("SY", 7)
                    .set("diagnoses", "傷病名コード", "0000999")
                    .set("diagnoses", "診療開始日", &date)
                    .set("diagnoses", "傷病名称", v.diagnosis);
                text.push_str(&built(sy));
                text.push_str("\r\n");
                let si = RecordBuilder::new("SI", 44)
                    .set("procedures", "診療識別", "12")
                    .set("procedures", "負担区分", "1")
                    .set("procedures", "診療行為コード", "112007410")
                    .set("procedures", "点数", "73")
                    .set("procedures", "回数", "1")
                    .day("procedures", v.date.day, "1");
                text.push_str(&built(si));
                text.push_str("\r\n");
                if !v.note.is_empty() {
                    // CO fields 1–2 (診療識別, 負担区分) no table reads.
                    let co = RecordBuilder::new("CO", 5).other(1, "12").other(2, "1").comment(
                        Kind::Medical,
                        "810000001",
                        v.note,
                    );
                    text.push_str(&built(co));
                    text.push_str("\r\n");
                }
            }
            self.medical.entry((format!("{year}{month_number:02}"), facility.to_string())).or_default().push(text);
        }
    }

    /// Writes `medical/RECEIPTC_YYYYMM.UKE` and `dispensing/RECEIPTY_YYYYMM.UKE` under `dir`
    /// (cp932, CRLF): per month, a block per facility (IR/YK, receipts, GO).
    pub fn finish(self, dir: &Path) -> Result<u64, Error> {
        let mut files = 0;
        for (kind, receipts) in [("medical", self.medical), ("dispensing", self.dispensing)] {
            let sub = dir.join(kind);
            std::fs::create_dir_all(&sub).map_err(|source| Error::Io { path: sub.display().to_string(), source })?;
            let mut by_month: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
            for ((month, facility), texts) in receipts {
                by_month.entry(month).or_default().push((facility, texts));
            }
            for (month, facilities) in by_month {
                let prefix = if kind == "medical" { "RECEIPTC" } else { "RECEIPTY" };
                let path: PathBuf = sub.join(format!("{prefix}_{month}.UKE"));
                let year: i32 = month[..4].parse().expect("YYYYMM");
                let m: u32 = month[4..].parse().expect("YYYYMM");
                let next = if m == 12 {
                    CivilDate { year: year + 1, month: 1, day: 1 }
                } else {
                    CivilDate { year, month: m + 1, day: 1 }
                };
                let claim = era_month(next);
                let mut text = String::new();
                for (facility, receipts) in facilities {
                    let (pref, table, code) = (&facility[..2], &facility[2..3], &facility[3..]);
                    let header = if kind == "medical" {
                        record(&["IR", "1", pref, table, code, "", "(synthetic) 医療機関", &claim, "00", ""])
                    } else {
                        record(&["YK", "1", pref, table, code, "(synthetic) 薬局", &claim, "00", ""])
                    };
                    text.push_str(&header);
                    text.push_str("\r\n");
                    for r in &receipts {
                        text.push_str(r);
                    }
                    text.push_str(&record(&["GO", &receipts.len().to_string(), "0", "99"]));
                    text.push_str("\r\n");
                }
                let shown = path.display().to_string();
                let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
                if unmappable {
                    return Err(Error::Unencodable { path: shown });
                }
                let mut out =
                    std::fs::File::create(&path).map_err(|source| Error::Io { path: shown.clone(), source })?;
                out.write_all(&bytes).map_err(|source| Error::Io { path: shown, source })?;
                files += 1;
            }
        }
        Ok(files)
    }
}

/// XML text or attribute value.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// One checkup, as in `checkups.csv`: identifiers and the values as written there.
pub(crate) struct Checkup<'a> {
    pub insurer: &'a str,
    pub symbol: &'a str,
    pub number: &'a str,
    pub branch: &'a str,
    pub kana: &'a str,
    pub male: bool,
    pub birth: CivilDate,
    pub postal: &'a str,
    pub date: CivilDate,
    pub facility: &'a str,
    pub voucher: &'a str,
    /// `(JLAC10 code, value, unit)`; a unit of `None` marks a coded (CO) urine result.
    pub items: Vec<(&'static str, String, Option<&'static str>)>,
}

/// The JLAC10 code and unit each `checkups.csv` value column is written with (the first code
/// of its item), in the CSV's column order from 身長 on; urine results are coded.
pub(crate) const CHECKUP_CODES: [(&str, Option<&str>); 16] = [
    ("9N001000000000001", Some("cm")),
    ("9N006000000000001", Some("kg")),
    ("9N011000000000001", Some("kg/m2")),
    ("9N016160100000001", Some("cm")),
    ("9A755000000000001", Some("mmHg")),
    ("9A765000000000001", Some("mmHg")),
    ("3F015000002327101", Some("mg/dL")),
    ("3F070000002327101", Some("mg/dL")),
    ("3F077000002327101", Some("mg/dL")),
    ("3B035000002327201", Some("U/L")),
    ("3B045000002327201", Some("U/L")),
    ("3B090000002327101", Some("U/L")),
    ("3D010000001926101", Some("mg/dL")),
    ("3D046000001906202", Some("%")),
    ("1A020000000190111", None),
    ("1A010000000190111", None),
];

/// Urine result spellings → the CO codes of code system 1.2.392.200119.6.2101.
fn urine_code(value: &str) -> &'static str {
    match value {
        "±" => "2",
        "+" => "3",
        "2+" => "4",
        "3+" => "5",
        _ => "1",
    }
}

/// 特定健診 XML documents buffered per fiscal year, written as one exchange ZIP per year.
#[derive(Default)]
pub(crate) struct CdaFiles {
    packages: BTreeMap<i32, Vec<String>>,
}

impl CdaFiles {
    /// One checkup result document (HL7 CDA R2, the 特定健診 layout).
    pub fn checkup(&mut self, c: &Checkup<'_>) {
        let fiscal_year = if c.date.month >= 4 { c.date.year } else { c.date.year - 1 };
        let ymd = |d: CivilDate| format!("{:04}{:02}{:02}", d.year, d.month, d.day);
        let (family, given) = c.kana.split_once('\u{3000}').unwrap_or((c.kana, ""));
        let mut doc = String::with_capacity(4096);
        doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        doc.push_str("<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"urn:hl7-org:v3 ../XSD/hc08_V08.xsd\">\n");
        doc.push_str("  <typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>\n");
        doc.push_str("  <code code=\"10\" codeSystem=\"1.2.392.200119.6.1001\"/>\n");
        doc.push_str(&format!("  <effectiveTime value=\"{}\"/>\n", ymd(c.date)));
        doc.push_str("  <recordTarget>\n    <patientRole>\n");
        for (root, value) in [
            ("1.2.392.200119.6.101", c.insurer),
            ("1.2.392.200119.6.204", c.symbol),
            ("1.2.392.200119.6.205", c.number),
            ("1.2.392.200119.6.211", c.branch),
        ] {
            doc.push_str(&format!("      <id root=\"{root}\" extension=\"{}\"/>\n", xml(value)));
        }
        doc.push_str(&format!("      <addr><postalCode>{}</postalCode></addr>\n      <patient>\n", xml(c.postal)));
        doc.push_str(&format!(
            "        <name use=\"SYL\"><family>{}</family><given>{}</given></name>\n",
            xml(family),
            xml(given)
        ));
        doc.push_str(&format!(
            "        <administrativeGenderCode code=\"{}\" codeSystem=\"1.2.392.200119.6.1104\"/>\n",
            if c.male { 1 } else { 2 }
        ));
        doc.push_str(&format!(
            "        <birthTime value=\"{}\"/>\n      </patient>\n    </patientRole>\n  </recordTarget>\n",
            ymd(c.birth)
        ));
        doc.push_str(&format!(
            "  <author><time value=\"{}\"/><assignedAuthor><id nullFlavor=\"NI\"/><representedOrganization><id root=\"1.2.392.200119.6.102\" extension=\"{}\"/><name>(synthetic) 健診機関</name></representedOrganization></assignedAuthor></author>\n",
            ymd(c.date),
            xml(c.facility)
        ));
        doc.push_str(&format!(
            "  <participant typeCode=\"HLD\"><associatedEntity classCode=\"IDENT\"><id root=\"1.2.392.200119.6.209.{}\" extension=\"{}\"/></associatedEntity></participant>\n",
            xml(c.insurer),
            xml(c.voucher)
        ));
        doc.push_str(&format!(
            "  <documentationOf><serviceEvent classCode=\"PCPR\"><effectiveTime value=\"{}\"/></serviceEvent></documentationOf>\n",
            ymd(c.date)
        ));
        doc.push_str("  <component><structuredBody><component><section>\n    <code code=\"01010\" codeSystem=\"1.2.392.200119.6.1010\"/>\n");
        for (code, value, unit) in &c.items {
            let value = match unit {
                Some(unit) => format!("<value xsi:type=\"PQ\" value=\"{}\" unit=\"{}\"/>", xml(value), xml(unit)),
                None => format!(
                    "<value xsi:type=\"CO\" code=\"{}\" codeSystem=\"1.2.392.200119.6.2101\"/>",
                    urine_code(value)
                ),
            };
            doc.push_str(&format!(
                "    <entry><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"{code}\" codeSystem=\"1.2.392.200119.6.1005\"/>{value}</observation></entry>\n"
            ));
        }
        // A free-text item no checkups column takes: it goes to the observations table.
        doc.push_str("    <entry><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"9N056160400000049\" codeSystem=\"1.2.392.200119.6.1005\"/><value xsi:type=\"ST\">特記事項なし</value></observation></entry>\n");
        doc.push_str("  </section></component></structuredBody></component>\n</ClinicalDocument>\n");
        self.packages.entry(fiscal_year).or_default().push(doc);
    }

    /// Writes `checkups_FY<year>.zip` under `dir`: an index file and `DATA/h<n>.xml` per result.
    pub fn finish(self, dir: &Path) -> Result<u64, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
        let mut files = 0;
        for (year, documents) in self.packages {
            let path = dir.join(format!("checkups_FY{year}.zip"));
            let shown = path.display().to_string();
            let zip_error =
                |e: zip::result::ZipError| Error::Io { path: shown.clone(), source: std::io::Error::other(e) };
            let io = |source| Error::Io { path: shown.clone(), source };
            let file = std::fs::File::create(&path).map_err(io)?;
            let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
            // A fixed timestamp, so the same population gives the same bytes.
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(zip::DateTime::default());
            zip.start_file("ix08_V08.xml", options).map_err(zip_error)?;
            let index = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<index><interactionType>1</interactionType><numberOfDocuments>{}</numberOfDocuments></index>\n",
                documents.len()
            );
            zip.write_all(index.as_bytes()).map_err(io)?;
            for (i, doc) in documents.iter().enumerate() {
                zip.start_file(format!("DATA/h{:08}.xml", i + 1), options).map_err(zip_error)?;
                zip.write_all(doc.as_bytes()).map_err(io)?;
            }
            zip.finish().map_err(zip_error)?;
            files += 1;
        }
        Ok(files)
    }
}

/// HL7 v2 text field: the delimiters escaped.
fn hl7(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One chart row (visit diagnosis) as an SS-MIX2 writer needs it.
pub(crate) struct ChartRow<'a> {
    pub facility: &'a str,
    pub patient_id: &'a str,
    pub name: &'a str,
    pub kana: &'a str,
    pub birth: CivilDate,
    pub male: bool,
    pub address: &'a str,
    pub phone: &'a str,
    pub date: CivilDate,
    pub department: &'a str,
    pub icd10: &'a str,
    pub diagnosis: &'a str,
    pub note: &'a str,
}

/// An SS-MIX2 storage per facility under `ssmix2/<facility>/`: a 患者基本 message (ADT-00) per
/// patient and a 病名 message (PPR-01: PV1, PRB with the ICD-10 code, NTE with the chart note)
/// per chart row, ISO-2022-JP, segments ended by CR.
pub(crate) struct SsMix2Files {
    root: PathBuf,
    order: u64,
    patients: std::collections::HashSet<(String, String)>,
    pub files: u64,
}

impl SsMix2Files {
    pub fn new(root: PathBuf) -> SsMix2Files {
        SsMix2Files { root, order: 0, patients: std::collections::HashSet::new(), files: 0 }
    }

    fn write(&mut self, r: &ChartRow<'_>, date_folder: &str, data_type: &str, message: &str) -> Result<(), Error> {
        self.order += 1;
        let id = r.patient_id;
        let dir = self
            .root
            .join(r.facility)
            .join(&id[..3.min(id.len())])
            .join(&id[3.min(id.len())..6.min(id.len())])
            .join(id)
            .join(date_folder)
            .join(data_type);
        let io = |source| Error::Io { path: dir.display().to_string(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let stamp = if date_folder == "-" { "-".to_string() } else { format!("{date_folder}120000000") };
        let name = format!("{id}_{date_folder}_{data_type}_{:015}_{stamp}_01_1", self.order);
        let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(message);
        if unmappable {
            return Err(Error::Unencodable { path: dir.display().to_string() });
        }
        std::fs::write(dir.join(name), bytes).map_err(io)?;
        self.files += 1;
        Ok(())
    }

    /// The MSH and PID segments of a message about `r`'s patient.
    fn header(&self, r: &ChartRow<'_>, kind: &str, stamp: &str) -> String {
        let ymd = format!("{:04}{:02}{:02}", r.birth.year, r.birth.month, r.birth.day);
        let (family, given) = r.name.split_once('\u{3000}').unwrap_or((r.name, ""));
        // JIS X 0208 has no half-width kana: a hospital system stores them full-width (NFKC,
        // which also joins ﾞ and ﾟ to their kana; the ISO-2022-JP encoder alone would not).
        let kana: String = unicode_normalization::UnicodeNormalization::nfkc(r.kana).collect();
        let (kana_family, kana_given) = kana.split_once(['\u{3000}', ' ']).unwrap_or((&kana, ""));
        format!(
            "MSH|^~\\&|HIS|{facility}|SSMIX2|{facility}|{stamp}||{kind}|{order:015}|P|2.5||||||~ISO IR87||ISO 2022-1994\r\
             PID|0001||{id}^^^^PI||{family}^{given}^^^^^L^I~{kana_family}^{kana_given}^^^^^L^P||{ymd}|{sex}|||{address}^^^^^JPN^H||{phone}^PRN^PH\r",
            facility = hl7(r.facility),
            order = self.order + 1,
            id = hl7(r.patient_id),
            family = hl7(family),
            given = hl7(given),
            kana_family = hl7(kana_family),
            kana_given = hl7(kana_given),
            sex = if r.male { "M" } else { "F" },
            address = hl7(r.address),
            phone = hl7(r.phone),
        )
    }

    /// Writes the chart row as a 病名 message (and the patient's 患者基本 message, once).
    pub fn chart_row(&mut self, r: &ChartRow<'_>) -> Result<(), Error> {
        let date = format!("{:04}{:02}{:02}", r.date.year, r.date.month, r.date.day);
        if self.patients.insert((r.facility.to_string(), r.patient_id.to_string())) {
            let message = self.header(r, "ADT^A08^ADT_A01", "20260101000000");
            self.write(r, "-", "ADT-00", &message)?;
        }
        let mut message = self.header(r, "PPR^ZD1^PPR_ZD1", &format!("{date}120000"));
        message.push_str(&format!("PV1|0001|O||||||||01^{}^99Z01\r", hl7(r.department)));
        message.push_str(&format!(
            "PRB|AD|{date}|{}^{}^I10|{}|||{date}\r",
            hl7(r.icd10),
            hl7(r.diagnosis),
            self.order + 1
        ));
        if !r.note.is_empty() {
            message.push_str(&format!("NTE|1||{}\r", hl7(r.note)));
        }
        self.write(r, &date, "PPR-01", &message)
    }
}
