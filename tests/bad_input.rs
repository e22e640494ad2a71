//! Bad input: a clear error naming file, line and column, never the value; or a quarantined row.

use tokumei::Status;
use tokumei::core::ValueType;
use tokumei::ingest::{ColumnSpec, Format, Source, TextEncoding, read_source};

use crate::common::Workspace;

fn source(dir: &std::path::Path, text: &[u8], encoding: TextEncoding) -> Source {
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    Source {
        table: "t".into(),
        path,
        format: Format::Csv,
        encoding,
        delimiter: b',',
        columns: vec![
            ColumnSpec {
                name: "kana_name".into(),
                header: "カナ氏名".into(),
                value_type: ValueType::Text,
                multiline: false,
            },
            ColumnSpec {
                name: "birth_date".into(),
                header: "生年月日".into(),
                value_type: ValueType::Date,
                multiline: false,
            },
        ],
        batch_rows: 2,
        extract: None,
        max_cell_bytes: tokumei::config::MAX_CELL_BYTES,
    }
}

fn read(source: &Source) -> Result<tokumei::ingest::IngestStats, String> {
    read_source(source, |_| Ok(())).map_err(|e| e.to_string())
}

#[test]
fn ragged_rows_reject_the_file_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = source(
        dir.path(),
        "カナ氏名,生年月日\nヤマダ,1970-01-01\nスズキ,1980-02-02,extra\n".as_bytes(),
        TextEncoding::Utf8,
    );
    let err = read(&s).unwrap_err();
    assert!(err.contains("input.csv, line 3: expected 2 fields as in the header, found 3"), "{err}");
    assert!(!err.contains("スズキ"), "no cell value in messages: {err}");
}

#[test]
fn wrong_encoding_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("カナ氏名,生年月日\r\nヤマダ,1970-01-01\r\n");
    let s = source(dir.path(), &sjis, TextEncoding::Utf8);
    let err = read(&s).unwrap_err();
    assert!(err.contains("line 1: bytes are not valid UTF-8"), "{err}");
    // Declared correctly, the same bytes read fine.
    let s = source(dir.path(), &sjis, TextEncoding::Cp932);
    assert_eq!(read(&s).unwrap().rows_accepted, 1);
}

#[test]
fn a_missing_header_names_column_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let s = source(dir.path(), "カナ氏名,誕生日\nヤマダ,1970-01-01\n".as_bytes(), TextEncoding::Utf8);
    let err = read(&s).unwrap_err();
    assert!(err.contains("column `birth_date` expects header `生年月日`"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = source(dir.path(), b"", TextEncoding::Utf8);
    s.path = dir.path().join("nowhere.csv");
    let err = read(&s).unwrap_err();
    assert!(err.contains("nowhere.csv: cannot read"), "{err}");
}

#[test]
fn unreadable_cells_quarantine_their_row_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = "カナ氏名,生年月日\nヤマダ,1970-01-01\nスズキ,昭和65年1月1日\nサトウ,1970-02-30\nタナカ,S45.03.02\nイトウ,not a date\n";
    let s = source(dir.path(), text.as_bytes(), TextEncoding::Utf8);
    let stats = read(&s).unwrap();
    assert_eq!((stats.rows_read, stats.rows_accepted, stats.rows_quarantined), (5, 2, 3));
    let lines: Vec<u64> = stats.quarantine.iter().map(|q| q.line).collect();
    assert_eq!(lines, vec![3, 4, 6]);
    assert!(stats.quarantine.iter().all(|q| q.column == "birth_date"));
    let json = serde_json::to_string(&stats).unwrap();
    assert!(!json.contains("not a date") && !json.contains("スズキ"), "the report never holds cell values");
}

#[test]
fn quarantined_rows_are_counted_in_the_run_report() {
    let ws = Workspace::generate(300, 23);
    let path = ws.path("datasets/sample/charts.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    // Break the birth date on the second data line (line 3).
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    fields[4] = "S99.99.99".into();
    lines[2] = fields.join(",");
    text = lines.join("\n") + "\n";
    std::fs::write(&path, text).unwrap();
    let outcome = ws.run("pseudonymized", "out/p");
    assert_eq!(outcome.status, Status::Released);
    let charts = outcome.report.accounting.iter().find(|a| a.table == "charts").unwrap();
    assert_eq!(charts.quarantined, 1);
    assert!(charts.balanced());
    let ingest = &outcome.report.stages.ingest.as_ref().unwrap()["charts"];
    assert_eq!(ingest.quarantine[0].line, 3);
    assert_eq!(ingest.quarantine[0].column, "birth_date");
}

#[test]
fn headers_are_read_without_reading_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    // The second data row is ragged: reading the rows fails, reading the headers does not.
    let s = source(dir.path(), "カナ氏名,生年月日\nヤマダ,1970-01-01\nスズキ\n".as_bytes(), TextEncoding::Utf8);
    assert_eq!(tokumei::ingest::read_headers(&s).unwrap(), vec!["カナ氏名", "生年月日"]);
    assert!(read(&s).is_err());
}
