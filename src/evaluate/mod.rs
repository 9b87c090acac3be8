//! `mlgate evaluate`: model metrics and paired statistics for comparing a candidate with the
//! champion on the same rows, the gate, and `evaluation.json`.
//!
//! [`evaluation`] wires the pieces over the [`predictions`] contract; the maths is kept apart
//! from I/O so it can be checked against scikit-learn, SciPy and statsmodels reference values
//! (`tests/fixtures/reference/gen_evaluate_reference.py`).

mod banded;
mod counts;
pub mod evaluation;
pub mod gate;
pub mod metrics;
pub mod paired;
pub mod predictions;
mod random;
mod resample;

/// The SciPy / scikit-learn / statsmodels reference values both modules' tests compare with,
/// written by `tests/fixtures/reference/gen_evaluate_reference.py`.
#[cfg(test)]
fn reference_fixture() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference/evaluate_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture parses")
}
