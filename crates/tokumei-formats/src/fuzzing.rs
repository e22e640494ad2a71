//! The fuzz targets' harnesses (`fuzz/`), shared with the regression tests that replay every
//! input the fuzzers found (`fuzz/regressions/`): the first byte picks the table, the rest is the
//! input. A parser may reject an input; it must not panic, and every row it hands on must have
//! one cell and one record number per column of its table.

use crate::{RowRef, Table, cda, ssmix2, uke};

fn pick(tables: &'static [Table], data: &[u8]) -> (&'static Table, Vec<u8>) {
    let (first, rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
    (&tables[usize::from(first) % tables.len()], rest.to_vec())
}

fn check(table: &Table) -> impl FnMut(RowRef<'_>) -> Result<(), ()> + '_ {
    move |row| {
        assert_eq!(row.cells.len(), table.fields.len(), "{}: cells", table.name);
        assert_eq!(row.records.len(), table.fields.len(), "{}: records", table.name);
        Ok(())
    }
}

/// One UKE input.
pub fn uke(data: &[u8]) {
    let (table, input) = pick(uke::TABLES, data);
    let _ = uke::parse(&input[..], "fuzz.UKE", table, check(table));
}

/// One CDA document.
pub fn cda(data: &[u8]) {
    let (table, input) = pick(cda::TABLES, data);
    let _ = cda::parse_document(&input, "fuzz.xml", 1, table, check(table));
}

/// One SS-MIX2 message.
pub fn ssmix2(data: &[u8]) {
    let (table, input) = pick(ssmix2::TABLES, data);
    let _ = ssmix2::parse_message(&input, 1, table, Some("00000001"), check(table));
}
