//! Conversion tests: the fused BFP path against the spec oracle and the
//! generic definition, widening exactness at every exponent, and the
//! generic method pairs.

extern crate std;
use super::*;
use crate::iq::oracle::{oracle_decompress, oracle_recompress};
use crate::iq::testutil::{extreme_prbs, Rng};
use crate::iq::{compress, decompress};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const MODES: [Rounding; 2] = [Rounding::Truncate, Rounding::Nearest];

/// A BFP symbol at width `a`: random and extreme PRBs compressed, so
/// exponents are what a conforming sender would choose.
fn symbol(a: u8, rng: &mut Rng) -> Vec<u8> {
    let mut x: Vec<i16> = extreme_prbs().into_iter().flatten().collect();
    x.extend(rng.prbs(37));
    let mut wire = vec![0u8; x.len() / 24 * bfp::prb_len(a as u32)];
    bfp::compress(a, Rounding::Truncate, &x, &mut wire).unwrap();
    wire
}

/// Random wire bytes at width `a`: every exponent 0-15 and reserved nibble.
fn noise(a: u8, prbs: usize, rng: &mut Rng) -> Vec<u8> {
    (0..prbs * bfp::prb_len(a as u32)).map(|_| rng.next() as u8).collect()
}

/// The definition through the public API: decompress at `a` into `i32`,
/// compress at `b`, copy nibbles.
fn definition(a: u8, src: &[u8], b: u8, r: Rounding) -> (Vec<u8>, u32) {
    let (la, lb) = (bfp::prb_len(a as u32), bfp::prb_len(b as u32));
    let n = src.len() / la;
    let mut x = vec![0i32; n * 24];
    bfp::decompress_scalar(a, src, &mut x).unwrap();
    let mut out = vec![0u8; n * lb];
    let enc = bfp::compress_scalar(b, r, &x, &mut out).unwrap();
    for i in 0..n {
        out[i * lb] |= src[i * la] & 0xF0;
    }
    (out, enc.saturated)
}

#[test]
fn widening_is_lossless_at_every_exponent() {
    let mut rng = Rng(1);
    for a in 1..=16u8 {
        let la = bfp::prb_len(a as u32);
        let mut wire = symbol(a, &mut rng);
        wire.extend(noise(a, 64, &mut rng));
        let n = wire.len() / la;
        for r in MODES {
            for b in a..=16u8 {
                let mut out = vec![0u8; n * bfp::prb_len(b as u32)];
                assert_eq!(bfp_recompress(a, &wire, b, r, &mut out), Ok(Encoded { len: out.len(), saturated: 0 }), "{a} -> {b} {r:?}");
                for i in 0..n {
                    let lb = bfp::prb_len(b as u32);
                    let got = oracle_decompress(b as u32, &out[i * lb..(i + 1) * lb]);
                    assert_eq!(got, oracle_decompress(a as u32, &wire[i * la..(i + 1) * la]), "{a} -> {b} {r:?} PRB {i}");
                }
            }
        }
    }
}

#[test]
fn every_pair_matches_the_spec_on_any_bytes() {
    let mut rng = Rng(2);
    for a in 1..=16u8 {
        let la = bfp::prb_len(a as u32);
        // Arbitrary bytes: every exponent, reserved nibble and overflow.
        let mut wire = noise(a, 45, &mut rng);
        wire.extend(symbol(a, &mut rng));
        wire.extend([7u8; 5]);
        let n = wire.len() / la;
        for b in 1..=16u8 {
            let lb = bfp::prb_len(b as u32);
            for r in MODES {
                let mut want = Vec::new();
                let mut saturated = 0;
                for i in 0..n {
                    let (bytes, s) = oracle_recompress(a as u32, &wire[i * la..(i + 1) * la], b as u32, r);
                    want.extend(bytes);
                    saturated += s;
                }
                assert_eq!(definition(a, &wire, b, r), (want.clone(), saturated), "{a} -> {b} {r:?} definition");
                let mut got = vec![0x55u8; want.len() + 20];
                assert_eq!(bfp_recompress(a, &wire, b, r, &mut got), Ok(Encoded { len: n * lb, saturated }), "{a} -> {b} {r:?}");
                assert_eq!(got[..want.len()], want[..], "{a} -> {b} {r:?}");
                assert!(got[want.len()..].iter().all(|&x| x == 0x55), "{a} -> {b} wrote past the end");
            }
        }
    }
}

#[test]
fn narrowing_high_exponents_never_flips_a_sign() {
    // Issue 17: 9 -> 8 at exponents 8-15 used to wrap through i16
    // (165 888 became -30 720). Every PRB of random mantissas at every
    // exponent keeps each sample's sign (or goes to zero) and is the spec.
    let mut rng = Rng(17);
    let mut wire = noise(9, 16 * 8, &mut rng);
    for (i, p) in wire.chunks_exact_mut(28).enumerate() {
        p[0] = (i % 16) as u8;
    }
    for r in MODES {
        for i in 0..16 * 8 {
            let mut out = [0u8; 25];
            let saturated = bfp_recompress(9, &wire[i * 28..(i + 1) * 28], 8, r, &mut out).unwrap().saturated;
            let before = oracle_decompress(9, &wire[i * 28..(i + 1) * 28]);
            let after = oracle_decompress(8, &out);
            for (x, y) in before.iter().zip(&after) {
                assert!(x.signum() == y.signum() || *y == 0, "{r:?} PRB {i}: {x} -> {y}");
                // Within a step, unless clipped (exponent 16 needed).
                assert!(saturated > 0 || (x - y).abs() < 1 << (out[0] & 0x0F), "{r:?} PRB {i}: {x} -> {y}");
            }
            assert!(saturated == 0 || out[0] == 15, "{r:?} PRB {i}");
        }
    }
}

#[test]
fn reserved_nibble_is_copied() {
    let mut wire = vec![0u8; 2 * 28];
    bfp::compress(9, Rounding::Truncate, &[1000i16; 48], &mut wire).unwrap();
    wire[0] |= 0xA0;
    wire[28] |= 0x50;
    let mut out = vec![0u8; 2 * 37];
    bfp_recompress(9, &wire, 12, Rounding::Nearest, &mut out).unwrap();
    assert_eq!((out[0] & 0xF0, out[37] & 0xF0), (0xA0, 0x50));
    assert_eq!(out[0] & 0x0F, bfp::exponent(&[1000i16; 24], 12, Rounding::Nearest));
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
        compress(hi, Rounding::Truncate, &x, &mut wire).unwrap();
        for ho in hdrs {
            for r in MODES {
                let mut mid = vec![0i32; 40 * 24];
                decompress(hi, &wire, &mut mid).unwrap();
                let mut want = vec![0u8; 40 * ho.prb_len().unwrap()];
                let enc = compress(ho, r, &mid, &mut want).unwrap();
                let mut got = vec![0u8; want.len()];
                assert_eq!(recompress(hi, &wire, ho, r, &mut got), Ok(enc));
                assert_eq!(got, want, "{hi} -> {ho}");
            }
        }
    }
    let mc = UdCompHdr::new(CompMethod::ModComp, 4);
    assert!(matches!(recompress(hdrs[0], &[], mc, Rounding::Nearest, &mut []), Err(Error::Unsupported { .. })));
}

#[test]
fn errors() {
    let mut out = [0u8; 10];
    let r = Rounding::Nearest;
    assert!(matches!(bfp_recompress(0, &[0; 28], 9, r, &mut out), Err(Error::ReservedValue { .. })));
    assert!(matches!(bfp_recompress(9, &[0; 28], 17, r, &mut out), Err(Error::ReservedValue { .. })));
    assert!(matches!(bfp_recompress(9, &[0; 28], 9, r, &mut out), Err(Error::Truncated { needed: 28, .. })));
}

proptest! {
    /// Widening is exact for arbitrary wire bytes, any exponent 0-15.
    #[test]
    fn widening_is_exact(a in 1u8..=16, up in 0u8..=15, prbs in proptest::collection::vec(any::<u8>(), 49 * 4), nearest in any::<bool>()) {
        let b = (a + up).min(16);
        let r = if nearest { Rounding::Nearest } else { Rounding::Truncate };
        let (la, lb) = (bfp::prb_len(a as u32), bfp::prb_len(b as u32));
        let src = &prbs[..4 * la];
        let mut out = vec![0u8; 4 * lb];
        prop_assert_eq!(bfp_recompress(a, src, b, r, &mut out).unwrap().saturated, 0);
        for i in 0..4 {
            prop_assert_eq!(oracle_decompress(b as u32, &out[i * lb..(i + 1) * lb]), oracle_decompress(a as u32, &src[i * la..(i + 1) * la]));
        }
    }

    /// The fused path is the oracle's definition on any bytes.
    #[test]
    fn fused_is_the_spec(a in 1u8..=16, b in 1u8..=16, prbs in proptest::collection::vec(any::<u8>(), 49 * 3), nearest in any::<bool>()) {
        let r = if nearest { Rounding::Nearest } else { Rounding::Truncate };
        let (la, lb) = (bfp::prb_len(a as u32), bfp::prb_len(b as u32));
        let mut out = vec![0u8; 3 * lb];
        let enc = bfp_recompress(a, &prbs[..3 * la], b, r, &mut out).unwrap();
        let mut saturated = 0;
        for i in 0..3 {
            let (want, s) = oracle_recompress(a as u32, &prbs[i * la..(i + 1) * la], b as u32, r);
            prop_assert_eq!(&out[i * lb..(i + 1) * lb], &want[..]);
            saturated += s;
        }
        prop_assert_eq!(enc.saturated, saturated);
    }
}

/// EVM in dB of BFP 12 -> 8 of `x` (compressed at 12 by truncation),
/// against the 12-bit values, computed with the oracle.
fn evm_12_to_8(x: &[i16], r: Rounding) -> f64 {
    let n = x.len() / 24;
    let mut wire = vec![0u8; n * 37];
    bfp::compress(12, Rounding::Truncate, x, &mut wire).unwrap();
    let reference: Vec<i64> = wire.chunks_exact(37).flat_map(|p| oracle_decompress(12, p)).collect();
    let mut out = vec![0u8; n * 25];
    bfp_recompress(12, &wire, 8, r, &mut out).unwrap();
    let got: Vec<i64> = out.chunks_exact(25).flat_map(|p| oracle_decompress(8, p)).collect();
    let err: f64 = reference.iter().zip(&got).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
    let power: f64 = reference.iter().map(|&a| (a as f64).powi(2)).sum();
    10.0 * (err / power).log10()
}

#[test]
fn narrowing_12_to_8_evm_by_rounding() {
    // Two 273-PRB symbols with 0-4 bits of headroom per PRB: uniform
    // samples (the worst case for Nearest: PRB maxima sit near the top
    // and often round over it), and near-Gaussian ones (a sum of four
    // uniforms, like OFDM), narrowed 12 -> 8 both ways.
    let mut rng = Rng(0x12_08);
    let mut uniform = Vec::new();
    let mut gaussian = Vec::new();
    for _ in 0..273 {
        let headroom = (rng.next() % 5) as u32;
        for _ in 0..24 {
            uniform.push((rng.next() as i16) >> headroom);
            let sum: i32 = (0..4).map(|_| (rng.next() as i16 as i32) >> 2).sum();
            gaussian.push((sum >> headroom) as i16);
        }
    }
    // Narrowing by 4 bits leaves 16 equally likely residues: truncation's
    // mean square error is 1240/16 LSB^2 against rounding's 344/16, 5.6 dB
    // at most; PRBs that round into the next exponent take some back.
    for (name, x, gain) in [("uniform", &uniform, 4.0), ("near-Gaussian", &gaussian, 5.0)] {
        let (t, n) = (evm_12_to_8(x, Rounding::Truncate), evm_12_to_8(x, Rounding::Nearest));
        std::eprintln!("12 -> 8, 273 PRBs, {name}: EVM truncate {t:.2} dB, nearest {n:.2} dB");
        assert!((-46.0..-34.0).contains(&t), "{name}: truncate {t}");
        assert!(n < t - gain, "{name}: nearest {n} vs truncate {t}");
    }
}
