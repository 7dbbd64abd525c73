//! Tests of the AVX2 re-quantisation kernels against the scalar reference.

use super::*;

#[test]
fn steps_by_hand() {
    assert!(super::super::available(), "this x86_64 CPU lacks AVX2 or FMA");
    // Lane 0: 1000, -3000, 5 at exponent 2, reserved nibble 0xA; lane
    // 1: all zero at exponent 9. Output width 9. -3000 · 4 = -12000:
    // /2^5 = -375 does not fit 9 bits, /2^6 = -187.5 -> -188 does
    // (truncation: -187.5 -> -188 too), so exponent 6, a right shift
    // by r = 4; all zero: exponent 0, r = -9.
    // SAFETY: AVX2 was checked above.
    unsafe {
        let v0 = _mm256_setr_epi16(1000, -3000, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        let param = param_bytes(_mm256_setr_epi32(0xA2, 0, 0, 0, 0x09, 0, 0, 0));
        let z = _mm256_setzero_si256();
        let lanes = |x: __m256i| (_mm256_cvtsi256_si32(x) as u32, _mm256_extract_epi32::<4>(x) as u32);
        for st in [front::<TRUNC>([v0, z, z], param, 9), front::<RHRS>([v0, z, z], param, 9)] {
            assert!(st.vector && !st.fast);
            assert_eq!(lanes(st.param), (0xA6, 0));
        }
        // Truncation: mullo by 1 and 2^9, srlv by 4 and 0.
        let st = front::<TRUNC>([v0, z, z], param, 9);
        assert_eq!((lanes(st.s.l), lanes(st.s.c)), ((0x0001_0001, 0x0200_0200), (4, 0)));
        // Rounding: mulhrs by 2^(15-4) after mullo by 1; lane 1 mullo
        // by 2^9, then mulhrs by 2^15 - 1 (the identity).
        let st = front::<RHRS>([v0, z, z], param, 9);
        assert_eq!((lanes(st.s.l), lanes(st.s.h)), ((0x0001_0001, 0x0200_0200), (0x0800_0800, 0x7FFF_7FFF)));
        // 2^15 - 1 is the identity on every |u| <= 2^14 (module docs).
        for u in -(1 << 14)..=(1i16 << 14) {
            let x = _mm256_set1_epi16(u);
            let q = _mm256_sign_epi16(_mm256_mulhrs_epi16(x, _mm256_sign_epi16(_mm256_set1_epi16(0x7FFF), x)), x);
            assert_eq!(_mm256_extract_epi16::<0>(q) as i16, u);
        }
        // The mantissas: 1000/16 = 62.5 -> 63 (truncating 62), -12000/64
        // = -187.5 -> -188 both, 5·4/64 -> 0.
        let m = |x: __m256i| (_mm256_extract_epi16::<0>(x) as i16, _mm256_extract_epi16::<1>(x) as i16, _mm256_extract_epi16::<2>(x) as i16);
        let w9 = |x: __m256i| _mm256_srai_epi16::<7>(_mm256_slli_epi16::<7>(x));
        let st = front::<RHRS>([v0, z, z], param, 9);
        assert_eq!(m(requant::<RHRS, false>(v0, &st.s)), (63, -188, 0));
        let st = front::<TRUNC>([v0, z, z], param, 9);
        assert_eq!(m(w9(requant::<TRUNC, false>(v0, &st.s))), (62, -188, 0));
    }
}

/// A PRB at width `a` and exponent `e` whose 24 mantissas are `m`.
fn prb_bytes(a: u32, e: u8, m: &[i16; 24]) -> std::vec::Vec<u8> {
    let mut out = std::vec![0u8; prb_len(a)];
    out[0] = 0x50 | e;
    crate::iq::bitpack::pack(a, m, &mut out[1..]);
    out
}

#[test]
fn narrowing_edges_equal_the_reference() {
    // The cases the random bytes of the exhaustive test rarely hit,
    // mixed in one run so that fast and slow steps and both lanes see
    // them: all-zero PRBs at exponent 15 (r = -15, the `mullo` by
    // 2^16 that `pow2x2` gets wrong in the upper half), small
    // mantissas at high exponents (left shifts, r <= 0), full-scale
    // ones (`-2^(a-1)`, whose rounding can overflow into the next
    // exponent), and exact ties (`±(2k + 1) · 2^(j-1)`, half away
    // from zero) at every shift.
    extern crate std;
    use std::vec::Vec;
    assert!(super::super::available(), "this x86_64 CPU lacks AVX2 or FMA");
    let mut rng = crate::iq::testutil::Rng(0x7E5);
    for a in 2..=16u32 {
        let top = 1i32 << (a - 1);
        let mut prbs: Vec<Vec<u8>> = Vec::new();
        for e in 0..16u8 {
            prbs.push(prb_bytes(a, 15, &[0; 24]));
            prbs.push(prb_bytes(a, e, &core::array::from_fn(|i| [1, -1, 0, 1][i % 4])));
            prbs.push(prb_bytes(a, e, &core::array::from_fn(|i| if i % 3 == 0 { -top as i16 } else { (rng.next() as i32 % top) as i16 })));
            prbs.push(prb_bytes(a, e, &[(top - 1) as i16; 24]));
            for j in 1..a.min(15) {
                let tie = |k: i32| (((2 * k + 1) << (j - 1)).clamp(-top, top - 1)) as i16;
                prbs.push(prb_bytes(a, e, &core::array::from_fn(|i| if i % 2 == 0 { tie(i as i32 / 2) } else { -tie(i as i32 / 2) })));
            }
        }
        // Shuffled, so each kind meets every other in a step.
        for i in (1..prbs.len()).rev() {
            prbs.swap(i, rng.next() as usize % (i + 1));
        }
        let wire: Vec<u8> = prbs.concat();
        let (n, la) = (prbs.len(), prb_len(a));
        for b in 1..a {
            let lb = prb_len(b);
            for r in [Rounding::Nearest, Rounding::Truncate] {
                let mut want = std::vec![0u8; n * lb];
                for i in 0..n {
                    recompress_prb(a, &wire[i * la..(i + 1) * la], b, r, &mut want[i * lb..(i + 1) * lb]);
                }
                let mut got = std::vec![0u8; n * lb];
                // SAFETY: AVX2 was checked above.
                let (done, _) = unsafe { recompress(a, n, &wire, b, r, &mut got) };
                assert!(done + 6 >= n, "{a}->{b} {r:?} did {done}");
                assert_eq!(got[..done * lb], want[..done * lb], "{a}->{b} {r:?}");
            }
        }
    }
}

#[test]
fn compression_to_nearest_at_every_extreme() {
    // Every i16 as a PRB's extreme (its other samples smaller, of either
    // sign), at every width the pair-sharing exponent path takes: the
    // f32 thresholds of rounding to nearest are met from both sides, and
    // consecutive PRBs land in every slot of a four-pair step (pair, lane).
    extern crate std;
    assert!(super::super::available(), "this x86_64 CPU has no AVX2 and FMA");
    let mut src = std::vec::Vec::with_capacity(65536 * 24);
    for x in i16::MIN..=i16::MAX {
        let mut prb = [0i16; 24];
        let k = x as u16 as usize;
        prb[k % 24] = x;
        prb[(k * 7 + 3) % 24] = ((x ^ 0x5555) >> 3) | 1;
        prb[(k * 5 + 11) % 24] = -(x >> 4);
        src.extend_from_slice(&prb);
    }
    let n = src.len() / 24;
    for w in 2..=15u32 {
        let len = prb_len(w);
        let mut want = std::vec![0u8; n * len];
        crate::iq::bfp::compress_scalar(w as u8, Rounding::Nearest, &src, &mut want).unwrap();
        let mut got = std::vec![0u8; n * len];
        // SAFETY: AVX2 and FMA were checked above.
        let (done, saturated) = unsafe { compress_nearest(w, &src, &mut got) };
        assert!(done + 6 >= n, "w={w} did {done}");
        assert_eq!(saturated, 0, "w={w}");
        for i in 0..done {
            assert_eq!(got[i * len..(i + 1) * len], want[i * len..(i + 1) * len], "w={w} PRB {i}: {:?}", &src[i * 24..(i + 1) * 24]);
        }
    }
}
