//! What a column is, for privacy purposes, and how its cells are typed.

use serde::{Deserialize, Serialize};

/// The privacy role of a column. The role decides the default treatment in every profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// 特定個人を識別できる記述 (氏名, 住所 with 番地, 電話番号): removed from every release.
    DirectIdentifier,
    /// 個人識別符号 (被保険者証 記号・番号・枝番, 保険者番号, 個人番号): always removed in full.
    IdentificationCode,
    /// 連結符号 (患者ID, レセプト番号): removed or replaced by a per-release keyed pseudonym.
    LinkageIdentifier,
    /// Quasi-identifier (birth date, sex, address, postal code): generalized; enters k-anonymity.
    QuasiIdentifier,
    /// When and where a person was treated (visit, dispensing or checkup date; facility or
    /// pharmacy code): quasi-identifying, since a neighbour, an employer or a pharmacist knows
    /// it. Each record's events are one of the person's items; in an anonymized release any `m`
    /// of them, with the person's quasi-identifiers, match at least k persons ((k, k^m)).
    Event,
    /// Clinical content an adversary should not learn (diagnoses, drugs, lab values).
    Sensitive,
    /// Content that neither identifies nor needs protection (facility type, days' supply).
    Insensitive,
    /// Free text (chart notes, 摘要): may carry names and numbers, so it is dropped by default.
    FreeText,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 8] = [
        Role::DirectIdentifier,
        Role::IdentificationCode,
        Role::LinkageIdentifier,
        Role::QuasiIdentifier,
        Role::Event,
        Role::Sensitive,
        Role::Insensitive,
        Role::FreeText,
    ];
}

/// How the cells of a column are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    /// Any text, kept as written.
    Text,
    /// A date in any accepted form (Western, 和暦, era letter, GYYMMDD) → `Date`.
    Date,
    /// A whole number (full-width digits accepted) → `Int64`.
    Integer,
    /// A decimal number (full-width digits accepted) → `Float64`.
    Decimal,
    /// 性別 in any spelling → `Int32` 男女区分 code (1 男, 2 女).
    Sex,
}

/// Which person-identifying field a column carries, for linkage (名寄せ) and opt-out matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkField {
    /// 保険者番号
    InsurerNumber,
    /// 被保険者証 記号
    CardSymbol,
    /// 被保険者証 番号
    CardNumber,
    /// 枝番
    CardBranch,
    /// カナ氏名
    KanaName,
    /// 氏名 (kanji)
    Name,
    /// 生年月日
    BirthDate,
    /// 性別
    Sex,
    /// 医療機関コード / 薬局コード of the record's own provider
    FacilityCode,
    /// 患者ID / カルテ番号 (local to the facility)
    PatientId,
    /// 個人番号
    MyNumber,
    /// 住所: not a key, but evidence that decides name-key conflicts (see the linkage rule).
    Address,
    /// A submission's K1 token (`token_insurance`): insurance card + birth date + sex, keyed
    /// with the certified producer's token key. Only in `format = "submission"` inputs; so are
    /// the other token fields.
    TokenInsurance,
    /// A submission's K2 token (`token_name`): kana name + birth date + sex.
    TokenName,
    /// A submission's K3 token (`token_local`): facility + local patient ID.
    TokenLocal,
    /// A submission's K1b token (`token_card_branch`): an individual's card (card + 枝番).
    TokenCardBranch,
    /// A submission's card token (`token_card`): the card alone, shared by a household; never
    /// joins, but tells twins apart and lets a card-only opt-out entry find its holders.
    TokenCard,
    /// A submission's street-level address evidence (`token_address`).
    TokenAddress,
    /// A submission's prefecture evidence (`token_prefecture`).
    TokenPrefecture,
}

impl LinkField {
    /// The kebab-case name configs use (`card-branch`).
    pub fn name(self) -> &'static str {
        match self {
            LinkField::InsurerNumber => "insurer-number",
            LinkField::CardSymbol => "card-symbol",
            LinkField::CardNumber => "card-number",
            LinkField::CardBranch => "card-branch",
            LinkField::KanaName => "kana-name",
            LinkField::Name => "name",
            LinkField::BirthDate => "birth-date",
            LinkField::Sex => "sex",
            LinkField::FacilityCode => "facility-code",
            LinkField::PatientId => "patient-id",
            LinkField::MyNumber => "my-number",
            LinkField::Address => "address",
            LinkField::TokenInsurance => "token-insurance",
            LinkField::TokenName => "token-name",
            LinkField::TokenLocal => "token-local",
            LinkField::TokenCardBranch => "token-card-branch",
            LinkField::TokenCard => "token-card",
            LinkField::TokenAddress => "token-address",
            LinkField::TokenPrefecture => "token-prefecture",
        }
    }

    /// Whether this is a submission's token field (read from a provider's tokens, not computed).
    pub fn is_token(self) -> bool {
        matches!(
            self,
            LinkField::TokenInsurance
                | LinkField::TokenName
                | LinkField::TokenLocal
                | LinkField::TokenCardBranch
                | LinkField::TokenCard
                | LinkField::TokenAddress
                | LinkField::TokenPrefecture
        )
    }
}
