//! The sample types the codecs take and give, the BFP rounding mode, and
//! the saturation that every narrowing counts.
//!
//! Decompression writes `i32`: BFP can carry `mantissa · 2^exponent` up to
//! 2^15 · 2^15, which an `i16` cannot hold, and a silent wrap turned large
//! exponents into wrong samples (issue 17). Compression takes `i16` or
//! `i32`; what the wire cannot carry is saturated and counted.

/// A sample type the compressors accept: `i16` (Q1.15 full scale) or `i32`
/// (the decompressed domain, which can exceed `i16`). Sealed.
pub trait Sample: sealed::Sealed + Copy + Default + 'static {
    /// The sample as an `i32`.
    fn to_i32(self) -> i32;
    /// `src` as `i16` samples when it is one, so the fast paths can take it.
    #[doc(hidden)]
    fn as_i16(src: &[Self]) -> Option<&[i16]>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
}

impl Sample for i16 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn as_i16(src: &[i16]) -> Option<&[i16]> {
        Some(src)
    }
}

impl Sample for i32 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self
    }
    #[inline(always)]
    fn as_i16(_: &[i32]) -> Option<&[i16]> {
        None
    }
}

/// How BFP compression quantises a sample to its mantissa at exponent `e`.
///
/// Both produce the same wire format, and every receiver decodes either
/// unchanged (decompression is `m << e` whatever produced `m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// `m = x >> e`, toward minus infinity: O-RAN.WG4.CUS Annex A.1 as
    /// written, bit-exact with fhi_lib and srsRAN.
    Truncate,
    /// `m = round(x / 2^e)`, halves away from zero, at the smallest
    /// exponent whose mantissas all fit: about 7 dB less error.
    Nearest,
}

impl Rounding {
    /// The mode named `truncate` or `nearest` (config keys use these).
    pub fn from_name(name: &str) -> Option<Rounding> {
        match name {
            "truncate" => Some(Rounding::Truncate),
            "nearest" => Some(Rounding::Nearest),
            _ => None,
        }
    }

    /// The mode's name, as [`Rounding::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Rounding::Truncate => "truncate",
            Rounding::Nearest => "nearest",
        }
    }
}

/// What a compressor wrote: `len` bytes, of which `saturated` samples could
/// not be represented and were clipped to the nearest value that could.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Encoded {
    /// Bytes written.
    pub len: usize,
    /// Samples clipped (0 for any `i16` input except BFP width 1 rounded to nearest).
    pub saturated: u32,
}

/// Converts `src` to `i16` into `dst`, clipping to the `i16` range;
/// converts `min(src.len(), dst.len())` samples and returns how many it
/// clipped.
pub fn saturate_i16(src: &[i32], dst: &mut [i16]) -> u32 {
    let mut clipped = 0;
    for (d, &s) in dst.iter_mut().zip(src) {
        let (v, c) = sat_i16(s);
        *d = v;
        clipped += c as u32;
    }
    clipped
}

/// `x` clipped to the `i16` range, and whether it was.
#[inline(always)]
pub(crate) fn sat_i16(x: i32) -> (i16, bool) {
    let v = x.clamp(i16::MIN as i32, i16::MAX as i32);
    (v as i16, v != x)
}

/// `x` as an `i16`, clipped and counted into `clipped`: the input domain of
/// the methods other than BFP, which read samples as Q1.15.
#[inline(always)]
pub(crate) fn to_i16_counted<S: Sample>(x: S, clipped: &mut u32) -> i16 {
    let (v, c) = sat_i16(x.to_i32());
    *clipped += c as u32;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_counts_instead_of_wrapping() {
        let src = [165_888, -30_720, 32_767, 32_768, -32_768, -32_769, i32::MAX, i32::MIN, 0];
        let mut dst = [1i16; 9];
        assert_eq!(saturate_i16(&src, &mut dst), 5);
        assert_eq!(dst, [32_767, -30_720, 32_767, 32_767, -32_768, -32_768, 32_767, -32_768, 0]);
        // A shorter destination converts only what fits.
        let mut two = [0i16; 2];
        assert_eq!(saturate_i16(&src, &mut two), 1);
        assert_eq!(two, [32_767, -30_720]);
    }

    #[test]
    fn rounding_names() {
        for r in [Rounding::Truncate, Rounding::Nearest] {
            assert_eq!(Rounding::from_name(r.name()), Some(r));
        }
        assert_eq!(Rounding::from_name("round"), None);
    }
}
