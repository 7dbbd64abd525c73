//! IPv4, IPv6 and UDP, as far as eCPRI over UDP needs them. Options and
//! header fields are kept as they are, checksums included, so a parsed
//! header re-emits byte for byte; `fill_checksum` recomputes them when a
//! length changed.

use crate::bits::{be16, be32, set_be16};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// Byte ranges of the fixed IPv4 header.
pub mod field4 {
    /// Version and IHL.
    pub const VER_IHL: usize = 0;
    /// DSCP and ECN.
    pub const TOS: usize = 1;
    /// Total length.
    pub const LEN: usize = 2;
    /// Identification.
    pub const IDENT: usize = 4;
    /// Flags and fragment offset.
    pub const FLAGS_FRAG: usize = 6;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTO: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: usize = 10;
    /// Source address.
    pub const SRC: usize = 12;
    /// Destination address.
    pub const DST: usize = 16;
    /// Length without options.
    pub const MIN_LEN: usize = 20;
}

/// One's-complement sum over `data`, folded; the core of every Internet checksum.
fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// The decoded IPv4 header; `options` borrows any option bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr<'a> {
    /// DSCP/ECN byte.
    pub tos: u8,
    /// Total length (header + payload).
    pub total_len: u16,
    /// Identification.
    pub ident: u16,
    /// Flags and fragment offset.
    pub flags_frag: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol.
    pub protocol: u8,
    /// Header checksum as carried.
    pub checksum: u16,
    /// Source.
    pub src: [u8; 4],
    /// Destination.
    pub dst: [u8; 4],
    /// Option bytes (IHL > 5).
    pub options: &'a [u8],
}

impl<'a> Ipv4Repr<'a> {
    /// Parses the header at the start of `b`, checking version, IHL and total length.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        check_len(b, "ip.version", 0, field4::MIN_LEN)?;
        let ver = b[0] >> 4;
        if ver != 4 {
            return Err(Error::ReservedValue { field: "ip.version", offset: 0, value: ver as u32 });
        }
        let ihl = (b[0] & 0xF) as usize * 4;
        if ihl < field4::MIN_LEN {
            return Err(Error::ReservedValue { field: "ip.hdr_len", offset: 0, value: ihl as u32 });
        }
        check_len(b, "ip.opt", field4::MIN_LEN, ihl - field4::MIN_LEN)?;
        let total_len = be16(b, field4::LEN);
        if (total_len as usize) < ihl || total_len as usize > b.len() {
            return Err(Error::LengthMismatch { field: "ip.len", offset: field4::LEN, declared: total_len as usize, actual: b.len() });
        }
        Ok(Ipv4Repr {
            tos: b[field4::TOS],
            total_len,
            ident: be16(b, field4::IDENT),
            flags_frag: be16(b, field4::FLAGS_FRAG),
            ttl: b[field4::TTL],
            protocol: b[field4::PROTO],
            checksum: be16(b, field4::CHECKSUM),
            src: [b[12], b[13], b[14], b[15]],
            dst: [b[16], b[17], b[18], b[19]],
            options: &b[field4::MIN_LEN..ihl],
        })
    }

    /// Header length.
    pub fn header_len(&self) -> usize {
        field4::MIN_LEN + self.options.len()
    }

    /// Writes the header as carried (checksum included).
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let n = self.header_len();
        check_len(b, "ip", 0, n)?;
        if !self.options.len().is_multiple_of(4) || n > 60 {
            return Err(Error::ValueOutOfRange { field: "ip.hdr_len", value: n as u32, max: 60 });
        }
        b[0] = 0x40 | (n / 4) as u8;
        b[field4::TOS] = self.tos;
        set_be16(b, field4::LEN, self.total_len);
        set_be16(b, field4::IDENT, self.ident);
        set_be16(b, field4::FLAGS_FRAG, self.flags_frag);
        b[field4::TTL] = self.ttl;
        b[field4::PROTO] = self.protocol;
        set_be16(b, field4::CHECKSUM, self.checksum);
        b[field4::SRC..field4::SRC + 4].copy_from_slice(&self.src);
        b[field4::DST..field4::DST + 4].copy_from_slice(&self.dst);
        b[field4::MIN_LEN..n].copy_from_slice(self.options);
        Ok(n)
    }

    /// The checksum the header should carry.
    pub fn compute_checksum(header: &[u8]) -> u16 {
        let mut acc = ones_sum(0, &header[..field4::CHECKSUM]);
        acc = ones_sum(acc, &header[field4::CHECKSUM + 2..]);
        !fold(acc)
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("ip.len", FieldValue::U(self.total_len as u64));
        v.field("ip.ttl", FieldValue::U(self.ttl as u64));
        v.field("ip.proto", FieldValue::U(self.protocol as u64));
        v.field("ip.checksum", FieldValue::U(self.checksum as u64));
    }
}

/// The decoded fixed IPv6 header (extension headers are not followed:
/// eCPRI needs UDP directly after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Version (6), traffic class and flow label, as one word.
    pub ver_tc_flow: u32,
    /// Payload length.
    pub payload_len: u16,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source.
    pub src: [u8; 16],
    /// Destination.
    pub dst: [u8; 16],
}

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;

impl Ipv6Repr {
    /// Parses the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        check_len(b, "ipv6.version", 0, IPV6_HEADER_LEN)?;
        let w = be32(b, 0);
        if w >> 28 != 6 {
            return Err(Error::ReservedValue { field: "ipv6.version", offset: 0, value: w >> 28 });
        }
        let payload_len = be16(b, 4);
        if IPV6_HEADER_LEN + payload_len as usize > b.len() {
            return Err(Error::LengthMismatch { field: "ipv6.plen", offset: 4, declared: payload_len as usize, actual: b.len() - IPV6_HEADER_LEN });
        }
        let mut src = [0; 16];
        let mut dst = [0; 16];
        src.copy_from_slice(&b[8..24]);
        dst.copy_from_slice(&b[24..40]);
        Ok(Ipv6Repr { ver_tc_flow: w, payload_len, next_header: b[6], hop_limit: b[7], src, dst })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "ipv6", 0, IPV6_HEADER_LEN)?;
        b[0..4].copy_from_slice(&((self.ver_tc_flow & 0x0FFF_FFFF) | 0x6000_0000).to_be_bytes());
        set_be16(b, 4, self.payload_len);
        b[6] = self.next_header;
        b[7] = self.hop_limit;
        b[8..24].copy_from_slice(&self.src);
        b[24..40].copy_from_slice(&self.dst);
        Ok(IPV6_HEADER_LEN)
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("ipv6.plen", FieldValue::U(self.payload_len as u64));
        v.field("ipv6.nxt", FieldValue::U(self.next_header as u64));
        v.field("ipv6.hlim", FieldValue::U(self.hop_limit as u64));
    }
}

/// The IP layer under UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRepr<'a> {
    /// IPv4.
    V4(Ipv4Repr<'a>),
    /// IPv6.
    V6(Ipv6Repr),
}

impl IpRepr<'_> {
    /// Header length.
    pub fn header_len(&self) -> usize {
        match self {
            IpRepr::V4(r) => r.header_len(),
            IpRepr::V6(_) => IPV6_HEADER_LEN,
        }
    }

    /// The upper-layer protocol.
    pub fn protocol(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.protocol,
            IpRepr::V6(r) => r.next_header,
        }
    }

    /// Bytes of upper-layer payload the header declares.
    pub fn payload_len(&self) -> usize {
        match self {
            IpRepr::V4(r) => r.total_len as usize - r.header_len(),
            IpRepr::V6(r) => r.payload_len as usize,
        }
    }
}

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// The decoded UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length (header + payload).
    pub length: u16,
    /// Checksum as carried (0 = none, IPv4 only).
    pub checksum: u16,
}

impl UdpRepr {
    /// Parses the header at the start of `b` and checks its length field.
    pub fn parse(b: &[u8]) -> Result<Self> {
        check_len(b, "udp.srcport", 0, UDP_HEADER_LEN)?;
        let length = be16(b, 4);
        if (length as usize) < UDP_HEADER_LEN || length as usize > b.len() {
            return Err(Error::LengthMismatch { field: "udp.length", offset: 4, declared: length as usize, actual: b.len() });
        }
        Ok(UdpRepr { src_port: be16(b, 0), dst_port: be16(b, 2), length, checksum: be16(b, 6) })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        check_len(b, "udp", 0, UDP_HEADER_LEN)?;
        set_be16(b, 0, self.src_port);
        set_be16(b, 2, self.dst_port);
        set_be16(b, 4, self.length);
        set_be16(b, 6, self.checksum);
        Ok(UDP_HEADER_LEN)
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.field("udp.srcport", FieldValue::U(self.src_port as u64));
        v.field("udp.dstport", FieldValue::U(self.dst_port as u64));
        v.field("udp.length", FieldValue::U(self.length as u64));
    }
}

/// Recomputes the IP header checksum (IPv4) and the UDP checksum in a
/// frame's IP packet `ip` (header + UDP + payload). For IPv4 a zero UDP
/// checksum ("none") is left as zero.
pub fn fill_checksums(ip: &mut [u8]) -> Result<()> {
    check_len(ip, "ip.version", 0, 1)?;
    let (hlen, pseudo) = match ip[0] >> 4 {
        4 => {
            let (hl, protocol, total_len) = {
                let r = Ipv4Repr::parse(ip)?;
                (r.header_len(), r.protocol, r.total_len)
            };
            set_be16(ip, field4::CHECKSUM, 0);
            let c = Ipv4Repr::compute_checksum(&ip[..hl]);
            set_be16(ip, field4::CHECKSUM, c);
            let mut acc = ones_sum(0, &ip[field4::SRC..field4::DST + 4]);
            acc += protocol as u32 + (total_len as u32 - hl as u32);
            if check_len(ip, "udp.checksum", hl + 6, 2).is_ok() && be16(ip, hl + 6) == 0 {
                return Ok(());
            }
            (hl, acc)
        }
        6 => {
            let r = Ipv6Repr::parse(ip)?;
            let mut acc = ones_sum(0, &ip[8..40]);
            acc += r.next_header as u32 + r.payload_len as u32;
            let _ = &r;
            (IPV6_HEADER_LEN, acc)
        }
        v => return Err(Error::ReservedValue { field: "ip.version", offset: 0, value: v as u32 }),
    };
    let udp = UdpRepr::parse(&ip[hlen..])?;
    let end = hlen + udp.length as usize;
    set_be16(ip, hlen + 6, 0);
    let mut c = !fold(ones_sum(pseudo, &ip[hlen..end]));
    if c == 0 {
        c = 0xFFFF;
    }
    set_be16(ip, hlen + 6, c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4/UDP header from a hand-built frame; checksum computed independently.
    const V4_UDP: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2, //
        0xC0, 0x00, 0xAE, 0xFE, 0x00, 0x0C, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn ipv4_udp_round_trip_and_checksums() {
        let mut b = V4_UDP;
        fill_checksums(&mut b).unwrap();
        // Verifying a header with its checksum in place sums to 0xFFFF.
        assert_eq!(fold(ones_sum(0, &b[..20])), 0xFFFF);
        let ip = Ipv4Repr::parse(&b).unwrap();
        assert_eq!((ip.total_len, ip.protocol, ip.ttl), (32, PROTO_UDP, 64));
        let udp = UdpRepr::parse(&b[20..]).unwrap();
        assert_eq!((udp.src_port, udp.dst_port, udp.length), (0xC000, 0xAEFE, 12));
        let mut out = [0u8; 32];
        ip.emit(&mut out).unwrap();
        udp.emit(&mut out[20..]).unwrap();
        out[28..].copy_from_slice(&b[28..]);
        assert_eq!(out, b);
    }

    #[test]
    fn ipv6_round_trip() {
        let mut b = [0u8; 52];
        let r = Ipv6Repr { ver_tc_flow: 0x6000_0001, payload_len: 12, next_header: PROTO_UDP, hop_limit: 64, src: [1; 16], dst: [2; 16] };
        r.emit(&mut b).unwrap();
        UdpRepr { src_port: 1, dst_port: 2, length: 12, checksum: 0 }.emit(&mut b[40..]).unwrap();
        fill_checksums(&mut b).unwrap();
        assert_ne!(be16(&b, 46), 0);
        assert_eq!(Ipv6Repr::parse(&b).unwrap(), r);
    }

    #[test]
    fn errors_name_fields() {
        let mut b = V4_UDP;
        b[3] = 0xFF;
        assert!(matches!(Ipv4Repr::parse(&b), Err(Error::LengthMismatch { field: "ip.len", offset: 2, .. })));
        b[0] = 0x65;
        assert!(matches!(Ipv4Repr::parse(&b), Err(Error::ReservedValue { field: "ip.version", .. })));
        assert!(matches!(UdpRepr::parse(&V4_UDP[20..25]), Err(Error::Truncated { field: "udp.srcport", .. })));
    }
}
