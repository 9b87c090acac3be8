//! mlgate: continuous integration for machine-learning projects.
//!
//! The library owns every stage (validate, and later train, evaluate, report); the binary in
//! `main.rs` only parses flags and maps results to exit codes. Stages talk through plain files in
//! a run directory, so each module here reads and writes documented JSON rather than sharing
//! in-memory state across stages.

pub mod baseline;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod exit;
pub mod float_order;
pub mod fsx;
pub mod git;
pub mod github;
pub mod release;
pub mod report;
pub mod runner;
pub mod scaffold;
pub mod stats;
pub mod threads;
pub mod train;
pub mod validate;
pub mod workflow;
