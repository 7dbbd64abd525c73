use super::*;
use ecpri::frame::{Body, DecodeConfig, FrameRepr, Payload};
use ecpri::ip::{fill_checksums, IpRepr};
use ecpri::samples::{catalog, uplane_frame, Sample};
use ecpri::uplane::CompHdrMode;
use fhgate_sdk::abi::verdict;
use fhgate_sdk::native::{counter, Harness};

fn bfp(w: u8) -> UdCompHdr {
    UdCompHdr::new(CompMethod::Bfp, w)
}

fn decode(w: u8, present: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: bfp(w),
        ul_comp: bfp(w),
        comp_hdr: if present { CompHdrMode::Present } else { CompHdrMode::Absent },
        udp_port: Some(ecpri::samples::SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

/// Every U-plane section of a frame: (startPrbu, compression, udCompHdr
/// carried, decompressed samples, reserved nibbles, IQ bytes).
type Section = (u16, UdCompHdr, bool, Vec<i32>, Vec<u8>, Vec<u8>);

/// The spec (O-RAN.WG4.CUS Annex A.1), written here from the text and
/// sharing no code with ecpri: one BFP PRB decoded bit by bit to
/// `m · 2^e` in i64.
fn spec_decode(w: u32, prb: &[u8]) -> Vec<i64> {
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
            v << e
        })
        .collect()
}

/// The spec's compression of one PRB of values at width `w`: the smallest
/// exponent whose mantissas (`x >> e`, or rounded half away from zero)
/// fit, 15 at most with the rest clipped. Returns the decoded values and
/// the number clipped.
fn spec_requantise(w: u32, nearest: bool, x: &[i64]) -> (Vec<i64>, u32) {
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let q = |v: i64, e: u32| {
        let d = 1i64 << e;
        if nearest {
            v.signum() * ((2 * v.abs() + d) / (2 * d))
        } else {
            v.div_euclid(d)
        }
    };
    let e = (0..40).find(|&e| x.iter().all(|&v| (lo..=hi).contains(&q(v, e)))).unwrap().min(15);
    let clipped = x.iter().filter(|&&v| !(lo..=hi).contains(&q(v, e))).count() as u32;
    (x.iter().map(|&v| q(v, e).clamp(lo, hi) << e).collect(), clipped)
}

/// A BFP-9 DL frame of 32 PRBs whose exponents are 0-15 (twice), with the
/// mantissas of a real signal: the high exponents some DUs send.
fn high_exponent_frame() -> Vec<u8> {
    let mut input = uplane_frame(bfp(9), true, &[(0, 32)]).unwrap();
    let first = input.len() - 32 * 28;
    for i in 0..32 {
        let p = &mut input[first + i * 28];
        *p = (*p & 0xF0) | (i % 16) as u8;
    }
    input
}

fn sections(frame: &[u8], d: &DecodeConfig) -> Vec<Section> {
    let f = FrameRepr::parse(frame, d).unwrap_or_else(|e| panic!("output does not decode: {e}"));
    let mut out = Vec::new();
    for m in f.messages() {
        if let Body::IqData { uplane, cfg, .. } = &m.body {
            for s in &uplane.sections {
                let comp = s.comp(cfg.static_comp);
                let n = s.iq_data.len() / comp.prb_len().unwrap();
                let mut x = vec![0i32; n * 24];
                ecpri::iq::decompress(comp, s.iq_data, &mut x).unwrap();
                let nibbles = s.iq_data.chunks(comp.prb_len().unwrap()).map(|p| p[0] >> 4).collect();
                out.push((s.start_prbu, comp, s.ud_comp_hdr.is_some(), x, nibbles, s.iq_data.to_vec()));
            }
        }
    }
    out
}

fn run(config: &str, frame: &[u8], d: DecodeConfig) -> (u8, Vec<u8>) {
    let mut h = Harness::<BfpWidth>::with_decode(config, d).unwrap();
    let o = h.translate(frame);
    (o.verdict, o.bytes)
}

/// Widening keeps every sample; the output decodes at the new width.
fn check_widening(a: u8, b: u8, present: bool) {
    let ranges = [(0u16, 10u8), (10, 5), (20, 1)];
    let input = uplane_frame(bfp(a), present, &ranges).unwrap();
    let (v, out) = run(&format!("in_width={a}\nout_width={b}\n"), &input, decode(a, present));
    assert_eq!(v, verdict::MODIFIED);
    let prbs: usize = ranges.iter().map(|r| r.1 as usize).sum();
    assert_eq!(out.len(), input.len() + prbs * 3 * (b - a) as usize, "{a}->{b}");
    let before = sections(&input, &decode(a, present));
    let after = sections(&out, &decode(b, present));
    assert_eq!(before.len(), after.len());
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x.0, y.0);
        assert_eq!(y.1, bfp(b));
        assert_eq!(y.2, present);
        assert_eq!(x.3, y.3, "{a}->{b}: every decompressed sample unchanged");
    }
}

#[test]
fn widening_8_to_12_is_exact() {
    check_widening(8, 12, true);
    assert_eq!(counter("converted_sections"), Some(3));
}

#[test]
fn widening_9_to_14_with_static_compression() {
    check_widening(9, 14, false);
}

#[test]
fn every_widening_pair() {
    for a in [1u8, 4, 7, 8, 9, 12, 15] {
        for b in a..=16 {
            check_widening(a, b, true);
        }
    }
}

#[test]
fn narrowing_matches_the_spec() {
    let input = uplane_frame(bfp(14), true, &[(0, 30)]).unwrap();
    let before = sections(&input, &decode(14, true));
    for (config, nearest) in [("", true), ("rounding=\"nearest\"\n", true), ("rounding=\"truncate\"\n", false)] {
        let (_, out) = run(&format!("in_width=14\nout_width=9\n{config}"), &input, decode(14, true));
        let after = sections(&out, &decode(9, true));
        for i in 0..30 {
            let x = spec_decode(14, &before[0].5[i * 43..(i + 1) * 43]);
            let (want, clipped) = spec_requantise(9, nearest, &x);
            assert_eq!(clipped, 0);
            assert_eq!(spec_decode(9, &after[0].5[i * 28..(i + 1) * 28]), want, "PRB {i} {config}");
        }
    }
}

#[test]
fn nearest_is_the_default_and_cleaner() {
    // 12 -> 8 on the sample signal: the squared error of rounding to
    // nearest is below truncation's.
    let input = uplane_frame(bfp(12), true, &[(0, 50)]).unwrap();
    let x = sections(&input, &decode(12, true));
    let err = |config: &str| -> f64 {
        let (_, out) = run(&format!("in_width=12\nout_width=8\n{config}"), &input, decode(12, true));
        let y = sections(&out, &decode(8, true));
        x[0].3.iter().zip(&y[0].3).map(|(a, b)| ((a - b) as f64).powi(2)).sum()
    };
    let (default, nearest, truncate) = (err(""), err("rounding=\"nearest\"\n"), err("rounding=\"truncate\"\n"));
    assert_eq!(default, nearest);
    assert!(nearest < truncate, "nearest {nearest} truncate {truncate}");
}

#[test]
fn high_exponents_widen_exactly_by_the_spec() {
    // 9 -> 12 with exponents up to 15: every PRB decodes to the same
    // values by the spec (issue 17: through i16 these wrapped).
    let input = high_exponent_frame();
    for rounding in ["nearest", "truncate"] {
        let (v, out) = run(&format!("in_width=9\nout_width=12\nrounding=\"{rounding}\"\n"), &input, decode(9, true));
        assert_eq!(v, verdict::MODIFIED);
        let (a, b) = (&sections(&input, &decode(9, true))[0].5, &sections(&out, &decode(12, true))[0].5);
        let mut beyond = 0;
        for i in 0..32 {
            let x = spec_decode(9, &a[i * 28..(i + 1) * 28]);
            assert_eq!(spec_decode(12, &b[i * 37..(i + 1) * 37]), x, "PRB {i} (exponent {}) {rounding}", i % 16);
            beyond += x.iter().any(|&v| v.abs() > 32768) as u32;
        }
        assert!(beyond >= 12, "only {beyond} PRBs reach beyond i16");
        assert_eq!(counter("saturated_samples"), Some(0));
    }
}

#[test]
fn exponent_input_keeps_each_prbs_exponent_and_its_values() {
    // 9 -> 12 and 9 -> 16 with exponents 0-15 (and a reserved nibble):
    // each PRB keeps its udCompParam byte and decodes by the spec to the
    // values it had; the bytes differ from the least exponent's wherever
    // the input's exponent is above 0, and only there.
    let mut input = high_exponent_frame();
    let first = input.len() - 32 * 28;
    input[first + 3 * 28] |= 0x50;
    for b in [12u8, 16] {
        let (lb, d) = (prb_len(b), decode(b, true));
        let (v, out) = run(&format!("in_width=9\nout_width={b}\nexponent=\"input\"\n"), &input, decode(9, true));
        assert_eq!(v, verdict::MODIFIED);
        let (_, least) = run(&format!("in_width=9\nout_width={b}\n"), &input, decode(9, true));
        assert_eq!(out.len(), least.len(), "same format, same length");
        let (a, y, z) =
            (&sections(&input, &decode(9, true))[0].5, &sections(&out, &d)[0].5, &sections(&least, &d)[0].5);
        for i in 0..32 {
            let (p, q, r) = (&a[i * 28..(i + 1) * 28], &y[i * lb..(i + 1) * lb], &z[i * lb..(i + 1) * lb]);
            assert_eq!(q[0], p[0], "PRB {i}: udCompParam kept ({b})");
            assert_eq!(spec_decode(b as u32, q), spec_decode(9, p), "PRB {i} (exponent {}) to {b}", i % 16);
            assert_eq!(
                q != r,
                p[0] & 0x0F > 0,
                "PRB {i} (exponent {}) to {b}: bytes differ from the least exponent's iff it is above 0",
                i % 16
            );
        }
        assert_eq!(counter("saturated_samples"), Some(0));
    }
    // Narrowing cannot keep the exponents: refused at init, naming the key.
    let e = Harness::<BfpWidth>::new("in_width=12\nout_width=8\nexponent=\"input\"\n").err().unwrap();
    assert!(e.to_string().starts_with("config key `exponent`: "), "{e}");
}

#[test]
fn high_exponents_narrow_without_flipping_signs() {
    // 9 -> 8 with exponents up to 15: the spec's values, signs kept, and
    // what exponent 15 cannot hold is clipped and counted.
    let input = high_exponent_frame();
    for (rounding, nearest) in [("nearest", true), ("truncate", false)] {
        let (_, out) = run(&format!("in_width=9\nout_width=8\nrounding=\"{rounding}\"\n"), &input, decode(9, true));
        let (a, b) = (&sections(&input, &decode(9, true))[0].5, &sections(&out, &decode(8, true))[0].5);
        let mut clipped = 0;
        for i in 0..32 {
            let x = spec_decode(9, &a[i * 28..(i + 1) * 28]);
            let y = spec_decode(8, &b[i * 25..(i + 1) * 25]);
            let (want, c) = spec_requantise(8, nearest, &x);
            clipped += c;
            assert_eq!(y, want, "PRB {i} {rounding}");
            for (x, y) in x.iter().zip(&y) {
                assert!(x.signum() == y.signum() || *y == 0, "PRB {i} {rounding}: {x} became {y}");
            }
        }
        assert!(clipped > 0, "exponent-15 PRBs of a full-scale signal need 16 at 8 bits");
        assert_eq!(counter("saturated_samples"), Some(clipped as i64), "{rounding}");
    }
}

#[test]
fn transports_keep_lengths_and_checksums() {
    for name in ["udp-ipv4", "udp-ipv6", "vlan-qinq"] {
        let s: Sample = catalog().unwrap().into_iter().find(|s| s.name == name).unwrap();
        let (v, out) = run("in_width=9\nout_width=12\n", &s.frame, s.decode);
        assert_eq!(v, verdict::MODIFIED, "{name}");
        let d12 = decode(12, true);
        let f = FrameRepr::parse(&out, &d12).unwrap();
        assert_eq!(f.buffer_len(), out.len());
        assert_eq!(sections(&s.frame, &s.decode)[0].3, sections(&out, &d12)[0].3, "{name}");
        if let Some(t) = f.transport {
            assert_eq!(t.udp.length as usize, 8 + f.messages()[0].buffer_len(), "{name}: UDP length");
            if let IpRepr::V4(ip) = t.ip {
                assert_eq!(ip.total_len as usize, ip.header_len() + t.udp.length as usize);
            }
            let hl = f.eth.buffer_len();
            let mut again = out.clone();
            fill_checksums(&mut again[hl..]).unwrap();
            assert_eq!(again, out, "{name}: checksums are correct");
        }
    }
}

#[test]
fn concatenated_messages_all_convert_and_stay_aligned() {
    let s: Sample = catalog().unwrap().into_iter().find(|s| s.name == "concatenated").unwrap();
    let (_, out) = run("in_width=9\nout_width=11\n", &s.frame, s.decode);
    let d = decode(11, true);
    let f = FrameRepr::parse(&out, &d).unwrap();
    assert_eq!(f.messages().len(), 3);
    for m in &f.messages()[..2] {
        assert_eq!(m.buffer_len() % 4, 0, "padded to 4 bytes");
        assert!(m.header.concatenation);
    }
    let before = sections(&s.frame, &s.decode);
    let after = sections(&out, &d);
    assert_eq!(after.len(), 2);
    for (x, y) in before.iter().zip(&after) {
        assert_eq!((x.3.clone(), y.1), (y.3.clone(), bfp(11)));
    }
    assert!(matches!(f.messages()[1].body, Body::OneWayDelay(_)), "the delay message passes unchanged");
}

#[test]
fn cplane_headers_are_rewritten() {
    for s in catalog().unwrap().into_iter().filter(|s| s.name.starts_with("cplane-")) {
        let (v, out) = run("in_width=9\nout_width=14\n", &s.frame, s.decode);
        let fin = FrameRepr::parse(&s.frame, &s.decode).unwrap();
        let fout = FrameRepr::parse(&out, &s.decode).unwrap();
        let (Body::RtControl { cplane: a, .. }, Body::RtControl { cplane: b, .. }) =
            (&fin.messages()[0].body, &fout.messages()[0].body)
        else {
            panic!("{}", s.name)
        };
        match a.header.fields.ud_comp_hdr() {
            Some(h) => {
                assert_eq!(h, bfp(9));
                assert_eq!(b.header.fields.ud_comp_hdr(), Some(bfp(14)), "{}", s.name);
                assert_eq!(v, verdict::MODIFIED);
            }
            None => assert_eq!((v, &out), (verdict::FORWARD, &s.frame), "{}", s.name),
        }
        assert_eq!(a.sections, b.sections, "{}: sections untouched", s.name);
        assert_eq!(out.len(), s.frame.len());
    }
    let s = catalog().unwrap().into_iter().find(|s| s.name == "cplane-st1").unwrap();
    let (v, _) = run("in_width=9\nout_width=14\ncplane=false\n", &s.frame, s.decode);
    assert_eq!(v, verdict::FORWARD);
}

#[test]
fn other_widths_and_directions_pass() {
    let input = uplane_frame(bfp(8), true, &[(0, 4)]).unwrap();
    let (v, out) = run("in_width=9\nout_width=12\n", &input, decode(8, true));
    assert_eq!(out, input, "BFP 8 sections are not in_width 9");
    assert_ne!(v, verdict::DROP);
    assert_eq!(counter("skipped_sections"), Some(1));
    // uplane_frame is DL.
    let (v, out) = run("in_width=8\nout_width=12\ndirection=\"ul\"\n", &input, decode(8, true));
    assert_eq!((v, out), (verdict::FORWARD, input));
}

#[test]
fn reserved_nibbles_survive() {
    let mut input = uplane_frame(bfp(8), true, &[(0, 3)]).unwrap();
    let first_prb = input.len() - 3 * 25;
    input[first_prb] |= 0xA0;
    let (_, out) = run("in_width=8\nout_width=12\n", &input, decode(8, true));
    assert_eq!(sections(&out, &decode(12, true))[0].4, [0xA, 0, 0]);
}

#[test]
fn too_big_for_the_slot_is_an_error_and_passes_unchanged() {
    // Two concatenated full-carrier messages at 8 bits: 2 × 273 × 49 bytes at 16.
    let one = uplane_frame(bfp(8), true, &[(0, 137), (137, 136)]).unwrap();
    let d = decode(8, true);
    let mut f = FrameRepr::parse(&one, &d).unwrap();
    if let Payload::Ecpri(ms) = &mut f.payload {
        let m = ms[0].clone();
        ms.push(m);
    }
    f.finalize().unwrap();
    let two = f.to_bytes().unwrap();
    assert!(two.len() < 16_384);
    let (v, out) = run("in_width=8\nout_width=16\n", &two, d);
    assert_eq!((v, out), (verdict::FORWARD, two.clone()));
    assert_eq!(counter("errors"), Some(1));
    let (v, _) = run("in_width=8\nout_width=16\non_error=\"drop\"\n", &two, d);
    assert_eq!(v, verdict::DROP);
}

#[test]
fn config_errors_name_keys() {
    let e = Harness::<BfpWidth>::new("in_width=8\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `out_width`: missing");
    let e = Harness::<BfpWidth>::new("in_width=0\nout_width=12\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `in_width`: out of range 1..=16");
    let e = Harness::<BfpWidth>::new("in_width=8\nout_width=12\ndirection=\"up\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `direction`: not one of the allowed values");
    assert_eq!(e.code(), 1);
    let e = Harness::<BfpWidth>::new("in_width=8\nout_width=12\nrounding=\"round\"\n").err().unwrap();
    assert_eq!(e.to_string(), "config key `rounding`: not one of the allowed values");
}

#[test]
fn bench_hook_runs() {
    let mut b = bench::Bench::new(8, 12, 4);
    assert_eq!(b.run(), 4);
    assert_eq!(b.run(), 4, "repeatable");
    let o = b.harness().output(3);
    assert_eq!(o.verdict, verdict::MODIFIED);
    assert_eq!(sections(&o.bytes, &decode(12, true)).len(), 2);
    assert!(b.bytes_per_burst() > 4 * 6800);
}

#[test]
fn chunked_path_matches_the_fused_one() {
    let mut x = 0x1234_5678u32;
    let mut wire: Vec<u8> = (0..40 * 28)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    wire.extend(uplane_frame(bfp(9), true, &[(0, 20)]).unwrap()[32..32 + 20 * 28].iter());
    for b in 1..=16u8 {
        for r in [Rounding::Nearest, Rounding::Truncate] {
            let n = wire.len() / 28;
            let mut want = vec![0u8; n * (1 + 3 * b as usize)];
            let mut got = want.clone();
            let e = recompress(9, &wire, b, r, &mut want).unwrap();
            assert_eq!(e.len, want.len());
            assert_eq!(recompress_chunked(9, &wire, b, r, &mut got), Ok(e));
            assert_eq!(got, want, "9 -> {b} {r:?}");
        }
    }
}
