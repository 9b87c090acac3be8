//! Evaluation building blocks: model metrics and paired statistics for comparing a candidate
//! with the champion on the same rows.
//!
//! `mlgate evaluate` (the gate, `evaluation.json`) is built on these; the maths is kept apart
//! from I/O so it can be checked against scikit-learn, SciPy and statsmodels reference values
//! (`tests/fixtures/reference/gen_evaluate_reference.py`).

pub mod gate;
pub mod metrics;
pub mod paired;
