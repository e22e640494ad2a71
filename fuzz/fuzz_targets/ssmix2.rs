//! SS-MIX2 HL7 messages: any bytes, any table; never a panic, rows shaped like the table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokumei_formats::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::ssmix2(data));
