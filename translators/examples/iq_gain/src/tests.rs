use super::*;
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::samples::{uplane_frame, SAMPLE_UDP_PORT};
use ecpri::uplane::CompHdrMode;
use fhgate_sdk::abi::verdict;
use fhgate_sdk::native::{counter, Harness};

fn decode(c: UdCompHdr, present: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: c,
        ul_comp: c,
        comp_hdr: if present { CompHdrMode::Present } else { CompHdrMode::Absent },
        udp_port: Some(SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

/// All decompressed samples of a frame, section by section.
fn samples(frame: &[u8], d: &DecodeConfig) -> Vec<Vec<i32>> {
    let f = FrameRepr::parse(frame, d).unwrap();
    let mut v = Vec::new();
    for m in f.messages() {
        if let Body::IqData { uplane, cfg, .. } = &m.body {
            for s in &uplane.sections {
                let c = s.comp(cfg.static_comp);
                let mut x = vec![0i32; s.iq_data.len() / c.prb_len().unwrap() * 24];
                iq::decompress(c, s.iq_data, &mut x).unwrap();
                v.push(x);
            }
        }
    }
    v
}

fn run(config: &str, frame: &[u8], d: DecodeConfig) -> (u8, Vec<u8>) {
    let mut h = Harness::<IqGain>::with_decode(config, d).unwrap();
    let o = h.translate(frame);
    (o.verdict, o.bytes)
}

#[test]
fn exp_matches_std() {
    let mut db = -96.0;
    while db <= 96.0 {
        let want = 10f64.powf(db / 20.0);
        let got = amplitude(db);
        assert!(((got - want) / want).abs() < 1e-14, "{db}: {got} vs {want}");
        db += 0.37;
    }
    assert_eq!(exp(0.0), 1.0);
}

#[test]
fn zero_db_changes_nothing() {
    for c in [
        UdCompHdr::new(CompMethod::Bfp, 9),
        UdCompHdr::new(CompMethod::None, 16),
        UdCompHdr::new(CompMethod::BlockScaling, 8),
    ] {
        let input = uplane_frame(c, true, &[(0, 12), (12, 3)]).unwrap();
        let (_, out) = run("gain_db=0\n", &input, decode(c, true));
        assert_eq!(out, input, "{c}");
    }
}

#[test]
fn doubling_is_exact_and_saturates() {
    let c = UdCompHdr::new(CompMethod::None, 16);
    let input = uplane_frame(c, true, &[(0, 20)]).unwrap();
    let (v, out) = run(&format!("gain_db={}\n", 20.0 * 2f64.log10()), &input, decode(c, true));
    assert_eq!(v, verdict::MODIFIED);
    assert_eq!(out.len(), input.len());
    let (a, b) = (samples(&input, &decode(c, true)), samples(&out, &decode(c, true)));
    let mut clipped = 0;
    for (x, y) in a[0].iter().zip(&b[0]) {
        let want = (2 * *x).clamp(-32768, 32767);
        clipped += (want != 2 * *x) as i64;
        assert_eq!(*y, want);
    }
    assert!(clipped > 0, "the test signal reaches full scale");
    assert_eq!(counter("clipped_samples"), Some(clipped));
    assert_eq!(counter("saturated_samples"), Some(clipped), "16-bit uncompressed cannot carry them");
}

#[test]
fn bfp_carries_gain_beyond_16_bits() {
    // BFP can carry up to 2^15 · 2^15: doubling a full-scale signal raises
    // the exponents instead of clipping, and nothing saturates.
    let c = UdCompHdr::new(CompMethod::Bfp, 9);
    let input = uplane_frame(c, true, &[(0, 20)]).unwrap();
    for rounding in ["nearest", "truncate"] {
        let (_, out) = run(&format!("gain_db={}\nrounding=\"{rounding}\"\n", 20.0 * 2f64.log10()), &input, decode(c, true));
        let (a, b) = (samples(&input, &decode(c, true)), samples(&out, &decode(c, true)));
        // Doubling m · 2^e is m · 2^(e+1): exact in either mode.
        assert_eq!(b[0], a[0].iter().map(|x| 2 * x).collect::<Vec<_>>(), "{rounding}");
        assert!(b[0].iter().any(|&v| v > 32767), "beyond 16 bits");
        assert_eq!(counter("clipped_samples"), Some(0));
    }
}

#[test]
fn bfp_requantises_in_its_own_width() {
    let c = UdCompHdr::new(CompMethod::Bfp, 9);
    let input = uplane_frame(c, false, &[(0, 30), (30, 7)]).unwrap();
    let d = decode(c, false);
    let (v, out) = run("gain_db=-3\nmethod=\"bfp\"\nwidth=9\n", &input, d);
    assert_eq!(v, verdict::MODIFIED);
    assert_eq!(out.len(), input.len());
    let gain = (amplitude(-3.0) * (1u64 << 24) as f64 + 0.5) as i64;
    let (a, b) = (samples(&input, &d), samples(&out, &d));
    let (mut pin, mut pout) = (0f64, 0f64);
    for (x, y) in a.iter().zip(&b) {
        // The definition: decompress, scale, compress at BFP 9.
        let mut s = x.clone();
        scale(&mut s, gain);
        let mut w = vec![0u8; s.len() / 24 * 28];
        iq::compress(c, Rounding::Nearest, &s, &mut w).unwrap();
        let mut want = vec![0i32; s.len()];
        iq::decompress(c, &w, &mut want).unwrap();
        assert_eq!(y, &want);
        pin += x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
        pout += y.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
    }
    let db = 10.0 * (pout / pin).log10();
    assert!((db + 3.0).abs() < 0.05, "power changed by {db} dB");
    assert_eq!(counter("scaled_sections"), Some(2));
}

#[test]
fn mu_law_and_block_scaling_keep_their_form() {
    for c in [UdCompHdr::new(CompMethod::MuLaw, 8), UdCompHdr::new(CompMethod::BlockScaling, 9)] {
        let input = uplane_frame(c, true, &[(0, 8)]).unwrap();
        let (v, out) = run("gain_db=-6\n", &input, decode(c, true));
        assert_eq!(v, verdict::MODIFIED, "{c}");
        assert_eq!(out.len(), input.len());
        let (a, b) = (samples(&input, &decode(c, true)), samples(&out, &decode(c, true)));
        let (pin, pout): (f64, f64) = a[0]
            .iter()
            .zip(&b[0])
            .fold((0.0, 0.0), |(p, q), (x, y)| (p + (*x as f64).powi(2), q + (*y as f64).powi(2)));
        let db = 10.0 * (pout / pin).log10();
        assert!((db + 6.0).abs() < 0.3, "{c}: {db} dB");
    }
}

#[test]
fn static_flows_need_the_static_compression() {
    let c = UdCompHdr::new(CompMethod::Bfp, 9);
    let input = uplane_frame(c, false, &[(0, 4)]).unwrap();
    let (v, out) = run("gain_db=3\n", &input, decode(c, false));
    assert_eq!((v, out), (verdict::FORWARD, input));
    assert_eq!(counter("errors"), Some(1));
}

#[test]
fn config_errors_name_keys() {
    let e = Harness::<IqGain>::new("").err().unwrap();
    assert_eq!(e.to_string(), "config key `gain_db`: missing");
    let e = Harness::<IqGain>::new("gain_db=\"loud\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `gain_db`: expected a number");
    let e = Harness::<IqGain>::new("gain_db=200\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `gain_db`: must be between -96 and 96");
    let e = Harness::<IqGain>::new("gain_db=1\nrounding=\"up\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `rounding`: not one of the allowed values");
}
