use super::*;
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::samples::{catalog, uplane_frame};
use ecpri::uplane::CompHdrMode;
use fhgate_sdk::abi::verdict;
use fhgate_sdk::native::{counter, effects, Harness};

fn hdr(s: &str) -> UdCompHdr {
    UdCompHdr::from_spec(s).unwrap()
}

fn decode(c: &str, present: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: hdr(c),
        ul_comp: hdr(c),
        comp_hdr: if present { CompHdrMode::Present } else { CompHdrMode::Absent },
        udp_port: Some(ecpri::samples::SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

fn run(config: &str, frame: &[u8], d: DecodeConfig) -> (u8, Vec<u8>) {
    let mut h = Harness::<CompConvert>::with_decode(config, d).unwrap();
    let o = h.translate(frame);
    (o.verdict, o.bytes)
}

/// The IQ bytes and udCompHdr (if carried) of every U-plane section.
fn sections(frame: &[u8], d: &DecodeConfig) -> Vec<(Vec<u8>, Option<UdCompHdr>)> {
    let f = FrameRepr::parse(frame, d).unwrap_or_else(|e| panic!("output does not decode: {e}"));
    let mut out = Vec::new();
    for m in f.messages() {
        if let Body::IqData { uplane, .. } = &m.body {
            out.extend(uplane.sections.iter().map(|s| (s.iq_data.to_vec(), s.ud_comp_hdr.map(|h| h.0))));
        }
    }
    out
}

// The spec (O-RAN.WG4.CUS Annex A), written here from the text and
// sharing no code with ecpri: each PRB decoded to real sample values.

/// `n` bits MSB first at bit `*pos`, two's complement.
fn bits(d: &[u8], pos: &mut usize, n: u32) -> i64 {
    let mut v = 0i64;
    for _ in 0..n {
        v = (v << 1) | ((d[*pos / 8] >> (7 - *pos % 8)) & 1) as i64;
        *pos += 1;
    }
    if v >= 1 << (n - 1) {
        v - (1 << n)
    } else {
        v
    }
}

/// One PRB of `method` at width `w` (its udCompParam first where the
/// method has one) as real values at the 16-bit scale.
fn spec_prb(method: &str, w: u32, prb: &[u8]) -> Vec<f64> {
    let param = prb[0] as u32;
    let mut pos = if method == "none" { 0 } else { 8 };
    let codes: Vec<i64> = (0..24).map(|_| bits(prb, &mut pos, w)).collect();
    codes
        .iter()
        .map(|&c| match method {
            // Uncompressed: the w most significant bits of a 16-bit sample.
            "none" => (c << (16 - w)) as f64,
            // A.1: mantissa · 2^exponent.
            "bfp" => (c << (param & 0xF)) as f64,
            // A.2: sblockScaler (Q1.7) · c / 2^(w - 9).
            "block-scaling" => param as f64 * c as f64 / 2f64.powi(w as i32 - 9),
            // A.3: invert the segment of |c|, restore the sign, undo compShift.
            "mu-law" => {
                let (a, wf) = (c.unsigned_abs().min((1 << (w - 1)) - 1) as f64, w as i32);
                let mag = if a <= 2f64.powi(wf - 2) {
                    a * 2f64.powi(15 - wf)
                } else if a <= 2f64.powi(wf - 2) + 2f64.powi(wf - 3) {
                    (a - 2f64.powi(wf - 3)) * 2f64.powi(16 - wf)
                } else {
                    (a - 2f64.powi(wf - 2)) * 2f64.powi(17 - wf)
                };
                c.signum() as f64 * mag / 2f64.powi((param & 0xF) as i32)
            }
            m => panic!("{m}"),
        })
        .collect()
}

/// Every sample of the IQ bytes `iq` of format `c`.
fn spec_samples(c: &str, iq: &[u8]) -> Vec<f64> {
    let (m, w) = c.split_once(':').unwrap();
    let w: u32 = w.parse().unwrap();
    let len = if m == "none" { 3 * w as usize } else { 1 + 3 * w as usize };
    iq.chunks_exact(len).flat_map(|p| spec_prb(m, w, p)).collect()
}

/// A BFP-9 DL frame of 32 PRBs at exponents 0-15 (twice): values up to 2^23.
fn high_exponent_frame() -> Vec<u8> {
    let mut input = uplane_frame(hdr("bfp:9"), true, &[(0, 32)]).unwrap();
    let first = input.len() - 32 * 28;
    for i in 0..32 {
        let p = &mut input[first + i * 28];
        *p = (*p & 0xF0) | (i % 16) as u8;
    }
    input
}

#[test]
fn bfp_to_none_16_is_exact_and_saturates_beyond_16_bits_counted() {
    let input = high_exponent_frame();
    let (v, out) = run("in_comp=\"bfp:9\"\nout_comp=\"none:16\"\n", &input, decode("bfp:9", true));
    assert_eq!(v, verdict::MODIFIED);
    let (a, b) = (&sections(&input, &decode("bfp:9", true))[0], &sections(&out, &decode("none:16", true))[0]);
    assert_eq!(b.1, Some(hdr("none:16")), "udCompHdr rewritten");
    assert_eq!(b.0.len(), 32 * 48);
    let (x, y) = (spec_samples("bfp:9", &a.0), spec_samples("none:16", &b.0));
    let mut clipped = 0;
    for (i, (x, y)) in x.iter().zip(&y).enumerate() {
        let want = x.clamp(-32768.0, 32767.0);
        clipped += (want != *x) as i64;
        assert_eq!(*y, want, "sample {i} (PRB {}, exponent {})", i / 24, (i / 24) % 16);
    }
    assert!(clipped > 0 && clipped < 32 * 24, "{clipped}");
    assert_eq!(counter("saturated_samples"), Some(clipped));
    assert_eq!(counter("converted_sections"), Some(1));
}

#[test]
fn every_method_to_none_16_keeps_the_values_it_decodes_to() {
    for c in ["bfp:8", "bfp:14", "block-scaling:9", "mu-law:8", "none:9"] {
        for present in [true, false] {
            let input = uplane_frame(hdr(c), present, &[(0, 10), (10, 6)]).unwrap();
            let (v, out) = run(&format!("in_comp=\"{c}\"\nout_comp=\"none:16\"\n"), &input, decode(c, present));
            assert_eq!(v, verdict::MODIFIED, "{c}");
            let (a, b) = (sections(&input, &decode(c, present)), sections(&out, &decode("none:16", present)));
            assert_eq!(a.len(), b.len());
            for (s, t) in a.iter().zip(&b) {
                assert_eq!(t.1, present.then(|| hdr("none:16")), "{c}: udCompHdr as the input carried it");
                let (x, y) = (spec_samples(c, &s.0), spec_samples("none:16", &t.0));
                assert_eq!(x.len(), y.len());
                for (x, y) in x.iter().zip(&y) {
                    // Annex A gives real values; the nearest integer is what 16 bits carry.
                    assert!((x - y).abs() <= 0.5, "{c} present {present}: {x} -> {y}");
                }
            }
            assert_eq!(counter("saturated_samples").unwrap_or(0), 0, "{c}: nothing beyond 16 bits");
        }
    }
}

#[test]
fn none_16_to_bfp_9_quantises_as_the_spec_to_nearest() {
    let input = uplane_frame(hdr("none:16"), true, &[(0, 20)]).unwrap();
    let (_, out) = run("in_comp=\"none:16\"\nout_comp=\"bfp:9\"\n", &input, decode("none:16", true));
    let (a, b) = (&sections(&input, &decode("none:16", true))[0].0, &sections(&out, &decode("bfp:9", true))[0].0);
    let (x, y) = (spec_samples("none:16", a), spec_samples("bfp:9", b));
    for p in 0..20 {
        let xs = &x[p * 24..(p + 1) * 24];
        // The smallest exponent at which every sample rounded to nearest (halves away from zero) fits 9 bits.
        let q = |v: f64, e: i32| (v.abs() / 2f64.powi(e) + 0.5).floor() * v.signum();
        let e = (0..16).find(|&e| xs.iter().all(|&v| (-256.0..=255.0).contains(&q(v, e)))).unwrap();
        let want: Vec<f64> = xs.iter().map(|&v| q(v, e) * 2f64.powi(e)).collect();
        assert_eq!(&y[p * 24..(p + 1) * 24], &want[..], "PRB {p}");
    }
}

#[test]
fn lossy_methods_stay_within_a_step_of_the_input() {
    // BFP 9 to µ-law 8 and block scaling 9: each sample within one step of
    // the output's coarsest quantiser for that PRB (A.2: 512 s / 2^w; A.3:
    // 2^(17-w) / 2^compShift), plus one for rounding.
    let input = uplane_frame(hdr("bfp:9"), true, &[(0, 24)]).unwrap();
    for (to, w) in [("mu-law:8", 8), ("block-scaling:9", 9)] {
        let (_, out) = run(&format!("in_comp=\"bfp:9\"\nout_comp=\"{to}\"\n"), &input, decode("bfp:9", true));
        let (a, b) = (&sections(&input, &decode("bfp:9", true))[0].0, &sections(&out, &decode(to, true))[0]);
        assert_eq!(b.1, Some(hdr(to)));
        let (x, y) = (spec_samples("bfp:9", a), spec_samples(to, &b.0));
        for p in 0..24 {
            let param = b.0[p * (1 + 3 * w)] as f64;
            let step = if to.starts_with("mu") { 2f64.powi(17 - w as i32) / 2f64.powi((param as i32) & 0xF) } else { 512.0 * param / 2f64.powi(w as i32) };
            for i in p * 24..(p + 1) * 24 {
                assert!((x[i] - y[i]).abs() <= step + 1.0, "{to} PRB {p}: {} -> {} (step {step})", x[i], y[i]);
            }
        }
    }
}

#[test]
fn cplane_udcomphdr_follows_and_others_pass() {
    let mut rewrote = 0;
    for s in catalog().unwrap().into_iter().filter(|s| s.name.starts_with("cplane-")) {
        let (v, out) = run("in_comp=\"bfp:9\"\nout_comp=\"none:16\"\n", &s.frame, s.decode);
        let fout = FrameRepr::parse(&out, &s.decode).unwrap();
        let Body::RtControl { cplane, .. } = &fout.messages()[0].body else { panic!("{}", s.name) };
        if let Some(h) = cplane.header.fields.ud_comp_hdr() {
            assert_eq!((h, v), (hdr("none:16"), verdict::MODIFIED), "{}", s.name);
            rewrote += 1;
        }
        assert_eq!(out.len(), s.frame.len());
    }
    assert!(rewrote >= 2, "section types 1, 3 and 5 carry udCompHdr");
    // Another compression, or the other direction, passes as it came.
    let input = uplane_frame(hdr("bfp:8"), true, &[(0, 4)]).unwrap();
    let (_, out) = run("in_comp=\"bfp:9\"\nout_comp=\"none:16\"\n", &input, decode("bfp:8", true));
    assert_eq!(out, input);
    assert_eq!(counter("skipped_sections"), Some(1));
    let (v, out) = run("in_comp=\"bfp:8\"\nout_comp=\"none:16\"\ndirection=\"ul\"\n", &input, decode("bfp:8", true));
    assert_eq!((v, out), (verdict::FORWARD, input));
}

#[test]
fn effects_are_declared_per_direction() {
    Harness::<CompConvert>::new("in_comp=\"bfp:9\"\nout_comp=\"mulaw:8\"\n").unwrap();
    assert_eq!(effects(), ["dl_comp bfp:9 -> mu-law:8", "ul_comp bfp:9 -> mu-law:8"]);
    Harness::<CompConvert>::new("in_comp=\"none:16\"\nout_comp=\"bfp:9\"\ndirection=\"ul\"\ncplane=false\n").unwrap();
    assert_eq!(effects(), ["ul_comp none:16 -> bfp:9"]);
}

#[test]
fn config_errors_name_keys() {
    let err = |c: &str| Harness::<CompConvert>::new(c).err().unwrap().to_string();
    assert_eq!(err("out_comp=\"none:16\"\n"), "config key `in_comp`: missing");
    assert_eq!(err("in_comp=\"bfp:9\"\n"), "config key `out_comp`: missing");
    assert_eq!(err("in_comp=9\nout_comp=\"none:16\"\n"), "config key `in_comp`: expected a string");
    assert!(err("in_comp=\"bfp:17\"\nout_comp=\"none:16\"\n").starts_with("config key `in_comp`: expected \"METHOD:WIDTH\""));
    assert!(err("in_comp=\"zip:8\"\nout_comp=\"none:16\"\n").starts_with("config key `in_comp`: expected \"METHOD:WIDTH\""));
    assert!(err("in_comp=\"bfp:9\"\nout_comp=\"modcomp:4\"\n").starts_with("config key `out_comp`: modulation compression needs csf"));
    assert_eq!(err("in_comp=\"bfp:9\"\nout_comp=\"bfp:9\"\n"), "config key `out_comp`: equals in_comp: nothing to convert");
    assert_eq!(err("in_comp=\"bfp:9\"\nout_comp=\"none:16\"\nrounding=\"up\"\n"), "config key `rounding`: not one of the allowed values");
    assert_eq!(err("in_comp=\"bfp:9\"\nout_comp=\"none:16\"\nout_width=12\n"), "config key `out_width`: unknown key");
}
