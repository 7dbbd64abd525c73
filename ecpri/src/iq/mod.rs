//! IQ sample compression: the udCompMeth methods of O-RAN.WG4.CUS Annex A,
//! applied to whole PRBs.
//!
//! Samples are interleaved I, Q, read as Q1.15 fractions of full scale
//! (`i16` full scale is ±32768); one PRB is 12 REs, so 24 samples.
//! Decompression writes `i32`, exact for everything the wire can carry
//! (BFP reaches 2^15 · 2^15); compression takes `i16` or `i32` and counts
//! the samples it had to saturate ([`Encoded`]); [`saturate_i16`] narrows
//! with a count. BFP compression rounds as [`Rounding`] says. On the wire each PRB is its
//! udCompParam (0 or 1 byte, by method) followed by 24 values of udIqWidth
//! bits each, packed MSB first, which is exactly `3 * iq_width` bytes.
//!
//! | method | module | spec |
//! |---|---|---|
//! | no compression | [`uncompressed`] | udCompMeth 0 |
//! | block floating point | [`bfp`] (scalar, AVX2, wasm simd128) | Annex A.1 |
//! | block scaling | [`block_scaling`] | Annex A.2 |
//! | µ-law | [`mu_law`] | Annex A.3 |
//! | modulation compression | [`modcomp`] | Annex A.5 |
//!
//! [`compress`] and [`decompress`] dispatch on a [`UdCompHdr`]; [`convert`]
//! re-compresses between headers, with a fused path for BFP → BFP.

use crate::{CompMethod, Error, Result, UdCompHdr};
pub use sample::{saturate_i16, Encoded, Rounding, Sample};

pub mod bfp;
#[cfg(target_arch = "x86_64")]
mod bfp_avx2;
#[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), test))]
mod bfp_simd128;
mod bitpack;
#[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), test))]
mod bitpack_simd128;
pub mod block_scaling;
pub mod convert;
pub mod modcomp;
pub mod mu_law;
#[cfg(test)]
pub(crate) mod oracle;
mod sample;
#[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), test))]
mod simd128;
pub mod uncompressed;

/// The wasm simd128 BFP kernels by name, so that
/// `translators/selftest/iq_selftest` can check each of them against the
/// scalar reference inside wasmtime. Not an API.
#[doc(hidden)]
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128_kernels {
    pub use super::bfp_simd128::{compress, decompress, recompress, recompress_fused_any};
}

/// Resource elements in one PRB.
pub const RES_PER_PRB: usize = 12;
/// Samples in one PRB (an I and a Q per RE).
pub const SAMPLES_PER_PRB: usize = 2 * RES_PER_PRB;

/// Wireshark's name for the IQ payload, used when a buffer is too short.
pub(crate) const IQ_FIELD: &str = "oran_fh_cus.iq_user_data";
/// Wireshark's name for udIqWidth.
pub(crate) const WIDTH_FIELD: &str = "oran_fh_cus.udCompHdrWidth";

/// Compresses the whole PRBs of `src` (`src.len()` = 24 × n) into `dst` as
/// `hdr` says; returns the bytes written, n × `hdr.prb_len()`, and the
/// samples saturated.
///
/// `rounding` applies to BFP; the other methods quantise as their annex
/// says and read samples beyond `i16` as saturated (and counted).
/// Modulation compression needs csf and modCompScaler from the C-plane, so
/// it is not reachable from here: use [`modcomp::compress`]. Methods 5, 6
/// and the reserved ones return `Unsupported` naming udCompHdrMeth.
pub fn compress<S: Sample>(hdr: UdCompHdr, rounding: Rounding, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    match hdr.comp_meth {
        CompMethod::None => uncompressed::compress(hdr.iq_width, src, dst),
        CompMethod::Bfp => bfp::compress(hdr.iq_width, rounding, src, dst),
        CompMethod::BlockScaling => block_scaling::compress(hdr.iq_width, src, dst),
        CompMethod::MuLaw => mu_law::compress(hdr.iq_width, src, dst),
        m => Err(unsupported_method(m)),
    }
}

/// Decompresses the `n = src.len() / hdr.prb_len()` whole PRBs at the start
/// of `src` into `dst` (which must hold 24 × n samples); returns n.
///
/// Trailing bytes that do not make a whole PRB (padding) are ignored.
/// Method coverage is as for [`compress`].
pub fn decompress(hdr: UdCompHdr, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    match hdr.comp_meth {
        CompMethod::None => uncompressed::decompress(hdr.iq_width, src, dst),
        CompMethod::Bfp => bfp::decompress(hdr.iq_width, src, dst),
        CompMethod::BlockScaling => block_scaling::decompress(hdr.iq_width, src, dst),
        CompMethod::MuLaw => mu_law::decompress(hdr.iq_width, src, dst),
        m => Err(unsupported_method(m)),
    }
}

/// The error for a method the generic entry points do not handle.
pub(crate) fn unsupported_method(m: CompMethod) -> Error {
    Error::Unsupported { field: "oran_fh_cus.udCompHdrMeth", offset: 0, value: m.bits() as u32 }
}

/// Checks udIqWidth is 1–16 and returns it as a `u32` for shifting.
pub(crate) fn check_width(iq_width: u8) -> Result<u32> {
    if (1..=16).contains(&iq_width) {
        Ok(iq_width as u32)
    } else {
        Err(Error::ReservedValue { field: WIDTH_FIELD, offset: 0, value: iq_width as u32 })
    }
}

/// Checks the buffers of a compressor: `src` holds whole PRBs and `dst`
/// has room for them at `prb_len` bytes each. Returns the PRB count.
pub(crate) fn check_compress<S>(src: &[S], dst: &[u8], prb_len: usize) -> Result<usize> {
    if !src.len().is_multiple_of(SAMPLES_PER_PRB) {
        return Err(Error::LengthMismatch {
            field: IQ_FIELD,
            offset: 0,
            declared: src.len().div_ceil(SAMPLES_PER_PRB) * SAMPLES_PER_PRB,
            actual: src.len(),
        });
    }
    let n = src.len() / SAMPLES_PER_PRB;
    if dst.len() < n * prb_len {
        return Err(Error::Truncated { field: IQ_FIELD, offset: 0, needed: n * prb_len, available: dst.len() });
    }
    Ok(n)
}

/// Checks the buffers of a decompressor and returns the PRB count:
/// every whole PRB in `src`, which `dst` must have room for.
pub(crate) fn check_decompress(src: &[u8], dst: &[i32], prb_len: usize) -> Result<usize> {
    let n = src.len() / prb_len;
    if dst.len() < n * SAMPLES_PER_PRB {
        return Err(Error::Truncated {
            field: IQ_FIELD,
            offset: 0,
            needed: n * SAMPLES_PER_PRB * 4,
            available: dst.len() * 4,
        });
    }
    Ok(n)
}

/// The 24 samples of PRB `i` of a checked buffer.
#[inline(always)]
pub(crate) fn prb<S>(src: &[S], i: usize) -> &[S; SAMPLES_PER_PRB] {
    // Callers index whole PRBs that `check_*` has counted, so this never fails.
    src[i * SAMPLES_PER_PRB..(i + 1) * SAMPLES_PER_PRB].try_into().unwrap()
}

/// The 24 output samples of PRB `i` of a checked buffer.
#[inline(always)]
pub(crate) fn prb_mut(dst: &mut [i32], i: usize) -> &mut [i32; SAMPLES_PER_PRB] {
    (&mut dst[i * SAMPLES_PER_PRB..(i + 1) * SAMPLES_PER_PRB]).try_into().unwrap()
}

/// Rounds `num / den` to the nearest integer, halves away from zero
/// (MATLAB's and the spec's `round`). `den` must be positive.
#[inline]
pub(crate) fn div_round(num: i64, den: i64) -> i64 {
    let q = (num.abs() + den / 2) / den;
    if num < 0 {
        -q
    } else {
        q
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Signals shared by the codec tests.
    extern crate std;
    use super::SAMPLES_PER_PRB;

    /// A deterministic xorshift64* generator, so failures reproduce.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// A PRB whose amplitude is random too, so every exponent occurs.
        pub fn prb(&mut self) -> [i16; SAMPLES_PER_PRB] {
            let shift = (self.next() % 17) as u32;
            let mut p = [0i16; SAMPLES_PER_PRB];
            for s in p.iter_mut() {
                *s = ((self.next() as i16) as i32 >> shift.min(15)) as i16;
                if shift == 16 {
                    *s = 0;
                }
            }
            p
        }

        /// `n` PRBs of [`Rng::prb`].
        pub fn prbs(&mut self, n: usize) -> std::vec::Vec<i16> {
            (0..n).flat_map(|_| self.prb()).collect()
        }
    }

    /// PRBs at the edges of the range: zeros, full scale both ways, -32768
    /// alone, alternating extremes, and every power of two around each
    /// exponent boundary.
    pub fn extreme_prbs() -> std::vec::Vec<[i16; SAMPLES_PER_PRB]> {
        let mut v = std::vec![
            [0; SAMPLES_PER_PRB],
            [i16::MAX; SAMPLES_PER_PRB],
            [i16::MIN; SAMPLES_PER_PRB],
            [-1; SAMPLES_PER_PRB],
            [1; SAMPLES_PER_PRB],
        ];
        let mut alt = [0i16; SAMPLES_PER_PRB];
        for (i, s) in alt.iter_mut().enumerate() {
            *s = if i % 2 == 0 { i16::MIN } else { i16::MAX };
        }
        v.push(alt);
        let mut lone = [0i16; SAMPLES_PER_PRB];
        lone[23] = i16::MIN;
        v.push(lone);
        for k in 0..16 {
            let p = 1i32 << k;
            for d in [-1i32, 0, 1] {
                for sign in [1i32, -1] {
                    let x = (sign * (p + d)).clamp(-32768, 32767) as i16;
                    let mut prb = [0i16; SAMPLES_PER_PRB];
                    prb[(k * 5 + 7) % SAMPLES_PER_PRB] = x;
                    prb[(k * 3) % SAMPLES_PER_PRB] = (-(x as i32) / 3) as i16;
                    v.push(prb);
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::testutil::Rng;
    use super::*;

    #[test]
    fn dispatch_matches_the_method_modules() {
        let x = Rng(4).prbs(3);
        for (m, w) in [(CompMethod::None, 16), (CompMethod::Bfp, 9), (CompMethod::BlockScaling, 8), (CompMethod::MuLaw, 12)] {
            let hdr = UdCompHdr::new(m, w);
            let len = hdr.prb_len().unwrap();
            let mut a = std::vec![0u8; 3 * len];
            let mut b = std::vec![0u8; 3 * len];
            let done = Encoded { len: 3 * len, saturated: 0 };
            assert_eq!(compress(hdr, Rounding::Nearest, &x, &mut a), Ok(done), "{hdr}");
            let direct = match m {
                CompMethod::None => uncompressed::compress(w, &x, &mut b),
                CompMethod::Bfp => bfp::compress(w, Rounding::Nearest, &x, &mut b),
                CompMethod::BlockScaling => block_scaling::compress(w, &x, &mut b),
                _ => mu_law::compress(w, &x, &mut b),
            };
            assert_eq!(direct, Ok(done));
            assert_eq!(a, b, "{hdr}");
            let mut y = [0i32; 72];
            assert_eq!(decompress(hdr, &a, &mut y), Ok(3), "{hdr}");
            // i32 input within the i16 range compresses identically.
            let wide: std::vec::Vec<i32> = x.iter().map(|&v| v as i32).collect();
            assert_eq!(compress(hdr, Rounding::Nearest, &wide, &mut b), Ok(done), "{hdr}");
            assert_eq!(a, b, "{hdr}");
        }
    }

    #[test]
    fn methods_without_a_u_plane_layout_are_refused() {
        for m in [4u8, 5, 6, 7, 15] {
            let hdr = UdCompHdr::new(CompMethod::from_bits(m), 8);
            let e = Error::Unsupported { field: "oran_fh_cus.udCompHdrMeth", offset: 0, value: m as u32 };
            assert_eq!(compress(hdr, Rounding::Truncate, &[0i16; 24], &mut [0; 64]), Err(e));
            assert_eq!(decompress(hdr, &[0; 64], &mut [0; 48]), Err(e));
        }
        let bad = UdCompHdr::new(CompMethod::Bfp, 0);
        assert_eq!(
            compress(bad, Rounding::Truncate, &[0i16; 24], &mut [0; 64]),
            Err(Error::ReservedValue { field: WIDTH_FIELD, offset: 0, value: 0 })
        );
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!([div_round(5, 2), div_round(-5, 2), div_round(4, 3), div_round(-4, 3)], [3, -3, 1, -1]);
    }
}
