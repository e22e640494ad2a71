//! Typing one cell; the rules are the same for CSV and Parquet.

use tokumei_core::ValueType;
use tokumei_core::normalize::{DateError, Sex, parse_date};
use unicode_normalization::UnicodeNormalization;

/// A typed cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Text(&'a str),
    Date(i32),
    Int(i64),
    Float(f64),
}

/// Why a cell could not be typed. Describes what was expected, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellProblem {
    /// Not a date in any accepted form.
    UnreadableDate,
    /// A date that does not exist (2月30日).
    NoSuchDate,
    /// An era date outside its era (昭和65年).
    DateOutsideEra,
    /// Not a whole number.
    NotAnInteger,
    /// Not a decimal number.
    NotANumber,
    /// Not a sex code (1/2, 男/女, M/F).
    UnknownSexCode,
    /// A national-format record read whole (a CDA document, an HL7 message) that is not
    /// well-formed or not in its declared encoding: quarantined whole.
    MalformedRecord,
    /// A control character (NUL, escape, …; line breaks and tabs outside free text): a sign of
    /// a broken export or of binary data in a text field.
    ControlCharacter,
    /// A cell larger than `[ingest] max-cell-bytes`.
    CellTooLarge,
}

impl CellProblem {
    /// What was expected, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            CellProblem::UnreadableDate => "a date (YYYY-MM-DD, YYYYMMDD, 昭和45年3月2日, S45.03.02 or GYYMMDD)",
            CellProblem::NoSuchDate => "a calendar day that exists",
            CellProblem::DateOutsideEra => "an era date within its era",
            CellProblem::NotAnInteger => "a whole number",
            CellProblem::NotANumber => "a decimal number",
            CellProblem::UnknownSexCode => "a sex code (1/2, 男/女, M/F)",
            CellProblem::MalformedRecord => "a well-formed document or message in its declared encoding",
            CellProblem::ControlCharacter => "text without control characters (line breaks only in free text)",
            CellProblem::CellTooLarge => "a cell no larger than [ingest] max-cell-bytes",
        }
    }
}

/// The cell's text after NFKC (full-width digits → ASCII); borrowed when already normalized.
fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    if unicode_normalization::is_nfkc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfkc().collect())
    }
}

/// Checks what any cell must satisfy, whatever its type: at most `max_bytes`, and no control
/// character (C0, DEL, C1) except line breaks and tabs where `multiline`.
pub(crate) fn check_cell(raw: &str, multiline: bool, max_bytes: usize) -> Result<(), CellProblem> {
    if raw.len() > max_bytes {
        return Err(CellProblem::CellTooLarge);
    }
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let control = match b {
            b'\n' | b'\r' | b'\t' => !multiline,
            0..0x20 | 0x7f => true,
            // C1 controls U+0080–U+009F are 0xC2 0x80–0x9F in UTF-8.
            0xc2 => bytes.get(i + 1).is_some_and(|next| (0x80..=0x9f).contains(next)),
            _ => false,
        };
        if control {
            return Err(CellProblem::ControlCharacter);
        }
    }
    Ok(())
}

pub(crate) fn type_cell(raw: &str, value_type: ValueType) -> Result<Cell<'_>, CellProblem> {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace());
    if trimmed.is_empty() {
        return Ok(Cell::Null);
    }
    match value_type {
        ValueType::Text => Ok(Cell::Text(trimmed)),
        ValueType::Date => parse_date(trimmed).map(|d| Cell::Date(d.to_epoch_days())).map_err(|e| match e {
            DateError::Unrecognized => CellProblem::UnreadableDate,
            DateError::NoSuchDay => CellProblem::NoSuchDate,
            DateError::OutsideEra => CellProblem::DateOutsideEra,
        }),
        ValueType::Integer => nfkc(trimmed).parse::<i64>().map(Cell::Int).map_err(|_| CellProblem::NotAnInteger),
        ValueType::Decimal => match nfkc(trimmed).parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Cell::Float(x)),
            _ => Err(CellProblem::NotANumber),
        },
        ValueType::Sex => {
            Sex::parse(trimmed).map(|s| Cell::Int(i64::from(s.code()))).ok_or(CellProblem::UnknownSexCode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(type_cell("  ", ValueType::Date), Ok(Cell::Null));
        assert_eq!(type_cell("１２３", ValueType::Integer), Ok(Cell::Int(123)));
        assert_eq!(type_cell("１２．５", ValueType::Decimal), Ok(Cell::Float(12.5)));
        assert_eq!(type_cell("NaN", ValueType::Decimal), Err(CellProblem::NotANumber));
        assert_eq!(type_cell("12a", ValueType::Integer), Err(CellProblem::NotAnInteger));
        assert_eq!(type_cell("女", ValueType::Sex), Ok(Cell::Int(2)));
        assert_eq!(type_cell("昭和65年1月1日", ValueType::Date), Err(CellProblem::DateOutsideEra));
        assert_eq!(type_cell("2023-02-30", ValueType::Date), Err(CellProblem::NoSuchDate));
    }

    #[test]
    fn control_characters_and_oversized_cells() {
        assert_eq!(check_cell("ヤマダ\u{0}タロウ", false, 100), Err(CellProblem::ControlCharacter));
        assert_eq!(check_cell("a\u{1b}[31m", true, 100), Err(CellProblem::ControlCharacter));
        assert_eq!(check_cell("a\u{85}b", true, 100), Err(CellProblem::ControlCharacter));
        assert_eq!(check_cell("一行目\n二行目", false, 100), Err(CellProblem::ControlCharacter));
        assert_eq!(check_cell("一行目\r\n二行目\t", true, 100), Ok(()));
        assert_eq!(check_cell("ÀÉ漢字ｶﾅ", false, 100), Ok(()));
        assert_eq!(check_cell(&"あ".repeat(40), false, 100), Err(CellProblem::CellTooLarge));
        assert_eq!(check_cell(&"あ".repeat(33), false, 100), Ok(()));
    }
}
