//! Dates as Japanese systems write them: Western, 和暦 kanji, era letters, receipt GYYMMDD.

use std::fmt;

/// A calendar date that has been checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    /// Western year, e.g. 1970.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day of month, 1–31.
    pub day: u32,
}

/// Why a date string could not be read. Carries no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text matches none of the accepted forms.
    #[error("not a date in any accepted form (YYYY-MM-DD, YYYYMMDD, 昭和45年3月2日, S45.03.02, GYYMMDD)")]
    Unrecognized,
    /// The fields are numbers but name no calendar day (e.g. 2月30日).
    #[error("no such calendar day")]
    NoSuchDay,
    /// An era date outside its era (e.g. 昭和65年, or 平成元年1月7日).
    #[error("date lies outside the named era")]
    OutsideEra,
}

/// The Japanese eras a birth date can fall in, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 明治 (receipt code 1, letter M)
    Meiji,
    /// 大正 (2, T)
    Taisho,
    /// 昭和 (3, S)
    Showa,
    /// 平成 (4, H)
    Heisei,
    /// 令和 (5, R)
    Reiwa,
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The receipt (レセプト電算) era code: 1 明治 … 5 令和.
    pub fn receipt_code(self) -> u32 {
        self as u32 + 1
    }

    /// From the receipt era code.
    pub fn from_receipt_code(code: u32) -> Option<Era> {
        Era::ALL.get(code.checked_sub(1)? as usize).copied()
    }

    /// Kanji name, e.g. `昭和`.
    pub fn kanji(self) -> &'static str {
        ["明治", "大正", "昭和", "平成", "令和"][self as usize]
    }

    /// Letter, e.g. `S`.
    pub fn letter(self) -> char {
        ['M', 'T', 'S', 'H', 'R'][self as usize]
    }

    fn first_day(self) -> CivilDate {
        let (year, month, day) =
            [(1868, 1, 1), (1912, 7, 30), (1926, 12, 25), (1989, 1, 8), (2019, 5, 1)][self as usize];
        CivilDate { year, month, day }
    }

    fn last_day(self) -> Option<CivilDate> {
        match self {
            Era::Reiwa => None,
            _ => {
                let next = Era::ALL[self as usize + 1].first_day();
                Some(next.plus_days(-1))
            }
        }
    }

    /// The era a Western date falls in, if any.
    pub fn of(date: CivilDate) -> Option<Era> {
        Era::ALL.iter().rev().copied().find(|era| date >= era.first_day())
    }

    /// Year within the era (元年 = 1).
    pub fn year_of(self, date: CivilDate) -> i32 {
        date.year - self.first_day().year + 1
    }
}

impl CivilDate {
    /// A checked date.
    pub fn new(year: i32, month: u32, day: u32) -> Result<CivilDate, DateError> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(DateError::NoSuchDay);
        }
        Ok(CivilDate { year, month, day })
    }

    /// Days since 1970-01-01 (the Arrow / polars `Date` representation).
    pub fn to_epoch_days(self) -> i32 {
        // Howard Hinnant's days_from_civil.
        let y = if self.month <= 2 { self.year - 1 } else { self.year };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.month as i32;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + self.day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Inverse of [`CivilDate::to_epoch_days`].
    pub fn from_epoch_days(days: i32) -> CivilDate {
        let z = days + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i32::from(month <= 2);
        CivilDate { year, month, day }
    }

    fn plus_days(self, days: i32) -> CivilDate {
        CivilDate::from_epoch_days(self.to_epoch_days() + days)
    }

    /// Completed years of age on `on` (a birthday on 29 Feb counts from 1 Mar in common years).
    pub fn age_on(self, on: CivilDate) -> i32 {
        let had_birthday = (on.month, on.day) >= (self.month, self.day);
        on.year - self.year - i32::from(!had_birthday)
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn era_date(era: Era, era_year: i32, month: u32, day: u32) -> Result<CivilDate, DateError> {
    if era_year < 1 {
        return Err(DateError::OutsideEra);
    }
    let date = CivilDate::new(era.first_day().year + era_year - 1, month, day)?;
    let after_start = date >= era.first_day();
    let before_end = era.last_day().is_none_or(|last| date <= last);
    if after_start && before_end { Ok(date) } else { Err(DateError::OutsideEra) }
}

/// Reads a date in any form Japanese exports use.
///
/// Accepted (full-width digits too): `1970-03-02`, `1970/3/2`, `1970.3.2`, `19700302`,
/// `1970年3月2日`, `昭和45年3月2日` (`元年` for year 1), `S45.03.02`, `H1/1/8`, and the receipt form
/// `GYYMMDD` (`3450302`: era code 1 明治 … 5 令和). A date outside its era (昭和65年, 平成元年1月7日) is
/// an error, not silently moved.
///
/// ```
/// use tokumei_core::normalize::{parse_date, CivilDate};
/// let expected = CivilDate::new(1970, 3, 2).unwrap();
/// for raw in ["1970-03-02", "昭和45年3月2日", "S45.03.02", "3450302", "１９７０／３／２"] {
///     assert_eq!(parse_date(raw), Ok(expected));
/// }
/// ```
pub fn parse_date(raw: &str) -> Result<CivilDate, DateError> {
    let text: String = super::text::nfkc_chars(raw).filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err(DateError::Unrecognized);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
        return match text.len() {
            8 => CivilDate::new(n(0..4) as i32, n(4..6), n(6..8)),
            7 => {
                let era = Era::from_receipt_code(n(0..1)).ok_or(DateError::Unrecognized)?;
                era_date(era, n(1..3) as i32, n(3..5), n(5..7))
            }
            _ => Err(DateError::Unrecognized),
        };
    }

    let (era, rest) = split_era(&text);
    let rest = rest.replacen('元', "1", 1);
    let mut groups = Vec::with_capacity(3);
    let mut separators = String::new();
    let mut current = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            current.push(c);
        } else {
            if current.is_empty() || !matches!(c, '-' | '/' | '.' | '年' | '月' | '日') {
                return Err(DateError::Unrecognized);
            }
            separators.push(c);
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    let kanji_form = separators.contains('年');
    if groups.len() != 3
        || groups.iter().any(|g| g.len() > 4)
        || (kanji_form && separators != "年月日" && separators != "年月")
        || (!kanji_form && separators.contains(['月', '日']))
    {
        return Err(DateError::Unrecognized);
    }
    let number = |i: usize| groups[i].parse::<u32>().map_err(|_| DateError::Unrecognized);
    let (year, month, day) = (number(0)?, number(1)?, number(2)?);
    match era {
        Some(era) if groups[0].len() <= 2 => era_date(era, year as i32, month, day),
        Some(_) => Err(DateError::Unrecognized),
        None if groups[0].len() == 4 => CivilDate::new(year as i32, month, day),
        None => Err(DateError::Unrecognized),
    }
}

fn split_era(text: &str) -> (Option<Era>, &str) {
    for era in Era::ALL {
        if let Some(rest) = text.strip_prefix(era.kanji()) {
            return (Some(era), rest);
        }
    }
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        let upper = first.to_ascii_uppercase();
        if let Some(era) = Era::ALL.into_iter().find(|era| era.letter() == upper) {
            return (Some(era), chars.as_str());
        }
    }
    (None, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> CivilDate {
        CivilDate::new(y, m, d).unwrap()
    }

    #[test]
    fn every_form_of_one_date() {
        let expected = date(1970, 3, 2);
        for raw in [
            "1970-03-02",
            "1970/3/2",
            "1970.03.02",
            "19700302",
            "1970年3月2日",
            "昭和45年3月2日",
            "S45.03.02",
            "s45/3/2",
            "3450302",
            "１９７０－０３－０２",
            "昭和４５年３月２日",
        ] {
            assert_eq!(parse_date(raw), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn era_boundaries() {
        assert_eq!(parse_date("平成元年1月8日"), Ok(date(1989, 1, 8)));
        assert_eq!(parse_date("H1/1/8"), Ok(date(1989, 1, 8)));
        assert_eq!(parse_date("平成元年1月7日"), Err(DateError::OutsideEra));
        assert_eq!(parse_date("昭和64年1月7日"), Ok(date(1989, 1, 7)));
        assert_eq!(parse_date("昭和65年1月1日"), Err(DateError::OutsideEra));
        assert_eq!(parse_date("令和元年5月1日"), Ok(date(2019, 5, 1)));
        assert_eq!(parse_date("5010501"), Ok(date(2019, 5, 1)));
        assert_eq!(parse_date("令和元年4月30日"), Err(DateError::OutsideEra));
        assert_eq!(parse_date("T15.12.25"), Err(DateError::OutsideEra));
    }

    #[test]
    fn impossible_and_garbage() {
        assert_eq!(parse_date("2023-02-29"), Err(DateError::NoSuchDay));
        assert_eq!(parse_date("2024-02-29"), Ok(date(2024, 2, 29)));
        assert_eq!(parse_date("19701302"), Err(DateError::NoSuchDay));
        assert_eq!(parse_date("6450302"), Err(DateError::Unrecognized));
        assert_eq!(parse_date("1970-3"), Err(DateError::Unrecognized));
        assert_eq!(parse_date("abc"), Err(DateError::Unrecognized));
        assert_eq!(parse_date(""), Err(DateError::Unrecognized));
        assert_eq!(parse_date("70-03-02"), Err(DateError::Unrecognized));
    }

    #[test]
    fn age_counts_completed_years() {
        let birth = date(1970, 3, 2);
        assert_eq!(birth.age_on(date(2026, 3, 1)), 55);
        assert_eq!(birth.age_on(date(2026, 3, 2)), 56);
    }

    proptest! {
        #[test]
        fn epoch_days_round_trip(days in -60_000i32..60_000) {
            let d = CivilDate::from_epoch_days(days);
            prop_assert_eq!(d.to_epoch_days(), days);
            prop_assert_eq!(CivilDate::new(d.year, d.month, d.day), Ok(d));
        }

        /// Every spelling tokumei-synth (and real exports) produce parses back to the same date.
        #[test]
        fn spellings_agree(days in -36_000i32..20_000) {
            let d = CivilDate::from_epoch_days(days);
            let era = Era::of(d).unwrap();
            let ey = era.year_of(d);
            let spellings = [
                d.to_string(),
                format!("{}/{}/{}", d.year, d.month, d.day),
                format!("{:04}{:02}{:02}", d.year, d.month, d.day),
                format!("{}{}年{}月{}日", era.kanji(), if ey == 1 { "元".to_string() } else { ey.to_string() }, d.month, d.day),
                format!("{}{:02}.{:02}.{:02}", era.letter(), ey, d.month, d.day),
                format!("{}{:02}{:02}{:02}", era.receipt_code(), ey, d.month, d.day),
            ];
            for s in spellings {
                prop_assert_eq!(parse_date(&s), Ok(d), "{}", s);
            }
        }
    }
}
