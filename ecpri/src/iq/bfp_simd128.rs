//! BFP on wasm32 with simd128: compress, decompress and the fused
//! BFP → BFP re-compression, every step in 128-bit vectors, the bit packing
//! in [`bitpack_simd128`](super::bitpack_simd128).
//!
//! A PRB is three vectors of eight samples, and each is one byte-aligned
//! group of `w` bytes on the wire. Per PRB:
//!
//! - **exponent**: lane-wise `max(max, !min)` of the three vectors, then a
//!   reduction across the lanes. `!min = |min| - 1` for a negative
//!   minimum, so the result is the spec's maxValue, and `33 -
//!   lzcnt32(maxValue)` is `bitlen + 1`. Re-compression reduces two PRBs
//!   at once, interleaved, and reads both maxValues with one move;
//! - **compress**: `i16x8.shr_s` by the exponent (the reference's
//!   arithmetic shift), then pack;
//! - **decompress**: unpack (sign-extended mantissas), then multiply by
//!   `2^e`, which wraps at 16 bits exactly like `((m as i32) << e) as i16`;
//! - **re-compress `a → b`** works on the `a`-bit mantissas `m`, never on
//!   the 16-bit samples `x = m·2^e`. For an exponent the width allows
//!   (`e <= 16 - a`, so `x` does not wrap):
//!   - widening (`b >= a`): `bitlen(maxValue(x)) = bitlen(M) + e`, with `M`
//!     the maxValue of the mantissas (a mantissa of -1 gives `2^e - 1`,
//!     `e` bits), except for an all-zero PRB, which gets `e' = 0`. So
//!     `e' = max(0, bitlen(M) + e + 1 - b)`, and the new mantissas
//!     `x >> e'` are `m·2^(e - e')`, one multiply, as `e' <= e`
//!     (`bitlen(M) <= a - 1`). When `a + b > 16` the all-zero case needs
//!     no test: `e + 1 - b <= 17 - a - b <= 0`;
//!   - narrowing: on `m << (16 - a)`, exact (the low bits zero), which is
//!     `x << (16 - a - e)`: its maxValue's bitlen is `bitlen(maxValue(x))`
//!     plus `16 - a - e` (an all-zero PRB too), and `x >> e'` is one
//!     arithmetic shift of it by `16 - a - e + e'`.
//!
//!   Exponents above `16 - a` (never sent by a conforming compressor) take
//!   the scalar reference.
//!
//! Re-compression is fused, with both widths constant, for the common
//! pairs ([`recompress`] lists them); other pairs decompress and compress
//! 16 PRBs at a time through a stack buffer, on the vector kernels.
//!
//! Loads and stores are whole vectors, so they reach up to `16 - w` bytes
//! past a PRB (and stores are issued in address order, so each spill is
//! overwritten by the next PRB). Where that would leave the caller's
//! slices, the last PRBs go through a 64-byte stack buffer: every PRB is
//! done by the vector code.
//!
//! Widening to 12 bits (and 4) from a width that unpacks with a shuffle
//! scales into joined pairs ([`joined`]): the unpack swaps each pair of
//! lanes, one multiply puts the pair's first value in the high half of a
//! 32-bit lane and the second at the top of the low half, and one shift
//! right packs the pair, where masking and `i32x4.dot` took two.
//!
//! Codegen notes (wasmtime's Cranelift on x86-64): a constant shuffle of
//! one operand twice is one `pshufb`, but LLVM gives a one-input shuffle
//! any register as second operand, and Cranelift then emits `vpermi2b`
//! (AVX-512 VBMI: two shuffle-port micro-ops) or two `pshufb` and an OR:
//! [`swizzle_const`] gets the one `pshufb`; a variable `i8x16.swizzle` is
//! a saturating add and a `pshufb`; `v128.not` is two instructions (hence
//! [`Consts::ones`]); shifts by a variable amount move the amount to a
//! vector register each time; and an address offset only folds into the
//! x86 address when LLVM puts it in the wasm memarg, which it does not
//! for pointers that loop strength reduction rewrote (hence the opaque
//! base pointers of the pair loop).

use super::bfp::prb_len;
use super::bitpack_simd128::{joins, Packer, Unpacker};
use super::simd128::*;
use super::{prb, SAMPLES_PER_PRB};
use legacy::prb_mut;

/// TODO(simd128 rewrite, another engineer's task after issue 17's first
/// landing): these kernels still decompress into a wrapping `i16` and only
/// truncate, so `bfp`, `convert` and the SDK route wasm32 through the
/// scalar reference until they are rewritten for the `i32` domain and
/// [`crate::iq::Rounding`]. `legacy` is their old scalar definition, kept
/// so that the kernels and their tests still compile and check.
pub(crate) mod legacy {
    #[cfg(test)]
    extern crate std;
    use crate::iq::{bfp, Rounding, SAMPLES_PER_PRB};

    /// The 24 `i16` output samples of PRB `i`.
    #[inline(always)]
    pub(crate) fn prb_mut(dst: &mut [i16], i: usize) -> &mut [i16; SAMPLES_PER_PRB] {
        (&mut dst[i * SAMPLES_PER_PRB..(i + 1) * SAMPLES_PER_PRB]).try_into().unwrap()
    }

    /// The old decompression: `m << e` wrapped to 16 bits.
    pub(crate) fn decompress_prb(w: u32, inp: &[u8], out: &mut [i16; SAMPLES_PER_PRB]) {
        let mut x = [0i32; SAMPLES_PER_PRB];
        bfp::decompress_prb(w, inp, &mut x);
        *out = x.map(|v| v as i16);
    }

    /// Compression of `i16` by truncation, unchanged.
    pub(crate) fn compress_prb(w: u32, x: &[i16; SAMPLES_PER_PRB], out: &mut [u8]) {
        bfp::compress_prb(w, Rounding::Truncate, x, out);
    }

    #[cfg(test)]
    pub(crate) fn compress_scalar(w: u8, x: &[i16], out: &mut [u8]) -> crate::Result<usize> {
        bfp::compress_scalar(w, Rounding::Truncate, x, out).map(|e| e.len)
    }

    #[cfg(test)]
    pub(crate) fn decompress_scalar(w: u8, src: &[u8], dst: &mut [i16]) -> crate::Result<usize> {
        let mut x = std::vec![0i32; dst.len()];
        let n = bfp::decompress_scalar(w, src, &mut x)?;
        for (d, x) in dst.iter_mut().zip(x) {
            *d = x as i16;
        }
        Ok(n)
    }
}

/// Calls `$f::<W>($args)` for the run-time width `$w` (1 to 16).
macro_rules! by_width {
    ($w:expr, $f:ident($($a:expr),*)) => {
        match $w {
            1 => $f::<1>($($a),*), 2 => $f::<2>($($a),*), 3 => $f::<3>($($a),*), 4 => $f::<4>($($a),*),
            5 => $f::<5>($($a),*), 6 => $f::<6>($($a),*), 7 => $f::<7>($($a),*), 8 => $f::<8>($($a),*),
            9 => $f::<9>($($a),*), 10 => $f::<10>($($a),*), 11 => $f::<11>($($a),*), 12 => $f::<12>($($a),*),
            13 => $f::<13>($($a),*), 14 => $f::<14>($($a),*), 15 => $f::<15>($($a),*), _ => $f::<16>($($a),*),
        }
    };
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

/// Stores three 8-sample vectors into a PRB.
#[inline(always)]
fn store3(v: [v128; 3], x: &mut [i16; SAMPLES_PER_PRB]) {
    let p = x.as_mut_ptr() as *mut v128;
    // SAFETY: as in `load3`, all three 16-byte stores are inside `x`, and
    // v128 stores have no alignment requirement.
    unsafe {
        v128_store(p, v[0]);
        v128_store(p.add(1), v[1]);
        v128_store(p.add(2), v[2]);
    }
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

/// Loads the mantissas of an `A`-bit PRB for re-compression to `B` bits:
/// sign-extended when widening, shifted left by `16 - A` (exactly, the
/// low bits zero) when narrowing.
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

/// The output exponent from the maxValue `t` of [`load_values`] and the
/// input exponent `e <= 16 - A`: `max(0, bitlen(maxValue(x)) + 1 - B)`
/// for the samples `x = m << e`. Widening, `bitlen(maxValue(x)) =
/// bitlen(t) + e` except for an all-zero PRB (the caller's concern);
/// narrowing, the values are `x << (16 - A - e)`, so it is `bitlen(t) -
/// (16 - A - e)`, and an all-zero PRB gives 0 by itself.
#[inline(always)]
fn new_exponent<const A: u32, const B: u32>(t: u32, e: u32) -> u32 {
    if B >= A {
        (33 - t.leading_zeros() + e).saturating_sub(B)
    } else {
        (33 - t.leading_zeros() + e + A).saturating_sub(16 + B)
    }
}

/// Widening (`A + B > 16`), the shift `e - e'` from the maxValue `t` of
/// the mantissas and the input exponent `e`: `min(e, B - 1 - bitlen(t))`,
/// as `e' = max(0, bitlen(t) + e + 1 - B)` ([`new_exponent`]; an all-zero
/// PRB gives `e`, and `e' = 0`, as it should). `bitlen(t) <= A - 1 <= B -
/// 1`, so no term goes negative, and the output udCompParam is the input's
/// minus this shift.
#[inline(always)]
fn widen_shift<const A: u32, const B: u32>(t: u32, e: u32) -> u32 {
    e.min(t.leading_zeros() + B - 33)
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
/// overflows, `k >= b`, never used): the multipliers of [`joined`]
/// scaling to width `b`.
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

/// The lane-wise maximum of `v` in lanes 0–3 and of `u` in lanes 4–7,
/// every lane of each half holding it.
#[inline(always)]
fn max_halves(v: v128, u: v128) -> v128 {
    let mut r = i16x8_max(i64x2_shuffle::<0, 2>(v, u), i64x2_shuffle::<1, 3>(v, u));
    r = i16x8_max(r, i16x8_shuffle::<2, 3, 0, 1, 6, 7, 4, 5>(r, r));
    i16x8_max(r, i16x8_shuffle::<1, 0, 3, 2, 5, 4, 7, 6>(r, r))
}

/// Lane by lane over the three vectors of a PRB, `max(max, !min)`: the
/// spec's maxValue once reduced across the lanes. `ones` is all ones, kept
/// opaque by the caller: `v128.not` is two instructions in Cranelift (it
/// builds the all-ones vector each time), an XOR with a register one.
#[inline(always)]
fn lane_max_values(v: &[v128; 3], ones: v128) -> v128 {
    let mx = i16x8_max(v[0], i16x8_max(v[1], v[2]));
    let mn = i16x8_min(v[0], i16x8_min(v[1], v[2]));
    i16x8_max(mx, v128_xor(mn, ones))
}

/// The lane-wise maxima of two PRBs ([`lane_max_values`]) reduced to
/// their two maxValues: interleaved so that both end in one 32-bit lane,
/// read with one move.
#[inline(always)]
fn max_value_pair(t0: v128, t1: v128) -> (u32, u32) {
    let lo = i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(t0, t1);
    let hi = i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(t0, t1);
    let mut r = i16x8_max(lo, hi);
    r = i16x8_max(r, i32x4_shuffle::<2, 3, 0, 1>(r, r));
    r = i16x8_max(r, i32x4_shuffle::<1, 0, 3, 2>(r, r));
    let both = i32x4_extract_lane::<0>(r) as u32;
    (both & 0xFFFF, both >> 16)
}

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

/// The spec's maxValue of the 24 values of a PRB: `max(max, !min)`.
#[inline(always)]
fn max_value(v: &[v128; 3]) -> u32 {
    let mut t = lane_max_values(v, i16x8_splat(-1));
    t = i16x8_max(t, i16x8_shuffle::<4, 5, 6, 7, 0, 1, 2, 3>(t, t));
    t = i16x8_max(t, i16x8_shuffle::<2, 3, 0, 1, 6, 7, 4, 5>(t, t));
    t = i16x8_max(t, i16x8_shuffle::<1, 0, 3, 2, 5, 4, 7, 6>(t, t));
    i16x8_extract_lane::<0>(t) as u16 as u32
}

/// `(max, !min)` over the 24 values of a PRB, in one reduction.
#[inline(always)]
fn extremes(v: &[v128; 3]) -> (i32, i32) {
    let mx = i16x8_max(v[0], i16x8_max(v[1], v[2]));
    let mn = i16x8_min(v[0], i16x8_min(v[1], v[2]));
    let r = max_halves(mx, v128_not(mn));
    (i16x8_extract_lane::<0>(r) as i32, i16x8_extract_lane::<4>(r) as i32)
}

/// How many of `n` PRBs, at `len_in` and `len_out` bytes, the whole-vector
/// loop can do: the ones whose spills stay inside the `n` PRBs. The rest,
/// at most the last three, go through a stack buffer.
#[inline(always)]
fn fast_prbs(n: usize, len_in: usize, spill_in: usize, len_out: usize, spill_out: usize) -> usize {
    n.saturating_sub(spill_in.div_ceil(len_in).max(spill_out.div_ceil(len_out)))
}

/// Compresses every PRB of `src` that `dst` has room for; returns how many.
pub fn compress(w: u32, src: &[i16], dst: &mut [u8]) -> usize {
    by_width!(w, compress_w(src, dst))
}

fn compress_w<const W: u32>(src: &[i16], dst: &mut [u8]) -> usize {
    let len = prb_len(W);
    let n = (src.len() / SAMPLES_PER_PRB).min(dst.len() / len);
    let dst = &mut dst[..n * len];
    let fast = fast_prbs(n, 1, 0, len, spill(W));
    let out = dst.as_mut_ptr();
    let k = Packer::<W>::new();
    for i in 0..fast {
        // SAFETY: PRB i < fast writes up to (i + 1) * len + spill, inside
        // the n PRBs of `dst` by `fast_prbs`.
        unsafe { compress_prb::<W>(&k, prb(src, i), out.add(i * len)) };
    }
    for i in fast..n {
        let mut buf = [0u8; 64];
        // SAFETY: the writes end at len + spill <= 49 bytes.
        unsafe { compress_prb::<W>(&k, prb(src, i), buf.as_mut_ptr()) };
        dst[i * len..(i + 1) * len].copy_from_slice(&buf[..len]);
    }
    n
}

/// # Safety
/// `out` must be valid for writes of `prb_len(W) + spill(W)` bytes.
#[inline(always)]
unsafe fn compress_prb<const W: u32>(k: &Packer<W>, x: &[i16; SAMPLES_PER_PRB], out: *mut u8) {
    let v = load3(x);
    let e = (33 - max_value(&v).leading_zeros()).saturating_sub(W);
    // SAFETY: forwarded from the caller.
    unsafe { store_prb::<W>(k, out, e as u8, v.map(|v| i16x8_shr(v, e))) };
}

/// Decompresses the first `n` PRBs of `src` into `dst`; returns how many
/// (`n` when the slices hold them).
pub fn decompress(w: u32, n: usize, src: &[u8], dst: &mut [i16]) -> usize {
    by_width!(w, decompress_w(n, src, dst))
}

fn decompress_w<const W: u32>(n: usize, src: &[u8], dst: &mut [i16]) -> usize {
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
unsafe fn decompress_prb<const W: u32>(u: &Unpacker<W>, inp: *const u8, out: &mut [i16; SAMPLES_PER_PRB]) {
    // SAFETY: forwarded from the caller.
    let (e, m) = unsafe { ((*inp & 0x0F) as u32, load_mantissas(u, inp)) };
    let pow = i16x8_splat((1u32 << e) as i16);
    store3(m.map(|m| i16x8_mul(m, pow)), out);
}

/// Re-compresses the first `n` PRBs of `src` from width `a` to `b` into
/// `dst`, copying each udCompParam's reserved nibble; returns how many
/// (`n` when the slices hold them).
pub fn recompress(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> usize {
    match (a, b) {
        (8, 9) => recompress_ab::<8, 9>(n, src, dst),
        (8, 12) => recompress_ab::<8, 12>(n, src, dst),
        (8, 14) => recompress_ab::<8, 14>(n, src, dst),
        (9, 12) => recompress_ab::<9, 12>(n, src, dst),
        (9, 14) => recompress_ab::<9, 14>(n, src, dst),
        (9, 16) => recompress_ab::<9, 16>(n, src, dst),
        (12, 8) => recompress_ab::<12, 8>(n, src, dst),
        (12, 9) => recompress_ab::<12, 9>(n, src, dst),
        (14, 9) => recompress_ab::<14, 9>(n, src, dst),
        _ => recompress_chunked(a, n, src, b, dst),
    }
}

/// Any pair: decompress then compress 16 PRBs at a time.
pub fn recompress_chunked(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> usize {
    const CHUNK: usize = 16;
    let (la, lb) = (prb_len(a), prb_len(b));
    let n = n.min(src.len() / la).min(dst.len() / lb);
    let mut x = [0i16; CHUNK * SAMPLES_PER_PRB];
    let mut i = 0;
    while i < n {
        let k = CHUNK.min(n - i);
        let (s, d) = (&src[i * la..(i + k) * la], &mut dst[i * lb..(i + k) * lb]);
        decompress(a, k, s, &mut x);
        compress(b, &x[..k * SAMPLES_PER_PRB], d);
        for j in 0..k {
            d[j * lb] |= s[j * la] & 0xF0;
        }
        i += k;
    }
    n
}

/// The vectors a re-compression `A → B` keeps opaque to LLVM, made once
/// per call, outside the loops.
struct Consts<const A: u32, const B: u32> {
    unpacker: Unpacker<A>,
    packer: Packer<B>,
    /// All ones ([`lane_max_values`]).
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

fn recompress_ab<const A: u32, const B: u32>(n: usize, src: &[u8], dst: &mut [u8]) -> usize {
    let (la, lb) = (prb_len(A), prb_len(B));
    let n = n.min(src.len() / la).min(dst.len() / lb);
    let (src, dst) = (&src[..n * la], &mut dst[..n * lb]);
    let fast = fast_prbs(n, la, spill(A), lb, spill(B));
    let c = Consts::<A, B>::new();
    let (inp, out) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    if B < A || A + B > 16 {
        // Four PRBs a step from base pointers LLVM cannot see through: it
        // then leaves the constant offsets of every access in the wasm
        // memarg (one x86 address each, not an add and an address), and
        // the step and the epoch check Cranelift adds are paid once.
        while i + 4 <= fast {
            // SAFETY: PRBs i to i + 3 < fast read up to (i + 4) * la +
            // spill(A) and write up to (i + 4) * lb + spill(B), inside the
            // n PRBs of `src` and `dst` by `fast_prbs`.
            unsafe {
                let (p, q) = core::hint::black_box((inp.add(i * la), out.add(i * lb)));
                recompress_pair::<A, B>(&c, p, q);
                recompress_pair::<A, B>(&c, p.add(2 * la), q.add(2 * lb));
            };
            i += 4;
        }
        while i + 2 <= fast {
            // SAFETY: PRBs i and i + 1 < fast read up to (i + 2) * la +
            // spill(A) and write up to (i + 2) * lb + spill(B), inside the
            // n PRBs of `src` and `dst` by `fast_prbs`.
            unsafe { recompress_pair::<A, B>(&c, inp.add(i * la), out.add(i * lb)) };
            i += 2;
        }
    }
    for i in i..fast {
        // SAFETY: PRB i < fast reads up to (i + 1) * la + spill(A) and
        // writes up to (i + 1) * lb + spill(B), inside the n PRBs of `src`
        // and `dst` by `fast_prbs`.
        unsafe { recompress_one::<A, B>(&c, inp.add(i * la), out.add(i * lb)) };
    }
    for i in fast..n {
        let (mut bin, mut bout) = ([0u8; 64], [0u8; 64]);
        bin[..la].copy_from_slice(&src[i * la..(i + 1) * la]);
        // SAFETY: both buffers hold prb_len + spill <= 49 bytes.
        unsafe { recompress_one::<A, B>(&c, bin.as_ptr(), bout.as_mut_ptr()) };
        dst[i * lb..(i + 1) * lb].copy_from_slice(&bout[..lb]);
    }
    n
}

/// [`recompress_prb`] out of line, for the few PRBs outside the pair
/// loop: one copy of its code rather than one per call site.
///
/// # Safety
/// As [`recompress_prb`].
#[inline(never)]
unsafe fn recompress_one<const A: u32, const B: u32>(c: &Consts<A, B>, inp: *const u8, out: *mut u8) {
    // SAFETY: forwarded from the caller.
    unsafe { recompress_prb::<A, B>(c, inp, out) }
}

/// # Safety
/// `inp` must be valid for reads of `prb_len(A) + spill(A)` bytes, `out`
/// for writes of `prb_len(B) + spill(B)`.
#[inline(always)]
unsafe fn recompress_prb<const A: u32, const B: u32>(c: &Consts<A, B>, inp: *const u8, out: *mut u8) {
    // SAFETY: forwarded from the caller.
    let param = unsafe { *inp };
    let e = (param & 0x0F) as u32;
    if e > 16 - A {
        // SAFETY: forwarded from the caller.
        return unsafe { recompress_prb_reference(A, inp, B, out) };
    }
    // SAFETY: forwarded from the caller.
    let m = unsafe { load_values::<A, B>(&c.unpacker, inp) };
    let e2 = if B < A || A + B > 16 {
        // Widening, an all-zero PRB comes out with exponent 0 anyway when
        // e + 1 - B <= 16 - A + 1 - B <= 0.
        new_exponent::<A, B>(max_value(&m), e)
    } else {
        let (hi, nlo) = extremes(&m);
        // `hi | !nlo` is `max | min`: zero only for an all-zero PRB.
        if hi | !nlo == 0 {
            0
        } else {
            new_exponent::<A, B>(hi.max(nlo) as u32, e)
        }
    };
    // SAFETY: forwarded from the caller.
    unsafe { finish::<A, B>(&c.packer, out, param, e2, m) };
}

/// Two PRBs, `inp` and `inp + prb_len(A)`, with one reduction for both
/// exponents (for pairs that need no all-zero test: narrowing, or
/// `A + B > 16`).
///
/// # Safety
/// `inp` must be valid for reads of `2 * prb_len(A) + spill(A)` bytes,
/// `out` for writes of `2 * prb_len(B) + spill(B)`.
#[inline(always)]
unsafe fn recompress_pair<const A: u32, const B: u32>(c: &Consts<A, B>, inp: *const u8, out: *mut u8) {
    let (la, lb) = (prb_len(A), prb_len(B));
    // SAFETY: forwarded from the caller.
    let (p0, p1) = unsafe { (*inp, *inp.add(la)) };
    let (e0, e1) = ((p0 & 0x0F) as u32, (p1 & 0x0F) as u32);
    if e0.max(e1) > 16 - A {
        // SAFETY: forwarded from the caller, one PRB at a time, each
        // reading and writing exactly its own bytes.
        unsafe {
            recompress_prb_reference(A, inp, B, out);
            recompress_prb_reference(A, inp.add(la), B, out.add(lb));
        }
        return;
    }
    // SAFETY: forwarded from the caller.
    let u = &c.unpacker;
    let (m0, m1) = unsafe { (load_values::<A, B>(u, inp), load_values::<A, B>(u, inp.add(la))) };
    let (t0, t1) = max_value_pair(lane_max_values(&m0, c.ones), lane_max_values(&m1, c.ones));
    if B >= A {
        let (d0, d1) = (widen_shift::<A, B>(t0, e0), widen_shift::<A, B>(t1, e1));
        // SAFETY: forwarded from the caller; the first PRB's spill is
        // overwritten by the second, written after it.
        unsafe {
            widen_store::<A, B>(&c.packer, out, p0 - d0 as u8, d0, m0);
            widen_store::<A, B>(&c.packer, out.add(lb), p1 - d1 as u8, d1, m1);
        }
        return;
    }
    let (e20, e21) = (new_exponent::<A, B>(t0, e0), new_exponent::<A, B>(t1, e1));
    // SAFETY: forwarded from the caller; the first PRB's spill is
    // overwritten by the second, written after it.
    unsafe {
        finish::<A, B>(&c.packer, out, p0, e20, m0);
        finish::<A, B>(&c.packer, out.add(lb), p1, e21, m1);
    }
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

/// Scales the values `m` ([`load_values`]) of a PRB with udCompParam
/// `param` (exponent `e`) to exponent `e2` and writes it at `B` bits at
/// `out`: `m << (e - e2)` widening, `m >> (16 - A - e + e2)` narrowing.
///
/// # Safety
/// `out` must be valid for writes of `prb_len(B) + spill(B)` bytes.
#[inline(always)]
unsafe fn finish<const A: u32, const B: u32>(k: &Packer<B>, out: *mut u8, param: u8, e2: u32, m: [v128; 3]) {
    let e = (param & 0x0F) as u32;
    let param = (param & 0xF0) | e2 as u8;
    // SAFETY (both): forwarded from the caller.
    if B >= A {
        // 0 <= e - e2 <= 15 here.
        unsafe { widen_store::<A, B>(k, out, param, e - e2, m) };
    } else {
        let r = 16 - A - e + e2;
        unsafe { store_prb::<B>(k, out, param, m.map(|m| i16x8_shr(m, r))) };
    }
}

/// A PRB whose exponent is too large for its width (`x = m << e` wraps):
/// the scalar reference, out of line.
///
/// # Safety
/// `inp` must be valid for reads of `prb_len(a)` bytes, `out` for writes
/// of `prb_len(b)`.
#[cold]
#[inline(never)]
unsafe fn recompress_prb_reference(a: u32, inp: *const u8, b: u32, out: *mut u8) {
    // SAFETY: the caller guarantees both lengths.
    let (inp, out) = unsafe { (core::slice::from_raw_parts(inp, prb_len(a)), core::slice::from_raw_parts_mut(out, prb_len(b))) };
    let mut x = [0i16; SAMPLES_PER_PRB];
    legacy::decompress_prb(a, inp, &mut x);
    legacy::compress_prb(b, &x, out);
    out[0] |= inp[0] & 0xF0;
}

/// The fused kernel of any pair, `recompress_ab::<a, b>` for run-time
/// widths (256 instantiations: for tests only, native and in wasm).
#[inline]
pub fn recompress_fused_any(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> usize {
    by_width!(a, fused_a(b, n, src, dst))
}

#[inline]
fn fused_a<const A: u32>(b: u32, n: usize, src: &[u8], dst: &mut [u8]) -> usize {
    match b {
        1 => recompress_ab::<A, 1>(n, src, dst),
        2 => recompress_ab::<A, 2>(n, src, dst),
        3 => recompress_ab::<A, 3>(n, src, dst),
        4 => recompress_ab::<A, 4>(n, src, dst),
        5 => recompress_ab::<A, 5>(n, src, dst),
        6 => recompress_ab::<A, 6>(n, src, dst),
        7 => recompress_ab::<A, 7>(n, src, dst),
        8 => recompress_ab::<A, 8>(n, src, dst),
        9 => recompress_ab::<A, 9>(n, src, dst),
        10 => recompress_ab::<A, 10>(n, src, dst),
        11 => recompress_ab::<A, 11>(n, src, dst),
        12 => recompress_ab::<A, 12>(n, src, dst),
        13 => recompress_ab::<A, 13>(n, src, dst),
        14 => recompress_ab::<A, 14>(n, src, dst),
        15 => recompress_ab::<A, 15>(n, src, dst),
        _ => recompress_ab::<A, 16>(n, src, dst),
    }
}

#[cfg(test)]
mod tests {
    //! The kernels on the portable model, against the scalar reference,
    //! including the tails that go through the stack buffer.
    extern crate std;
    use super::*;
    use crate::iq::testutil::{extreme_prbs, Rng};
    use std::vec;
    use std::vec::Vec;

    fn signal(rng: &mut Rng) -> Vec<i16> {
        let mut x: Vec<i16> = extreme_prbs().into_iter().flatten().collect();
        x.extend(rng.prbs(20));
        x
    }

    #[test]
    fn compress_and_decompress_match_reference() {
        let mut rng = Rng(11);
        let x = signal(&mut rng);
        let n = x.len() / 24;
        for w in 1..=16u32 {
            let len = prb_len(w);
            let mut want = vec![0u8; n * len];
            legacy::compress_scalar(w as u8, &x, &mut want).unwrap();
            for k in [0, 1, 2, 3, n] {
                let mut got = vec![0xAAu8; k * len + 20];
                assert_eq!(compress(w, &x[..k * 24], &mut got[..k * len]), k);
                assert_eq!(got[..k * len], want[..k * len], "compress w={w} k={k}");
                assert!(got[k * len..].iter().all(|&b| b == 0xAA), "w={w}");
            }
            // Any bytes: every exponent and reserved nibble.
            let wire: Vec<u8> = want.iter().map(|_| rng.next() as u8).chain(want.iter().copied()).collect();
            let m = wire.len() / len;
            let mut a = vec![0i16; m * 24];
            let mut b = vec![0i16; m * 24];
            legacy::decompress_scalar(w as u8, &wire, &mut a).unwrap();
            assert_eq!(decompress(w, m, &wire, &mut b), m);
            assert_eq!(a, b, "decompress w={w}");
        }
    }

    #[test]
    fn every_pair_matches_reference() {
        let mut rng = Rng(12);
        let x = signal(&mut rng);
        for a in 1..=16u32 {
            let la = prb_len(a);
            let mut wire = vec![0u8; x.len() / 24 * la];
            legacy::compress_scalar(a as u8, &x, &mut wire).unwrap();
            wire.extend((0..30 * la).map(|_| rng.next() as u8));
            let n = wire.len() / la;
            let mut mid = vec![0i16; n * 24];
            legacy::decompress_scalar(a as u8, &wire, &mut mid).unwrap();
            for b in 1..=16u32 {
                let lb = prb_len(b);
                let mut want = vec![0u8; n * lb];
                legacy::compress_scalar(b as u8, &mid, &mut want).unwrap();
                for i in 0..n {
                    want[i * lb] |= wire[i * la] & 0xF0;
                }
                let mut got = vec![0x55u8; n * lb];
                assert_eq!(recompress(a, n, &wire, b, &mut got), n);
                assert_eq!(got, want, "{a} -> {b}");
                let mut got = vec![0x55u8; n * lb];
                assert_eq!(recompress_chunked(a, n, &wire, b, &mut got), n);
                assert_eq!(got, want, "{a} -> {b} chunked");
                // The fused kernels of every pair, not just the listed ones.
                let mut got = vec![0x55u8; n * lb];
                assert_eq!(recompress_fused_any(a, n, &wire, b, &mut got), n);
                assert_eq!(got, want, "{a} -> {b} fused");
            }
        }
    }
}
