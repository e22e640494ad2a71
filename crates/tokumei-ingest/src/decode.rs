//! Strict streaming decoding of UTF-8, UTF-8 with BOM and Shift_JIS (cp932) into UTF-8.
//!
//! Malformed bytes are an error naming the line, never replaced with U+FFFD: a replaced
//! character in a name would silently break opt-out matching.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use encoding_rs::{DecoderResult, Encoding};

/// Marker carried inside the `io::Error` for malformed input.
#[derive(Debug)]
pub struct Malformed {
    /// 1-based line where the bad bytes are.
    pub line: u64,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bytes on line {} are not valid in the declared encoding", self.line)
    }
}

impl std::error::Error for Malformed {}

/// Line numbers of byte offsets in the decoded stream.
///
/// The csv crate's own line counter is off by one on CRLF files, so the decoder records where
/// each `\n` it emits lies, and the reader asks for the line of each record's first byte. Offsets
/// are consumed in order, so only the read-ahead window is held.
#[derive(Debug, Default)]
pub struct LineIndex {
    pending: VecDeque<u64>,
    emitted: u64,
    passed: u64,
}

impl LineIndex {
    /// The 1-based line of a record whose position is decoded byte `offset`. Offsets must be
    /// asked in increasing order. After a CRLF the csv crate places the next record at the `\n`,
    /// so a newline *at* the offset still ends the previous line.
    pub fn line_of(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&newline| newline <= offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }

    fn record(&mut self, output: &[u8]) {
        let base = self.emitted;
        self.pending.extend(output.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| base + i as u64));
        self.emitted += output.len() as u64;
    }
}

/// A `Read` that yields UTF-8 decoded from `encoding`.
pub struct StrictDecoder<R> {
    lines_index: Rc<RefCell<LineIndex>>,
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    output: Vec<u8>,
    out_start: usize,
    lines: u64,
}

impl<R: Read> StrictDecoder<R> {
    /// Wraps `inner`. A BOM is removed whatever the encoding (`utf-8` input with a BOM is read).
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        StrictDecoder {
            lines_index: Rc::default(),
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            input: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            eof: false,
            output: Vec::with_capacity(128 * 1024),
            out_start: 0,
            lines: 1,
        }
    }

    /// A handle to the line index of the decoded stream.
    pub fn line_index(&self) -> Rc<RefCell<LineIndex>> {
        Rc::clone(&self.lines_index)
    }

    fn refill(&mut self) -> io::Result<()> {
        self.output.clear();
        self.out_start = 0;
        while self.output.is_empty() {
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let last = self.eof;
            self.output
                .resize(self.decoder.max_utf8_buffer_length(self.end - self.start).unwrap_or(1 << 20).max(16), 0);
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.start..self.end],
                &mut self.output,
                last,
            );
            self.start += read;
            self.output.truncate(written);
            self.lines += self.output.iter().filter(|&&b| b == b'\n').count() as u64;
            self.lines_index.borrow_mut().record(&self.output);
            match result {
                DecoderResult::Malformed(_, _) => {
                    let line = self.lines;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, Malformed { line }));
                }
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
            if last && self.output.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for StrictDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_start == self.output.len() {
            if self.eof && self.start == self.end {
                return Ok(0);
            }
            self.refill()?;
            if self.output.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.output.len() - self.out_start);
        buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], encoding: &'static Encoding) -> io::Result<String> {
        let mut out = String::new();
        StrictDecoder::new(bytes, encoding).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn cp932_and_bom() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("氏名,髙橋\r\nｶﾅ,①\r\n");
        assert_eq!(decode(&sjis, encoding_rs::SHIFT_JIS).unwrap(), "氏名,髙橋\r\nｶﾅ,①\r\n");
        assert_eq!(decode("\u{feff}a,b\n".as_bytes(), encoding_rs::UTF_8).unwrap(), "a,b\n");
    }

    #[test]
    fn line_index_counts_lf_and_crlf() {
        for text in ["h\na\nb\n", "h\r\na\r\nb\r\n"] {
            let decoder = StrictDecoder::new(text.as_bytes(), encoding_rs::UTF_8);
            let index = decoder.line_index();
            let mut reader = csv::ReaderBuilder::new().from_reader(decoder);
            let lines: Vec<u64> =
                reader.records().map(|r| index.borrow_mut().line_of(r.unwrap().position().unwrap().byte())).collect();
            assert_eq!(lines, vec![2, 3], "{text:?}");
        }
    }

    #[test]
    fn malformed_names_the_line() {
        let mut bytes = b"a,b\nc,d\n".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let err = decode(&bytes, encoding_rs::UTF_8).unwrap_err();
        let malformed = err.get_ref().unwrap().downcast_ref::<Malformed>().unwrap();
        assert_eq!(malformed.line, 3);
    }
}
