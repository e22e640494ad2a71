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
}
