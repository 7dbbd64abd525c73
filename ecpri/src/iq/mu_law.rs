//! µ-law, udCompMeth 3 (O-RAN.WG4.CUS Annex A.3).
//!
//! udCompParam holds compBitWidth (high nibble) and compShift (low nibble).
//! With source width 16 (`i16`, 15 magnitude bits) and `w` = udIqWidth:
//!
//! - compShift = 7, 6, ... 1 for a PRB maximum `|x|` below 2^8, 2^9, ...
//!   2^14, else 0;
//! - each magnitude is shifted up, `A = min(|x| << compShift, 2^15 - 1)`,
//!   and companded in three linear segments:
//!   `A <= 2^13`: `A / 2^(15-w)`;
//!   `A <= 2^14`: `A / 2^(16-w) + 2^(w-3)`;
//!   otherwise: `A / 2^(17-w) + 2^(w-2)`; truncated, sign restored;
//! - decompression inverts the segment (code magnitudes up to `2^(w-2)`,
//!   up to `2^(w-2) + 2^(w-3)`, above), restores the sign and divides by
//!   `2^compShift`.
//!
//! The reference returns that last quotient as a real number; this codec
//! rounds it half away from zero. Input samples beyond `i16` are saturated
//! and counted. compBitWidth is written as
//! udIqWidth (16 as 0); a PRB whose compBitWidth differs from udIqWidth
//! cannot be laid out from udCompHdr alone and is refused as
//! `Unsupported`.

use super::sample::to_i16_counted;
use super::{bfp::prb_len, bitpack};
use super::{check_compress, check_decompress, check_width, div_round, prb, prb_mut, Encoded, Sample, SAMPLES_PER_PRB};
use crate::{Error, Result};

/// compShift for one PRB (0 to 7).
pub fn comp_shift(prb: &[i16; SAMPLES_PER_PRB]) -> u8 {
    let max_abs = prb.iter().map(|v| v.unsigned_abs() as u32).max().unwrap_or(0);
    let bitlen = 32 - max_abs.leading_zeros();
    15u32.saturating_sub(bitlen).min(7) as u8
}

/// Compands one magnitude-and-sign sample to a `w`-bit code.
#[inline]
fn compand(w: u32, x: i16, shift: u32) -> i16 {
    let a = ((x.unsigned_abs() as i64) << shift).min((1 << 15) - 1);
    // Each segment scaled by 2^w so that 2^(w-3) stays integral at w < 3.
    let aw = a << w;
    let c = if a <= 1 << 13 {
        aw >> 15
    } else if a <= 1 << 14 {
        (aw + (1 << (w + 13))) >> 16
    } else {
        (aw + (1 << (w + 15))) >> 17
    };
    (if x < 0 { -c } else { c }) as i16
}

/// Expands one `w`-bit code back to a sample.
#[inline]
fn expand(w: u32, c: i16, shift: u32) -> i32 {
    let a = (c.unsigned_abs() as i64).min((1 << (w - 1)) - 1);
    // d * 2^w per segment, so every threshold and offset is an integer.
    let dw = if 4 * a <= 1 << w {
        a << 15
    } else if 8 * a <= 3 << w {
        (a << 16) - (1 << (13 + w))
    } else {
        (a << 17) - (1 << (15 + w))
    };
    let d = div_round(dw, 1 << (w + shift));
    // At most 2^17 / 2^shift: fits i32.
    (if c < 0 { -d } else { d }) as i32
}

/// Compresses whole PRBs of `src` into `dst`; returns the bytes written
/// (`3 * iq_width + 1` per PRB) and the samples saturated.
pub fn compress<S: Sample>(iq_width: u8, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    let mut saturated = 0;
    for i in 0..n {
        let x = &prb(src, i).map(|v| to_i16_counted(v, &mut saturated));
        let out = &mut dst[i * len..(i + 1) * len];
        let shift = comp_shift(x);
        out[0] = ((w as u8 & 0x0F) << 4) | shift;
        let c = x.map(|v| compand(w, v, shift as u32));
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
        let bit_width = inp[0] >> 4;
        if bit_width != w as u8 & 0x0F {
            return Err(Error::Unsupported { field: "oran_fh_cus.compBitWidth", offset: i * len, value: bit_width as u32 });
        }
        let shift = (inp[0] & 0x0F) as u32;
        let mut c = [0i16; SAMPLES_PER_PRB];
        bitpack::unpack(w, &inp[1..], &mut c);
        for (o, c) in prb_mut(dst, i).iter_mut().zip(c) {
            *o = expand(w, c, shift);
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
        // Width 9, full scale: compShift 0, A = 32767 (third segment):
        // 32767 / 2^8 + 2^7 = 255.99 -> 255; back: 255 * 2^8 - 2^15 = 32512.
        assert_eq!(compand(9, i16::MAX, 0), 255);
        assert_eq!(expand(9, 255, 0), 32512);
        assert_eq!(compand(9, i16::MIN, 0), -255);
        // First segment, small PRB: max 100 -> compShift 7, A = 12800 > 2^13,
        // second segment: 12800 / 2^7 + 2^6 = 164; back (164 * 2^7 - 2^13) / 2^7 = 100.
        let mut x = [0i16; 24];
        x[0] = 100;
        assert_eq!(comp_shift(&x), 7);
        assert_eq!(compand(9, 100, 7), 164);
        assert_eq!(expand(9, 164, 7), 100);
        // 40 << 7 = 5120 is in the first segment: 5120 / 2^6 = 80; back 80 * 2^6 / 2^7 = 40.
        assert_eq!(compand(9, -40, 7), -80);
        assert_eq!(expand(9, -80, 7), -40);

        let mut out = [0u8; 28];
        compress(9, &x, &mut out).unwrap();
        assert_eq!(out[0], 0x97);
        let mut out16 = [0u8; 49];
        compress(16, &x, &mut out16).unwrap();
        assert_eq!(out16[0], 0x07);
    }

    #[test]
    fn comp_shift_thresholds() {
        let mut x = [0i16; 24];
        for (v, s) in [(0, 7), (255, 7), (256, 6), (-256, 6), (16383, 1), (16384, 0), (i16::MIN, 0)] {
            x[3] = v;
            assert_eq!(comp_shift(&x), s, "{v}");
        }
    }

    #[test]
    fn codes_stay_in_width() {
        for w in 1..=16u32 {
            for shift in 0..8 {
                for x in [i16::MIN, -32767, -8193, -8192, -1, 0, 1, 8192, 16384, 32767] {
                    let c = compand(w, x, shift) as i32;
                    assert!(c.abs() < 1 << (w - 1) || (w == 1 && c == 0), "w={w} x={x} c={c}");
                }
            }
        }
    }

    #[test]
    fn bit_width_mismatch_is_refused() {
        let mut out = [0u8; 28];
        compress(9, &[5i16; 24], &mut out).unwrap();
        out[0] = (8 << 4) | (out[0] & 0x0F);
        let mut back = [0i32; 24];
        assert!(matches!(decompress(9, &out, &mut back), Err(Error::Unsupported { offset: 0, .. })));
    }

    /// Error bound: one step of the coarsest segment, `2^(17-w)` at the
    /// input scale after shifting, plus 1 for rounding.
    fn check_bound(w: u8, x: &[i16; 24]) {
        let mut out = [0u8; 49];
        let len = compress(w, x, &mut out).unwrap().len;
        let mut back = [0i32; 24];
        decompress(w, &out[..len], &mut back).unwrap();
        let shift = (out[0] & 0x0F) as u32;
        let step = (1i64 << (17 - w as u32)) >> shift;
        for (a, b) in x.iter().zip(&back) {
            let err = (*a as i64 - *b as i64).abs();
            assert!(err <= step + 1, "w={w} shift={shift} {a} -> {b}");
        }
    }

    #[test]
    fn round_trip_within_one_step() {
        let mut rng = Rng(5);
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
