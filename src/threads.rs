//! How many threads mlgate may use: `MLGATE_THREADS` when set (to share a CI runner
//! politely), else every core.
//!
//! One place reads the variable, so the CSV reader, training, scoring and the bootstrap agree.
//! No result depends on the number: every parallel stage collects its work in a fixed order.

/// The thread budget, at least 1.
pub fn budget() -> usize {
    std::env::var("MLGATE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}
