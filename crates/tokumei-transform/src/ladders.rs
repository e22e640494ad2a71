//! Built-in hierarchies for the medical codes and values tokumei generalizes: dates, ICD-10
//! codes, drug (YJ) codes, facility codes and numeric intervals.
//!
//! **What it does.** Each builder labels a value at one of its levels, finest first:
//! - dates: day `2024-03-15` → month `2024-03` → quarter `2024-Q1` → year `2024` → 5 years
//!   `2020-2024`;
//! - ICD-10: code `E11.9`→`E119` → 3-character category `E11` → chapter `IV (E00-E90)`;
//! - drug codes (薬価基準収載医薬品コード, YJ): product (12 characters) → ingredient (first 7) →
//!   therapeutic class (薬効分類, first 4) → class group (first 3);
//! - facility codes (医療機関コード, 10 digits: prefecture 2, 点数表 1, district 2, number 4,
//!   check 1): code → prefecture + type (first 3) → prefecture (first 2);
//! - numbers: the value (top/bottom coded) → intervals of each configured width.
//!
//! **Why.** These are the quasi-identifiers of medical records; a ladder per kind lets the
//! privacy search coarsen each only as far as the data needs (the guideline's 一般化).
//! **Example.** `Icd10Level::Chapter` of `I21.0` is `IX (I00-I99)`.
//! **Privacy notes.** Every level is a function of the one below (the search relies on it); a
//! value that does not read as its kind is unreadable at every level (a suppressed cell).

use serde::Deserialize;
use tokumei_core::normalize::{CivilDate, digits_key};
use unicode_normalization::UnicodeNormalization;

/// Levels of a date ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateLevel {
    /// `2024-03-15`.
    Day,
    /// `2024-03`.
    Month,
    /// `2024-Q1`.
    Quarter,
    /// `2024`.
    Year,
    /// `2020-2024` (five calendar years starting at a multiple of 5).
    FiveYears,
}

impl DateLevel {
    /// The label of the date `days` (since 1970-01-01).
    pub fn label(self, days: i32) -> String {
        let d = CivilDate::from_epoch_days(days);
        match self {
            DateLevel::Day => d.to_string(),
            DateLevel::Month => format!("{:04}-{:02}", d.year, d.month),
            DateLevel::Quarter => format!("{:04}-Q{}", d.year, (d.month - 1) / 3 + 1),
            DateLevel::Year => format!("{:04}", d.year),
            DateLevel::FiveYears => {
                let start = d.year.div_euclid(5) * 5;
                format!("{:04}-{:04}", start, start + 4)
            }
        }
    }

    /// Description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            DateLevel::Day => "day",
            DateLevel::Month => "year-month",
            DateLevel::Quarter => "quarter",
            DateLevel::Year => "year",
            DateLevel::FiveYears => "5 years",
        }
    }
}

/// Levels of an ICD-10 ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Icd10Level {
    /// The full code, normalized (upper case, no dot): `E119`.
    Code,
    /// The 3-character category: `E11`.
    Category,
    /// The chapter (WHO ICD-10 2019): `IV (E00-E90)`.
    Chapter,
}

/// WHO ICD-10 chapters: (first category, last category, numeral).
const ICD10_CHAPTERS: [(&str, &str, &str); 22] = [
    ("A00", "B99", "I"),
    ("C00", "D48", "II"),
    ("D50", "D89", "III"),
    ("E00", "E90", "IV"),
    ("F00", "F99", "V"),
    ("G00", "G99", "VI"),
    ("H00", "H59", "VII"),
    ("H60", "H95", "VIII"),
    ("I00", "I99", "IX"),
    ("J00", "J99", "X"),
    ("K00", "K93", "XI"),
    ("L00", "L99", "XII"),
    ("M00", "M99", "XIII"),
    ("N00", "N99", "XIV"),
    ("O00", "O99", "XV"),
    ("P00", "P96", "XVI"),
    ("Q00", "Q99", "XVII"),
    ("R00", "R99", "XVIII"),
    ("S00", "T98", "XIX"),
    ("V01", "Y98", "XX"),
    ("Z00", "Z99", "XXI"),
    ("U00", "U85", "XXII"),
];

impl Icd10Level {
    /// The label of an ICD-10 code; `None` when it is not one (letter, two digits, then up to
    /// four letters or digits; a dot after the category is allowed).
    pub fn label(self, code: &str) -> Option<String> {
        // NFKC folds the full-width letters, digits and dot Japanese systems often write.
        let normalized: String =
            code.nfkc().filter(|c| !c.is_whitespace() && *c != '.').collect::<String>().to_ascii_uppercase();
        let bytes = normalized.as_bytes();
        let valid = (3..=7).contains(&bytes.len())
            && bytes[0].is_ascii_uppercase()
            && bytes[1].is_ascii_digit()
            && bytes[2].is_ascii_alphanumeric()
            && bytes[3..].iter().all(u8::is_ascii_alphanumeric);
        if !valid {
            return None;
        }
        let category = &normalized[..3];
        match self {
            Icd10Level::Code => Some(normalized.clone()),
            Icd10Level::Category => Some(category.to_string()),
            Icd10Level::Chapter => ICD10_CHAPTERS
                .iter()
                .find(|(first, last, _)| (*first..=*last).contains(&category))
                .map(|(first, last, numeral)| format!("{numeral} ({first}-{last})")),
        }
    }

    /// Description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Icd10Level::Code => "ICD-10 code",
            Icd10Level::Category => "ICD-10 3-character category",
            Icd10Level::Chapter => "ICD-10 chapter",
        }
    }
}

/// Levels of a drug-code (YJ) ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrugLevel {
    /// The product: all 12 characters.
    Product,
    /// The ingredient: the first 7 (薬効分類 + 成分).
    Ingredient,
    /// The therapeutic class (薬効分類番号): the first 4.
    Class,
    /// The class group: the first 3.
    ClassGroup,
}

impl DrugLevel {
    /// The label of a YJ code; `None` when it is not one (12 characters, the first 7 digits).
    pub fn label(self, code: &str) -> Option<String> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let valid = code.len() == 12
            && code.bytes().take(7).all(|b| b.is_ascii_digit())
            && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return None;
        }
        let keep = match self {
            DrugLevel::Product => 12,
            DrugLevel::Ingredient => 7,
            DrugLevel::Class => 4,
            DrugLevel::ClassGroup => 3,
        };
        Some(code[..keep].to_string())
    }

    /// Description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            DrugLevel::Product => "drug product (YJ)",
            DrugLevel::Ingredient => "drug ingredient",
            DrugLevel::Class => "therapeutic class (薬効分類)",
            DrugLevel::ClassGroup => "therapeutic class group",
        }
    }
}

/// Levels of a facility-code ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FacilityLevel {
    /// The 10-digit code.
    Code,
    /// Prefecture and type (医科 1, 歯科 3, 調剤 4): the first 3 digits.
    PrefectureType,
    /// Prefecture: the first 2 digits.
    Prefecture,
    /// Region (地方) of the prefecture: 北海道, 東北, 関東, 中部, 近畿, 中国, 四国, 九州・沖縄.
    Region,
}

impl FacilityLevel {
    /// The label of a facility code; `None` unless it has 10 digits (full-width or hyphenated
    /// spellings are read).
    pub fn label(self, code: &str) -> Option<String> {
        let digits = digits_key(code)?;
        if digits.len() != 10 {
            return None;
        }
        let keep = match self {
            FacilityLevel::Code => 10,
            FacilityLevel::PrefectureType => 3,
            FacilityLevel::Prefecture => 2,
            FacilityLevel::Region => {
                let code: u8 = digits[..2].parse().ok()?;
                return tokumei_core::geo::prefecture_by_code(code).map(|p| p.region.to_string());
            }
        };
        Some(digits[..keep].to_string())
    }

    /// Description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            FacilityLevel::Code => "facility code",
            FacilityLevel::PrefectureType => "prefecture + facility type",
            FacilityLevel::Prefecture => "facility prefecture",
            FacilityLevel::Region => "facility region (地方)",
        }
    }
}

/// Numeric intervals: level 0 the value itself, level i intervals of `widths[i-1]`, anchored at
/// `bottom` (else 0); values below `bottom` or at/above `top` are coded `<bottom` / `>=top` at
/// every level.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervals {
    /// Interval widths, finest first; each a multiple of the one before.
    pub widths: Vec<f64>,
    /// Bottom code.
    pub bottom: Option<f64>,
    /// Top code.
    pub top: Option<f64>,
}

/// Why interval widths cannot make a ladder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntervalError {
    /// A width that is not a positive number.
    #[error("interval widths must be positive numbers")]
    NotPositive,
    /// A width that does not nest the one before it.
    #[error("interval width {width} is not a multiple of {of}")]
    NotMultiple {
        /// The width.
        width: f64,
        /// The width before it.
        of: f64,
    },
    /// Bottom and top codes the wrong way round.
    #[error("interval bottom must be below top")]
    BottomNotBelowTop,
}

impl Intervals {
    /// Checks the widths: positive, finite, each a whole multiple of the previous one, and
    /// bottom < top.
    pub fn validate(&self) -> Result<(), IntervalError> {
        if self.widths.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
            return Err(IntervalError::NotPositive);
        }
        for pair in self.widths.windows(2) {
            let ratio = pair[1] / pair[0];
            if (ratio - ratio.round()).abs() > 1e-9 || ratio < 1.0 {
                return Err(IntervalError::NotMultiple { width: pair[1], of: pair[0] });
            }
        }
        if let (Some(b), Some(t)) = (self.bottom, self.top)
            && b >= t
        {
            return Err(IntervalError::BottomNotBelowTop);
        }
        Ok(())
    }

    fn number(x: f64) -> String {
        if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
    }

    /// The label of `x` at `level` (0 = the value).
    pub fn label(&self, x: f64, level: usize) -> Option<String> {
        if !x.is_finite() {
            return None;
        }
        if let Some(b) = self.bottom
            && x < b
        {
            return Some(format!("<{}", Self::number(b)));
        }
        if let Some(t) = self.top
            && x >= t
        {
            return Some(format!(">={}", Self::number(t)));
        }
        if level == 0 {
            return Some(Self::number(x));
        }
        let width = self.widths[level - 1];
        let anchor = self.bottom.unwrap_or(0.0);
        let start = anchor + ((x - anchor) / width).floor() * width;
        let mut end = start + width;
        if let Some(t) = self.top {
            end = end.min(t);
        }
        Some(format!("[{}, {})", Self::number(start), Self::number(end)))
    }

    /// Description of `level` for reports.
    pub fn describe(&self, level: usize) -> String {
        match level {
            0 => "value".into(),
            l => format!("intervals of {}", Self::number(self.widths[l - 1])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_levels() {
        let d = CivilDate::new(2024, 8, 15).unwrap().to_epoch_days();
        let labels: Vec<String> =
            [DateLevel::Day, DateLevel::Month, DateLevel::Quarter, DateLevel::Year, DateLevel::FiveYears]
                .iter()
                .map(|l| l.label(d))
                .collect();
        assert_eq!(labels, ["2024-08-15", "2024-08", "2024-Q3", "2024", "2020-2024"]);
    }

    #[test]
    fn icd10_levels() {
        assert_eq!(Icd10Level::Code.label("e11.9").as_deref(), Some("E119"));
        assert_eq!(Icd10Level::Category.label("Ｅ１１．９").as_deref(), Some("E11"));
        assert_eq!(Icd10Level::Chapter.label("E11.9").as_deref(), Some("IV (E00-E90)"));
        assert_eq!(Icd10Level::Chapter.label("T14").as_deref(), Some("XIX (S00-T98)"));
        assert_eq!(Icd10Level::Chapter.label("H65").as_deref(), Some("VIII (H60-H95)"));
        assert_eq!(Icd10Level::Chapter.label("U07.1").as_deref(), Some("XXII (U00-U85)"));
        assert_eq!(Icd10Level::Code.label("8830001"), None);
        assert_eq!(Icd10Level::Chapter.label("H97"), None, "outside every chapter");
    }

    #[test]
    fn drug_and_facility_levels() {
        assert_eq!(DrugLevel::Ingredient.label("2149039F1030").as_deref(), Some("2149039"));
        assert_eq!(DrugLevel::Class.label("2149039F1030").as_deref(), Some("2149"));
        assert_eq!(DrugLevel::Product.label("620000001"), None, "a レセ電 code is not a YJ code");
        assert_eq!(FacilityLevel::PrefectureType.label("1312345678").as_deref(), Some("131"));
        assert_eq!(FacilityLevel::Prefecture.label("１３１２３４５６７８").as_deref(), Some("13"));
        assert_eq!(FacilityLevel::Code.label("13123"), None);
    }

    #[test]
    fn intervals_nest_and_code_the_tails() {
        let i = Intervals { widths: vec![5.0, 10.0], bottom: Some(20.0), top: Some(100.0) };
        assert!(i.validate().is_ok());
        assert_eq!(i.label(37.0, 0).as_deref(), Some("37"));
        assert_eq!(i.label(37.0, 1).as_deref(), Some("[35, 40)"));
        assert_eq!(i.label(37.0, 2).as_deref(), Some("[30, 40)"));
        assert_eq!(i.label(12.0, 2).as_deref(), Some("<20"));
        assert_eq!(i.label(120.5, 1).as_deref(), Some(">=100"));
        assert!(Intervals { widths: vec![5.0, 12.0], bottom: None, top: None }.validate().is_err());
    }

    proptest::proptest! {
        /// Every level is a function of the level below: equal labels below, equal labels above.
        #[test]
        fn interval_levels_nest(a in -50.0f64..150.0, b in -50.0f64..150.0) {
            let i = Intervals { widths: vec![2.5, 5.0, 20.0], bottom: Some(0.0), top: Some(120.0) };
            for level in 1..3 {
                if i.label(a, level) == i.label(b, level) {
                    proptest::prop_assert_eq!(i.label(a, level + 1), i.label(b, level + 1));
                }
            }
        }
    }
}
