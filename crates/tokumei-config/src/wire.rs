//! The TOML as written: every field optional where a default exists, unknown fields rejected.
//! `docs/config.md` is the reference generated from these comments.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use tokumei_core::{LinkField, Role, ValueType};
use tokumei_ingest::{Format, TextEncoding};
use tokumei_link::ConflictRule;
use tokumei_transform::{AddressLevel, DateLevel, DrugLevel, FacilityLevel, Icd10Level};

/// A whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigToml {
    /// The release being produced. Required.
    pub release: ReleaseToml,
    /// Where the master key comes from. Required; the key itself is never in the TOML.
    pub key: KeyToml,
    /// Input tables, one `[[input]]` each. At least one.
    #[serde(default)]
    pub input: Vec<InputToml>,
    /// Opt-out (提供停止) lists, one `[[opt-out]]` each. Default: none.
    #[serde(default)]
    pub opt_out: Vec<OptOutToml>,
    /// Limits on what ingest accepts. Default: the strict values below.
    pub ingest: Option<IngestToml>,
    /// How records are linked into persons (名寄せ). Default: `conflict = "evidence"`.
    pub linkage: Option<LinkageToml>,
    /// Person-level k-anonymity. Anonymized profile only; default there: k = 5, 5 % suppression.
    pub privacy: Option<PrivacyToml>,
    /// Per-column transforms, keyed by `column` (every table) or `table.column` (one table; wins).
    /// Default: the profile's treatment of the column's role (see the README's table).
    #[serde(default)]
    pub transform: BTreeMap<String, TransformToml>,
    /// Records kept beyond the release. Default: none.
    pub records: Option<RecordsToml>,
}

/// `[records]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RecordsToml {
    /// A run ledger (JSON lines), relative to this file: every run — released, refused or
    /// failed — appends one line (time, user, host, version, profile, label, the digests of the
    /// config, inputs and outputs, the counts, the status) chained to the line before by its
    /// blake3, so that `tokumei ledger verify` finds an edited, removed, reordered or cut-short
    /// line. Keep it outside the release folders. Default: none. Example:
    /// `ledger = "../records/ledger.jsonl"`.
    pub ledger: Option<PathBuf>,
}

/// What kind of release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// A provider's submission to a certified producer: opt-out applied, notified items only,
    /// identifiers replaced by keyed linkage tokens, provision record (提供記録) written.
    Submission,
    /// 仮名加工医療情報: identifiers removed, linking codes replaced by per-release pseudonyms.
    Pseudonymized,
    /// 匿名加工医療情報: pseudonymized plus generalization, rare codes, top/bottom coding and
    /// person-level k-anonymity.
    Anonymized,
}

/// `[release]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleaseToml {
    /// Profile: `submission`, `pseudonymized` or `anonymized`. Required.
    pub profile: Profile,
    /// Release label, e.g. `"2026-11 research-a"`. Pseudonyms are keyed per label, so two releases
    /// cannot be joined. Required.
    pub label: String,
    /// Date ages are computed at (YYYY-MM-DD). Required when any age band is used.
    pub reference_date: Option<String>,
    /// Date recorded as the provision date in the provision record and report. Default: the
    /// reference date, else 1970-01-01 (set it: outputs must not depend on the clock).
    pub date: Option<String>,
    /// Output folder, relative to this file. Default: `out/<label>` beside this file.
    /// `tokumei run --out` overrides it.
    pub out: Option<PathBuf>,
    /// Recipient named in the provision record, e.g. a certified producer. Default: none.
    pub recipient: Option<String>,
    /// Provider named in the provision record. Default: none.
    pub provider: Option<String>,
    /// Permissions of the release's files, in octal: the owner reads and writes; a group (or
    /// others) may be allowed to read, never to write. The folder gets the matching search bits.
    /// Default: "0600" (the owner only). Example: "0640".
    pub mode: Option<String>,
    /// Whether `tokumei verify`'s checks run on the finished release folder before it is moved
    /// into place (digests, row and person counts, identifiers in any cell, k over persons); a
    /// finding means no release, exit 1. Default: true.
    pub verify: Option<bool>,
}

/// `[ingest]`: what ingest accepts before a release stops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IngestToml {
    /// Largest fraction of a table's rows that may be quarantined (cells that cannot be typed,
    /// control characters, oversized cells), and of a column's values that a transform may fail
    /// to read; above it the run stops and releases nothing. An input's own `max-quarantine`
    /// wins. Default: 0.01. Example: 0.001.
    pub max_quarantine: Option<f64>,
    /// Largest cell, in bytes; a larger cell quarantines its row. Default: 65536.
    /// Example: 4096.
    pub max_cell_bytes: Option<usize>,
}

/// `[key]`: exactly one of `file` or `env`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyToml {
    /// Key file (64 hex characters; `tokumei keygen` writes one), relative to this file.
    pub file: Option<PathBuf>,
    /// Environment variable holding the key as 64 hex characters.
    pub env: Option<String>,
    /// The token key file of the certified producer (`tokumei keygen --token-key`), relative to
    /// this file. Required by the `submission` profile (the key your producer issued: the
    /// submission's tokens are keyed with it, so that the producer can link them with other
    /// providers' tokens) and by a producer's config with `format = "submission"` inputs (the key
    /// it issued). Linkage keys and token lists are keyed with it too; row order and pseudonyms
    /// stay on `file`/`env`. Not allowed elsewhere. Example: `token = "keys/producer-token.key"`.
    pub token: Option<PathBuf>,
}

/// `[[input]]`: one table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InputToml {
    /// Table name in the release (`checkups`, `dispensing`, `charts`…). Required, unique.
    pub name: String,
    /// File path, relative to this file. Required.
    pub path: PathBuf,
    /// `csv`, `parquet`, or a national format: `uke` (receipt files: one file or a directory of
    /// `*.UKE`), `cda` (特定健診 XML: one document, an exchange ZIP, or a directory of either),
    /// `ss-mix2` (the root folder of an SS-MIX2 storage); or, at a certified producer,
    /// `submission` (a provider's submission folder: checked whole and keyed with this
    /// producer's token key `[key] token` before it is read; its token columns carry the
    /// `token-…` link fields). Default: from the file extension (`.parquet` → parquet, `.uke` →
    /// uke, else csv).
    pub format: Option<Format>,
    /// National formats: which of the format's tables to read. `uke`: `receipts`, `diagnoses`,
    /// `procedures`, `drugs`, `devices`, `comments` (医科 files); `dispensing-receipts`,
    /// `dispensing`, `dispensing-devices`, `dispensing-comments` (調剤 files). `cda`: `checkups`
    /// (one row per document), `observations` (one row per observation). `ss-mix2`: `patients`,
    /// `visits`, `diagnoses`, `prescriptions`, `lab-results`. Headers and where each comes
    /// from: `docs/formats.md`. `submission`: any table the submission has, e.g. `charts`.
    pub extract: Option<String>,
    /// `utf-8`, `utf-8-bom` or `cp932` (CSV only; UKE files are always cp932). Default: `utf-8`.
    pub encoding: Option<TextEncoding>,
    /// One-character field delimiter. Default: `","`. Example: `"\t"`.
    pub delimiter: Option<String>,
    /// A schema file with the `[[column]]` list, relative to this file. Either this or `column`.
    pub schema: Option<PathBuf>,
    /// The columns, inline. Either this or `schema`.
    pub column: Option<Vec<ColumnToml>>,
    /// Whether the input may have no data rows (a header only). Without it an empty input stops
    /// the run: an export that came out empty would otherwise go unnoticed, and opt-out entries
    /// for its persons would match nobody. Default: false. Example: true.
    pub allow_empty: Option<bool>,
    /// This input's limit on quarantined rows, as in `[ingest]`. Default: `[ingest]`'s.
    /// Example: 0.05.
    pub max_quarantine: Option<f64>,
}

/// `[[column]]`: one column of an input or opt-out list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColumnToml {
    /// Canonical name (English, snake_case), e.g. `birth_date`. Required.
    pub name: String,
    /// Header in the file, e.g. `生年月日`. Required.
    pub header: String,
    /// `text`, `date`, `integer`, `decimal` or `sex`. Default: `text`.
    #[serde(rename = "type")]
    pub value_type: Option<ValueType>,
    /// `direct-identifier`, `identification-code`, `linkage-identifier`, `quasi-identifier`,
    /// `event` (when and where a person was treated: visit or dispensing dates, facility and
    /// pharmacy codes), `sensitive`, `insensitive` or `free-text`. In the anonymized profile a
    /// date or facility column may be `insensitive` only with a `reason`. Required for inputs;
    /// unused in opt-out lists.
    pub role: Option<Role>,
    /// The identifying field this column carries, for linkage and opt-out matching:
    /// `insurer-number`, `card-symbol`, `card-number`, `card-branch`, `kana-name`, `name`,
    /// `birth-date`, `sex`, `facility-code`, `patient-id`, `my-number`, `address`; in a
    /// submission's schema its tokens: `token-insurance`, `token-name`, `token-local`,
    /// `token-card-branch`, `token-card`, `token-address`, `token-prefecture`. Default: none.
    pub link: Option<LinkField>,
    /// Why the column may be released although it looks like free text or identifiers (the
    /// check before writing stops a release otherwise). Recorded in the report. Default: none.
    /// Example: `"structured 所見 codes with their short labels, reviewed 2026-11"`.
    pub reason: Option<String>,
}

/// A schema file: `[[column]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SchemaToml {
    /// What the export is. Optional.
    pub description: Option<String>,
    /// The columns.
    pub column: Vec<ColumnToml>,
}

/// `[[opt-out]]`: one opt-out list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OptOutToml {
    /// A plain list (CSV or Parquet with identifying columns), relative to this file. Either this
    /// or `tokens`.
    pub path: Option<PathBuf>,
    /// A token list written by `tokumei optout hash` (keyed hashes, no plain identifiers),
    /// relative to this file. Either this or `path`; `schema` and `column` do not apply. At a
    /// certified producer, a provider's list (made under its submission config, so keyed with
    /// the token key), usually with `scope = "provider"` and that provider's tables.
    pub tokens: Option<PathBuf>,
    /// As for inputs. Default: from the extension.
    pub format: Option<Format>,
    /// As for inputs. Default: `utf-8`.
    pub encoding: Option<TextEncoding>,
    /// As for inputs. Default: `","`.
    pub delimiter: Option<String>,
    /// Schema file (columns with `link`; a `date` column named `request_date` is recorded).
    pub schema: Option<PathBuf>,
    /// Inline columns instead of `schema`.
    pub column: Option<Vec<ColumnToml>>,
    /// What an entry removes: `person` (every record of the linked person, in every table) or
    /// `provider` (only the records in `provider-tables`). Default: `person`.
    pub scope: Option<OptOutScope>,
    /// The tables a `provider`-scoped list covers, e.g. `["charts"]`.
    pub provider_tables: Option<Vec<String>>,
}

/// The reach of an opt-out list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptOutScope {
    /// Every record of the linked person.
    Person,
    /// Only the named provider's records.
    Provider,
}

/// `[linkage]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LinkageToml {
    /// Who a shared name key (kana + birth date + sex) joins: `evidence` (persons whose
    /// addresses, or else prefectures, do not tell them apart; namesakes elsewhere stay apart),
    /// `merge` (everyone holding it) or `insurance-wins` (never two persons that each have an
    /// insurance key; an opt-out by name still removes both). Default: `evidence`.
    pub conflict: Option<ConflictRule>,
}

/// `[privacy]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrivacyToml {
    /// Minimum persons per equivalence class over the quasi-identifiers. Default: 5. Example: 10.
    pub k: Option<u32>,
    /// Largest fraction of persons that may be suppressed. Default: 0.05. Example: 0.02.
    pub max_suppression: Option<f64>,
    /// Utility metric the search minimizes: `loss` (ARX's default), `precision`,
    /// `discernibility`, `aecs` or `entropy` (non-uniform). Default: `loss`. Example: `precision`.
    pub metric: Option<String>,
    /// Largest average re-identification risk (released classes ÷ released persons). Default:
    /// none. Example: 0.05.
    pub average_risk: Option<f64>,
    /// How many of a person's items (one per record: its `event` columns — when and where — at
    /// their released levels) an attacker may know: any `m` of them, with the person's
    /// quasi-identifiers, still match at least `k` persons ((k, k^m)-anonymity). `0` protects
    /// only the quasi-identifiers and must be chosen explicitly. Default: 2. Example: 3.
    pub m: Option<usize>,
    /// Sensitive column for ℓ-diversity and t-closeness (each person counts once per distinct
    /// value). Default: none. Example: `"diagnosis_code"`.
    pub sensitive: Option<String>,
    /// ℓ of ℓ-diversity (needs `sensitive`). Default: none. Example: 2.
    pub l: Option<f64>,
    /// ℓ-diversity variant: `distinct`, `entropy` or `recursive`. Default: `distinct`.
    /// Example: `entropy`.
    pub l_variant: Option<String>,
    /// c of recursive (c,ℓ)-diversity. Default: 3. Example: 4.
    pub c: Option<f64>,
    /// t of t-closeness (needs `sensitive`). Default: none. Example: 0.2.
    pub t: Option<f64>,
    /// Ground distance of t-closeness: `equal` (categories) or `ordered` (numbers, ordered codes).
    /// Default: `equal`. Example: `ordered`.
    pub t_distance: Option<String>,
    /// Lattices up to this many nodes are searched for the provable optimum; larger ones by a
    /// greedy heuristic within `node-budget`. Default: 1048576. Example: 100000.
    pub max_optimal_lattice: Option<u64>,
    /// Nodes the heuristic search may evaluate. Default: 20000. Example: 5000.
    pub node_budget: Option<u64>,
    /// Seconds the heuristic search may take. Default: no limit. Example: 60.
    pub time_budget: Option<f64>,
    /// Per quasi-identifier, the lowest and highest level the search may choose. Default: all
    /// levels. Example: `{ age = [1, 3] }`.
    #[serde(default)]
    pub levels: std::collections::BTreeMap<String, [usize; 2]>,
}

/// `[transform.<column>]`: one column's treatment, by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", rename_all_fields = "kebab-case", tag = "kind")]
pub enum TransformToml {
    /// Keep as is.
    Keep,
    /// Remove the column.
    Drop,
    /// Replace by a per-release keyed pseudonym (linking codes).
    Pseudonym,
    /// Birth date → age band at the reference date.
    AgeBand {
        /// Band width per level. Default: `[5, 10, 20]`.
        widths: Option<Vec<u32>>,
        /// Top band: ages ≥ top become `top+`. Default: 90.
        top: Option<u32>,
        /// Bottom band: ages < bottom become `<bottom`. Default: 0 (none).
        bottom: Option<u32>,
    },
    /// Date → `YYYY-MM` (level 1: `YYYY`); the same as `date` with levels `["month", "year"]`.
    Month,
    /// Date → levels among `day`, `month`, `quarter`, `year`, `five-years`. Default levels:
    /// `["day", "month", "quarter", "year", "five-years"]`.
    Date {
        /// Levels, finest first.
        levels: Option<Vec<DateLevel>>,
    },
    /// ICD-10 code → levels among `code`, `category` (3 characters), `chapter`. Default: all.
    Icd10 {
        /// Levels, finest first.
        levels: Option<Vec<Icd10Level>>,
    },
    /// Drug (YJ) code → levels among `product`, `ingredient` (7), `class` (薬効分類, 4),
    /// `class-group` (3). Default: `["product", "ingredient", "class"]`.
    Drug {
        /// Levels, finest first.
        levels: Option<Vec<DrugLevel>>,
    },
    /// Facility code (10 digits) → levels among `code`, `prefecture-type` (3), `prefecture` (2),
    /// `region` (地方 of the prefecture). Default: `["code", "prefecture-type"]`.
    Facility {
        /// Levels, finest first.
        levels: Option<Vec<FacilityLevel>>,
    },
    /// Number → the value, then intervals of each width (each a multiple of the previous), with
    /// values below `bottom` / at or above `top` coded `<bottom` / `>=top`. Example:
    /// `widths = [5, 10, 20], bottom = 20, top = 200`.
    Interval {
        /// Interval widths, finest first.
        widths: Vec<f64>,
        /// Bottom code. Default: none.
        bottom: Option<f64>,
        /// Top code. Default: none.
        top: Option<f64>,
    },
    /// Address → levels among `street` (番地 removed), `municipality`, `prefecture`, `region`.
    Address {
        /// Levels, finest first. Example: `["prefecture", "region"]`.
        levels: Vec<AddressLevel>,
    },
    /// Postal code → first digits. Default levels: `[3, 1]`.
    PostalCode {
        /// Digits kept per level.
        digits: Option<Vec<usize>>,
    },
    /// Code → first characters per level (facility code → `[2]` = prefecture).
    Prefix {
        /// Characters kept per level.
        chars: Vec<usize>,
    },
    /// Codes held by fewer than `min-persons` persons → 3-character category, else `*`.
    RareCode {
        /// Default: the privacy k, else 5.
        min_persons: Option<u32>,
        /// Characters of the category a rare code falls back to (3 = ICD-10 category); 0 =
        /// suppress rare values directly (names, drug codes). Default: 3.
        category_chars: Option<usize>,
    },
    /// Top/bottom coding at quantiles of the released rows.
    TopBottom {
        /// Lower quantile, e.g. 0.005. Default: none.
        lower: Option<f64>,
        /// Upper quantile, e.g. 0.995. Default: none.
        upper: Option<f64>,
        /// A column of the same table whose values each get their own quantiles: in a long table
        /// of lab results, the test's code (JLAC10), so each test is coded at its own extremes.
        /// Default: none (one set of quantiles). Example: `"jlac10_code"`.
        by: Option<String>,
    },
}
