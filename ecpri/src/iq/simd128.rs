//! The wasm32 simd128 intrinsics the IQ kernels use: `core::arch::wasm32`'s
//! on wasm32 with simd128, and elsewhere `portable`, a lane-by-lane model
//! of the same functions with their documented semantics, so the kernels'
//! logic is also tested natively. The real thing is tested inside
//! wasmtime by `translators/selftest/iq_selftest`.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) use core::arch::wasm32::*;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) use portable::*;

/// A vector constant from 16 bytes, lane 0 first.
#[inline(always)]
pub(super) const fn bytes(b: [u8; 16]) -> v128 {
    // SAFETY: both types are 16 plain bytes with no invalid values, and
    // v128's lanes are laid out little-endian, lane 0 at byte 0.
    unsafe { core::mem::transmute::<[u8; 16], v128>(b) }
}

/// A vector constant from eight 16-bit lanes.
#[inline(always)]
pub(super) const fn halves(h: [u16; 8]) -> v128 {
    let mut b = [0u8; 16];
    let mut i = 0;
    while i < 8 {
        b[2 * i] = h[i] as u8;
        b[2 * i + 1] = (h[i] >> 8) as u8;
        i += 1;
    }
    bytes(b)
}

/// `i8x16.swizzle(v, t)` for a constant `t` whose indices are all below
/// 16, written so that Cranelift makes it one `pshufb` with `t` in memory.
///
/// LLVM turns a swizzle by a constant into `i8x16.shuffle v, u`, `u` any
/// register, and Cranelift lowers a shuffle of two different operands to
/// `vpermi2b` (AVX-512 VBMI: two shuffle-port micro-ops) or to two
/// `pshufb` and an OR; of one operand twice, to one `pshufb`. So the odd
/// bytes come from a copy of `v` that LLVM cannot see is `v` (a
/// `v128.bitselect` of `v` with itself, which it keeps) and Cranelift can
/// (it folds that bitselect away): LLVM emits `i8x16.shuffle v, v`. Were
/// either compiler to change, the result would stay the same, only slower.
#[inline(always)]
pub(super) fn swizzle_const(v: v128, t: v128) -> v128 {
    const EVEN: v128 = halves([0xFF00; 8]);
    const ODD: v128 = halves([0x00FF; 8]);
    let copy = v128_bitselect(v, v, v);
    // Out-of-range indices (0xFF) zero the other half's bytes.
    v128_or(i8x16_swizzle(v, v128_or(t, EVEN)), i8x16_swizzle(copy, v128_or(t, ODD)))
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(non_camel_case_types, dead_code)]
mod portable {
    //! One function per wasm instruction used, each as the spec defines it.

    /// 16 bytes, lane 0 at the lowest address, as on wasm.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C, align(16))]
    pub struct v128([u8; 16]);

    impl v128 {
        fn u16s(self) -> [u16; 8] {
            core::array::from_fn(|i| u16::from_le_bytes([self.0[2 * i], self.0[2 * i + 1]]))
        }
        fn from_u16s(h: [u16; 8]) -> v128 {
            let mut b = [0u8; 16];
            for (i, h) in h.iter().enumerate() {
                b[2 * i..2 * i + 2].copy_from_slice(&h.to_le_bytes());
            }
            v128(b)
        }
        fn u32s(self) -> [u32; 4] {
            core::array::from_fn(|i| u32::from_le_bytes(self.0[4 * i..4 * i + 4].try_into().unwrap()))
        }
        fn from_u32s(w: [u32; 4]) -> v128 {
            let mut b = [0u8; 16];
            for (i, w) in w.iter().enumerate() {
                b[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
            }
            v128(b)
        }
        fn u64s(self) -> [u64; 2] {
            core::array::from_fn(|i| u64::from_le_bytes(self.0[8 * i..8 * i + 8].try_into().unwrap()))
        }
        fn from_u64s(d: [u64; 2]) -> v128 {
            let mut b = [0u8; 16];
            for (i, d) in d.iter().enumerate() {
                b[8 * i..8 * i + 8].copy_from_slice(&d.to_le_bytes());
            }
            v128(b)
        }
        fn map16(self, f: impl Fn(i16) -> i16) -> v128 {
            v128::from_u16s(self.u16s().map(|x| f(x as i16) as u16))
        }
        fn zip16(self, o: v128, f: impl Fn(i16, i16) -> i16) -> v128 {
            let (a, b) = (self.u16s(), o.u16s());
            v128::from_u16s(core::array::from_fn(|i| f(a[i] as i16, b[i] as i16) as u16))
        }
    }

    /// `v128.load`: 16 bytes from any alignment.
    ///
    /// # Safety
    /// `p` must be valid for a 16-byte read.
    pub unsafe fn v128_load(p: *const v128) -> v128 {
        // SAFETY: the caller guarantees 16 readable bytes; unaligned read.
        unsafe { p.read_unaligned() }
    }

    /// `v128.store`: 16 bytes to any alignment.
    ///
    /// # Safety
    /// `p` must be valid for a 16-byte write.
    pub unsafe fn v128_store(p: *mut v128, v: v128) {
        // SAFETY: the caller guarantees 16 writable bytes; unaligned write.
        unsafe { p.write_unaligned(v) }
    }

    /// `v128.and`.
    pub fn v128_and(a: v128, b: v128) -> v128 {
        v128(core::array::from_fn(|i| a.0[i] & b.0[i]))
    }

    /// `v128.or`.
    pub fn v128_or(a: v128, b: v128) -> v128 {
        v128(core::array::from_fn(|i| a.0[i] | b.0[i]))
    }

    /// `v128.xor`.
    pub fn v128_xor(a: v128, b: v128) -> v128 {
        v128(core::array::from_fn(|i| a.0[i] ^ b.0[i]))
    }

    /// `v128.bitselect`: bits of `a` where `c` is set, else of `b`.
    pub fn v128_bitselect(a: v128, b: v128, c: v128) -> v128 {
        v128(core::array::from_fn(|i| (a.0[i] & c.0[i]) | (b.0[i] & !c.0[i])))
    }

    /// `v128.not`.
    pub fn v128_not(a: v128) -> v128 {
        v128(a.0.map(|x| !x))
    }

    /// `v128.load8x8_s`: eight bytes, sign-extended to 16-bit lanes.
    ///
    /// # Safety
    /// `p` must be valid for an 8-byte read.
    pub unsafe fn i16x8_load_extend_i8x8(p: *const i8) -> v128 {
        // SAFETY: the caller guarantees 8 readable bytes; unaligned read.
        let b = unsafe { (p as *const [i8; 8]).read_unaligned() };
        v128::from_u16s(b.map(|x| x as i16 as u16))
    }

    /// `i8x16.swizzle`: byte `i` is `a[s[i]]`, or 0 when `s[i] >= 16`.
    pub fn i8x16_swizzle(a: v128, s: v128) -> v128 {
        v128(s.0.map(|j| if j < 16 { a.0[j as usize] } else { 0 }))
    }

    /// `i8x16.replace_lane`.
    pub fn i8x16_replace_lane<const N: usize>(a: v128, x: i8) -> v128 {
        let mut r = a;
        r.0[N] = x as u8;
        r
    }

    /// `i16x8.splat`.
    pub fn i16x8_splat(x: i16) -> v128 {
        v128::from_u16s([x as u16; 8])
    }

    /// `i16x8.extract_lane_s`.
    pub fn i16x8_extract_lane<const N: usize>(a: v128) -> i16 {
        a.u16s()[N] as i16
    }

    /// `i16x8.mul`: the low 16 bits of each product.
    pub fn i16x8_mul(a: v128, b: v128) -> v128 {
        a.zip16(b, |x, y| x.wrapping_mul(y))
    }

    /// `i16x8.add`, wrapping.
    pub fn i16x8_add(a: v128, b: v128) -> v128 {
        a.zip16(b, |x, y| x.wrapping_add(y))
    }

    /// `i16x8.sub`, wrapping.
    pub fn i16x8_sub(a: v128, b: v128) -> v128 {
        a.zip16(b, |x, y| x.wrapping_sub(y))
    }

    /// `i16x8.abs`: -32768 stays -32768 (32768 read unsigned).
    pub fn i16x8_abs(a: v128) -> v128 {
        a.map16(|x| x.wrapping_abs())
    }

    /// `i16x8.max_s`.
    pub fn i16x8_max(a: v128, b: v128) -> v128 {
        a.zip16(b, |x, y| x.max(y))
    }

    /// `i16x8.min_s`.
    pub fn i16x8_min(a: v128, b: v128) -> v128 {
        a.zip16(b, |x, y| x.min(y))
    }

    /// `i16x8.shl`: by `amt` modulo 16, dropping the bits shifted out.
    pub fn i16x8_shl(a: v128, amt: u32) -> v128 {
        a.map16(|x| x << (amt % 16))
    }

    /// `i16x8.shr_s`: arithmetic, by `amt` modulo 16.
    pub fn i16x8_shr(a: v128, amt: u32) -> v128 {
        a.map16(|x| x >> (amt % 16))
    }

    /// `i16x8.shr_u`: logical, by `amt` modulo 16.
    pub fn u16x8_shr(a: v128, amt: u32) -> v128 {
        a.map16(|x| ((x as u16) >> (amt % 16)) as i16)
    }

    /// `i8x16.shuffle` on 16-bit lanes: index `i < 8` takes `a[i]`, else `b[i - 8]`.
    #[allow(clippy::too_many_arguments)]
    pub fn i16x8_shuffle<
        const I0: usize,
        const I1: usize,
        const I2: usize,
        const I3: usize,
        const I4: usize,
        const I5: usize,
        const I6: usize,
        const I7: usize,
    >(
        a: v128,
        b: v128,
    ) -> v128 {
        let (a, b) = (a.u16s(), b.u16s());
        v128::from_u16s([I0, I1, I2, I3, I4, I5, I6, I7].map(|i| if i < 8 { a[i] } else { b[i - 8] }))
    }

    /// `i32x4.extract_lane`.
    pub fn i32x4_extract_lane<const N: usize>(a: v128) -> i32 {
        a.u32s()[N] as i32
    }

    /// `i8x16.shuffle` on 32-bit lanes: index `i < 4` takes `a[i]`, else `b[i - 4]`.
    pub fn i32x4_shuffle<const I0: usize, const I1: usize, const I2: usize, const I3: usize>(a: v128, b: v128) -> v128 {
        let (a, b) = (a.u32s(), b.u32s());
        v128::from_u32s([I0, I1, I2, I3].map(|i| if i < 4 { a[i] } else { b[i - 4] }))
    }

    /// `i32x4.splat`.
    pub fn i32x4_splat(x: i32) -> v128 {
        v128::from_u32s([x as u32; 4])
    }

    /// `i32x4.shl`: by `amt` modulo 32.
    pub fn i32x4_shl(a: v128, amt: u32) -> v128 {
        v128::from_u32s(a.u32s().map(|x| x << (amt % 32)))
    }

    /// `i32x4.shr_u`: logical, by `amt` modulo 32.
    pub fn u32x4_shr(a: v128, amt: u32) -> v128 {
        v128::from_u32s(a.u32s().map(|x| x >> (amt % 32)))
    }

    /// `i32x4.dot_i16x8_s`: lane `i` is `a[2i] * b[2i] + a[2i+1] * b[2i+1]`,
    /// signed, wrapping.
    pub fn i32x4_dot_i16x8(a: v128, b: v128) -> v128 {
        let (a, b) = (a.u16s(), b.u16s());
        v128::from_u32s(core::array::from_fn(|i| {
            let p = |j: usize| (a[j] as i16 as i32).wrapping_mul(b[j] as i16 as i32);
            p(2 * i).wrapping_add(p(2 * i + 1)) as u32
        }))
    }

    /// `i32x4.extend_low_i16x8_s`: lanes 0-3, sign-extended.
    pub fn i32x4_extend_low_i16x8(a: v128) -> v128 {
        let h = a.u16s();
        v128::from_u32s(core::array::from_fn(|i| h[i] as i16 as i32 as u32))
    }

    /// `i32x4.extend_high_i16x8_s`: lanes 4-7, sign-extended.
    pub fn i32x4_extend_high_i16x8(a: v128) -> v128 {
        let h = a.u16s();
        v128::from_u32s(core::array::from_fn(|i| h[4 + i] as i16 as i32 as u32))
    }

    /// `i64x2.extract_lane`.
    pub fn i64x2_extract_lane<const N: usize>(a: v128) -> i64 {
        a.u64s()[N] as i64
    }

    /// `i64x2.splat`.
    pub fn i64x2_splat(x: i64) -> v128 {
        v128::from_u64s([x as u64; 2])
    }

    /// `i64x2.shl`: by `amt` modulo 64.
    pub fn i64x2_shl(a: v128, amt: u32) -> v128 {
        v128::from_u64s(a.u64s().map(|x| x << (amt % 64)))
    }

    /// `i64x2.shr_u`: logical, by `amt` modulo 64.
    pub fn u64x2_shr(a: v128, amt: u32) -> v128 {
        v128::from_u64s(a.u64s().map(|x| x >> (amt % 64)))
    }

    /// `i8x16.shuffle` on 64-bit lanes: index `i < 2` takes `a[i]`, else `b[i - 2]`.
    pub fn i64x2_shuffle<const I0: usize, const I1: usize>(a: v128, b: v128) -> v128 {
        let (a, b) = (a.u64s(), b.u64s());
        v128::from_u64s([I0, I1].map(|i| if i < 2 { a[i] } else { b[i - 2] }))
    }
}
