//! Tests of the matching and the IQ error.

use super::*;

#[test]
fn eaxc_match_parses() {
    assert_eq!(EaxcMatch::parse("order"), Ok(EaxcMatch::Order));
    assert_eq!(EaxcMatch::parse("same"), Ok(EaxcMatch::Same));
    let m = EaxcMatch::parse("1=0x10, 0x2=32").unwrap();
    assert_eq!(m, EaxcMatch::Map(BTreeMap::from([(1, 16), (2, 32)])));
    assert!(EaxcMatch::parse("1=2,1=3").unwrap_err().contains("twice"));
    assert!(EaxcMatch::parse("1-2").is_err());
    assert!(EaxcMatch::parse("x=2").is_err());
    assert!(EaxcMatch::parse("").is_err());
}

#[test]
fn pairs_occurrences_by_time() {
    let p = pair_by_time(&[0.0, 2.56, 5.12], &[0.001, 5.121], 1.28);
    assert_eq!(p, vec![(Some(0), Some(0)), (Some(1), None), (Some(2), Some(1))]);
    let p = pair_by_time(&[], &[1.0], 1.28);
    assert_eq!(p, vec![(None, Some(0))]);
}

#[test]
fn iq_error_and_evm() {
    let mut e = IqError::default();
    let a = [1000i32; SAMPLES_PER_PRB];
    e.add_prb(&a, &a);
    assert!(e.exact());
    assert_eq!(e.evm_db(), None);
    let mut b = a;
    b[0] = 1100;
    e.add_prb(&a, &b);
    assert!(!e.exact());
    assert_eq!((e.prbs, e.differing_prbs, e.max_abs_error), (2, 1, 100));
    // 100² / (48 × 1000²) = 1/4800.
    let want = 10.0 * (1.0f64 / 4800.0).log10();
    assert!((e.evm_db().unwrap() - want).abs() < 1e-9);
}

#[test]
fn high_exponents_are_not_called_exact() {
    // Issue 17: A's last PRB is BFP 9 at exponent 8 with mantissa 255
    // (65 280); B's is exponent 0, mantissa -256. Through a wrapping
    // i16 both were -256 and diff called them exact.
    let frame = ecpri::samples::catalog().unwrap().into_iter().find(|s| s.name == "uplane-bfp-9-hdr").unwrap().frame;
    let last = frame.len() - 28;
    let (mut a, mut b) = (frame.clone(), frame);
    a[last..].copy_from_slice(&[[0x08, 0x7F, 0x80].as_slice(), &[0; 25]].concat());
    b[last..].copy_from_slice(&[[0x00, 0x80, 0x00].as_slice(), &[0; 25]].concat());
    let cap = |data: Vec<u8>| vec![Captured { timestamp: Duration::ZERO, orig_len: data.len() as u32, data }];
    let d = DecodeConfig { dl_comp: UdCompHdr::new(ecpri::CompMethod::Bfp, 9), ..DecodeConfig::default() };
    let r = diff(&cap(a), &cap(b), &DiffOptions::new(d, d));
    let iq = r.flows.values().find(|f| f.iq.prbs > 0).expect("a U-plane flow").iq;
    assert!(!iq.exact(), "{iq:?}");
    assert_eq!((iq.differing_prbs, iq.max_abs_error), (1, 65_280 + 256));
}

#[test]
fn prb_ranges_read_well() {
    assert_eq!(prb_ranges(&[0, 1, 2, 5, 7, 8]), "PRBs 0-2, 5, 7-8");
    assert_eq!(prb_ranges(&[3]), "PRB 3");
}

#[test]
fn a_capture_against_itself_is_exact() {
    let frames: Vec<Captured> = ecpri::samples::catalog()
        .unwrap()
        .into_iter()
        .filter(|s| s.name == "uplane-bfp-9-hdr" || s.name == "cplane-st1")
        .enumerate()
        .map(|(i, s)| Captured { timestamp: Duration::from_micros(i as u64), orig_len: s.frame.len() as u32, data: s.frame })
        .collect();
    let d = DecodeConfig { dl_comp: UdCompHdr::new(ecpri::CompMethod::Bfp, 9), ..DecodeConfig::default() };
    let r = diff(&frames, &frames, &DiffOptions::new(d, d));
    assert_eq!(r.flows.len(), 2);
    for f in r.flows.values() {
        assert_eq!((f.missing, f.extra), (0, 0));
        assert!(f.fields.is_empty(), "{:?}", f.fields);
        assert!(f.iq.exact());
    }
    let u = r.flows.iter().find(|(k, _)| k.plane == Plane::U).unwrap().1;
    assert_eq!(u.matched, 7);
    assert!(!r.iq_differs());
    // B without its U-plane frame: every PRB is missing.
    let r = diff(&frames, &frames[1..], &DiffOptions::new(d, d));
    let u = r.flows.iter().find(|(k, _)| k.plane == Plane::U).unwrap().1;
    assert_eq!((u.matched, u.missing), (0, 7));
    assert_eq!(u.missing_examples, ["frame 17 subframe 3 slot 1 symbol 2: PRBs 0-3, 10-12"]);
    assert!(r.iq_differs());
}

#[test]
fn the_bound_is_a_quantised_to_nearest_at_b_s_width() {
    // 1001 at BFP 8: round(1001 / 2^3) = 125 (and 125 · 8 = 1000), so every
    // sample is off by one; -1001 likewise. Exponent 3 is the smallest
    // at which 125 fits 8 bits (1001 / 4 = 250 does not).
    let mut a = [1001i32; SAMPLES_PER_PRB];
    a[1] = -1001;
    let mut q = QuantBound::default();
    let b8 = UdCompHdr::new(ecpri::CompMethod::Bfp, 8);
    q.add_prb(&a, b8);
    assert_eq!((q.prbs, q.error_energy, q.reference_energy), (1, 24.0, 24.0 * 1001.0 * 1001.0));
    assert!((q.evm_db().unwrap() - 10.0 * (1.0f64 / (1001.0 * 1001.0)).log10()).abs() < 1e-9);
    assert_eq!(q.comp_name(), "bfp:8");
    // At 12 bits 1001 fits with exponent 0: lossless.
    let mut w = QuantBound::default();
    w.add_prb(&a, UdCompHdr::new(ecpri::CompMethod::Bfp, 12));
    assert!(w.lossless() && w.evm_db().is_none());
    // A second compression makes the name generic.
    q.add_prb(&a, UdCompHdr::new(ecpri::CompMethod::Bfp, 9));
    assert!(q.mixed);
    assert_eq!(q.comp_name(), "compression");
}

#[test]
fn the_bound_counts_prbs_beyond_exponent_15() {
    // 2^30 at BFP 8 needs exponent 23: clipped at 15.
    let a = [1i32 << 30; SAMPLES_PER_PRB];
    let mut q = QuantBound::default();
    q.add_prb(&a, UdCompHdr::new(ecpri::CompMethod::Bfp, 8));
    q.add_prb(&[1000; SAMPLES_PER_PRB], UdCompHdr::new(ecpri::CompMethod::Bfp, 8));
    assert_eq!((q.prbs, q.clipped_prbs), (2, 1));
}
