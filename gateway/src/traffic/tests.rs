//! Tests of the generator.

use super::*;
use ecpri::frame::DecodeConfig;

#[test]
fn slot_time_numbering() {
    assert_eq!(SlotTime::of(0, 1), SlotTime { frame: 0, subframe: 0, slot: 0 });
    assert_eq!(SlotTime::of(21, 1), SlotTime { frame: 1, subframe: 0, slot: 1 });
    assert_eq!(SlotTime::of(10 * 256, 0), SlotTime { frame: 0, subframe: 0, slot: 0 }, "frameId wraps at 256");
}

#[test]
fn splits_symbols_at_prb_boundaries_under_the_mtu() {
    let spec = CarrierSpec { prbs: 273, antennas: 1, slots: 1, mtu: 1500, comp: UdCompHdr::new(ecpri::CompMethod::Bfp, 8), ..Default::default() };
    let frames = generate(&spec).unwrap();
    let per = prbs_per_frame(&spec).unwrap();
    assert_eq!(per, (1500 - 18) / 25);
    let d = DecodeConfig { dl_comp: spec.comp, ..DecodeConfig::default() };
    let mut covered = vec![0u32; 273];
    for f in &frames {
        assert!(f.data.len() - 14 <= 1500, "Ethernet payload within the MTU");
        let fr = FrameRepr::parse(&f.data, &d).unwrap();
        if let Body::IqData { uplane, .. } = &fr.messages()[0].body {
            if uplane.header.symbol_id == 0 {
                for s in &uplane.sections {
                    let start = s.start_prbu as usize;
                    for c in &mut covered[start..start + s.num_prbu as usize] {
                        *c += 1;
                    }
                }
            }
        }
    }
    assert!(covered.iter().all(|&c| c == 1), "every PRB of a symbol is sent exactly once");
}

#[test]
fn iq_decodes_back_to_the_reference_signal() {
    let spec = CarrierSpec { prbs: 10, antennas: 2, slots: 1, comp: UdCompHdr::new(ecpri::CompMethod::None, 16), ..Default::default() };
    let d = DecodeConfig::default();
    let mut checked = 0;
    for f in generate(&spec).unwrap() {
        let fr = FrameRepr::parse(&f.data, &d).unwrap();
        if let Body::IqData { pc_id, uplane, .. } = &fr.messages()[0].body {
            let h = uplane.header;
            let t = SlotTime { frame: h.frame_id, subframe: h.subframe_id, slot: h.slot_id };
            let s = &uplane.sections[0];
            let mut out = vec![0i32; 10 * 24];
            ecpri::iq::decompress(spec.comp, s.iq_data, &mut out).unwrap();
            for prb in 0..10 {
                for re in 0..12 {
                    let (i, q) = reference_iq(SignalLevel::Default, d.eaxc.split(*pc_id), t, h.symbol_id, prb, re);
                    assert_eq!((out[(prb * 12 + re) * 2], out[(prb * 12 + re) * 2 + 1]), (i, q));
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 14);
}

#[test]
fn signal_key_is_the_eaxc_fields_not_their_packing() {
    let l4444 = EaxcLayout::default();
    let l2644 = EaxcLayout::from_spec("2,6,4,4").unwrap();
    let id = EaxcId { du_port: 1, band_sector: 0, cc: 0, ru_port: 3 };
    // Under the default layout the key is the raw ID (captures keep their bytes).
    assert_eq!(signal_key(id), l4444.join(id).unwrap());
    let (a, b) = (l4444.join(id).unwrap(), l2644.join(id).unwrap());
    assert_ne!(a, b, "the remap changes the raw ID");
    let t = SlotTime::of(7, 1);
    assert_eq!(reference_prb(SignalLevel::Default, l4444.split(a), t, 3, 5), reference_prb(SignalLevel::Default, l2644.split(b), t, 3, 5));
    // Wide fields still give distinct keys.
    let wide = |bs| signal_key(EaxcId { du_port: 0, band_sector: bs, cc: 0, ru_port: 0 });
    assert_ne!(wide(20), wide(21));
}

#[test]
fn slot_by_slot_is_the_same_stream_as_generate() {
    let spec = CarrierSpec { prbs: 30, antennas: 2, slots: 3, prach: true, ..Default::default() };
    let all = generate(&spec).unwrap();
    let mut g = Generator::new(&spec).unwrap();
    let mut parts = Vec::new();
    for n in 0..3 {
        assert_eq!(g.slot_index(), n);
        let before = parts.len();
        g.next_slot(&mut parts).unwrap();
        assert!(parts[before..].iter().all(|f| f.at >= g.slot_duration() * n as u32));
    }
    assert_eq!(all.len(), parts.len());
    assert!(all.iter().zip(&parts).all(|(a, b)| a.data == b.data && a.at == b.at && a.kind == b.kind));
    let kinds = |k| all.iter().filter(|f| f.kind == k).count();
    assert_eq!((kinds(FrameKind::CplaneType1), kinds(FrameKind::CplaneType3)), (3 * 2 * 2, 3 * 2));
    assert_eq!(kinds(FrameKind::Uplane), 3 * 14 * 2);
}

#[test]
fn frame_id_wraps_and_seq_ids_run_on_in_a_long_stream() {
    // µ = 4: 160 slots per radio frame; 256 frames later frameId is 0 again.
    let spec = CarrierSpec { numerology: 4, prbs: 1, antennas: 1, side: Side::Ru, ..Default::default() };
    let d = DecodeConfig { ul_comp: spec.comp, ..DecodeConfig::default() };
    let mut g = Generator::new(&spec).unwrap();
    let mut out = Vec::new();
    let mut seq = 0u8;
    for n in 0..256 * 160 + 1u64 {
        out.clear();
        g.next_slot(&mut out).unwrap();
        if n % 160 != 0 {
            seq = seq.wrapping_add(14);
            continue;
        }
        let fr = FrameRepr::parse(&out[0].data, &d).unwrap();
        let Body::IqData { uplane, seq_id, .. } = &fr.messages()[0].body else { panic!() };
        assert_eq!(uplane.header.frame_id, (n / 160) as u8);
        assert_eq!(seq_id.seq_id, seq);
        seq = seq.wrapping_add(14);
    }
}

#[test]
fn sequence_ids_run_on_per_eaxc_and_plane() {
    let spec = CarrierSpec { prbs: 273, antennas: 2, slots: 2, ..Default::default() };
    let d = DecodeConfig { dl_comp: spec.comp, ..DecodeConfig::default() };
    let mut next: std::collections::HashMap<(u8, u8, u16), u8> = Default::default();
    for f in generate(&spec).unwrap() {
        let fr = FrameRepr::parse(&f.data, &d).unwrap();
        let m = &fr.messages()[0];
        let (id, s) = m.body.eaxc_and_seq().unwrap();
        let dir = match &m.body {
            Body::IqData { uplane, .. } => uplane.header.data_direction,
            Body::RtControl { cplane, .. } => cplane.header.app.data_direction,
            _ => unreachable!(),
        };
        let e = next.entry((m.header.message_type, dir, id)).or_insert(s.seq_id);
        assert_eq!(s.seq_id, *e);
        *e = e.wrapping_add(1);
    }
}
