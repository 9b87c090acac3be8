//! Times the quantile sketch on the value shapes of a data column, one thread, in process:
//! nanoseconds per value for `QuantileSketch::extend` fed in chunks of 1,024 values, as the
//! validation pass feeds it.
//!
//! ```text
//! cargo run --release --example bench_sketch -- [--values N]
//! ```
//!
//! Shapes: decimals with two places (incomes), small integers (ages), a counter (ids), and
//! dates as days. Each shape runs five times; the best time is printed with a checksum of the
//! sketch, so changes to the sketch can be checked for identical results too.

use mlgate::data::sketch::QuantileSketch;
use std::time::Instant;

/// A deterministic stream of pseudo-random numbers (SplitMix64).
struct Stream(u64);

impl Stream {
    /// The next value, uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let values: usize = args
        .iter()
        .position(|a| a == "--values")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let mut stream = Stream(42);
    let shapes: [(&str, Vec<f64>); 4] = [
        (
            "decimals",
            (0..values)
                .map(|_| (stream.uniform() * 1e7).round() / 100.0)
                .collect(),
        ),
        (
            "small ints",
            (0..values)
                .map(|_| (18.0 + stream.uniform() * 72.0).floor())
                .collect(),
        ),
        ("counter", (0..values).map(|i| i as f64).collect()),
        (
            "days",
            (0..values)
                .map(|_| (17_000.0 + stream.uniform() * 2_000.0).floor())
                .collect(),
        ),
    ];
    for (name, data) in &shapes {
        let mut best = f64::INFINITY;
        let mut checksum = 0.0;
        for _ in 0..5 {
            let started = Instant::now();
            let mut sketch = QuantileSketch::new();
            for chunk in data.chunks(1024) {
                sketch.extend(chunk);
            }
            best = best.min(started.elapsed().as_secs_f64());
            checksum = (1..100)
                .map(|p| sketch.quantile(p as f64 / 100.0).unwrap_or(0.0))
                .sum::<f64>();
        }
        println!(
            "{name:>10}: {:6.2} ns per value (quantile checksum {checksum})",
            best * 1e9 / data.len() as f64
        );
    }
}
