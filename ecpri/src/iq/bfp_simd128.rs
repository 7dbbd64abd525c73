//! BFP on wasm32 with simd128: compress (both [`Rounding`] modes),
//! decompress into `i32`, and the fused BFP → BFP re-compression, every
//! step in 128-bit vectors, the bit packing in
//! [`bitpack_simd128`](super::bitpack_simd128). Bit for bit the scalar
//! reference ([`bfp`](super::bfp), [`convert`](super::convert)).
//!
//! A PRB is three vectors of eight 16-bit lanes, and each is one
//! byte-aligned group of `w` bytes on the wire. Per PRB:
//!
//! - **compress** `i16`: truncation takes the spec's maxValue (lane-wise
//!   `max(max, !min)`, `!min = |min| - 1`, reduced across the lanes; `33 -
//!   lzcnt32` of it is `bitlen + 1`) and shifts each lane right by the
//!   exponent. Rounding to nearest reduces the maximum and minimum apart,
//!   takes the exponent from [`exponent_nearest`] (the reference's
//!   [`exponent_of`] in closed form, tested equal), and rounds
//!   half away from zero as `(|x| + 2^(e-1)) >> e` unsigned, the sign put
//!   back with `(q ^ s) - s`: `|x| <= 2^15` and the half `<= 2^14`, so the
//!   sum fits an unsigned lane. The one exponent above 15 an `i16` can
//!   need (width 1, nearest) takes the reference;
//! - **decompress**: unpack (sign-extended mantissas), widen to `i32`,
//!   shift left by the exponent: exact for every exponent 0–15;
//! - **re-compress `a → b`** works on the `a`-bit mantissas `m` and the
//!   input exponent `e`, never on a 16-bit sample (`x = m · 2^e` reaches
//!   2^30). One reduction gives each PRB's largest mantissa and its
//!   smallest (two PRBs at once, read with two moves); the output
//!   exponent `e'` is [`exponent_of`] (truncating) or [`exponent_nearest`]
//!   of `max(x)` and `-min(x)`, so both modes, the all-zero PRB and
//!   rounding's one-up or one-down exponent are the reference's. Then:
//!   - widening (`b >= a`): `e' <= e` (the mantissas have at most `a - 1`
//!     significant bits), so the new mantissas are `m · 2^(e - e')`,
//!     exact, one multiply; both modes are the same kernel. The output
//!     udCompParam is the input's minus `e - e'`;
//!   - narrowing: on `m << (16 - a)` (exact, the low bits zero), one
//!     shift right by `r = 16 - a + e' - e`, arithmetic (truncation) or
//!     rounding as for compression.
//!
//!   A PRB whose `r` is outside 0–15 (an input exponent larger than its
//!   mantissas need, which a conforming compressor never sends) or whose
//!   `e'` exceeds 15 (saturation, counted) takes the scalar reference,
//!   out of line.
//!
//! Re-compression is fused, with both widths constant, for the common
//! pairs ([`recompress`] lists them; each pair is its own code, so the
//! list is short to keep translators small and quick to load); other
//! pairs are left to the scalar reference.
//!
//! Loads and stores are whole vectors, so they reach up to `16 - w` bytes
//! past a PRB (and stores are issued in address order, so each spill is
//! overwritten by the next PRB). Where that would leave the caller's
//! slices, the last PRBs go through a 64-byte stack buffer: every PRB is
//! done by the vector code.
//!
//! Widening to 12 bits from a width that unpacks with a shuffle scales
//! into joined pairs ([`joined`]): the unpack swaps each pair of lanes,
//! one multiply puts the pair's first value in the high half of a 32-bit
//! lane and the second at the top of the low half, and one shift right
//! packs the pair, where masking and `i32x4.dot` took two.
//!
//! Codegen notes (wasmtime's Cranelift on x86-64): a constant shuffle of
//! one operand twice is one `pshufb`, but LLVM gives a one-input shuffle
//! any register as second operand, and Cranelift then emits `vpermi2b`
//! (AVX-512 VBMI: two shuffle-port micro-ops) or two `pshufb` and an OR:
//! [`swizzle_const`] gets the one `pshufb`; a variable `i8x16.swizzle` is
//! a saturating add and a `pshufb`; `v128.not` is two instructions (hence
//! [`Consts::ones`]); shifts by a variable amount move the amount to a
//! vector register each time (hence the tables of powers and halves); and
//! an address offset only folds into the x86 address when LLVM puts it in
//! the wasm memarg, which it does not for pointers that loop strength
//! reduction rewrote (hence the opaque base pointers of the pair loop).

use super::bfp::{exponent_nearest, exponent_of, prb_len, MAX_EXPONENT};
use super::bitpack_simd128::{joins, Packer, Unpacker};
use super::simd128::*;
use super::{bfp, convert, prb, prb_mut, Rounding, SAMPLES_PER_PRB};

/// Calls `$f::<W, G..>($args)` for the run-time width `$w` (1 to 16).
macro_rules! by_width {
    ($w:expr, $f:ident $(<$($g:tt),*>)? ($($a:expr),*)) => {
        match $w {
            1 => $f::<1 $($(, $g)*)?>($($a),*), 2 => $f::<2 $($(, $g)*)?>($($a),*),
            3 => $f::<3 $($(, $g)*)?>($($a),*), 4 => $f::<4 $($(, $g)*)?>($($a),*),
            5 => $f::<5 $($(, $g)*)?>($($a),*), 6 => $f::<6 $($(, $g)*)?>($($a),*),
            7 => $f::<7 $($(, $g)*)?>($($a),*), 8 => $f::<8 $($(, $g)*)?>($($a),*),
            9 => $f::<9 $($(, $g)*)?>($($a),*), 10 => $f::<10 $($(, $g)*)?>($($a),*),
            11 => $f::<11 $($(, $g)*)?>($($a),*), 12 => $f::<12 $($(, $g)*)?>($($a),*),
            13 => $f::<13 $($(, $g)*)?>($($a),*), 14 => $f::<14 $($(, $g)*)?>($($a),*),
            15 => $f::<15 $($(, $g)*)?>($($a),*), _ => $f::<16 $($(, $g)*)?>($($a),*),
        }
    };
}

/// The rounding mode a kernel's `NEAREST` parameter stands for.
const fn rounding(nearest: bool) -> Rounding {
    if nearest {
        Rounding::Nearest
    } else {
        Rounding::Truncate
    }
}

/// Bytes a PRB's whole-vector loads or stores reach past its end at width `w`.
const fn spill(w: u32) -> usize {
    if w < 16 {
        16 - w as usize
    } else {
        0
    }
}

/// Loads the three 8-sample vectors of a PRB.
#[inline(always)]
fn load3(x: &[i16; SAMPLES_PER_PRB]) -> [v128; 3] {
    let p = x.as_ptr() as *const v128;
    // SAFETY: `x` is 24 i16 = 48 bytes, so offsets 0, 1 and 2 (in 16-byte
    // vectors) are inside it, and v128 loads have no alignment requirement.
    unsafe { [v128_load(p), v128_load(p.add(1)), v128_load(p.add(2))] }
}

/// Loads and unpacks the three groups of a `W`-bit PRB at `inp` (its
/// udCompParam byte): sign-extended mantissas.
///
/// # Safety
/// `inp` must be valid for reads of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn load_mantissas<const W: u32>(u: &Unpacker<W>, inp: *const u8) -> [v128; 3] {
    let w = W as usize;
    // SAFETY: the last read ends at 1 + 2w + 16 = prb_len + spill, which
    // the caller guarantees.
    unsafe { [1, 1 + w, 1 + 2 * w].map(|o| u.load(inp.add(o))) }
}

/// The left shift of the values [`load_values`] gives for `A → B`:
/// `16 - A` when narrowing, 0 when widening.
const fn left<const A: u32, const B: u32>() -> u32 {
    if B >= A {
        0
    } else {
        16 - A
    }
}

/// Loads the mantissas of an `A`-bit PRB for re-compression to `B` bits,
/// shifted left by [`left`] (exactly, the low bits zero).
///
/// # Safety
/// As [`load_mantissas`].
#[inline(always)]
unsafe fn load_values<const A: u32, const B: u32>(u: &Unpacker<A>, inp: *const u8) -> [v128; 3] {
    // SAFETY: as in `load_mantissas`.
    unsafe {
        if B >= A {
            load_mantissas(u, inp)
        } else {
            let a = A as usize;
            [1, 1 + a, 1 + 2 * a].map(|o| u.load_left(inp.add(o)))
        }
    }
}

/// Packs mantissas `m` at `W` bits and writes the PRB, udCompParam
/// `param` first, at `out`.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn store_prb<const W: u32>(k: &Packer<W>, out: *mut u8, param: u8, m: [v128; 3]) {
    let g0 = if W == 16 { k.pack::<false>(m[0]) } else { k.pack::<true>(m[0]) };
    // SAFETY: forwarded from the caller.
    unsafe { store_groups::<W>(out, param, [g0, k.pack::<false>(m[1]), k.pack::<false>(m[2])]) };
}

/// Writes a PRB from its packed groups `g` (the first packed after the
/// udCompParam byte, except at `W = 16`), udCompParam `param` first, at
/// `out`.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn store_groups<const W: u32>(out: *mut u8, param: u8, g: [v128; 3]) {
    let w = W as usize;
    // SAFETY: the last store ends at 1 + 2w + 16 = prb_len + spill (for
    // W = 16, 33 + 16 = prb_len), which the caller guarantees, and they go
    // in address order; v128 stores have no alignment requirement.
    unsafe {
        if W == 16 {
            v128_store(out.add(1) as *mut v128, g[0]);
        } else {
            // Byte 0 is a don't-care, written next: a byte store is
            // cheaper than inserting the byte into the vector.
            v128_store(out as *mut v128, g[0]);
        }
        *out = param;
        v128_store(out.add(1 + w) as *mut v128, g[1]);
        v128_store(out.add(1 + 2 * w) as *mut v128, g[2]);
    }
}

/// Whether re-compression `A → B` scales into joined pairs
/// ([`Packer::pack_joined`]): widening to a width whose pairs are whole bytes,
/// from one that unpacks with a shuffle (which then swaps each pair, for
/// free). The scaling multiplies the pair's first value by `2^d` and the
/// second by `2^(d + 16 - B)` ([`POW2_JOINED`]), one multiply for both.
const fn joined<const A: u32, const B: u32>() -> bool {
    B >= A && joins(B) && !A.is_multiple_of(8)
}

/// Per 32-bit lane `(2^(k + 16 - b), 2^k)`, `k` = 0–15 (0 where that
/// overflows, `k >= b`: only an all-zero PRB scales by that much).
const fn pow2_joined(b: u32) -> [v128; 16] {
    let mut t = [halves([0; 8]); 16];
    let mut k = 0;
    while k < b as usize {
        let (lo, hi) = ((1u32 << (k + 16 - b as usize)) as u16, 1u16 << k);
        t[k] = halves([lo, hi, lo, hi, lo, hi, lo, hi]);
        k += 1;
    }
    t
}

/// [`pow2_joined`] for the widths that join.
static POW2_JOINED: [[v128; 16]; 2] = [pow2_joined(4), pow2_joined(12)];

/// `2^k` in every 16-bit lane, `k` = 0–15: the multipliers of widening,
/// loaded rather than built (a move and a broadcast, both on the shuffle
/// port).
static POW2: [v128; 16] = {
    let mut t = [halves([0; 8]); 16];
    let mut k = 0;
    while k < 16 {
        t[k] = halves([1 << k; 8]);
        k += 1;
    }
    t
};

/// `2^k / 2` (rounded down) in every 16-bit lane, `k` = 0–15: the half
/// that rounding by a shift of `k` adds, loaded like [`POW2`].
static HALF: [v128; 16] = {
    let mut t = [halves([0; 8]); 16];
    let mut k = 1;
    while k < 16 {
        t[k] = halves([1 << (k - 1); 8]);
        k += 1;
    }
    t
};

/// `v / 2^k` rounded to nearest, halves away from zero, per 16-bit lane,
/// with `half` = [`HALF`]`[k]`, `k` = 0–15.
#[inline(always)]
fn round_shr(v: v128, k: u32, half: v128) -> v128 {
    let s = i16x8_shr(v, 15);
    // |v| <= 2^15 and half <= 2^14: the sum fits an unsigned lane.
    let q = u16x8_shr(i16x8_add(i16x8_abs(v), half), k);
    i16x8_sub(v128_xor(q, s), s)
}

/// The spec's maxValue of the 24 values of a PRB: `max(max, !min)`.
#[inline(always)]
fn max_value(v: &[v128; 3]) -> u32 {
    let mx = i16x8_max(v[0], i16x8_max(v[1], v[2]));
    let mn = i16x8_min(v[0], i16x8_min(v[1], v[2]));
    let mut t = i16x8_max(mx, v128_not(mn));
    t = i16x8_max(t, i16x8_shuffle::<4, 5, 6, 7, 0, 1, 2, 3>(t, t));
    t = i16x8_max(t, i16x8_shuffle::<2, 3, 0, 1, 6, 7, 4, 5>(t, t));
    t = i16x8_max(t, i16x8_shuffle::<1, 0, 3, 2, 5, 4, 7, 6>(t, t));
    i16x8_extract_lane::<0>(t) as u16 as u32
}

/// The largest value and the complement of the smallest (`!min = -min -
/// 1`, so one maximum reduces both) of two PRBs `v` and `u`, in one
/// reduction: `[(max v, !min v), (max u, !min u)]`. `ones` is all ones,
/// kept opaque by the caller ([`Consts::ones`]).
#[inline(always)]
fn extremes_pair(v: &[v128; 3], u: &[v128; 3], ones: v128) -> [(i32, i32); 2] {
    let half = |v: &[v128; 3]| {
        let mx = i16x8_max(v[0], i16x8_max(v[1], v[2]));
        let nmn = v128_xor(i16x8_min(v[0], i16x8_min(v[1], v[2])), ones);
        // Lanes 0-3 reduce the maximum, 4-7 the complemented minimum.
        i16x8_max(i64x2_shuffle::<0, 2>(mx, nmn), i64x2_shuffle::<1, 3>(mx, nmn))
    };
    let (a, b) = (half(v), half(u));
    // 16-bit lane pairs: max v, !min v, max u, !min u.
    let mut r = i16x8_max(i32x4_shuffle::<0, 2, 4, 6>(a, b), i32x4_shuffle::<1, 3, 5, 7>(a, b));
    r = i16x8_max(r, i16x8_shuffle::<1, 0, 3, 2, 5, 4, 7, 6>(r, r));
    let (lo, hi) = (i64x2_extract_lane::<0>(r), i64x2_extract_lane::<1>(r));
    [(lo as i16 as i32, (lo >> 32) as i16 as i32), (hi as i16 as i32, (hi >> 32) as i16 as i32)]
}

/// How many of `n` PRBs, at `len_in` and `len_out` bytes, the whole-vector
/// loop can do: the ones whose spills stay inside the `n` PRBs. The rest,
/// at most the last three, go through a stack buffer.
#[inline(always)]
fn fast_prbs(n: usize, len_in: usize, spill_in: usize, len_out: usize, spill_out: usize) -> usize {
    n.saturating_sub(spill_in.div_ceil(len_in).max(spill_out.div_ceil(len_out)))
}

/// Compresses every PRB of `src` that `dst` has room for; returns how many
/// and the samples saturated.
pub fn compress(w: u32, rounding: Rounding, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    match rounding {
        Rounding::Truncate => by_width!(w, compress_w<false>(src, dst)),
        Rounding::Nearest => by_width!(w, compress_w<true>(src, dst)),
    }
}

fn compress_w<const W: u32, const NEAREST: bool>(src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    let len = prb_len(W);
    let n = (src.len() / SAMPLES_PER_PRB).min(dst.len() / len);
    let dst = &mut dst[..n * len];
    let fast = fast_prbs(n, 1, 0, len, spill(W));
    let out = dst.as_mut_ptr();
    let k = Packer::<W>::new();
    let mut saturated = 0;
    for i in 0..fast {
        // SAFETY: PRB i < fast writes up to (i + 1) * len + spill, inside
        // the n PRBs of `dst` by `fast_prbs`.
        saturated += unsafe { compress_prb::<W, NEAREST>(&k, prb(src, i), out.add(i * len)) };
    }
    for i in fast..n {
        let mut buf = [0u8; 64];
        // SAFETY: the writes end at len + spill <= 49 bytes.
        saturated += unsafe { compress_prb::<W, NEAREST>(&k, prb(src, i), buf.as_mut_ptr()) };
        dst[i * len..(i + 1) * len].copy_from_slice(&buf[..len]);
    }
    (n, saturated)
}

/// Compresses one PRB; returns the samples saturated.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn compress_prb<const W: u32, const NEAREST: bool>(k: &Packer<W>, x: &[i16; SAMPLES_PER_PRB], out: *mut u8) -> u32 {
    let v = load3(x);
    if !NEAREST {
        // An i16 needs at most exponent 16 - W: never saturates.
        let e = (33 - max_value(&v).leading_zeros()).saturating_sub(W);
        // SAFETY: forwarded from the caller.
        unsafe { store_prb::<W>(k, out, e as u8, v.map(|v| i16x8_shr(v, e))) };
        return 0;
    }
    let [(hi, nlo), _] = extremes_pair(&v, &v, i16x8_splat(-1));
    let e = exponent_nearest(hi.max(0) as u32, (nlo + 1).max(0) as u32, W);
    if e > MAX_EXPONENT {
        // SAFETY: forwarded from the caller.
        return unsafe { compress_prb_reference::<W>(x, out) };
    }
    let half = HALF[(e & 15) as usize];
    // SAFETY: forwarded from the caller.
    unsafe { store_prb::<W>(k, out, e as u8, v.map(|v| round_shr(v, e, half))) };
    0
}

/// A PRB that saturates (width 1 rounded to nearest): the reference.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(W)` bytes.
#[cold]
#[inline(never)]
unsafe fn compress_prb_reference<const W: u32>(x: &[i16; SAMPLES_PER_PRB], out: *mut u8) -> u32 {
    // SAFETY: the caller guarantees the length.
    let out = unsafe { core::slice::from_raw_parts_mut(out, prb_len(W)) };
    bfp::compress_prb(W, Rounding::Nearest, x, out)
}

/// Decompresses the first `n` PRBs of `src` into `dst`; returns how many
/// (`n` when the slices hold them).
pub fn decompress(w: u32, n: usize, src: &[u8], dst: &mut [i32]) -> usize {
    by_width!(w, decompress_w(n, src, dst))
}

fn decompress_w<const W: u32>(n: usize, src: &[u8], dst: &mut [i32]) -> usize {
    let len = prb_len(W);
    let n = n.min(src.len() / len).min(dst.len() / SAMPLES_PER_PRB);
    let src = &src[..n * len];
    let fast = fast_prbs(n, len, spill(W), 1, 0);
    let u = Unpacker::<W>::new();
    let inp = src.as_ptr();
    for i in 0..fast {
        // SAFETY: PRB i < fast reads up to (i + 1) * len + spill, inside
        // the n PRBs of `src` by `fast_prbs`.
        unsafe { decompress_prb(&u, inp.add(i * len), prb_mut(dst, i)) };
    }
    for i in fast..n {
        let mut buf = [0u8; 64];
        buf[..len].copy_from_slice(&src[i * len..(i + 1) * len]);
        // SAFETY: the reads end at len + spill <= 49 bytes.
        unsafe { decompress_prb(&u, buf.as_ptr(), prb_mut(dst, i)) };
    }
    n
}

/// # Safety
/// `inp` must be valid for reads of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn decompress_prb<const W: u32>(u: &Unpacker<W>, inp: *const u8, out: &mut [i32; SAMPLES_PER_PRB]) {
    // SAFETY: forwarded from the caller.
    let (e, m) = unsafe { ((*inp & 0x0F) as u32, load_mantissas(u, inp)) };
    let p = out.as_mut_ptr() as *mut v128;
    for (j, m) in m.into_iter().enumerate() {
        // |m| <= 2^15 and e <= 15: exact in i32.
        let (lo, hi) = (i32x4_shl(i32x4_extend_low_i16x8(m), e), i32x4_shl(i32x4_extend_high_i16x8(m), e));
        // SAFETY: `out` is 24 i32 = 96 bytes, six 16-byte vectors; v128
        // stores have no alignment requirement.
        unsafe {
            v128_store(p.add(2 * j), lo);
            v128_store(p.add(2 * j + 1), hi);
        }
    }
}

/// Re-compresses the first `n` PRBs of `src` from width `a` to `b` into
/// `dst`, rounding as `rounding` says and copying each udCompParam's
/// reserved nibble; returns how many PRBs (0 for a pair it has no kernel
/// for: the caller takes the reference) and the samples saturated.
pub fn recompress(a: u32, n: usize, src: &[u8], b: u32, rounding: Rounding, dst: &mut [u8]) -> (usize, u32) {
    /// The kernels of the listed pairs (`$n`: rounding to nearest,
    /// meaningful only when narrowing).
    macro_rules! pairs {
        ($a:expr, $b:expr, $n:tt, [$(($x:literal, $y:literal)),*]) => {
            match ($a, $b) {
                $(($x, $y) => recompress_ab::<$x, $y, $n>(n, src, dst),)*
                _ => (0, 0),
            }
        };
    }
    // Widening is exact: one kernel serves both modes.
    if rounding == Rounding::Nearest && b < a {
        pairs!(a, b, true, [(12, 8), (12, 9), (14, 8), (14, 9), (16, 9)])
    } else {
        pairs!(a, b, false, [(8, 9), (8, 12), (8, 14), (9, 12), (9, 14), (9, 16), (12, 8), (12, 9), (14, 8), (14, 9), (16, 9)])
    }
}

/// The vectors a re-compression `A → B` keeps opaque to LLVM, made once
/// per call, outside the loops.
struct Consts<const A: u32, const B: u32> {
    unpacker: Unpacker<A>,
    packer: Packer<B>,
    /// All ones ([`extremes_pair`]).
    ones: v128,
}

impl<const A: u32, const B: u32> Consts<A, B> {
    #[inline(always)]
    fn new() -> Self {
        Consts {
            unpacker: if joined::<A, B>() { Unpacker::swapped() } else { Unpacker::new() },
            packer: Packer::new(),
            ones: core::hint::black_box(i16x8_splat(-1)),
        }
    }
}

fn recompress_ab<const A: u32, const B: u32, const NEAREST: bool>(n: usize, src: &[u8], dst: &mut [u8]) -> (usize, u32) {
    let (la, lb) = (prb_len(A), prb_len(B));
    let n = n.min(src.len() / la).min(dst.len() / lb);
    let (src, dst) = (&src[..n * la], &mut dst[..n * lb]);
    let fast = fast_prbs(n, la, spill(A), lb, spill(B));
    let c = Consts::<A, B>::new();
    let (inp, out) = (src.as_ptr(), dst.as_mut_ptr());
    let mut saturated = 0;
    let mut i = 0;
    // Four PRBs a step from base pointers LLVM cannot see through: it then
    // leaves the constant offsets of every access in the wasm memarg (one
    // x86 address each, not an add and an address), and the step and the
    // epoch check Cranelift adds are paid once.
    while i + 4 <= fast {
        // SAFETY: PRBs i to i + 3 < fast read up to (i + 4) * la +
        // spill(A) and write up to (i + 4) * lb + spill(B), inside the n
        // PRBs of `src` and `dst` by `fast_prbs`.
        unsafe {
            let (p, q) = core::hint::black_box((inp.add(i * la), out.add(i * lb)));
            saturated += recompress_pair::<A, B, NEAREST>(&c, p, q);
            saturated += recompress_pair::<A, B, NEAREST>(&c, p.add(2 * la), q.add(2 * lb));
        };
        i += 4;
    }
    while i + 2 <= fast {
        // SAFETY: PRBs i and i + 1 < fast read up to (i + 2) * la +
        // spill(A) and write up to (i + 2) * lb + spill(B), inside the n
        // PRBs of `src` and `dst` by `fast_prbs`.
        saturated += unsafe { recompress_pair::<A, B, NEAREST>(&c, inp.add(i * la), out.add(i * lb)) };
        i += 2;
    }
    for i in i..fast {
        // SAFETY: PRB i < fast reads up to (i + 1) * la + spill(A) and
        // writes up to (i + 1) * lb + spill(B), inside the n PRBs of `src`
        // and `dst` by `fast_prbs`.
        saturated += unsafe { recompress_one::<A, B, NEAREST>(&c, inp.add(i * la), out.add(i * lb)) };
    }
    for i in fast..n {
        let (mut bin, mut bout) = ([0u8; 64], [0u8; 64]);
        bin[..la].copy_from_slice(&src[i * la..(i + 1) * la]);
        // SAFETY: both buffers hold prb_len + spill <= 49 bytes.
        saturated += unsafe { recompress_one::<A, B, NEAREST>(&c, bin.as_ptr(), bout.as_mut_ptr()) };
        dst[i * lb..(i + 1) * lb].copy_from_slice(&bout[..lb]);
    }
    (n, saturated)
}

/// One PRB, for the few outside the pair loop: out of line, one copy of
/// its code rather than one per call site.
///
/// # Safety
/// `inp` must be valid for reads of `prb_len(A) + spill(A)` bytes, `out`
/// for writes of `prb_len(B) + spill(B)`.
#[inline(never)]
unsafe fn recompress_one<const A: u32, const B: u32, const NEAREST: bool>(c: &Consts<A, B>, inp: *const u8, out: *mut u8) -> u32 {
    // SAFETY: forwarded from the caller.
    let (param, v) = unsafe { (*inp, load_values::<A, B>(&c.unpacker, inp)) };
    let [(hi, nlo), _] = extremes_pair(&v, &v, c.ones);
    // SAFETY: forwarded from the caller.
    unsafe { finish::<A, B, NEAREST>(&c.packer, inp, out, param, hi, nlo, v) }
}

/// Two PRBs, `inp` and `inp + prb_len(A)`, with one reduction for both.
///
/// # Safety
/// `inp` must be valid for reads of `2 * prb_len(A) + spill(A)` bytes,
/// `out` for writes of `2 * prb_len(B) + spill(B)`.
#[inline(always)]
unsafe fn recompress_pair<const A: u32, const B: u32, const NEAREST: bool>(
    c: &Consts<A, B>,
    inp: *const u8,
    out: *mut u8,
) -> u32 {
    let (la, lb) = (prb_len(A), prb_len(B));
    let u = &c.unpacker;
    // SAFETY: forwarded from the caller.
    let (p0, p1, v0, v1) = unsafe { (*inp, *inp.add(la), load_values::<A, B>(u, inp), load_values::<A, B>(u, inp.add(la))) };
    let [(h0, n0), (h1, n1)] = extremes_pair(&v0, &v1, c.ones);
    // SAFETY: forwarded from the caller; the first PRB's spill is
    // overwritten by the second, written after it.
    unsafe {
        finish::<A, B, NEAREST>(&c.packer, inp, out, p0, h0, n0, v0)
            + finish::<A, B, NEAREST>(&c.packer, inp.add(la), out.add(lb), p1, h1, n1, v1)
    }
}

/// Writes at `out` the PRB at `inp` with udCompParam `param`, whose
/// values `v` ([`load_values`]) have maximum `hi` and complemented minimum
/// `nlo`, at `B` bits; returns the samples saturated.
///
/// # Safety
/// `inp` must be valid for reads of `prb_len(A)` bytes, `out` for writes
/// of `prb_len(B) + spill(B)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn finish<const A: u32, const B: u32, const NEAREST: bool>(
    k: &Packer<B>,
    inp: *const u8,
    out: *mut u8,
    param: u8,
    hi: i32,
    nlo: i32,
    v: [v128; 3],
) -> u32 {
    let e = (param & 0x0F) as u32;
    // max(x) and -min(x) of the samples x = m · 2^e, as the reference has
    // them; the values are m · 2^left, with their low bits zero.
    let l = left::<A, B>();
    let (p, a) = (((hi.max(0) as i64) << e) >> l, (((nlo + 1).max(0) as i64) << e) >> l);
    // Both at most 2^15 · 2^15.
    let e2 = if NEAREST { exponent_nearest(p as u32, a as u32, B) } else { exponent_of(p, a, B, Rounding::Truncate) };
    if B >= A {
        // e2 <= e (module docs): the new mantissas are m · 2^(e - e2).
        let d = e.wrapping_sub(e2);
        if d <= 15 {
            // SAFETY: forwarded from the caller.
            unsafe { widen_store::<A, B>(k, out, param - d as u8, d, v) };
            return 0;
        }
    } else {
        let r = (16 - A + e2).wrapping_sub(e);
        if e2 <= MAX_EXPONENT && r <= 15 {
            let param = (param & 0xF0) | e2 as u8;
            let m = if NEAREST {
                let half = HALF[(r & 15) as usize];
                v.map(|v| round_shr(v, r, half))
            } else {
                v.map(|v| i16x8_shr(v, r))
            };
            // SAFETY: forwarded from the caller.
            unsafe { store_prb::<B>(k, out, param, m) };
            return 0;
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { recompress_prb_reference(A, inp, B, rounding(NEAREST), out) }
}

/// Widening, writes the mantissas `m` of a PRB times `2^d` (`d` = 0–15)
/// at `B` bits, udCompParam `param` first, at `out`.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(B) + spill(B)` bytes.
#[inline(always)]
unsafe fn widen_store<const A: u32, const B: u32>(k: &Packer<B>, out: *mut u8, param: u8, d: u32, m: [v128; 3]) {
    // The masks spare bounds checks.
    if joined::<A, B>() {
        let pow = POW2_JOINED[(B == 12) as usize][(d & 15) as usize];
        let y = m.map(|m| i16x8_mul(m, pow));
        let g = [k.pack_joined::<true>(y[0]), k.pack_joined::<false>(y[1]), k.pack_joined::<false>(y[2])];
        // SAFETY: forwarded from the caller.
        unsafe { store_groups::<B>(out, param, g) };
    } else {
        let pow = POW2[(d & 15) as usize];
        // SAFETY: forwarded from the caller.
        unsafe { store_prb::<B>(k, out, param, m.map(|m| i16x8_mul(m, pow))) };
    }
}

/// A PRB the vector path does not take (saturation, or an input exponent
/// larger than its mantissas need): the scalar reference, out of line;
/// returns the samples saturated.
///
/// # Safety
/// `inp` must be valid for reads of `prb_len(a)` bytes, `out` for writes
/// of `prb_len(b)`.
#[cold]
#[inline(never)]
unsafe fn recompress_prb_reference(a: u32, inp: *const u8, b: u32, rounding: Rounding, out: *mut u8) -> u32 {
    // SAFETY: the caller guarantees both lengths.
    let (inp, out) = unsafe { (core::slice::from_raw_parts(inp, prb_len(a)), core::slice::from_raw_parts_mut(out, prb_len(b))) };
    convert::recompress_prb(a, inp, b, rounding, out)
}

/// The fused kernel of any pair, `recompress_ab` for run-time widths
/// (512 instantiations: for tests only, native and in wasm).
#[inline]
pub fn recompress_fused_any(a: u32, n: usize, src: &[u8], b: u32, rounding: Rounding, dst: &mut [u8]) -> (usize, u32) {
    if rounding == Rounding::Nearest && b < a {
        by_width!(a, fused_a<true>(b, n, src, dst))
    } else {
        by_width!(a, fused_a<false>(b, n, src, dst))
    }
}

#[inline]
fn fused_a<const A: u32, const NEAREST: bool>(b: u32, n: usize, src: &[u8], dst: &mut [u8]) -> (usize, u32) {
    match b {
        1 => recompress_ab::<A, 1, NEAREST>(n, src, dst),
        2 => recompress_ab::<A, 2, NEAREST>(n, src, dst),
        3 => recompress_ab::<A, 3, NEAREST>(n, src, dst),
        4 => recompress_ab::<A, 4, NEAREST>(n, src, dst),
        5 => recompress_ab::<A, 5, NEAREST>(n, src, dst),
        6 => recompress_ab::<A, 6, NEAREST>(n, src, dst),
        7 => recompress_ab::<A, 7, NEAREST>(n, src, dst),
        8 => recompress_ab::<A, 8, NEAREST>(n, src, dst),
        9 => recompress_ab::<A, 9, NEAREST>(n, src, dst),
        10 => recompress_ab::<A, 10, NEAREST>(n, src, dst),
        11 => recompress_ab::<A, 11, NEAREST>(n, src, dst),
        12 => recompress_ab::<A, 12, NEAREST>(n, src, dst),
        13 => recompress_ab::<A, 13, NEAREST>(n, src, dst),
        14 => recompress_ab::<A, 14, NEAREST>(n, src, dst),
        15 => recompress_ab::<A, 15, NEAREST>(n, src, dst),
        _ => recompress_ab::<A, 16, NEAREST>(n, src, dst),
    }
}

#[cfg(test)]
mod tests;
