//! The records the Act expects beside a release, as files and in Japanese in `report.md` and
//! `report.html`: a provider's 提供記録 (provision record) for a submission, and a producer's
//! 作成記録 (creation record) for a pseudonymized or anonymized release.
//!
//! The items of each record follow the digest's account of the law (`提供記録`: date, receiving
//! producer, the persons or records, the items; the producer's records of what it produced and
//! provided; kept at least three years). The 規則's exact list of creation-record items was not
//! available: the creation record's fields are tokumei's reading of "what was produced, how and
//! for whom", stated as an assumption in the record itself and in `docs/records.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::manifest::{InputFile, RunReport};
use crate::sections::{Section, Table};

/// The assumption the creation record states about itself.
pub const CREATION_ASSUMPTION: &str = "作成記録の記録事項は規則の条文を参照できないため、本ツールの解釈（何を・どの方法で加工し、\
     誰に向けて作成したか）による。 The items of this record are tokumei's reading of the law (what was processed, by \
     which method, for whom); the 規則's list was not available.";

/// A file the release was made from, by what it is and its digest (not its path, which is the
/// machine's: the record is the same wherever the same inputs are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputDigest {
    /// `config`, `input:<table>` or `opt-out`.
    pub kind: String,
    /// blake3, hex.
    pub blake3: String,
}

impl From<&InputFile> for InputDigest {
    fn from(input: &InputFile) -> InputDigest {
        InputDigest { kind: input.kind.clone(), blake3: input.blake3.clone() }
    }
}

/// A table's rows and persons in the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCount {
    /// Persons.
    pub persons: u64,
    /// Rows.
    pub rows: u64,
    /// Table.
    pub table: String,
}

/// 提供記録: what a provider provided, when, to whom. Fields in name order (the file is written
/// with sorted keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionRecord {
    /// Provision date.
    pub date: String,
    /// Per table, the items (columns) provided.
    pub items: BTreeMap<String, Vec<String>>,
    /// Persons excluded because they opted out (提供停止).
    pub opt_out_persons_excluded: Option<u64>,
    /// The provider.
    pub provider: Option<String>,
    /// The receiving certified producer.
    pub recipient: Option<String>,
    /// `提供記録 (provision record)`.
    pub record: String,
    /// The submission's release label.
    pub release_label: String,
    /// Three years after the date (the retention the law requires).
    pub retain_until_at_least: String,
    /// Per table, the rows and persons provided.
    pub tables: Vec<TableCount>,
    /// The fingerprint of the producer's token key the tokens are keyed with.
    pub token_key_fingerprint: Option<String>,
}

/// One item (column) of a release and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRecord {
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
    /// 区分: what kind of item it is, in Japanese.
    pub kind: String,
    /// 措置: deleted, replaced, generalized, coded or kept, in Japanese.
    pub method: String,
    /// The details: level chosen, bounds, counts.
    pub detail: String,
}

/// The privacy model of an anonymized release and what it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivacyRecord {
    /// The guarantee in Japanese, as measured on the release.
    pub model: String,
    /// k.
    pub k: u32,
    /// m (the events an attacker may know).
    pub m: Option<usize>,
    /// Level reached per quasi-identifier and event column, in words.
    pub levels: BTreeMap<String, String>,
    /// The smallest class of the release (persons).
    pub smallest_class: Option<u64>,
    /// Persons suppressed.
    pub persons_suppressed: u64,
    /// Rows suppressed.
    pub rows_suppressed: u64,
    /// Records whose events were released as `*`.
    pub records_with_events_suppressed: Option<u64>,
}

/// 作成記録: what a producer made of its inputs, by which methods, for whom.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreationRecord {
    /// `作成記録 (creation record)`.
    pub record: String,
    /// `匿名加工医療情報` or `仮名加工医療情報`.
    pub kind: String,
    /// Release label.
    pub release_label: String,
    /// Release date.
    pub release_date: String,
    /// Who made it (`[release] provider`).
    pub producer: Option<String>,
    /// For whom (`[release] recipient`).
    pub recipient: Option<String>,
    /// The tool and its version.
    pub created_with: String,
    /// Every item of every input table and what was done to it.
    pub items: Vec<ItemRecord>,
    /// Anonymized releases: the privacy model, the level reached, the persons suppressed.
    pub privacy: Option<PrivacyRecord>,
    /// The opt-out lists applied, by digest.
    pub opt_out_lists: Vec<InputDigest>,
    /// Persons removed by opt-out.
    pub opt_out_persons_removed: Option<u64>,
    /// Rows and persons released per table.
    pub tables: Vec<TableCount>,
    /// The config and inputs, by digest.
    pub inputs: Vec<InputDigest>,
    /// Three years after the release date.
    pub retain_until_at_least: String,
    /// Where a field is an assumption.
    pub assumptions: Vec<String>,
}

/// A record written beside a release, rendered in the reports too.
#[derive(Debug, Clone, PartialEq)]
pub enum LegalRecord {
    /// A submission's 提供記録.
    Provision(ProvisionRecord),
    /// A pseudonymized or anonymized release's 作成記録.
    Creation(Box<CreationRecord>),
}

impl LegalRecord {
    /// Its file in the release.
    pub fn file(&self) -> &'static str {
        match self {
            LegalRecord::Provision(_) => "provision_record.json",
            LegalRecord::Creation(_) => "creation_record.json",
        }
    }

    /// The file's text (pretty JSON).
    pub fn to_json(&self) -> serde_json::Result<String> {
        let text = match self {
            LegalRecord::Provision(r) => serde_json::to_string_pretty(r)?,
            LegalRecord::Creation(r) => serde_json::to_string_pretty(r)?,
        };
        Ok(text + "\n")
    }
}

/// Three years after an ISO date (`2026-11-01` → `2029-11-01`; 29 February → 1 March).
pub fn three_years_after(date: &str) -> String {
    match date.split_once('-') {
        Some((year, rest)) => year.parse::<i32>().map_or_else(
            |_| date.to_string(),
            |y| format!("{}-{}", y + 3, if rest == "02-29" { "03-01" } else { rest }),
        ),
        None => date.to_string(),
    }
}

/// A column's role as the report writes it, in Japanese.
fn kind_ja(role: &str) -> &'static str {
    match role {
        "directidentifier" => "直接識別子（氏名・住所・電話番号等）",
        "identificationcode" => "個人識別符号（被保険者証記号・番号・枝番、個人番号等）",
        "linkageidentifier" => "連結可能な符号（患者ID・レセプト番号等）",
        "quasiidentifier" => "準識別子（生年月日・性別・郵便番号等）",
        "event" => "受診・調剤の日付と医療機関",
        "sensitive" => "医療情報（傷病名・薬剤・検査値等）",
        "insensitive" => "その他の項目",
        "freetext" => "自由記述",
        "person" => "個人の仮名（名寄せした個人ごと）",
        "linkage token" => "名寄せ用トークン",
        "linkage evidence" => "名寄せ用の補助トークン",
        _ => "その他",
    }
}

/// A transform as the report writes it, in Japanese.
fn method_ja(transform: &str) -> &'static str {
    match transform {
        "drop" => "削除",
        "keep" => "加工なし",
        "pseudonym" => "置換（鍵付きハッシュによる仮名。リリースごとに鍵を改め、復元の規則性なし）",
        "generalize" => "一般化",
        "rare-code" => "特異な記述の一般化・削除",
        "top-bottom" => "トップ・ボトムコーディング",
        "keyed hash" => "置換（作成事業者のトークン鍵による鍵付きハッシュ）",
        _ => "その他",
    }
}

impl CreationRecord {
    /// The creation record of the release `report` describes (its transforms, privacy section,
    /// opt-out section, accounting and inputs).
    pub fn of(report: &RunReport, producer: Option<String>, recipient: Option<String>) -> CreationRecord {
        let items = report
            .transforms
            .iter()
            .map(|t| ItemRecord {
                table: t.table.clone(),
                column: t.column.clone(),
                kind: kind_ja(&t.role).into(),
                method: method_ja(&t.transform).into(),
                detail: t.detail.clone(),
            })
            .collect();
        let privacy = report.stages.privacy.as_ref().map(|p| {
            let mut levels = p.solution.level_names.clone();
            if let Some(items) = &p.items {
                levels.extend(items.level_names.clone());
            }
            PrivacyRecord {
                model: p.guarantee.as_ref().map_or_else(|| p.solution.model.clone(), |g| g.statement_ja.clone()),
                k: p.k,
                m: p.guarantee.as_ref().map(|g| g.m),
                levels,
                smallest_class: p.guarantee.as_ref().map(|g| g.measured.min_class),
                persons_suppressed: p.solution.suppressed_units,
                rows_suppressed: p.solution.suppressed_records,
                records_with_events_suppressed: p.items.as_ref().map(|i| i.solution.suppressed_records),
            }
        });
        CreationRecord {
            record: "作成記録 (creation record)".into(),
            kind: if report.profile == "anonymized" { "匿名加工医療情報" } else { "仮名加工医療情報" }.into(),
            release_label: report.label.clone(),
            release_date: report.date.clone(),
            producer,
            recipient,
            created_with: format!("tokumei {}", report.tokumei_version),
            items,
            privacy,
            opt_out_lists: report.inputs.iter().filter(|i| i.kind == "opt-out").map(InputDigest::from).collect(),
            opt_out_persons_removed: report.stages.opt_out.as_ref().and_then(|o| o.persons_removed),
            tables: report
                .accounting
                .iter()
                .map(|a| TableCount { table: a.table.clone(), rows: a.written, persons: a.persons_written })
                .collect(),
            inputs: report.inputs.iter().map(InputDigest::from).collect(),
            retain_until_at_least: three_years_after(&report.date),
            assumptions: vec![CREATION_ASSUMPTION.into()],
        }
    }
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".into())
}

impl LegalRecord {
    /// The record in Japanese, as report sections.
    pub(crate) fn sections(&self) -> Vec<Section> {
        let table = |headers: Vec<&'static str>, rows: Vec<Vec<String>>| Table { caption: None, headers, rows };
        match self {
            LegalRecord::Provision(r) => {
                let mut about = vec![
                    vec!["提供日".to_string(), r.date.clone()],
                    vec!["提供者".into(), or_dash(&r.provider)],
                    vec!["提供先（認定作成事業者）".into(), or_dash(&r.recipient)],
                    vec!["ラベル".into(), r.release_label.clone()],
                    vec![
                        "提供停止により除外した人数".into(),
                        r.opt_out_persons_excluded.map_or("—".into(), |n| n.to_string()),
                    ],
                    vec!["トークン鍵の指紋".into(), or_dash(&r.token_key_fingerprint)],
                    vec!["保存期限（以降まで）".into(), r.retain_until_at_least.clone()],
                ];
                about.extend(r.tables.iter().map(|t| {
                    vec![format!("{}: 提供した記録（人）", t.table), format!("{} 件（{} 人）", t.rows, t.persons)]
                }));
                let items = r.items.iter().map(|(table, columns)| vec![table.clone(), columns.join(", ")]).collect();
                vec![Section {
                    heading: "提供記録 (provision record)",
                    note: Some("provision_record.json の内容。3 年以上保存すること。".into()),
                    tables: vec![table(vec!["項目", "内容"], about), table(vec!["テーブル", "提供した項目"], items)],
                }]
            }
            LegalRecord::Creation(r) => {
                let about = vec![
                    vec!["種別".to_string(), r.kind.clone()],
                    vec!["作成日".into(), r.release_date.clone()],
                    vec!["ラベル".into(), r.release_label.clone()],
                    vec!["作成者".into(), or_dash(&r.producer)],
                    vec!["提供先".into(), or_dash(&r.recipient)],
                    vec!["作成に用いたもの".into(), r.created_with.clone()],
                    vec![
                        "提供停止により除外した人数".into(),
                        r.opt_out_persons_removed.map_or("—".into(), |n| n.to_string()),
                    ],
                    vec!["保存期限（以降まで）".into(), r.retain_until_at_least.clone()],
                ];
                let items = r
                    .items
                    .iter()
                    .map(|i| {
                        vec![i.table.clone(), i.column.clone(), i.kind.clone(), i.method.clone(), i.detail.clone()]
                    })
                    .collect();
                let mut tables = vec![
                    table(vec!["項目", "内容"], about),
                    table(vec!["テーブル", "項目", "区分", "措置", "詳細"], items),
                ];
                if let Some(p) = &r.privacy {
                    let mut rows = vec![
                        vec!["基準".to_string(), p.model.clone()],
                        vec!["k".into(), p.k.to_string()],
                        vec!["最小の同値クラス（人）".into(), p.smallest_class.map_or("—".into(), |n| n.to_string())],
                        vec![
                            "抑制した人数（記録数）".into(),
                            format!("{}（{}）", p.persons_suppressed, p.rows_suppressed),
                        ],
                    ];
                    if let Some(m) = p.m {
                        rows.push(vec!["m（攻撃者が知りうる受診等の数）".into(), m.to_string()]);
                    }
                    if let Some(n) = p.records_with_events_suppressed {
                        rows.push(vec!["日付・医療機関を * とした記録".into(), n.to_string()]);
                    }
                    rows.extend(p.levels.iter().map(|(column, level)| vec![format!("{column} の水準"), level.clone()]));
                    tables.push(table(vec!["匿名化の基準", ""], rows));
                }
                let lists = r.opt_out_lists.iter().map(|l| vec![l.kind.clone(), l.blake3.clone()]).collect();
                tables.push(table(vec!["適用した提供停止リスト", "blake3"], lists));
                vec![Section {
                    heading: "作成記録 (creation record)",
                    note: Some(format!(
                        "creation_record.json の内容。3 年以上保存すること。{}",
                        r.assumptions.join(" ")
                    )),
                    tables,
                }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_three_years() {
        assert_eq!(three_years_after("2026-11-01"), "2029-11-01");
        assert_eq!(three_years_after("2024-02-29"), "2027-03-01");
    }

    #[test]
    fn every_role_and_transform_the_report_writes_has_a_japanese_name() {
        let roles = [
            "directidentifier",
            "identificationcode",
            "linkageidentifier",
            "quasiidentifier",
            "event",
            "sensitive",
            "insensitive",
            "freetext",
            "person",
            "linkage token",
            "linkage evidence",
        ];
        for role in roles {
            assert_ne!(kind_ja(role), "その他", "{role}");
        }
        for transform in ["drop", "keep", "pseudonym", "generalize", "rare-code", "top-bottom", "keyed hash"] {
            assert_ne!(method_ja(transform), "その他", "{transform}");
        }
    }
}
