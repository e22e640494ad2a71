//! Birth date → age band at a reference date, with top and bottom bands.
//!
//! **What it does.** Computes completed years of age on the reference date and puts it in a band
//! of the level's width: `40-44`, `40-49`; ages at or above `top` become `90+`, below `bottom`
//! become `<15`.
//! **Why.** 生年月日 is a quasi-identifier; the PPC guideline replaces it by 年齢 or 年代 and
//! top-codes extreme ages (「116歳」→「90歳以上」).
//! **Example.** born 1970-03-02, reference 2026-04-01, width 5 → `55-59`.
//! **Privacy notes.** The reference date is one per release, so a person's band is the same in
//! every table and every row (person-level classes stay consistent).

use tokumei_core::normalize::CivilDate;

/// Age bands: one width per generalization level.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeBands {
    /// Date at which age is computed.
    pub reference: CivilDate,
    /// Band width per level, e.g. `[5, 10, 20]`.
    pub widths: Vec<u32>,
    /// Ages ≥ `top` form one band (`90+`).
    pub top: u32,
    /// Ages < `bottom` form one band (`<15`); 0 = no bottom band.
    pub bottom: u32,
}

impl AgeBands {
    /// The band label of a birth date at `level`.
    pub fn label(&self, birth_epoch_days: i32, level: usize) -> String {
        let birth = CivilDate::from_epoch_days(birth_epoch_days);
        let age = birth.age_on(self.reference).max(0) as u32;
        if age >= self.top {
            return format!("{}+", self.top);
        }
        if age < self.bottom {
            return format!("<{}", self.bottom);
        }
        let width = self.widths[level].max(1);
        let low = self.bottom + (age - self.bottom) / width * width;
        let high = (low + width - 1).min(self.top - 1);
        if width == 1 { low.to_string() } else { format!("{low}-{high}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bands() -> AgeBands {
        AgeBands { reference: CivilDate::new(2026, 4, 1).unwrap(), widths: vec![1, 5, 10], top: 90, bottom: 0 }
    }

    fn born(y: i32, m: u32, d: u32) -> i32 {
        CivilDate::new(y, m, d).unwrap().to_epoch_days()
    }

    #[test]
    fn bands_by_level() {
        let b = bands();
        assert_eq!(b.label(born(1970, 3, 2), 0), "56");
        assert_eq!(b.label(born(1970, 3, 2), 1), "55-59");
        assert_eq!(b.label(born(1970, 3, 2), 2), "50-59");
        assert_eq!(b.label(born(1970, 4, 2), 1), "55-59");
    }

    #[test]
    fn top_and_bottom_coding() {
        let b = AgeBands { bottom: 15, ..bands() };
        assert_eq!(b.label(born(1910, 1, 1), 1), "90+");
        assert_eq!(b.label(born(1936, 4, 1), 2), "90+");
        assert_eq!(b.label(born(1936, 4, 2), 2), "85-89");
        assert_eq!(b.label(born(2020, 1, 1), 2), "<15");
        assert_eq!(b.label(born(2011, 1, 1), 1), "15-19");
    }
}
