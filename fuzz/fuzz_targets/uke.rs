//! UKE receipt files: any bytes, any table; the parser returns rows or an error, never panics,
//! and every row has one cell and one record number per column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokumei_formats::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::uke(data));
