//! udCompMeth 0, no compression: each sample is a plain udIqWidth-bit two's
//! complement value and there is no udCompParam.
//!
//! The spec fixes only the wire format. This codec reads an `i16` as a Q1.15
//! fraction of full scale, as BFP does, so at a width `w` below 16 it sends
//! the `w` most significant bits (an arithmetic shift right by `16 - w`,
//! truncating like BFP's reference) and shifts them back on receipt. Width
//! 16 is the usual big-endian I and Q.

use super::{bitpack, check_compress, check_decompress, check_width, prb, prb_mut, SAMPLES_PER_PRB};
use crate::Result;

/// Compresses whole PRBs of `src` into `dst`; returns the bytes written
/// (`3 * iq_width` per PRB).
pub fn compress(iq_width: u8, src: &[i16], dst: &mut [u8]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = 3 * w as usize;
    let n = check_compress(src, dst, len)?;
    if w == 16 {
        for (o, s) in dst.chunks_exact_mut(2).zip(src) {
            o.copy_from_slice(&s.to_be_bytes());
        }
    } else {
        for i in 0..n {
            let mut v = *prb(src, i);
            for s in v.iter_mut() {
                *s >>= 16 - w;
            }
            bitpack::pack(w, &v, &mut dst[i * len..(i + 1) * len]);
        }
    }
    Ok(n * len)
}

/// Decompresses the whole PRBs of `src` into `dst`; returns the PRB count.
pub fn decompress(iq_width: u8, src: &[u8], dst: &mut [i16]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = 3 * w as usize;
    let n = check_decompress(src, dst, len)?;
    if w == 16 {
        for (s, o) in src[..n * len].chunks_exact(2).zip(dst.iter_mut()) {
            *o = i16::from_be_bytes([s[0], s[1]]);
        }
    } else {
        for i in 0..n {
            let out = prb_mut(dst, i);
            bitpack::unpack(w, &src[i * len..(i + 1) * len], out);
            for s in out.iter_mut() {
                *s <<= 16 - w;
            }
        }
    }
    debug_assert!(dst.len() >= n * SAMPLES_PER_PRB);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iq::testutil::Rng;
    use crate::Error;

    #[test]
    fn sixteen_bits_by_hand() {
        let mut src = [0i16; 24];
        src[0] = i16::MIN;
        src[1] = 0x0102;
        src[23] = -1;
        let mut out = [0u8; 48];
        assert_eq!(compress(16, &src, &mut out), Ok(48));
        assert_eq!(out[..4], [0x80, 0x00, 0x01, 0x02]);
        assert_eq!(out[46..], [0xFF, 0xFF]);
        let mut back = [0i16; 24];
        assert_eq!(decompress(16, &out, &mut back), Ok(1));
        assert_eq!(back, src);
    }

    #[test]
    fn narrow_widths_keep_the_top_bits() {
        let mut rng = Rng(7);
        for w in 1..=16u8 {
            let src = rng.prbs(5);
            let mut out = [0u8; 5 * 48];
            let len = compress(w, &src, &mut out).unwrap();
            assert_eq!(len, 5 * 3 * w as usize);
            let mut back = [0i16; 5 * 24];
            assert_eq!(decompress(w, &out[..len], &mut back), Ok(5));
            for (a, b) in src.iter().zip(&back) {
                let err = *a as i32 - *b as i32;
                assert!((0..1 << (16 - w)).contains(&err), "w={w} {a} -> {b}");
            }
        }
    }

    #[test]
    fn errors() {
        let mut out = [0u8; 48];
        assert!(matches!(compress(0, &[0; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(compress(17, &[0; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(compress(16, &[0; 23], &mut out), Err(Error::LengthMismatch { .. })));
        assert!(matches!(compress(16, &[0; 48], &mut out), Err(Error::Truncated { needed: 96, .. })));
        let mut back = [0i16; 23];
        assert!(matches!(decompress(16, &[0; 48], &mut back), Err(Error::Truncated { .. })));
        // Trailing padding is not a PRB.
        let mut back = [0i16; 24];
        assert_eq!(decompress(8, &[0; 30], &mut back), Ok(1));
    }
}
