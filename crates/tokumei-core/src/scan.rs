//! Scanning a column that is about to be released for what must not be there: identification
//! codes (個人番号, 保険者番号), telephone numbers, and prose (free text that may carry names).
//!
//! A [`ColumnScan`] is fed the column's values one at a time and keeps counts only — never a
//! value — so it can run over a release as it streams out. Its [`findings`](ColumnScan::findings)
//! are decided per column:
//!
//! | finding | a value counts when | the column is flagged when |
//! |---|---|---|
//! | `my-number` | it is a 12-digit number with a valid check digit (any width, spaces or hyphens), or holds one next to the words 個人番号 / マイナンバー | half its values are such numbers, or any labelled one |
//! | `phone` | it holds a telephone number: `0` + 9–10 digits in two or three hyphenated or bracketed groups, or an 11-digit mobile number (070/080/090/050) | any value |
//! | `insurer-number` | it is a 6- or 8-digit 保険者番号 with a valid check digit | 90 % of its values (random 8-digit numbers pass 1 in 10) |
//! | `prose` | it holds sentence punctuation (。！？), or is long (32 characters or more) | 1 % of values hold sentences, or 5 % are long while half the values are distinct |

use std::collections::HashSet;

use crate::normalize::{insurer_key, is_valid_my_number};

/// What a column was found to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// 個人番号 (My Number) with a valid check digit.
    MyNumber,
    /// Telephone numbers.
    Phone,
    /// 保険者番号 (insurer numbers).
    InsurerNumber,
    /// Free text (prose), which may carry names, addresses and numbers.
    Prose,
}

impl Finding {
    /// The finding in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Finding::MyNumber => "My Numbers (個人番号, valid check digit)",
            Finding::Phone => "telephone numbers",
            Finding::InsurerNumber => "insurer numbers (保険者番号, valid check digit)",
            Finding::Prose => "free text (sentences or long, varied values)",
        }
    }

    /// Whether the finding is an identifier (as opposed to prose).
    pub fn is_identifier(self) -> bool {
        self != Finding::Prose
    }
}

/// Distinct values are counted up to this many (enough to tell a code list from prose).
const DISTINCT_CAP: usize = 100_000;

/// Counts over one column's values (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct ColumnScan {
    values: u64,
    my_numbers: u64,
    labelled_my_numbers: u64,
    phones: u64,
    insurer_numbers: u64,
    sentences: u64,
    long: u64,
    distinct: HashSet<u64>,
}

impl ColumnScan {
    /// Counts one value (`None` and blank values count for nothing).
    pub fn add(&mut self, value: Option<&str>) {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return };
        self.values += 1;
        let (kinds, text) = classify_normalized(value);
        self.my_numbers += u64::from(kinds.my_number);
        self.labelled_my_numbers += u64::from(kinds.labelled_my_number);
        self.phones += u64::from(kinds.phone);
        self.insurer_numbers += u64::from(kinds.insurer_number);
        let text = text.as_ref();
        if text.contains(['。', '!', '?']) || value.contains(['！', '？']) {
            self.sentences += 1;
        }
        if value.len() >= 32 && value.chars().count() >= 32 {
            self.long += 1;
        }
        if self.distinct.len() < DISTINCT_CAP {
            // FNV-1a: distinct counting needs no more.
            let hash =
                value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
            self.distinct.insert(hash);
        }
    }

    /// Adds another scan of the same column (a later part of it).
    pub fn merge(&mut self, other: ColumnScan) {
        self.values += other.values;
        self.my_numbers += other.my_numbers;
        self.labelled_my_numbers += other.labelled_my_numbers;
        self.phones += other.phones;
        self.insurer_numbers += other.insurer_numbers;
        self.sentences += other.sentences;
        self.long += other.long;
        for d in other.distinct {
            if self.distinct.len() >= DISTINCT_CAP {
                break;
            }
            self.distinct.insert(d);
        }
    }

    /// Values counted.
    pub fn values(&self) -> u64 {
        self.values
    }

    /// What the column holds, by the rules of the module docs.
    pub fn findings(&self) -> Vec<Finding> {
        let n = self.values as f64;
        let mut found = Vec::new();
        if self.values == 0 {
            return found;
        }
        if self.labelled_my_numbers > 0 || self.my_numbers as f64 >= 0.5 * n {
            found.push(Finding::MyNumber);
        }
        if self.phones > 0 {
            found.push(Finding::Phone);
        }
        if self.insurer_numbers as f64 >= 0.9 * n {
            found.push(Finding::InsurerNumber);
        }
        let distinct = self.distinct.len() as f64 / n.min(DISTINCT_CAP as f64);
        if self.sentences as f64 >= (0.01 * n).max(1.0) || (self.long as f64 >= 0.05 * n && distinct >= 0.5) {
            found.push(Finding::Prose);
        }
        found
    }
}

/// What one value is, identifier by identifier (see the module docs; a column is flagged by
/// [`ColumnScan::findings`], a single value by these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueKinds {
    /// The whole value is a 12-digit number with a valid My Number check digit.
    pub my_number: bool,
    /// It holds such a number next to the words 個人番号 / マイナンバー.
    pub labelled_my_number: bool,
    /// It holds a telephone number.
    pub phone: bool,
    /// The whole value is a 6- or 8-digit 保険者番号 with a valid check digit.
    pub insurer_number: bool,
    /// It holds an address down to the block or lot number (丁目, 番地, 番, 号, or digits after a
    /// municipality): `東京都千代田区丸の内1-2-3`, `千代田区丸の内一丁目2番3号`.
    pub street_address: bool,
}

/// What `value` is (NFKC-normalized first, so full-width digits count).
pub fn classify(value: &str) -> ValueKinds {
    let (mut kinds, text) = classify_normalized(value.trim());
    kinds.street_address = is_street_address(&text);
    kinds
}

/// [`classify`] without the address test, and the normalized text.
fn classify_normalized(value: &str) -> (ValueKinds, std::borrow::Cow<'_, str>) {
    let mut kinds = ValueKinds::default();
    // Most cells are short ASCII codes: no normalization, and digit runs only when there are
    // digits.
    let text: std::borrow::Cow<'_, str> = if value.is_ascii() {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(crate::normalize::nfkc_chars(value).collect())
    };
    if text.bytes().any(|b| b.is_ascii_digit()) {
        let groups = digit_runs(&text);
        let whole = groups.len() == 1 && groups[0].whole;
        if whole && is_valid_my_number(&groups[0].digits) {
            kinds.my_number = true;
        } else if (text.contains("個人番号") || text.contains("マイナンバー"))
            && groups.iter().any(|g| g.digits.len() == 12 && is_valid_my_number(&g.digits))
        {
            kinds.labelled_my_number = true;
        }
        kinds.phone = groups.iter().any(DigitRun::is_phone);
        kinds.insurer_number = whole && insurer_key(&groups[0].digits).is_some();
    }
    (kinds, text)
}

/// Whether NFKC text holds an address down to its block or lot: a municipality (市, 区, 町, 村,
/// 郡) or a prefecture, then, after at most 12 characters of town name, a number (Arabic or kanji)
/// followed by 丁目, 番地, 番, 号 or a hyphen and another digit.
fn is_street_address(text: &str) -> bool {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let kanji_digit = |c: char| "〇一二三四五六七八九十".contains(c);
    let numeral = |c: char| c.is_ascii_digit() || kanji_digit(c);
    for (i, &c) in chars.iter().enumerate() {
        if !"都道府県市区町村郡".contains(c) || i == 0 {
            continue;
        }
        // The number after the town name.
        let Some(start) = chars[i + 1..].iter().take(13).position(|&c| numeral(c)).map(|p| i + 1 + p) else {
            continue;
        };
        let mut end = start;
        while end < chars.len() && numeral(chars[end]) {
            end += 1;
        }
        let rest: String = chars[end..chars.len().min(end + 2)].iter().collect();
        let lot = rest.starts_with("丁目") || rest.starts_with('番') || rest.starts_with('号');
        let hyphen = rest.starts_with(['-', '−', 'ー', '‐']) && rest.chars().nth(1).is_some_and(numeral);
        if lot || hyphen {
            return true;
        }
    }
    false
}

/// A run of digits in a value, with the separators (space, hyphen, brackets) between its
/// groups.
struct DigitRun {
    digits: String,
    /// Separators between digit groups, in order.
    separators: Vec<char>,
    /// Whether the run is the whole value.
    whole: bool,
    /// Whether a Latin letter touches it (`a090123456789b` in a hex token is no telephone).
    embedded: bool,
}

impl DigitRun {
    fn is_phone(&self) -> bool {
        let d = &self.digits;
        if !d.starts_with('0') || self.embedded {
            return false;
        }
        let grouped = (1..=3).contains(&self.separators.len())
            && self.separators.iter().all(|s| matches!(s, '-' | '(' | ')'))
            && (d.len() == 10 || d.len() == 11);
        let mobile = self.separators.is_empty()
            && d.len() == 11
            && ["070", "080", "090", "050"].iter().any(|p| d.starts_with(p));
        grouped || mobile
    }
}

/// The digit runs of an NFKC-normalized value; a single space, hyphen or bracket between digits
/// continues a run.
fn digit_runs(text: &str) -> Vec<DigitRun> {
    let is_separator = |c: char| matches!(c, ' ' | '-' | '(' | ')');
    let mut runs = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_ascii_digit() {
            previous = Some(c);
            continue;
        }
        let mut run = DigitRun { digits: String::new(), separators: Vec::new(), whole: false, embedded: false };
        // A bracket before the first digit, as in (03)1234-5678.
        let opened = previous == Some('(');
        if opened {
            run.separators.push('(');
        }
        run.digits.push(c);
        let mut end = start + 1;
        while let Some(&(i, next)) = chars.peek() {
            if next.is_ascii_digit() {
                run.digits.push(next);
            } else if is_separator(next) && text[i + 1..].starts_with(|d: char| d.is_ascii_digit()) {
                run.separators.push(next);
            } else {
                break;
            }
            end = i + next.len_utf8();
            chars.next();
        }
        let begin = if opened { start - 1 } else { start };
        run.whole = begin == 0 && end == text.len();
        run.embedded = previous.is_some_and(|p| p.is_ascii_alphabetic())
            || text[end..].chars().next().is_some_and(|n| n.is_ascii_alphabetic());
        previous = text[..end].chars().next_back();
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(values: &[&str]) -> Vec<Finding> {
        let mut s = ColumnScan::default();
        for v in values {
            s.add(Some(v));
        }
        s.findings()
    }

    #[test]
    fn identifiers_are_found_in_any_spelling() {
        assert_eq!(scan(&["123456789018", "", "１２３４ ５６７８ ９０１８"]), [Finding::MyNumber]);
        assert_eq!(scan(&["マイナンバー123456789018にて確認", "x", "y"]), [Finding::MyNumber]);
        // An invalid check digit, and a lone valid number among other numbers, are not flagged.
        assert!(scan(&["123456789017"]).is_empty());
        assert!(scan(&["123456789018", "111111111111", "222222222222"]).is_empty());
        assert_eq!(scan(&["折り返し 026-232-6483 へ"]), [Finding::Phone]);
        assert_eq!(scan(&["(03)1234-5678"]), [Finding::Phone]);
        assert_eq!(scan(&["09012345678"]), [Finding::Phone]);
        // Dates and 10-digit facility codes are not telephone numbers.
        assert!(scan(&["2023-08-24", "0113876430", "20250610"]).is_empty());
    }

    #[test]
    fn single_values_are_classified() {
        assert!(classify("１２３４ ５６７８ ９０１８").my_number);
        assert!(!classify("123456789017").my_number);
        assert!(classify("個人番号: 123456789018").labelled_my_number);
        assert!(classify("03-1234-5678").phone);
        assert!(!classify("5f3a09012345678e9c").phone, "digits inside a hex token");
        assert!(classify("06131239").insurer_number);
        for address in [
            "東京都千代田区丸の内1-2-3",
            "千代田区丸の内一丁目2番3号",
            "長野市大字鶴賀 1234番地",
            "大阪府堺市北区 ２－３",
        ] {
            assert!(classify(address).street_address, "{address}");
        }
        for not in ["東京都千代田区丸の内", "東京都", "2023-08-24", "ロキソプロフェン錠60mg", "B型肝炎", "区分2-1"]
        {
            assert!(!classify(not).street_address, "{not}");
        }
    }

    #[test]
    fn insurer_numbers_are_found_by_column() {
        // 06131239: 0613123 + check digit 9; 国保 6 digits right-aligned in 8.
        let valid = ["06131239", "00138867", "138867"];
        assert_eq!(scan(&valid), [Finding::InsurerNumber]);
        // Most random 8-digit numbers fail the check digit.
        let counts: Vec<String> = (10_000_000..10_000_100).map(|n: u32| n.to_string()).collect();
        let refs: Vec<&str> = counts.iter().map(String::as_str).collect();
        assert!(!scan(&refs).contains(&Finding::InsurerNumber));
    }

    #[test]
    fn prose_is_told_from_codes_and_names() {
        let notes: Vec<String> =
            (0..200).map(|i| if i % 3 == 0 { "症状安定。処方継続。".into() } else { String::new() }).collect();
        let refs: Vec<&str> = notes.iter().map(String::as_str).collect();
        assert_eq!(scan(&refs), [Finding::Prose]);
        let drugs = ["ロキソプロフェンナトリウム錠60mg", "アセトアミノフェン錠200mg", "急性上気道感染症"];
        assert!(scan(&drugs).is_empty());
        let long: Vec<String> = (0..100).map(|i| format!("{i}: {}", "長い説明".repeat(10))).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        assert_eq!(scan(&refs), [Finding::Prose]);
    }
}
