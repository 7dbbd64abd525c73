//! AVX2 BFP re-quantisation in the exponent domain: compression rounded to
//! nearest, and the fused re-compression in both rounding modes, bit for
//! bit the scalar reference (`bfp::compress_prb`, `convert::recompress_prb`).
//!
//! Each step takes two PRBs (one per 128-bit lane) as 16-bit values `v`
//! at exponent `e_in`: the samples at exponent 0 when compressing, the
//! unpacked mantissas and their udCompParam exponent when re-compressing.
//! Since `x = v · 2^e_in` exactly:
//! 1. the lane's largest `v` and `-min(v) - 1`, reduced and broadcast in
//!    32-bit elements, give truncation's exponent `bitlen(maxValue) + e_in
//!    + 1 - w` (the f32 exponent field of `2·maxValue + 1`; 0 for an
//!    all-zero PRB), and rounding to nearest moves it one up or down by
//!    the same conditions as `bfp::exponent_of`, in units of the input
//!    mantissa; all in vector registers, for both lanes at once;
//! 2. each mantissa is `v` shifted by `s = e_in - e`: left with a 16-bit
//!    multiply by `2^s` (exact: the result fits), right by `r = -s` as
//!    `sign(v) · ((|v| + bias) >> r)` in unsigned 16 bits, the shift a
//!    `mulhi_epu16` by `2^(16-r)`. Rounding to nearest (half away from
//!    zero) has bias `2^(r-1)`; truncation (`v >> r`, toward minus
//!    infinity) has bias `2^r - 1` for negative `v` and 0 otherwise.
//!    `|v| + bias < 2^16` always, as `|v| <= 2^15`.
//!
//! A PRB whose exponent would exceed 15 needs saturation: that step goes
//! to the scalar reference (rare: only samples beyond the `i16` range, or
//! width 1 rounded to nearest).

use core::arch::x86_64::*;

use super::{byte0, load2, load_prb_pair, pack_kind, pack_m, pipelined, store_pair, unpack, unpack_kind, with_param, Pack, Unpack};
use super::{EVEN, ODD, THREE_BYTES, TWO_BYTES, U15, U16, W15, W16};
use crate::iq::bfp::{compress_prb, prb_len, MAX_EXPONENT};
use crate::iq::convert::recompress_prb;
use crate::iq::{prb, Rounding};

/// One step's work between its two halves: the values, each lane's
/// multipliers (`mullo` by `2^s`, `mulhi_epu16` by `2^(16-r)`, the bias),
/// and the output udCompParam in byte 0 of each lane; `vector` is false
/// when a lane needs an exponent above 15 (the scalar reference does it).
#[derive(Clone, Copy)]
struct Step {
    v: [__m256i; 3],
    l: __m256i,
    h: __m256i,
    b: __m256i,
    param: __m256i,
    vector: bool,
}

/// `2^c` in both 16-bit halves of each 32-bit element (0 for c > 15, as
/// `sllv` gives 0 for counts of 32 and more and the halves overflow
/// otherwise only above 15).
#[inline]
#[target_feature(enable = "avx2")]
fn pow2x2(c: __m256i) -> __m256i {
    _mm256_sllv_epi32(_mm256_set1_epi32(0x0001_0001), c)
}

/// The first half of a step: the output exponent of each lane of `v` (at
/// exponents `e_in`, one per 32-bit element of the lane) and the shift
/// multipliers; `param` holds the input udCompParam whose reserved nibble
/// is kept (zero when compressing).
#[inline]
#[target_feature(enable = "avx2")]
fn front<const NEAREST: bool>(v: [__m256i; 3], e_in: __m256i, param: __m256i, w: u32) -> Step {
    // Lane maximum P and ~minimum (-min - 1), broadcast to every 32-bit
    // element: fold 8 to 4 each, join them, fold the rest together.
    let mx = _mm256_max_epi16(v[0], _mm256_max_epi16(v[1], v[2]));
    let nm = _mm256_xor_si256(_mm256_min_epi16(v[0], _mm256_min_epi16(v[1], v[2])), _mm256_set1_epi32(-1));
    let mx = _mm256_max_epi16(mx, _mm256_shuffle_epi32::<0x4E>(mx));
    let nm = _mm256_max_epi16(nm, _mm256_shuffle_epi32::<0x4E>(nm));
    let y = _mm256_unpacklo_epi64(mx, nm);
    let y = _mm256_max_epi16(y, _mm256_shuffle_epi32::<0xB1>(y));
    let swap16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    let y = _mm256_srai_epi32::<16>(_mm256_max_epi16(y, _mm256_shuffle_epi8(y, swap16)));
    let (p, nm) = (_mm256_shuffle_epi32::<0x00>(y), _mm256_shuffle_epi32::<0xAA>(y));
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
    // Truncation's exponent: bitlen(maxValue) + e_in + 1 - w, from the f32
    // exponent field of 2·maxValue + 1 (bitlen + 127, exact below 2^24),
    // and 0 for an all-zero PRB (the only case bitlen(x) is not
    // bitlen(maxValue of the mantissas) + e_in).
    let mv = _mm256_max_epi32(p, nm);
    let field = _mm256_srli_epi32::<23>(_mm256_castps_si256(_mm256_cvtepi32_ps(_mm256_or_si256(_mm256_add_epi32(mv, mv), one))));
    let e = _mm256_max_epi32(_mm256_sub_epi32(_mm256_add_epi32(field, e_in), _mm256_set1_epi32(126 + w as i32)), zero);
    let all_zero = _mm256_and_si256(_mm256_cmpeq_epi32(p, zero), _mm256_cmpeq_epi32(nm, _mm256_set1_epi32(-1)));
    let mut e = _mm256_andnot_si256(all_zero, e);
    if NEAREST {
        // In units of the input mantissa (r = e - e_in): one more when the
        // maximum rounds up out of range at r >= 1; one less when both
        // extremes fit rounded at r - 1 >= 1 (below that, rounding is exact
        // and truncation's minimality rules it out).
        let pp = _mm256_max_epi32(p, zero);
        let a = _mm256_max_epi32(_mm256_add_epi32(nm, one), zero);
        let r = _mm256_sub_epi32(e, e_in);
        // h1 = 2^(r-1) (0 for r < 1) and top1 = 2^(w-1+r) at e; h2, top2
        // the same one exponent lower.
        let h1 = _mm256_sllv_epi32(one, _mm256_sub_epi32(r, one));
        let top1 = _mm256_sll_epi32(h1, _mm_cvtsi32_si128(w as i32));
        let (h2, top2) = (_mm256_srli_epi32::<1>(h1), _mm256_srli_epi32::<1>(top1));
        let up = _mm256_and_si256(_mm256_cmpgt_epi32(h1, zero), _mm256_cmpgt_epi32(_mm256_add_epi32(pp, h1), _mm256_sub_epi32(top1, one)));
        let down = _mm256_and_si256(
            _mm256_and_si256(_mm256_cmpgt_epi32(h2, zero), _mm256_cmpgt_epi32(top2, _mm256_add_epi32(pp, h2))),
            _mm256_cmpgt_epi32(_mm256_add_epi32(top2, h1), _mm256_add_epi32(a, h2)),
        );
        e = _mm256_add_epi32(_mm256_sub_epi32(e, up), down);
    }
    let vector = _mm256_movemask_epi8(_mm256_cmpgt_epi32(e, _mm256_set1_epi32(MAX_EXPONENT as i32))) == 0;
    // Multipliers for r = e - e_in (module docs, step 2).
    let r = _mm256_sub_epi32(e, e_in);
    let l = pow2x2(_mm256_sub_epi32(zero, r));
    let h = _mm256_and_si256(pow2x2(_mm256_sub_epi32(_mm256_set1_epi32(16), r)), _mm256_cmpgt_epi32(r, zero));
    let b = if NEAREST {
        pow2x2(_mm256_sub_epi32(r, one))
    } else {
        _mm256_sub_epi32(pow2x2(_mm256_max_epi32(r, zero)), _mm256_set1_epi32(0x0001_0001))
    };
    let param = _mm256_or_si256(byte0(param, 0xF0), byte0(e, 0xFF));
    Step { v, l, h, b, param, vector }
}

/// One group of each lane shifted into mantissas (module docs, step 2).
#[inline]
#[target_feature(enable = "avx2")]
fn requant<const NEAREST: bool>(v: __m256i, l: __m256i, h: __m256i, b: __m256i) -> __m256i {
    let u = _mm256_abs_epi16(v);
    let bias = if NEAREST { b } else { _mm256_and_si256(b, _mm256_srai_epi16::<15>(v)) };
    let q = _mm256_or_si256(_mm256_mullo_epi16(u, l), _mm256_mulhi_epu16(_mm256_add_epi16(u, bias), h));
    _mm256_sign_epi16(q, v)
}

/// The second half of a vector step: shifts, packs and writes both PRBs
/// at `out` (width `w`).
///
/// # Safety
/// `out` must be valid for writes of `2 * (3w + 1) + 16 - w` bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn back<const K: u8, const NEAREST: bool>(st: &Step, p: &Pack, out: *mut u8, w: usize) {
    let mut r = st.v.map(|v| pack_m::<K>(requant::<NEAREST>(v, st.l, st.h, st.b), p));
    // SAFETY (both): forwarded from the caller.
    if K == W16 {
        let (c0, c1) = (_mm256_cvtsi256_si32(st.param) as u8, _mm256_extract_epi32::<4>(st.param) as u8);
        unsafe { store_pair::<false>(out, w, &r, c0, c1) };
    } else {
        r[0] = with_param(r[0], st.param);
        unsafe { store_pair::<true>(out, w, &r, 0, 0) };
    }
}

/// Compresses a leading run of the PRBs of `src` into `dst` (exactly n
/// PRBs of `3w + 1` bytes), rounding to nearest if `NEAREST`; returns how
/// many PRBs it did and the samples saturated.
#[target_feature(enable = "avx2")]
pub(in crate::iq) fn compress<const NEAREST: bool>(w: u32, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    match pack_kind(w) {
        W16 => compress_k::<W16, NEAREST>(w, src, dst),
        W15 => compress_k::<W15, NEAREST>(w, src, dst),
        ODD => compress_k::<ODD, NEAREST>(w, src, dst),
        _ => compress_k::<EVEN, NEAREST>(w, src, dst),
    }
}

#[target_feature(enable = "avx2")]
fn compress_k<const K: u8, const NEAREST: bool>(w: u32, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    let (len, wb) = (prb_len(w), w as usize);
    let n = (src.len() / 24).min(dst.len() / len);
    let p = Pack::new(w);
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let rounding = if NEAREST { Rounding::Nearest } else { Rounding::Truncate };
    let mut saturated = 0;
    let done = pipelined(
        |i| i + 2 <= n && (i + 2) * len + 16 - wb <= dst_len,
        |i| {
            let s = src[24 * i..24 * (i + 2)].as_ptr();
            // SAFETY: `s` points at 48 samples (two PRBs); the six 16-byte
            // reads are at samples 0, 8, 16, 24, 32 and 40.
            let x = unsafe { [load2(s, s.add(24)), load2(s.add(8), s.add(32)), load2(s.add(16), s.add(40))] };
            front::<NEAREST>(x, _mm256_setzero_si256(), _mm256_setzero_si256(), w)
        },
        |i, st| {
            if st.vector {
                // SAFETY: pair i fits, so the end of the writes,
                // i * len + 2 * len + 16 - w, is within `dst`.
                unsafe { back::<K, NEAREST>(&st, &p, out.wrapping_add(i * len), wb) };
            } else {
                for j in i..i + 2 {
                    // SAFETY: PRB j < n lies within `dst`, which `out`
                    // points at; no other reference to it is alive.
                    let o = unsafe { core::slice::from_raw_parts_mut(out.add(j * len), len) };
                    saturated += compress_prb(w, rounding, prb(src, j), o);
                }
            }
        },
    );
    (done, saturated)
}

/// Re-compresses a leading run of the first `n` BFP PRBs of `src` at width
/// `a` into `dst` (exactly n PRBs at width `b`), as the scalar reference
/// does, copying each udCompParam's reserved nibble. Returns how many PRBs
/// it did and the samples saturated.
#[target_feature(enable = "avx2")]
pub(in crate::iq) fn recompress(a: u32, n: usize, src: &[u8], b: u32, rounding: Rounding, dst: &mut [u8]) -> (usize, u32) {
    macro_rules! by_pack {
        ($u:ident, $r:literal) => {
            match pack_kind(b) {
                W16 => recompress_k::<$u, W16, $r>(a, n, src, b, dst),
                W15 => recompress_k::<$u, W15, $r>(a, n, src, b, dst),
                ODD => recompress_k::<$u, ODD, $r>(a, n, src, b, dst),
                _ => recompress_k::<$u, EVEN, $r>(a, n, src, b, dst),
            }
        };
    }
    macro_rules! by_unpack {
        ($r:literal) => {
            match unpack_kind(a) {
                U16 => by_pack!(U16, $r),
                U15 => by_pack!(U15, $r),
                THREE_BYTES => by_pack!(THREE_BYTES, $r),
                _ => by_pack!(TWO_BYTES, $r),
            }
        };
    }
    match rounding {
        Rounding::Nearest => by_unpack!(true),
        Rounding::Truncate => by_unpack!(false),
    }
}

#[target_feature(enable = "avx2")]
fn recompress_k<const U: u8, const K: u8, const NEAREST: bool>(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> (usize, u32) {
    let (la, wa) = (prb_len(a), a as usize);
    let (lb, wb) = (prb_len(b), b as usize);
    let n = n.min(dst.len() / lb);
    let u = Unpack::new(a);
    let p = Pack::new(b);
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let rounding = if NEAREST { Rounding::Nearest } else { Rounding::Truncate };
    let mut saturated = 0;
    let done = pipelined(
        |i| i + 2 <= n && (i + 1) * la + 2 * wa + 17 <= src.len() && (i + 2) * lb + 16 - wb <= dst_len,
        |i| {
            // SAFETY: pair i fits, so its reads end at (i+1)*la + 2a + 17,
            // inside `src`.
            let (param, g) = unsafe { load_prb_pair(src.as_ptr().add(i * la), la, wa) };
            // The exponent nibble of byte 0 of each lane, in every 32-bit element.
            let e_in = _mm256_and_si256(_mm256_shuffle_epi8(param, _mm256_set1_epi32(0x8080_8000u32 as i32)), _mm256_set1_epi32(0x0F));
            front::<NEAREST>(g.map(|g| unpack::<U>(g, &u)), e_in, param, b)
        },
        |i, st| {
            if st.vector {
                // SAFETY: pair i fits, so the end of the writes,
                // i*lb + 2*lb + 16 - b, is within `dst`.
                unsafe { back::<K, NEAREST>(&st, &p, out.wrapping_add(i * lb), wb) };
            } else {
                for j in i..i + 2 {
                    // SAFETY: PRB j < n lies within `dst`, which `out`
                    // points at; no other reference to it is alive.
                    let o = unsafe { core::slice::from_raw_parts_mut(out.add(j * lb), lb) };
                    saturated += recompress_prb(a, &src[j * la..(j + 1) * la], b, rounding, o);
                }
            }
        },
    );
    (done, saturated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_by_hand() {
        assert!(super::super::available(), "this x86_64 CPU has no AVX2");
        // Lane 0: 1000, -3000, 5 at exponent 2, reserved nibble 0xA; lane
        // 1: all zero at exponent 9. Output width 9. -3000 · 4 = -12000:
        // /2^5 = -375 does not fit 9 bits, /2^6 = -187.5 -> -188 does
        // (truncation: -187.5 -> -188 too), so exponent 6, a right shift
        // by 4; all zero: exponent 0.
        // SAFETY: AVX2 was checked above.
        unsafe {
            let v0 = _mm256_setr_epi16(1000, -3000, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            let e_in = _mm256_setr_epi32(2, 2, 2, 2, 9, 9, 9, 9);
            let param = _mm256_setr_epi32(0xA2, 0, 0, 0, 0x09, 0, 0, 0);
            let z = _mm256_setzero_si256();
            for nearest in [true, false] {
                let st = if nearest { front::<true>([v0, z, z], e_in, param, 9) } else { front::<false>([v0, z, z], e_in, param, 9) };
                assert!(st.vector);
                assert_eq!((_mm256_cvtsi256_si32(st.param), _mm256_extract_epi32::<4>(st.param)), (0xA6, 0));
                // r = 4: mulhi by 2^12, bias 8 (nearest) or 15 (truncating).
                assert_eq!(_mm256_cvtsi256_si32(st.h), 0x1000_1000);
                assert_eq!(_mm256_cvtsi256_si32(st.l), 0);
                assert_eq!(_mm256_cvtsi256_si32(st.b), if nearest { 0x0008_0008 } else { 0x000F_000F });
                // Lane 1: r = 0 - 9, a left shift by 9.
                assert_eq!(_mm256_extract_epi32::<4>(st.l), 0x0200_0200);
                assert_eq!((_mm256_extract_epi32::<4>(st.h), _mm256_extract_epi32::<4>(st.b)), (0, 0));
            }
        }
    }
}
