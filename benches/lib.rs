//! Shared helpers for the benchmarks: deterministic test signals.

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
