//! Identification codes: 個人番号 (My Number), 保険者番号 (insurer number), and sex codes.

use super::text::digits_key;

/// The check digit of an 11-digit My Number payload (weights 6,5,4,3,2,7,6,5,4,3,2 left to right;
/// r = Σ mod 11; 0 if r ≤ 1 else 11 − r).
pub fn my_number_check_digit(payload: &[u8; 11]) -> u8 {
    const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = payload.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum();
    match sum % 11 {
        0 | 1 => 0,
        r => (11 - r) as u8,
    }
}

/// True when `raw` (full-width and hyphens allowed) is a 12-digit My Number with a valid check
/// digit.
pub fn is_valid_my_number(raw: &str) -> bool {
    let Some(digits) = digits_key(raw) else {
        return false;
    };
    let bytes: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let Ok(payload) = <[u8; 11]>::try_from(bytes.get(..11).unwrap_or_default()) else {
        return false;
    };
    bytes.len() == 12 && my_number_check_digit(&payload) == bytes[11]
}

/// The check digit of a 保険者番号 payload (5 digits for 国保, 7 for 社保): digits multiplied by
/// 2, 1, 2, 1 … from the right, the digits of each product summed, and 10 − (sum mod 10) mod 10.
pub fn insurer_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let product = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// 保険者番号 → its canonical form, or `None` when it is not a valid insurer number.
///
/// 国保 numbers have 6 digits; in 8-digit fields they are right-aligned, so `00123456` is read as
/// `123456`. The check digit must hold.
pub fn insurer_key(raw: &str) -> Option<String> {
    let digits = digits_key(raw)?;
    let canonical = match digits.len() {
        8 if digits.starts_with("00") => digits[2..].to_string(),
        6 | 8 => digits,
        _ => return None,
    };
    let bytes: Vec<u8> = canonical.bytes().map(|b| b - b'0').collect();
    let (payload, check) = bytes.split_at(bytes.len() - 1);
    (insurer_check_digit(payload) == check[0]).then_some(canonical)
}

/// 性別 in any common spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Sex {
    /// 男 (code 1)
    Male,
    /// 女 (code 2)
    Female,
}

impl Sex {
    /// The 男女区分 code used in receipts and checkups: 1 男, 2 女.
    pub fn code(self) -> i32 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }

    /// From `1`/`2`, `男`/`女`, `男性`/`女性`, `M`/`F`, `male`/`female` (any width or case).
    pub fn parse(raw: &str) -> Option<Sex> {
        let text: String =
            super::text::nfkc_chars(raw).filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        match text.as_str() {
            "1" | "男" | "男性" | "m" | "male" => Some(Sex::Male),
            "2" | "女" | "女性" | "f" | "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn my_number_test_vector() {
        assert_eq!(my_number_check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]), 8);
        assert!(is_valid_my_number("123456789018"));
        assert!(is_valid_my_number("１２３４ ５６７８ ９０１８"));
        assert!(!is_valid_my_number("123456789017"));
        assert!(!is_valid_my_number("12345678901"));
    }

    #[test]
    fn insurer_numbers() {
        // 06 (組合健保) 13 (東京) 123 + check digit.
        let payload = [0, 6, 1, 3, 1, 2, 3];
        let check = insurer_check_digit(&payload);
        let valid = format!("0613123{check}");
        assert_eq!(insurer_key(&valid).as_deref(), Some(valid.as_str()));
        let wrong = format!("0613123{}", (check + 1) % 10);
        assert_eq!(insurer_key(&wrong), None);
        // 国保 6 digits, zero-padded to 8 in some exports.
        let kokuho = [1, 3, 1, 2, 3];
        let six = format!("13123{}", insurer_check_digit(&kokuho));
        assert_eq!(insurer_key(&format!("00{six}")).as_deref(), Some(six.as_str()));
    }

    #[test]
    fn sex_spellings() {
        for raw in ["1", "男", "男性", "M", "ｍ", "male", "１"] {
            assert_eq!(Sex::parse(raw), Some(Sex::Male), "{raw}");
        }
        for raw in ["2", "女", "女性", "F", "Female"] {
            assert_eq!(Sex::parse(raw), Some(Sex::Female), "{raw}");
        }
        assert_eq!(Sex::parse("3"), None);
        assert_eq!(Sex::parse(""), None);
    }

    proptest! {
        #[test]
        fn my_number_detects_any_single_digit_error(payload in proptest::array::uniform11(0u8..10), pos in 0usize..12, delta in 1u8..10) {
            let check = my_number_check_digit(&payload);
            let mut digits: Vec<u8> = payload.to_vec();
            digits.push(check);
            let valid: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            prop_assert!(is_valid_my_number(&valid));
            digits[pos] = (digits[pos] + delta) % 10;
            let corrupted: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            // Mod-11 weights catch every single-digit substitution except where the check digit
            // would need to be 10 (folded to 0); assert only on the unambiguous cases.
            let recomputed = my_number_check_digit(&digits[..11].try_into().unwrap());
            prop_assert_eq!(is_valid_my_number(&corrupted), recomputed == digits[11]);
        }

        #[test]
        fn insurer_check_digit_catches_single_digit_errors(payload in proptest::collection::vec(0u8..10, 7), pos in 0usize..7, delta in 1u8..10) {
            let check = insurer_check_digit(&payload);
            let number: String = payload.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
            prop_assert!(insurer_key(&number).is_some());
            let mut corrupted = payload.clone();
            corrupted[pos] = (corrupted[pos] + delta) % 10;
            let number: String = corrupted.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
            prop_assert!(insurer_key(&number).is_none() || number.starts_with("00"));
        }
    }
}
