//! Width and method conversion for translators: decompress at one
//! udCompHdr, compress at another, without an intermediate buffer the size
//! of a symbol.
//!
//! The result is by definition `compress(out, decompress(in, src))` in the
//! `i32` domain, so converting BFP to an equal or wider width adds no error
//! in either [`Rounding`] mode: every decompressed sample `m << e` at width
//! `a` fits `b >= a` bits after the new exponent, and decompresses to the
//! same value. BFP to BFP has a fused path ([`bfp_recompress`]) which also
//! copies the reserved upper nibble of each udCompParam from input to
//! output.

use super::{bfp, block_scaling, check_width, mu_law, uncompressed, unsupported_method, Encoded, Rounding, IQ_FIELD, SAMPLES_PER_PRB};
use crate::{CompMethod, Error, Result, UdCompHdr};

/// PRBs converted per step of the generic path (a 1.5 KB stack buffer).
const CHUNK: usize = 16;

/// Re-compresses the whole BFP PRBs of `src` from `in_width` to
/// `out_width` bits into `dst`, rounding as `rounding` says; returns the
/// bytes written and the samples saturated (an output exponent above 15).
///
/// It works in the exponent domain: the output exponent follows from the
/// input mantissas and exponent, and each mantissa is shifted by the
/// difference, never through a 16-bit sample. Each output udCompParam
/// keeps the reserved upper nibble of its input.
pub fn bfp_recompress(in_width: u8, src: &[u8], out_width: u8, rounding: Rounding, dst: &mut [u8]) -> Result<Encoded> {
    let a = check_width(in_width)?;
    let b = check_width(out_width)?;
    let (la, lb) = (bfp::prb_len(a), bfp::prb_len(b));
    let n = src.len() / la;
    if dst.len() < n * lb {
        return Err(Error::Truncated { field: IQ_FIELD, offset: 0, needed: n * lb, available: dst.len() });
    }
    let dst = &mut dst[..n * lb];
    let (done, mut saturated) = fast_recompress(a, n, src, b, rounding, dst);
    for i in done..n {
        saturated += recompress_prb(a, &src[i * la..(i + 1) * la], b, rounding, &mut dst[i * lb..(i + 1) * lb]);
    }
    Ok(Encoded { len: n * lb, saturated })
}

/// The scalar reference for [`bfp_recompress`], one PRB: `inp` at width
/// `a` into `out` at width `b`; returns the samples saturated.
#[inline]
pub(crate) fn recompress_prb(a: u32, inp: &[u8], b: u32, rounding: Rounding, out: &mut [u8]) -> u32 {
    // m · 2^e_in is at most 2^30 in magnitude, so i32 holds it exactly and
    // this is the definition itself.
    let mut x = [0i32; SAMPLES_PER_PRB];
    bfp::decompress_prb(a, inp, &mut x);
    let saturated = bfp::compress_prb(b, rounding, &x, out);
    out[0] |= inp[0] & 0xF0;
    saturated
}

/// Re-compresses the whole PRBs of `src` from `in_hdr` to `out_hdr` into
/// `dst`; returns the bytes written and the samples saturated.
///
/// BFP to BFP takes [`bfp_recompress`]; other pairs go through a small
/// stack buffer of `i32` samples. `rounding` applies to a BFP output.
/// Modulation compression needs C-plane parameters and is refused here,
/// as by [`super::compress`].
pub fn recompress(in_hdr: UdCompHdr, src: &[u8], out_hdr: UdCompHdr, rounding: Rounding, dst: &mut [u8]) -> Result<Encoded> {
    if in_hdr.comp_meth == CompMethod::Bfp && out_hdr.comp_meth == CompMethod::Bfp {
        return bfp_recompress(in_hdr.iq_width, src, out_hdr.iq_width, rounding, dst);
    }
    let decompress = by_method_decompress(in_hdr.comp_meth)?;
    check_method(out_hdr.comp_meth)?;
    let la = in_hdr.prb_len()?;
    let lb = out_hdr.prb_len()?;
    let n = src.len() / la;
    if dst.len() < n * lb {
        return Err(Error::Truncated { field: IQ_FIELD, offset: 0, needed: n * lb, available: dst.len() });
    }
    let mut buf = [0i32; CHUNK * SAMPLES_PER_PRB];
    let mut saturated = 0;
    let mut i = 0;
    while i < n {
        let k = CHUNK.min(n - i);
        let x = &mut buf[..k * SAMPLES_PER_PRB];
        decompress(in_hdr.iq_width, &src[i * la..(i + k) * la], x).map_err(|e| e.at(i * la))?;
        saturated += super::compress(out_hdr, rounding, &*x, &mut dst[i * lb..(i + k) * lb])?.saturated;
        i += k;
    }
    Ok(Encoded { len: n * lb, saturated })
}

type Decompress = fn(u8, &[u8], &mut [i32]) -> Result<usize>;

fn by_method_decompress(m: CompMethod) -> Result<Decompress> {
    Ok(match m {
        CompMethod::None => uncompressed::decompress,
        CompMethod::Bfp => bfp::decompress,
        CompMethod::BlockScaling => block_scaling::decompress,
        CompMethod::MuLaw => mu_law::decompress,
        m => return Err(unsupported_method(m)),
    })
}

/// Refuses an output method [`super::compress`] does not handle before any
/// input is read.
fn check_method(m: CompMethod) -> Result<()> {
    by_method_decompress(m).map(|_| ())
}

/// Runs the fused fast path, if any, over a leading run of the `n` PRBs;
/// returns how many it did and the samples it saturated.
#[inline]
fn fast_recompress(a: u32, n: usize, src: &[u8], b: u32, rounding: Rounding, dst: &mut [u8]) -> (usize, u32) {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2.
        return unsafe { super::bfp_avx2::recompress(a, n, src, b, rounding, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::recompress(a, n, src, b, rounding, dst);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (a, n, src, b, rounding, dst);
        (0, 0)
    }
}

#[cfg(test)]
mod tests;
