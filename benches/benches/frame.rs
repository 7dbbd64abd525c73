//! Frame parsing: the hot-path walk (transport, eCPRI header, every
//! U-plane section) and a full C-plane decode.
//!
//! Targets (issue #2): U-plane frame header plus walk of every section
//! ≤ 20 ns/frame; C-plane type 1 with 4 sections reported.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ecpri::frame::{self, DecodeConfig, FrameRepr, MessageIter};
use ecpri::samples;
use ecpri::uplane::{self, CompHdrMode, UplaneConfig};
use ecpri::{CompMethod, UdCompHdr};

/// The hot-path walk: find eCPRI, follow messages, walk U-plane sections
/// and sum their PRBs. No allocation.
fn walk_uplane(frame_bytes: &[u8], cfg: &UplaneConfig) -> usize {
    let Ok(loc) = frame::locate(frame_bytes, None) else { return 0 };
    let Some(r) = loc.ecpri else { return 0 };
    let mut prbs = 0;
    for m in MessageIter::new(&frame_bytes[r]) {
        let Ok((_, p)) = m else { return 0 };
        let msg = &p.payload()[4..];
        let Ok(present) = uplane::resolve_comp_hdr(msg, cfg) else { return 0 };
        for s in uplane::sections(msg, present, cfg) {
            match s {
                Ok((_, s)) => prbs += s.prb_count(cfg.carrier_prbs),
                Err(_) => return 0,
            }
        }
    }
    prbs
}

fn bench(c: &mut Criterion) {
    let comp = UdCompHdr::new(CompMethod::Bfp, 9);
    // A 1500-byte-MTU U-plane frame: one section of 53 BFP-9 PRBs.
    let frame = samples::uplane_frame(comp, true, &[(0, 53)]).unwrap();
    let mut g = c.benchmark_group("uplane_frame");
    g.throughput(Throughput::Elements(1));
    for (name, mode) in [("walk_comp_hdr_present", CompHdrMode::Present), ("walk_comp_hdr_auto", CompHdrMode::Auto)] {
        let cfg = UplaneConfig { static_comp: comp, comp_hdr: mode, carrier_prbs: 273 };
        assert_eq!(walk_uplane(&frame, &cfg), 53);
        g.bench_function(name, |b| b.iter(|| walk_uplane(black_box(&frame), black_box(&cfg))));
    }
    let four = samples::uplane_frame(comp, true, &[(0, 10), (10, 10), (20, 10), (30, 10)]).unwrap();
    let cfg = UplaneConfig { static_comp: comp, comp_hdr: CompHdrMode::Present, carrier_prbs: 273 };
    assert_eq!(walk_uplane(&four, &cfg), 40);
    g.bench_function("walk_4_sections", |b| b.iter(|| walk_uplane(black_box(&four), black_box(&cfg))));
    let d = DecodeConfig { dl_comp: comp, comp_hdr: CompHdrMode::Present, ..DecodeConfig::default() };
    g.bench_function("full_decode_repr", |b| b.iter(|| FrameRepr::parse(black_box(&frame), &d).map(|f| f.messages().len())));
    g.finish();

    let mut g = c.benchmark_group("cplane_frame");
    g.throughput(Throughput::Elements(1));
    let cp = samples::cplane_type1_frame(4).unwrap();
    g.bench_function("type1_4_sections_walk", |b| {
        b.iter(|| {
            let loc = frame::locate(black_box(&cp), None).unwrap();
            let body = &cp[loc.ecpri.unwrap()][8..];
            let p = ecpri::cplane::CplanePacket::new_checked(body).unwrap();
            p.sections(Default::default()).filter_map(|s| s.ok()).count()
        })
    });
    g.bench_function("type1_4_sections_full_decode_repr", |b| {
        b.iter(|| FrameRepr::parse(black_box(&cp), &DecodeConfig::default()).map(|f| f.messages().len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
