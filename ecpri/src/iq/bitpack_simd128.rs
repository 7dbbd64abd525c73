//! simd128 bit packing of one group, the vector form of
//! [`bitpack`](super::bitpack): eight `W`-bit values, MSB first, are
//! exactly `W` bytes, and one PRB is three such groups.
//!
//! Every width is compiled on its own (`const W`), so shuffles are
//! constant (`i8x16.shuffle`, one `pshufb`/`vpermi2b` on x86-64 after
//! Cranelift) and shifts are immediates.
//!
//! Unpacking value `i`, which starts at bit `s = W*i mod 8` of byte `b`:
//! a shuffle puts bytes `b, b+1` big-endian in 16-bit lane `i`; a multiply
//! by `2^s` left-aligns the value (per-lane shifts that simd128 lacks);
//! widths where `s + W > 16` can happen (11, 13, 14, 15) OR in byte `b+2`,
//! shuffled to the low byte, times `2^s`, shifted right by 8; an arithmetic
//! shift by `16 - W` sign-extends.
//!
//! Packing, the reverse: the values masked to `W` bits; `i32x4.dot` with
//! `(2^W, 1)` joins each pair into `2W` bits (plain shifts for `W = 15`,
//! whose `2^15` is not an i16); when `2W` is whole bytes (`W` = 4, 12) a
//! shuffle writes the pairs big-endian; otherwise 64-bit shifts join two
//! pairs into `4W` bits per half and a shuffle writes each half. For odd
//! `W` the halves share a byte: the first is shifted left by 4 so that both
//! end on a byte boundary (up to `W = 9` by the dot's multipliers), and
//! two shuffles are OR-ed. Widths 8 and 16 are a single shuffle each way
//! (8 unpacks with a sign-extending load).

use super::simd128::*;

/// A swizzle index that yields a zero byte.
const ZERO: u8 = 0xFF;

/// Byte `b` and bit `s` (from the MSB) where value `i` of a `w`-bit group starts.
const fn at(w: u32, i: usize) -> (usize, u32) {
    let bit = w as usize * i;
    (bit / 8, (bit % 8) as u32)
}

/// The value that unpacks into lane `i`: `i`, or with `swap` its pair
/// partner `i ^ 1` ([`Unpacker::swapped`]).
const fn value_in_lane(i: usize, swap: bool) -> usize {
    if swap {
        i ^ 1
    } else {
        i
    }
}

/// Unpacking: lane `i` is bytes `b, b+1` big-endian.
const fn unpack_hi(w: u32, swap: bool) -> [u8; 16] {
    let mut t = [ZERO; 16];
    let mut i = 0;
    while i < 8 {
        let (b, _) = at(w, value_in_lane(i, swap));
        t[2 * i] = if b + 1 < 16 { (b + 1) as u8 } else { ZERO };
        t[2 * i + 1] = b as u8;
        i += 1;
    }
    t
}

/// Unpacking: lane `i` is byte `b+2` where the value reaches it, else 0.
const fn unpack_lo(w: u32, swap: bool) -> [u8; 16] {
    let mut t = [ZERO; 16];
    let mut i = 0;
    while i < 8 {
        let (b, s) = at(w, value_in_lane(i, swap));
        if s + w > 16 {
            t[2 * i] = (b + 2) as u8;
        }
        i += 1;
    }
    t
}

/// Unpacking: the multipliers `2^s` that left-align each value.
const fn unpack_mul(w: u32, swap: bool) -> [u16; 8] {
    let mut t = [1u16; 8];
    let mut i = 0;
    while i < 8 {
        t[i] = 1 << at(w, value_in_lane(i, swap)).1;
        i += 1;
    }
    t
}

/// Whether any value of a `w`-bit group spans three bytes.
const fn straddles(w: u32) -> bool {
    let mut i = 0;
    while i < 8 {
        if at(w, i).1 + w > 16 {
            return true;
        }
        i += 1;
    }
    false
}

/// Packing: where the bytes of each 64-bit half go, starting at output
/// byte `out`. `first` is the table for the first half (for odd `w`,
/// applied to the halves shifted left by 4), else the second's (odd `w`
/// only). Width 16 is a byte swap of each lane.
///
/// Output bytes outside the group are don't-cares (the kernels overwrite
/// them), so even widths index byte 0 there: a one-input shuffle is one
/// `pshufb` with a memory operand, where zeros would take a second input.
/// For odd widths each table must be zero where the other one writes: it
/// indexes a byte its input is known to hold zero in where there is one.
const fn pack_place(w: u32, out: usize, first: bool) -> [u8; 16] {
    let mut t = [0u8; 16];
    if w == 16 {
        let mut j = 0;
        while j < 16 {
            t[j] = (j ^ 1) as u8;
            j += 1;
        }
        return t;
    }
    if w == 8 {
        // The low byte of each 16-bit lane.
        let mut j = 0;
        while j < 8 {
            t[out + j] = 2 * j as u8;
            j += 1;
        }
        return t;
    }
    if w.is_multiple_of(4) {
        // Pairs of 2w bits are whole bytes: big-endian from each u32.
        let nb = w as usize / 4;
        let mut j = 0;
        while j < 4 {
            let mut k = 0;
            while k < nb {
                t[out + j * nb + k] = (4 * j + nb - 1 - k) as u8;
                k += 1;
            }
            j += 1;
        }
        return t;
    }
    // Bytes per half: 4w bits, rounded up (odd w: 4w + 4 bits).
    let n = (4 * w as usize).div_ceil(8);
    // Each 64-bit half of the joined pairs is zero from bit 4w (4w + 4
    // after the shift by 4) up to bit 32 + 2w (36 + 2w): byte n of a half
    // lies in that range for the first table when w <= 12, for the second
    // when w <= 10.
    let zero = if w.is_multiple_of(2) {
        0
    } else if first && w <= 12 {
        n as u8
    } else if !first && w <= 10 {
        (8 + n) as u8
    } else {
        ZERO
    };
    let mut t = [zero; 16];
    let mut j = 0;
    while j < n {
        if w.is_multiple_of(2) {
            t[out + j] = (n - 1 - j) as u8;
            t[out + n + j] = (8 + n - 1 - j) as u8;
        } else if first {
            t[out + j] = (n - 1 - j) as u8;
        } else {
            // The second half starts in the first's last byte.
            t[out + n - 1 + j] = (8 + n - 1 - j) as u8;
        }
        j += 1;
    }
    t
}

/// The constants of width `W`, evaluated at compile time.
pub(super) struct Width<const W: u32>;

impl<const W: u32> Width<W> {
    const HI: v128 = bytes(unpack_hi(W, false));
    const LO: v128 = bytes(unpack_lo(W, false));
    const MUL: v128 = halves(unpack_mul(W, false));
    const HI_SWAPPED: v128 = bytes(unpack_hi(W, true));
    const LO_SWAPPED: v128 = bytes(unpack_lo(W, true));
    const MUL_SWAPPED: v128 = halves(unpack_mul(W, true));
    const ALIGNED: bool = W.is_multiple_of(8);
    const STRADDLES: bool = straddles(W);
    const MASK: v128 = halves([((1u32 << W) - 1) as u16; 8]);
    /// The top `W` bits of a lane.
    const LEFT: v128 = halves([!((1u32 << (16 - W)) - 1) as u16; 8]);
    /// Odd widths up to 9 also shift the first half left by 4 here: its
    /// multipliers `2^(W+4)` and 16 still fit an i16.
    const PRESHIFT: bool = W % 2 == 1 && W <= 9;
    const MADD: v128 = {
        let (hi, lo) = if Self::PRESHIFT { ((1u32 << (W + 4)) as u16, 16) } else { ((1u32 << W) as u16, 1) };
        let w = (1u32 << W) as u16;
        halves([hi, lo, hi, lo, w, 1, w, 1])
    };
    const PLACE: [v128; 2] = [bytes(pack_place(W, 0, true)), bytes(pack_place(W, 0, false))];
    const PLACE_AFTER_PARAM: [v128; 2] = [bytes(pack_place(W, 1, true)), bytes(pack_place(W, 1, false))];
    const PLACE_IN_RANGE: [bool; 2] = [in_range(pack_place(W, 0, true)), in_range(pack_place(W, 0, false))];
    const PLACE_AFTER_PARAM_IN_RANGE: [bool; 2] = [in_range(pack_place(W, 1, true)), in_range(pack_place(W, 1, false))];
}

/// Unpacks groups of width `W`. Its multipliers, and the shuffles that
/// may zero bytes, are kept opaque to LLVM (made once per kernel call,
/// outside the loops): with constants, LLVM turns the multiplies by `2^s`
/// into per-lane shifts, which wasm lacks and gets scalarised, and narrows
/// each 16-byte load to the bytes a shuffle reads, which costs three more
/// instructions. The main shuffle is constant, through [`swizzle_const`],
/// which reads every byte.
#[derive(Clone, Copy)]
pub(super) struct Unpacker<const W: u32> {
    lo: v128,
    mul: v128,
    swap: bool,
}

impl<const W: u32> Unpacker<W> {
    #[inline(always)]
    pub(super) fn new() -> Self {
        let opaque = core::hint::black_box::<v128>;
        Unpacker { lo: opaque(Width::<W>::LO), mul: opaque(Width::<W>::MUL), swap: false }
    }

    /// An unpacker that swaps each pair of values: lane `2k` gets value
    /// `2k + 1` and lane `2k + 1` value `2k`, so that a 32-bit lane holds
    /// the pair's first value high ([`Packer::pack_joined`]). Not for `W = 8` or 16,
    /// whose loads do not shuffle.
    #[inline(always)]
    pub(super) fn swapped() -> Self {
        debug_assert!(W != 8 && W != 16);
        let opaque = core::hint::black_box::<v128>;
        Unpacker { lo: opaque(Width::<W>::LO_SWAPPED), mul: opaque(Width::<W>::MUL_SWAPPED), swap: true }
    }

    /// Loads the group at `p` and unpacks it ([`Unpacker::unpack`]).
    ///
    /// # Safety
    /// `p` must be valid for reads of 16 bytes (8 for `W = 8`).
    #[inline(always)]
    pub(super) unsafe fn load(&self, p: *const u8) -> v128 {
        if W == 8 {
            // Bytes are the values: sign-extend eight of them.
            // SAFETY: the caller guarantees 8 readable bytes.
            return unsafe { i16x8_load_extend_i8x8(p as *const i8) };
        }
        // SAFETY: the caller guarantees 16 readable bytes; no alignment needed.
        self.unpack(unsafe { v128_load(p as *const v128) })
    }

    /// Loads the group at `p` as its values shifted left by `16 - W`, in
    /// 16-bit lanes (the low bits zero): `m << (16 - W)`, exactly.
    ///
    /// # Safety
    /// `p` must be valid for reads of 16 bytes.
    #[inline(always)]
    pub(super) unsafe fn load_left(&self, p: *const u8) -> v128 {
        // SAFETY: the caller guarantees 16 readable bytes; no alignment needed.
        let v = self.left(unsafe { v128_load(p as *const v128) });
        if W == 16 {
            v
        } else {
            v128_and(v, Width::<W>::LEFT)
        }
    }

    /// The eight `W`-bit values at bytes `0..W` of `g`, sign-extended, in
    /// 16-bit lanes. Bytes `W..16` of `g` are ignored.
    #[inline(always)]
    pub(super) fn unpack(&self, g: v128) -> v128 {
        let v = self.left(g);
        if W == 16 {
            v
        } else {
            i16x8_shr(v, 16 - W)
        }
    }

    /// Each value of `g` at the top of its 16-bit lane, the bits below it
    /// unspecified.
    #[inline(always)]
    fn left(&self, g: v128) -> v128 {
        // `self.swap` is known where this is inlined: the shuffle is constant.
        let v = swizzle_const(g, if self.swap { Width::<W>::HI_SWAPPED } else { Width::<W>::HI });
        if W == 16 {
            return v;
        }
        let mut v = if Width::<W>::ALIGNED { v } else { i16x8_mul(v, self.mul) };
        if Width::<W>::STRADDLES {
            let lo = i16x8_mul(i8x16_swizzle(g, self.lo), self.mul);
            v = v128_or(v, u16x8_shr(lo, 8));
        }
        v
    }
}

/// Packs groups of width `W`. Its byte shuffles are constant, through
/// [`swizzle_const`], except those that zero bytes (odd widths from 11),
/// which are kept opaque to LLVM like [`Unpacker`]'s: a plain constant
/// swizzle would reach Cranelift as `vpermi2b` or two `pshufb`.
#[derive(Clone, Copy)]
pub(super) struct Packer<const W: u32> {
    place: [v128; 2],
    after_param: [v128; 2],
}

impl<const W: u32> Packer<W> {
    #[inline(always)]
    pub(super) fn new() -> Self {
        let opaque = core::hint::black_box::<[v128; 2]>;
        Packer { place: opaque(Width::<W>::PLACE), after_param: opaque(Width::<W>::PLACE_AFTER_PARAM) }
    }

    /// The low `W` bits of each 16-bit lane of `m`, packed MSB first into
    /// bytes `0..W` (with `AFTER_PARAM`, bytes `1..W + 1`; `W < 16` then);
    /// the other bytes are unspecified.
    #[inline(always)]
    pub(super) fn pack<const AFTER_PARAM: bool>(&self, m: v128) -> v128 {
        let place = |k: usize, x: v128| {
            let (t, opaque, constant) = if AFTER_PARAM {
                (Width::<W>::PLACE_AFTER_PARAM[k], self.after_param[k], Width::<W>::PLACE_AFTER_PARAM_IN_RANGE[k])
            } else {
                (Width::<W>::PLACE[k], self.place[k], Width::<W>::PLACE_IN_RANGE[k])
            };
            if constant {
                swizzle_const(x, t)
            } else {
                i8x16_swizzle(x, opaque)
            }
        };
        pack::<W>(m, place)
    }

    /// [`Packer::pack`] for pairs already joined: each 32-bit lane holds
    /// the pair's first value in its high half (the low `W` bits; the bits
    /// above are ignored) and the second at the top of its low half,
    /// shifted left by `16 - W` (the bits below it zero). One shift right
    /// by `16 - W` leaves the pair as `2W` contiguous bits: cheaper than
    /// masking and `i32x4.dot`. For [`joins`] widths only.
    #[inline(always)]
    pub(super) fn pack_joined<const AFTER_PARAM: bool>(&self, y: v128) -> v128 {
        debug_assert!(joins(W));
        // Whole-byte pairs place no zeros: the shuffle is constant.
        let place = if AFTER_PARAM { Width::<W>::PLACE_AFTER_PARAM } else { Width::<W>::PLACE };
        swizzle_const(u32x4_shr(y, 16 - W), place[0])
    }
}

/// Whether every index of the shuffle `t` is below 16 (none zeroes a byte).
const fn in_range(t: [u8; 16]) -> bool {
    let mut i = 0;
    while i < 16 {
        if t[i] >= 16 {
            return false;
        }
        i += 1;
    }
    true
}

/// [`Packer::pack`], with `place(k, x)` the shuffle by its table `k`.
#[inline(always)]
fn pack<const W: u32>(m: v128, place: impl Fn(usize, v128) -> v128) -> v128 {
    if W == 16 || W == 8 {
        return place(0, m);
    }
    let y = v128_and(m, Width::<W>::MASK);
    let p = if W == 15 {
        // Lane pair (e, o) as one u32 is o << 16 | e: want e << 15 | o.
        v128_and(v128_or(i32x4_shl(y, 15), u32x4_shr(y, 16)), i32x4_splat(0x3FFF_FFFF))
    } else {
        i32x4_dot_i16x8(y, Width::<W>::MADD)
    };
    if W.is_multiple_of(4) {
        // 2W bits are whole bytes (W = 4, 12).
        return place(0, p);
    }
    // Pairs (p0, p1) as one u64 is p1 << 32 | p0: want p0 << 2W | p1. The
    // bits p1 leaves above bit 32 + 2W are never placed (for W = 15 they
    // would be, so they are cleared).
    let mut q = v128_or(i64x2_shl(p, 2 * W), u64x2_shr(p, 32));
    if W == 15 {
        q = v128_and(q, i64x2_splat((1 << 60) - 1));
    }
    if W.is_multiple_of(2) {
        place(0, q)
    } else {
        let first = if Width::<W>::PRESHIFT { q } else { i64x2_shl(q, 4) };
        v128_or(place(0, first), place(1, q))
    }
}

/// Whether [`Packer::pack_joined`] packs width `W`: a pair of values is
/// whole bytes (`W` = 4, 12).
pub(super) const fn joins(w: u32) -> bool {
    w == 4 || w == 12
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::bitpack;
    use super::super::testutil::Rng;
    use super::*;

    fn lanes(v: v128) -> [i16; 8] {
        // SAFETY: both are 16 plain bytes.
        unsafe { core::mem::transmute::<v128, [i16; 8]>(v) }
    }

    fn from_lanes(x: [i16; 8]) -> v128 {
        // SAFETY: both are 16 plain bytes.
        unsafe { core::mem::transmute::<[i16; 8], v128>(x) }
    }

    fn group<const W: u32>(rng: &mut Rng) {
        for _ in 0..200 {
            let vals: [i16; 8] = core::array::from_fn(|_| rng.next() as i16);
            let mut prb = [0i16; 24];
            prb[..8].copy_from_slice(&vals);
            let mut want = [0u8; 48];
            bitpack::pack(W, &prb, &mut want);
            for after in [false, true] {
                if after && W == 16 {
                    continue;
                }
                let k = Packer::<W>::new();
                let got = if after { k.pack::<true>(from_lanes(vals)) } else { k.pack::<false>(from_lanes(vals)) };
                let got = bytes_of(got);
                let o = after as usize;
                assert_eq!(got[o..o + W as usize], want[..W as usize], "pack w={W} after_param={after}");
            }
            // Unpack with garbage after the group.
            let mut g = [0u8; 16];
            for b in g.iter_mut() {
                *b = rng.next() as u8;
            }
            g[..W as usize].copy_from_slice(&want[..W as usize]);
            let u = Unpacker::<W>::new();
            let got = lanes(u.unpack(bytes(g)));
            let mut back = [0i16; 24];
            bitpack::unpack(W, &want, &mut back);
            assert_eq!(got, back[..8], "unpack w={W}");
            // SAFETY: `g` is 16 readable bytes.
            let left = lanes(unsafe { u.load_left(g.as_ptr()) });
            let want_left: [i16; 8] = core::array::from_fn(|i| back[i] << (16 - W));
            assert_eq!(left, want_left, "load_left w={W}");
            // SAFETY: as above.
            assert_eq!(lanes(unsafe { u.load(g.as_ptr()) }), back[..8], "load w={W}");
            if W != 8 && W != 16 {
                let s = Unpacker::<W>::swapped();
                let want: [i16; 8] = core::array::from_fn(|i| back[i ^ 1]);
                // SAFETY: as above.
                assert_eq!(lanes(unsafe { s.load(g.as_ptr()) }), want, "swapped load w={W}");
            }
            if joins(W) {
                // Pairs joined the way the re-compression scales them:
                // first value high with garbage above W bits, second
                // shifted to the top of its half.
                let joined: [i16; 8] = core::array::from_fn(|i| {
                    if i % 2 == 0 {
                        vals[i + 1] << (16 - W)
                    } else {
                        vals[i - 1] ^ (rng.next() as i16) << W
                    }
                });
                for after in [false, true] {
                    let k = Packer::<W>::new();
                    let got =
                        if after { k.pack_joined::<true>(from_lanes(joined)) } else { k.pack_joined::<false>(from_lanes(joined)) };
                    let o = after as usize;
                    assert_eq!(bytes_of(got)[o..o + W as usize], want[..W as usize], "pack_joined w={W} after_param={after}");
                }
            }
        }
    }

    fn bytes_of(v: v128) -> [u8; 16] {
        // SAFETY: both are 16 plain bytes.
        unsafe { core::mem::transmute::<v128, [u8; 16]>(v) }
    }

    #[test]
    fn groups_match_the_scalar_packing() {
        let mut rng = Rng(7);
        group::<1>(&mut rng);
        group::<2>(&mut rng);
        group::<3>(&mut rng);
        group::<4>(&mut rng);
        group::<5>(&mut rng);
        group::<6>(&mut rng);
        group::<7>(&mut rng);
        group::<8>(&mut rng);
        group::<9>(&mut rng);
        group::<10>(&mut rng);
        group::<11>(&mut rng);
        group::<12>(&mut rng);
        group::<13>(&mut rng);
        group::<14>(&mut rng);
        group::<15>(&mut rng);
        group::<16>(&mut rng);
    }

    #[test]
    fn tables_by_hand() {
        // Width 9: value 1 starts at byte 1 bit 1, value 7 at byte 7 bit 7.
        let hi = unpack_hi(9, false);
        assert_eq!((hi[2], hi[3], hi[14], hi[15]), (2, 1, 8, 7));
        assert_eq!(unpack_mul(9, false), [1, 2, 4, 8, 16, 32, 64, 128]);
        assert!(!straddles(9) && !straddles(12) && !straddles(10));
        assert!(straddles(11) && straddles(13) && straddles(14) && straddles(15));
        // Width 10: two 5-byte halves, don't-cares from byte 0.
        assert_eq!(pack_place(10, 0, true)[..11], [4, 3, 2, 1, 0, 12, 11, 10, 9, 8, 0]);
        // Width 9: 5 bytes of the shifted first half, then the second from
        // byte 4; elsewhere bytes known to be zero (5, and 8 + 5).
        assert_eq!(pack_place(9, 1, true)[..7], [5, 4, 3, 2, 1, 0, 5]);
        assert_eq!(pack_place(9, 0, false)[3..10], [13, 12, 11, 10, 9, 8, 13]);
        assert_eq!(pack_place(11, 0, false)[0], ZERO);
        // Width 12: three bytes of each u32 pair, big-endian.
        assert_eq!(pack_place(12, 1, true)[..13], [0, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12]);
    }
}
