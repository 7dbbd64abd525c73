//! Width and method conversion for translators: decompress at one
//! udCompHdr, compress at another, without an intermediate buffer the size
//! of a symbol.
//!
//! The result is by definition `compress(out, decompress(in, src))`, so
//! converting BFP to an equal or wider width adds no error beyond exact
//! re-quantisation: every decompressed sample `m << e` at width `a` fits
//! `b >= a` bits after the new exponent, and decompresses to the same value.
//! BFP to BFP has a fused fast path ([`bfp_recompress`]) which also copies
//! the reserved upper nibble of each udCompParam from input to output.

use super::{bfp, block_scaling, check_width, mu_law, uncompressed, unsupported_method, IQ_FIELD, SAMPLES_PER_PRB};
use crate::{CompMethod, Error, Result, UdCompHdr};

/// PRBs converted per step of the generic path (a 768-byte stack buffer).
const CHUNK: usize = 16;

/// Re-compresses the whole BFP PRBs of `src` from `in_width` to
/// `out_width` bits into `dst`; returns the bytes written.
///
/// Each output udCompParam keeps the reserved upper nibble of its input.
pub fn bfp_recompress(in_width: u8, src: &[u8], out_width: u8, dst: &mut [u8]) -> Result<usize> {
    let a = check_width(in_width)?;
    let b = check_width(out_width)?;
    let (la, lb) = (bfp::prb_len(a), bfp::prb_len(b));
    let n = src.len() / la;
    if dst.len() < n * lb {
        return Err(Error::Truncated { field: IQ_FIELD, offset: 0, needed: n * lb, available: dst.len() });
    }
    let dst = &mut dst[..n * lb];
    let done = fast_recompress(a, n, src, b, dst);
    let mut x = [0i16; SAMPLES_PER_PRB];
    for i in done..n {
        let inp = &src[i * la..(i + 1) * la];
        let out = &mut dst[i * lb..(i + 1) * lb];
        bfp::decompress_prb(a, inp, &mut x);
        bfp::compress_prb(b, &x, out);
        out[0] |= inp[0] & 0xF0;
    }
    Ok(n * lb)
}

/// Re-compresses the whole PRBs of `src` from `in_hdr` to `out_hdr` into
/// `dst`; returns the bytes written.
///
/// BFP to BFP takes [`bfp_recompress`]; other pairs go through a small
/// stack buffer. Modulation compression needs C-plane parameters and is
/// refused here, as by [`super::compress`].
pub fn recompress(in_hdr: UdCompHdr, src: &[u8], out_hdr: UdCompHdr, dst: &mut [u8]) -> Result<usize> {
    if in_hdr.comp_meth == CompMethod::Bfp && out_hdr.comp_meth == CompMethod::Bfp {
        return bfp_recompress(in_hdr.iq_width, src, out_hdr.iq_width, dst);
    }
    let decompress = by_method_decompress(in_hdr.comp_meth)?;
    let compress = by_method_compress(out_hdr.comp_meth)?;
    let la = in_hdr.prb_len()?;
    let lb = out_hdr.prb_len()?;
    let n = src.len() / la;
    if dst.len() < n * lb {
        return Err(Error::Truncated { field: IQ_FIELD, offset: 0, needed: n * lb, available: dst.len() });
    }
    let mut buf = [0i16; CHUNK * SAMPLES_PER_PRB];
    let mut i = 0;
    while i < n {
        let k = CHUNK.min(n - i);
        let x = &mut buf[..k * SAMPLES_PER_PRB];
        decompress(in_hdr.iq_width, &src[i * la..(i + k) * la], x).map_err(|e| e.at(i * la))?;
        compress(out_hdr.iq_width, x, &mut dst[i * lb..(i + k) * lb])?;
        i += k;
    }
    Ok(n * lb)
}

type Decompress = fn(u8, &[u8], &mut [i16]) -> Result<usize>;
type Compress = fn(u8, &[i16], &mut [u8]) -> Result<usize>;

fn by_method_decompress(m: CompMethod) -> Result<Decompress> {
    Ok(match m {
        CompMethod::None => uncompressed::decompress,
        CompMethod::Bfp => bfp::decompress,
        CompMethod::BlockScaling => block_scaling::decompress,
        CompMethod::MuLaw => mu_law::decompress,
        m => return Err(unsupported_method(m)),
    })
}

fn by_method_compress(m: CompMethod) -> Result<Compress> {
    Ok(match m {
        CompMethod::None => uncompressed::compress,
        CompMethod::Bfp => bfp::compress,
        CompMethod::BlockScaling => block_scaling::compress,
        CompMethod::MuLaw => mu_law::compress,
        m => return Err(unsupported_method(m)),
    })
}

/// Runs the fused fast path, if any, over a leading run of the `n` PRBs;
/// returns how many it did.
#[inline]
fn fast_recompress(a: u32, n: usize, src: &[u8], b: u32, dst: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if super::bfp_avx2::available() {
        // SAFETY: `available()` has just confirmed the CPU has AVX2.
        return unsafe { super::bfp_avx2::recompress(a, n, src, b, dst) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return super::bfp_simd128::recompress(a, n, src, b, dst);
    #[allow(unreachable_code)]
    {
        let _ = (a, n, src, b, dst);
        0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::iq::testutil::{extreme_prbs, Rng};
    use crate::iq::{compress, decompress};
    use std::vec;
    use std::vec::Vec;

    /// A BFP symbol at width `a`: random and extreme PRBs compressed, so
    /// exponents are what a conforming sender would choose.
    fn symbol(a: u8, rng: &mut Rng) -> Vec<u8> {
        let mut x: Vec<i16> = extreme_prbs().into_iter().flatten().collect();
        x.extend(rng.prbs(37));
        let mut wire = vec![0u8; x.len() / 24 * bfp::prb_len(a as u32)];
        bfp::compress(a, &x, &mut wire).unwrap();
        wire
    }

    /// The definition: decompress at `a`, compress at `b`, copy nibbles.
    fn reference(a: u8, src: &[u8], b: u8) -> Vec<u8> {
        let (la, lb) = (bfp::prb_len(a as u32), bfp::prb_len(b as u32));
        let n = src.len() / la;
        let mut x = vec![0i16; n * 24];
        bfp::decompress_scalar(a, src, &mut x).unwrap();
        let mut out = vec![0u8; n * lb];
        bfp::compress_scalar(b, &x, &mut out).unwrap();
        for i in 0..n {
            out[i * lb] |= src[i * la] & 0xF0;
        }
        out
    }

    #[test]
    fn widening_is_lossless() {
        let mut rng = Rng(1);
        for a in 1..=16u8 {
            let wire = symbol(a, &mut rng);
            let n = wire.len() / bfp::prb_len(a as u32);
            let mut want = vec![0i16; n * 24];
            bfp::decompress_scalar(a, &wire, &mut want).unwrap();
            for b in a..=16u8 {
                let mut out = vec![0u8; n * bfp::prb_len(b as u32)];
                assert_eq!(bfp_recompress(a, &wire, b, &mut out), Ok(out.len()));
                let mut got = vec![0i16; n * 24];
                bfp::decompress_scalar(b, &out, &mut got).unwrap();
                assert_eq!(got, want, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn every_pair_matches_the_definition_on_any_bytes() {
        let mut rng = Rng(2);
        for a in 1..=16u8 {
            // Arbitrary bytes: every exponent, reserved nibble and overflow.
            let mut wire: Vec<u8> = (0..45 * bfp::prb_len(a as u32) + 7).map(|_| rng.next() as u8).collect();
            wire.extend(symbol(a, &mut rng));
            let wire = &wire[..wire.len() / bfp::prb_len(a as u32) * bfp::prb_len(a as u32)];
            for b in 1..=16u8 {
                let want = reference(a, wire, b);
                let mut got = vec![0x55u8; want.len() + 20];
                assert_eq!(bfp_recompress(a, wire, b, &mut got), Ok(want.len()));
                assert_eq!(got[..want.len()], want[..], "{a} -> {b}");
                assert!(got[want.len()..].iter().all(|&x| x == 0x55), "{a} -> {b} wrote past the end");
            }
        }
    }

    #[test]
    fn reserved_nibble_is_copied() {
        let mut wire = vec![0u8; 2 * 28];
        bfp::compress(9, &[1000; 48], &mut wire).unwrap();
        wire[0] |= 0xA0;
        wire[28] |= 0x50;
        let mut out = vec![0u8; 2 * 37];
        bfp_recompress(9, &wire, 12, &mut out).unwrap();
        assert_eq!((out[0] & 0xF0, out[37] & 0xF0), (0xA0, 0x50));
        assert_eq!(out[0] & 0x0F, bfp::exponent(&[1000; 24], 12));
    }

    #[test]
    fn generic_pairs() {
        let mut rng = Rng(3);
        let x = rng.prbs(40);
        let hdrs = [
            UdCompHdr::new(CompMethod::None, 16),
            UdCompHdr::new(CompMethod::None, 12),
            UdCompHdr::new(CompMethod::Bfp, 9),
            UdCompHdr::new(CompMethod::BlockScaling, 8),
            UdCompHdr::new(CompMethod::MuLaw, 10),
        ];
        for hi in hdrs {
            let mut wire = vec![0u8; 40 * hi.prb_len().unwrap()];
            compress(hi, &x, &mut wire).unwrap();
            for ho in hdrs {
                let mut mid = vec![0i16; 40 * 24];
                decompress(hi, &wire, &mut mid).unwrap();
                let mut want = vec![0u8; 40 * ho.prb_len().unwrap()];
                compress(ho, &mid, &mut want).unwrap();
                let mut got = vec![0u8; want.len()];
                assert_eq!(recompress(hi, &wire, ho, &mut got), Ok(want.len()));
                assert_eq!(got, want, "{hi} -> {ho}");
            }
        }
        let mc = UdCompHdr::new(CompMethod::ModComp, 4);
        assert!(matches!(recompress(hdrs[0], &[], mc, &mut []), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn errors() {
        let mut out = [0u8; 10];
        assert!(matches!(bfp_recompress(0, &[0; 28], 9, &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(bfp_recompress(9, &[0; 28], 17, &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(bfp_recompress(9, &[0; 28], 9, &mut out), Err(Error::Truncated { needed: 28, .. })));
    }
}
