//! The kernels on the portable model, against the scalar reference, in
//! both rounding modes and at every exponent, including the tails that go
//! through the stack buffer.
extern crate std;
use super::*;
use crate::iq::testutil::{extreme_prbs, Rng};
use std::vec;
use std::vec::Vec;

const MODES: [Rounding; 2] = [Rounding::Truncate, Rounding::Nearest];

fn signal(rng: &mut Rng) -> Vec<i16> {
    let mut x: Vec<i16> = extreme_prbs().into_iter().flatten().collect();
    x.extend(rng.prbs(20));
    x
}

/// PRBs at width `w` to decode: the signal compressed in both modes, the
/// same with random exponents (small mantissas at large exponents), and
/// random bytes (every exponent and reserved nibble, full-scale mantissas).
fn wire(w: u32, x: &[i16], rng: &mut Rng) -> Vec<u8> {
    let len = prb_len(w);
    let n = x.len() / SAMPLES_PER_PRB;
    let mut out = Vec::new();
    for r in MODES {
        let mut c = vec![0u8; n * len];
        bfp::compress_scalar(w as u8, r, x, &mut c).unwrap();
        out.extend_from_slice(&c);
        for p in c.chunks_exact_mut(len) {
            p[0] = rng.next() as u8;
        }
        out.extend_from_slice(&c);
    }
    out.extend((0..40 * len).map(|_| rng.next() as u8));
    out
}

#[test]
fn compress_matches_reference_in_both_modes() {
    let mut rng = Rng(11);
    let x = signal(&mut rng);
    let n = x.len() / 24;
    for w in 1..=16u32 {
        let len = prb_len(w);
        for r in MODES {
            let mut want = vec![0u8; n * len];
            let e = bfp::compress_scalar(w as u8, r, &x, &mut want).unwrap();
            for k in [0, 1, 2, 3, n] {
                let mut got = vec![0xAAu8; k * len + 20];
                let (done, saturated) = compress(w, r, &x[..k * 24], &mut got[..k * len]);
                assert_eq!(done, k, "w={w} {r:?}");
                assert_eq!(got[..k * len], want[..k * len], "compress w={w} {r:?} k={k}");
                assert!(got[k * len..].iter().all(|&b| b == 0xAA), "w={w} {r:?}");
                if k == n {
                    assert_eq!(saturated, e.saturated, "w={w} {r:?}");
                }
            }
        }
    }
    // Width 1 to nearest is the one i16 case that saturates: the kernel counts it.
    let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
    let top = [i16::MAX; 24];
    assert_eq!(compress(1, Rounding::Nearest, &top, &mut a), (1, 24));
    assert_eq!(bfp::compress_scalar(1, Rounding::Nearest, &top, &mut b).unwrap().saturated, 24);
    assert_eq!(a, b);
}

#[test]
fn decompress_is_exact_at_every_exponent() {
    let mut rng = Rng(13);
    let x = signal(&mut rng);
    for w in 1..=16u32 {
        let len = prb_len(w);
        let wire = wire(w, &x, &mut rng);
        let m = wire.len() / len;
        let mut want = vec![0i32; m * 24];
        bfp::decompress_scalar(w as u8, &wire, &mut want).unwrap();
        for from in [0, m - 3] {
            let k = m - from;
            let mut got = vec![0x5A5A_5A5Ai32; k * 24 + 8];
            assert_eq!(decompress(w, k, &wire[from * len..], &mut got[..k * 24]), k);
            assert_eq!(got[..k * 24], want[from * 24..], "decompress w={w} from={from}");
            assert!(got[k * 24..].iter().all(|&s| s == 0x5A5A_5A5A), "w={w}");
        }
        // The largest magnitudes the wire carries: -2^(w-1) · 2^15.
        let mut p = vec![0u8; len];
        (p[0], p[1]) = (0x0F, 0x80);
        let mut y = [0i32; 24];
        assert_eq!(decompress(w, 1, &p, &mut y), 1);
        assert_eq!(y[0], -(1 << (w - 1 + 15)), "w={w}");
    }
}

#[test]
fn every_pair_matches_reference_in_both_modes() {
    let mut rng = Rng(12);
    let x = signal(&mut rng);
    let (mut listed, mut saturating) = (0, 0);
    for a in 1..=16u32 {
        let la = prb_len(a);
        let wire = wire(a, &x, &mut rng);
        let n = wire.len() / la;
        for b in 1..=16u32 {
            let lb = prb_len(b);
            for r in MODES {
                let mut want = vec![0u8; n * lb];
                let mut sat = 0;
                for i in 0..n {
                    sat += convert::recompress_prb(a, &wire[i * la..(i + 1) * la], b, r, &mut want[i * lb..(i + 1) * lb]);
                }
                saturating += (sat > 0) as u32;
                // The fused kernels of every pair, not just the listed ones.
                let mut got = vec![0x55u8; n * lb + 20];
                assert_eq!(recompress_fused_any(a, n, &wire, b, r, &mut got[..n * lb]), (n, sat), "{a} -> {b} {r:?}");
                assert_eq!(got[..n * lb], want[..], "{a} -> {b} {r:?} fused");
                assert!(got[n * lb..].iter().all(|&v| v == 0x55), "{a} -> {b} {r:?}");
                // The dispatch: a listed pair, or none (the caller's reference).
                let mut got = vec![0x55u8; n * lb];
                let (done, s) = recompress(a, n, &wire, b, r, &mut got);
                if done > 0 {
                    listed += 1;
                    assert_eq!((done, s), (n, sat), "{a} -> {b} {r:?}");
                    assert_eq!(got, want, "{a} -> {b} {r:?}");
                }
                // Short runs: tails through the stack buffer.
                for k in [1, 2, 3, 5] {
                    let mut got = vec![0x55u8; k * lb];
                    assert_eq!(recompress_fused_any(a, k, &wire[la..], b, r, &mut got).0, k);
                    assert_eq!(got[..], want[lb..(k + 1) * lb], "{a} -> {b} {r:?} k={k}");
                }
            }
        }
    }
    // Both modes of the 11 listed pairs, and saturation was exercised.
    assert_eq!(listed, 22);
    assert!(saturating > 100, "{saturating}");
}
