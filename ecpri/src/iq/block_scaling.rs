//! Block scaling, udCompMeth 2 (O-RAN.WG4.CUS Annex A.2).
//!
//! udCompParam is sblockScaler, an unsigned 8-bit value with one integer
//! and seven fractional bits (128 = 1.0). With source width 16 (our `i16`)
//! and `w` = udIqWidth, per PRB:
//!
//! - `maxValue = max(max(x), |min(x)| - 1)` as for BFP;
//! - `sblockScaler = ceil(maxValue / 2^(16-8))`, or 1 for a zero PRB, so
//!   1 to 128;
//! - `c = round(x * (128 / sblockScaler) / 2^(16-w))`, saturated to `w`
//!   bits;
//! - decompression is `round(sblockScaler * c / 2^(w-9))`.
//!
//! `round` is half away from zero, as in the reference. The reference
//! forms `128 / sblockScaler` in floating point; this code rounds the exact
//! rational value instead, so results cannot depend on the platform's
//! floating point. A received sblockScaler above 128 is decoded as sent
//! (the `i32` output has room). Input samples beyond `i16` are saturated
//! and counted.

use super::sample::to_i16_counted;
use super::{bitpack, bfp::prb_len};
use super::{check_compress, check_decompress, check_width, div_round, prb, prb_mut, Encoded, Sample, SAMPLES_PER_PRB};
use crate::Result;

/// The sblockScaler of one PRB (1 to 128).
pub fn block_scaler(prb: &[i16; SAMPLES_PER_PRB]) -> u8 {
    let max = prb.iter().copied().max().unwrap_or(0) as i32;
    let min = prb.iter().copied().min().unwrap_or(0) as i32;
    let max_value = max.max(-min - 1);
    ((max_value + 255) / 256).max(1) as u8
}

/// Compresses whole PRBs of `src` into `dst`; returns the bytes written
/// (`3 * iq_width + 1` per PRB) and the samples saturated.
pub fn compress<S: Sample>(iq_width: u8, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let mut saturated = 0;
    for i in 0..n {
        let x = &prb(src, i).map(|v| to_i16_counted(v, &mut saturated));
        let out = &mut dst[i * len..(i + 1) * len];
        let s = block_scaler(x);
        out[0] = s;
        // c = x * 2^(w - 9) / s, as the exact ratio x * 2^w / (512 s).
        let c = x.map(|v| div_round((v as i64) << w, 512 * s as i64).clamp(lo, hi) as i16);
        bitpack::pack(w, &c, &mut out[1..]);
    }
    Ok(Encoded { len: n * len, saturated })
}

/// Decompresses the whole PRBs of `src` into `dst`; returns the PRB count.
pub fn decompress(iq_width: u8, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_decompress(src, dst, len)?;
    for i in 0..n {
        let inp = &src[i * len..(i + 1) * len];
        let s = inp[0] as i64;
        let mut c = [0i16; SAMPLES_PER_PRB];
        bitpack::unpack(w, &inp[1..], &mut c);
        for (o, c) in prb_mut(dst, i).iter_mut().zip(c) {
            let p = s * c as i64;
            // At most 255 * 2^15 * 2^8: fits i32.
            *o = (if w <= 9 { p << (9 - w) } else { div_round(p, 1 << (w - 9)) }) as i32;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iq::testutil::{extreme_prbs, Rng};
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        // Full scale: maxValue 32767 -> scaler ceil(32767 / 256) = 128 (1.0);
        // at width 9, c = round(32767 / 128) = 256, saturated to 255.
        let mut out = [0u8; 28];
        compress(9, &[i16::MAX; 24], &mut out).unwrap();
        assert_eq!(out[0], 128);
        assert_eq!(out[1..3], [0x7F, 0xBF]); // 011111111 011111111 ...
        let mut back = [0i32; 24];
        decompress(9, &out, &mut back).unwrap();
        assert_eq!(back[0], 255 * 128);

        // A PRB peaking at 1000: scaler ceil(1000 / 256) = 4; at width 8,
        // c = round(1000 * 2^-1 / 4) = 125, -1000 -> -125, 3 -> round(0.375) = 0,
        // 6 -> round(0.75) = 1; back: 125 * 4 * 2 = 1000.
        let mut x = [0i16; 24];
        x[..4].copy_from_slice(&[1000, -1000, 3, 6]);
        let mut out = [0u8; 25];
        compress(8, &x, &mut out).unwrap();
        assert_eq!(out[..5], [4, 125, (-125i8) as u8, 0, 1]);
        let mut back = [0i32; 24];
        decompress(8, &out, &mut back).unwrap();
        assert_eq!(back[..4], [1000, -1000, 0, 8]);
        // i32 input beyond i16 is read saturated, and counted.
        let mut wide = x.map(|v| v as i32);
        wide[4] = 1 << 20;
        wide[5] = -(1 << 20);
        let mut sat = [0u8; 25];
        assert_eq!(compress(8, &wide, &mut sat), Ok(Encoded { len: 25, saturated: 2 }));
        wide[4] = 32767;
        wide[5] = -32768;
        assert_eq!(compress(8, &wide, &mut out), Ok(Encoded { len: 25, saturated: 0 }));
        assert_eq!(sat, out);

        // Zeros: scaler 1, body zero.
        compress(8, &[0i16; 24], &mut out).unwrap();
        assert_eq!(out[0], 1);
        assert!(out[1..].iter().all(|&b| b == 0));
    }

    #[test]
    fn scaler_above_one_decodes_as_sent() {
        let mut wire = [0u8; 28];
        wire[0] = 255;
        wire[1] = 0x7F; // first value 255 at width 9
        wire[2] = 0x80;
        let mut back = [0i32; 24];
        decompress(9, &wire, &mut back).unwrap();
        // 255 * 255 / 2^0, beyond i16.
        assert_eq!(back[0], 255 * 255);
    }

    /// The round-trip error bound: one step of `512 * s / 2^w` (the
    /// positive saturation at full scale costs up to a step) plus 1 for the
    /// rounding on decompression.
    fn check_bound(w: u8, x: &[i16; 24]) {
        let mut out = [0u8; 49];
        let len = compress(w, x, &mut out).unwrap().len;
        let mut back = [0i32; 24];
        decompress(w, &out[..len], &mut back).unwrap();
        let step = 512.0 * out[0] as f64 / (1u32 << w) as f64;
        for (a, b) in x.iter().zip(&back) {
            let err = (*a as f64 - *b as f64).abs();
            assert!(err <= step + 1.0, "w={w} s={} {a} -> {b}", out[0]);
        }
    }

    #[test]
    fn round_trip_within_one_step() {
        let mut rng = Rng(11);
        for w in 1..=16 {
            for x in extreme_prbs() {
                check_bound(w, &x);
            }
            for _ in 0..50 {
                check_bound(w, &rng.prb());
            }
        }
    }

    proptest! {
        #[test]
        fn bounded_and_never_panics(w in 1u8..=16, x in proptest::array::uniform24(any::<i16>()), wire in proptest::collection::vec(any::<u8>(), 0..100)) {
            check_bound(w, &x);
            let mut back = [0i32; 48];
            let _ = decompress(w, &wire, &mut back);
        }
    }
}
