//! Tests of the runtime, [`Packet`] and the frame helpers, through small
//! translators run by the native harness.

use std::string::ToString;
use std::vec::Vec;

use ecpri::frame::{Body, FrameRepr, Payload};
use ecpri::samples::{catalog, Sample};

use crate::abi::{self, verdict, SLOT_SIZE};
use crate::native::{counter, describe, logs, Harness};
use crate::*;

fn sample(name: &str) -> Sample {
    catalog().unwrap().into_iter().find(|s| s.name == name).unwrap()
}

/// What the test translator does, chosen by config `action`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    /// Forward, plus `n` extra copies.
    Extras(usize),
    /// Grow the first message's payload by `n` zero bytes at its end.
    Grow(usize),
    /// Shrink the first message's payload by `n` bytes at its end.
    Shrink(usize),
    /// Edit a byte in place, then fail.
    EditThenFail,
    /// Rebuild, then fail inside the rebuild.
    RebuildThenFail,
    /// Rebuild, then edit, then fail.
    RebuildEditFail,
    /// Drop.
    Drop,
}

struct Test {
    action: Action,
    seen: Counter,
}

impl Translator for Test {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let n = cfg.u64_or("n", 1)? as usize;
        let action = match cfg.str("action")? {
            "extras" => Action::Extras(n),
            "grow" => Action::Grow(n),
            "shrink" => Action::Shrink(n),
            "edit_fail" => Action::EditThenFail,
            "rebuild_fail" => Action::RebuildThenFail,
            "rebuild_edit_fail" => Action::RebuildEditFail,
            "drop" => Action::Drop,
            _ => return Err(ConfigError::invalid("action", "unknown").into()),
        };
        ctx.log(Level::Info, "ready");
        Ok(Test { action, seen: ctx.counter("seen")? })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        ctx.inc(self.seen);
        match self.action {
            Action::Extras(n) => {
                for k in 0..n {
                    let e = pkt.emit_extra_copy()?;
                    e[0] = k as u8;
                }
                Ok(Verdict::Forward)
            }
            Action::Grow(n) | Action::Shrink(n) => {
                let mut m = pkt.first_message()?;
                let end = m.end();
                if let Action::Grow(_) = self.action {
                    pkt.resize_message(&mut m, end, 0, n)?;
                } else {
                    pkt.resize_message(&mut m, end - n, n, 0)?;
                }
                Ok(Verdict::Modified)
            }
            Action::EditThenFail => {
                pkt.bytes_mut()[0] ^= 0xFF;
                Err(Error::Invalid("edited, then failed"))
            }
            Action::RebuildThenFail => {
                pkt.rebuild(|_, dst| {
                    dst[0] ^= 0xFF;
                    Err(Error::Invalid("failed inside rebuild"))
                })?;
                Ok(Verdict::Modified)
            }
            Action::RebuildEditFail => {
                pkt.rebuild(|src, dst| {
                    dst[..src.len()].copy_from_slice(src);
                    dst[1] ^= 0xFF;
                    Ok(src.len())
                })?;
                pkt.bytes_mut()[2] ^= 0xFF;
                Err(Error::Invalid("failed after a rebuild"))
            }
            Action::Drop => Ok(Verdict::Drop),
        }
    }
}

fn harness(cfg: &str, s: &Sample) -> Harness<Test> {
    Harness::with_decode(cfg, s.decode).unwrap()
}

#[test]
fn extras_follow_their_input_in_order() {
    let a = sample("uplane-bfp-9-hdr");
    let b = sample("vlan-8021q");
    let mut h = harness("action=\"extras\"\nn=2\n", &a);
    let out = h.process(&[&a.frame, &b.frame]);
    assert_eq!(out.len(), 6);
    assert_eq!(
        out.iter().map(|o| (o.verdict, o.origin)).collect::<Vec<_>>(),
        [
            (verdict::FORWARD, 0),
            (verdict::FORWARD, 1),
            (verdict::EXTRA, 0),
            (verdict::EXTRA, 0),
            (verdict::EXTRA, 1),
            (verdict::EXTRA, 1),
        ]
    );
    assert_eq!(out[0].bytes, a.frame);
    assert_eq!(out[3].bytes[0], 1);
    assert_eq!(&out[3].bytes[1..], &a.frame[1..]);
    assert_eq!(&out[5].bytes[1..], &b.frame[1..]);
    assert_eq!(counter("seen"), Some(2));
    assert!(logs().iter().any(|l| l == &(2, "ready".to_string())));
}

#[test]
fn extras_stop_at_max_out() {
    let a = sample("uplane-bfp-9-hdr");
    let mut h = harness("action=\"extras\"\nn=3\n", &a);
    let frames: Vec<&[u8]> = (0..40).map(|_| &a.frame[..]).collect();
    h.load(&frames);
    let n = h.run();
    assert_eq!(n, abi::MAX_OUT, "88 extras wanted, 88 fit");
    // Input 29 gets one extra, then no room for its second: its error
    // leaves it forwarded, with the extras it did emit.
    assert_eq!(counter("errors"), Some(11));
    let last = h.output(n - 1);
    assert_eq!(last.verdict, verdict::EXTRA);
}

#[test]
fn grow_and_shrink_fix_every_length() {
    for name in ["udp-ipv4", "udp-ipv6", "concatenated", "vlan-qinq", "cplane-st1"] {
        let s = sample(name);
        for (action, n) in [("grow", 1), ("grow", 4), ("grow", 7), ("shrink", 3)] {
            let mut h = harness(&std::format!("action=\"{action}\"\nn={n}\n"), &s);
            let o = h.translate(&s.frame);
            assert_eq!(o.verdict, verdict::MODIFIED);
            let fin = FrameRepr::parse(&s.frame, &s.decode).unwrap();
            // The grown message no longer tiles into sections: read it as bytes.
            let loc = ecpri::frame::locate(&o.bytes, s.decode.udp_port).unwrap();
            let r = loc.ecpri.unwrap();
            let msgs: Vec<_> = ecpri::frame::MessageIter::new(&o.bytes[r.clone()]).collect::<Result<_, _>>().unwrap();
            assert_eq!(msgs.len(), fin.messages().len(), "{name} {action} {n}");
            let delta = if action == "grow" { n as isize } else { -(n as isize) };
            assert_eq!(msgs[0].1.payload_size() as isize, fin.messages()[0].header.payload_size as isize + delta);
            // Concatenated messages still start 4-byte aligned relative to the first.
            for (range, _) in &msgs[1..] {
                assert_eq!(range.start % 4, 0, "{name} {action} {n}");
            }
            if let Some(t) = fin.transport {
                let hl = fin.eth.buffer_len();
                let udp_at = hl + t.ip.header_len();
                let udp_len = u16::from_be_bytes([o.bytes[udp_at + 4], o.bytes[udp_at + 5]]) as usize;
                assert_eq!(udp_len, 8 + r.len(), "{name}: UDP length");
                let mut again = o.bytes.clone();
                ecpri::ip::fill_checksums(&mut again[hl..]).unwrap();
                assert_eq!(again, o.bytes, "{name}: checksums");
            }
        }
    }
}

#[test]
fn failures_leave_the_input_or_drop_it() {
    let s = sample("udp-ipv4");
    // An in-place edit cannot be undone: the packet is dropped.
    let mut h = harness("action=\"edit_fail\"\n", &s);
    assert_eq!(h.translate(&s.frame).verdict, verdict::DROP);
    // A failed rebuild leaves the packet as it was: forwarded.
    let mut h = harness("action=\"rebuild_fail\"\n", &s);
    let o = h.translate(&s.frame);
    assert_eq!((o.verdict, o.bytes), (verdict::FORWARD, s.frame.clone()));
    // An edit after a rebuild is undone from the rebuild's copy.
    let mut h = harness("action=\"rebuild_edit_fail\"\n", &s);
    let o = h.translate(&s.frame);
    assert_eq!((o.verdict, o.bytes), (verdict::FORWARD, s.frame.clone()));
    assert_eq!(counter("errors"), Some(1));
    assert!(logs().iter().any(|(lvl, m)| *lvl == 1 && m == "packet 0: failed after a rebuild"), "{:?}", logs());
    // on_error = "drop".
    let mut h = harness("action=\"rebuild_fail\"\non_error=\"drop\"\n", &s);
    assert_eq!(h.translate(&s.frame).verdict, verdict::DROP);
    let mut h = harness("action=\"drop\"\n", &s);
    assert_eq!(h.translate(&s.frame).verdict, verdict::DROP);
}

#[test]
fn init_errors_are_logged_and_coded() {
    let s = sample("udp-ipv4");
    let e = Harness::<Test>::with_decode("action=\"drop\"\nbogus=1\n", s.decode).err().unwrap();
    assert_eq!(e.code(), 1);
    assert!(logs().iter().any(|(l, m)| *l == 0 && m == "init failed: config key `bogus`: unknown key"));
    let e = Harness::<Test>::with_decode("action=\"drop\"\non_error=\"ignore\"\n", s.decode).err().unwrap();
    assert_eq!(e.to_string(), "config key `on_error`: not one of the allowed values");
}

#[test]
fn descriptors_match_the_frames() {
    for s in catalog().unwrap() {
        let d = describe(&s.frame, &s.decode);
        let f = FrameRepr::parse(&s.frame, &s.decode).unwrap();
        let Payload::Ecpri(ms) = &f.payload else { continue };
        assert_eq!(d.msg_type, ms[0].header.message_type, "{}", s.name);
        assert_eq!(d.vlan, f.eth.vid().unwrap_or(abi::NO_VLAN));
        match &ms[0].body {
            Body::IqData { pc_id, uplane, .. } => {
                assert_eq!((d.plane, d.eaxc, d.direction), (0, *pc_id, uplane.header.data_direction));
                assert_eq!(d.section_count as usize, uplane.sections.len());
                assert_eq!(d.flags & 1 != 0, uplane.sections[0].ud_comp_hdr.is_some());
                // The first section's header starts right after the application header.
                assert_eq!(d.section_offsets[0] as usize, d.ecpri_offset as usize + 12, "{}", s.name);
            }
            Body::RtControl { rtc_id, cplane, .. } => {
                assert_eq!((d.plane, d.eaxc), (1, *rtc_id));
                assert_eq!(d.section_count as usize, cplane.sections.len(), "{}", s.name);
            }
            _ => assert_eq!(d.plane, 2),
        }
    }
}

#[test]
fn splice_keeps_the_ecpri_offset_in_step() {
    struct Tag;
    impl Translator for Tag {
        fn init(_: &Config<'_>, _: &mut InitCtx) -> Result<Self, InitError> {
            Ok(Tag)
        }
        fn translate(&mut self, pkt: &mut Packet<'_>, _: &mut Ctx) -> Result<Verdict, Error> {
            let before = pkt.first_message()?;
            pkt.push_vlan(ecpri::ethernet::VlanTag::c_tag(5, 3))?;
            assert_eq!(pkt.ecpri_offset(), before.offset + 4);
            assert_eq!(pkt.first_message()?.msg_type, before.msg_type);
            assert!(pkt.splice(pkt.ecpri_offset() - 1, 2, 0).is_err(), "crossing the eCPRI start");
            assert_eq!(pkt.set_len(SLOT_SIZE + 1), Err(Error::Capacity { needed: SLOT_SIZE + 1, capacity: SLOT_SIZE }));
            Ok(Verdict::Modified)
        }
    }
    let s = sample("udp-ipv6");
    let mut h = Harness::<Tag>::with_decode("", s.decode).unwrap();
    let o = h.translate(&s.frame);
    let f = FrameRepr::parse(&o.bytes, &s.decode).unwrap();
    assert_eq!(f.eth.vlan_tags().len(), 2);
    assert_eq!(f.messages().len(), 1);
}
