//! Shared helpers for the benchmarks: deterministic test signals, and the
//! example translators built for wasm32.

use std::path::PathBuf;

/// `target/translators`, after `scripts/build-translators` brought it up
/// to date; if the build fails but `needed` modules are there, those are
/// used (with a note).
pub fn translators_dir(needed: &[&str]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/translators");
    let status = std::process::Command::new(root.join("scripts/build-translators")).current_dir(&root).status();
    let all = needed.iter().all(|m| dir.join(format!("{m}.wasm")).exists());
    match status {
        Ok(s) if s.success() => {}
        _ if all => eprintln!("scripts/build-translators failed; using {}", dir.display()),
        r => panic!("scripts/build-translators failed ({r:?}) and {} is incomplete", dir.display()),
    }
    dir
}

/// A tiny xorshift64* generator, so benchmark inputs are the same on every
/// run without a `rand` dependency.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `prbs` PRBs of interleaved I/Q `i16` samples (24 per PRB) with a
/// per-PRB amplitude that wanders over 0 to 4 bits of headroom, like an
/// OFDM symbol with power variation, so BFP exponents differ between PRBs.
pub fn iq_symbol(prbs: usize, seed: u64) -> Vec<i16> {
    let mut rng = XorShift(seed | 1);
    let mut out = Vec::with_capacity(prbs * 24);
    for _ in 0..prbs {
        let headroom = (rng.next_u64() % 5) as u32;
        for _ in 0..24 {
            out.push((rng.next_u64() as i16) >> headroom);
        }
    }
    out
}
