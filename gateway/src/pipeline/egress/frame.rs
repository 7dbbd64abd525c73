//! Reading a frame on its way out: where its Ethernet, IP/UDP and eCPRI
//! parts are, how long each message is by its content (so that
//! ecpriPayload can be checked and fixed), and the IP and UDP lengths and
//! checksums. Nothing here allocates.

use ecpri::bits::{be16, set_be16};
use ecpri::cplane::{CplanePacket, ParseOptions};
use ecpri::ethernet::{EthernetFrame, ETHERTYPE_ECPRI, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use ecpri::header::{concat_padding, message_type};
use ecpri::uplane::{self, CompHdrMode, SectionRepr, UplaneConfig};
use ecpri::{ip, Error};

use super::{Egress, EgressError, EgressErrorKind, Msg, ECPRI_PREFIX, MAX_MESSAGES, SEQ_WHOLE};
use crate::classify::FlowKey;
use crate::translate::abi::{plane, VLAN_NONE};

/// IP under UDP, when eCPRI runs over it.
#[derive(Debug, Clone, Copy)]
pub(super) struct IpAt {
    pub(super) at: usize,
    pub(super) header_len: usize,
    pub(super) v6: bool,
}

/// Where a frame's parts are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) eth_len: usize,
    pub(super) vlan: u16,
    pub(super) ip: Option<IpAt>,
    pub(super) ecpri_at: usize,
}

impl Layout {
    /// Bytes of IP and UDP header in every frame of this layout.
    pub(super) fn transport_len(&self) -> usize {
        self.ip.map_or(0, |ip| ip.header_len + ip::UDP_HEADER_LEN)
    }
}

/// Bytes from the U-plane header's first byte (dataDirection) to the
/// first section's udCompHdr: the header, then sectionId to numPrbu.
pub(super) const UDCOMPHDR_AFTER_DIRECTION: usize = uplane::field::APP_HEADER_LEN + 4;

impl Egress {
    /// Finds the messages and the length their content calls for; returns
    /// where the last one ends.
    pub(super) fn scan(&mut self, frame: &[u8], lay: &Layout) -> Result<usize, EgressError> {
        self.msgs.clear();
        let mut at = lay.ecpri_at;
        loop {
            if self.msgs.len() == MAX_MESSAGES {
                return Err(EgressError::new(EgressErrorKind::TooManyMessages, "ecpri.cbit", at));
            }
            if frame.len() < at + 4 {
                let available = frame.len().saturating_sub(at);
                return Err(EgressError::malformed(Error::Truncated { field: "ecpri.header", offset: at, needed: 4, available }));
            }
            if frame[at] >> 4 != ecpri::header::REVISION {
                return Err(EgressError::malformed(Error::UnsupportedRevision { offset: at, revision: frame[at] >> 4 }));
            }
            let concat = frame[at] & 1 != 0;
            let (payload, uplane) = self.payload_len(frame, at, concat, lay.vlan)?;
            let len = 4 + payload;
            self.msgs.push(Msg { at, len, uplane });
            let next = at + len + concat_padding(len);
            // A C bit with no message after it is a wrong C bit: this is the last.
            if !concat || next + 4 > frame.len() || frame[next] >> 4 != ecpri::header::REVISION {
                return Ok(at + len);
            }
            at = next;
        }
    }

    /// The payload length the message at `at` needs, from its content
    /// where the content can be walked, else as declared. Concatenated
    /// messages keep a declared length their content agrees with; the last
    /// message's U-plane sections are walked to the end of the frame, so a
    /// section a translator appended without fixing ecpriPayload is kept.
    /// A U-plane message whose sections neither fill the declared length
    /// nor tile the rest of the frame is read with the wrong format (or is
    /// broken): a [`EgressErrorKind::FormatMismatch`], never rewritten.
    fn payload_len(&self, frame: &[u8], at: usize, concat: bool, vlan: u16) -> Result<(usize, Option<UplaneConfig>), EgressError> {
        let rest = &frame[at + 4..];
        let declared = be16(frame, at + 2) as usize;
        let fits = declared <= rest.len();
        let size_err = EgressError::new(EgressErrorKind::PayloadSize, "ecpri.size", at + 2);
        // Whether a concatenated message of `len` bytes is followed by another.
        let next_ok = |len: usize| {
            let n = at + len + concat_padding(len);
            frame.len() >= n + 4 && frame[n] >> 4 == ecpri::header::REVISION
        };
        match frame[at + 1] {
            message_type::IQ_DATA => {
                id_seq_present(rest, at)?;
                if rest[3] != SEQ_WHOLE {
                    // A radio-transport fragment: its bytes are not sections.
                    return if fits { Ok((declared, None)) } else { Err(size_err) };
                }
                if rest.len() < 4 + uplane::field::APP_HEADER_LEN {
                    return Err(EgressError::malformed(Error::Truncated {
                        field: "oran_fh_cus.data_direction",
                        offset: at + ECPRI_PREFIX,
                        needed: uplane::field::APP_HEADER_LEN,
                        available: rest.len() - 4,
                    }));
                }
                let mut ucfg = self.cfg.decode.uplane(rest[4] >> 7);
                // A flow with a format of its own (PRACH, SRS): one branch while there is none.
                if !self.cfg.flows.is_empty() {
                    if let Some(c) = self.cfg.flows.lookup(rest[4] >> 7, be16(rest, 0), vlan) {
                        ucfg.static_comp = c;
                    }
                }
                // A declared format with udCompHdr: the first section's
                // header must say it (its IQ would tile at any width).
                const HDR: usize = 4 + uplane::field::APP_HEADER_LEN + 4;
                const _: () = assert!(HDR - 4 == UDCOMPHDR_AFTER_DIRECTION);
                if self.cfg.declared && ucfg.comp_hdr == CompHdrMode::Present {
                    if let Some(&b) = rest.get(HDR).filter(|_| declared > HDR) {
                        if ecpri::UdCompHdr::from_byte(b) != ucfg.static_comp {
                            return Err(EgressError::new(EgressErrorKind::BadOutput, "oran_fh_cus.udCompHdr", at + 4 + HDR));
                        }
                    }
                }
                let declared_body = (fits && declared >= 4 + uplane::field::APP_HEADER_LEN).then(|| &rest[4..declared]);
                let exact = declared_body.map_or(Some(false), |b| uplane_tiles(b, &ucfg));
                if concat && exact == Some(true) {
                    return Ok((declared, Some(ucfg)));
                }
                let hint = declared_body.filter(|_| exact == Some(true));
                match uplane_walk(&rest[4..], hint, &ucfg) {
                    Some(w) if concat && next_ok(4 + 4 + w) => Ok((4 + w, Some(ucfg))),
                    // As the last message, repaired only if its sections
                    // tile the rest of the frame exactly (a translator
                    // appended or removed sections): a partial section means
                    // the frame was truncated or is read with another format.
                    Some(w) if 4 + w == rest.len() => Ok((4 + w, Some(ucfg))),
                    // The declared length is right; what follows is padding.
                    _ if exact == Some(true) => Ok((declared, Some(ucfg))),
                    _ if fits && exact.is_none() => Ok((declared, None)),
                    _ if fits => Err(EgressError::mismatch(at + 2, self.cfg.declared)),
                    _ => Err(size_err),
                }
            }
            message_type::RT_CONTROL => {
                id_seq_present(rest, at)?;
                let carrier = self.cfg.decode.carrier_prbs;
                let exact = (fits && declared >= 4).then(|| cplane_end(&rest[4..declared], carrier).map(|e| e + 4 == declared)).flatten();
                if exact == Some(true) {
                    return Ok((declared, None));
                }
                match cplane_end(&rest[4..], carrier) {
                    Some(e) if concat && next_ok(4 + 4 + e) => Ok((4 + e, None)),
                    Some(e) if fits || 4 + e == rest.len() => Ok((4 + e, None)),
                    _ if fits && exact.is_none() => Ok((declared, None)),
                    _ => Err(size_err),
                }
            }
            _ if fits => Ok((declared, None)),
            _ => Err(size_err),
        }
    }

    /// Writes ecpriPayload and the C bit of every message; returns whether
    /// anything changed.
    pub(super) fn fix_headers(&mut self, frame: &mut [u8]) -> Result<bool, EgressError> {
        let n = self.msgs.len();
        let mut dirty = false;
        for i in 0..n {
            let m = self.msgs[i];
            let c = i + 1 < n;
            if (frame[m.at] & 1 != 0) != c {
                frame[m.at] ^= 1;
                self.stats.cbits_fixed += 1;
                dirty = true;
            }
            let size = u16::try_from(m.len - 4).map_err(|_| EgressError::new(EgressErrorKind::PayloadSize, "ecpri.size", m.at + 2))?;
            if be16(frame, m.at + 2) != size {
                set_be16(frame, m.at + 2, size);
                self.stats.sizes_fixed += 1;
                dirty = true;
            }
        }
        Ok(dirty)
    }

}

/// Errors unless ecpriPcid/ecpriRtcid and ecpriSeqid are present.
fn id_seq_present(rest: &[u8], at: usize) -> Result<(), EgressError> {
    if rest.len() < 4 {
        return Err(EgressError::malformed(Error::Truncated { field: "ecpri.pcid", offset: at + 4, needed: 4, available: rest.len() }));
    }
    Ok(())
}

/// Walks the sections of a U-plane message `body` (application header
/// first) read with or without udCompHdr, as far as they parse. Returns
/// where the last whole section ends, or the first section's error when
/// not even it parses.
fn walk(body: &[u8], comp_hdr: bool, cfg: &UplaneConfig) -> Result<usize, Error> {
    let mut at = uplane::field::APP_HEADER_LEN;
    while at < body.len() {
        match SectionRepr::parse(&body[at..], comp_hdr, cfg) {
            Ok(s) => at += s.buffer_len(),
            Err(e) if at == uplane::field::APP_HEADER_LEN => return Err(e),
            Err(_) => break,
        }
    }
    Ok(at)
}

/// Whether the sections tile `body` exactly; `None` when the first
/// section's layout is not walkable (a compression method that needs the
/// C-plane, a reserved width), so nothing can be said.
fn uplane_tiles(body: &[u8], cfg: &UplaneConfig) -> Option<bool> {
    let verdict = |r: Result<usize, Error>| match r {
        Ok(end) => Some(end == body.len()),
        Err(Error::Unsupported { .. } | Error::ReservedValue { .. }) => None,
        Err(_) => Some(false),
    };
    match cfg.comp_hdr {
        CompHdrMode::Present => verdict(walk(body, true, cfg)),
        CompHdrMode::Absent => verdict(walk(body, false, cfg)),
        CompHdrMode::Auto => {
            if uplane::resolve_comp_hdr(body, cfg).is_ok() {
                return Some(true);
            }
            match (verdict(walk(body, true, cfg)), verdict(walk(body, false, cfg))) {
                (None, None) => None,
                _ => Some(false),
            }
        }
    }
}

/// How long the U-plane message in `body` (which runs to the end of the
/// frame) is by its sections. In auto mode the reading that tiles all of
/// `body` wins, else the one that tiled the declared length (`hint`),
/// else the self-describing one (udCompHdr present) if it walks.
fn uplane_walk(body: &[u8], hint: Option<&[u8]>, cfg: &UplaneConfig) -> Option<usize> {
    let comp_hdr = match cfg.comp_hdr {
        CompHdrMode::Present => true,
        CompHdrMode::Absent => false,
        CompHdrMode::Auto => {
            if uplane::resolve_comp_hdr(body, cfg).is_ok() {
                return Some(body.len());
            }
            match hint.and_then(|h| uplane::resolve_comp_hdr(h, cfg).ok()) {
                Some(h) => h,
                None => return walk(body, true, cfg).or_else(|_| walk(body, false, cfg)).ok(),
            }
        }
    };
    walk(body, comp_hdr, cfg).ok()
}

/// Where the last declared section of the C-plane message in `body` ends,
/// or `None` when its sections do not walk.
fn cplane_end(body: &[u8], carrier_prbs: u16) -> Option<usize> {
    let p = CplanePacket::new_checked(body).ok()?;
    let mut it = p.sections(ParseOptions { carrier_prbs: Some(carrier_prbs), ..ParseOptions::default() });
    for s in it.by_ref() {
        s.ok()?;
    }
    Some(body.len() - it.trailer().len())
}

/// The flow of a frame read from its headers alone (VLAN, message type,
/// ecpriPcid/ecpriRtcid, dataDirection), for frames that do not decode:
/// the pipeline keeps their place in their flow and counts them there.
/// `port_direction` is the direction of messages other than U/C-plane
/// (as classify gives it). `None` when the frame is not eCPRI.
pub fn header_flow(frame: &[u8], udp_port: Option<u16>, port_direction: u8) -> Option<FlowKey> {
    let lay = layout(frame, udp_port).ok()??;
    let m = frame.get(lay.ecpri_at..)?;
    let t = *m.get(1)?;
    let (plane, direction) = match t {
        message_type::IQ_DATA => (plane::U, m.get(ECPRI_PREFIX)? >> 7),
        message_type::RT_CONTROL => (plane::C, m.get(ECPRI_PREFIX)? >> 7),
        _ => (plane::OTHER, port_direction.min(1)),
    };
    let eaxc = match t {
        message_type::IQ_DATA | message_type::RT_CONTROL | message_type::BIT_SEQUENCE if m.len() >= 6 => be16(m, 4),
        _ => 0,
    };
    Some(FlowKey { direction, plane, eaxc, vlan: lay.vlan })
}

/// Finds the Ethernet header, IP/UDP when eCPRI runs over UDP, and the
/// first eCPRI message. `None` when the frame is not eCPRI. Lengths in the
/// IP and UDP headers are not trusted: egress rewrites them.
pub(super) fn layout(frame: &[u8], udp_port: Option<u16>) -> Result<Option<Layout>, EgressError> {
    let eth = EthernetFrame::new_checked(frame).map_err(EgressError::malformed)?;
    let eth_len = eth.header_len();
    let base = Layout { eth_len, vlan: eth.vid().unwrap_or(VLAN_NONE), ip: None, ecpri_at: eth_len };
    let t = eth.ethertype();
    if t == ETHERTYPE_ECPRI {
        return Ok(Some(base));
    }
    let Some(port) = udp_port else { return Ok(None) };
    let b = &frame[eth_len..];
    let ip = match t {
        ETHERTYPE_IPV4 => {
            let ihl = b.first().map_or(0, |v| (v & 0xF) as usize * 4);
            // Not IPv4/UDP, options cut short, or a fragment: not eCPRI to us.
            if b.len() < ip::field4::MIN_LEN || b[0] >> 4 != 4 || b[9] != ip::PROTO_UDP || ihl < ip::field4::MIN_LEN || be16(b, 6) & 0x3FFF != 0 {
                return Ok(None);
            }
            IpAt { at: eth_len, header_len: ihl, v6: false }
        }
        ETHERTYPE_IPV6 => {
            if b.len() < ip::IPV6_HEADER_LEN || b[0] >> 4 != 6 || b[6] != ip::PROTO_UDP {
                return Ok(None);
            }
            IpAt { at: eth_len, header_len: ip::IPV6_HEADER_LEN, v6: true }
        }
        _ => return Ok(None),
    };
    let udp = eth_len + ip.header_len;
    if frame.len() < udp + ip::UDP_HEADER_LEN || (be16(frame, udp) != port && be16(frame, udp + 2) != port) {
        return Ok(None);
    }
    Ok(Some(Layout { ip: Some(ip), ecpri_at: udp + ip::UDP_HEADER_LEN, ..base }))
}

/// Whether IP and UDP lengths already describe the whole of `frame`.
pub(super) fn transport_lengths_ok(frame: &[u8], lay: &Layout) -> bool {
    let Some(ip) = lay.ip else { return true };
    let udp = ip.at + ip.header_len;
    let ip_len = if ip.v6 { be16(frame, ip.at + 4) as usize + ip::IPV6_HEADER_LEN } else { be16(frame, ip.at + 2) as usize };
    be16(frame, udp + 4) as usize == frame.len() - udp && ip_len == frame.len() - ip.at
}

/// Sets IP and UDP lengths to the end of `frame` and recomputes the
/// checksums (an IPv4 UDP checksum of zero, "none", stays zero).
pub(super) fn fix_transport(frame: &mut [u8], lay: &Layout) -> Result<(), EgressError> {
    let Some(ip) = lay.ip else { return Ok(()) };
    let udp = ip.at + ip.header_len;
    let too_long = |_| EgressError::new(EgressErrorKind::NotSplittable, "udp.length", udp + 4);
    let udp_len = u16::try_from(frame.len() - udp).map_err(too_long)?;
    set_be16(frame, udp + 4, udp_len);
    if ip.v6 {
        set_be16(frame, ip.at + 4, udp_len);
    } else {
        let total = u16::try_from(frame.len() - ip.at).map_err(too_long)?;
        set_be16(frame, ip.at + 2, total);
    }
    ip::fill_checksums(&mut frame[ip.at..]).map_err(|e| EgressError::malformed(e.at(ip.at)))
}

