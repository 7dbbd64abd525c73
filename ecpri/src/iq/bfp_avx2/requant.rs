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
//!    all-zero PRB), and rounding to nearest's comes from the extremes
//!    (below), in units of the input mantissa; all in vector registers,
//!    for both lanes at once;
//! 2. each mantissa is `v` shifted right by `r = e - e_in` (left by
//!    `-r`), in one of two forms:
//!    - truncation (`v >> r`, toward minus infinity, [`TRUNC`]): `mullo`
//!      by `2^max(-r, 0)`, then `srlv_epi32` by `max(r, 0)`. Bits `[0, w)`
//!      of each 16-bit half are then `v >> r` in two's complement, since
//!      `r + w = bitlen + 1 <= 16` when `r > 0`, so the bits the logical
//!      shift drags in from the neighbouring sample lie above `w`;
//!    - rounding to nearest ([`RHRS`]: compression, and re-compression
//!      that narrows): `mulhrs_epi16(v, 2^(15-r))` is `floor((v +
//!      2^(r-1)) / 2^r)`, round half up; applied as `sign(mulhrs(v,
//!      sign(2^(15-r), v)), v)` it rounds `|v|` up and puts the sign back,
//!      which is half away from zero, exact for `v = -32768` too (the
//!      product never overflows). Three instructions where truncation has
//!      one shift; a bias added before the shift (`v + 2^(r-1) - [v <
//!      0]`, then `srlv`) takes four and measured 5-10 % slower. At `r =
//!      0` the multiplier is `2^15 - 1` instead, for which `mulhrs(u,
//!      2^15 - 1) = u + floor(1/2 - u/2^15) = u` for `0 <= u <= 2^14`: the
//!      mantissas fit `w <= 15` bits there (widening, `w = 16`, truncates:
//!      both modes are exact then). `r < 0` (a left shift, exact) takes
//!      `mullo` by `2^-r` first, as truncation does, then the same
//!      identity.
//!
//!    When every PRB of a step has `r >= 0`, the `mullo` is left out: the
//!    common case when narrowing, and always when compressing.
//!
//! Rounding to nearest's exponent comes straight from the extremes: with
//! `r >= 1`, `p = max(v)` rounds into range iff `p + 2^(r-1) < 2^(w-1+r)`,
//! i.e. `p < 2^(r-1) (2^w - 1)`, and `a = -min(v)` iff `a < 2^(r-1) (2^w +
//! 1)`; so the smallest such `r` is `bitlen(floor(y))` for `y =
//! max(2p / (2^w - 1), 2a / (2^w + 1))`, when `y >= 1` (otherwise
//! rounding is exact and truncation's exponent stands). `y` is computed in
//! `f32` with both scales raised by 2^-20: the integers on either side of a
//! power of two are at least 2^-17 apart relatively, far more than the
//! rounding of the products, so the exponent field of `y` is exact.
//!
//! Re-compression does the exponent work per PRB on values broadcast in
//! 32-bit elements, so four pairs share one pass (eight PRBs, one per
//! element) while four fit; the rest go a pair at a time. Compression
//! (`e_in = 0`, so `y < 1` means exponent 0 and truncation's exponent is
//! never needed) goes four pairs at a time, software-pipelined, their
//! exponents in one pass ([`oct_exponents`]: the kernels are bound by
//! vector ports 0 and 1 on Intel, and sharing the reduction's last steps
//! and the `f32` work took 1.47 to 1.18 times truncation's time at width
//! 8), then a pair at a time for the last few (batching four pairs
//! through the re-compression's `exponents4`, which broadcasts each
//! PRB's extremes first, measured 4-7 % slower at widths 12 and 14 on
//! AMD).
//! A group whose exponent would exceed 15 needs saturation and goes to the
//! scalar reference (rare: only samples beyond the `i16` range, or width 1
//! rounded to nearest).

use core::arch::x86_64::*;

use super::{byte0, load2, load_prb_pair, pack_kind, pack_m, pipelined, pipelined_by, store_pair, unpack, unpack_kind, with_param, Pack, Unpack};
use super::{EVEN, ODD, THREE_BYTES, TWO_BYTES, U15, U16, W15, W16};
use crate::iq::bfp::{compress_prb, prb_len, MAX_EXPONENT};
use crate::iq::convert::recompress_prb;
use crate::iq::{prb, Rounding};

/// Truncation, the first form of step 2 (module docs; the const
/// parameter `F`).
const TRUNC: u8 = 0;
/// Rounding to nearest with `mulhrs`, the second form of step 2.
const RHRS: u8 = 1;

/// Each PRB's step 2 constants, per 32-bit element (16-bit ones in both
/// halves): `l` the `mullo` multiplier, `h` the `mulhrs` one ([`RHRS`]),
/// `c` the `srlv` count ([`TRUNC`]).
#[derive(Clone, Copy)]
struct Shift {
    l: __m256i,
    h: __m256i,
    c: __m256i,
}

/// One step's work between its two halves: the values, each lane's
/// [`Shift`], and the output udCompParam in byte 0 of each lane; `vector`
/// is false when a lane needs an exponent above 15 (the scalar reference
/// does it), `fast` true when no lane shifts left (`mullo` left out).
#[derive(Clone, Copy)]
struct Step {
    v: [__m256i; 3],
    s: Shift,
    param: __m256i,
    vector: bool,
    fast: bool,
}

/// `2^c` in both 16-bit halves of each 32-bit element (0 for c > 15, as
/// `sllv` gives 0 for counts of 32 and more, negative ones included, and
/// the halves overflow otherwise only above 15).
#[inline]
#[target_feature(enable = "avx2")]
fn pow2x2(c: __m256i) -> __m256i {
    _mm256_sllv_epi32(_mm256_set1_epi32(0x0001_0001), c)
}

/// `mulhrs`'s multiplier for a right shift by `r` (0–15) in both 16-bit
/// halves: `2^(15-r)`, and `2^15 - 1` at `r = 0` (module docs).
#[inline]
#[target_feature(enable = "avx2")]
fn rhrs_multiplier(r: __m256i) -> __m256i {
    _mm256_min_epu16(pow2x2(_mm256_sub_epi32(_mm256_set1_epi32(15), r)), _mm256_set1_epi16(0x7FFF))
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

/// `2 / (2^w - 1)` and `2 / (2^w + 1)`, raised by 2^-20 (module docs).
#[inline]
fn nearest_scales(w: u32) -> (f32, f32) {
    let (t, up) = ((1u32 << w) as f64, 1.0 + 1.0 / (1u32 << 20) as f64);
    ((2.0 / (t - 1.0) * up) as f32, (2.0 / (t + 1.0) * up) as f32)
}

/// The per-PRB exponent work, one PRB per 32-bit element: from its
/// maximum `p`, `~min` `nm`, and its input udCompParam byte `param`, the
/// [`Shift`] of form `F`, the output udCompParam, whether every exponent
/// is at most 15, and whether no element shifts left.
#[inline]
#[target_feature(enable = "avx2")]
fn exponents<const F: u8>(p: __m256i, nm: __m256i, param: __m256i, w: u32) -> (Shift, __m256i, bool, bool) {
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
    let field = |x: __m256| _mm256_srli_epi32::<23>(_mm256_castps_si256(x));
    let e_in = _mm256_and_si256(param, _mm256_set1_epi32(0x0F));
    // Truncation's exponent: bitlen(maxValue) + e_in + 1 - w, from the f32
    // exponent field of 2·maxValue + 1 (bitlen + 127, exact below 2^24),
    // and 0 for an all-zero PRB (the only case bitlen(x) is not
    // bitlen(maxValue of the mantissas) + e_in).
    let mv = _mm256_max_epi32(p, nm);
    let ft = field(_mm256_cvtepi32_ps(_mm256_or_si256(_mm256_add_epi32(mv, mv), one)));
    let e = _mm256_max_epi32(_mm256_sub_epi32(_mm256_add_epi32(ft, e_in), _mm256_set1_epi32(126 + w as i32)), zero);
    let all_zero = _mm256_and_si256(_mm256_cmpeq_epi32(p, zero), _mm256_cmpeq_epi32(nm, _mm256_set1_epi32(-1)));
    let mut e = _mm256_andnot_si256(all_zero, e);
    if F != TRUNC {
        // r = bitlen(floor(y)) where y >= 1, i.e. where truncation's r >= 1
        // (module docs); y >= 0, as p < 0 only when a > 0.
        let (c1, c2) = nearest_scales(w);
        let yp = _mm256_mul_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(c1));
        let ya = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(nm, one)), _mm256_set1_ps(c2));
        let r = _mm256_sub_epi32(field(_mm256_max_ps(yp, ya)), _mm256_set1_epi32(126));
        e = _mm256_blendv_epi8(e, _mm256_add_epi32(e_in, r), _mm256_cmpgt_epi32(r, zero));
    }
    let vector = _mm256_movemask_epi8(_mm256_cmpgt_epi32(e, _mm256_set1_epi32(MAX_EXPONENT as i32))) == 0;
    let r = _mm256_sub_epi32(e, e_in);
    let param = _mm256_or_si256(_mm256_and_si256(param, _mm256_set1_epi32(0xF0)), e);
    let fast = _mm256_movemask_epi8(_mm256_cmpgt_epi32(zero, r)) == 0;
    let s = match F {
        TRUNC => Shift { l: pow2x2(_mm256_max_epi32(_mm256_sub_epi32(zero, r), zero)), h: zero, c: _mm256_max_epi32(r, zero) },
        _ => Shift { l: pow2x2(_mm256_max_epi32(_mm256_sub_epi32(zero, r), zero)), h: rhrs_multiplier(_mm256_max_epi32(r, zero)), c: zero },
    };
    (s, param, vector, fast)
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
fn front<const F: u8>(v: [__m256i; 3], param: __m256i, w: u32) -> Step {
    let y = reduce(&v);
    let (s, param, vector, fast) = exponents::<F>(_mm256_shuffle_epi32::<0x00>(y), _mm256_shuffle_epi32::<0xAA>(y), param, w);
    Step { v, s, param: byte0(param, 0xFF), vector, fast }
}

/// The exponent work of four pairs at once (PRBs 0, 2, 4, 6 in lane 0 and
/// 1, 3, 5, 7 in lane 1) from their [`reduce`]d values and input
/// udCompParam bytes: as [`exponents`], pair k's values in element k of
/// each lane.
#[inline]
#[target_feature(enable = "avx2")]
fn exponents4<const F: u8>(y: [__m256i; 4], param: [__m256i; 4], w: u32) -> (Shift, __m256i, bool, bool) {
    let (lo01, lo23) = (_mm256_unpacklo_epi32(y[0], y[1]), _mm256_unpacklo_epi32(y[2], y[3]));
    let (hi01, hi23) = (_mm256_unpackhi_epi32(y[0], y[1]), _mm256_unpackhi_epi32(y[2], y[3]));
    let (p, nm) = (_mm256_unpacklo_epi64(lo01, lo23), _mm256_unpacklo_epi64(hi01, hi23));
    let pr = _mm256_unpacklo_epi64(_mm256_unpacklo_epi32(param[0], param[1]), _mm256_unpacklo_epi32(param[2], param[3]));
    exponents::<F>(p, nm, pr, w)
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

/// Pair `K`'s step from four pairs' [`exponents4`] (unused fields are
/// left to dead-code elimination).
#[inline]
#[target_feature(enable = "avx2")]
fn pair_step<const K: usize>(v: [__m256i; 3], s: &Shift, param: __m256i, fast: bool) -> Step {
    let s = Shift { l: element::<K>(s.l), h: element::<K>(s.h), c: element::<K>(s.c) };
    Step { v, s, param: byte0(element::<K>(param), 0xFF), vector: true, fast }
}

/// One group of each lane shifted into mantissas (module docs, step 2),
/// without the `mullo` if `FAST`.
#[inline]
#[target_feature(enable = "avx2")]
fn requant<const F: u8, const FAST: bool>(v: __m256i, s: &Shift) -> __m256i {
    let t = if FAST { v } else { _mm256_mullo_epi16(v, s.l) };
    if F == TRUNC {
        _mm256_srlv_epi32(t, s.c)
    } else {
        _mm256_sign_epi16(_mm256_mulhrs_epi16(t, _mm256_sign_epi16(s.h, t)), t)
    }
}

/// The second half of a vector step: shifts, packs and writes both PRBs
/// at `out` (width `w`).
///
/// # Safety
/// `out` must be valid for writes of `2 * (3w + 1) + 16 - w` bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn back<const K: u8, const F: u8, const FAST: bool>(st: &Step, p: &Pack, out: *mut u8, w: usize) {
    let mut r = st.v.map(|v| pack_m::<K>(requant::<F, FAST>(v, &st.s), p));
    // SAFETY (both): forwarded from the caller.
    if K == W16 {
        let (c0, c1) = (_mm256_cvtsi256_si32(st.param) as u8, _mm256_extract_epi32::<4>(st.param) as u8);
        unsafe { store_pair::<false>(out, w, &r, c0, c1) };
    } else {
        r[0] = with_param(r[0], st.param);
        unsafe { store_pair::<true>(out, w, &r, 0, 0) };
    }
}

/// [`back`] with or without the `mullo`, as the step says.
///
/// # Safety
/// As [`back`].
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn back_any<const K: u8, const F: u8>(st: &Step, p: &Pack, out: *mut u8, w: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if st.fast {
            back::<K, F, true>(st, p, out, w)
        } else {
            back::<K, F, false>(st, p, out, w)
        }
    }
}

/// Compresses a leading run of the PRBs of `src` into `dst` (exactly n
/// PRBs of `3w + 1` bytes, `w <= 15`), rounding to nearest; returns how
/// many PRBs it did and the samples saturated.
#[target_feature(enable = "avx2,fma")]
pub(in crate::iq) fn compress_nearest(w: u32, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    match pack_kind(w) {
        W15 => compress_k::<W15, false>(w, src, dst),
        ODD if w == 1 => compress_k::<ODD, true>(w, src, dst),
        ODD => compress_k::<ODD, false>(w, src, dst),
        _ => compress_k::<EVEN, false>(w, src, dst),
    }
}

/// Rounding to nearest's exponent of each lane's PRB when compressing
/// (`e_in = 0`), in every 32-bit element of the lane, from [`reduce`]'s
/// `[P, P, ~min, ~min]`: `bitlen(floor(y))` (module docs), or 0 where `y <
/// 1` (the samples fit as they are). `pa` is `[0, 0, 1, 1]` (to make
/// `-min`), `scale` is `[c1, c1, c2, c2]` ([`nearest_scales`]).
#[inline]
#[target_feature(enable = "avx2")]
fn compress_exponent(y: __m256i, pa: __m256i, scale: __m256) -> __m256i {
    let f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(y, pa)), scale);
    let f = _mm256_max_ps(f, _mm256_castsi256_ps(_mm256_shuffle_epi32::<0x4E>(_mm256_castps_si256(f))));
    // max(0, field - 126) in one saturating 16-bit subtraction (the field
    // is below 256, the high halves 0).
    _mm256_subs_epu16(_mm256_srli_epi32::<23>(_mm256_castps_si256(f)), _mm256_set1_epi32(126))
}

/// Rounding to nearest's exponents and `mulhrs` multipliers of four
/// pairs `x[k]` (PRBs i + 2k and i + 2k + 1) at once, as
/// [`compress_exponent`] and [`rhrs_multiplier`] do for one: pair k's in
/// element k of each lane. Sharing the horizontal reduction's last steps
/// and the `f32` work between four pairs leaves 26 of the 33 port 0/1
/// operations a pair cost, the ports these kernels are bound by on Intel
/// cores (two pairs at a time: 27.5).
///
/// The reduction leaves each 16-bit extreme in a word; interleaved with
/// zeros it is the high half of a 32-bit element, times 2^16 (exact in
/// `f32`), and one FMA with the scales divided by 2^16 gives `p · c1`
/// and, from `~min = a − 1`, `a · c2` (the product is exact before the
/// FMA's one rounding, so both equal [`compress_exponent`]'s to the bit;
/// `a + 1` before the conversion would overflow at `min = -32768`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn oct_exponents(x: [&[__m256i; 3]; 4], scale: __m256, offset: __m256) -> (__m256i, __m256i) {
    let ones = _mm256_set1_epi32(-1);
    // [max x (4 words) | ~min x (4 words)] of each lane.
    let fold = |x: &[__m256i; 3]| {
        let mx = _mm256_max_epi16(x[0], _mm256_max_epi16(x[1], x[2]));
        let nm = _mm256_xor_si256(_mm256_min_epi16(x[0], _mm256_min_epi16(x[1], x[2])), ones);
        _mm256_max_epi16(_mm256_unpacklo_epi64(mx, nm), _mm256_unpackhi_epi64(mx, nm))
    };
    // Two words each of [j max, k max, j ~min, k ~min].
    let join = |fj: __m256i, fk: __m256i| {
        let (l, h) = (_mm256_unpacklo_epi32(fj, fk), _mm256_unpackhi_epi32(fj, fk));
        _mm256_max_epi16(_mm256_unpacklo_epi64(l, h), _mm256_unpackhi_epi64(l, h))
    };
    let (g01, g23) = (join(fold(x[0]), fold(x[1])), join(fold(x[2]), fold(x[3])));
    // Each such pair's first words, then its second words, and one max:
    // [0 max, 1 max, 0 ~min, 1 ~min, 2 max, 3 max, 2 ~min, 3 ~min].
    let split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    let (g01, g23) = (_mm256_shuffle_epi8(g01, split), _mm256_shuffle_epi8(g23, split));
    let z = _mm256_max_epi16(_mm256_unpacklo_epi64(g01, g23), _mm256_unpackhi_epi64(g01, g23));
    // Each word times 2^16 in a 32-bit element, to f32.
    let zero = _mm256_setzero_si256();
    let f01 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_unpacklo_epi16(zero, z)), scale, offset);
    let f23 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_unpackhi_epi16(zero, z)), scale, offset);
    let f = _mm256_max_ps(_mm256_shuffle_ps::<0x44>(f01, f23), _mm256_shuffle_ps::<0xEE>(f01, f23));
    let e = _mm256_subs_epu16(_mm256_srli_epi32::<23>(_mm256_castps_si256(f)), _mm256_set1_epi32(126));
    (e, rhrs_multiplier(e))
}

/// [`compress_nearest`] at one packing kind. Per pair, the first half is
/// the samples and their exponents ([`compress_exponent`]); the second,
/// the mantissas (no `mullo`: `r = e >= 0`). Without `SAT`, four pairs
/// share the first half ([`oct_exponents`]) while they fit. Only width 1
/// can need an exponent above 15 (`2 · 32767 / (2^w − 1) < 2^15` for
/// `w >= 2`): `SAT` checks each pair for it and leaves such pairs to the
/// scalar reference, which saturates; the other widths skip the check
/// (2.5 %).
#[target_feature(enable = "avx2,fma")]
fn compress_k<const K: u8, const SAT: bool>(w: u32, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    let (len, wb) = (prb_len(w), w as usize);
    let n = (src.len() / 24).min(dst.len() / len);
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let p = Pack::new(w);
    let (c1, c2) = nearest_scales(w);
    let (pa, scale) = (_mm256_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1), _mm256_setr_ps(c1, c1, c2, c2, c1, c1, c2, c2));
    let fifteen = _mm256_set1_epi32(MAX_EXPONENT as i32);
    let fits = |i| i + 2 <= n && (i + 2) * len + 16 - wb <= dst_len;
    // SAFETY: `s` points at 48 samples (two PRBs); the six 16-byte reads
    // are at samples 0, 8, 16, 24, 32 and 40.
    let load = |s: *const i16| unsafe { [load2(s, s.add(24)), load2(s.add(8), s.add(32)), load2(s.add(16), s.add(40))] };
    // SAFETY (both): pair i fits, so the end of its writes, (i + 2) * len
    // + 16 - w, is within the output.
    let back2 = |i: usize, x: [__m256i; 3], e: __m256i, h: __m256i| unsafe {
        // `l` and `c` are not used without the `mullo`.
        let st = Step { v: x, s: Shift { l: e, h, c: e }, param: byte0(e, 0xFF), vector: true, fast: true };
        back::<K, RHRS, true>(&st, &p, out.wrapping_add(i * len), wb)
    };
    let (mut i, mut saturated) = (0, 0);
    if !SAT {
        let k = 1.0 / 65536.0;
        let qscale = _mm256_setr_ps(c1 * k, c1 * k, c2 * k, c2 * k, c1 * k, c1 * k, c2 * k, c2 * k);
        let qoffset = _mm256_setr_ps(0.0, 0.0, c2, c2, 0.0, 0.0, c2, c2);
        i = pipelined_by::<8, _>(
            0,
            |i| i + 8 <= n && (i + 8) * len + 16 - wb <= dst_len,
            |i| {
                let s = src[24 * i..24 * (i + 8)].as_ptr();
                // `s + 48k` is pair k's 48 samples.
                let x: [[__m256i; 3]; 4] = core::array::from_fn(|k| load(s.wrapping_add(48 * k)));
                oct_exponents([&x[0], &x[1], &x[2], &x[3]], qscale, qoffset)
            },
            |_| true,
            |i, (e, h)| {
                let s = src[24 * i..24 * (i + 8)].as_ptr();
                back2(i, load(s), _mm256_shuffle_epi32::<0x00>(e), _mm256_shuffle_epi32::<0x00>(h));
                back2(i + 2, load(s.wrapping_add(48)), _mm256_shuffle_epi32::<0x55>(e), _mm256_shuffle_epi32::<0x55>(h));
                back2(i + 4, load(s.wrapping_add(96)), _mm256_shuffle_epi32::<0xAA>(e), _mm256_shuffle_epi32::<0xAA>(h));
                back2(i + 6, load(s.wrapping_add(144)), _mm256_shuffle_epi32::<0xFF>(e), _mm256_shuffle_epi32::<0xFF>(h));
            },
        );
    }
    loop {
        i = pipelined(
            i,
            fits,
            |i| {
                let x = load(src[24 * i..24 * (i + 2)].as_ptr());
                (x, compress_exponent(reduce(&x), pa, scale))
            },
            |&(_, e)| !SAT || _mm256_movemask_epi8(_mm256_cmpgt_epi32(e, fifteen)) == 0,
            |i, (x, e)| back2(i, x, e, rhrs_multiplier(e)),
        );
        if !fits(i) {
            return (i, saturated);
        }
        // A pair `SAT` stopped at, outside the vector loop ([`pipelined`]).
        for j in i..i + 2 {
            // SAFETY: PRB j < n lies within `dst`, which `out` points at;
            // no other reference to it is alive.
            let o = unsafe { core::slice::from_raw_parts_mut(out.add(j * len), len) };
            saturated += compress_prb(w, Rounding::Nearest, prb(src, j), o);
        }
        i += 2;
    }
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
fn drive<const K: u8, const F: u8>(
    fits: impl Fn(usize) -> bool,
    load: impl Fn(usize) -> ([__m256i; 3], __m256i),
    p: &Pack,
    (out, len, w): (*mut u8, usize, u32),
    mut scalar: impl FnMut(usize) -> u32,
) -> (usize, u32) {
    let wb = w as usize;
    let (mut i, mut saturated) = (0, 0);
    loop {
        while fits(i + 6) {
            let ld = [load(i), load(i + 2), load(i + 4), load(i + 6)];
            let (s, param, vector, fast) = exponents4::<F>(ld.map(|l| reduce(&l.0)), ld.map(|l| l.1), w);
            if !vector {
                break;
            }
            let st = [
                pair_step::<0>(ld[0].0, &s, param, fast),
                pair_step::<1>(ld[1].0, &s, param, fast),
                pair_step::<2>(ld[2].0, &s, param, fast),
                pair_step::<3>(ld[3].0, &s, param, fast),
            ];
            for (k, st) in st.iter().enumerate() {
                // SAFETY: pair i + 2k fits, so the end of its writes,
                // (i + 2k + 2) * len + 16 - w, is within the output.
                unsafe { back_any::<K, F>(st, p, out.wrapping_add((i + 2 * k) * len), wb) };
            }
            i += 8;
        }
        // The scalar reference runs here, outside the vector loops
        // ([`pipelined`] says why): the four pairs the loop above stopped
        // at, or the pair the one below did.
        let group = if fits(i + 6) {
            8
        } else {
            i = pipelined(
                i,
                &fits,
                |j| {
                    let (v, param) = load(j);
                    front::<F>(v, param, w)
                },
                |st| st.vector,
                // SAFETY: as above, for pair j.
                |j, st| unsafe { back_any::<K, F>(&st, p, out.wrapping_add(j * len), wb) },
            );
            if !fits(i) {
                return (i, saturated);
            }
            2
        };
        for j in i..i + group {
            saturated += scalar(j);
        }
        i += group;
    }
}

/// Re-compresses a leading run of the first `n` BFP PRBs of `src` at width
/// `a` into `dst` (exactly n PRBs at width `b`), as the scalar reference
/// does, copying each udCompParam's reserved nibble. Returns how many PRBs
/// it did and the samples saturated.
#[target_feature(enable = "avx2")]
pub(in crate::iq) fn recompress(a: u32, n: usize, src: &[u8], b: u32, rounding: Rounding, dst: &mut [u8]) -> (usize, u32) {
    macro_rules! by_pack {
        ($u:ident, $f:ident) => {
            match pack_kind(b) {
                W16 => recompress_k::<$u, W16, $f>(a, n, src, b, dst),
                W15 => recompress_k::<$u, W15, $f>(a, n, src, b, dst),
                ODD => recompress_k::<$u, ODD, $f>(a, n, src, b, dst),
                _ => recompress_k::<$u, EVEN, $f>(a, n, src, b, dst),
            }
        };
    }
    // Widening (b >= a) leaves every mantissa exact (r <= 0): both modes
    // give the same exponent and mantissas, so rounding takes truncation's
    // kernel.
    let form = match rounding {
        Rounding::Nearest if b < a => RHRS,
        _ => TRUNC,
    };
    match (unpack_kind(a), form) {
        (U16, RHRS) => by_pack!(U16, RHRS),
        (U16, _) => by_pack!(U16, TRUNC),
        (U15, RHRS) => by_pack!(U15, RHRS),
        (U15, _) => by_pack!(U15, TRUNC),
        (THREE_BYTES, RHRS) => by_pack!(THREE_BYTES, RHRS),
        (THREE_BYTES, _) => by_pack!(THREE_BYTES, TRUNC),
        (_, RHRS) => by_pack!(TWO_BYTES, RHRS),
        _ => by_pack!(TWO_BYTES, TRUNC),
    }
}

#[target_feature(enable = "avx2")]
fn recompress_k<const U: u8, const K: u8, const F: u8>(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> (usize, u32) {
    let (la, wa) = (prb_len(a), a as usize);
    let (lb, wb) = (prb_len(b), b as usize);
    let n = n.min(dst.len() / lb);
    let u = Unpack::new(a);
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    let rounding = if F == TRUNC { Rounding::Truncate } else { Rounding::Nearest };
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
    drive::<K, F>(fits, load, &Pack::new(b), (out, lb, b), scalar)
}

/// The scalar reference for one PRB, kept out of line: it is the rare
/// case, and inlined it crowds the vector loop.
#[cold]
#[inline(never)]
fn scalar_prb(a: u32, inp: &[u8], b: u32, rounding: Rounding, out: &mut [u8]) -> u32 {
    recompress_prb(a, inp, b, rounding, out)
}

#[cfg(test)]
mod tests;
