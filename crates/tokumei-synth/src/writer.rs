//! CSV writers in the encodings real exports use, counting lines for the truth file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Output encoding of one synthetic export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// UTF-8 with a BOM (Excel).
    Utf8Bom,
    /// Shift_JIS / cp932, CRLF (Windows systems).
    Cp932,
}

/// Errors writing synthetic data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A character that the target encoding cannot hold (a bug in the vocabularies).
    #[error("{path}: a value cannot be written in Shift_JIS")]
    Unencodable {
        /// File.
        path: String,
    },
}

fn new_csv(terminator: csv::Terminator) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::with_capacity(1 << 20))
}

pub(crate) struct TableWriter {
    path: String,
    csv: csv::Writer<Vec<u8>>,
    out: BufWriter<File>,
    encoding: Encoding,
    terminator: csv::Terminator,
    /// Line number of the last written record (header = 1).
    pub line: u64,
}

impl TableWriter {
    pub fn create(path: &Path, encoding: Encoding, headers: &[&str]) -> Result<TableWriter, Error> {
        let shown = path.display().to_string();
        let file = File::create(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        if encoding == Encoding::Utf8Bom {
            out.write_all("\u{feff}".as_bytes()).map_err(|source| Error::Io { path: shown.clone(), source })?;
        }
        let terminator = if encoding == Encoding::Cp932 { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let csv = new_csv(terminator);
        let mut writer = TableWriter { path: shown, csv, out, encoding, terminator, line: 0 };
        writer.record(headers.iter().copied())?;
        Ok(writer)
    }

    pub fn record<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> Result<u64, Error> {
        self.csv.write_record(fields).map_err(|e| Error::Io { path: self.path.clone(), source: e.into() })?;
        self.line += 1;
        if self.csv.get_ref().len() > 1 << 20 {
            self.drain()?;
        }
        Ok(self.line)
    }

    fn drain(&mut self) -> Result<(), Error> {
        let csv = std::mem::replace(&mut self.csv, new_csv(self.terminator));
        let buffer = csv.into_inner().map_err(|e| Error::Io { path: self.path.clone(), source: e.into_error() })?;
        let text = String::from_utf8(buffer).expect("csv writes the UTF-8 it is given");
        let io = |source| Error::Io { path: self.path.clone(), source };
        match self.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => self.out.write_all(text.as_bytes()).map_err(io)?,
            Encoding::Cp932 => {
                let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
                if unmappable {
                    return Err(Error::Unencodable { path: self.path.clone() });
                }
                self.out.write_all(&bytes).map_err(io)?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, Error> {
        self.drain()?;
        self.out.flush().map_err(|source| Error::Io { path: self.path.clone(), source })?;
        Ok(self.line - 1)
    }
}
