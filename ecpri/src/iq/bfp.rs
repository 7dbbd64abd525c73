//! Block floating point, udCompMeth 1 (O-RAN.WG4.CUS Annex A.1).
//!
//! Per PRB, with `w` = udIqWidth:
//!
//! - `maxValue = max(max(x), |min(x)| - 1)`, so -32768 needs no more bits
//!   than 32767 does;
//! - `exponent = max(0, bitlen(maxValue) + 1 - w)`;
//! - mantissa = `x >> exponent`, an arithmetic shift, which truncates
//!   toward minus infinity;
//! - decompression is `mantissa << exponent`.
//!
//! udCompParam is one byte: reserved (4 bits, sent as zero) and exponent
//! (4 bits). Reading masks the reserved nibble; [`crate::iq::convert`]
//! copies it from input to output.
//!
//! References differ on two points and this module follows the spec text:
//! xRAN (o-ran-sc fhi_lib) takes the exponent from `|x|` rather than
//! `|x| - 1` for negative `x`, which costs a bit when the PRB's extreme is
//! exactly `-2^k`; MATLAB's reference truncates toward zero (`fix`) where
//! fhi_lib and srsRAN shift (toward minus infinity), as here. An exponent
//! above `16 - w` on the wire makes `mantissa << exponent` overflow 16 bits;
//! the bits above 16 are dropped, as in a 16-bit datapath.
//!
//! [`compress`] and [`decompress`] pick a fast path when one exists (AVX2,
//! checked at run time with `std`, at compile time without; wasm32
//! simd128) and agree bit for bit with [`compress_scalar`] and
//! [`decompress_scalar`], the reference.

use super::{bitpack, check_compress, check_decompress, check_width, prb, prb_mut, SAMPLES_PER_PRB};
use crate::Result;

/// Bytes one PRB takes at width `w`: the exponent byte and 24 mantissas.
#[inline(always)]
pub(crate) const fn prb_len(w: u32) -> usize {
    3 * w as usize + 1
}

/// The BFP exponent of one PRB at `iq_width` bits (Annex A.1), 0 to 15.
///
/// Widths outside 1–16 are not meaningful; the result is then saturated
/// rather than a panic.
pub fn exponent(prb: &[i16; SAMPLES_PER_PRB], iq_width: u8) -> u8 {
    // A plain loop rather than `Iterator::max`, which LLVM leaves scalar.
    let (mut max, mut min) = (i16::MIN, i16::MAX);
    for &x in prb {
        max = max.max(x);
        min = min.min(x);
    }
    let max_value = (max as i32).max(-(min as i32) - 1);
    let bitlen = 32 - max_value.leading_zeros();
    (bitlen + 1).saturating_sub(iq_width as u32) as u8
}

/// Compresses whole PRBs of `src` into `dst` at `iq_width` bits, using the
/// fastest path this machine has; returns the bytes written.
pub fn compress(iq_width: u8, src: &[i16], dst: &mut [u8]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    let dst = &mut dst[..n * len];
    let done = fast_compress(w, src, dst);
    for i in done..n {
        compress_prb(w, prb(src, i), &mut dst[i * len..(i + 1) * len]);
    }
    Ok(n * len)
}

/// Decompresses the whole PRBs of `src` at `iq_width` bits into `dst`,
/// using the fastest path this machine has; returns the PRB count.
pub fn decompress(iq_width: u8, src: &[u8], dst: &mut [i16]) -> Result<usize> {
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
pub fn compress_scalar(iq_width: u8, src: &[i16], dst: &mut [u8]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_compress(src, dst, len)?;
    for i in 0..n {
        compress_prb(w, prb(src, i), &mut dst[i * len..(i + 1) * len]);
    }
    Ok(n * len)
}

/// The scalar reference for [`decompress`].
pub fn decompress_scalar(iq_width: u8, src: &[u8], dst: &mut [i16]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = prb_len(w);
    let n = check_decompress(src, dst, len)?;
    for i in 0..n {
        decompress_prb(w, &src[i * len..(i + 1) * len], prb_mut(dst, i));
    }
    Ok(n)
}

/// Compresses one PRB into `out[..3w + 1]`, the exponent's reserved
/// nibble zero.
#[inline]
pub(crate) fn compress_prb(w: u32, x: &[i16; SAMPLES_PER_PRB], out: &mut [u8]) {
    let e = exponent(x, w as u8);
    out[0] = e;
    let mut m = *x;
    for s in m.iter_mut() {
        *s >>= e;
    }
    bitpack::pack(w, &m, &mut out[1..]);
}

/// Decompresses one PRB from `inp[..3w + 1]`.
#[inline]
pub(crate) fn decompress_prb(w: u32, inp: &[u8], out: &mut [i16; SAMPLES_PER_PRB]) {
    let e = (inp[0] & 0x0F) as u32;
    bitpack::unpack(w, &inp[1..], out);
    for s in out.iter_mut() {
        // Wrapping, as documented above, for exponents too large for w.
        *s = ((*s as i32) << e) as i16;
    }
}

/// Runs the fast compressor, if any, over a leading run of PRBs of
/// `dst` (exactly `n` PRBs long); returns how many it did.
#[inline]
fn fast_compress(w: u32, src: &[i16], dst: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2.
        return unsafe { super::bfp_avx2::compress(w, src, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::compress(w, src, dst);
    #[allow(unreachable_code)]
    {
        let _ = (w, src, dst);
        0
    }
}

/// Runs the fast decompressor, if any, over a leading run of the `n`
/// PRBs of `src`; returns how many it did.
#[inline]
fn fast_decompress(w: u32, n: usize, src: &[u8], dst: &mut [i16]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2.
        return unsafe { super::bfp_avx2::decompress(w, n, src, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::decompress(w, n, src, dst);
    #[allow(unreachable_code)]
    {
        let _ = (w, n, src, dst);
        0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::iq::testutil::{extreme_prbs, Rng};
    use crate::Error;
    use proptest::prelude::*;

    fn one(w: u8, x: &[i16; 24]) -> std::vec::Vec<u8> {
        let mut out = std::vec![0u8; prb_len(w as u32)];
        assert_eq!(compress_scalar(w, x, &mut out), Ok(out.len()));
        out
    }

    #[test]
    fn known_answers() {
        // Zeros: exponent 0, all-zero mantissas, at every width.
        for w in 1..=16 {
            assert!(one(w, &[0; 24]).iter().all(|&b| b == 0));
        }

        // Full scale positive at width 9: maxValue 32767 has 15 bits, so
        // exponent 15 + 1 - 9 = 7 and every mantissa is 32767 >> 7 = 255
        // (0 1111 1111): the 9-byte group repeats 0x7F 0xBF 0xDF ...
        let out = one(9, &[i16::MAX; 24]);
        assert_eq!(out[0], 7);
        assert_eq!(out[1..10], [0x7F, 0xBF, 0xDF, 0xEF, 0xF7, 0xFB, 0xFD, 0xFE, 0xFF]);
        assert_eq!(out[1..10], out[10..19]);

        // -32768 alone: maxValue = 32768 - 1, the same 7; mantissa -256
        // (1 0000 0000) then zeros.
        let mut x = [0i16; 24];
        x[0] = i16::MIN;
        let out = one(9, &x);
        assert_eq!(out[0], 7);
        assert_eq!(out[1..3], [0x80, 0x00]);
        assert!(out[3..].iter().all(|&b| b == 0));

        // Width 8, a PRB peaking at -256: maxValue 255 (8 bits), exponent 1;
        // -256 >> 1 = -128 = 0x80, 100 >> 1 = 50, -3 >> 1 = -2 (floor).
        let mut x = [0i16; 24];
        x[..3].copy_from_slice(&[-256, 100, -3]);
        let out = one(8, &x);
        assert_eq!(out[..4], [1, 0x80, 50, 0xFE]);

        // Width 16: exponent is always 0 and the body is big-endian.
        let mut x = [0i16; 24];
        x[..2].copy_from_slice(&[i16::MIN, 0x1234]);
        let out = one(16, &x);
        assert_eq!(out[..5], [0, 0x80, 0x00, 0x12, 0x34]);

        // Width 12, maxValue 4095 -> 12 bits -> exponent 1; 4095 >> 1 = 2047
        // = 0111 1111 1111, then -4096 >> 1 = -2048 = 1000 0000 0000.
        let mut x = [0i16; 24];
        x[..2].copy_from_slice(&[4095, -4096]);
        let out = one(12, &x);
        assert_eq!(out[..4], [1, 0x7F, 0xF8, 0x00]);
    }

    #[test]
    fn exponent_boundaries() {
        let mut x = [0i16; 24];
        x[5] = -256;
        assert_eq!(exponent(&x, 9), 0); // fits 9 bits exactly
        x[5] = -257;
        assert_eq!(exponent(&x, 9), 1);
        x[5] = 255;
        assert_eq!(exponent(&x, 9), 0);
        x[5] = 256;
        assert_eq!(exponent(&x, 9), 1);
        assert_eq!(exponent(&[i16::MIN; 24], 1), 15);
        assert_eq!(exponent(&[i16::MAX; 24], 16), 0);
        assert_eq!(exponent(&[0; 24], 0), 1);
    }

    #[test]
    fn reserved_nibble_is_masked() {
        let mut wire = one(9, &[i16::MAX; 24]);
        let mut clean = [0i16; 24];
        decompress_scalar(9, &wire, &mut clean).unwrap();
        wire[0] |= 0xA0;
        let mut dirty = [0i16; 24];
        decompress_scalar(9, &wire, &mut dirty).unwrap();
        assert_eq!(clean, dirty);
        decompress(9, &wire, &mut dirty).unwrap();
        assert_eq!(clean, dirty);
    }

    /// Compress and decompress agree with the scalar reference for `src`
    /// at width `w`, in output bytes and samples, at any offset into a
    /// larger buffer (so the fast path's tail handling is exercised).
    fn check_fast(w: u8, src: &[i16]) {
        let n = src.len() / 24;
        let len = prb_len(w as u32);
        let mut slow = std::vec![0u8; n * len];
        let mut fast = std::vec![0xAAu8; n * len + 64];
        compress_scalar(w, src, &mut slow).unwrap();
        assert_eq!(compress(w, src, &mut fast), Ok(n * len));
        assert_eq!(slow, fast[..n * len], "compress w={w} n={n}");
        assert!(fast[n * len..].iter().all(|&b| b == 0xAA), "wrote past the end, w={w}");

        // Random bytes as input too, so every exponent nibble and reserved
        // nibble is decoded.
        let mut wire = slow.clone();
        let mut rng = Rng(n as u64 * 31 + w as u64);
        if n > 1 {
            for b in wire[len..].iter_mut() {
                *b = rng.next() as u8;
            }
        }
        let mut a = std::vec![0i16; n * 24];
        let mut b = std::vec![0i16; n * 24];
        decompress_scalar(w, &wire, &mut a).unwrap();
        assert_eq!(decompress(w, &wire, &mut b), Ok(n));
        assert_eq!(a, b, "decompress w={w} n={n}");
    }

    #[test]
    fn fast_paths_match_reference_on_edges() {
        let edges: std::vec::Vec<i16> = extreme_prbs().into_iter().flatten().collect();
        for w in 1..=16 {
            check_fast(w, &edges);
            for n in 0..8 {
                check_fast(w, &edges[..n * 24]);
            }
        }
    }

    #[test]
    fn fast_paths_match_reference_on_random_symbols() {
        let mut rng = Rng(0x5EED);
        for w in 1..=16 {
            let src = rng.prbs(273);
            check_fast(w, &src);
        }
    }

    #[test]
    fn simd128_logic_matches_reference() {
        // The wasm kernel runs here on its portable stand-in.
        let mut rng = Rng(99);
        let mut src: std::vec::Vec<i16> = extreme_prbs().into_iter().flatten().collect();
        src.extend(rng.prbs(40));
        let n = src.len() / 24;
        for w in 1..=16u32 {
            let len = prb_len(w);
            let mut slow = std::vec![0u8; n * len];
            compress_scalar(w as u8, &src, &mut slow).unwrap();
            let mut fast = std::vec![0u8; n * len];
            let done = crate::iq::bfp_simd128::compress(w, &src, &mut fast);
            assert_eq!(slow[..done * len], fast[..done * len], "w={w}");
            assert!(done + 1 >= n);
            let mut a = std::vec![0i16; n * 24];
            let mut b = std::vec![0i16; n * 24];
            decompress_scalar(w as u8, &slow, &mut a).unwrap();
            let done = crate::iq::bfp_simd128::decompress(w, n, &slow, &mut b);
            assert_eq!(a[..done * 24], b[..done * 24], "w={w}");
        }
    }

    #[test]
    fn round_trip_error_is_below_one_step() {
        let mut rng = Rng(3);
        let src = rng.prbs(64);
        for w in 1..=16u8 {
            let mut wire = std::vec![0u8; 64 * prb_len(w as u32)];
            compress(w, &src, &mut wire).unwrap();
            let mut back = std::vec![0i16; 64 * 24];
            decompress(w, &wire, &mut back).unwrap();
            for (i, (a, b)) in src.iter().zip(&back).enumerate() {
                let e = wire[(i / 24) * prb_len(w as u32)] as i32;
                let err = *a as i32 - *b as i32;
                assert!((0..1 << e).contains(&err), "w={w} {a} -> {b} (exponent {e})");
            }
        }
    }

    #[test]
    fn errors() {
        let mut out = [0u8; 64];
        assert!(matches!(compress(0, &[0; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(compress(9, &[0; 24], &mut out[..27]), Err(Error::Truncated { needed: 28, .. })));
        assert!(matches!(decompress(17, &out, &mut [0; 24]), Err(Error::ReservedValue { .. })));
    }

    proptest! {
        #[test]
        fn fast_equals_reference(w in 1u8..=16, src in proptest::collection::vec(any::<i16>(), 0..24 * 12), shift in 0u32..16) {
            let n = src.len() / 24;
            let src: std::vec::Vec<i16> = src[..n * 24].iter().map(|&s| s >> shift).collect();
            check_fast(w, &src);
        }

        #[test]
        fn decompress_never_panics(w in 0u8..=20, src in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut out = [0i16; 24 * 8];
            let _ = decompress(w, &src, &mut out);
        }
    }
}
