//! Linkage keys: keyed hashes of normalized identifying fields, in the manner of NDB's ID1/ID2.
//!
//! | kind | fields | joins rows |
//! |---|---|---|
//! | K1 insurance | 保険者番号, 記号, 番号, 生年月日, 性別 | unless 枝番 or names tell them apart |
//! | K2 name | カナ氏名, 生年月日, 性別 | under the conflict rule (addresses) |
//! | K3 local | 医療機関コード, 患者ID | always |
//! | K4 My Number | 個人番号 (valid check digit only) | always |
//! | K1b card + branch | 保険者番号, 記号, 番号, 枝番 | always: an individual's card since 2021 |
//! | card | 保険者番号, 記号, 番号 | never: a household shares it; used only by opt-out entries that give nothing else |
//!
//! K1 alone cannot tell same-sex twins on one card apart (same card, same birth date), so it joins
//! two rows only when their 枝番 (K1b) and kana names (K2) do not disagree; many exports leave
//! 枝番 empty, and then K1 still joins rows whose names agree.

use std::collections::BTreeMap;

use polars::prelude::*;
use rayon::prelude::*;
use tokumei_core::LinkField;
use tokumei_core::geo::{prefecture_by_code, split_prefecture};
use tokumei_core::normalize::{code_key, digits_key, insurer_key, is_valid_my_number, kana_key, kanji_key};

use crate::key::MasterKey;

/// What a row says about where its person lives, to tell namesakes apart (never a key: two rows
/// are not joined because their evidence agrees, only kept apart when it disagrees).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Keyed hash of the address up to its first number (street level:
    /// `東京都千代田区丸の内1-2-3` and `東京都千代田区丸の内一丁目2番3号` agree), NFKC-normalized with
    /// 旧字体 folded.
    pub street: Option<u64>,
    /// Prefecture (JIS code) of the address, else of the record's provider (the first two digits
    /// of its 10-digit facility or pharmacy code).
    pub prefecture: Option<u8>,
}

/// The column carrying `field`, as text, if the table has one.
fn text_column(frame: &DataFrame, columns: &LinkColumns, field: LinkField) -> PolarsResult<Option<StringChunked>> {
    columns.0.get(&field).map(|name| Ok(frame.column(name)?.cast(&DataType::String)?.str()?.clone())).transpose()
}

/// An address up to its first number (Arabic or kanji numeral), as a matching key.
fn street_key(address: &str) -> String {
    let key = kanji_key(address);
    let end = key
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || "〇一二三四五六七八九十".contains(*c))
        .map_or(key.len(), |(i, _)| i);
    key[..end].to_string()
}

/// The key kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// K1: insurance card + birth date + sex.
    Insurance,
    /// K2: kana name + birth date + sex.
    Name,
    /// K3: facility + local patient ID.
    Local,
    /// K4: My Number.
    MyNumber,
    /// K1b: insurance card + 枝番, an individual's card.
    CardBranch,
    /// The insurance card alone (保険者番号 + 記号 + 番号): shared by a household, so it never
    /// joins rows; an opt-out entry that gives only a card removes every person holding it.
    Card,
}

/// Number of key kinds.
pub const KEY_KINDS: usize = 6;

impl KeyKind {
    /// All kinds, K1 first.
    pub const ALL: [KeyKind; KEY_KINDS] =
        [KeyKind::Insurance, KeyKind::Name, KeyKind::Local, KeyKind::MyNumber, KeyKind::CardBranch, KeyKind::Card];

    /// The kebab-case name used in reports and token lists.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Insurance => "insurance",
            KeyKind::Name => "name",
            KeyKind::Local => "local",
            KeyKind::MyNumber => "my-number",
            KeyKind::CardBranch => "card-branch",
            KeyKind::Card => "card",
        }
    }

    /// The fields the key is computed from, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            KeyKind::Insurance => "insurer-number + card-number + birth-date + sex",
            KeyKind::Name => "kana-name + birth-date + sex",
            KeyKind::Local => "facility-code + patient-id",
            KeyKind::MyNumber => "my-number (valid check digit)",
            KeyKind::CardBranch => "insurer-number + card-number + card-branch",
            KeyKind::Card => "insurer-number + card-number",
        }
    }
}

/// One row's keys, indexed by [`KeyKind`], `None` where its fields are missing or invalid.
pub type RowKeys = [Option<u128>; KEY_KINDS];

/// Which columns of a table carry which link field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkColumns(pub BTreeMap<LinkField, String>);

/// Keyed hashing of normalized fields, for one purpose (linkage, or submission tokens). Its
/// keys are zeroed when it is dropped.
pub struct KeyHasher {
    keys: [[u8; 32]; KEY_KINDS],
    evidence: [u8; 32],
}

impl Drop for KeyHasher {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.keys.iter_mut().for_each(Zeroize::zeroize);
        self.evidence.zeroize();
    }
}

impl KeyHasher {
    /// Keys for `purpose` (`"link"`, `"submission-token"`), derived from the master key; see
    /// [`ReleaseKeys`](crate::ReleaseKeys).
    pub(crate) fn new(master: &MasterKey, purpose: &str) -> KeyHasher {
        let kind_key = |kind: KeyKind| master.derive(&format!("{purpose} {kind:?}"));
        // `keys` is indexed by kind.
        KeyHasher { keys: KeyKind::ALL.map(kind_key), evidence: master.derive(&format!("{purpose} evidence")) }
    }

    #[cfg(test)]
    pub(crate) fn keys_for_test(&self) -> [[u8; 32]; KEY_KINDS] {
        self.keys
    }

    fn hash(&self, kind: KeyKind, parts: &[&str]) -> u128 {
        let mut hasher = blake3::Hasher::new_keyed(&self.keys[kind as usize]);
        for part in parts {
            hasher.update(part.as_bytes());
            hasher.update(&[0x1f]);
        }
        let bytes: [u8; 16] = hasher.finalize().as_bytes()[..16].try_into().expect("16 bytes");
        u128::from_le_bytes(bytes)
    }

    /// The linkage evidence of every row of `frame` (see [`Evidence`]).
    pub fn row_evidence(&self, frame: &DataFrame, columns: &LinkColumns) -> PolarsResult<Vec<Evidence>> {
        let text = |field: LinkField| text_column(frame, columns, field);
        let addresses = text(LinkField::Address)?;
        let facilities = text(LinkField::FacilityCode)?;
        let street_tokens = text(LinkField::TokenAddress)?;
        let prefecture_tokens = text(LinkField::TokenPrefecture)?;
        if street_tokens.is_some() || prefecture_tokens.is_some() {
            let prefectures = self.prefecture_tokens();
            return Ok((0..frame.height())
                .map(|i| Evidence {
                    street: get(&street_tokens, i).and_then(|t| u64::from_str_radix(t.trim(), 16).ok()),
                    prefecture: get(&prefecture_tokens, i).and_then(|t| prefectures.get(t.trim()).copied()),
                })
                .collect());
        }
        if addresses.is_none() && facilities.is_none() {
            return Ok(vec![Evidence::default(); frame.height()]);
        }
        Ok((0..frame.height())
            .into_par_iter()
            .map(|i| {
                let address = get(&addresses, i);
                let street = address.map(street_key).filter(|s| !s.is_empty()).map(|street| {
                    let hash = blake3::keyed_hash(&self.evidence, street.as_bytes());
                    u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
                });
                let home = address.and_then(split_prefecture).map(|(p, _)| p.code);
                let provider = get(&facilities, i)
                    .and_then(digits_key)
                    .filter(|d| d.len() == 10)
                    .and_then(|d| d[..2].parse::<u8>().ok())
                    .and_then(prefecture_by_code)
                    .map(|p| p.code);
                Evidence { street, prefecture: home.or(provider) }
            })
            .collect())
    }

    /// A row's evidence as tokens a submission can carry (hex): the street-level address key
    /// (already keyed), and the prefecture keyed with this hasher's evidence key. The producer,
    /// holding the same token key, compares them without seeing either.
    pub fn evidence_tokens(&self, evidence: &Evidence) -> (Option<String>, Option<String>) {
        let street = evidence.street.map(|s| format!("{s:016x}"));
        let prefecture = evidence.prefecture.map(|p| self.prefecture_token(p));
        (street, prefecture)
    }

    fn prefecture_token(&self, code: u8) -> String {
        let hash = blake3::keyed_hash(&self.evidence, &[b'p', b'r', b'e', b'f', 0x1f, code]);
        hex::encode(&hash.as_bytes()[..8])
    }

    /// Every prefecture's token under this hasher, to read a submission's `token_prefecture`
    /// back (a prefecture is evidence, not an identifier: the producer may know it).
    fn prefecture_tokens(&self) -> std::collections::HashMap<String, u8> {
        (1..=47u8).map(|code| (self.prefecture_token(code), code)).collect()
    }

    /// The first cell of a token column in `frame` that is not a token this hasher could have
    /// written (32 hex digits for a key, 16 for an address, one of the 47 prefecture tokens):
    /// its column and row index. A submission with such a cell was not written with this token
    /// key, or not by tokumei.
    pub fn check_tokens(&self, frame: &DataFrame, columns: &LinkColumns) -> PolarsResult<Option<(String, usize)>> {
        let prefectures = self.prefecture_tokens();
        for (field, name) in columns.0.iter().filter(|(f, _)| f.is_token()) {
            let Some(cells) = text_column(frame, columns, *field)? else { continue };
            let valid = |t: &str| match field {
                LinkField::TokenAddress => t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()),
                LinkField::TokenPrefecture => prefectures.contains_key(t),
                _ => t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()),
            };
            if let Some(row) = cells.iter().position(|c| c.is_some_and(|c| !c.trim().is_empty() && !valid(c.trim()))) {
                return Ok(Some((name.clone(), row)));
            }
        }
        Ok(None)
    }

    /// The keys of every row of `frame`. Columns named in `columns` must be String, except
    /// birth date (Date) and sex (Int32), as ingest types them.
    pub fn row_keys(&self, frame: &DataFrame, columns: &LinkColumns) -> PolarsResult<Vec<RowKeys>> {
        let text = |field: LinkField| text_column(frame, columns, field);
        let insurer = text(LinkField::InsurerNumber)?;
        let symbol = text(LinkField::CardSymbol)?;
        let number = text(LinkField::CardNumber)?;
        let branch = text(LinkField::CardBranch)?;
        let kana = text(LinkField::KanaName)?;
        let facility = text(LinkField::FacilityCode)?;
        let patient = text(LinkField::PatientId)?;
        let my_number = text(LinkField::MyNumber)?;
        // A submission's tokens are the keys themselves, computed by its provider.
        let mut tokens = Vec::new();
        for (field, kind) in TOKEN_FIELDS {
            if let Some(column) = text(field)? {
                tokens.push((kind, Some(column)));
            }
        }
        let birth: Option<Int32Chunked> = columns
            .0
            .get(&LinkField::BirthDate)
            .map(|name| Ok::<_, PolarsError>(frame.column(name)?.to_physical_repr().i32()?.clone()))
            .transpose()?;
        let sex: Option<Int32Chunked> = columns
            .0
            .get(&LinkField::Sex)
            .map(|name| Ok::<_, PolarsError>(frame.column(name)?.cast(&DataType::Int32)?.i32()?.clone()))
            .transpose()?;

        Ok((0..frame.height())
            .into_par_iter()
            .map(|i| {
                let person = birth.as_ref().and_then(|b| b.get(i)).zip(sex.as_ref().and_then(|s| s.get(i)));
                let person = person.map(|(b, s)| (b.to_string(), s.to_string()));
                // The card: a valid insurer number and a card number (記号 may be absent).
                let card = get(&insurer, i)
                    .and_then(insurer_key)
                    .zip(get(&number, i).map(code_key))
                    .map(|(insurer, number)| (insurer, get(&symbol, i).map(code_key).unwrap_or_default(), number));
                let mut keys: RowKeys = [None; KEY_KINDS];
                if let Some((insurer, symbol, number)) = &card {
                    keys[KeyKind::Card as usize] = Some(self.hash(KeyKind::Card, &[insurer, symbol, number]));
                    if let Some(branch) = get(&branch, i).map(branch_key) {
                        keys[KeyKind::CardBranch as usize] =
                            Some(self.hash(KeyKind::CardBranch, &[insurer, symbol, number, &branch]));
                    }
                    if let Some((b, s)) = &person {
                        keys[KeyKind::Insurance as usize] =
                            Some(self.hash(KeyKind::Insurance, &[insurer, symbol, number, b, s]));
                    }
                }
                keys[KeyKind::Name as usize] = person.as_ref().and_then(|(b, s)| {
                    let kana = kana_key(get(&kana, i)?);
                    (!kana.is_empty()).then(|| self.hash(KeyKind::Name, &[&kana, b, s]))
                });
                keys[KeyKind::Local as usize] = get(&facility, i)
                    .zip(get(&patient, i))
                    .map(|(f, p)| self.hash(KeyKind::Local, &[&code_key(f), &patient_key(p)]));
                keys[KeyKind::MyNumber as usize] = get(&my_number, i)
                    .filter(|m| is_valid_my_number(m))
                    .and_then(digits_key)
                    .map(|m| self.hash(KeyKind::MyNumber, &[&m]));
                for (kind, column) in &tokens {
                    if let Some(token) = get(column, i).and_then(|t| parse_token(t.trim())) {
                        keys[*kind as usize] = Some(token);
                    }
                }
                keys
            })
            .collect())
    }

    /// Per row of `frame`, the link fields it fills (non-blank cells), for messages about
    /// entries that yield no key.
    pub fn row_fields(frame: &DataFrame, columns: &LinkColumns) -> PolarsResult<Vec<Vec<LinkField>>> {
        let mut fields = vec![Vec::new(); frame.height()];
        for (field, name) in &columns.0 {
            let column = frame.column(name)?;
            let text = column.cast(&DataType::String)?;
            for (row, value) in text.str()?.iter().enumerate() {
                if value.is_some_and(|v| !v.trim().is_empty()) {
                    fields[row].push(*field);
                }
            }
        }
        Ok(fields)
    }
}

/// 枝番 → matching key: a number loses its leading zeros (`01`, `1` and `０１` agree).
fn branch_key(raw: &str) -> String {
    match digits_key(raw) {
        Some(digits) if !digits.is_empty() => {
            let trimmed = digits.trim_start_matches('0');
            if trimmed.is_empty() { "0".into() } else { trimmed.into() }
        }
        _ => code_key(raw),
    }
}

/// 患者ID → matching key: like any code, and an all-digit ID loses its leading zeros, since
/// systems pad IDs to different widths (`00012345` and `12345` are one patient).
fn patient_key(raw: &str) -> String {
    let key = code_key(raw);
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = key.trim_start_matches('0');
        return if trimmed.is_empty() { "0".into() } else { trimmed.into() };
    }
    key
}

/// Cell `i` of an optional text column, unless missing or blank.
fn get(column: &Option<StringChunked>, i: usize) -> Option<&str> {
    column.as_ref().and_then(|c| c.get(i)).filter(|s| !s.trim().is_empty())
}

/// 32 lowercase hex characters of a key, for submission tokens.
pub fn token_hex(key: u128) -> String {
    hex::encode(key.to_le_bytes())
}

/// A token written by [`token_hex`], back as its key.
pub fn parse_token(token: &str) -> Option<u128> {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(token, &mut bytes).ok()?;
    Some(u128::from_le_bytes(bytes))
}

/// The token link fields that carry keys, and their kinds.
pub const TOKEN_FIELDS: [(LinkField, KeyKind); 5] = [
    (LinkField::TokenInsurance, KeyKind::Insurance),
    (LinkField::TokenName, KeyKind::Name),
    (LinkField::TokenLocal, KeyKind::Local),
    (LinkField::TokenCardBranch, KeyKind::CardBranch),
    (LinkField::TokenCard, KeyKind::Card),
];

#[cfg(test)]
mod tests {
    use super::*;
    use tokumei_core::normalize::CivilDate;

    fn columns() -> LinkColumns {
        LinkColumns(
            [
                (LinkField::InsurerNumber, "insurer"),
                (LinkField::CardSymbol, "symbol"),
                (LinkField::CardNumber, "number"),
                (LinkField::KanaName, "kana"),
                (LinkField::BirthDate, "birth"),
                (LinkField::Sex, "sex"),
            ]
            .into_iter()
            .map(|(f, c)| (f, c.to_string()))
            .collect(),
        )
    }

    /// A submission's token columns give back the keys and evidence the provider computed.
    #[test]
    fn tokens_read_back_as_keys_and_evidence() {
        let birth = CivilDate::new(1970, 3, 2).unwrap().to_epoch_days();
        let raw = df!(
            "insurer" => ["06131239"], "symbol" => ["12-34"], "number" => ["567"],
            "kana" => ["ﾔﾏﾀﾞ ﾀﾛｳ"], "birth" => [birth], "sex" => [1i32],
            "address" => ["東京都千代田区丸の内1-2-3"],
        )
        .unwrap()
        .lazy()
        .with_column(col("birth").cast(DataType::Date))
        .collect()
        .unwrap();
        let mut raw_columns = columns();
        raw_columns.0.insert(LinkField::Address, "address".into());
        let hasher = KeyHasher::new(&MasterKey::from_bytes([3; 32]), "submission-token");
        let keys = hasher.row_keys(&raw, &raw_columns).unwrap()[0];
        let evidence = hasher.row_evidence(&raw, &raw_columns).unwrap()[0];
        let (street, prefecture) = hasher.evidence_tokens(&evidence);
        let token = |kind: KeyKind| keys[kind as usize].map(token_hex);
        let submitted = df!(
            "k1" => [token(KeyKind::Insurance)], "k2" => [token(KeyKind::Name)],
            "card" => [token(KeyKind::Card)], "street" => [street], "pref" => [prefecture],
        )
        .unwrap();
        let token_columns = LinkColumns(
            [
                (LinkField::TokenInsurance, "k1"),
                (LinkField::TokenName, "k2"),
                (LinkField::TokenCard, "card"),
                (LinkField::TokenAddress, "street"),
                (LinkField::TokenPrefecture, "pref"),
            ]
            .into_iter()
            .map(|(f, c)| (f, c.to_string()))
            .collect(),
        );
        assert_eq!(hasher.check_tokens(&submitted, &token_columns).unwrap(), None);
        assert_eq!(hasher.row_keys(&submitted, &token_columns).unwrap()[0], keys);
        let back = hasher.row_evidence(&submitted, &token_columns).unwrap()[0];
        assert_eq!(back, evidence);
        assert_eq!(back.prefecture, Some(13), "東京都");
        // Another token key's prefecture token, or a cut token, is named by column and row.
        let other = KeyHasher::new(&MasterKey::from_bytes([4; 32]), "submission-token");
        let foreign = df!(
            "k1" => [token(KeyKind::Insurance), Some("abc".to_string())], "k2" => [None::<String>, None],
            "card" => [None::<String>, None], "street" => [None::<String>, None], "pref" => [None::<String>, None],
        )
        .unwrap();
        assert_eq!(hasher.check_tokens(&foreign, &token_columns).unwrap(), Some(("k1".to_string(), 1)));
        assert_eq!(other.check_tokens(&submitted, &token_columns).unwrap(), Some(("pref".to_string(), 0)));
        assert_eq!(parse_token(&token_hex(u128::MAX - 7)), Some(u128::MAX - 7));
    }

    #[test]
    fn patient_ids_ignore_padding() {
        assert_eq!(patient_key("00012345"), patient_key("１２３４５"));
        assert_eq!(patient_key("000"), "0");
        assert_eq!(patient_key("A0012"), "A0012");
    }

    #[test]
    fn spelling_variants_share_keys_and_people_differ() {
        let birth = CivilDate::new(1970, 3, 2).unwrap().to_epoch_days();
        let df = df!(
            "insurer" => ["06131239", "０６１３１２３９", "06131239"],
            "symbol" => ["12-34", "１２３４", "12-34"],
            "number" => ["567", "５６７", "567"],
            "kana" => ["ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　ハナコ"],
            "birth" => [birth, birth, birth],
            "sex" => [1i32, 1, 2],
        )
        .unwrap()
        .lazy()
        .with_column(col("birth").cast(DataType::Date))
        .collect()
        .unwrap();
        let hasher = KeyHasher::new(&MasterKey::from_bytes([3; 32]), "link");
        let keys = hasher.row_keys(&df, &columns()).unwrap();
        // Check digit: 0613123 → 9 must be valid for K1 to exist.
        assert!(keys[0][0].is_some());
        assert_eq!(keys[0][0], keys[1][0]);
        assert_eq!(keys[0][1], keys[1][1]);
        assert_ne!(keys[0][1], keys[2][1]);
        assert_ne!(keys[0][0], keys[2][0]);
        assert_eq!(keys[0][2], None);
        let other = KeyHasher::new(&MasterKey::from_bytes([4; 32]), "link").row_keys(&df, &columns()).unwrap();
        assert_ne!(keys[0][1], other[0][1]);
    }
}
