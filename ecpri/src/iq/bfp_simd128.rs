//! BFP on wasm32 with simd128: the max and shift stages in 128-bit vectors,
//! the bit packing in the scalar [`bitpack`](super::bitpack) code.
//!
//! Equivalence with the reference, step by step:
//! - `t = x ^ (x >> 15)` is `x` for `x >= 0` and `-x - 1 = |x| - 1` for
//!   `x < 0`, so `max(t)` over the PRB is the spec's
//!   `maxValue = max(max(x), |min(x)| - 1)`, and `33 - lzcnt32(maxValue)`
//!   is `bitlen(maxValue) + 1`;
//! - `i16x8_shr` is the arithmetic shift the reference does lane by lane,
//!   and `i16x8_shl` wraps at 16 bits exactly like `((m as i32) << e) as i16`;
//! - the three lane-swapping maxima reduce eight lanes to their maximum in
//!   every lane.
//!
//! wasm cannot run in this repository's tests yet, so off wasm the same
//! kernel is compiled against `portable`, a lane-by-lane model of the few
//! intrinsics it uses, and tested against the scalar reference.

use super::bfp::prb_len;
use super::{bitpack, SAMPLES_PER_PRB};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use core::arch::wasm32::{
    i16x8_extract_lane, i16x8_max, i16x8_shl, i16x8_shr, i16x8_shuffle, v128, v128_load, v128_store, v128_xor,
};
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use portable::{
    i16x8_extract_lane, i16x8_max, i16x8_shl, i16x8_shr, i16x8_shuffle, v128, v128_load, v128_store, v128_xor,
};

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

/// Compresses every PRB of `src` into `dst` (n PRBs of 3w + 1 bytes);
/// returns the PRB count.
pub(super) fn compress(w: u32, src: &[i16], dst: &mut [u8]) -> usize {
    let len = prb_len(w);
    let mut done = 0;
    for (x, out) in src.chunks_exact(SAMPLES_PER_PRB).zip(dst.chunks_exact_mut(len)) {
        let x: &[i16; SAMPLES_PER_PRB] = x.try_into().unwrap_or(&[0; SAMPLES_PER_PRB]);
        let v = load3(x);
        let t = v.map(|v| v128_xor(v, i16x8_shr(v, 15)));
        let mut m = i16x8_max(t[0], i16x8_max(t[1], t[2]));
        m = i16x8_max(m, i16x8_shuffle::<4, 5, 6, 7, 0, 1, 2, 3>(m, m));
        m = i16x8_max(m, i16x8_shuffle::<2, 3, 0, 1, 6, 7, 4, 5>(m, m));
        m = i16x8_max(m, i16x8_shuffle::<1, 0, 3, 2, 5, 4, 7, 6>(m, m));
        let max_value = i16x8_extract_lane::<0>(m) as u16 as u32;
        let e = (33 - max_value.leading_zeros()).saturating_sub(w);
        out[0] = e as u8;
        let mut m = [0i16; SAMPLES_PER_PRB];
        store3(v.map(|v| i16x8_shr(v, e)), &mut m);
        bitpack::pack(w, &m, &mut out[1..]);
        done += 1;
    }
    done
}

/// Decompresses the first `n` PRBs of `src` into `dst`; returns `n`.
pub(super) fn decompress(w: u32, n: usize, src: &[u8], dst: &mut [i16]) -> usize {
    let len = prb_len(w);
    let mut done = 0;
    for (inp, out) in src.chunks_exact(len).zip(dst.chunks_exact_mut(SAMPLES_PER_PRB)).take(n) {
        let out: &mut [i16; SAMPLES_PER_PRB] = match out.try_into() {
            Ok(o) => o,
            Err(_) => break,
        };
        let e = (inp[0] & 0x0F) as u32;
        bitpack::unpack(w, &inp[1..], out);
        let v = load3(out);
        store3(v.map(|v| i16x8_shl(v, e)), out);
        done += 1;
    }
    done
}

/// A lane-by-lane model of the wasm32 simd128 intrinsics used above, with
/// their documented semantics, so the kernel's logic is tested off wasm.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(non_camel_case_types)]
mod portable {
    /// Eight i16 lanes, lane 0 at the lowest address as on wasm.
    pub type v128 = [i16; 8];

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

    /// `i16x8.shr_s`: arithmetic shift by `amt` modulo 16.
    pub fn i16x8_shr(a: v128, amt: u32) -> v128 {
        a.map(|x| x >> (amt % 16))
    }

    /// `i16x8.shl`: shift by `amt` modulo 16, dropping the bits shifted out.
    pub fn i16x8_shl(a: v128, amt: u32) -> v128 {
        a.map(|x| x << (amt % 16))
    }

    /// `i16x8.max_s`.
    pub fn i16x8_max(a: v128, b: v128) -> v128 {
        core::array::from_fn(|i| a[i].max(b[i]))
    }

    /// `v128.xor`.
    pub fn v128_xor(a: v128, b: v128) -> v128 {
        core::array::from_fn(|i| a[i] ^ b[i])
    }

    /// `i16x8.extract_lane_s`.
    pub fn i16x8_extract_lane<const N: usize>(a: v128) -> i16 {
        a[N]
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
        [I0, I1, I2, I3, I4, I5, I6, I7].map(|i| if i < 8 { a[i] } else { b[i - 8] })
    }
}
