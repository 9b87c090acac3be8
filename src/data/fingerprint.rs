//! The data fingerprint: xxh3-128 of a file's bytes, as the hex that `validation.json`,
//! `profile.json` and the model manifest record.
//!
//! The hash is computed by `twox-hash`, which picks AVX2 at run time where the CPU has it;
//! `xxhash-rust` only uses what the build targets (SSE2 for a portable x86-64 binary), and
//! took twice as long over a large file. Both give the same values (tested below), so
//! fingerprints recorded before the change still match.

use std::io::Read;

/// A running fingerprint of bytes fed in order.
pub struct Fingerprint(twox_hash::XxHash3_128);

impl Fingerprint {
    /// A fingerprint of no bytes yet.
    pub fn new() -> Fingerprint {
        Fingerprint(twox_hash::XxHash3_128::new())
    }

    /// Adds the bytes that follow those fed so far.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// The fingerprint of every byte fed, as 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0.finish_128())
    }
}

impl Default for Fingerprint {
    fn default() -> Fingerprint {
        Fingerprint::new()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint")
    }
}

/// The fingerprint of one slice.
pub fn of_bytes(bytes: &[u8]) -> String {
    format!("{:032x}", twox_hash::XxHash3_128::oneshot(bytes))
}

/// The size and fingerprint of a file, read in a stream.
pub fn of_file(path: &std::path::Path) -> anyhow::Result<(u64, String)> {
    let mut file = fs_err::File::open(path)?;
    let mut fingerprint = Fingerprint::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        fingerprint.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, fingerprint.hex()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that are not periodic, so a misplaced stripe changes the hash.
    fn bytes(len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect()
    }

    #[test]
    fn matches_xxhash_rust_over_every_size_class_and_feed() {
        // The boundaries of xxh3's short, medium and long paths, its 1 KiB blocks and its
        // 256-byte streaming buffer, and a large input.
        let sizes = [
            0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 256, 257, 1024, 1025,
        ];
        let sizes = sizes.into_iter().chain([4096 + 13, 1 << 20, (4 << 20) + 7]);
        for size in sizes {
            let data = bytes(size);
            let expected = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&data));
            assert_eq!(of_bytes(&data), expected, "one shot of {size} bytes");
            for piece in [1, 7, 64, 255, 256, 1000, 65_536] {
                let mut fingerprint = Fingerprint::new();
                data.chunks(piece)
                    .for_each(|chunk| fingerprint.update(chunk));
                assert_eq!(
                    fingerprint.hex(),
                    expected,
                    "{size} bytes fed {piece} at a time"
                );
            }
        }
    }
}
