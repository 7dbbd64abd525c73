//! The known test signal of `fhgate gen`: 16-QAM-like symbols whose peak
//! steps down PRB by PRB, so BFP exponents vary across a symbol. It
//! depends only on what the U-plane carries (the eAxC fields, the slot,
//! the symbol and the PRB) and on its [`SignalLevel`], so a receiver that
//! is told the level rebuilds it from the frame it got.
//!
//! Samples are `i32`: above 0 dBFS (beyond `i16` full scale, 32 768) BFP
//! still carries them, with exponents up to 15.

use anyhow::{bail, Result};
use ecpri::iq::SAMPLES_PER_PRB;
use ecpri::{CompMethod, EaxcId, UdCompHdr};

use super::{signal_key, splitmix64, SlotTime, RES_PER_PRB};

/// `i16` full scale, the 0 dBFS of `--level-dbfs`.
pub const FULL_SCALE: f64 = 32_768.0;
/// The default peak of PRB 0 (−8.7 dBFS): the shipped captures' level.
const DEFAULT_PEAK: i64 = 12_000;
/// Highest `--level-dbfs`: BFP 16 at exponent 15 holds about 2^30 (+90.3 dBFS).
pub const MAX_LEVEL_DBFS: f64 = 90.0;
/// Lowest `--level-dbfs`: below it the weaker PRBs of the cycle are zero.
pub const MIN_LEVEL_DBFS: f64 = -60.0;

/// How loud the test signal is, PRB by PRB.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SignalLevel {
    /// PRB 0 peaks at 12 000 (−8.7 dBFS), each of the next three 6 dB
    /// lower, over a cycle of 4 PRBs: the shipped captures.
    #[default]
    Default,
    /// The same cycle with PRB 0's peak at this many dB relative to `i16`
    /// full scale; above 0 the samples exceed `i16`.
    PeakDbfs(f64),
    /// PRB `p` peaks where BFP at udIqWidth `width` takes exponent
    /// `lo + p mod (hi − lo + 1)` (at 0.9 of that exponent's range).
    Exponents {
        /// Lowest exponent, 0–15.
        lo: u8,
        /// Highest exponent, `lo`–15.
        hi: u8,
        /// The BFP width the exponents are meant at.
        width: u8,
    },
}

impl SignalLevel {
    /// A level of `dbfs` dB relative to `i16` full scale, checked.
    pub fn peak_dbfs(dbfs: f64) -> Result<Self> {
        if !(MIN_LEVEL_DBFS..=MAX_LEVEL_DBFS).contains(&dbfs) {
            bail!("--level-dbfs {dbfs}: outside {MIN_LEVEL_DBFS} to +{MAX_LEVEL_DBFS} dBFS (BFP 16 at exponent 15 holds about +90.3)");
        }
        Ok(SignalLevel::PeakDbfs(dbfs))
    }

    /// Exponents `lo`–`hi` for compression `comp`, which must be BFP.
    pub fn exponents(lo: u8, hi: u8, comp: UdCompHdr) -> Result<Self> {
        if lo > hi || hi > 15 {
            bail!("--exponents {lo}-{hi}: expected LO-HI with 0 <= LO <= HI <= 15 (udCompParam's exponent has 4 bits)");
        }
        if comp.comp_meth != CompMethod::Bfp {
            bail!("--exponents needs BFP compression (the exponent is BFP's udCompParam), not {comp}");
        }
        let width = if comp.iq_width == 0 { 16 } else { comp.iq_width };
        if width < 2 {
            bail!("--exponents needs a BFP width of at least 2, not {width}");
        }
        Ok(SignalLevel::Exponents { lo, hi, width })
    }

    /// Parses `LO-HI` (or one exponent `E`), as `--exponents` takes it.
    pub fn parse_range(s: &str) -> Result<(u8, u8), String> {
        let num = |t: &str| t.trim().parse::<u8>().map_err(|_| format!("`{s}`: expected LO-HI, exponents 0-15, like 0-15"));
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if lo > hi || hi > 15 {
            return Err(format!("`{s}`: expected LO-HI with 0 <= LO <= HI <= 15"));
        }
        Ok((lo, hi))
    }

    /// The peak amplitude of PRB `prb` (the ±3 level of the constellation).
    pub fn amplitude(self, prb: usize) -> i64 {
        match self {
            SignalLevel::Default => DEFAULT_PEAK >> (prb % 4),
            SignalLevel::PeakDbfs(db) => (FULL_SCALE * 10f64.powf(db / 20.0)).round() as i64 >> (prb % 4),
            SignalLevel::Exponents { lo, hi, width } => {
                let e = lo as usize + prb % (hi - lo + 1) as usize;
                // In [2^(w-2+e), 2^(w-1+e)): BFP at `width` needs exponent e.
                ((1i64 << (width as usize - 1 + e)) as f64 * 0.9) as i64
            }
        }
    }

    /// How `fhgate gen` and `sink` name it.
    pub fn describe(self) -> String {
        match self {
            SignalLevel::Default => "default level (PRB 0 at -8.7 dBFS)".into(),
            SignalLevel::PeakDbfs(db) => format!("PRB 0 at {db:+.1} dBFS"),
            SignalLevel::Exponents { lo, hi, width } => format!("BFP {width}-bit exponents {lo}-{hi}"),
        }
    }
}

/// The I and Q of one RE of the test signal at `level`.
pub fn reference_iq(level: SignalLevel, eaxc: EaxcId, t: SlotTime, symbol: u8, prb: usize, re: usize) -> (i32, i32) {
    reference_iq_keyed(level, signal_key(eaxc), t, symbol, prb, re)
}

/// The 24 samples (I, Q interleaved) of one PRB of the test signal.
pub fn reference_prb(level: SignalLevel, eaxc: EaxcId, t: SlotTime, symbol: u8, prb: usize) -> [i32; SAMPLES_PER_PRB] {
    let key = signal_key(eaxc);
    let mut out = [0i32; SAMPLES_PER_PRB];
    for re in 0..RES_PER_PRB {
        let (i, q) = reference_iq_keyed(level, key, t, symbol, prb, re);
        out[2 * re] = i;
        out[2 * re + 1] = q;
    }
    out
}

pub(super) fn reference_iq_keyed(level: SignalLevel, key: u16, t: SlotTime, symbol: u8, prb: usize, re: usize) -> (i32, i32) {
    let x = splitmix64(
        (key as u64) << 48
            ^ (t.frame as u64) << 40
            ^ (t.subframe as u64) << 32
            ^ (t.slot as u64) << 24
            ^ (symbol as u64) << 16
            ^ (prb * RES_PER_PRB + re) as u64,
    );
    let amp = level.amplitude(prb);
    let lvl = |bits: u64| -> i32 {
        let l = [-3, -1, 1, 3][(bits & 3) as usize];
        (l * amp / 3) as i32
    };
    (lvl(x), lvl(x >> 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_level_is_the_old_signal() {
        // The shipped captures were made with 12 000 >> (prb % 4).
        assert_eq!((0..4).map(|p| SignalLevel::Default.amplitude(p)).collect::<Vec<_>>(), [12_000, 6_000, 3_000, 1_500]);
        let l = SignalLevel::peak_dbfs(40.0).unwrap();
        assert_eq!(l.amplitude(0), 3_276_800);
        assert!(SignalLevel::peak_dbfs(91.0).is_err() && SignalLevel::peak_dbfs(f64::NAN).is_err());
    }

    #[test]
    fn exponent_levels_take_the_exponent_they_name() {
        let t = SlotTime { frame: 3, subframe: 1, slot: 0 };
        for w in [8u8, 9, 12, 14, 16] {
            let l = SignalLevel::exponents(0, 15, UdCompHdr::new(CompMethod::Bfp, w)).unwrap();
            for prb in 0..32 {
                let a = l.amplitude(prb);
                let e = prb % 16;
                let (lo, hi) = (1i64 << (w as usize - 2 + e), 1i64 << (w as usize - 1 + e));
                assert!((if e == 0 { 0 } else { lo }..hi).contains(&a), "width {w} PRB {prb}: {a}");
                // The PRB holds its peak, so BFP takes exponent e for it.
                let r = reference_prb(l, EaxcId::default(), t, 5, prb);
                assert_eq!(r.iter().map(|x| x.unsigned_abs() as i64).max(), Some(a), "width {w} PRB {prb}");
            }
        }
        assert!(SignalLevel::exponents(3, 2, UdCompHdr::new(CompMethod::Bfp, 9)).is_err());
        assert!(SignalLevel::exponents(0, 15, UdCompHdr::new(CompMethod::None, 16)).is_err());
        assert_eq!(SignalLevel::parse_range("0-15"), Ok((0, 15)));
        assert_eq!(SignalLevel::parse_range("7"), Ok((7, 7)));
        assert!(SignalLevel::parse_range("0-16").is_err() && SignalLevel::parse_range("x").is_err());
    }
}
