//! Fuzzes the CSV path end to end: type inference, then the full validation pass with the
//! inferred schema, on arbitrary bytes. Any panic is a bug; errors are expected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlgate::config::{default_null_values, DataConfig, DataFormat};
use mlgate::data::{scan_bytes, ReadOptions};
use mlgate::validate::infer::TypeSniffer;
use mlgate::validate::scan::Scanner;

fuzz_target!(|bytes: &[u8]| {
    let options = ReadOptions {
        format: DataFormat::Csv,
        delimiter: b',',
        null_values: default_null_values(),
        exclude: Vec::new(),
        max_record_bytes: 1 << 16,
    };
    let mut sniffer = TypeSniffer::default();
    if scan_bytes("fuzz.csv", bytes, &options, &mut sniffer).is_err() {
        return;
    }
    let data = DataConfig {
        path: "fuzz.csv".into(),
        format: DataFormat::Csv,
        delimiter: ",".into(),
        target: None,
        id: None,
        null_values: default_null_values(),
        exclude: Vec::new(),
    };
    let mut scanner = Scanner::new(sniffer.provisional_schema(&data));
    let _ = scan_bytes("fuzz.csv", bytes, &options, &mut scanner);
});
