//! Flow classification: from a received frame to the metadata a
//! translator descriptor carries (translators/ABI.md §3).
//!
//! [`classify`] finds the first eCPRI message with [`ecpri::frame::locate`]
//! and [`ecpri::frame::MessageIter`], reads the U-plane or C-plane
//! application header and walks the sections to record where each starts.
//! It allocates nothing; the pipeline calls it once per received packet,
//! and the translator host again after a translator modified a packet (a
//! changed length or compression moves the sections).

use ecpri::cplane::{CplanePacket, ParseOptions, SectionIter};
use ecpri::frame::{locate, DecodeConfig, MessageIter};
use ecpri::header::message_type;
use ecpri::uplane::{self, UplanePacket};

use crate::translate::abi::{flags, plane, DescriptorImage, MAX_SECTION_OFFSETS, VLAN_NONE};

/// The flow a packet belongs to: what chains are selected by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    /// 1 DL, 0 UL (the message's dataDirection for U/C-plane).
    pub direction: u8,
    /// 0 U-plane, 1 C-plane, 2 other eCPRI.
    pub plane: u8,
    /// ecpriPcid / ecpriRtcid, raw.
    pub eaxc: u16,
    /// Innermost VLAN ID, 0xFFFF when untagged.
    pub vlan: u16,
}

impl FlowKey {
    /// The flow key of a classified packet.
    pub fn of(d: &DescriptorImage) -> Self {
        FlowKey { direction: d.direction(), plane: d.plane(), eaxc: d.eaxc(), vlan: d.vlan() }
    }
}

/// Length of ecpriPcid/ecpriRtcid plus ecpriSeqid.
const ID_SEQ_LEN: usize = 4;
/// Length of the eCPRI common header.
const COMMON_LEN: usize = ecpri::header::field::HEADER_LEN;

/// Classifies `frame`: returns the host-set descriptor fields (direction,
/// plane, msg_type, eaxc, vlan, frame/subframe/slot/symbol, ecpri_offset,
/// section_count, flags, section_offsets, on a
/// [`blank`](DescriptorImage::blank) image: `capacity` is the slot size,
/// the verdict FORWARD, and `offset`, `len` and `origin` are left 0), or
/// `None` when the frame is not eCPRI or its headers or sections do not
/// decode: such frames bypass every translator. `port_direction` is the
/// direction of the port the frame came in on, used for eCPRI messages
/// other than U/C-plane.
pub fn classify(frame: &[u8], cfg: &DecodeConfig, port_direction: u8) -> Option<DescriptorImage> {
    let loc = locate(frame, cfg.udp_port).ok()?;
    let range = loc.ecpri?;
    let (msg_range, msg) = MessageIter::new(frame.get(range.clone())?).next()?.ok()?;
    let ecpri_offset = range.start + msg_range.start;
    let mut d = DescriptorImage::blank();
    d.set_vlan(loc.vid.unwrap_or(VLAN_NONE));
    d.set_msg_type(msg.message_type());
    d.set_ecpri_offset(u16::try_from(ecpri_offset).ok()?);
    let payload = msg.payload();
    // Section offsets count from the start of the frame; the application
    // header starts after the common header, ecpriPcid/Rtcid and ecpriSeqid.
    let app_at = ecpri_offset + COMMON_LEN + ID_SEQ_LEN;
    match msg.message_type() {
        message_type::IQ_DATA => {
            let body = payload.get(ID_SEQ_LEN..)?;
            d.set_plane(plane::U);
            d.set_eaxc(u16::from_be_bytes([payload[0], payload[1]]));
            let p = UplanePacket::new_checked(body).ok()?;
            let dir = p.data_direction();
            d.set_direction(dir);
            d.set_timing(p.frame_id(), p.subframe_id(), p.slot_id(), p.symbol_id());
            let ucfg = cfg.uplane(dir);
            let comp_hdr = uplane::resolve_comp_hdr(body, &ucfg).ok()?;
            let mut n = 0usize;
            for s in p.sections(comp_hdr, &ucfg) {
                let (at, _) = s.ok()?;
                record_section(&mut d, n, app_at + at)?;
                n += 1;
            }
            finish_sections(&mut d, n, if comp_hdr { flags::UD_COMP_HDR } else { 0 })?;
        }
        message_type::RT_CONTROL => {
            let body = payload.get(ID_SEQ_LEN..)?;
            d.set_plane(plane::C);
            d.set_eaxc(u16::from_be_bytes([payload[0], payload[1]]));
            let p = CplanePacket::new_checked(body).ok()?;
            d.set_direction(p.data_direction());
            d.set_timing(p.frame_id(), p.subframe_id(), p.slot_id(), p.start_symbol_id());
            let mut n = 0usize;
            let opts = ParseOptions { carrier_prbs: Some(cfg.carrier_prbs), ..ParseOptions::default() };
            for s in SectionIter::from_packet(&p, opts) {
                let s = s.ok()?;
                record_section(&mut d, n, app_at + s.offset)?;
                n += 1;
            }
            finish_sections(&mut d, n, 0)?;
        }
        t => {
            d.set_plane(plane::OTHER);
            // ABI.md §3: direction is 0 or 1; any other port value reads as DL.
            d.set_direction(port_direction.min(1));
            // Bit sequence messages carry an ecpriPcid too.
            if t == message_type::BIT_SEQUENCE && payload.len() >= 2 {
                d.set_eaxc(u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    }
    Some(d)
}

fn record_section(d: &mut DescriptorImage, i: usize, at: usize) -> Option<()> {
    if i < MAX_SECTION_OFFSETS {
        d.set_section_offset(i, u16::try_from(at).ok()?);
    }
    Some(())
}

fn finish_sections(d: &mut DescriptorImage, n: usize, mut f: u16) -> Option<()> {
    if n > MAX_SECTION_OFFSETS {
        f |= flags::MORE_SECTIONS;
    }
    d.set_section_count(u16::try_from(n).ok()?);
    d.set_flags(f);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::abi::direction;
    use ecpri::frame::{Body, FrameRepr, Payload};

    fn catalog() -> Vec<ecpri::samples::Sample> {
        ecpri::samples::catalog().unwrap()
    }

    #[test]
    fn every_sample_classifies_like_the_full_decoder() {
        for s in catalog() {
            let d = classify(&s.frame, &s.decode, direction::UL).unwrap_or_else(|| panic!("{}", s.name));
            let f = FrameRepr::parse(&s.frame, &s.decode).unwrap();
            let Payload::Ecpri(msgs) = &f.payload else { panic!("{}", s.name) };
            let m = &msgs[0];
            assert_eq!(d.msg_type(), m.header.message_type, "{}", s.name);
            match &m.body {
                Body::IqData { pc_id, uplane, .. } => {
                    assert_eq!((d.plane(), d.eaxc()), (plane::U, *pc_id), "{}", s.name);
                    assert_eq!(d.direction(), uplane.header.data_direction);
                    assert_eq!(d.frame_id(), uplane.header.frame_id);
                    assert_eq!(d.symbol_id(), uplane.header.symbol_id);
                    assert_eq!(d.section_count() as usize, uplane.sections.len(), "{}", s.name);
                    // Each offset points at the section's sectionId.
                    for (i, sec) in uplane.sections.iter().enumerate() {
                        let at = d.section_offset(i) as usize;
                        let id = u16::from_be_bytes([s.frame[at], s.frame[at + 1]]) >> 4;
                        assert_eq!(id, sec.section_id, "{}", s.name);
                    }
                    assert_eq!(d.flags() & flags::UD_COMP_HDR != 0, s.name.ends_with("hdr") || !s.name.starts_with("uplane"), "{}", s.name);
                }
                Body::RtControl { rtc_id, cplane, .. } => {
                    assert_eq!((d.plane(), d.eaxc()), (plane::C, *rtc_id), "{}", s.name);
                    assert_eq!(d.direction(), cplane.header.app.data_direction);
                    assert_eq!(d.slot_id(), cplane.header.app.slot_id);
                    assert_eq!(d.section_count() as usize, cplane.sections.len(), "{}", s.name);
                }
                _ => assert_eq!((d.plane(), d.direction()), (plane::OTHER, direction::UL), "{}", s.name),
            }
        }
    }

    #[test]
    fn other_messages_take_the_port_direction_as_0_or_1() {
        // A U-plane sample turned into a generic data transfer (type 3):
        // its direction comes from the port. The descriptor only carries 0
        // or 1, which the filters rely on: any other port value reads as DL.
        let c = catalog();
        let s = c.iter().find(|s| s.name == "uplane-bfp-9-hdr").unwrap();
        let mut f = s.frame.clone();
        f[15] = message_type::GENERIC_DATA;
        for (port, want) in [(direction::UL, direction::UL), (direction::DL, direction::DL), (2, direction::DL), (255, direction::DL)] {
            let d = classify(&f, &s.decode, port).unwrap();
            assert_eq!((d.plane(), d.msg_type(), d.direction()), (plane::OTHER, message_type::GENERIC_DATA, want), "port {port}");
        }
    }

    #[test]
    fn vlan_and_transport_are_recorded() {
        let c = catalog();
        let get = |n: &str| c.iter().find(|s| s.name == n).unwrap();
        let q = get("vlan-qinq");
        assert_eq!(classify(&q.frame, &q.decode, 0).unwrap().vlan(), 2);
        let u = get("udp-ipv4");
        let d = classify(&u.frame, &u.decode, 0).unwrap();
        assert_eq!((d.vlan(), d.ecpri_offset()), (VLAN_NONE, 14 + 20 + 8));
        let plain = get("uplane-bfp-9-hdr");
        assert_eq!(classify(&plain.frame, &plain.decode, 0).unwrap().ecpri_offset(), 14);
    }

    #[test]
    fn non_ecpri_and_broken_frames_bypass() {
        let mut ptp = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
        ptp.extend(0..44u8);
        assert!(classify(&ptp, &DecodeConfig::default(), 0).is_none());
        let c = catalog();
        let s = c.iter().find(|s| s.name == "cplane-st1").unwrap();
        assert!(classify(&s.frame[..s.frame.len() - 3], &s.decode, 0).is_none());
        assert!(classify(&[], &DecodeConfig::default(), 0).is_none());
    }
}
