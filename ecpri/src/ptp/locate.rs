//! Sorting a frame that is not fronthaul into its class (PTP, ARP, IP,
//! LLDP, other), and where its PTP message lies: what a bridge needs to
//! apply its passthrough policy and its transparent clock.

use crate::ethernet::{EthernetFrame, ETHERTYPE_ARP, ETHERTYPE_ECPRI, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_LLDP, ETHERTYPE_PTP};
use crate::ip::{Ipv4Repr, Ipv6Repr, UdpRepr, IPV6_HEADER_LEN, PROTO_UDP, UDP_HEADER_LEN};

/// UDP port of PTP event messages (IEEE 1588 Annex C/D).
pub const PTP_EVENT_PORT: u16 = 319;
/// UDP port of PTP general messages.
pub const PTP_GENERAL_PORT: u16 = 320;

/// What a non-fronthaul frame is, for the policy and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// PTP over L2 (0x88F7) or over UDP 319/320 (IPv4, IPv6).
    Ptp = 0,
    /// ARP (0x0806).
    Arp = 1,
    /// Other IPv4 and IPv6: the M-plane (NETCONF/SSH), DHCP, ICMP, ...
    Ip = 2,
    /// LLDP (0x88CC).
    Lldp = 3,
    /// Any other ethertype, and frames too short to carry one.
    Other = 4,
}

/// How many classes there are.
pub const CLASSES: usize = 5;

impl Class {
    /// Every class, in index order.
    pub const ALL: [Class; CLASSES] = [Class::Ptp, Class::Arp, Class::Ip, Class::Lldp, Class::Other];

    /// The name the configuration and the metrics use.
    pub fn name(self) -> &'static str {
        ["ptp", "arp", "ip", "lldp", "other"][self as usize]
    }

    /// The class a configuration name means.
    pub fn from_name(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Where a PTP message lies in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtpAt {
    /// Offset of the PTP common header.
    pub offset: usize,
    /// Bytes of PTP message there (to the end of the UDP payload, or of the frame).
    pub len: usize,
    /// Offset of the UDP checksum to keep right when the message changes;
    /// `None` over L2 and for IPv4 datagrams sent without one (zero).
    pub udp_checksum: Option<usize>,
}

/// A frame that is not fronthaul: its class, and its PTP message if it carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The class.
    pub class: Class,
    /// The PTP message, for [`Class::Ptp`].
    pub ptp: Option<PtpAt>,
}

impl Located {
    fn of(class: Class) -> Option<Located> {
        Some(Located { class, ptp: None })
    }
}

/// Sorts a frame: `None` when it is fronthaul (ethertype 0xAEFE, or UDP
/// to the eCPRI port `ecpri_udp_port`), which the pipeline handles as
/// eCPRI even when it is malformed; otherwise its class. VLAN tags (up to
/// two) are looked through; an IPv4 fragment is IP, never PTP.
pub fn locate(frame: &[u8], ecpri_udp_port: Option<u16>) -> Option<Located> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else { return Located::of(Class::Other) };
    let at = eth.header_len();
    let (ip_len, udp_at, ipv6) = match eth.ethertype() {
        ETHERTYPE_ECPRI => return None,
        ETHERTYPE_PTP => return Some(Located { class: Class::Ptp, ptp: Some(PtpAt { offset: at, len: frame.len() - at, udp_checksum: None }) }),
        ETHERTYPE_ARP => return Located::of(Class::Arp),
        ETHERTYPE_LLDP => return Located::of(Class::Lldp),
        ETHERTYPE_IPV4 => match Ipv4Repr::parse(&frame[at..]) {
            Ok(ip) if ip.protocol == PROTO_UDP && ip.flags_frag & 0x3FFF == 0 => (ip.total_len as usize, at + ip.header_len(), false),
            _ => return Located::of(Class::Ip),
        },
        ETHERTYPE_IPV6 => match Ipv6Repr::parse(&frame[at..]) {
            Ok(ip) if ip.next_header == PROTO_UDP => (IPV6_HEADER_LEN + ip.payload_len as usize, at + IPV6_HEADER_LEN, true),
            _ => return Located::of(Class::Ip),
        },
        _ => return Located::of(Class::Other),
    };
    // The datagram ends where the IP packet says, not at the padding.
    let end = (at + ip_len).min(frame.len());
    let Ok(udp) = UdpRepr::parse(&frame[udp_at..end]) else { return Located::of(Class::Ip) };
    if Some(udp.dst_port) == ecpri_udp_port {
        return None;
    }
    if udp.dst_port != PTP_EVENT_PORT && udp.dst_port != PTP_GENERAL_PORT {
        return Located::of(Class::Ip);
    }
    let udp_checksum = (ipv6 || udp.checksum != 0).then_some(udp_at + 6);
    let offset = udp_at + UDP_HEADER_LEN;
    Some(Located { class: Class::Ptp, ptp: Some(PtpAt { offset, len: udp.length as usize - UDP_HEADER_LEN, udp_checksum }) })
}
