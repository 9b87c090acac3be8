//! Fuzzes the YAML loaders (`mlgate.yml` and the schema file): errors are expected, panics are
//! bugs, and every error must render.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Err(err) = mlgate::config::parse(Path::new("mlgate.yml"), text) {
        let _ = err.to_string();
    }
    if let Err(err) = mlgate::validate::schema::parse(Path::new("schema.yml"), text) {
        let _ = err.to_string();
    }
});
