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
//!    Truncation takes a short form (step 2'): `mullo` by `2^max(-r, 0)`,
//!    then `srlv_epi32` by `max(r, 0)`; bits `[0, w)` of each 16-bit half
//!    are then `v >> r` in two's complement, since `r + w = bitlen + 1 <=
//!    16` when `r > 0`, so the bits the logical shift drags in from the
//!    neighbouring sample lie above `w`. Five times faster than step 2 at
//!    12 -> 8 and 9 -> 12.
//!
//! The exponent work is per PRB on values broadcast in 32-bit elements, so
//! four pairs share one pass (eight PRBs, one per element) while four fit;
//! the rest go a pair at a time. A group whose exponent would exceed 15
//! needs saturation and goes to the scalar reference (rare: only samples
//! beyond the `i16` range, or width 1 rounded to nearest).

use core::arch::x86_64::*;

use super::{byte0, load2, load_prb_pair, pack_kind, pack_m, pipelined, store_pair, unpack, unpack_kind, with_param, Pack, Unpack};
use super::{EVEN, ODD, THREE_BYTES, TWO_BYTES, U15, U16, W15, W16};
use crate::iq::bfp::{compress_prb, prb_len, MAX_EXPONENT};
use crate::iq::convert::recompress_prb;
use crate::iq::{prb, Rounding};

/// One step's work between its two halves: the values, each lane's
/// multipliers (`mullo` by `2^s`, `mulhi_epu16` by `2^(16-r)`, the bias;
/// or, in step 2', `mullo` by `l` and the 32-bit shift count `c`),
/// and the output udCompParam in byte 0 of each lane; `vector` is false
/// when a lane needs an exponent above 15 (the scalar reference does it).
#[derive(Clone, Copy)]
struct Step {
    v: [__m256i; 3],
    l: __m256i,
    h: __m256i,
    b: __m256i,
    c: __m256i,
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

/// The lane maximum `P` and `~min` (= -min - 1) of `v` as 32-bit values,
/// `[P, P, ~min, ~min]` in each lane: fold 8 to 4 each, join them, fold
/// the rest together.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce(v: &[__m256i; 3]) -> __m256i {
    let mx = _mm256_max_epi16(v[0], _mm256_max_epi16(v[1], v[2]));
    let nm = _mm256_xor_si256(_mm256_min_epi16(v[0], _mm256_min_epi16(v[1], v[2])), _mm256_set1_epi32(-1));
    let mx = _mm256_max_epi16(mx, _mm256_shuffle_epi32::<0x4E>(mx));
    let nm = _mm256_max_epi16(nm, _mm256_shuffle_epi32::<0x4E>(nm));
    let y = _mm256_unpacklo_epi64(mx, nm);
    let y = _mm256_max_epi16(y, _mm256_shuffle_epi32::<0xB1>(y));
    let swap16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    _mm256_srai_epi32::<16>(_mm256_max_epi16(y, _mm256_shuffle_epi8(y, swap16)))
}

/// The per-PRB exponent work, one PRB per 32-bit element: from its
/// maximum `p`, `~min` `nm`, and its input udCompParam byte `param`, the
/// shift multipliers `[l, h, b, 0]` (module docs, step 2; in both 16-bit
/// halves), or with `S` (truncation only) `[l, 0, 0, c]` (step 2'), the
/// output udCompParam and whether every exponent is at most 15.
#[inline]
#[target_feature(enable = "avx2")]
fn exponents<const NEAREST: bool, const S: bool>(p: __m256i, nm: __m256i, param: __m256i, w: u32) -> ([__m256i; 4], __m256i, bool) {
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
    let e_in = _mm256_and_si256(param, _mm256_set1_epi32(0x0F));
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
    let r = _mm256_sub_epi32(e, e_in);
    let param = _mm256_or_si256(_mm256_and_si256(param, _mm256_set1_epi32(0xF0)), e);
    if S {
        // Truncation's short form (module docs, step 2'): the multiplier
        // 2^max(-r, 0) and the shift max(r, 0).
        let l = pow2x2(_mm256_max_epi32(_mm256_sub_epi32(zero, r), zero));
        return ([l, zero, zero, _mm256_max_epi32(r, zero)], param, vector);
    }
    // Multipliers for r = e - e_in (module docs, step 2).
    let l = pow2x2(_mm256_sub_epi32(zero, r));
    let h = _mm256_and_si256(pow2x2(_mm256_sub_epi32(_mm256_set1_epi32(16), r)), _mm256_cmpgt_epi32(r, zero));
    let b = if NEAREST {
        pow2x2(_mm256_sub_epi32(r, one))
    } else {
        _mm256_sub_epi32(pow2x2(_mm256_max_epi32(r, zero)), _mm256_set1_epi32(0x0001_0001))
    };
    ([l, h, b, zero], param, vector)
}

/// The udCompParam byte at byte 0 of each lane of `param`, in every 32-bit
/// element of the lane.
#[inline]
#[target_feature(enable = "avx2")]
fn param_bytes(param: __m256i) -> __m256i {
    _mm256_shuffle_epi8(param, _mm256_set1_epi32(0x8080_8000u32 as i32))
}

/// The first half of a step for one pair: `v` with input udCompParam bytes
/// `param` (one per 32-bit element, the lane's; zero when compressing).
#[inline]
#[target_feature(enable = "avx2")]
fn front<const NEAREST: bool, const S: bool>(v: [__m256i; 3], param: __m256i, w: u32) -> Step {
    let y = reduce(&v);
    let ([l, h, b, c], param, vector) = exponents::<NEAREST, S>(_mm256_shuffle_epi32::<0x00>(y), _mm256_shuffle_epi32::<0xAA>(y), param, w);
    Step { v, l, h, b, c, param: byte0(param, 0xFF), vector }
}

/// The exponent work of four pairs at once (PRBs 0, 2, 4, 6 in lane 0 and
/// 1, 3, 5, 7 in lane 1) from their [`reduce`]d values and input
/// udCompParam bytes: as [`exponents`], pair k's values in element k of
/// each lane.
#[inline]
#[target_feature(enable = "avx2")]
fn exponents4<const NEAREST: bool, const S: bool>(y: [__m256i; 4], param: [__m256i; 4], w: u32) -> ([__m256i; 4], __m256i, bool) {
    let (lo01, lo23) = (_mm256_unpacklo_epi32(y[0], y[1]), _mm256_unpacklo_epi32(y[2], y[3]));
    let (hi01, hi23) = (_mm256_unpackhi_epi32(y[0], y[1]), _mm256_unpackhi_epi32(y[2], y[3]));
    let (p, nm) = (_mm256_unpacklo_epi64(lo01, lo23), _mm256_unpacklo_epi64(hi01, hi23));
    let pr = _mm256_unpacklo_epi64(_mm256_unpacklo_epi32(param[0], param[1]), _mm256_unpacklo_epi32(param[2], param[3]));
    exponents::<NEAREST, S>(p, nm, pr, w)
}

/// Element `K` of each lane of `x` in every element of the lane.
#[inline]
#[target_feature(enable = "avx2")]
fn element<const K: usize>(x: __m256i) -> __m256i {
    match K {
        0 => _mm256_shuffle_epi32::<0x00>(x),
        1 => _mm256_shuffle_epi32::<0x55>(x),
        2 => _mm256_shuffle_epi32::<0xAA>(x),
        _ => _mm256_shuffle_epi32::<0xFF>(x),
    }
}

/// One group of each lane shifted into mantissas (module docs, step 2).
#[inline]
#[target_feature(enable = "avx2")]
fn requant<const NEAREST: bool, const S: bool>(v: __m256i, st: &Step) -> __m256i {
    let (l, h, b) = (st.l, st.h, st.b);
    if S {
        // Step 2' (truncation only): bits [r, r + w) of v · 2^max(-r, 0).
        return _mm256_srlv_epi32(_mm256_mullo_epi16(v, l), st.c);
    }
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
unsafe fn back<const K: u8, const NEAREST: bool, const S: bool>(st: &Step, p: &Pack, out: *mut u8, w: usize) {
    let mut r = st.v.map(|v| pack_m::<K>(requant::<NEAREST, S>(v, st), p));
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
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let rounding = if NEAREST { Rounding::Nearest } else { Rounding::Truncate };
    drive::<K, NEAREST, false>(
        |i| i + 2 <= n && (i + 2) * len + 16 - wb <= dst_len,
        |i| {
            let s = src[24 * i..24 * (i + 2)].as_ptr();
            // SAFETY: `s` points at 48 samples (two PRBs); the six 16-byte
            // reads are at samples 0, 8, 16, 24, 32 and 40.
            let x = unsafe { [load2(s, s.add(24)), load2(s.add(8), s.add(32)), load2(s.add(16), s.add(40))] };
            (x, _mm256_setzero_si256())
        },
        &Pack::new(w),
        (out, len, w),
        |j| {
            // SAFETY: PRB j < n lies within `dst`, which `out` points at;
            // no other reference to it is alive.
            let o = unsafe { core::slice::from_raw_parts_mut(out.add(j * len), len) };
            compress_prb(w, rounding, prb(src, j), o)
        },
    )
}

/// Runs the kernel over pairs of PRBs: four pairs at a time while they
/// fit, then one at a time ([`pipelined`]), the scalar reference for any
/// group with an exponent above 15. `fits(i)`: pair i may be read and
/// written; `load(i)`: its values and input udCompParam bytes;
/// `(out, len, w)`: the output, its PRB length and width; `scalar(j)`:
/// the reference for PRB j, returning the samples it saturated. Returns
/// the PRBs done and the samples saturated.
#[inline]
#[target_feature(enable = "avx2")]
fn drive<const K: u8, const NEAREST: bool, const S: bool>(
    fits: impl Fn(usize) -> bool,
    load: impl Fn(usize) -> ([__m256i; 3], __m256i),
    p: &Pack,
    (out, len, w): (*mut u8, usize, u32),
    mut scalar: impl FnMut(usize) -> u32,
) -> (usize, u32) {
    let wb = w as usize;
    let mut saturated = 0;
    let mut i = 0;
    while fits(i + 6) {
        let ld = [load(i), load(i + 2), load(i + 4), load(i + 6)];
        let ([l, h, b, c], param, vector) = exponents4::<NEAREST, S>(ld.map(|l| reduce(&l.0)), ld.map(|l| l.1), w);
        if vector {
            macro_rules! pair {
                ($k:literal) => {
                    let st = Step {
                        v: ld[$k].0,
                        l: element::<$k>(l),
                        h: element::<$k>(h),
                        b: element::<$k>(b),
                        c: element::<$k>(c),
                        param: byte0(element::<$k>(param), 0xFF),
                        vector,
                    };
                    // SAFETY: pair i + 2k fits, so the end of its writes,
                    // (i + 2k + 2) * len + 16 - w, is within the output.
                    unsafe { back::<K, NEAREST, S>(&st, p, out.wrapping_add((i + 2 * $k) * len), wb) };
                };
            }
            pair!(0);
            pair!(1);
            pair!(2);
            pair!(3);
        } else {
            for j in i..i + 8 {
                saturated += scalar(j);
            }
        }
        i += 8;
    }
    let rest = pipelined(
        |j| fits(i + j),
        |j| {
            let (v, param) = load(i + j);
            front::<NEAREST, S>(v, param, w)
        },
        |j, st| {
            if st.vector {
                // SAFETY: as above, for pair i + j.
                unsafe { back::<K, NEAREST, S>(&st, p, out.wrapping_add((i + j) * len), wb) };
            } else {
                for m in i + j..i + j + 2 {
                    saturated += scalar(m);
                }
            }
        },
    );
    (i + rest, saturated)
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
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let rounding = if NEAREST { Rounding::Nearest } else { Rounding::Truncate };
    let fits = |i| i + 2 <= n && (i + 1) * la + 2 * wa + 17 <= src.len() && (i + 2) * lb + 16 - wb <= dst_len;
    let load = |i| {
        // SAFETY: pair i fits, so its reads end at (i+1)*la + 2a + 17,
        // inside `src`.
        let (param, g) = unsafe { load_prb_pair(src.as_ptr().add(i * la), la, wa) };
        (g.map(|g| unpack::<U>(g, &u)), param_bytes(param))
    };
    let scalar = |j| {
        // SAFETY: PRB j < n lies within `dst`, which `out` points at; no
        // other reference to it is alive.
        let o = unsafe { core::slice::from_raw_parts_mut(out.add(j * lb), lb) };
        scalar_prb(a, &src[j * la..(j + 1) * la], b, rounding, o)
    };
    // Truncation takes the short form of step 2. Rounding to nearest keeps
    // the long one: a short form for it (bias and sign fix-up before the
    // shift, exact below 16-bit input) measured 4x slower at 9 -> 12.
    if NEAREST {
        drive::<K, NEAREST, false>(fits, load, &Pack::new(b), (out, lb, b), scalar)
    } else {
        drive::<K, NEAREST, true>(fits, load, &Pack::new(b), (out, lb, b), scalar)
    }
}

/// The scalar reference for one PRB, kept out of line: it is the rare
/// case, and inlined it crowds the vector loop.
#[cold]
#[inline(never)]
fn scalar_prb(a: u32, inp: &[u8], b: u32, rounding: Rounding, out: &mut [u8]) -> u32 {
    recompress_prb(a, inp, b, rounding, out)
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
            let param = param_bytes(_mm256_setr_epi32(0xA2, 0, 0, 0, 0x09, 0, 0, 0));
            let z = _mm256_setzero_si256();
            for nearest in [true, false] {
                let st = if nearest { front::<true, false>([v0, z, z], param, 9) } else { front::<false, false>([v0, z, z], param, 9) };
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
