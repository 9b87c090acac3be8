//! How many threads mlgate may use: `MLGATE_THREADS` when set (to share a CI runner
//! politely), else every core.
//!
//! One place reads the variable, so the CSV reader, training, scoring and the bootstrap agree.
//! No result depends on the number: every parallel stage collects its work in a fixed order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The thread budget, at least 1.
pub fn budget() -> usize {
    std::env::var("MLGATE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// `unit(i, scratch)` for every `i` in `0..units`, on up to `threads` threads (0 is treated
/// as 1) that claim units in turn, each with its own `scratch()`; the results come back in
/// unit order, so they do not depend on the number of threads or on who ran what.
pub fn in_parallel<T, W>(
    units: usize,
    threads: usize,
    scratch: impl Fn() -> W + Sync,
    unit: impl Fn(usize, &mut W) -> T + Sync,
) -> Vec<T>
where
    T: Send,
{
    let workers = threads.clamp(1, units.max(1));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        let mut own = scratch();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= units {
                break;
            }
            done.push((i, unit(i, &mut own)));
        }
        done
    };
    let mut results = Vec::with_capacity(units);
    std::thread::scope(|scope| {
        // A thread that cannot be spawned is simply not used: the shared
        // counter lets the remaining workers (at least this one) take over
        // its units, so the result is unchanged.
        let helpers: Vec<_> = (1..workers)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        results.extend(work());
        for helper in helpers {
            match helper.join() {
                Ok(done) => results.extend(done),
                // Only the statistic can panic in a worker; re-raise its
                // panic rather than report an interval from a partial set of
                // units.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    });
    results.sort_unstable_by_key(|&(i, _)| i);
    results.into_iter().map(|(_, r)| r).collect()
}
