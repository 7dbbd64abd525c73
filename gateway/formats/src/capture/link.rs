//! Link types (tcpdump.org's LINKTYPE_ registry) and the conversion of
//! Linux cooked captures to the Ethernet view.
//!
//! A cooked header (`LINUX_SLL`, 16 bytes; `LINUX_SLL2`, 20 bytes) carries
//! the protocol type (the ethertype), the sender's link-layer address and
//! no destination. The Ethernet view is destination `00:00:00:00:00:00`,
//! source the sender's address when it is 6 bytes long (else zeros), then
//! the protocol type and the payload as captured. libpcap puts a VLAN tag
//! the kernel stripped back into the payload (protocol 0x8100, then TCI and
//! the inner type), so tagged frames come out tagged, as on the wire.

/// LINKTYPE_ETHERNET.
pub const ETHERNET: u16 = 1;
/// LINKTYPE_RAW: bare IPv4 or IPv6 packets.
pub const RAW: u16 = 101;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1 (`tcpdump -i any`).
pub const LINUX_SLL: u16 = 113;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2 (libpcap 1.10 and later).
pub const LINUX_SLL2: u16 = 276;

/// Bytes of an Ethernet header without tags.
const ETH_HEADER: usize = 14;

/// The registry's name of common link types, for error messages.
pub fn name(link_type: u16) -> Option<&'static str> {
    Some(match link_type {
        0 => "NULL",
        ETHERNET => "ETHERNET",
        6 => "IEEE802_5",
        9 => "PPP",
        12 | 14 | RAW => "RAW",
        105 => "IEEE802_11",
        108 => "LOOP",
        LINUX_SLL => "LINUX_SLL",
        119 => "PRISM_HEADER",
        127 => "IEEE802_11_RADIOTAP",
        189 => "USB_LINUX",
        220 => "USB_LINUX_MMAPPED",
        228 => "IPV4",
        229 => "IPV6",
        249 => "NETLINK",
        LINUX_SLL2 => "LINUX_SLL2",
        _ => return None,
    })
}

/// Whether frames of this link type can be read.
pub fn supported(link_type: u16) -> bool {
    matches!(link_type, ETHERNET | LINUX_SLL | LINUX_SLL2)
}

/// The cooked header's fields the Ethernet view keeps.
struct Cooked<'a> {
    protocol: [u8; 2],
    address: &'a [u8],
    header_len: usize,
}

fn cooked(link_type: u16, data: &[u8]) -> Option<Cooked<'_>> {
    match link_type {
        // SLL: packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2).
        LINUX_SLL if data.len() >= 16 => {
            let len = u16::from_be_bytes([data[4], data[5]]) as usize;
            Some(Cooked { protocol: [data[14], data[15]], address: &data[6..6 + len.min(8)], header_len: 16 })
        }
        // SLL2: protocol (2), reserved (2), interface index (4), ARPHRD type (2),
        // packet type (1), address length (1), address (8).
        LINUX_SLL2 if data.len() >= 20 => {
            let len = data[11] as usize;
            Some(Cooked { protocol: [data[0], data[1]], address: &data[12..12 + len.min(8)], header_len: 20 })
        }
        _ => None,
    }
}

/// The Ethernet view of a frame of `link_type` (a supported one) and its
/// length on the wire in that view. A cooked frame cut inside its own
/// header has no Ethernet view: it comes back empty, its wire length kept.
pub fn to_ethernet(link_type: u16, data: &[u8], orig_len: u32) -> (Vec<u8>, u32) {
    if link_type == ETHERNET {
        return (data.to_vec(), orig_len);
    }
    let Some(c) = cooked(link_type, data) else {
        return (Vec::new(), orig_len);
    };
    let mut out = Vec::with_capacity(ETH_HEADER + data.len() - c.header_len);
    out.extend_from_slice(&[0; 6]);
    if c.address.len() == 6 {
        out.extend_from_slice(c.address);
    } else {
        out.extend_from_slice(&[0; 6]);
    }
    out.extend_from_slice(&c.protocol);
    out.extend_from_slice(&data[c.header_len..]);
    let wire = (orig_len as usize).saturating_sub(c.header_len) + ETH_HEADER;
    (out, wire.min(u32::MAX as usize) as u32)
}
