//! How different systems spell the same value: width, kana script, era dates.

use std::collections::HashMap;
use std::sync::OnceLock;

use tokumei_core::normalize::{CivilDate, Era};
use unicode_normalization::UnicodeNormalization;

/// ASCII digits, letters and hyphens → full-width (１２３, Ａ, －).
pub fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' | 'A'..='Z' | 'a'..='z' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            '-' => '－',
            ' ' => '　',
            _ => c,
        })
        .collect()
}

fn half_width_table() -> &'static HashMap<char, char> {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        const FULL: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
        const HALF: &str = "ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ";
        FULL.chars().zip(HALF.chars()).collect()
    })
}

/// Katakana → half-width kana as old terminals store it (voiced marks as separate ﾞ/ﾟ).
pub fn half_width_kana(s: &str) -> String {
    let table = half_width_table();
    s.nfd()
        .map(|c| match c {
            '\u{3099}' => 'ﾞ',
            '\u{309A}' => 'ﾟ',
            '　' => ' ',
            _ => table.get(&c).copied().unwrap_or(c),
        })
        .collect()
}

/// Katakana → hiragana.
pub fn hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// The date forms exports use.
#[derive(Debug, Clone, Copy)]
pub enum DateForm {
    /// 1970-03-02
    Iso,
    /// 1970/3/2
    Slash,
    /// 19700302
    Compact,
    /// 昭和45年3月2日
    EraKanji,
    /// S45.03.02
    EraLetter,
    /// 3450302
    Receipt,
}

/// `date` written in `form`.
pub fn write_date(date: CivilDate, form: DateForm) -> String {
    let era = Era::of(date).unwrap_or(Era::Meiji);
    let year = era.year_of(date);
    match form {
        DateForm::Iso => date.to_string(),
        DateForm::Slash => format!("{}/{}/{}", date.year, date.month, date.day),
        DateForm::Compact => format!("{:04}{:02}{:02}", date.year, date.month, date.day),
        DateForm::EraKanji => {
            let y = if year == 1 { "元".to_string() } else { year.to_string() };
            format!("{}{}年{}月{}日", era.kanji(), y, date.month, date.day)
        }
        DateForm::EraLetter => format!("{}{:02}.{:02}.{:02}", era.letter(), year, date.month, date.day),
        DateForm::Receipt => format!("{}{:02}{:02}{:02}", era.receipt_code(), year, date.month, date.day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokumei_core::normalize::{kana_key, parse_date};

    #[test]
    fn variants_normalize_back() {
        assert_eq!(half_width_kana("ヤマダ　タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(kana_key(&half_width_kana("ガッコウ")), kana_key("ガッコウ"));
        assert_eq!(hiragana("サトウ"), "さとう");
        assert_eq!(full_width("12-34"), "１２－３４");
        let d = CivilDate::new(1989, 1, 8).unwrap();
        for form in [
            DateForm::Iso,
            DateForm::Slash,
            DateForm::Compact,
            DateForm::EraKanji,
            DateForm::EraLetter,
            DateForm::Receipt,
        ] {
            assert_eq!(parse_date(&write_date(d, form)), Ok(d), "{form:?}");
        }
    }
}
