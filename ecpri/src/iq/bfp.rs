//! Block floating point, udCompMeth 1 (O-RAN.WG4.CUS Annex A.1).
//!
//! Per PRB, with `w` = udIqWidth and [`Rounding::Truncate`], the spec:
//!
//! - `maxValue = max(max(x), |min(x)| - 1)`, so -32768 needs no more bits
//!   than 32767 does;
//! - `exponent = max(0, bitlen(maxValue) + 1 - w)`;
//! - mantissa = `x >> exponent`, an arithmetic shift, which truncates
//!   toward minus infinity;
//! - decompression is `mantissa << exponent`, into `i32` (exact for every
//!   exponent 0–15 and width 1–16).
//!
//! [`Rounding::Nearest`] sends the same format with mantissa
//! `round(x / 2^e)` (halves away from zero) at the smallest exponent `e`
//! for which every mantissa fits `w` bits. That is truncation's exponent,
//! one less (a negative extreme just below `-2^(w-1) · 2^e` rounds back
//! into range), or one more (a positive extreme that rounds up out of
//! range). The exponent is the smallest that fits in both modes, so a
//! value exactly representable at `w` bits is carried exactly by either.
//!
//! Samples beyond `i16` (an `i32` input) can need an exponent above 15: the
//! PRB is then sent at 15 with its mantissas saturated, and counted. So is
//! the one `i16` case, width 1 rounded to nearest, whose top needs 16.
//!
//! udCompParam is one byte: reserved (4 bits, sent as zero) and exponent
//! (4 bits). Reading masks the reserved nibble; [`crate::iq::convert`]
//! copies it from input to output.
//!
//! References differ on two points and this module follows the spec text:
//! xRAN (o-ran-sc fhi_lib) takes the exponent from `|x|` rather than
//! `|x| - 1` for negative `x`, which costs a bit when the PRB's extreme is
//! exactly `-2^k`; MATLAB's reference truncates toward zero (`fix`) where
//! fhi_lib and srsRAN shift (toward minus infinity), as `Truncate` does.
//!
//! [`compress`] and [`decompress`] pick a fast path when one exists (AVX2,
//! checked at run time with `std`, at compile time without) and agree bit
//! for bit with [`compress_scalar`] and [`decompress_scalar`], the
//! reference.

use super::{bitpack, check_compress, check_decompress, check_width, prb, prb_mut, Encoded, Rounding, Sample, SAMPLES_PER_PRB};
use crate::Result;

/// Bytes one PRB takes at width `w`: the exponent byte and 24 mantissas.
#[inline(always)]
pub(crate) const fn prb_len(w: u32) -> usize {
    3 * w as usize + 1
}

/// The largest exponent udCompParam can carry.
pub const MAX_EXPONENT: u32 = 15;

/// The BFP exponent of one PRB at `iq_width` bits (1–16) under `rounding`:
/// the smallest `e >= 0` whose mantissas all fit. Above 15 only for
/// samples beyond `i16` (or width 1 rounded to nearest); [`compress`] then
/// sends 15 and saturates.
pub fn exponent<S: Sample>(prb: &[S; SAMPLES_PER_PRB], iq_width: u8, rounding: Rounding) -> u8 {
    let (p, a) = extremes(prb);
    exponent_of(p, a, (iq_width as u32).clamp(1, 16), rounding) as u8
}

/// `(max(max x, 0), max(-min x, 0))` of a PRB, as `i64` so that
/// `-i32::MIN` fits.
#[inline(always)]
pub(crate) fn extremes<S: Sample>(prb: &[S; SAMPLES_PER_PRB]) -> (i64, i64) {
    // A plain loop rather than `Iterator::max`, which LLVM leaves scalar.
    let (mut max, mut min) = (0i32, 0i32);
    for &x in prb {
        max = max.max(x.to_i32());
        min = min.min(x.to_i32());
    }
    (max as i64, -(min as i64))
}

/// The exponent for a PRB whose largest sample is `p >= 0` and whose most
/// negative is `-a <= 0`, at width `w` (1–16); see [`exponent`].
#[inline]
pub(crate) fn exponent_of(p: i64, a: i64, w: u32, rounding: Rounding) -> u32 {
    // Truncation: x >> e fits iff max x < 2^(w-1+e) and min x >= -2^(w-1+e),
    // i.e. bitlen(maxValue) <= w - 1 + e (Annex A.1's formula).
    let max_value = p.max(a - 1) as u64;
    let truncate = (65 - max_value.leading_zeros()).saturating_sub(w);
    match rounding {
        Rounding::Truncate => truncate,
        Rounding::Nearest => {
            // Nearest's exponent is truncation's, one less or one more
            // (module docs), and fitting is monotonic in the exponent:
            // count the candidates that do not fit, without branches.
            let e = truncate.saturating_sub(1);
            let f0 = fits_nearest(p, a, w, e);
            let f1 = fits_nearest(p, a, w, e + 1);
            e + !f0 as u32 + (!f0 & !f1) as u32
        }
    }
}

/// [`exponent_of`] rounding to nearest, in closed form, for `p, a <=
/// 2^30` (any `m · 2^e` the wire carries): for `e >= 1`, `p` rounds into
/// range iff `p + 2^(e-1) < 2^(w-1+e)`, i.e. `2p < 2^e (2^w - 1)`, and `a`
/// iff `2a < 2^e (2^w + 1)`; so the least `e` is the larger `bitlen` of
/// `2p / (2^w - 1)` and `2a / (2^w + 1)` (integer division), which is 0
/// exactly when both fit unrounded. With `w` constant the divisions are
/// multiplications: the simd128 kernels take this one, a third of the
/// scalar work of trying truncation's neighbours.
#[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), test))]
#[inline(always)]
pub(crate) fn exponent_nearest(p: u32, a: u32, w: u32) -> u32 {
    let q = (2 * p) / ((1 << w) - 1) | (2 * a) / ((1 << w) + 1);
    32 - q.leading_zeros()
}

/// Whether `round(p / 2^e) <= 2^(w-1) - 1` and `round(-a / 2^e) >= -2^(w-1)`,
/// rounding halves away from zero.
#[inline(always)]
fn fits_nearest(p: i64, a: i64, w: u32, e: u32) -> bool {
    // (p + h) >> e <= 2^(w-1) - 1 and (a + h) >> e <= 2^(w-1), h = 2^e / 2.
    let h = (1i64 << e) >> 1;
    let top = 1i64 << (w - 1 + e);
    p + h < top && a + h < top + (1i64 << e)
}

/// `x / 2^e` quantised as `rounding` says (`e <= 15`).
#[inline(always)]
pub(crate) fn quantize(x: i32, e: u32, rounding: Rounding) -> i64 {
    match rounding {
        Rounding::Truncate => (x >> e) as i64,
        Rounding::Nearest => {
            let m = (x.unsigned_abs() as i64 + ((1i64 << e) >> 1)) >> e;
            if x < 0 {
                -m
            } else {
                m
            }
        }
    }
}

/// Compresses whole PRBs of `src` into `dst` at `iq_width` bits, using the
/// fastest path this machine has; returns the bytes written and the
/// samples saturated.
pub fn compress<S: Sample>(iq_width: u8, rounding: Rounding, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    let dst = &mut dst[..n * len];
    let (done, mut saturated) = match S::as_i16(src) {
        Some(x) => fast_compress(w, rounding, x, dst),
        None => (0, 0),
    };
    for i in done..n {
        saturated += compress_prb(w, rounding, prb(src, i), &mut dst[i * len..(i + 1) * len]);
    }
    Ok(Encoded { len: n * len, saturated })
}

/// Decompresses the whole PRBs of `src` at `iq_width` bits into `dst`,
/// using the fastest path this machine has; returns the PRB count.
pub fn decompress(iq_width: u8, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_decompress(src, dst, len)?;
    let done = fast_decompress(w, n, src, dst);
    for i in done..n {
        decompress_prb(w, &src[i * len..(i + 1) * len], prb_mut(dst, i));
    }
    Ok(n)
}

/// The scalar reference for [`compress`].
pub fn compress_scalar<S: Sample>(iq_width: u8, rounding: Rounding, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    let mut saturated = 0;
    for i in 0..n {
        saturated += compress_prb(w, rounding, prb(src, i), &mut dst[i * len..(i + 1) * len]);
    }
    Ok(Encoded { len: n * len, saturated })
}

/// The scalar reference for [`decompress`].
pub fn decompress_scalar(iq_width: u8, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_decompress(src, dst, len)?;
    for i in 0..n {
        decompress_prb(w, &src[i * len..(i + 1) * len], prb_mut(dst, i));
    }
    Ok(n)
}

/// Compresses one PRB into `out[..3w + 1]`, the exponent's reserved
/// nibble zero; returns the samples saturated.
#[inline]
pub(crate) fn compress_prb<S: Sample>(w: u32, rounding: Rounding, x: &[S; SAMPLES_PER_PRB], out: &mut [u8]) -> u32 {
    let (p, a) = extremes(x);
    let e = exponent_of(p, a, w, rounding).min(MAX_EXPONENT);
    out[0] = e as u8;
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let mut saturated = 0;
    let m = x.map(|v| {
        let m = quantize(v.to_i32(), e, rounding);
        let c = m.clamp(lo, hi);
        saturated += (c != m) as u32;
        c as i16
    });
    bitpack::pack(w, &m, &mut out[1..]);
    saturated
}

/// Decompresses one PRB from `inp[..3w + 1]`.
#[inline]
pub(crate) fn decompress_prb(w: u32, inp: &[u8], out: &mut [i32; SAMPLES_PER_PRB]) {
    let e = (inp[0] & 0x0F) as u32;
    let mut m = [0i16; SAMPLES_PER_PRB];
    bitpack::unpack(w, &inp[1..], &mut m);
    for (o, m) in out.iter_mut().zip(m) {
        // |m| <= 2^15 and e <= 15, so this is exact.
        *o = (m as i32) << e;
    }
}

/// Runs the fast compressor, if any, over a leading run of PRBs of
/// `dst` (exactly `n` PRBs long); returns how many it did and the samples
/// it saturated.
#[inline]
fn fast_compress(w: u32, rounding: Rounding, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2 and FMA.
        return unsafe { super::bfp_avx2::compress(w, rounding, src, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::compress(w, rounding, src, dst);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (w, rounding, src, dst);
        (0, 0)
    }
}

/// Runs the fast decompressor, if any, over a leading run of the `n`
/// PRBs of `src`; returns how many it did.
#[inline]
fn fast_decompress(w: u32, n: usize, src: &[u8], dst: &mut [i32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2.
        return unsafe { super::bfp_avx2::decompress(w, n, src, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::decompress(w, n, src, dst);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (w, n, src, dst);
        0
    }
}

#[cfg(test)]
mod tests;
