//! Text folding for matching: names, kana and codes.
//!
//! Every function here is a *matching* normalization: it decides when two spellings are the same
//! person's, and is never written to an output. Sources spell the same value in full- or half-width,
//! hiragana or katakana, with or without spaces, and with old character forms (旧字体), so each
//! function maps all of those to one key.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// 旧字体・異体字 (old and variant kanji) → the standard form, from `data/itaiji.tsv`.
fn variant_table() -> &'static HashMap<char, char> {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("../../data/itaiji.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(|line| {
                let mut parts = line.split('\t');
                let variant = parts.next()?.chars().next()?;
                let standard = parts.next()?.chars().next()?;
                Some((variant, standard))
            })
            .collect()
    })
}

/// The characters of `raw` after NFKC, without the work when `raw` is already in NFKC (ASCII,
/// full-width katakana, kanji: most cells).
pub(crate) fn nfkc_chars(raw: &str) -> impl Iterator<Item = char> + '_ {
    let normalized = is_nfkc_quick(raw.chars()) == IsNormalized::Yes;
    let (quick, slow) = if normalized { (Some(raw.chars()), None) } else { (None, Some(raw.nfkc())) };
    quick.into_iter().flatten().chain(slow.into_iter().flatten())
}

/// Folds one kanji to its standard form (髙 → 高); other characters pass through.
pub fn fold_variant(c: char) -> char {
    variant_table().get(&c).copied().unwrap_or(c)
}

/// True for characters that separate name parts: every kind of space and the middle dots.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '・' | '･' | '·' | '\u{200B}')
}

/// Hiragana → katakana; small kana → full-size; long-vowel look-alikes → ー.
fn fold_kana_char(c: char) -> char {
    let c = match c {
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    };
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        'ヰ' => 'イ',
        'ヱ' => 'エ',
        '-' | '‐' | '‑' | '–' | '—' | '―' | '−' | '〜' | '~' => 'ー',
        _ => c.to_ascii_uppercase(),
    }
}

/// カナ氏名 (kana name) → matching key.
///
/// NFKC first (half-width kana with separate dakuten compose: ｶﾞ → ガ; full-width letters and
/// digits become ASCII), then hiragana → katakana, small kana → full-size, long-vowel variants → ー,
/// and all spaces and middle dots removed.
///
/// ```
/// use tokumei_core::normalize::kana_key;
/// assert_eq!(kana_key("ﾔﾏﾀﾞ ﾀﾛｳ"), kana_key("やまだ　たろう"));
/// ```
pub fn kana_key(raw: &str) -> String {
    nfkc_chars(raw).filter(|&c| !is_separator(c)).map(fold_kana_char).collect()
}

/// 氏名 (kanji name) → matching key: NFKC, 旧字体 folded (髙 → 高), spaces and dots removed.
pub fn kanji_key(raw: &str) -> String {
    nfkc_chars(raw).filter(|&c| !is_separator(c)).map(|c| fold_kana_char(fold_variant(c))).collect()
}

/// Card symbols, numbers and local codes → matching key.
///
/// NFKC (full-width digits and kana become half/standard), hiragana → katakana, ASCII upper-cased,
/// and spaces, hyphens and middle dots removed (`１２－３４` and `12 34` are the same 記号).
pub fn code_key(raw: &str) -> String {
    nfkc_chars(raw)
        .filter(|&c| !is_separator(c) && !is_hyphen(c))
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c.to_ascii_uppercase(),
        })
        .collect()
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '–' | '—' | '―' | '−' | 'ー' | '－')
}

/// Only the ASCII digits of `raw` after NFKC (`０３-１２３４` → `031234`), or `None` when
/// anything other than digits, spaces and hyphens is present.
pub fn digits_key(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for c in nfkc_chars(raw) {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !(is_separator(c) || is_hyphen(c)) {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn half_width_kana_with_dakuten_composes() {
        assert_eq!(kana_key("ｶﾞｯｺｳ"), "ガツコウ");
        assert_eq!(kana_key("ﾊﾟﾊﾟ"), "パパ");
    }

    #[test]
    fn hiragana_spaces_and_dots_fold() {
        assert_eq!(kana_key("さとう　はなこ"), "サトウハナコ");
        assert_eq!(kana_key("サトウ・ハナコ"), "サトウハナコ");
        assert_eq!(kana_key("ｻﾄｳ ﾊﾅｺ"), "サトウハナコ");
    }

    #[test]
    fn long_vowel_variants_fold() {
        assert_eq!(kana_key("ユーコ"), kana_key("ユ－コ"));
        assert_eq!(kana_key("ﾕｰｺ"), "ユーコ");
    }

    #[test]
    fn old_kanji_fold_for_matching() {
        assert_eq!(kanji_key("髙橋 一郎"), kanji_key("高橋一郎"));
        assert_eq!(kanji_key("齋藤"), kanji_key("斉藤"));
        assert_eq!(kanji_key("渡邊"), kanji_key("渡辺"));
        assert_eq!(kanji_key("山﨑"), "山崎");
    }

    #[test]
    fn codes_fold_width_and_hyphens() {
        assert_eq!(code_key("１２－３４"), "1234");
        assert_eq!(code_key("あいう 12"), "アイウ12");
        assert_eq!(digits_key("０３-１２３４-５６７８").as_deref(), Some("0312345678"));
        assert_eq!(digits_key("03-12a4"), None);
    }

    fn to_half_width_kana(s: &str) -> String {
        // The inverse direction, for generating variants: full-width katakana → half-width,
        // with voiced marks split off as the old terminals wrote them.
        const FULL: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
        const HALF: &str = "ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ";
        let map: HashMap<char, char> = FULL.chars().zip(HALF.chars()).collect();
        let mut out = String::new();
        for c in s.nfd() {
            match c {
                '\u{3099}' => out.push('ﾞ'),
                '\u{309A}' => out.push('ﾟ'),
                '　' => out.push(' '),
                _ => out.push(map.get(&c).copied().unwrap_or(c)),
            }
        }
        out
    }

    fn to_hiragana(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
                _ => c,
            })
            .collect()
    }

    proptest! {
        /// Any spelling a source might use for a katakana name folds to the same key.
        #[test]
        fn kana_variants_share_a_key(
            family in "[アイウエオカキクケコガギグゲゴサシスセソタチツテトダデナニヌネノハヒフヘホバパマミムメモヤユヨラリルレロワン]{1,6}",
            given in "[アイウエオカキクケコサシスセソタチツテトナニハヒフヘホマミムメモヤユヨラリルレロワンー]{1,5}",
        ) {
            let canonical = kana_key(&format!("{family}　{given}"));
            prop_assert_eq!(&kana_key(&format!("{family}{given}")), &canonical);
            prop_assert_eq!(&kana_key(&format!("{family} {given}")), &canonical);
            prop_assert_eq!(&kana_key(&to_half_width_kana(&format!("{family} {given}"))), &canonical);
            prop_assert_eq!(&kana_key(&to_hiragana(&format!("{family}・{given}"))), &canonical);
        }

        /// A kanji name written with any mix of old forms (旧字体) and spaces shares the key of its
        /// standard spelling.
        #[test]
        fn old_kanji_variants_share_a_key(picks in proptest::collection::vec((0usize..64, any::<bool>()), 1..6)) {
            let mut table: Vec<(char, char)> = variant_table().iter().map(|(v, s)| (*v, *s)).collect();
            table.sort_unstable();
            let standard: String = picks.iter().map(|(i, _)| table[i % table.len()].1).collect();
            let variant: String = picks
                .iter()
                .map(|(i, old)| { let (v, s) = table[i % table.len()]; if *old { format!("{v}　") } else { s.to_string() } })
                .collect();
            prop_assert_eq!(kanji_key(&variant), kanji_key(&standard));
        }

        /// Full-width and half-width digit strings with hyphens share a key.
        #[test]
        fn digit_variants_share_a_key(digits in "[0-9]{1,12}") {
            let full: String = digits.chars().map(|c| char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap()).collect();
            prop_assert_eq!(code_key(&full), digits.clone());
            prop_assert_eq!(digits_key(&full), Some(digits));
        }
    }
}
