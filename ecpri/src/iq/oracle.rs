//! A BFP oracle written from O-RAN.WG4.CUS Annex A.1 for the tests, in
//! plain `i64` arithmetic and bit-by-bit packing, sharing no code with the
//! codecs it checks.

extern crate std;
use crate::iq::Rounding;
use std::vec;
use std::vec::Vec;

/// The spec oracle: `(exponent, mantissas, saturated)` for one PRB of
/// arbitrary integers. Truncate takes Annex A.1's formula literally;
/// Nearest tries every exponent from 0 and keeps the first whose rounded
/// mantissas all fit. Above 15 both send 15 and clip.
pub fn oracle_compress(w: u32, rounding: Rounding, x: &[i64]) -> (u32, Vec<i64>, u32) {
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let q = |v: i64, e: u32| -> i64 {
        let d = 1i64 << e;
        match rounding {
            Rounding::Truncate => v.div_euclid(d),
            Rounding::Nearest => v.signum() * ((2 * v.abs() + d) / (2 * d)),
        }
    };
    let e = match rounding {
        Rounding::Truncate => {
            let max = x.iter().copied().max().unwrap();
            let min = x.iter().copied().min().unwrap();
            let max_value = max.max(-min - 1);
            let mut bitlen = 0;
            while bitlen < 64 && (max_value >> bitlen) != 0 {
                bitlen += 1;
            }
            (bitlen + 1 - w as i64).max(0) as u32
        }
        Rounding::Nearest => (0..40).find(|&e| x.iter().all(|&v| (lo..=hi).contains(&q(v, e)))).unwrap(),
    };
    let e = e.min(15);
    let mut saturated = 0;
    let m = x
        .iter()
        .map(|&v| {
            let m = q(v, e);
            saturated += !(lo..=hi).contains(&m) as u32;
            m.clamp(lo, hi)
        })
        .collect();
    (e, m, saturated)
}

/// Writes `w`-bit two's-complement values MSB first, one bit at a time.
pub fn oracle_pack(w: u32, m: &[i64]) -> Vec<u8> {
    let mut out = vec![0u8; (m.len() * w as usize).div_ceil(8)];
    let mut bit = 0;
    for &v in m {
        for k in (0..w).rev() {
            if (v >> k) & 1 == 1 {
                out[bit / 8] |= 0x80 >> (bit % 8);
            }
            bit += 1;
        }
    }
    out
}

/// Decodes one PRB from the wire as the spec says: exponent in the low
/// nibble, `w`-bit two's-complement mantissas MSB first, value `m · 2^e`.
pub fn oracle_decompress(w: u32, prb: &[u8]) -> Vec<i64> {
    let e = (prb[0] & 0x0F) as u32;
    let mut bit = 8;
    (0..24)
        .map(|_| {
            let mut v = 0i64;
            for _ in 0..w {
                v = (v << 1) | ((prb[bit / 8] >> (7 - bit % 8)) & 1) as i64;
                bit += 1;
            }
            if v >= 1 << (w - 1) {
                v -= 1 << w;
            }
            v * (1i64 << e)
        })
        .collect()
}


/// The definition of a BFP to BFP conversion of one PRB: decode at `a`,
/// encode at `b`, keep the reserved nibble. Returns the bytes and the
/// saturation count.
pub fn oracle_recompress(a: u32, prb: &[u8], b: u32, rounding: Rounding) -> (Vec<u8>, u32) {
    let x = oracle_decompress(a, prb);
    let (e, m, saturated) = oracle_compress(b, rounding, &x);
    let mut out = vec![(prb[0] & 0xF0) | e as u8];
    out.extend(oracle_pack(b, &m));
    (out, saturated)
}
