//! 特定健診 CDA documents: any bytes, either table; never a panic, rows shaped like the table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokumei_formats::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::cda(data));
