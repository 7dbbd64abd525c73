//! AVX2 fast paths for BFP: compress, decompress (widened to `i32` and
//! shifted by the exponent in 32 bits), and, in [`requant`], compression
//! rounded to nearest and the fused re-compression in both modes.
//!
//! Each step handles two PRBs, one in each 128-bit lane of a `__m256i`, so
//! every per-PRB quantity (exponent, shift) is per lane and no instruction
//! mixes PRBs. A PRB's 24 samples are three vectors of eight; eight values
//! of `w` bits pack into exactly `w` bytes, so each vector is one
//! byte-aligned group on the wire.
//!
//! Packing a group (widths 1–14), all in-lane:
//! 1. `srlv_epi32` by the exponent and a `w`-bit mask give the mantissas
//!    (a logical shift of the I/Q pair is fine: the bits it drags in lie
//!    above bit `w`, since `exponent + w <= 16`);
//! 2. `madd_epi16` by `(2^w, 1)` joins each I and Q into `2w` bits;
//! 3. `sllv_epi64` and `srlv_epi64` join two REs into `4w` bits per 64-bit
//!    half, the first half shifted left by 4 when `w` is odd so that both
//!    halves end on a byte boundary (the left shift also moves the second
//!    RE up, to bit `32 + 2w` or above, past every bit the shuffle reads:
//!    a shift rather than `mul_epu32`, which LLVM turns into a 64-bit
//!    multiply of three instructions more when it spills the multiplier);
//! 4. one byte shuffle (two and an OR for odd `w`, which share a byte)
//!    puts the halves big-endian at bytes `0..w`.
//!
//! Unpacking is the reverse: a shuffle builds, for value `i` at bit
//! `s = w*i mod 8` of byte `b`, the big-endian pair `b, b+1` in a 16-bit
//! lane; `mullo` by `2^s` left-aligns it; widths that can straddle three
//! bytes add byte `b+2` shifted down with `mulhi_epu16` by the same `2^s`;
//! `mulhi_epi16` by `2^w` is the arithmetic shift by `16 - w`.
//!
//! The exponent's `bitlen` comes from converting the PRB maximum to `f32`
//! and reading its exponent field, which is exact for values below 2^24.
//! The udCompParam byte never leaves the vector registers: it is OR-ed in
//! front of the first packed group.
//!
//! Truncating compression of `i16` (exponent at most 15, so the shift by
//! the exponent can be logical, as above) keeps its own kernel; the rest
//! work in the exponent domain ([`requant`]). Compression is
//! software-pipelined ([`pipelined`]): the chain from load to exponent and
//! the chain from shift to store are long, and issuing them for different
//! pairs side by side keeps both in flight.
//!
//! Stores are 16 bytes per group and overlap the next group, so the loops
//! stop while a whole step still lands inside the output; the callers
//! finish the last few PRBs with the scalar reference.

use core::arch::x86_64::*;

use super::bfp::prb_len;
use super::Rounding;

mod requant;
pub(super) use requant::recompress;

/// Whether this CPU has AVX2 and FMA (every AVX2 CPU made has both;
/// compression to nearest uses an FMA): detected at run time with `std`,
/// otherwise known at compile time from `target_feature`.
#[inline]
pub(super) fn available() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "avx2", target_feature = "fma"))
    }
}

// Packing kinds (const parameter `K`).
const EVEN: u8 = 0;
const ODD: u8 = 1;
const W15: u8 = 2;
const W16: u8 = 3;

// Unpacking kinds (const parameter `U`).
const TWO_BYTES: u8 = 0;
const THREE_BYTES: u8 = 1;
const U15: u8 = 2;
const U16: u8 = 3;

const fn pack_kind(w: u32) -> u8 {
    match w {
        16 => W16,
        15 => W15,
        _ if w % 2 == 1 => ODD,
        _ => EVEN,
    }
}

const fn unpack_kind(w: u32) -> u8 {
    match w {
        16 => U16,
        15 => U15,
        11 | 13 | 14 => THREE_BYTES,
        _ => TWO_BYTES,
    }
}

/// Byte shuffles that place the two 64-bit halves of a packed lane at bytes
/// `0..w`: `[first half, second half]` (merged for even widths).
const fn pack_shuffles(w: u32) -> [[u8; 16]; 2] {
    let mut s = [[0x80u8; 16]; 2];
    if w == 16 {
        let mut j = 0;
        while j < 16 {
            s[0][j] = (j ^ 1) as u8;
            j += 1;
        }
        return s;
    }
    let odd = w % 2 == 1;
    let o = if odd { 4 } else { 0 };
    let n0 = ((4 * w + o) / 8) as usize;
    let b1 = (4 * w / 8) as usize;
    let second = if odd { 1 } else { 0 };
    let mut j = 0;
    while j < n0 {
        s[0][j] = (n0 - 1 - j) as u8;
        s[second][b1 + j] = (8 + n0 - 1 - j) as u8;
        j += 1;
    }
    s
}

/// Unpacking tables for width `w`: the shuffle for bytes `b, b+1`, the
/// shuffle for byte `b+2`, and the 16-bit multipliers `2^s`.
const fn unpack_tables(w: u32) -> ([u8; 16], [u8; 16], [u16; 8]) {
    let mut hi = [0x80u8; 16];
    let mut lo = [0x80u8; 16];
    let mut mul = [1u16; 8];
    let mut i = 0;
    while i < 8 {
        let bit = w as usize * i;
        let (b, s) = (bit / 8, bit % 8);
        hi[2 * i] = (b + 1) as u8;
        hi[2 * i + 1] = b as u8;
        if s + w as usize > 16 {
            lo[2 * i + 1] = (b + 2) as u8;
        }
        mul[i] = 1 << s;
        i += 1;
    }
    (hi, lo, mul)
}

const PACK_SHUF: [[[u8; 16]; 2]; 17] = {
    let mut t = [[[0u8; 16]; 2]; 17];
    let mut w = 1;
    while w <= 16 {
        t[w] = pack_shuffles(w as u32);
        w += 1;
    }
    t
};

const UNPACK: [([u8; 16], [u8; 16], [u16; 8]); 17] = {
    let mut t = [([0u8; 16], [0u8; 16], [0u16; 8]); 17];
    let mut w = 1;
    while w <= 16 {
        t[w] = unpack_tables(w as u32);
        w += 1;
    }
    t
};

/// A 16-byte table broadcast to both lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn bcast(t: &[u8; 16]) -> __m256i {
    // SAFETY: `t` is exactly 16 readable bytes; loadu has no alignment need.
    _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr() as *const __m128i) })
}

/// Constants for packing at one width, built once per call.
#[derive(Clone, Copy)]
struct Pack {
    mask: __m256i,
    madd: __m256i,
    sll: __m256i,
    srl: __m256i,
    shuf0: __m256i,
    shuf1: __m256i,
    bias: __m256i,
}

impl Pack {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(w: u32) -> Pack {
        let o = if w % 2 == 1 { 4 } else { 0 };
        let (sll, srl) = if w == 15 {
            // sllv counts for the first RE pair and the second (see `pack`).
            (_mm256_setr_epi64x(34, 30, 34, 30), _mm256_setr_epi64x(4, 0, 4, 0))
        } else {
            let (m0, m1) = ((2 * w + o) as i64, (2 * w) as i64);
            (_mm256_setr_epi64x(m0, m1, m0, m1), _mm256_setr_epi64x(32 - o as i64, 32, 32 - o as i64, 32))
        };
        Pack {
            mask: _mm256_set1_epi16(((1u32 << w) - 1) as u16 as i16),
            madd: _mm256_set1_epi32(((1u32 << 16) | ((1u32 << w) & 0xFFFF)) as i32),
            sll,
            srl,
            shuf0: bcast(&PACK_SHUF[w as usize][0]),
            shuf1: bcast(&PACK_SHUF[w as usize][1]),
            bias: _mm256_set1_epi32(125 + w as i32),
        }
    }
}

/// Constants for unpacking at one width, built once per call.
#[derive(Clone, Copy)]
struct Unpack {
    hi: __m256i,
    lo: __m256i,
    mul: __m256i,
    sign: __m256i,
}

impl Unpack {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(w: u32) -> Unpack {
        let (hi, lo, mul) = &UNPACK[w as usize];
        Unpack {
            hi: bcast(hi),
            lo: bcast(lo),
            // SAFETY: `mul` is 8 u16 = 16 readable bytes; loadu is unaligned.
            mul: _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(mul.as_ptr() as *const __m128i) }),
            sign: _mm256_set1_epi16((1u32 << (w % 16)) as u16 as i16),
        }
    }
}

/// Per-lane BFP exponents of two PRBs (lane = PRB), in the low 16 bits of
/// every 32-bit element of the lane (the high 16 bits zero).
#[inline]
#[target_feature(enable = "avx2")]
fn exponents(x: &[__m256i; 3], bias: __m256i) -> __m256i {
    let mx = _mm256_max_epi16(x[0], _mm256_max_epi16(x[1], x[2]));
    let mn = _mm256_min_epi16(x[0], _mm256_min_epi16(x[1], x[2]));
    // !min = |min| - 1 for a negative min, and negative otherwise, so each
    // element is now >= 0 and their maximum is the spec's maxValue.
    let mut m = _mm256_max_epi16(mx, _mm256_xor_si256(mn, _mm256_set1_epi32(-1)));
    m = _mm256_max_epi16(m, _mm256_bsrli_epi128::<8>(m));
    m = _mm256_max_epi16(m, _mm256_bsrli_epi128::<4>(m));
    m = _mm256_max_epi16(m, _mm256_bsrli_epi128::<2>(m));
    // Element 0 of each lane holds the maximum: zero-extend it into every
    // 32-bit element, convert, and read the f32 exponent field, which is
    // bitlen + 126 (0 for a zero maximum).
    let m = _mm256_shuffle_epi8(m, _mm256_set1_epi32(0x8080_0100u32 as i32));
    let f = _mm256_castps_si256(_mm256_cvtepi32_ps(m));
    // max(0, field - (125 + w)) in one saturating 16-bit subtraction.
    _mm256_subs_epu16(_mm256_srli_epi32::<23>(f), bias)
}

/// Shifts one group of each lane right by the lane's exponent and packs it
/// into bytes `0..w` of the lane.
#[inline]
#[target_feature(enable = "avx2")]
fn pack<const K: u8>(x: __m256i, e: __m256i, p: &Pack) -> __m256i {
    if K == W16 {
        return _mm256_shuffle_epi8(x, p.shuf0);
    }
    pack_m::<K>(_mm256_srlv_epi32(x, e), p)
}

/// Packs one group of mantissas of each lane (sign-extended, or with
/// anything above bit `w`) into bytes `0..w` of the lane.
#[inline]
#[target_feature(enable = "avx2")]
fn pack_m<const K: u8>(m: __m256i, p: &Pack) -> __m256i {
    if K == W16 {
        return _mm256_shuffle_epi8(m, p.shuf0);
    }
    let y = _mm256_and_si256(m, p.mask);
    let q = if K == W15 {
        // madd's 2^15 does not fit an i16 and the RE pair needs 34-bit
        // shifts, so join with plain shifts.
        let pr = _mm256_or_si256(
            _mm256_and_si256(_mm256_slli_epi32::<15>(y), _mm256_set1_epi32(0x3FFF_8000)),
            _mm256_srli_epi32::<16>(y),
        );
        _mm256_or_si256(
            _mm256_sllv_epi64(_mm256_and_si256(pr, _mm256_set1_epi64x(0xFFFF_FFFF)), p.sll),
            _mm256_sllv_epi64(_mm256_srli_epi64::<32>(pr), p.srl),
        )
    } else {
        let pr = _mm256_madd_epi16(y, p.madd);
        // Low RE shifted left by 2w + o (the high one goes to bit 32 + 2w
        // + o, above the 4w + o bits read), plus high RE shifted left by
        // o: the low RE's 2w bits vanish in the right shift by 32 - o
        // since 2w <= 28 when o = 4.
        _mm256_or_si256(_mm256_sllv_epi64(pr, p.sll), _mm256_srlv_epi64(pr, p.srl))
    };
    let r = _mm256_shuffle_epi8(q, p.shuf0);
    if K == EVEN {
        r
    } else {
        _mm256_or_si256(r, _mm256_shuffle_epi8(q, p.shuf1))
    }
}

/// Unpacks the group at bytes `0..w` of each lane into sign-extended
/// mantissas.
#[inline]
#[target_feature(enable = "avx2")]
fn unpack<const U: u8>(g: __m256i, u: &Unpack) -> __m256i {
    let hi = _mm256_shuffle_epi8(g, u.hi);
    if U == U16 {
        return hi;
    }
    let mut v = _mm256_mullo_epi16(hi, u.mul);
    if U != TWO_BYTES {
        v = _mm256_or_si256(v, _mm256_mulhi_epu16(_mm256_shuffle_epi8(g, u.lo), u.mul));
    }
    if U == U15 {
        _mm256_srai_epi16::<1>(v)
    } else {
        _mm256_mulhi_epi16(v, u.sign)
    }
}

/// Loads 16 bytes at `a` into lane 0 and 16 bytes at `b` into lane 1.
///
/// # Safety
/// Both pointers must be valid for 16-byte reads.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load2<T>(a: *const T, b: *const T) -> __m256i {
    // SAFETY: the caller guarantees both 16-byte reads; loadu is unaligned.
    unsafe { _mm256_loadu2_m128i(b as *const __m128i, a as *const __m128i) }
}

/// Moves the first packed group of each lane up one byte and puts the
/// udCompParam `param` (already in byte 0, other bytes zero) in front.
#[inline]
#[target_feature(enable = "avx2")]
fn with_param(r0: __m256i, param: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_bslli_epi128::<1>(r0), param)
}

/// Byte 0 of each lane of `v` masked with `m`, every other byte zero.
#[inline]
#[target_feature(enable = "avx2")]
fn byte0(v: __m256i, m: u8) -> __m256i {
    _mm256_and_si256(v, _mm256_setr_epi32(m as i32, 0, 0, 0, m as i32, 0, 0, 0))
}

/// Writes two packed PRBs of width `w` at `out`, lane 0 at `out` and lane 1
/// at `out + 3w + 1`. With `HEAD`, `r[0]` already starts with the
/// udCompParam byte ([`with_param`]); without, `r[0]` is a bare group and
/// `c0`, `c1` are written as the udCompParam bytes. Writes reach
/// `out + 2 * (3w + 1) + 16 - w` and go in address order, so each 16-byte
/// store's spill is overwritten by the next.
///
/// # Safety
/// `out` must be valid for writes of `2 * (3w + 1) + 16 - w` bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_pair<const HEAD: bool>(out: *mut u8, w: usize, r: &[__m256i; 3], c0: u8, c1: u8) {
    // SAFETY: the last store, lane 1's third group, ends at
    // out + (3w+1) + 1 + 2w + 16 = out + 2(3w+1) + 16 - w, and every other
    // write ends before it; the caller guarantees all of that is writable.
    // storeu has no alignment requirement.
    unsafe {
        let first = if HEAD { 0 } else { 1 };
        for (lane, out) in [out, out.add(3 * w + 1)].into_iter().enumerate() {
            if !HEAD {
                *out = if lane == 0 { c0 } else { c1 };
            }
            for (k, r) in r.iter().enumerate() {
                let v = if lane == 0 { _mm256_castsi256_si128(*r) } else { _mm256_extracti128_si256::<1>(*r) };
                let at = if k == 0 { first } else { 1 + k * w };
                _mm_storeu_si128(out.add(at) as *mut __m128i, v);
            }
        }
    }
}

/// Runs `back(i, front(i))` for pairs i = start, start + 2, ... while
/// `fits(i)` and `go(&front(i))`, and returns the first pair index not
/// done.
///
/// Software-pipelined: `front` of pair i + 2 is issued before `back` of
/// pair i. Each half is a long dependency chain (unpack or load, then the
/// exponent reduction; then shift, pack and store), and putting both
/// pairs' halves side by side lets the scheduler overlap them (+30% for
/// the 9 to 12 bit re-compression). `go` lets a caller leave the rare pair
/// that needs the scalar reference to its own code outside this loop: a
/// call inside it makes the vector constants live across the call, and
/// LLVM then keeps them on the stack and reloads them every pair (-40%).
#[inline(always)]
fn pipelined<S: Copy>(
    start: usize,
    fits: impl Fn(usize) -> bool,
    front: impl Fn(usize) -> S,
    go: impl Fn(&S) -> bool,
    back: impl FnMut(usize, S),
) -> usize {
    pipelined_by::<2, S>(start, fits, front, go, back)
}

/// [`pipelined`] over steps of `STEP` PRBs.
#[inline(always)]
fn pipelined_by<const STEP: usize, S: Copy>(
    start: usize,
    fits: impl Fn(usize) -> bool,
    front: impl Fn(usize) -> S,
    go: impl Fn(&S) -> bool,
    mut back: impl FnMut(usize, S),
) -> usize {
    let mut i = start;
    if !fits(i) {
        return i;
    }
    let mut cur = front(i);
    loop {
        if !go(&cur) {
            return i;
        }
        let more = fits(i + STEP);
        let next = if more { front(i + STEP) } else { cur };
        back(i, cur);
        i += STEP;
        if !more {
            return i;
        }
        cur = next;
    }
}

/// Compresses a leading run of the PRBs of `src` into `dst`, which is
/// exactly n PRBs of `3w + 1` bytes; returns how many PRBs it did and the
/// samples it saturated.
#[target_feature(enable = "avx2,fma")]
pub(super) fn compress(w: u32, rounding: Rounding, src: &[i16], dst: &mut [u8]) -> (usize, u32) {
    // At width 16 rounding to nearest is the identity, as truncation is.
    if rounding == Rounding::Nearest && w < 16 {
        return requant::compress_nearest(w, src, dst);
    }
    // Truncating an i16 never needs an exponent above 15: nothing saturates,
    // and the exponent comes from the vector reduction alone.
    let done = match pack_kind(w) {
        W16 => compress_k::<W16>(w, src, dst),
        W15 => compress_k::<W15>(w, src, dst),
        ODD => compress_k::<ODD>(w, src, dst),
        _ => compress_k::<EVEN>(w, src, dst),
    };
    (done, 0)
}

#[target_feature(enable = "avx2")]
fn compress_k<const K: u8>(w: u32, src: &[i16], dst: &mut [u8]) -> usize {
    let (len, wb) = (prb_len(w), w as usize);
    let n = (src.len() / 24).min(dst.len() / len);
    let p = Pack::new(w);
    let dst_len = dst.len();
    let out = dst.as_mut_ptr();
    pipelined(
        0,
        |i| i + 2 <= n && (i + 2) * len + 16 - wb <= dst_len,
        |i| {
            let s = src[24 * i..24 * (i + 2)].as_ptr();
            // SAFETY: `s` points at 48 samples (two PRBs); the six 16-byte
            // reads are at samples 0, 8, 16, 24, 32 and 40.
            let x = unsafe { [load2(s, s.add(24)), load2(s.add(8), s.add(32)), load2(s.add(16), s.add(40))] };
            // Width 16 always has exponent 0.
            let e = if K == W16 { _mm256_setzero_si256() } else { exponents(&x, p.bias) };
            (x, e)
        },
        |_| true,
        |i, (x, e)| {
            let mut r = x.map(|x| pack::<K>(x, e, &p));
            let out = out.wrapping_add(i * len);
            if K == W16 {
                // SAFETY: pair i fits, so the end of `store_pair`'s writes,
                // i * len + 2 * len + 16 - w, is within `dst`.
                unsafe { store_pair::<false>(out, wb, &r, 0, 0) };
            } else {
                r[0] = with_param(r[0], byte0(e, 0xFF));
                // SAFETY: as above.
                unsafe { store_pair::<true>(out, wb, &r, 0, 0) };
            }
        },
    )
}

/// Decompresses a leading run of the first `n` PRBs of `src` into `dst`
/// (room for n PRBs); returns how many PRBs it did. Reads may go past the
/// n PRBs but not past `src`.
#[target_feature(enable = "avx2")]
pub(super) fn decompress(w: u32, n: usize, src: &[u8], dst: &mut [i32]) -> usize {
    match unpack_kind(w) {
        U16 => decompress_k::<U16>(w, n, src, dst),
        U15 => decompress_k::<U15>(w, n, src, dst),
        THREE_BYTES => decompress_k::<THREE_BYTES>(w, n, src, dst),
        _ => decompress_k::<TWO_BYTES>(w, n, src, dst),
    }
}

/// Loads the udCompParam and three groups of two PRBs at `s` and
/// `s + len`, PRB per lane.
///
/// # Safety
/// `s` must be valid for reads of `len + 2w + 17` bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_prb_pair(s: *const u8, len: usize, w: usize) -> (__m256i, [__m256i; 3]) {
    // SAFETY: the furthest read is 16 bytes at s + len + 1 + 2w, which the
    // caller guarantees.
    unsafe {
        let t = s.add(len);
        let param = load2(s, t);
        (param, [load2(s.add(1), t.add(1)), load2(s.add(1 + w), t.add(1 + w)), load2(s.add(1 + 2 * w), t.add(1 + 2 * w))])
    }
}

#[target_feature(enable = "avx2")]
fn decompress_k<const U: u8>(w: u32, n: usize, src: &[u8], dst: &mut [i32]) -> usize {
    let (len, wb) = (prb_len(w), w as usize);
    let n = n.min(dst.len() / 24);
    let u = Unpack::new(w);
    let mut i = 0;
    while i + 2 <= n && (i + 1) * len + 2 * wb + 17 <= src.len() {
        // SAFETY: reads end at (i+1)*len + 2w + 17, inside `src` by the loop
        // condition.
        let (_, g) = unsafe { load_prb_pair(src.as_ptr().add(i * len), len, wb) };
        // Widen the mantissas and shift in 32 bits: m << e reaches 2^30.
        let (e0, e1) = (src[i * len] & 0x0F, src[(i + 1) * len] & 0x0F);
        let (s0, s1) = (_mm_cvtsi32_si128(e0 as i32), _mm_cvtsi32_si128(e1 as i32));
        let d = dst[24 * i..24 * (i + 2)].as_mut_ptr();
        for (k, g) in g.iter().enumerate() {
            let m = unpack::<U>(*g, &u);
            let lo = _mm256_sll_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(m)), s0);
            let hi = _mm256_sll_epi32(_mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(m)), s1);
            // SAFETY: `d` points at 48 samples; the six 32-byte stores are
            // at samples 0, 8, 16 (lane 0) and 24, 32, 40 (lane 1).
            unsafe {
                _mm256_storeu_si256(d.add(8 * k) as *mut __m256i, lo);
                _mm256_storeu_si256(d.add(24 + 8 * k) as *mut __m256i, hi);
            }
        }
        i += 2;
    }
    i
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn tables_by_hand() {
        // Width 9: halves of 36 bits; the first shifted to 40 bits (5
        // bytes), the second right-aligned in 5 bytes from byte 4.
        let s = pack_shuffles(9);
        assert_eq!(s[0][..6], [4, 3, 2, 1, 0, 0x80]);
        assert_eq!(s[1][..10], [0x80, 0x80, 0x80, 0x80, 12, 11, 10, 9, 8, 0x80]);
        // Width 12: 48-bit halves, 6 bytes each, no shared byte.
        let s = pack_shuffles(12);
        assert_eq!(s[0][..13], [5, 4, 3, 2, 1, 0, 13, 12, 11, 10, 9, 8, 0x80]);
        assert_eq!(s[1], [0x80; 16]);
        // Width 11, value 5 starts at bit 55 = byte 6 bit 7: needs byte 8.
        let (hi, lo, mul) = unpack_tables(11);
        assert_eq!((hi[10], hi[11], lo[11], mul[5]), (7, 6, 8, 128));
        assert_eq!(unpack_kind(10), TWO_BYTES);
        assert_eq!(unpack_kind(12), TWO_BYTES);
    }

    #[test]
    fn kernels_cover_all_but_the_tail() {
        // The equality tests in `bfp` and `convert` only mean something if
        // the vector loops, not the scalar tail, did most of the work.
        assert!(available(), "this x86_64 CPU lacks AVX2 or FMA: the fast paths cannot be tested here");
        let n = 273;
        let src = std::vec![0x1234i16; n * 24];
        for w in 1..=16u32 {
            let len = prb_len(w);
            let mut wire = std::vec![0u8; n * len];
            for r in [Rounding::Nearest, Rounding::Truncate] {
                // SAFETY: AVX2 was checked above.
                let (done, _) = unsafe { compress(w, r, &src, &mut wire) };
                assert!(done + 6 >= n, "compress w={w} {r:?} did {done}");
            }
            let mut out = std::vec![0i32; n * 24];
            // SAFETY: as above.
            let done = unsafe { decompress(w, n, &wire, &mut out) };
            assert!(done + 6 >= n, "decompress w={w} did {done}");
            for b in 1..=16u32 {
                for r in [Rounding::Nearest, Rounding::Truncate] {
                    let mut dst = std::vec![0u8; n * prb_len(b)];
                    // SAFETY: as above.
                    let (done, _) = unsafe { recompress(w, n, &wire, b, r, &mut dst) };
                    assert!(done + 6 >= n, "recompress {w}->{b} {r:?} did {done}");
                }
            }
        }
    }

    /// Random wire bytes at width `a`, PRB i at exponent i mod 16.
    fn every_exponent(a: u32, n: usize, seed: u64) -> std::vec::Vec<u8> {
        let mut rng = crate::iq::testutil::Rng(seed);
        let len = prb_len(a);
        let mut wire: std::vec::Vec<u8> = (0..n * len).map(|_| rng.next() as u8).collect();
        for i in 0..n {
            wire[i * len] = (wire[i * len] & 0xF0) | (i % 16) as u8;
        }
        wire
    }

    #[test]
    fn kernels_equal_the_scalar_reference_at_every_exponent() {
        // Every width pair, both modes, every input exponent 0-15, random
        // mantissas and reserved nibbles: the kernels' bytes and saturation
        // counts are the scalar reference's, PRB for PRB.
        assert!(available(), "this x86_64 CPU lacks AVX2 or FMA: the fast paths cannot be tested here");
        let n = 64;
        for a in 1..=16u32 {
            let la = prb_len(a);
            let wire = every_exponent(a, n, 0xA000 + a as u64);
            for b in 1..=16u32 {
                let lb = prb_len(b);
                for r in [Rounding::Nearest, Rounding::Truncate] {
                    let mut want = std::vec![0u8; n * lb];
                    let mut saturated = 0;
                    for i in 0..n {
                        saturated += crate::iq::convert::recompress_prb(a, &wire[i * la..(i + 1) * la], b, r, &mut want[i * lb..(i + 1) * lb]);
                    }
                    let mut got = std::vec![0x55u8; n * lb];
                    // SAFETY: AVX2 was checked above.
                    let (done, s) = unsafe { recompress(a, n, &wire, b, r, &mut got) };
                    assert!(done + 6 >= n, "{a}->{b} {r:?} did {done}");
                    let kernel_saturated: u32 = (0..done)
                        .map(|i| {
                            let mut one = std::vec![0u8; lb];
                            crate::iq::convert::recompress_prb(a, &wire[i * la..(i + 1) * la], b, r, &mut one)
                        })
                        .sum();
                    assert_eq!(got[..done * lb], want[..done * lb], "{a}->{b} {r:?}");
                    assert_eq!(s, kernel_saturated, "{a}->{b} {r:?} saturation count");
                    if a > b {
                        assert!(saturated > 0 || b > 14, "{a}->{b}: the high exponents saturate somewhere");
                    }
                }
            }
        }
    }

    #[test]
    fn compress_kernels_equal_the_scalar_reference() {
        // Samples spanning every exponent, and width 1 rounded to nearest,
        // whose top needs exponent 16 (the saturating fallback).
        assert!(available(), "this x86_64 CPU lacks AVX2 or FMA: the fast paths cannot be tested here");
        let mut rng = crate::iq::testutil::Rng(0xC0);
        let mut src = std::vec::Vec::new();
        for i in 0..96 {
            src.extend((0..24).map(|_| (rng.next() as i16) >> (i % 17).min(15)));
        }
        src.extend(crate::iq::testutil::extreme_prbs().into_iter().flatten());
        let n = src.len() / 24;
        for w in 1..=16u32 {
            let len = prb_len(w);
            for r in [Rounding::Nearest, Rounding::Truncate] {
                let mut want = std::vec![0u8; n * len];
                let all = crate::iq::bfp::compress_scalar(w as u8, r, &src, &mut want).unwrap();
                let mut got = std::vec![0u8; n * len];
                // SAFETY: AVX2 was checked above.
                let (done, s) = unsafe { compress(w, r, &src, &mut got) };
                assert!(done + 6 >= n, "w={w} {r:?} did {done}");
                assert_eq!(got[..done * len], want[..done * len], "w={w} {r:?}");
                let mut head = std::vec![0u8; done * len];
                let part = crate::iq::bfp::compress_scalar(w as u8, r, &src[..done * 24], &mut head).unwrap();
                assert_eq!(s, part.saturated, "w={w} {r:?} saturation count");
                if w == 1 && r == Rounding::Nearest {
                    assert!(all.saturated > 0 && s > 0, "width 1 to nearest saturates at full scale");
                }
            }
        }
    }

    #[test]
    fn unpack_kinds_cover_straddles() {
        for w in 1..=16u32 {
            let straddles = (0..8).any(|i| (w as usize * i) % 8 + w as usize > 16);
            assert_eq!(straddles, unpack_kind(w) != TWO_BYTES && unpack_kind(w) != U16, "w={w}");
        }
    }
}
