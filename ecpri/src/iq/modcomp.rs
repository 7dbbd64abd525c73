//! Modulation compression, udCompMeth 4 (O-RAN.WG4.CUS Annex A.5).
//!
//! The U-plane carries constellation points as `w`-bit codes with no
//! udCompParam; the C-plane (section extensions 4 and 5) says how to read
//! them: csf, the constellation shift flag, and modCompScaler. With `v` a
//! code in two's complement:
//!
//! - the normalised point is `v / 2^(w-1)`, plus `2^-w` when csf is set
//!   (the shift of Table 7.7.4.2-1: 1/2 for QPSK at `w` = 1, 1/4 for
//!   16QAM, ...), i.e. `(2v + csf) / 2^w`;
//! - the sample is that times `modCompScaler * sqrt(2)`.
//!
//! Here samples are Q1.15 fractions, so a point decodes to
//! `round((2v + csf) * unit)` with `unit = scale * sqrt(2) * 2^15 / 2^w`,
//! and compression picks the nearest code, saturated (and counted) to the
//! constellation's edge. Halves round away from zero.
//!
//! References differ on two points. modCompScaler is 15 bits, a 4-bit
//! exponent `e` above an 11-bit mantissa `m`; like NVIDIA Aerial this code
//! reads `scale = m / 2^11 * 2^-e` (in [0, 1)), where Wireshark displays
//! `m * 2^-e`, a factor 2^11 larger, which only changes the unit. For the
//! shift, Wireshark's decoder adds `2^(1-w)`, a whole code step, which
//! contradicts its own table of shifts; fhi_lib's decoder uses `2^-w`, as
//! here.

use super::{bitpack, check_compress, check_decompress, check_width, prb, prb_mut, Encoded, Sample, SAMPLES_PER_PRB};
use crate::{Error, Result};

/// Reads a 15-bit modCompScaler as a scale factor in [0, 1).
pub fn scale(mod_comp_scaler: u16) -> f64 {
    let mantissa = (mod_comp_scaler & 0x07FF) as f64;
    let exponent = ((mod_comp_scaler >> 11) & 0x0F) as i32;
    mantissa / 2048.0 / (1u32 << exponent) as f64
}

/// Rounds half away from zero without `std` (saturating; NaN gives 0).
fn round(x: f64) -> i64 {
    if x >= 0.0 {
        (x + 0.5) as i64
    } else {
        -((-x + 0.5) as i64)
    }
}

/// Checks modCompScaler fits 15 bits and returns the half-step `unit` of
/// width `w`, in `i16` units.
fn unit(w: u32, mod_comp_scaler: u16) -> Result<f64> {
    if mod_comp_scaler > 0x7FFF {
        return Err(Error::ValueOutOfRange {
            field: "oran_fh_cus.modcompscaler",
            value: mod_comp_scaler as u32,
            max: 0x7FFF,
        });
    }
    Ok(scale(mod_comp_scaler) * core::f64::consts::SQRT_2 * 32768.0 / (1u32 << w) as f64)
}

/// Compresses whole PRBs of `src` (constellation points) to the nearest
/// codes at `iq_width` bits; returns the bytes written (`3 * iq_width` per
/// PRB) and the samples beyond the constellation, sent as its edge. A zero
/// scale sends code 0.
pub fn compress<S: Sample>(iq_width: u8, csf: bool, mod_comp_scaler: u16, src: &[S], dst: &mut [u8]) -> Result<Encoded> {
    let w = check_width(iq_width)?;
    let u = unit(w, mod_comp_scaler)?;
    let len = 3 * w as usize;
    let n = check_compress(src, dst, len)?;
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let c = csf as i64 as f64;
    let mut saturated = 0;
    for i in 0..n {
        let codes = prb(src, i).map(|x| {
            if u > 0.0 {
                let v = round((x.to_i32() as f64 / u - c) / 2.0);
                saturated += !(lo..=hi).contains(&v) as u32;
                v.clamp(lo, hi) as i16
            } else {
                0
            }
        });
        bitpack::pack(w, &codes, &mut dst[i * len..(i + 1) * len]);
    }
    Ok(Encoded { len: n * len, saturated })
}

/// Decompresses the whole PRBs of `src` into constellation points; returns
/// the PRB count.
pub fn decompress(iq_width: u8, csf: bool, mod_comp_scaler: u16, src: &[u8], dst: &mut [i32]) -> Result<usize> {
    let w = check_width(iq_width)?;
    let u = unit(w, mod_comp_scaler)?;
    let len = 3 * w as usize;
    let n = check_decompress(src, dst, len)?;
    for i in 0..n {
        let mut v = [0i16; SAMPLES_PER_PRB];
        bitpack::unpack(w, &src[i * len..(i + 1) * len], &mut v);
        for (o, v) in prb_mut(dst, i).iter_mut().zip(v) {
            // |2v + csf| <= 2^16 and unit < 2^15 * sqrt(2) / 2^w: fits i32.
            *o = round((2 * v as i64 + csf as i64) as f64 * u) as i32;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::iq::testutil::Rng;
    use proptest::prelude::*;

    /// modCompScaler for 0.5: mantissa 1024, exponent 0.
    const HALF: u16 = 1024;

    #[test]
    fn scaler_format() {
        assert_eq!(scale(HALF), 0.5);
        assert_eq!(scale((3 << 11) | 1024), 0.0625);
        assert_eq!(scale(0), 0.0);
    }

    #[test]
    fn qpsk_with_shift() {
        // QPSK (w = 1), csf: codes 0 and -1 are +1/2 and -1/2 of
        // scale * sqrt(2); with scale 1/2 that is +-0.3536 of full scale.
        let p = (0.5 * core::f64::consts::SQRT_2 * 32768.0 / 2.0 + 0.5) as i16;
        assert_eq!(p, 11585);
        let mut x = [0i16; 24];
        for (i, s) in x.iter_mut().enumerate() {
            *s = if i % 3 == 0 { -p } else { p };
        }
        let mut wire = [0u8; 3];
        assert_eq!(compress(1, true, HALF, &x, &mut wire), Ok(Encoded { len: 3, saturated: 0 }));
        // Codes: -1 -> bit 1, 0 -> bit 0; pattern 1,0,0 repeating.
        assert_eq!(wire, [0b1001_0010, 0b0100_1001, 0b0010_0100]);
        let mut back = [0i32; 24];
        assert_eq!(decompress(1, true, HALF, &wire, &mut back), Ok(1));
        assert_eq!(back, x.map(|v| v as i32));
        // Beyond the constellation: the edge, counted.
        let mut far = x;
        far[0] = 30000;
        assert_eq!(compress(1, true, HALF, &far, &mut wire), Ok(Encoded { len: 3, saturated: 1 }));
        assert_eq!(wire[0] >> 7, 0);
    }

    #[test]
    fn qam16_points() {
        // 16QAM (w = 2), csf: codes -2..1 are -3/4, -1/4, 1/4, 3/4.
        let u = unit(2, HALF).unwrap();
        let mut wire = [0u8; 6];
        wire[0] = 0b1011_0001; // -2, -1, 0, 1
        let mut back = [0i32; 24];
        decompress(2, true, HALF, &wire, &mut back).unwrap();
        let want: [i32; 4] = [-3, -1, 1, 3].map(|k| round(k as f64 * u) as i32);
        assert_eq!(back[..4], want);
        let mut again = [0u8; 6];
        compress(2, true, HALF, &back, &mut again).unwrap();
        assert_eq!(again, wire);
    }

    #[test]
    fn every_code_round_trips() {
        let mut rng = Rng(77);
        for w in 1..=8u8 {
            for csf in [false, true] {
                for scaler in [HALF, (1 << 11) | 2047, 700, (2 << 11) | 1500] {
                    let wire: std::vec::Vec<u8> = (0..3 * w as usize * 4).map(|_| rng.next() as u8).collect();
                    let mut pts = [0i32; 96];
                    decompress(w, csf, scaler, &wire, &mut pts).unwrap();
                    let mut again = std::vec![0u8; wire.len()];
                    compress(w, csf, scaler, &pts, &mut again).unwrap();
                    assert_eq!(again, wire, "w={w} csf={csf} scaler={scaler:#x}");
                }
            }
        }
    }

    #[test]
    fn errors() {
        let mut out = [0u8; 6];
        assert!(matches!(compress(2, false, 0x8000, &[0i16; 24], &mut out), Err(Error::ValueOutOfRange { .. })));
        assert!(matches!(compress(0, false, HALF, &[0i16; 24], &mut out), Err(Error::ReservedValue { .. })));
        assert_eq!(compress(2, false, 0, &[1000i16; 24], &mut out), Ok(Encoded { len: 6, saturated: 0 }));
        assert_eq!(out, [0; 6]);
    }

    proptest! {
        /// Within range, decompress(compress(x)) is the nearest point: the
        /// error is at most one half-step `unit` (plus rounding).
        #[test]
        fn nearest_point(w in 1u8..=8, csf in any::<bool>(), x in proptest::array::uniform24(-20000i16..20000)) {
            let u = unit(w as u32, HALF).unwrap();
            let mut wire = [0u8; 24];
            compress(w, csf, HALF, &x, &mut wire).unwrap();
            let mut back = [0i32; 24];
            decompress(w, csf, HALF, &wire[..3 * w as usize], &mut back).unwrap();
            let top = ((1i64 << w) - 1 + csf as i64) as f64 * u;
            let bottom = -((1i64 << w) as f64) * u;
            for (a, b) in x.iter().zip(&back) {
                let a = (*a as f64).clamp(bottom, top);
                prop_assert!((a - *b as f64).abs() <= u + 0.5, "w={} {} -> {}", w, a, b);
            }
        }
    }
}
