//! Fuzzes the readers of files that other programs write: `predictions.csv` (any external
//! trainer's output) and model files (a champion downloaded from a release). Errors are
//! expected, panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlgate::evaluate::predictions::Predictions;
use mlgate::train::artifact;

fuzz_target!(|bytes: &[u8]| {
    if let Err(err) = Predictions::parse("predictions.csv", bytes) {
        let _ = err.to_string();
    }
    if let Err(err) = artifact::decode::<mlgate::train::models::FittedModel>("model.mlgate", bytes) {
        let _ = err.to_string();
    }
});
