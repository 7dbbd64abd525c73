//! udCompMeth 0, no compression: each sample is a plain udIqWidth-bit two's
//! complement value and there is no udCompParam.
//!
//! The spec fixes only the wire format. This codec reads a sample as a
//! Q1.15 fraction of full scale, as BFP does, so at a width `w` below 16 it
//! sends the `w` most significant bits of the `i16` (an arithmetic shift
//! right by `16 - w`, truncating like BFP's reference) and shifts them back
//! on receipt. Width 16 is the usual big-endian I and Q. Samples beyond
//! `i16` are saturated and counted.

use super::sample::to_i16_counted;
use super::{bitpack, check_compress, check_decompress, check_width, prb, prb_mut, Encoded, Sample, SAMPLES_PER_PRB};
use crate::Result;

/// Compresses whole PRBs of `src` into `dst`; returns the bytes written
/// (`3 * iq_width` per PRB) and the samples saturated.
pub fn compress<S: Sample>(iq_width: u8, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let len = 3 * w as usize;
    let n = check_compress(src, dst, len)?;
    let mut saturated = 0;
    for i in 0..n {
        let v = prb(src, i).map(|s| to_i16_counted(s, &mut saturated) >> (16 - w));
        bitpack::pack(w, &v, &mut dst[i * len..(i + 1) * len]);
    }
    Ok(Encoded { len: n * len, saturated })
}

/// Decompresses the whole PRBs of `src` into `dst`; returns the PRB count.
pub fn decompress(iq_width: u8, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let len = 3 * w as usize;
    let n = check_decompress(src, dst, len)?;
    for i in 0..n {
        let mut v = [0i16; SAMPLES_PER_PRB];
        bitpack::unpack(w, &src[i * len..(i + 1) * len], &mut v);
        for (o, v) in prb_mut(dst, i).iter_mut().zip(v) {
            *o = (v as i32) << (16 - w);
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
        assert_eq!(compress(16, &src, &mut out), Ok(Encoded { len: 48, saturated: 0 }));
        assert_eq!(out[..4], [0x80, 0x00, 0x01, 0x02]);
        assert_eq!(out[46..], [0xFF, 0xFF]);
        let mut back = [0i32; 24];
        assert_eq!(decompress(16, &out, &mut back), Ok(1));
        assert_eq!(back, src.map(|v| v as i32));
        // Beyond i16: saturated and counted.
        let mut wide = src.map(|v| v as i32);
        wide[2] = 40_000;
        wide[3] = -40_000;
        assert_eq!(compress(16, &wide, &mut out), Ok(Encoded { len: 48, saturated: 2 }));
        assert_eq!(out[4..8], [0x7F, 0xFF, 0x80, 0x00]);
    }

    #[test]
    fn narrow_widths_keep_the_top_bits() {
        let mut rng = Rng(7);
        for w in 1..=16u8 {
            let src = rng.prbs(5);
            let mut out = [0u8; 5 * 48];
            let len = compress(w, &src, &mut out).unwrap().len;
            assert_eq!(len, 5 * 3 * w as usize);
            let mut back = [0i32; 5 * 24];
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
        assert!(matches!(compress(0, &[0i16; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(compress(17, &[0i16; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert!(matches!(compress(16, &[0i16; 23], &mut out), Err(Error::LengthMismatch { .. })));
        assert!(matches!(compress(16, &[0i16; 48], &mut out), Err(Error::Truncated { needed: 96, .. })));
        let mut back = [0i32; 23];
        assert!(matches!(decompress(16, &[0; 48], &mut back), Err(Error::Truncated { .. })));
        // Trailing padding is not a PRB.
        let mut back = [0i32; 24];
        assert_eq!(decompress(8, &[0; 30], &mut back), Ok(1));
    }
}
