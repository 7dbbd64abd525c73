//! Every example translator, built for wasm32 by scripts/build-translators
//! (target/translators/NAME.wasm), run in the real wasmtime host, with its
//! effect checked by decoding the outputs with `ecpri`: the Rust ones on
//! the SDK, the C one (seqid_renumber) and the WAT one (noop).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ecpri::frame::{Body, DecodeConfig, FrameRepr, Payload};
use ecpri::samples::{self, Sample, SAMPLE_UDP_PORT};
use ecpri::uplane::CompHdrMode;
use ecpri::{CompMethod, SeqId, UdCompHdr};
use fhgate::translate::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs scripts/build-translators once per test process (quick when
/// nothing changed), so the modules match their sources.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = root().join("target/translators");
        let status = Command::new(root().join("scripts/build-translators")).current_dir(root()).status();
        // Modules built earlier may not match their sources: a failed build
        // fails the tests rather than testing stale code.
        match status {
            Ok(s) if s.success() => {}
            r => panic!("scripts/build-translators failed ({r:?}): the modules in target/translators would be stale"),
        }
        dir
    })
}

fn runtime() -> &'static Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

/// The module `name`, compiled once per test process.
fn module(name: &str) -> Arc<TranslatorModule> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<TranslatorModule>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let path = built().join(format!("{name}.wasm"));
            TranslatorModule::load_file(runtime(), &path).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .clone()
}

/// A worker with one chain of one translator that takes every packet.
struct One {
    host: WorkerHost,
    pool: BufPool,
    decode: DecodeConfig,
    log: Arc<MemoryLog>,
}

impl One {
    fn new(name: &str, config: &[(&str, &str)], decode: DecodeConfig) -> Result<One, LoadError> {
        let log = Arc::new(MemoryLog::default());
        // Generous deadlines: tests share two cores.
        let limits = Limits {
            deadline: Duration::from_millis(500),
            init_deadline: Duration::from_secs(5),
            ..Limits::default()
        };
        let spec = TranslatorSpec::new(module(name))
            .with_config(config)
            .with_limits(limits)
            .with_sink(log.clone());
        let chain = ChainSpec {
            selector: Selector::ALL,
            translators: vec![Arc::new(spec)],
        };
        let (host, _control) = WorkerHost::new(&[chain], decode)?;
        Ok(One {
            host,
            pool: BufPool::new(256),
            decode,
            log,
        })
    }

    /// One burst; returns the frames sent, in order.
    fn run(&mut self, frames: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut burst = Burst::new();
        for f in frames {
            let p = Packet::from_frame(&mut self.pool, f, &self.decode, 1).expect("buffer");
            assert!(burst.push(p).is_ok());
        }
        self.host.process(&mut burst, &mut self.pool);
        let out = burst.packets().iter().map(|p| p.data().to_vec()).collect();
        burst.recycle(&mut self.pool);
        out
    }

    fn run1(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = self.run(&[frame]);
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    fn shared(&self) -> &Arc<Shared> {
        self.host.translator(0, 0).expect("translator").shared()
    }

    fn counter(&self, name: &str) -> u64 {
        self.shared()
            .counters
            .snapshot()
            .into_iter()
            .find(|c| c.0 == name)
            .map_or(0, |c| c.1)
    }

    fn faults(&self) -> u64 {
        self.shared().stats.faults()
    }
}

fn bfp(w: u8) -> UdCompHdr {
    UdCompHdr::new(CompMethod::Bfp, w)
}

fn decode(c: UdCompHdr, present: bool) -> DecodeConfig {
    DecodeConfig {
        dl_comp: c,
        ul_comp: c,
        comp_hdr: if present {
            CompHdrMode::Present
        } else {
            CompHdrMode::Absent
        },
        udp_port: Some(SAMPLE_UDP_PORT),
        ..DecodeConfig::default()
    }
}

fn sample(name: &str) -> Sample {
    samples::catalog()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
}

/// Decompressed samples of every U-plane section, with its compression.
fn iq(frame: &[u8], d: &DecodeConfig) -> Vec<(UdCompHdr, Vec<i32>)> {
    let f = FrameRepr::parse(frame, d).unwrap_or_else(|e| panic!("output does not decode: {e}"));
    let mut v = Vec::new();
    for m in f.messages() {
        if let Body::IqData { uplane, cfg, .. } = &m.body {
            for s in &uplane.sections {
                let c = s.comp(cfg.static_comp);
                let mut x = vec![0i32; s.iq_data.len() / c.prb_len().unwrap() * 24];
                ecpri::iq::decompress(c, s.iq_data, &mut x).unwrap();
                v.push((c, x));
            }
        }
    }
    v
}

fn checksums_ok(frame: &[u8], d: &DecodeConfig) -> bool {
    let f = FrameRepr::parse(frame, d).unwrap();
    let hl = f.eth.buffer_len();
    let mut again = frame.to_vec();
    ecpri::ip::fill_checksums(&mut again[hl..]).unwrap();
    again == frame
}

#[test]
fn metadata_of_every_module() {
    for (name, planes) in [
        ("bfp_width", "u,c"),
        ("comp_convert", "u,c"),
        ("eaxc_remap", "u,c"),
        ("comphdr_static", "u"),
        ("iq_gain", "u"),
        ("vlan_retag", "u,c"),
        ("seqid_renumber", "u,c"),
        ("noop", "any"),
    ] {
        let m = module(name);
        assert_eq!(
            (m.meta().name.as_str(), m.meta().version.as_str()),
            (name, "1.0.0")
        );
        let p = &m.meta().planes;
        let want = |plane: u8| {
            planes == "any"
                || planes
                    .split(',')
                    .any(|x| x == ["u", "c", "other"][plane as usize])
        };
        assert!(
            (0..3).all(|i| p.contains(i) == want(i)),
            "{name}: planes {planes}"
        );
        let abi = [
            "log",
            "counter_define",
            "counter_add",
            "now_ns",
            "config_read",
            "effect",
        ];
        assert!(
            m.imports().iter().all(|i| abi.contains(&i.as_str())),
            "{name}: {:?}",
            m.imports()
        );
        // Every example declares its effects (issue 13); noop, an ABI v2
        // module from before effects, declares none and still loads.
        assert_eq!(
            m.imports().iter().any(|i| i == "effect"),
            name != "noop",
            "{name}: {:?}",
            m.imports()
        );
    }
}

#[test]
fn bfp_width_widens_exactly() {
    for (a, b, present) in [(8u8, 12u8, true), (9, 14, false), (9, 16, true)] {
        let input = samples::uplane_frame(bfp(a), present, &[(0, 137), (137, 136)]).unwrap();
        let cfg = [("in_width", a.to_string()), ("out_width", b.to_string())];
        let cfg: Vec<(&str, &str)> = cfg.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut t = One::new("bfp_width", &cfg, decode(bfp(a), present)).unwrap();
        let out = t.run1(&input);
        assert_eq!(out.len(), input.len() + 273 * 3 * (b - a) as usize);
        let (x, y) = (
            iq(&input, &decode(bfp(a), present)),
            iq(&out, &decode(bfp(b), present)),
        );
        assert_eq!(x.len(), 2);
        for (s, r) in x.iter().zip(&y) {
            assert_eq!(r.0, bfp(b));
            assert_eq!(s.1, r.1, "{a}->{b}: every sample unchanged");
        }
        assert_eq!(t.counter("converted_sections"), 2);
        assert_eq!(t.faults(), 0);
    }
}

#[test]
fn bfp_width_over_udp_and_cplane() {
    let mut t = One::new(
        "bfp_width",
        &[("in_width", "9"), ("out_width", "12")],
        decode(bfp(9), true),
    )
    .unwrap();
    for name in ["udp-ipv4", "udp-ipv6", "concatenated"] {
        let s = sample(name);
        let out = t.run1(&s.frame);
        let d12 = decode(bfp(12), true);
        assert_eq!(
            iq(&s.frame, &s.decode)
                .into_iter()
                .map(|v| v.1)
                .collect::<Vec<_>>(),
            iq(&out, &d12).into_iter().map(|v| v.1).collect::<Vec<_>>()
        );
        if name.starts_with("udp") {
            assert!(checksums_ok(&out, &d12), "{name}");
        }
    }
    let s = sample("cplane-st1");
    let out = t.run1(&s.frame);
    let f = FrameRepr::parse(&out, &s.decode).unwrap();
    let Body::RtControl { cplane, .. } = &f.messages()[0].body else {
        panic!()
    };
    assert_eq!(cplane.header.fields.ud_comp_hdr(), Some(bfp(12)));
}

#[test]
fn bfp_width_errors_follow_on_error() {
    // Two concatenated full carriers at 8 bits do not fit a slot at 16.
    let one = samples::uplane_frame(bfp(8), true, &[(0, 137), (137, 136)]).unwrap();
    let d = decode(bfp(8), true);
    let mut f = FrameRepr::parse(&one, &d).unwrap();
    if let Payload::Ecpri(ms) = &mut f.payload {
        let m = ms[0].clone();
        ms.push(m);
    }
    f.finalize().unwrap();
    let two = f.to_bytes().unwrap();
    let mut t = One::new("bfp_width", &[("in_width", "8"), ("out_width", "16")], d).unwrap();
    assert_eq!(t.run1(&two), two, "forwarded as received");
    assert_eq!(t.counter("errors"), 1);
    assert_eq!(t.faults(), 0, "an error is not a fault");
    assert!(
        t.log.lines().iter().any(|(_, l)| l.contains("capacity")),
        "{:?}",
        t.log.lines()
    );
    let mut t = One::new(
        "bfp_width",
        &[
            ("in_width", "8"),
            ("out_width", "16"),
            ("on_error", "\"drop\""),
        ],
        d,
    )
    .unwrap();
    assert!(t.run(&[&two]).is_empty());
}

/// Loads `name` with `config`, expecting init to fail; returns the log.
fn refused(name: &str, config: &[(&str, &str)]) -> Vec<String> {
    let log = Arc::new(MemoryLog::default());
    let spec = TranslatorSpec::new(module(name))
        .with_config(config)
        .with_sink(log.clone());
    let chain = ChainSpec {
        selector: Selector::ALL,
        translators: vec![Arc::new(spec)],
    };
    assert!(
        WorkerHost::new(&[chain], DecodeConfig::default()).is_err(),
        "{name} {config:?}: loaded"
    );
    log.lines().into_iter().map(|l| l.1).collect()
}

#[test]
fn config_errors_fail_the_load_naming_the_key() {
    for (name, config, want) in [
        (
            "bfp_width",
            &[("in_width", "8")][..],
            "config key `out_width`: missing",
        ),
        (
            "iq_gain",
            &[("gain_db", "3"), ("gian", "1")][..],
            "config key `gian`: unknown key",
        ),
        (
            "eaxc_remap",
            &[("to", "\"4,4,4\"")][..],
            "config key `to`: expected four widths",
        ),
        (
            "seqid_renumber",
            &[("start", "1")][..],
            "config key `start`: unknown key",
        ),
    ] {
        let lines = refused(name, config);
        assert!(lines.iter().any(|l| l.contains(want)), "{name}: {lines:?}");
    }
}

#[test]
fn eaxc_remap_maps_and_learns_prach() {
    let c = sample("cplane-st3-prach"); // rtcid 0x0002
    let ul = sample("vlan-8021q"); // UL U-plane
    let mut t = One::new(
        "eaxc_remap",
        &[
            ("prach_offset", "4"),
            ("from", "\"4,4,4,4\""),
            ("to", "\"2,6,4,4\""),
        ],
        ul.decode,
    )
    .unwrap();
    let mut ul_frame = ul.frame.clone();
    let at = 22; // 14 + 4 (tag) + 4 (common header): ecpriPcid
    ul_frame[at..at + 2].copy_from_slice(&6u16.to_be_bytes());
    let out = t.run(&[&c.frame, &ul_frame]);
    let id = |f: &[u8], d: &DecodeConfig| {
        FrameRepr::parse(f, d).unwrap().messages()[0]
            .body
            .eaxc_and_seq()
            .unwrap()
            .0
    };
    assert_eq!(id(&out[0], &c.decode), 0x0006, "PRACH on RU port 2 + 4");
    assert_eq!(
        id(&out[1], &ul.decode),
        0x0002,
        "and back for the UL PRACH data"
    );
    assert_eq!(t.counter("prach_learned"), 1);
    let mut dl = samples::uplane_frame(bfp(9), true, &[(0, 4)]).unwrap();
    dl[18..20].copy_from_slice(&0x1234u16.to_be_bytes());
    let out = t.run1(&dl);
    assert_eq!(
        id(&out, &decode(bfp(9), true)),
        (1 << 14) | (2 << 8) | (3 << 4) | 4
    );
}

#[test]
fn comphdr_static_strips_to_the_static_form() {
    let c = bfp(9);
    let ranges = [(0u16, 10u8), (10, 5)];
    let dynamic = samples::uplane_frame(c, true, &ranges).unwrap();
    let mut t = One::new(
        "comphdr_static",
        &[("mode", "\"strip\""), ("width", "9")],
        decode(c, true),
    )
    .unwrap();
    assert_eq!(
        t.run1(&dynamic),
        samples::uplane_frame(c, false, &ranges).unwrap()
    );
    let mut t = One::new(
        "comphdr_static",
        &[("mode", "\"insert\""), ("width", "9")],
        decode(c, false),
    )
    .unwrap();
    assert_eq!(
        t.run1(&samples::uplane_frame(c, false, &ranges).unwrap()),
        dynamic
    );
    assert_eq!(t.counter("sections"), 2);
}

#[test]
fn iq_gain_requantises() {
    let c = UdCompHdr::new(CompMethod::None, 16);
    let input = samples::uplane_frame(c, true, &[(0, 20)]).unwrap();
    let db = format!("{}", 20.0 * 2f64.log10());
    let mut t = One::new("iq_gain", &[("gain_db", db.as_str())], decode(c, true)).unwrap();
    let out = t.run1(&input);
    let (x, y) = (iq(&input, &decode(c, true)), iq(&out, &decode(c, true)));
    let mut clipped = 0;
    for (a, b) in x[0].1.iter().zip(&y[0].1) {
        let want = (2 * *a).clamp(-32768, 32767);
        clipped += (want != 2 * *a) as u64;
        assert_eq!(*b, want);
    }
    assert_eq!(t.counter("clipped_samples"), clipped);
    assert_eq!(t.counter("saturated_samples"), clipped);
    let b9 = samples::uplane_frame(bfp(9), true, &[(0, 8)]).unwrap();
    let mut t = One::new("iq_gain", &[("gain_db", "0")], decode(bfp(9), true)).unwrap();
    assert_eq!(t.run1(&b9), b9);
}

#[test]
fn vlan_retag_adds_and_strips() {
    let s = sample("udp-ipv4");
    let mut add = One::new(
        "vlan_retag",
        &[("mode", "\"add\""), ("u_vlan", "100"), ("u_pcp", "7")],
        s.decode,
    )
    .unwrap();
    let tagged = add.run1(&s.frame);
    let f = FrameRepr::parse(&tagged, &s.decode).unwrap();
    assert_eq!((f.eth.vid(), f.eth.vlan_tags()[0].pcp), (Some(100), 7));
    assert_eq!(
        f.payload,
        FrameRepr::parse(&s.frame, &s.decode).unwrap().payload
    );
    let mut strip = One::new("vlan_retag", &[("mode", "\"strip\"")], s.decode).unwrap();
    assert_eq!(strip.run1(&tagged), s.frame);
}

/// A DL U-plane frame on `eaxc` with ecpriSeqid `seq` (E bit per `whole`).
fn seq_frame(eaxc: u16, seq: u8, whole: bool) -> Vec<u8> {
    let mut f = samples::uplane_frame(bfp(9), true, &[(0, 2)]).unwrap();
    f[18..20].copy_from_slice(&eaxc.to_be_bytes());
    f[20] = seq;
    f[21] = if whole { 0x80 } else { 0x01 };
    f
}

#[test]
fn seqid_renumber_counts_per_eaxc() {
    let mut t = One::new("seqid_renumber", &[], decode(bfp(9), true)).unwrap();
    // A DU with one counter for every eAxC.
    let frames: Vec<Vec<u8>> = (0..12u8)
        .map(|i| seq_frame(if i % 3 == 0 { 0x0001 } else { 0x0002 }, 40 + i, true))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    let out = t.run(&refs);
    let seq = |f: &[u8]| SeqId::from_bytes([f[20], f[21]]);
    let mut next = [0u8; 2];
    for (i, f) in out.iter().enumerate() {
        let k = if i % 3 == 0 { 0 } else { 1 };
        assert_eq!(seq(f), SeqId::whole(next[k]), "frame {i}");
        next[k] += 1;
        assert_eq!(&f[22..], &frames[i][22..]);
    }
    assert_eq!(t.counter("flows"), 2);
    // The next burst goes on; a fragment without the E bit shares its message's number.
    let out = t.run(&[
        &seq_frame(0x0001, 7, false),
        &seq_frame(0x0001, 7, true),
        &seq_frame(0x0001, 8, true),
    ]);
    assert_eq!(
        out.iter().map(|f| (f[20], f[21])).collect::<Vec<_>>(),
        [(4, 0x01), (4, 0x80), (5, 0x80)]
    );
}

#[test]
fn seqid_renumber_keeps_udp_checksums() {
    for name in ["udp-ipv4", "udp-ipv6"] {
        let s = sample(name);
        let mut t = One::new("seqid_renumber", &[], s.decode).unwrap();
        let out = t.run1(&s.frame);
        let f = FrameRepr::parse(&out, &s.decode).unwrap();
        assert_eq!(f.messages()[0].body.eaxc_and_seq().unwrap().1.seq_id, 0);
        assert_ne!(out, s.frame, "{name}: the sample's seqId is not 0");
        assert!(checksums_ok(&out, &s.decode), "{name}");
    }
}

#[test]
fn noop_forwards_everything() {
    let frames: Vec<Vec<u8>> = samples::catalog()
        .unwrap()
        .into_iter()
        .map(|s| s.frame)
        .take(64)
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    let mut t = One::new(
        "noop",
        &[],
        DecodeConfig {
            udp_port: Some(SAMPLE_UDP_PORT),
            ..DecodeConfig::default()
        },
    )
    .unwrap();
    assert_eq!(t.run(&refs), frames);
    let stats = &t.shared().stats;
    assert_eq!(
        stats.forwarded.load(Relaxed),
        stats.packets_in.load(Relaxed)
    );
    assert!(stats.packets_in.load(Relaxed) > 0);
    assert_eq!(
        (
            stats.modified.load(Relaxed),
            stats.dropped.load(Relaxed),
            t.faults()
        ),
        (0, 0, 0)
    );
}
