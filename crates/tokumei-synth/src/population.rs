//! The synthetic population and the three exports that spell it differently.

use std::path::Path;

use rand::Rng;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use tokumei_core::geo::{PREFECTURES, prefecture_by_code};
use tokumei_core::normalize::{CivilDate, insurer_check_digit, my_number_check_digit};

use crate::national::{
    CHECKUP_CODES, Card, CdaFiles, ChartRow, Checkup, DispensedLine, Patient, SsMix2Files, UkeFiles, Visit,
};
use crate::spelling::{DateForm, full_width, half_width_kana, hiragana, write_date};
use crate::vocab::{
    COMMON_DIAGNOSES, DRUGS, Diagnosis, FEMALE_NAMES, MALE_NAMES, MUNICIPALITIES, RARE_DIAGNOSES, SURNAMES, TOWNS,
};
use crate::writer::{Encoding, Error, TableWriter};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Persons in the population (not all appear in every source).
    pub persons: usize,
    /// Seed: the same seed gives byte-identical files.
    pub seed: u64,
    /// Fraction of persons with records who opt out (default 0.02).
    pub opt_out_rate: f64,
    /// Fraction of persons given the kana name, sex and birth date of an earlier person (a
    /// namesake: 同姓同名同生年月日, at another address; default 0.001, well above Japan's rate so
    /// that linkage meets them).
    pub namesake_rate: f64,
    /// Fraction of persons who share their insurance card with others of their household
    /// (each with their own 枝番; default 0.1). Households are written together, and an opt-out
    /// by the card alone removes all of them.
    pub household_rate: f64,
    /// Fraction of persons with a same-sex twin on their card: same card, birth date, sex,
    /// surname and address; own 枝番, given name and patient IDs (default 0.01).
    pub twin_rate: f64,
    /// Fraction of persons who moved: their hospital's chart still has the old address
    /// (default 0.03).
    pub mover_rate: f64,
    /// Also write the population in the national formats (`uke/`, `cda/`, `ssmix2/`), from the
    /// same rows.
    pub national: bool,
    /// Also write `registry.csv`: a resident registry an attacker might hold (name, kana, birth
    /// date, sex, postal code, address, and the true `person`), with about half of the persons
    /// and one outsider for every four of them.
    pub registry: bool,
    /// Add a last column `synth_person` (the true person) to the three CSV exports, for
    /// measuring linkage where the truth file's line numbers do not reach: across providers'
    /// submissions, whose rows are reordered (`tokumei linkage --truth-column`). Changes no
    /// other cell.
    pub truth_column: bool,
}

/// The header of the truth column ([`SynthSpec::truth_column`]).
pub const TRUTH_COLUMN: &str = "synth_person";

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            persons: 2_000,
            seed: 42,
            opt_out_rate: 0.02,
            namesake_rate: 0.001,
            household_rate: 0.1,
            twin_rate: 0.01,
            mover_rate: 0.03,
            national: false,
            registry: false,
            truth_column: false,
        }
    }
}

/// Row counts written, per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthSummary {
    /// Persons generated.
    pub persons: u64,
    /// 特定健診 rows.
    pub checkups: u64,
    /// 調剤 rows.
    pub dispensing: u64,
    /// カルテ rows.
    pub charts: u64,
    /// Opt-out entries (including a few for people with no records).
    pub opt_out_entries: u64,
    /// Persons with records who opted out.
    pub opted_out_persons: u64,
    /// Files written in the national formats (with `national`).
    pub national_files: u64,
    /// Registry entries (with `registry`), outsiders included.
    pub registry_entries: u64,
}

/// Japan's population by 5-year age band (millions, 2020 census, rounded): 0–4 … 95–99, 100+.
const AGE_BANDS: [f64; 21] =
    [4.5, 5.0, 5.3, 5.7, 6.3, 6.3, 6.7, 7.5, 8.4, 9.7, 8.7, 7.9, 7.4, 8.2, 9.2, 7.1, 5.4, 3.7, 1.9, 0.6, 0.1];

/// Release-independent date all ages refer to in the generator.
pub fn generator_date() -> CivilDate {
    CivilDate { year: 2026, month: 4, day: 1 }
}

struct Person {
    id: u64,
    male: bool,
    birth: CivilDate,
    surname: usize,
    given: usize,
    prefecture: u8,
    municipality: usize,
    town: &'static str,
    block: (u32, u32, u32),
    postal: String,
    phone: String,
    insurer: String,
    symbol: String,
    number: String,
    /// A job change: the pharmacy sees a new card (insurer, symbol, number), the checkups the old.
    new_card: Option<(String, String, String)>,
    /// A move: the hospitals' charts still have this address (the town and block before).
    old_address: Option<(&'static str, (u32, u32, u32))>,
    branch: String,
    my_number: String,
    conditions: Vec<&'static Diagnosis>,
    hospitals: Vec<(String, String)>,
    pharmacy: String,
    receipt_drug_code_yj: bool,
}

impl Person {
    fn age(&self) -> i32 {
        self.birth.age_on(generator_date())
    }

    fn kana(&self) -> String {
        let given = if self.male { MALE_NAMES[self.given].1 } else { FEMALE_NAMES[self.given].1 };
        format!("{}　{}", SURNAMES[self.surname].1, given)
    }

    fn kanji(&self, old_form: bool) -> String {
        let (standard, _, variant) = SURNAMES[self.surname];
        let surname = if old_form && !variant.is_empty() { variant } else { standard };
        let given = if self.male { MALE_NAMES[self.given].0 } else { FEMALE_NAMES[self.given].0 };
        format!("{surname}　{given}")
    }

    fn address(&self) -> String {
        self.address_at(self.town, self.block)
    }

    fn address_at(&self, town: &str, block: (u32, u32, u32)) -> String {
        let pref = prefecture_by_code(self.prefecture).map_or("", |p| p.name);
        let (_, municipality, _, _) = MUNICIPALITIES[self.municipality];
        format!("{pref}{municipality}{town}{}-{}-{}", block.0, block.1, block.2)
    }

    /// The address the hospitals have: the old one after a move.
    fn chart_address(&self) -> String {
        match self.old_address {
            Some((town, block)) => self.address_at(town, block),
            None => self.address(),
        }
    }

    /// Kana name, birth date and sex: what a name key is made of.
    fn name_key(&self) -> (String, i32, bool) {
        (self.kana(), self.birth.to_epoch_days(), self.male)
    }

    /// The card the pharmacy sees: the new one after a job change.
    fn dispensing_card(&self) -> (&str, &str, &str) {
        match &self.new_card {
            Some((insurer, symbol, number)) => (insurer, symbol, number),
            None => (&self.insurer, &self.symbol, &self.number),
        }
    }

    fn sex_code(&self) -> &'static str {
        if self.male { "1" } else { "2" }
    }
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random::<f64>() * total;
    for item in items {
        x -= weight(item);
        if x < 0.0 {
            return item;
        }
    }
    &items[items.len() - 1]
}

fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    // Box–Muller; enough for synthetic lab values.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn random_date(rng: &mut ChaCha8Rng, from: CivilDate, days: i32) -> CivilDate {
    CivilDate::from_epoch_days(from.to_epoch_days() + rng.random_range(0..days))
}

fn age_bucket(age: i32) -> usize {
    match age {
        ..40 => 0,
        40..65 => 1,
        _ => 2,
    }
}

fn insurer_number(rng: &mut ChaCha8Rng, prefecture: u8, age: i32) -> (String, bool) {
    let kind: f64 = rng.random();
    let (prefix, national) = if age >= 75 {
        ("39", false)
    } else if kind < 0.35 {
        ("", true)
    } else if kind < 0.7 {
        ("01", false)
    } else {
        ("06", false)
    };
    let payload = format!("{prefix}{prefecture:02}{}", digits(rng, 3));
    let bytes: Vec<u8> = payload.bytes().map(|b| b - b'0').collect();
    (format!("{payload}{}", insurer_check_digit(&bytes)), national)
}

fn my_number(rng: &mut ChaCha8Rng) -> String {
    let payload: [u8; 11] = std::array::from_fn(|_| rng.random_range(0..10u8));
    let mut s: String = payload.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + my_number_check_digit(&payload)));
    s
}

fn make_person(rng: &mut ChaCha8Rng, id: u64) -> Person {
    let bands: Vec<usize> = (0..AGE_BANDS.len()).collect();
    let band = *weighted(rng, &bands, |&i| AGE_BANDS[i]);
    let age = (band as i32) * 5 + rng.random_range(0..5);
    let female_share = match age {
        ..60 => 0.49,
        60..80 => 0.52,
        80..90 => 0.62,
        _ => 0.75,
    };
    let male = rng.random::<f64>() >= female_share;
    let today = generator_date();
    let birth = CivilDate::from_epoch_days(
        CivilDate { year: today.year - age - 1, ..today }.to_epoch_days() + rng.random_range(1..=365),
    );
    let prefecture = weighted(rng, &PREFECTURES, |p| f64::from(p.population_thousands)).code;
    let options: Vec<usize> = (0..MUNICIPALITIES.len()).filter(|&i| MUNICIPALITIES[i].0 == prefecture).collect();
    let municipality = *options.choose(rng).expect("every prefecture has a municipality");
    let (_, _, postal3, area) = MUNICIPALITIES[municipality];
    let local_len = 10 - area.len() - 4;
    let phone = format!("{area}-{}-{}", digits(rng, local_len), digits(rng, 4));
    let (insurer, national) = insurer_number(rng, prefecture, age);
    let symbol = if national {
        format!("{}{}", ["ア", "カ", "サ", "タ", "ナ", "ハ", "マ"].choose(rng).unwrap(), digits(rng, 3))
    } else {
        let len = rng.random_range(4..=8);
        digits(rng, len)
    };
    // About 2 % changed insurance (a job change) between the checkups and the receipts.
    let new_card = (age < 75 && rng.random::<f64>() < 0.02).then(|| {
        let (insurer, _) = insurer_number(rng, prefecture, age.min(74));
        (insurer, digits(rng, 6), format!("{}", rng.random_range(1_000_000..100_000_000)))
    });
    let bucket = age_bucket(age);
    let sex_ok = |d: &Diagnosis| d.sex == 0 || (d.sex == 1) == male;
    let mut conditions: Vec<&'static Diagnosis> = COMMON_DIAGNOSES
        .iter()
        .filter(|d| sex_ok(d) && rng.random::<f64>() < d.weight_by_age[bucket] / 100.0 * 2.0)
        .collect();
    if rng.random::<f64>() < 0.004 {
        let rare: Vec<&'static Diagnosis> = RARE_DIAGNOSES.iter().filter(|d| sex_ok(d)).collect();
        conditions.push(*weighted(rng, &rare, |d: &&Diagnosis| d.weight_by_age[bucket]));
    }
    let hospital_count = if rng.random::<f64>() < 0.15 { 2 } else { 1 };
    let hospitals = (0..hospital_count)
        .map(|_| (format!("{prefecture:02}1{}", digits(rng, 7)), format!("{:08}", rng.random_range(1..10_000_000))))
        .collect();
    Person {
        id,
        male,
        birth,
        surname: rng.random_range(0..SURNAMES.len()),
        given: rng.random_range(0..if male { MALE_NAMES.len() } else { FEMALE_NAMES.len() }),
        prefecture,
        municipality,
        town: TOWNS.choose(rng).unwrap(),
        block: (rng.random_range(1..6), rng.random_range(1..30), rng.random_range(1..20)),
        postal: format!("{postal3}{}", digits(rng, 4)),
        phone,
        insurer,
        symbol,
        number: format!("{}", rng.random_range(1_000_000..100_000_000)),
        new_card,
        old_address: None,
        branch: format!("{:02}", if rng.random::<f64>() < 0.7 { 0 } else { rng.random_range(1..4) }),
        my_number: my_number(rng),
        conditions,
        hospitals,
        pharmacy: format!("{prefecture:02}4{}", digits(rng, 7)),
        receipt_drug_code_yj: rng.random::<f64>() < 0.3,
    }
}

/// One insurance card's holders: a person alone, a household (the head, then those on the card
/// with them, 枝番 01, 02 …), or same-sex twins. Members draw from `unit_rng` so that the rates
/// change no one else.
fn make_unit(rng: &mut ChaCha8Rng, unit_rng: &mut ChaCha8Rng, spec: &SynthSpec, id: u64, left: u64) -> Vec<Person> {
    let mut head = make_person(rng, id);
    let roll = unit_rng.random::<f64>();
    let (members, twins) = if roll < spec.twin_rate / 2.0 {
        (1, true)
    } else if roll < spec.twin_rate / 2.0 + spec.household_rate / 2.5 {
        (unit_rng.random_range(1..=3), false)
    } else {
        (0, false)
    };
    let members = members.min(left.saturating_sub(1));
    if members == 0 {
        return vec![head];
    }
    head.new_card = None;
    head.branch = "00".into();
    let mut unit = vec![];
    for k in 1..=members {
        let mut m = make_person(unit_rng, id + k);
        m.insurer = head.insurer.clone();
        m.symbol = head.symbol.clone();
        m.number = head.number.clone();
        m.new_card = None;
        m.branch = format!("{k:02}");
        m.surname = head.surname;
        (m.prefecture, m.municipality, m.town, m.block) = (head.prefecture, head.municipality, head.town, head.block);
        (m.postal, m.phone) = (head.postal.clone(), head.phone.clone());
        // Where they live decides where they are treated: hospitals and pharmacy in the
        // household's prefecture (the family's pharmacy is often the same one).
        m.pharmacy = if unit_rng.random::<f64>() < 0.5 {
            head.pharmacy.clone()
        } else {
            format!("{:02}{}", head.prefecture, &m.pharmacy[2..])
        };
        for (facility, _) in &mut m.hospitals {
            *facility = format!("{:02}{}", head.prefecture, &facility[2..]);
        }
        if twins {
            (m.birth, m.male) = (head.birth, head.male);
            let names = if m.male { MALE_NAMES.len() } else { FEMALE_NAMES.len() };
            m.given = (head.given + unit_rng.random_range(1..names)) % names;
        }
        unit.push(m);
    }
    unit.insert(0, head);
    unit
}

/// Whether a pharmacy's system writes 枝番 into its export (many leave it empty).
fn writes_branch(pharmacy: &str) -> bool {
    pharmacy.bytes().last().is_some_and(|d| d >= b'3')
}

/// What a member of a unit left in the data: whether they appear with their card, and where.
struct Appearance {
    in_checkups: bool,
    in_dispensing: bool,
    hospital: Option<usize>,
}

impl Appearance {
    fn with_card(&self) -> bool {
        self.in_checkups || self.in_dispensing
    }

    fn any(&self) -> bool {
        self.with_card() || self.hospital.is_some()
    }
}

const CHECKUP_HEADERS: [&str; 27] = [
    "保険者番号",
    "被保険者証記号",
    "被保険者証番号",
    "枝番",
    "カナ氏名",
    "生年月日",
    "性別",
    "郵便番号",
    "住所",
    "個人番号",
    "受診日",
    "身長",
    "体重",
    "BMI",
    "腹囲",
    "収縮期血圧",
    "拡張期血圧",
    "中性脂肪",
    "HDLコレステロール",
    "LDLコレステロール",
    "AST",
    "ALT",
    "γ-GT",
    "空腹時血糖",
    "HbA1c",
    "尿糖",
    "尿蛋白",
];
const DISPENSING_HEADERS: [&str; 18] = [
    "薬局コード",
    "レセプト番号",
    "氏名",
    "カナ氏名",
    "生年月日",
    "性別",
    "保険者番号",
    "被保険者証記号",
    "被保険者証番号",
    "枝番",
    "処方医療機関コード",
    "処方医氏名",
    "調剤日",
    "医薬品コード",
    "医薬品名",
    "数量",
    "調剤日数",
    "点数",
];
const CHART_HEADERS: [&str; 13] = [
    "医療機関コード",
    "患者ID",
    "氏名",
    "カナ氏名",
    "生年月日",
    "性別",
    "住所",
    "電話番号",
    "受診日",
    "診療科",
    "傷病名コード",
    "傷病名",
    "記事",
];
const OPT_OUT_HEADERS: [&str; 10] = [
    "保険者番号",
    "被保険者証記号",
    "被保険者証番号",
    "枝番",
    "カナ氏名",
    "生年月日",
    "性別",
    "医療機関コード",
    "患者ID",
    "申出日",
];

struct Writers {
    checkups: TableWriter,
    dispensing: TableWriter,
    charts: TableWriter,
    truth: TableWriter,
    truth_column: bool,
    receipt_counter: u64,
    uke: Option<UkeFiles>,
    cda: Option<CdaFiles>,
    ssmix2: Option<SsMix2Files>,
}

impl Writers {
    fn truth(&mut self, person: &Person, table: &str, line: u64) -> Result<(), Error> {
        let id = format!("P{:09}", person.id);
        let line = line.to_string();
        self.truth.record([id.as_str(), table, line.as_str()])?;
        Ok(())
    }

    /// The truth column's cell of a record of `person`, when asked for.
    fn truth_cell(&self, person: &Person) -> Option<String> {
        self.truth_column.then(|| format!("P{:09}", person.id))
    }
}

/// `headers`, with the truth column when asked for.
fn headers(spec: &SynthSpec, headers: &[&'static str]) -> Vec<&'static str> {
    let mut headers = headers.to_vec();
    if spec.truth_column {
        headers.push(TRUTH_COLUMN);
    }
    headers
}

/// Writes `checkups.csv` (cp932, CRLF), `dispensing.csv` (UTF-8 with BOM), `charts.csv` (UTF-8),
/// `optout.csv` (UTF-8) and `truth.csv` (person, table, line; plus `truth_optout.csv`) to `dir`.
pub fn write_population(spec: &SynthSpec, dir: &Path) -> Result<SynthSummary, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut w = Writers {
        checkups: TableWriter::create(&dir.join("checkups.csv"), Encoding::Cp932, &headers(spec, &CHECKUP_HEADERS))?,
        dispensing: TableWriter::create(
            &dir.join("dispensing.csv"),
            Encoding::Utf8Bom,
            &headers(spec, &DISPENSING_HEADERS),
        )?,
        charts: TableWriter::create(&dir.join("charts.csv"), Encoding::Utf8, &headers(spec, &CHART_HEADERS))?,
        truth: TableWriter::create(&dir.join("truth.csv"), Encoding::Utf8, &["person", "table", "line"])?,
        truth_column: spec.truth_column,
        receipt_counter: 0,
        uke: spec.national.then(UkeFiles::default),
        cda: spec.national.then(CdaFiles::default),
        ssmix2: spec.national.then(|| SsMix2Files::new(dir.join("ssmix2"))),
    };
    let mut opt_out = TableWriter::create(&dir.join("optout.csv"), Encoding::Utf8, &OPT_OUT_HEADERS)?;
    let mut opt_out_truth = TableWriter::create(&dir.join("truth_optout.csv"), Encoding::Utf8, &["person", "line"])?;
    let mut summary = SynthSummary { persons: spec.persons as u64, ..SynthSummary::default() };

    // The registry draws from its own stream too: writing it changes no other file.
    let mut registry_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x7265_6769_7374_7279);
    let mut registry = if spec.registry {
        Some(TableWriter::create(
            &dir.join("registry.csv"),
            Encoding::Utf8,
            &["person", "氏名", "カナ氏名", "生年月日", "性別", "郵便番号", "住所"],
        )?)
    } else {
        None
    };
    let mut outsider_id = 0u64;
    // Namesakes draw from their own stream, so the rate does not change anyone else.
    let mut namesake_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x6e61_6d65_7361_6b65);
    // So do households and twins, and moves.
    let mut unit_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x686f_7573_6568_6f6c);
    let mut mover_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x6d6f_7665_7273_0001);
    // Opt-out truth, written at the end: an entry removes its person and every namesake (same
    // kana name, birth date and sex), whom linkage keeps linked for opt-out.
    let mut named: Vec<(u64, u64)> = Vec::new();
    let mut holders: std::collections::HashMap<(String, i32, bool), Vec<u64>> = std::collections::HashMap::new();
    let mut recent: std::collections::VecDeque<(bool, usize, usize, CivilDate)> = std::collections::VecDeque::new();
    let mut id = 0u64;
    while id < spec.persons as u64 {
        let mut unit = make_unit(&mut rng, &mut unit_rng, spec, id, spec.persons as u64 - id);
        id += unit.len() as u64;
        let mut seen = Vec::with_capacity(unit.len());
        for person in &mut unit {
            if namesake_rng.random::<f64>() < spec.namesake_rate {
                // Same sex, born within five years: the name, sex and birth date of an earlier person.
                let days = person.birth.to_epoch_days();
                if let Some(&(_, surname, given, birth)) = recent
                    .iter()
                    .find(|(male, _, _, b)| *male == person.male && (b.to_epoch_days() - days).abs() < 5 * 365)
                {
                    (person.surname, person.given, person.birth) = (surname, given, birth);
                }
            }
            if let Some(registry) = registry.as_mut() {
                if registry_rng.random::<f64>() < 0.5 {
                    registry_entry(registry, &format!("P{:09}", person.id), person)?;
                }
                if registry_rng.random::<f64>() < 0.125 {
                    outsider_id += 1;
                    let outsider = make_person(&mut registry_rng, u64::MAX - outsider_id);
                    registry_entry(registry, &format!("X{outsider_id:09}"), &outsider)?;
                }
            }
            recent.push_front((person.male, person.surname, person.given, person.birth));
            recent.truncate(256);
            if mover_rng.random::<f64>() < spec.mover_rate {
                let block =
                    (mover_rng.random_range(1..6), mover_rng.random_range(1..30), mover_rng.random_range(1..20));
                let town = *TOWNS.choose(&mut mover_rng).unwrap();
                if (town, block) != (person.town, person.block) {
                    person.old_address = Some((town, block));
                }
            }
            let in_checkups = write_checkups(&mut rng, person, &mut w)?;
            let in_dispensing = write_dispensing(&mut rng, person, &mut w)?;
            let hospital = write_charts(&mut rng, person, &mut w)?;
            let appearance = Appearance { in_checkups, in_dispensing, hospital };
            if appearance.any() {
                holders.entry(person.name_key()).or_default().push(person.id);
            }
            seen.push(appearance);
        }
        for (i, person) in unit.iter().enumerate() {
            if !seen[i].any() || rng.random::<f64>() >= spec.opt_out_rate {
                continue;
            }
            let request = OptOutRequest::choose(&mut rng, person, &seen[i]);
            let line = write_opt_out(&mut rng, person, &request, &mut opt_out)?;
            // Who the request names, as tokumei must resolve it.
            let named_here = unit.iter().zip(&seen).filter(|(q, a)| match request {
                OptOutRequest::CardBirthSex(..) => a.with_card() && q.birth == person.birth && q.male == person.male,
                OptOutRequest::CardOnly(..) => a.with_card(),
                _ => q.id == person.id,
            });
            for (q, _) in named_here {
                named.push((q.id, line));
            }
        }
        // Now and then a request from someone with no records at all: it must come out unmatched.
        if rng.random::<f64>() < 0.001 * unit.len() as f64 {
            let stranger = make_person(&mut rng, u64::MAX);
            let card = (stranger.insurer.clone(), stranger.symbol.clone(), stranger.number.clone());
            let request = match rng.random_range(0..3) {
                0 => OptOutRequest::CardBirthSex(card),
                1 => OptOutRequest::CardBranch(card),
                _ => OptOutRequest::CardOnly(card),
            };
            write_opt_out(&mut rng, &stranger, &request, &mut opt_out)?;
        }
    }
    let mut rows: Vec<(u64, u64)> = Vec::new();
    let name_of: std::collections::HashMap<u64, &(String, i32, bool)> =
        holders.iter().flat_map(|(k, ids)| ids.iter().map(move |id| (*id, k))).collect();
    for (id, line) in named {
        rows.extend(
            name_of.get(&id).map(|k| holders[*k].clone()).unwrap_or_else(|| vec![id]).into_iter().map(|p| (line, p)),
        );
    }
    rows.sort_unstable();
    rows.dedup();
    for (line, id) in &rows {
        opt_out_truth.record([format!("P{id:09}").as_str(), line.to_string().as_str()])?;
    }
    let persons: std::collections::BTreeSet<u64> = rows.iter().map(|(_, id)| *id).collect();
    summary.opted_out_persons = persons.len() as u64;
    summary.checkups = w.checkups.finish()?;
    summary.dispensing = w.dispensing.finish()?;
    summary.charts = w.charts.finish()?;
    w.truth.finish()?;
    summary.opt_out_entries = opt_out.finish()?;
    if let Some(registry) = registry {
        summary.registry_entries = registry.finish()?;
    }
    if let Some(uke) = w.uke.take() {
        summary.national_files += uke.finish(&dir.join("uke"))?;
    }
    if let Some(cda) = w.cda.take() {
        summary.national_files += cda.finish(&dir.join("cda"))?;
    }
    if let Some(ssmix2) = w.ssmix2.take() {
        summary.national_files += ssmix2.files;
    }
    opt_out_truth.finish()?;
    Ok(summary)
}

/// One registry line: the person as a resident registry records them (ISO birth date, 男/女).
fn registry_entry(registry: &mut TableWriter, id: &str, p: &Person) -> Result<(), Error> {
    let postal = format!("{}-{}", &p.postal[..3], &p.postal[3..]);
    let sex = if p.male { "男" } else { "女" };
    let fields =
        [id.to_string(), p.kanji(false), p.kana(), write_date(p.birth, DateForm::Iso), sex.into(), postal, p.address()];
    registry.record(fields.iter().map(String::as_str))?;
    Ok(())
}

fn write_checkups(rng: &mut ChaCha8Rng, p: &Person, w: &mut Writers) -> Result<bool, Error> {
    let age = p.age();
    if !(40..=76).contains(&age) || rng.random::<f64>() > 0.55 {
        return Ok(false);
    }
    let mut any = false;
    for fiscal_year in 2023..=2025 {
        if rng.random::<f64>() > 0.75 {
            continue;
        }
        let date = random_date(rng, CivilDate { year: fiscal_year, month: 4, day: 1 }, 365);
        let age_then = p.birth.age_on(date);
        if !(40..=74).contains(&age_then) {
            continue;
        }
        let m = p.male;
        let a = f64::from(age_then - 40);
        let height = normal(rng, if m { 171.0 } else { 157.5 } - 0.12 * a, if m { 6.0 } else { 5.5 });
        let bmi = normal(rng, if m { 24.0 } else { 22.3 }, 3.4).clamp(14.0, 45.0);
        let weight = bmi * (height / 100.0).powi(2);
        let waist = if m { 2.6 * bmi + 22.0 } else { 2.5 * bmi + 25.0 } + normal(rng, 0.0, 4.0);
        let sbp = 100.0
            + 0.55 * f64::from(age_then)
            + 1.3 * (bmi - 22.0)
            + if m { 5.0 } else { 0.0 }
            + normal(rng, 0.0, 12.0);
        let dbp = 0.55 * sbp + 8.0 + normal(rng, 0.0, 7.0);
        let mut tg = (if m { 120.0f64 } else { 85.0 }).ln() + 0.05 * (bmi - 22.0) + normal(rng, 0.0, 0.5);
        let hdl = normal(rng, if m { 55.0 } else { 68.0 } - 1.2 * (bmi - 22.0), 13.0).max(20.0);
        let ldl = normal(rng, 118.0 + 0.4 * a, 30.0).max(40.0);
        let ast = (22.0f64.ln() + normal(rng, 0.0, 0.3)).exp();
        let alt = ((if m { 22.0f64 } else { 16.0 }).ln() + 0.06 * (bmi - 22.0) + normal(rng, 0.0, 0.45)).exp();
        let ggt = ((if m { 35.0f64 } else { 20.0 }).ln() + normal(rng, 0.0, 0.6)).exp();
        let diabetic = p.conditions.iter().any(|d| d.icd10 == "E11.9");
        let mut glucose = 90.0
            + 0.2 * a
            + 1.5 * (bmi - 22.0)
            + normal(rng, 0.0, 8.0)
            + if diabetic { normal(rng, 45.0, 20.0) } else { 0.0 };
        // A few outliers, as in real exports.
        let mut height = height;
        match rng.random_range(0..1000) {
            0 => tg = (rng.random_range(900.0..2500.0f64)).ln(),
            1 => glucose = rng.random_range(300.0..450.0),
            2 => height = rng.random_range(190.0..200.0),
            _ => {}
        }
        let hba1c = 5.4 + (glucose - 95.0) / 30.0 + normal(rng, 0.0, 0.25);
        let urine_glucose = if glucose > 170.0 && rng.random::<f64>() < 0.7 { "+" } else { "−" };
        let urine_protein = *weighted(rng, &[("−", 90.0), ("±", 6.0), ("+", 3.0), ("2+", 1.0)], |x| x.1);
        let insurer = p.insurer.clone();
        let symbol = if rng.random::<f64>() < 0.3 { full_width(&p.symbol) } else { p.symbol.clone() };
        let number = if rng.random::<f64>() < 0.2 { full_width(&p.number) } else { p.number.clone() };
        let birth_form = if rng.random::<f64>() < 0.4 { DateForm::EraKanji } else { DateForm::Iso };
        let postal = format!("{}-{}", &p.postal[..3], &p.postal[3..]);
        let my_number = if rng.random::<f64>() < 0.3 { p.my_number.clone() } else { String::new() };
        let f1 = |x: f64| format!("{x:.1}");
        let f0 = |x: f64| format!("{x:.0}");
        let fields = [
            insurer,
            symbol,
            number,
            p.branch.clone(),
            p.kana(),
            write_date(p.birth, birth_form),
            p.sex_code().into(),
            postal,
            p.address(),
            my_number,
            write_date(date, DateForm::Iso),
            f1(height),
            f1(weight),
            f1(bmi),
            f1(waist),
            f0(sbp),
            f0(dbp),
            f0(tg.exp()),
            f0(hdl),
            f0(ldl),
            f0(ast),
            f0(alt),
            f0(ggt),
            f0(glucose),
            f1(hba1c),
            urine_glucose.into(),
            urine_protein.0.into(),
        ];
        let line = {
            let truth = w.truth_cell(p);
            w.checkups.record(fields.iter().map(String::as_str).chain(truth.as_deref()))?
        };
        w.truth(p, "checkups", line)?;
        if let Some(cda) = w.cda.as_mut() {
            let voucher = format!("{:02}{:09}", fiscal_year % 100, line);
            cda.checkup(&Checkup {
                insurer: &fields[0],
                symbol: &fields[1],
                number: &fields[2],
                branch: &fields[3],
                kana: &fields[4],
                male: p.male,
                birth: p.birth,
                postal: &fields[7],
                date,
                facility: &p.hospitals[0].0,
                voucher: &voucher,
                items: CHECKUP_CODES
                    .iter()
                    .zip(&fields[11..])
                    .map(|(&(code, unit), v)| (code, v.clone(), unit))
                    .collect(),
            });
        }
        any = true;
    }
    Ok(any)
}

fn write_dispensing(rng: &mut ChaCha8Rng, p: &Person, w: &mut Writers) -> Result<bool, Error> {
    let age = p.age();
    let treated: Vec<&Diagnosis> =
        p.conditions.iter().copied().filter(|d| DRUGS.iter().any(|x| x.for_icd10 == d.icd10)).collect();
    let chance = (0.25 + 0.006 * f64::from(age)).min(0.85);
    if treated.is_empty() && rng.random::<f64>() > chance {
        return Ok(false);
    }
    let receipts = if treated.is_empty() {
        rng.random_range(1..=2)
    } else {
        rng.random_range(2..=(2 + 3 * treated.len()).min(14))
    };
    let old_form = rng.random::<f64>() < 0.5;
    let kana = if rng.random::<f64>() < 0.5 { p.kana().replace('　', "") } else { p.kana() };
    let birth_form = if rng.random::<f64>() < 0.5 { DateForm::Receipt } else { DateForm::Compact };
    let (card_insurer, card_symbol, card_number) = p.dispensing_card();
    let insurer = if card_insurer.len() == 6 { format!("00{card_insurer}") } else { card_insurer.to_string() };
    let symbol = if card_symbol.chars().next().is_some_and(|c| !c.is_ascii_digit()) && rng.random::<f64>() < 0.5 {
        hiragana(card_symbol)
    } else {
        card_symbol.to_string()
    };
    let sex = if p.male { "男" } else { "女" };
    let doctor_surname = SURNAMES.choose(rng).unwrap().0;
    let doctor = format!("{doctor_surname}　{}", MALE_NAMES.choose(rng).unwrap().0);
    let prescriber = p.hospitals[0].0.clone();
    let branch = if writes_branch(&p.pharmacy) { p.branch.as_str() } else { "" };
    let card = Card { insurer: &insurer, symbol: &symbol, number: card_number, branch };
    let name = p.kanji(old_form);
    let patient = Patient { name: &name, kana: &kana, male: p.male, birth: p.birth, card };
    for _ in 0..receipts {
        w.receipt_counter += 1;
        let receipt_number = format!("{:07}", w.receipt_counter);
        let date = random_date(rng, CivilDate { year: 2024, month: 4, day: 1 }, 730);
        let mut lines: Vec<(&str, String, u32, String)> = Vec::new();
        let for_dx: Vec<&Diagnosis> = if treated.is_empty() {
            vec![&COMMON_DIAGNOSES[3]]
        } else {
            let n = rng.random_range(1..=treated.len().min(3));
            treated.choose_multiple(rng, n).copied().collect()
        };
        for dx in for_dx {
            let options: Vec<_> = DRUGS.iter().filter(|d| d.for_icd10 == dx.icd10).collect();
            let drug = *options.choose(rng).unwrap();
            let days: u32 = if dx.icd10 == "J06.9" {
                rng.random_range(3..=7)
            } else {
                *[14, 28, 30, 56, 60, 90].choose(rng).unwrap()
            };
            let quantity = (drug.per_day * f64::from(days) * 10.0).round() / 10.0;
            let points = ((quantity * drug.yen) / 10.0).round().max(1.0);
            let code = if p.receipt_drug_code_yj { drug.yj_code } else { drug.receipt_code };
            let fields = [
                p.pharmacy.clone(),
                receipt_number.clone(),
                name.clone(),
                kana.clone(),
                write_date(p.birth, birth_form),
                sex.into(),
                insurer.clone(),
                symbol.clone(),
                card_number.to_string(),
                branch.to_string(),
                prescriber.clone(),
                doctor.clone(),
                write_date(date, DateForm::Compact),
                code.into(),
                drug.name.into(),
                format!("{quantity}"),
                days.to_string(),
                format!("{points:.0}"),
            ];
            let line = {
                let truth = w.truth_cell(p);
                w.dispensing.record(fields.iter().map(String::as_str).chain(truth.as_deref()))?
            };
            w.truth(p, "dispensing", line)?;
            lines.push((code, fields[15].clone(), days, fields[17].clone()));
        }
        if let Some(uke) = w.uke.as_mut() {
            let lines: Vec<DispensedLine<'_>> = lines
                .iter()
                .map(|(code, quantity, days, points)| DispensedLine { date, code, quantity, days: *days, points })
                .collect();
            uke.dispensing(&receipt_number, &p.pharmacy, &prescriber, &doctor, &patient, &lines);
        }
    }
    Ok(true)
}

/// Writes the person's chart rows; returns a hospital (index) they have rows at, if any.
fn write_charts(rng: &mut ChaCha8Rng, p: &Person, w: &mut Writers) -> Result<Option<usize>, Error> {
    let age = p.age();
    let has_rare = p.conditions.iter().any(|d| RARE_DIAGNOSES.iter().any(|r| r.icd10 == d.icd10));
    if !has_rare && rng.random::<f64>() > (0.4 + 0.005 * f64::from(age)).min(0.9) {
        return Ok(None);
    }
    let half_width = rng.random::<f64>() < 0.4;
    let kana = if half_width { half_width_kana(&p.kana()) } else { p.kana() };
    let birth_form = if rng.random::<f64>() < 0.5 { DateForm::EraLetter } else { DateForm::Slash };
    let sex = if p.male { "M" } else { "F" };
    let address = if rng.random::<f64>() < 0.5 { full_width(&p.chart_address()) } else { p.chart_address() };
    let visits = rng.random_range(1..=(1 + 2 * p.conditions.len()).min(10));
    let mut visited = 0;
    let mut seen: Vec<(usize, CivilDate, &str, String)> = Vec::new();
    for visit in 0..visits {
        let hospital = rng.random_range(0..p.hospitals.len());
        visited = hospital;
        let (facility, patient_id) = &p.hospitals[hospital];
        let date = random_date(rng, CivilDate { year: 2024, month: 4, day: 1 }, 730);
        let dx: &Diagnosis = if has_rare && visit == 0 {
            p.conditions.iter().copied().find(|d| RARE_DIAGNOSES.iter().any(|r| r.icd10 == d.icd10)).unwrap()
        } else if p.conditions.is_empty() {
            if rng.random::<f64>() < 0.6 { &COMMON_DIAGNOSES[3] } else { &COMMON_DIAGNOSES[5] }
        } else {
            p.conditions.choose(rng).unwrap()
        };
        let note = match rng.random_range(0..100) {
            0..=2 => format!("本人（{}）より電話あり。折り返し {} へ連絡。", p.kanji(false).replace('　', ""), p.phone),
            3..=4 => format!("マイナンバー{}にて資格確認済み。", p.my_number),
            5..=40 => "症状安定。処方継続。".to_string(),
            41..=60 => "検査結果説明。次回1か月後。".to_string(),
            _ => String::new(),
        };
        let fields = [
            facility.clone(),
            patient_id.clone(),
            p.kanji(false),
            kana.clone(),
            write_date(p.birth, birth_form),
            sex.into(),
            address.clone(),
            p.phone.clone(),
            write_date(date, DateForm::Iso),
            dx.department.into(),
            dx.icd10.into(),
            dx.name.into(),
            note,
        ];
        let line = {
            let truth = w.truth_cell(p);
            w.charts.record(fields.iter().map(String::as_str).chain(truth.as_deref()))?
        };
        w.truth(p, "charts", line)?;
        if let Some(ssmix2) = w.ssmix2.as_mut() {
            ssmix2.chart_row(&ChartRow {
                facility,
                patient_id,
                name: &fields[2],
                kana: &fields[3],
                birth: p.birth,
                male: p.male,
                address: &fields[6],
                phone: &fields[7],
                date,
                department: &fields[9],
                icd10: &fields[10],
                diagnosis: &fields[11],
                note: &fields[12],
            })?;
        }
        seen.push((hospital, date, dx.name, fields[12].clone()));
    }
    if let Some(uke) = w.uke.as_mut() {
        let (insurer, symbol, number) = p.dispensing_card();
        let name = p.kanji(false);
        let card = Card { insurer, symbol, number, branch: &p.branch };
        let patient = Patient { name: &name, kana: &kana, male: p.male, birth: p.birth, card };
        for (h, (facility, patient_id)) in p.hospitals.iter().enumerate() {
            let visits: Vec<Visit<'_>> = seen
                .iter()
                .filter(|v| v.0 == h)
                .map(|(_, date, diagnosis, note)| Visit { date: *date, diagnosis, note })
                .collect();
            if !visits.is_empty() {
                uke.medical(facility, patient_id, &patient, &visits);
            }
        }
    }
    Ok(Some(visited))
}

/// How a request names its person: by whatever the requester had at hand.
enum OptOutRequest {
    /// Insurance card (保険者番号, 記号, 番号) + birth date + sex.
    CardBirthSex((String, String, String)),
    /// Insurance card + 枝番, nothing else (full-width digits, as on the card).
    CardBranch((String, String, String)),
    /// The insurance card alone: removes every holder (the household).
    CardOnly((String, String, String)),
    /// Kana name + birth date + sex.
    Name,
    /// Facility + patient ID of a hospital the person has chart rows at.
    Local(usize),
}

impl OptOutRequest {
    /// A request by a key the person's records carry: a card seen in their checkups or
    /// receipts (with 枝番 only where the data shows it), the kana name, or a hospital.
    fn choose(rng: &mut ChaCha8Rng, p: &Person, seen: &Appearance) -> OptOutRequest {
        let card = |(i, s, n): (&str, &str, &str)| (i.to_string(), s.to_string(), n.to_string());
        let shown = if seen.in_checkups {
            Some((card((&p.insurer, &p.symbol, &p.number)), true))
        } else {
            seen.in_dispensing.then(|| (card(p.dispensing_card()), writes_branch(&p.pharmacy)))
        };
        let mut forms = vec![OptOutRequest::Name];
        if let Some((card, branch_shown)) = shown {
            forms.push(OptOutRequest::CardBirthSex(card.clone()));
            if branch_shown {
                // A third of real requests come as a card with 枝番.
                forms.push(OptOutRequest::CardBranch(card.clone()));
                forms.push(OptOutRequest::CardBranch(card.clone()));
            }
            forms.push(OptOutRequest::CardOnly(card));
        }
        if let Some(h) = seen.hospital {
            forms.push(OptOutRequest::Local(h));
        }
        let pick = rng.random_range(0..forms.len());
        forms.swap_remove(pick)
    }
}

/// Writes one opt-out entry for `p`, spelled as another clerk would.
fn write_opt_out(
    rng: &mut ChaCha8Rng,
    p: &Person,
    request: &OptOutRequest,
    out: &mut TableWriter,
) -> Result<u64, Error> {
    let request_date = write_date(random_date(rng, CivilDate { year: 2025, month: 1, day: 1 }, 450), DateForm::Iso);
    let birth_form = *[DateForm::EraKanji, DateForm::EraLetter, DateForm::Slash].choose(rng).unwrap();
    let sex = if p.male { "男性" } else { "女性" };
    let mut fields: [String; 10] = Default::default();
    fields[9] = request_date;
    let write_card = |fields: &mut [String; 10], (insurer, symbol, number): &(String, String, String)| {
        fields[0] = full_width(insurer);
        fields[1] = full_width(symbol);
        fields[2] = full_width(number);
    };
    match request {
        OptOutRequest::CardBirthSex(card) => {
            write_card(&mut fields, card);
            fields[5] = write_date(p.birth, birth_form);
            fields[6] = sex.into();
        }
        OptOutRequest::CardBranch(card) => {
            write_card(&mut fields, card);
            fields[3] = full_width(&p.branch);
        }
        OptOutRequest::CardOnly(card) => write_card(&mut fields, card),
        OptOutRequest::Name => {
            let kana = p.kana();
            fields[4] =
                if rng.random::<f64>() < 0.5 { hiragana(&kana) } else { half_width_kana(&kana).replace(' ', "") };
            fields[5] = write_date(p.birth, birth_form);
            fields[6] = sex.into();
        }
        OptOutRequest::Local(hospital) => {
            let (facility, patient) = &p.hospitals[*hospital];
            fields[7] = facility.clone();
            fields[8] = full_width(patient.trim_start_matches('0'));
        }
    }
    out.record(fields.iter().map(String::as_str))
}
