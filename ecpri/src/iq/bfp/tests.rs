//! BFP tests: hand-worked answers, a spec oracle written here from Annex
//! A.1 (independent of the code under test), and the fast paths against
//! the scalar reference.

extern crate std;
use super::*;
use crate::iq::oracle::{oracle_compress, oracle_decompress, oracle_pack};
use crate::iq::testutil::{extreme_prbs, Rng};
use crate::Error;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const MODES: [Rounding; 2] = [Rounding::Truncate, Rounding::Nearest];

/// A 24-sample PRB of `head` followed by zeros.
fn prb_of(head: &[i32]) -> [i32; 24] {
    let mut x = [0i32; 24];
    x[..head.len()].copy_from_slice(head);
    x
}

/// Compresses `x` with the code under test and checks the exponent,
/// leading mantissas and saturation count against values worked by hand,
/// and the bytes against the oracle packing.
fn check_known(w: u32, rounding: Rounding, x: &[i32], e: u8, m: &[i64], saturated: u32) {
    let x = prb_of(x);
    let mut out = vec![0u8; prb_len(w)];
    let got = compress_scalar(w as u8, rounding, &x, &mut out).unwrap();
    assert_eq!(got, Encoded { len: out.len(), saturated }, "w={w} {rounding:?}");
    let mut want_m = m.to_vec();
    want_m.resize(24, 0);
    let mut want = vec![e];
    want.extend(oracle_pack(w, &want_m));
    assert_eq!(out, want, "w={w} {rounding:?} x={:?}", &x[..m.len()]);
    // The oracle agrees with the hand values too.
    let x64: Vec<i64> = x.iter().map(|&v| v as i64).collect();
    assert_eq!(oracle_compress(w, rounding, &x64), (e as u32, want_m, saturated), "oracle w={w} {rounding:?}");
    let mut fast = vec![0u8; prb_len(w)];
    assert_eq!(compress(w as u8, rounding, &x, &mut fast), Ok(got));
    assert_eq!(fast, out);
}

#[test]
fn known_answers_by_hand() {
    use Rounding::{Nearest, Truncate};
    // All zero: exponent 0 in both modes, at every width.
    for w in 1..=16 {
        for r in MODES {
            check_known(w, r, &[], 0, &[], 0);
        }
    }
    // Width 8, exponent 0: 127 and -128 fit as they are.
    for r in MODES {
        check_known(8, r, &[127, -128, 5], 0, &[127, -128, 5], 0);
    }
    // Width 12, exponent 0: the full 12-bit range.
    for r in MODES {
        check_known(12, r, &[2047, -2048, -1], 0, &[2047, -2048, -1], 0);
    }
    // Width 8, exponent 7: maxValue 16000 has 14 bits, 14 + 1 - 8 = 7.
    // 16000/128 = 125; -100/128 = -0.78; 129/128 = 1.008; -129/128 = -1.008.
    check_known(8, Truncate, &[16000, -100, 129, -129], 7, &[125, -1, 1, -2], 0);
    check_known(8, Nearest, &[16000, -100, 129, -129], 7, &[125, -1, 1, -1], 0);
    // Width 9, full scale: Truncate 15 + 1 - 9 = 7, 32767 >> 7 = 255,
    // 300/128 = 2.34. Nearest: 32767/128 = 255.99 rounds to 256, which
    // overflows 9 bits, so exponent 8: 32767/256 = 127.996 -> 128,
    // -32768/256 = -128, 300/256 = 1.17 -> 1.
    check_known(9, Truncate, &[32767, -32768, 300, -300], 7, &[255, -256, 2, -3], 0);
    check_known(9, Nearest, &[32767, -32768, 300, -300], 8, &[128, -128, 1, -1], 0);
    // Width 9, a negative extreme just below -256 * 128: maxValue 32799
    // has 16 bits, Truncate exponent 8 (-32800/256 = -128.125 -> -129);
    // Nearest fits at 7: -32800/128 = -256.25 rounds to -256.
    check_known(9, Truncate, &[-32800, 200], 8, &[-129, 0], 0);
    check_known(9, Nearest, &[-32800, 200], 7, &[-256, 2], 0);
    // Width 12, exponent 10: 1 500 000 has 21 bits, 21 + 1 - 12 = 10.
    // /1024: 1464.84, -976.56, 0.999, -1, 0.5, -0.5.
    let x = [1_500_000, -1_000_000, 1023, -1024, 512, -512];
    check_known(12, Truncate, &x, 10, &[1464, -977, 0, -1, 0, -1], 0);
    check_known(12, Nearest, &x, 10, &[1465, -977, 1, -1, 1, -1], 0);
    // Width 14, exponent 8: 1 234 567 has 21 bits; /256 = 4822.53, -7/256.
    check_known(14, Truncate, &[1_234_567, -7], 8, &[4822, -1], 0);
    check_known(14, Nearest, &[1_234_567, -7], 8, &[4823, 0], 0);
    // Width 14, exponent 15: 200 000 000 has 28 bits and -2^28 has
    // maxValue 2^28 - 1, 28 + 1 - 14 = 15; /32768 = 6103.52 and -8192.
    check_known(14, Truncate, &[200_000_000, -268_435_456], 15, &[6103, -8192], 0);
    check_known(14, Nearest, &[200_000_000, -268_435_456], 15, &[6104, -8192], 0);
    // Width 14, beyond exponent 15: 300 000 000 needs 16, so 15 is sent
    // and both extremes (9155.27 and -9155.27) are clipped and counted.
    check_known(14, Truncate, &[300_000_000, -300_000_000, 32768], 15, &[8191, -8192, 1], 2);
    check_known(14, Nearest, &[300_000_000, -300_000_000, 32768], 15, &[8191, -8192, 1], 2);
    // Width 1 to nearest: -32768 is -1 at 15, but 16384 rounds to 1 at 15,
    // above 0, the largest 1-bit mantissa: clipped and counted.
    check_known(1, Nearest, &[-32768, 16384, 16383], 15, &[-1, 0, 0], 1);
    check_known(1, Truncate, &[-32768, 16384, 16383], 15, &[-1, 0, 0], 0);
}

#[test]
fn nearest_can_be_worse_when_rounding_overflows() {
    // Nearest's error is at most Truncate's sample by sample when its
    // exponent is not higher; when rounding overflows it pays a coarser
    // step for every sample. Width 9: 32767 forces exponent 8, and 128
    // (exact at 7) becomes 128/256 = 0.5 -> 1 -> 256.
    let mut x = [128i32; 24];
    x[0] = 32767;
    let mut t = [0u8; 28];
    let mut n = [0u8; 28];
    compress(9, Rounding::Truncate, &x, &mut t).unwrap();
    compress(9, Rounding::Nearest, &x, &mut n).unwrap();
    let err = |wire: &[u8]| -> i64 { oracle_decompress(9, wire).iter().zip(&x).map(|(a, &b)| (a - b as i64).pow(2)).sum() };
    assert_eq!((t[0], n[0]), (7, 8));
    assert_eq!(err(&t), 127 * 127);
    assert_eq!(err(&n), 1 + 23 * 128 * 128);
}

#[test]
fn bytes_by_hand() {
    let one = |w: u8, x: &[i16; 24]| {
        let mut out = vec![0u8; prb_len(w as u32)];
        assert_eq!(compress_scalar(w, Rounding::Truncate, x, &mut out).map(|e| e.len), Ok(out.len()));
        out
    };
    // Full scale positive at width 9: exponent 7 and every mantissa
    // 32767 >> 7 = 255 (0 1111 1111): the 9-byte group repeats.
    let out = one(9, &[i16::MAX; 24]);
    assert_eq!(out[0], 7);
    assert_eq!(out[1..10], [0x7F, 0xBF, 0xDF, 0xEF, 0xF7, 0xFB, 0xFD, 0xFE, 0xFF]);
    assert_eq!(out[1..10], out[10..19]);
    // -32768 alone: maxValue = 32768 - 1, the same 7; mantissa -256.
    let mut x = [0i16; 24];
    x[0] = i16::MIN;
    let out = one(9, &x);
    assert_eq!(out[..3], [7, 0x80, 0x00]);
    assert!(out[3..].iter().all(|&b| b == 0));
    // Width 8 peaking at -256: exponent 1; -256 >> 1 = -128, 100 >> 1 = 50,
    // -3 >> 1 = -2 (floor).
    let mut x = [0i16; 24];
    x[..3].copy_from_slice(&[-256, 100, -3]);
    assert_eq!(one(8, &x)[..4], [1, 0x80, 50, 0xFE]);
    // Width 16: exponent always 0, big-endian body.
    let mut x = [0i16; 24];
    x[..2].copy_from_slice(&[i16::MIN, 0x1234]);
    assert_eq!(one(16, &x)[..5], [0, 0x80, 0x00, 0x12, 0x34]);
    // Width 12, 4095 and -4096: exponent 1, 2047 and -2048.
    let mut x = [0i16; 24];
    x[..2].copy_from_slice(&[4095, -4096]);
    assert_eq!(one(12, &x)[..4], [1, 0x7F, 0xF8, 0x00]);
}

#[test]
fn exponent_boundaries() {
    let mut x = [0i16; 24];
    x[5] = -256;
    assert_eq!(exponent(&x, 9, Rounding::Truncate), 0); // fits 9 bits exactly
    x[5] = -257;
    assert_eq!(exponent(&x, 9, Rounding::Truncate), 1);
    // -257/2 = -128.5 -> -129 fits; 1 is the smallest.
    assert_eq!(exponent(&x, 9, Rounding::Nearest), 1);
    x[5] = 255;
    assert_eq!(exponent(&x, 9, Rounding::Truncate), 0);
    x[5] = 256;
    assert_eq!(exponent(&x, 9, Rounding::Truncate), 1);
    assert_eq!(exponent(&[i16::MIN; 24], 1, Rounding::Truncate), 15);
    assert_eq!(exponent(&[i16::MAX; 24], 16, Rounding::Truncate), 0);
    assert_eq!(exponent(&[i16::MAX; 24], 1, Rounding::Nearest), 16);
    assert_eq!(exponent(&[i32::MAX; 24], 1, Rounding::Truncate), 31);
    assert_eq!(exponent(&[i32::MIN; 24], 16, Rounding::Nearest), 16);
}

#[test]
fn high_exponents_decode_exactly() {
    // The issue-17 case: a BFP-9 PRB at exponent 10 carries 255 << 10 =
    // 261 120, which an i16 cannot hold.
    let mut wire = [0u8; 28];
    wire[0] = 0xA0 | 10;
    wire[1..3].copy_from_slice(&[0x7F, 0xC0]); // 011111111 100000000: 255, -256
    wire[3] = 0x00;
    let mut x = [0i32; 24];
    decompress(9, &wire, &mut x).unwrap();
    assert_eq!(x[..2], [255 << 10, -256 << 10]);
    let mut y = [0i32; 24];
    decompress_scalar(9, &wire, &mut y).unwrap();
    assert_eq!(x, y);
    assert_eq!(oracle_decompress(9, &wire), x.iter().map(|&v| v as i64).collect::<Vec<_>>());
}

#[test]
fn reserved_nibble_is_masked() {
    let mut wire = [0u8; 28];
    compress(9, Rounding::Truncate, &[i16::MAX; 24], &mut wire).unwrap();
    let mut clean = [0i32; 24];
    decompress_scalar(9, &wire, &mut clean).unwrap();
    wire[0] |= 0xA0;
    let mut dirty = [0i32; 24];
    decompress_scalar(9, &wire, &mut dirty).unwrap();
    assert_eq!(clean, dirty);
    decompress(9, &wire, &mut dirty).unwrap();
    assert_eq!(clean, dirty);
}

/// Compress (both modes, `i16` and `i32` input) and decompress agree with
/// the scalar reference for `src` at width `w`, in bytes, samples and
/// saturation counts, at any offset into a larger buffer (so the fast
/// path's tail handling is exercised).
pub(crate) fn check_fast(w: u8, src: &[i16]) {
    let n = src.len() / 24;
    let len = prb_len(w as u32);
    let wide: Vec<i32> = src.iter().map(|&v| v as i32).collect();
    let mut slow = vec![0u8; n * len];
    for r in MODES {
        let want = compress_scalar(w, r, src, &mut slow).unwrap();
        let mut fast = vec![0xAAu8; n * len + 64];
        assert_eq!(compress(w, r, src, &mut fast), Ok(want), "w={w} {r:?}");
        assert_eq!(slow, fast[..n * len], "compress w={w} n={n} {r:?}");
        assert!(fast[n * len..].iter().all(|&b| b == 0xAA), "wrote past the end, w={w}");
        assert_eq!(compress(w, r, &wide, &mut fast), Ok(want), "i32 w={w} {r:?}");
        assert_eq!(slow, fast[..n * len], "i32 compress w={w} n={n} {r:?}");
    }
    // Random bytes as input too, so every exponent nibble and reserved
    // nibble is decoded.
    let mut wire = slow.clone();
    let mut rng = Rng(n as u64 * 31 + w as u64);
    if n > 1 {
        for b in wire[len..].iter_mut() {
            *b = rng.next() as u8;
        }
    }
    let mut a = vec![0i32; n * 24];
    let mut b = vec![0i32; n * 24];
    decompress_scalar(w, &wire, &mut a).unwrap();
    assert_eq!(decompress(w, &wire, &mut b), Ok(n));
    assert_eq!(a, b, "decompress w={w} n={n}");
}

#[test]
fn fast_paths_match_reference_on_edges() {
    let edges: Vec<i16> = extreme_prbs().into_iter().flatten().collect();
    for w in 1..=16 {
        check_fast(w, &edges);
        for n in 0..8 {
            check_fast(w, &edges[..n * 24]);
        }
    }
}

#[test]
fn fast_paths_match_reference_on_random_symbols() {
    let mut rng = Rng(0x5EED);
    for w in 1..=16 {
        let src = rng.prbs(273);
        check_fast(w, &src);
    }
}

#[test]
fn fast_decompress_matches_on_every_exponent() {
    // Every width x every exponent 0-15, random mantissas and reserved
    // nibbles.
    let mut rng = Rng(0xE4);
    for w in 1..=16u32 {
        let len = prb_len(w);
        let n = 40;
        let mut wire: Vec<u8> = (0..n * len).map(|_| rng.next() as u8).collect();
        for i in 0..n {
            wire[i * len] = (wire[i * len] & 0xF0) | (i % 16) as u8;
        }
        let mut a = vec![0i32; n * 24];
        let mut b = vec![0i32; n * 24];
        decompress_scalar(w as u8, &wire, &mut a).unwrap();
        decompress(w as u8, &wire, &mut b).unwrap();
        assert_eq!(a, b, "w={w}");
        let want: Vec<i64> = (0..n).flat_map(|i| oracle_decompress(w, &wire[i * len..(i + 1) * len])).collect();
        assert_eq!(a.iter().map(|&v| v as i64).collect::<Vec<_>>(), want, "w={w}");
    }
}

#[test]
fn round_trip_error_is_below_one_step() {
    let mut rng = Rng(3);
    let src = rng.prbs(64);
    for w in 1..=16u8 {
        for r in MODES {
            let mut wire = vec![0u8; 64 * prb_len(w as u32)];
            let enc = compress(w, r, &src, &mut wire).unwrap();
            let mut back = vec![0i32; 64 * 24];
            decompress(w, &wire, &mut back).unwrap();
            for (i, (a, b)) in src.iter().zip(&back).enumerate() {
                let e = wire[(i / 24) * prb_len(w as u32)] as i64;
                let err = *a as i64 - *b as i64;
                let ok = match r {
                    Rounding::Truncate => (0..1 << e).contains(&err),
                    // Clipped samples (width 1 only) may miss by more.
                    Rounding::Nearest => 2 * err.abs() <= 1 << e || enc.saturated > 0,
                };
                assert!(ok, "w={w} {r:?} {a} -> {b} (exponent {e})");
            }
        }
    }
}

#[test]
fn errors() {
    let mut out = [0u8; 64];
    let t = Rounding::Truncate;
    assert!(matches!(compress(0, t, &[0i16; 24], &mut out), Err(Error::ReservedValue { .. })));
    assert!(matches!(compress(9, t, &[0i16; 24], &mut out[..27]), Err(Error::Truncated { needed: 28, .. })));
    assert!(matches!(decompress(17, &out, &mut [0; 24]), Err(Error::ReservedValue { .. })));
}

/// One PRB of `i32` samples spanning every exponent: random values shifted
/// so that their magnitude reaches anywhere up to 2^31.
fn wide_prb() -> impl Strategy<Value = [i32; 24]> {
    (proptest::array::uniform24(any::<i32>()), 0u32..32).prop_map(|(x, s)| x.map(|v| v >> s))
}

proptest! {
    #[test]
    fn fast_equals_reference(w in 1u8..=16, src in proptest::collection::vec(any::<i16>(), 0..24 * 12), shift in 0u32..16) {
        let n = src.len() / 24;
        let src: Vec<i16> = src[..n * 24].iter().map(|&s| s >> shift).collect();
        check_fast(w, &src);
    }

    #[test]
    fn decompress_never_panics(w in 0u8..=20, src in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut out = [0i32; 24 * 8];
        let _ = decompress(w, &src, &mut out);
    }

    /// Decompress of arbitrary wire bytes is the spec's `m · 2^e`, exactly.
    #[test]
    fn decompress_is_the_spec(w in 1u32..=16, prb in proptest::collection::vec(any::<u8>(), 49)) {
        let prb = &prb[..prb_len(w)];
        let mut x = [0i32; 24];
        decompress(w as u8, prb, &mut x).unwrap();
        prop_assert_eq!(x.iter().map(|&v| v as i64).collect::<Vec<_>>(), oracle_decompress(w, prb));
    }

    /// Compression is the oracle's: the smallest exponent that fits (15
    /// and clipped beyond), the spec's mantissas, the count of clips.
    #[test]
    fn compress_is_the_spec(w in 1u32..=16, x in wide_prb(), nearest in any::<bool>()) {
        let r = if nearest { Rounding::Nearest } else { Rounding::Truncate };
        let x64: Vec<i64> = x.iter().map(|&v| v as i64).collect();
        let (e, m, saturated) = oracle_compress(w, r, &x64);
        let mut out = vec![0u8; prb_len(w)];
        prop_assert_eq!(compress(w as u8, r, &x, &mut out), Ok(Encoded { len: out.len(), saturated }));
        let mut want = vec![e as u8];
        want.extend(oracle_pack(w, &m));
        prop_assert_eq!(out, want);
        // Smallest: one exponent less does not fit (unless it is 0).
        if e > 0 && saturated == 0 {
            let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
            let d = 1i64 << (e - 1);
            let fits = x64.iter().all(|&v| {
                let q = if nearest { v.signum() * ((2 * v.abs() + d) / (2 * d)) } else { v.div_euclid(d) };
                (lo..=hi).contains(&q)
            });
            prop_assert!(!fits, "exponent {} is not the smallest", e);
        }
    }

    /// Values exactly representable at width `w` (mantissas of `w` bits at
    /// any exponent 0-15) come back exactly in both modes, at the same
    /// exponent.
    #[test]
    fn representable_values_are_exact(w in 1u32..=16, e in 0u32..=15, m in proptest::array::uniform24(any::<i16>())) {
        let x = m.map(|v| ((v as i32) >> (16 - w)) << e);
        let mut outs = Vec::new();
        for r in MODES {
            let mut out = vec![0u8; prb_len(w)];
            prop_assert_eq!(compress(w as u8, r, &x, &mut out).unwrap().saturated, 0);
            let mut back = [0i32; 24];
            decompress(w as u8, &out, &mut back).unwrap();
            prop_assert_eq!(back, x);
            outs.push(out[0]);
        }
        prop_assert_eq!(outs[0], outs[1]);
    }

    /// Nearest is never worse than Truncate sample by sample when its
    /// exponent is not higher (see `nearest_can_be_worse_when_rounding_overflows`
    /// for the other case).
    #[test]
    fn nearest_error_at_most_truncate(w in 1u32..=16, x in wide_prb()) {
        let mut t = vec![0u8; prb_len(w)];
        let mut n = vec![0u8; prb_len(w)];
        let st = compress(w as u8, Rounding::Truncate, &x, &mut t).unwrap().saturated;
        let sn = compress(w as u8, Rounding::Nearest, &x, &mut n).unwrap().saturated;
        prop_assume!(st == 0 && sn == 0);
        prop_assert!(n[0] <= t[0] + 1 && t[0] <= n[0] + 1);
        if n[0] <= t[0] {
            let (dt, dn) = (oracle_decompress(w, &t), oracle_decompress(w, &n));
            for (i, &v) in x.iter().enumerate() {
                prop_assert!((dn[i] - v as i64).abs() <= (dt[i] - v as i64).abs());
            }
        }
    }
}

#[test]
fn exponent_nearest_is_the_reference() {
    // The closed form against `exponent_of` at every width: every p alone
    // and every a alone up to 2^17, both around each boundary 2^(e-1) (2^w
    // ± 1) up to 2^30, and random pairs over the whole range.
    let check = |p: u32, a: u32, w: u32| {
        assert_eq!(exponent_nearest(p, a, w), exponent_of(p as i64, a as i64, w, Rounding::Nearest), "p={p} a={a} w={w}");
    };
    let mut rng = Rng(0xE7);
    for w in 1..=16u32 {
        for x in 0..=(1u32 << 17) {
            check(x, 0, w);
            check(0, x, w);
        }
        for e in 1..=31u32 {
            for t in [(1u64 << w) - 1, (1u64 << w) + 1] {
                let edge = (t << (e - 1)) / 2;
                for d in 0..4u64 {
                    for x in [edge.saturating_sub(d), edge + d] {
                        if x <= 1 << 30 {
                            check(x as u32, 0, w);
                            check(0, x as u32, w);
                            check(x as u32, x as u32, w);
                        }
                    }
                }
            }
        }
        for _ in 0..20_000 {
            let (p, a) = ((rng.next() % (1 << 30)) as u32 >> (rng.next() % 30), (rng.next() % (1 << 30)) as u32 >> (rng.next() % 30));
            check(p, a, w);
        }
    }
}
