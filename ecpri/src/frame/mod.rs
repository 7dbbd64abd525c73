//! A whole frame: Ethernet (with VLAN tags), optionally IPv4/IPv6 + UDP,
//! then one or more eCPRI messages, each decoded by its own layer.
//!
//! [`locate`] and [`MessageIter`] find the eCPRI messages without
//! allocating (the gateway's hot path); [`FrameRepr`] decodes everything
//! (inspect, diff, the generator) and re-emits it byte for byte.

use core::ops::Range;

use crate::comp_hdr::UdCompHdr;
use crate::error::check_len;
use crate::ethernet::{self, EthernetFrame};
use crate::header::{self, EcpriPacket, HeaderRepr};
use crate::ip::{self, Ipv4Repr, Ipv6Repr, UdpRepr};
use crate::uplane::{CompHdrMode, UplaneConfig};
use crate::{EaxcLayout, Error, Result};

/// Decoding options the wire does not carry (`inspect`'s flags and the
/// config file's keys share these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeConfig {
    /// eAxC bit layout (`--eaxc-bits`).
    pub eaxc: EaxcLayout,
    /// Static U-plane compression for DL (`--dl-comp`).
    pub dl_comp: UdCompHdr,
    /// Static U-plane compression for UL (`--ul-comp`).
    pub ul_comp: UdCompHdr,
    /// Whether U-plane sections carry udCompHdr (`--comp-hdr`).
    pub comp_hdr: CompHdrMode,
    /// UDP port to decode as eCPRI (`--udp-port`).
    pub udp_port: Option<u16>,
    /// Carrier width that numPrbu = 0 stands for (`--carrier-prbs`).
    pub carrier_prbs: u16,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            eaxc: EaxcLayout::default(),
            dl_comp: UdCompHdr::UNCOMPRESSED,
            ul_comp: UdCompHdr::UNCOMPRESSED,
            comp_hdr: CompHdrMode::Auto,
            udp_port: None,
            carrier_prbs: 273,
        }
    }
}

impl DecodeConfig {
    /// The U-plane view of this config for a dataDirection (1 = DL).
    pub fn uplane(&self, data_direction: u8) -> UplaneConfig {
        UplaneConfig {
            static_comp: if data_direction == 1 { self.dl_comp } else { self.ul_comp },
            comp_hdr: self.comp_hdr,
            carrier_prbs: self.carrier_prbs,
        }
    }
}

/// Where a frame's eCPRI bytes are, found without allocating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Innermost VLAN ID, if tagged.
    pub vid: Option<u16>,
    /// Innermost ethertype.
    pub ethertype: u16,
    /// The byte range of the eCPRI messages (with any concatenation
    /// padding), or `None` when the frame is not eCPRI.
    pub ecpri: Option<Range<usize>>,
}

/// Finds the eCPRI payload of `frame`: ethertype 0xAEFE directly, or
/// UDP to/from `udp_port` over IPv4 or IPv6.
#[inline]
pub fn locate(frame: &[u8], udp_port: Option<u16>) -> Result<Located> {
    let eth = EthernetFrame::new_checked(frame)?;
    let hl = eth.header_len();
    let (vid, ethertype) = (eth.vid(), eth.ethertype());
    let ecpri = match ethertype {
        ethernet::ETHERTYPE_ECPRI => Some(hl..frame.len()),
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 if udp_port.is_some() => {
            let ipb = &frame[hl..];
            let (ip_hl, proto, ip_payload) = match ethertype {
                ethernet::ETHERTYPE_IPV4 => {
                    let r = Ipv4Repr::parse(ipb).map_err(|e| e.at(hl))?;
                    (r.header_len(), r.protocol, r.total_len as usize - r.header_len())
                }
                _ => {
                    let r = Ipv6Repr::parse(ipb).map_err(|e| e.at(hl))?;
                    (ip::IPV6_HEADER_LEN, r.next_header, r.payload_len as usize)
                }
            };
            let udp_at = hl + ip_hl;
            if proto != ip::PROTO_UDP {
                None
            } else {
                let u = UdpRepr::parse(&frame[udp_at..udp_at + ip_payload]).map_err(|e| e.at(udp_at))?;
                if Some(u.dst_port) == udp_port || Some(u.src_port) == udp_port {
                    Some(udp_at + ip::UDP_HEADER_LEN..udp_at + u.length as usize)
                } else {
                    None
                }
            }
        }
        _ => None,
    };
    Ok(Located { vid, ethertype, ecpri })
}

/// Walks the eCPRI messages in a payload, following the C bit. Yields the
/// byte range of each message (common header included) within `buf`.
#[derive(Debug, Clone)]
pub struct MessageIter<'a> {
    buf: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> MessageIter<'a> {
    /// Starts at the first common header in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        MessageIter { buf, at: 0, done: false }
    }

    /// Where the walk stopped: the first byte after the last message.
    pub fn position(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for MessageIter<'a> {
    type Item = Result<(Range<usize>, EcpriPacket<&'a [u8]>)>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.at;
        let p = match EcpriPacket::new_checked(&self.buf[at..]) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e.at(at)));
            }
        };
        if let Err(e) = HeaderRepr::parse(&p) {
            self.done = true;
            return Some(Err(e.at(at)));
        }
        let end = at + p.total_len();
        if p.concatenation() {
            let pad = header::concat_padding(p.total_len());
            if let Err(e) = check_len(self.buf, "ecpri.cbit (padding)", end, pad) {
                self.done = true;
                return Some(Err(e));
            }
            self.at = end + pad;
            if self.at >= self.buf.len() {
                self.done = true;
                return Some(Err(Error::Truncated {
                    field: "ecpri.cbit",
                    offset: at,
                    needed: header::field::HEADER_LEN,
                    available: 0,
                }));
            }
        } else {
            self.at = end;
            self.done = true;
        }
        let msg = EcpriPacket::new_unchecked(&self.buf[at..end]);
        Some(Ok((at..end, msg)))
    }
}

#[cfg(feature = "alloc")]
mod repr;
#[cfg(feature = "alloc")]
pub use repr::{Body, FrameRepr, MessageRepr, Payload, Transport};

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::samples;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn catalog() -> &'static [samples::Sample] {
        static C: std::sync::OnceLock<Vec<samples::Sample>> = std::sync::OnceLock::new();
        C.get_or_init(|| samples::catalog().unwrap())
    }

    #[test]
    fn locate_finds_ecpri_in_every_transport() {
        for s in catalog() {
            let loc = locate(&s.frame, s.decode.udp_port).unwrap();
            let r = loc.ecpri.expect(&s.name);
            let n = MessageIter::new(&s.frame[r]).filter(|m| m.is_ok()).count();
            assert!(n >= 1, "{}", s.name);
        }
        let qinq = catalog().iter().find(|s| s.name == "vlan-qinq").unwrap();
        assert_eq!(locate(&qinq.frame, None).unwrap().vid, Some(2));
    }

    #[test]
    fn concatenated_messages_are_all_found() {
        let s = catalog().iter().find(|s| s.name == "concatenated").unwrap();
        let f = FrameRepr::parse(&s.frame, &s.decode).unwrap();
        assert_eq!(f.messages().len(), 3);
        assert!(f.messages()[0].header.concatenation && f.messages()[1].header.concatenation);
        assert!(!f.messages()[2].header.concatenation);
        // Each concatenated message is padded to a 4-byte boundary.
        for m in &f.messages()[..2] {
            assert_eq!((m.buffer_len()) % 4, 0);
        }
    }

    #[test]
    fn udp_needs_the_port() {
        let s = catalog().iter().find(|s| s.name == "udp-ipv4").unwrap();
        let other = DecodeConfig { udp_port: Some(1234), ..s.decode };
        let f = FrameRepr::parse(&s.frame, &other).unwrap();
        assert!(matches!(f.payload, Payload::Other(_)));
        let f = FrameRepr::parse(&s.frame, &s.decode).unwrap();
        assert_eq!(f.messages().len(), 1);
    }

    #[test]
    fn non_ecpri_traffic_is_kept_whole() {
        // A PTP frame (S-plane) and an ARP frame: not eCPRI, byte-exact.
        let mut ptp = std::vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
        ptp.extend(0..44u8);
        let f = FrameRepr::parse(&ptp, &DecodeConfig::default()).unwrap();
        assert!(matches!(f.payload, Payload::Other(b) if b.len() == 44));
        assert_eq!(f.to_bytes().unwrap(), ptp);
    }

    #[test]
    fn errors_are_rebased_to_frame_offsets() {
        let s = catalog().iter().find(|s| s.name == "vlan-8021q").unwrap();
        let mut b = s.frame.clone();
        b[18] = 0x20; // eCPRI revision 2, after 14 + 4 bytes of Ethernet and tag
        assert_eq!(FrameRepr::parse(&b, &s.decode), Err(Error::UnsupportedRevision { offset: 18, revision: 2 }));
        let b = &s.frame[..s.frame.len() - 5];
        let e = FrameRepr::parse(b, &s.decode).unwrap_err();
        assert_eq!((e.field(), e.offset()), ("ecpri.size", Some(20)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Mutating any byte of any sample never panics, and whatever still
        /// parses re-emits byte for byte.
        #[test]
        fn mutated_samples_parse_or_fail_cleanly(i in 0usize..1000, at in any::<proptest::sample::Index>(), v: u8, cut in any::<proptest::sample::Index>()) {
            let s = &catalog()[i % catalog().len()];
            let mut b = s.frame.clone();
            let at = at.index(b.len());
            b[at] = v;
            b.truncate(cut.index(b.len() + 1).max(1));
            if let Ok(f) = FrameRepr::parse(&b, &s.decode) {
                let mut out = std::vec![0u8; f.buffer_len()];
                f.emit(&mut out).unwrap();
                prop_assert_eq!(out, b);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), port: bool) {
            let d = DecodeConfig { udp_port: port.then_some(0xAEFE), ..DecodeConfig::default() };
            if let Ok(f) = FrameRepr::parse(&b, &d) {
                let mut out = std::vec![0u8; f.buffer_len()];
                f.emit(&mut out).unwrap();
                prop_assert_eq!(out, b);
            }
        }
    }
}
