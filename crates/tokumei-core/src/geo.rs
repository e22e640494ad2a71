//! Japan's prefectures (都道府県) and regions (地方), for address generalization and synthesis.

use unicode_normalization::UnicodeNormalization;

/// One prefecture.
#[derive(Debug, Clone, Copy)]
pub struct Prefecture {
    /// JIS X 0401 code, 1–47 (also the first two digits of facility codes).
    pub code: u8,
    /// Name as written in addresses, e.g. `東京都`.
    pub name: &'static str,
    /// Region (地方), e.g. `関東`.
    pub region: &'static str,
    /// Population in thousands (2020 census, rounded).
    pub population_thousands: u32,
}

const fn p(code: u8, name: &'static str, region: &'static str, population_thousands: u32) -> Prefecture {
    Prefecture { code, name, region, population_thousands }
}

/// All 47 prefectures in JIS order.
pub const PREFECTURES: [Prefecture; 47] = [
    p(1, "北海道", "北海道", 5225),
    p(2, "青森県", "東北", 1238),
    p(3, "岩手県", "東北", 1211),
    p(4, "宮城県", "東北", 2302),
    p(5, "秋田県", "東北", 960),
    p(6, "山形県", "東北", 1068),
    p(7, "福島県", "東北", 1833),
    p(8, "茨城県", "関東", 2867),
    p(9, "栃木県", "関東", 1933),
    p(10, "群馬県", "関東", 1939),
    p(11, "埼玉県", "関東", 7345),
    p(12, "千葉県", "関東", 6284),
    p(13, "東京都", "関東", 14048),
    p(14, "神奈川県", "関東", 9237),
    p(15, "新潟県", "中部", 2201),
    p(16, "富山県", "中部", 1035),
    p(17, "石川県", "中部", 1133),
    p(18, "福井県", "中部", 767),
    p(19, "山梨県", "中部", 810),
    p(20, "長野県", "中部", 2048),
    p(21, "岐阜県", "中部", 1979),
    p(22, "静岡県", "中部", 3633),
    p(23, "愛知県", "中部", 7542),
    p(24, "三重県", "近畿", 1770),
    p(25, "滋賀県", "近畿", 1414),
    p(26, "京都府", "近畿", 2578),
    p(27, "大阪府", "近畿", 8838),
    p(28, "兵庫県", "近畿", 5465),
    p(29, "奈良県", "近畿", 1324),
    p(30, "和歌山県", "近畿", 923),
    p(31, "鳥取県", "中国", 553),
    p(32, "島根県", "中国", 671),
    p(33, "岡山県", "中国", 1888),
    p(34, "広島県", "中国", 2800),
    p(35, "山口県", "中国", 1342),
    p(36, "徳島県", "四国", 720),
    p(37, "香川県", "四国", 950),
    p(38, "愛媛県", "四国", 1335),
    p(39, "高知県", "四国", 692),
    p(40, "福岡県", "九州", 5135),
    p(41, "佐賀県", "九州", 811),
    p(42, "長崎県", "九州", 1312),
    p(43, "熊本県", "九州", 1738),
    p(44, "大分県", "九州", 1124),
    p(45, "宮崎県", "九州", 1070),
    p(46, "鹿児島県", "九州", 1588),
    p(47, "沖縄県", "九州", 1467),
];

/// The prefecture an address starts with (spaces and width differences ignored), and the rest of
/// the address after it.
pub fn split_prefecture(address: &str) -> Option<(&'static Prefecture, String)> {
    let text: String = address.nfkc().filter(|c| !c.is_whitespace()).collect();
    PREFECTURES.iter().find(|pref| text.starts_with(pref.name)).map(|pref| (pref, text[pref.name.len()..].to_string()))
}

/// The prefecture with JIS code `code`.
pub fn prefecture_by_code(code: u8) -> Option<&'static Prefecture> {
    PREFECTURES.get(usize::from(code).checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_positions() {
        for (i, pref) in PREFECTURES.iter().enumerate() {
            assert_eq!(usize::from(pref.code), i + 1);
        }
        let total: u32 = PREFECTURES.iter().map(|p| p.population_thousands).sum();
        assert!((123_000..128_000).contains(&total), "{total}");
    }

    #[test]
    fn splits_with_spaces_and_full_width() {
        let (pref, rest) = split_prefecture("東京都　千代田区千代田１－１").unwrap();
        assert_eq!(pref.name, "東京都");
        assert_eq!(rest, "千代田区千代田1-1");
        assert_eq!(split_prefecture("京都府京都市").unwrap().0.name, "京都府");
        assert!(split_prefecture("千代田区").is_none());
    }
}
