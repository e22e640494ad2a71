//! Address → street (番地 removed), municipality, prefecture or region.
//!
//! **What it does.** Cuts an address back to a coarser level.
//! **Why.** 住所 with 番地 identifies a household; the pseudonymization standard removes 番地
//! (「番地の削除等の加工」) and the anonymization guideline keeps 「○○県△△市」 or less.
//! **Example.** `東京都千代田区千代田1-1-1` → `東京都千代田区千代田` → `東京都千代田区` → `東京都` → `関東`.
//! **Privacy notes.** Municipality is found by the first 市/区/町/村 (郡 skipped, a 政令市's 区
//! kept), with the known city names that contain those characters listed below; an address whose
//! prefecture cannot be found generalizes to `*` at every level but `street`.

use serde::Deserialize;
use tokumei_core::geo::split_prefecture;
use unicode_normalization::UnicodeNormalization;

/// One level of the address ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressLevel {
    /// Everything before the 番地 / 丁目 numbers.
    Street,
    /// Prefecture + municipality (市区町村).
    Municipality,
    /// 都道府県.
    Prefecture,
    /// 地方 (8 regions).
    Region,
}

/// Municipalities whose own names contain 市, 区, 町 or 村 before the final one.
const MARKER_NAMES: [&str; 16] = [
    "四日市市",
    "廿日市市",
    "市川市",
    "市原市",
    "野々市市",
    "大町市",
    "十日町市",
    "東村山市",
    "武蔵村山市",
    "村山市",
    "町田市",
    "大和郡山市",
    "郡山市",
    "小郡市",
    "郡上市",
    "市貝町",
];

/// The address at `level`, or `None` when it cannot be read at that level.
pub fn generalize_address(address: &str, level: AddressLevel) -> Option<String> {
    match level {
        AddressLevel::Street => Some(strip_block_number(address)),
        AddressLevel::Municipality => {
            let (pref, rest) = split_prefecture(address)?;
            Some(format!("{}{}", pref.name, municipality(&rest)?))
        }
        AddressLevel::Prefecture => split_prefecture(address).map(|(pref, _)| pref.name.to_string()),
        AddressLevel::Region => split_prefecture(address).map(|(pref, _)| pref.region.to_string()),
    }
}

fn strip_block_number(address: &str) -> String {
    let text: String = address.nfkc().filter(|c| !c.is_whitespace()).collect();
    let kanji_numeral = |c: char| "一二三四五六七八九十〇".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut cut = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            cut = i;
            break;
        }
        if kanji_numeral(c) {
            let run_end = chars[i..].iter().position(|&c| !kanji_numeral(c)).map_or(chars.len(), |p| i + p);
            if matches!(chars.get(run_end), Some('丁' | '番')) {
                cut = i;
                break;
            }
        }
    }
    chars[..cut].iter().collect()
}

fn municipality(rest: &str) -> Option<String> {
    if let Some(name) = MARKER_NAMES.iter().find(|name| rest.starts_with(*name)) {
        let after = &rest[name.len()..];
        return Some(format!("{name}{}", ward(after)));
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut start = 0;
    if let Some(gun) = chars.iter().position(|&c| c == '郡').filter(|p| (1..=4).contains(p)) {
        start = gun + 1;
    }
    let end = chars.iter().enumerate().skip(start + 1).find(|(_, c)| matches!(c, '市' | '区' | '町' | '村'))?.0;
    let name: String = chars[..=end].iter().collect();
    let after: String = chars[end + 1..].iter().collect();
    Some(if chars[end] == '市' { format!("{name}{}", ward(&after)) } else { name })
}

/// A 政令市's ward directly after the city name (`横浜市中区` keeps `中区`).
fn ward(after: &str) -> String {
    let chars: Vec<char> = after.chars().take(5).collect();
    match chars.iter().position(|&c| c == '区') {
        Some(p) if p >= 1 => chars[..=p].iter().collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressLevel::*;

    #[test]
    fn ladder() {
        let a = "東京都千代田区千代田１－１－１　皇居マンション101";
        assert_eq!(generalize_address(a, Street).unwrap(), "東京都千代田区千代田");
        assert_eq!(generalize_address(a, Municipality).unwrap(), "東京都千代田区");
        assert_eq!(generalize_address(a, Prefecture).unwrap(), "東京都");
        assert_eq!(generalize_address(a, Region).unwrap(), "関東");
    }

    #[test]
    fn municipalities() {
        let m = |a| generalize_address(a, Municipality).unwrap();
        assert_eq!(m("神奈川県横浜市中区山下町1"), "神奈川県横浜市中区");
        assert_eq!(m("三重県四日市市諏訪町1-5"), "三重県四日市市");
        assert_eq!(m("千葉県市川市八幡1-1"), "千葉県市川市");
        assert_eq!(m("長野県北佐久郡軽井沢町長倉2"), "長野県北佐久郡軽井沢町");
        assert_eq!(m("北海道札幌市北区北8条西5"), "北海道札幌市北区");
        assert_eq!(m("大阪府堺市堺区南瓦町3-1"), "大阪府堺市堺区");
    }

    #[test]
    fn kanji_block_numbers() {
        assert_eq!(generalize_address("大阪府大阪市北区梅田三丁目1番", Street).unwrap(), "大阪府大阪市北区梅田");
        assert_eq!(generalize_address("京都府京都市上京区一条通", Street).unwrap(), "京都府京都市上京区一条通");
    }

    #[test]
    fn unknown_prefecture() {
        assert_eq!(generalize_address("千代田区1-1", Prefecture), None);
    }
}
