//! Layer-aware methods of [`Packet`]: the eCPRI messages in the frame
//! (following the C bit), their eAxC and sequence IDs, the U-plane and
//! C-plane views from `ecpri`, resizing a message with every length that
//! depends on it (ecpriPayload, concatenation padding, IP and UDP
//! lengths), rebuilding all messages at once, and VLAN tags.
//!
//! IP and UDP checksums are not kept up to date by these methods: the
//! runtime recomputes them once, after `translate`, for any edited packet
//! that runs over UDP.

use ecpri::bits::{be16, set_be16};
use ecpri::cplane::CplanePacket;
use ecpri::ethernet::{self, EthernetFrame, VlanTag};
use ecpri::header::{self, message_type, EcpriPacket};
use ecpri::uplane::{CompHdrMode, UplaneConfig, UplanePacket};
use ecpri::{SeqId, UdCompHdr};

use crate::error::Error;
use crate::packet::Packet;

/// Bytes of ecpriPcid/ecpriRtcid plus ecpriSeqid in types 0, 1 and 2.
pub const ID_SEQ_LEN: usize = 4;
/// Shortest Ethernet frame without FCS; shorter results are zero-padded.
pub const MIN_FRAME_LEN: usize = 60;

/// Where IP and UDP sit when eCPRI runs over UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// Start of the IP header.
    pub ip_offset: usize,
    /// IPv6 rather than IPv4.
    pub ipv6: bool,
    /// Start of the UDP header.
    pub udp_offset: usize,
}

/// One eCPRI message of the frame, located by its common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Where its common header starts in the packet.
    pub offset: usize,
    /// ecpriMessage.
    pub msg_type: u8,
    /// ecpriPayload.
    pub payload_size: usize,
    /// The C bit: another message follows (after padding to 4 bytes).
    pub concatenated: bool,
}

impl Message {
    /// Where its payload (after the common header) starts.
    pub fn payload_offset(&self) -> usize {
        self.offset + header::field::HEADER_LEN
    }

    /// The first byte after its payload.
    pub fn end(&self) -> usize {
        self.payload_offset() + self.payload_size
    }

    /// Padding after it (concatenated messages end on a 4-byte boundary).
    pub fn padding(&self) -> usize {
        if self.concatenated {
            header::concat_padding(header::field::HEADER_LEN + self.payload_size)
        } else {
            0
        }
    }

    /// Where the next message starts, if the C bit says one follows.
    pub fn next_offset(&self) -> Option<usize> {
        self.concatenated.then(|| self.end() + self.padding())
    }

    /// Whether it carries ecpriPcid/ecpriRtcid and ecpriSeqid (types 0, 1, 2).
    pub fn has_eaxc(&self) -> bool {
        matches!(self.msg_type, message_type::IQ_DATA | message_type::BIT_SEQUENCE | message_type::RT_CONTROL)
    }
}

/// Walks the messages of a packet as it is now.
#[derive(Debug, Clone)]
pub struct Messages<'p> {
    bytes: &'p [u8],
    next: Option<usize>,
}

impl Iterator for Messages<'_> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.next.take()?;
        let r = parse_message(self.bytes, at);
        if let Ok(m) = &r {
            self.next = m.next_offset();
        }
        Some(r)
    }
}

/// Reads the common header at `at` in `ecpri` (which ends where the eCPRI
/// bytes end).
fn parse_message(ecpri: &[u8], at: usize) -> Result<Message, Error> {
    let b = ecpri.get(at..).ok_or(Error::Wire(ecpri::Error::Truncated {
        field: "ecpri.header",
        offset: at,
        needed: header::field::HEADER_LEN,
        available: 0,
    }))?;
    let p = EcpriPacket::new_checked(b).map_err(|e| e.at(at))?;
    if p.revision() != header::REVISION {
        return Err(Error::Wire(ecpri::Error::UnsupportedRevision { offset: at, revision: p.revision() }));
    }
    Ok(Message {
        offset: at,
        msg_type: p.message_type(),
        payload_size: p.payload_size() as usize,
        concatenated: p.concatenation(),
    })
}

/// Finds IP and UDP in `bytes` when the eCPRI header starts after them.
fn transport_of(bytes: &[u8], ecpri_offset: usize) -> Option<Transport> {
    let eth = EthernetFrame::new_checked(bytes).ok()?;
    let hl = eth.header_len();
    let ipv6 = match eth.ethertype() {
        ethernet::ETHERTYPE_IPV4 => false,
        ethernet::ETHERTYPE_IPV6 => true,
        _ => return None,
    };
    (ecpri_offset >= hl + 28).then_some(Transport { ip_offset: hl, ipv6, udp_offset: ecpri_offset - 8 })
}

/// Where the eCPRI bytes end: the UDP payload's end, else the packet's.
fn ecpri_end_of(bytes: &[u8], t: Option<Transport>) -> usize {
    match t {
        Some(t) if t.udp_offset + 8 <= bytes.len() => {
            (t.udp_offset + be16(bytes, t.udp_offset + 4) as usize).clamp(t.udp_offset + 8, bytes.len())
        }
        _ => bytes.len(),
    }
}

/// Adds `delta` to the IP and UDP length fields in `bytes`.
fn adjust_lengths(bytes: &mut [u8], t: Transport, delta: isize) {
    let add = |b: &mut [u8], at: usize| {
        let v = be16(b, at) as isize + delta;
        set_be16(b, at, v as u16);
    };
    add(bytes, t.ip_offset + if t.ipv6 { 4 } else { 2 });
    add(bytes, t.udp_offset + 4);
}

/// Writes what `f` returns for every message, into a fresh frame.
fn rewrite_into<F>(src: &[u8], dst: &mut [u8], ecpri_offset: usize, mut f: F) -> Result<usize, Error>
where
    F: FnMut(&Message, &[u8], &mut [u8]) -> Result<Option<usize>, Error>,
{
    const HL: usize = header::field::HEADER_LEN;
    let t = transport_of(src, ecpri_offset);
    let end = ecpri_end_of(src, t);
    let ecpri = &src[..end];
    let room = |need: usize, dst: &[u8]| {
        if need > dst.len() {
            Err(Error::Capacity { needed: need, capacity: dst.len() })
        } else {
            Ok(())
        }
    };
    room(ecpri_offset, dst)?;
    dst[..ecpri_offset].copy_from_slice(&src[..ecpri_offset]);
    let (mut r, mut w) = (ecpri_offset, ecpri_offset);
    loop {
        let m = parse_message(ecpri, r)?;
        room(w + HL, dst)?;
        dst[w..w + HL].copy_from_slice(&src[r..r + HL]);
        let payload = &src[m.payload_offset()..m.end()];
        let n = match f(&m, payload, &mut dst[w + HL..])? {
            Some(n) => n,
            None => {
                room(w + HL + payload.len(), dst)?;
                dst[w + HL..w + HL + payload.len()].copy_from_slice(payload);
                payload.len()
            }
        };
        let size = u16::try_from(n).map_err(|_| Error::Capacity { needed: n, capacity: 0xFFFF })?;
        set_be16(dst, w + 2, size);
        w += HL + n;
        r = m.end() + m.padding();
        if m.concatenated {
            let pad = header::concat_padding(HL + n);
            room(w + pad, dst)?;
            dst[w..w + pad].fill(0);
            w += pad;
        } else {
            break;
        }
    }
    let r = r.min(src.len());
    if let Some(t) = t {
        adjust_lengths(dst, t, w as isize - r as isize);
    }
    let trailer = &src[r..];
    room(w + trailer.len(), dst)?;
    dst[w..w + trailer.len()].copy_from_slice(trailer);
    w += trailer.len();
    if w < MIN_FRAME_LEN {
        room(MIN_FRAME_LEN, dst)?;
        dst[w..MIN_FRAME_LEN].fill(0);
        w = MIN_FRAME_LEN;
    }
    Ok(w)
}

impl Packet<'_> {
    /// Where the first eCPRI common header starts (follows edits in front of it).
    pub fn ecpri_offset(&self) -> usize {
        self.ecpri_offset
    }

    /// The Ethernet header view.
    pub fn ethernet(&self) -> Result<EthernetFrame<&[u8]>, Error> {
        Ok(EthernetFrame::new_checked(self.bytes())?)
    }

    /// The Ethernet header view, for rewriting VLAN tags in place.
    pub fn ethernet_mut(&mut self) -> Result<EthernetFrame<&mut [u8]>, Error> {
        Ok(EthernetFrame::new_checked(self.bytes_mut())?)
    }

    /// IP and UDP, when eCPRI runs over UDP.
    pub fn transport(&self) -> Option<Transport> {
        transport_of(self.bytes(), self.ecpri_offset)
    }

    /// Where the eCPRI bytes end (the UDP payload's end over UDP).
    pub fn ecpri_end(&self) -> usize {
        ecpri_end_of(self.bytes(), self.transport())
    }

    /// The message whose common header starts at `offset`.
    pub fn message_at(&self, offset: usize) -> Result<Message, Error> {
        parse_message(&self.bytes()[..self.ecpri_end()], offset)
    }

    /// The first message.
    pub fn first_message(&self) -> Result<Message, Error> {
        self.message_at(self.ecpri_offset)
    }

    /// Every message in the frame, following the C bit.
    pub fn messages(&self) -> Messages<'_> {
        Messages { bytes: &self.bytes()[..self.ecpri_end()], next: Some(self.ecpri_offset) }
    }

    /// A message's payload (after its common header).
    pub fn payload(&self, m: &Message) -> &[u8] {
        &self.bytes()[m.payload_offset()..m.end()]
    }

    /// A message's payload, for editing in place.
    pub fn payload_mut(&mut self, m: &Message) -> &mut [u8] {
        &mut self.bytes_mut()[m.payload_offset()..m.end()]
    }

    /// The eAxC ID of a message of type 0, 1 or 2.
    pub fn eaxc_of(&self, m: &Message) -> Option<u16> {
        (m.has_eaxc() && m.payload_size >= ID_SEQ_LEN).then(|| be16(self.payload(m), 0))
    }

    /// Sets the eAxC ID of a message of type 0, 1 or 2.
    pub fn set_eaxc(&mut self, m: &Message, eaxc: u16) -> Result<(), Error> {
        if !(m.has_eaxc() && m.payload_size >= ID_SEQ_LEN) {
            return Err(Error::Unsupported("eAxC ID in this message type"));
        }
        set_be16(self.payload_mut(m), 0, eaxc);
        Ok(())
    }

    /// ecpriSeqid of a message of type 0, 1 or 2.
    pub fn seq_id_of(&self, m: &Message) -> Option<SeqId> {
        (m.has_eaxc() && m.payload_size >= ID_SEQ_LEN).then(|| {
            let p = self.payload(m);
            SeqId::from_bytes([p[2], p[3]])
        })
    }

    /// Sets ecpriSeqid of a message of type 0, 1 or 2.
    pub fn set_seq_id(&mut self, m: &Message, s: SeqId) -> Result<(), Error> {
        if !(m.has_eaxc() && m.payload_size >= ID_SEQ_LEN) {
            return Err(Error::Unsupported("ecpriSeqid in this message type"));
        }
        self.payload_mut(m)[2..4].copy_from_slice(&s.to_bytes());
        Ok(())
    }

    /// The U-plane message (after ecpriPcid/ecpriSeqid) of a type 0 message.
    pub fn uplane(&self, m: &Message) -> Result<UplanePacket<&[u8]>, Error> {
        if m.msg_type != message_type::IQ_DATA || m.payload_size < ID_SEQ_LEN {
            return Err(Error::Unsupported("U-plane view of a message that is not IQ data"));
        }
        Ok(UplanePacket::new_checked(&self.payload(m)[ID_SEQ_LEN..])
            .map_err(|e| e.at(m.payload_offset() + ID_SEQ_LEN))?)
    }

    /// The U-plane decoding options for this packet: udCompHdr presence as
    /// the host decided it, and the static compression and carrier width
    /// the translator knows from its configuration.
    pub fn uplane_config(&self, static_comp: UdCompHdr, carrier_prbs: u16) -> UplaneConfig {
        let comp_hdr = if self.ud_comp_hdr_present() { CompHdrMode::Present } else { CompHdrMode::Absent };
        UplaneConfig { static_comp, comp_hdr, carrier_prbs }
    }

    /// The C-plane message (after ecpriRtcid/ecpriSeqid) of a type 2 message.
    pub fn cplane(&self, m: &Message) -> Result<CplanePacket<&[u8]>, Error> {
        if m.msg_type != message_type::RT_CONTROL || m.payload_size < ID_SEQ_LEN {
            return Err(Error::Unsupported("C-plane view of a message that is not real-time control"));
        }
        Ok(CplanePacket::new_checked(&self.payload(m)[ID_SEQ_LEN..])
            .map_err(|e| e.at(m.payload_offset() + ID_SEQ_LEN))?)
    }

    /// The C-plane message of a type 2 message, for in-place edits.
    pub fn cplane_mut(&mut self, m: &Message) -> Result<CplanePacket<&mut [u8]>, Error> {
        self.cplane(m)?;
        let at = m.payload_offset() + ID_SEQ_LEN;
        Ok(CplanePacket::new_checked(&mut self.payload_mut(m)[ID_SEQ_LEN..]).map_err(|e| e.at(at))?)
    }

    /// Replaces `remove` bytes at `at` (inside `m`'s payload) by `insert`
    /// zero bytes, and fixes ecpriPayload, the concatenation padding after
    /// `m`, and the IP and UDP lengths. Later messages move; `m` is updated.
    pub fn resize_message(&mut self, m: &mut Message, at: usize, remove: usize, insert: usize) -> Result<(), Error> {
        if at < m.payload_offset() || at > m.end() || remove > m.end() - at {
            return Err(Error::Invalid("resize range outside the message payload"));
        }
        let new_size = m.payload_size - remove + insert;
        if new_size > 0xFFFF {
            return Err(Error::Capacity { needed: new_size, capacity: 0xFFFF });
        }
        let t = self.transport();
        let old_pad = m.padding();
        let new_pad = if m.concatenated { header::concat_padding(header::field::HEADER_LEN + new_size) } else { 0 };
        let needed = self.len() - remove + insert - old_pad + new_pad;
        if needed > self.capacity() {
            return Err(Error::Capacity { needed, capacity: self.capacity() });
        }
        self.splice(at, remove, insert)?;
        m.payload_size = new_size;
        set_be16(self.bytes_mut(), m.offset + 2, new_size as u16);
        if old_pad != new_pad {
            self.splice(m.end(), old_pad, new_pad)?;
        }
        if let Some(t) = t {
            let delta = insert as isize - remove as isize + new_pad as isize - old_pad as isize;
            adjust_lengths(self.bytes_mut(), t, delta);
        }
        Ok(())
    }

    /// Rebuilds every message of the frame at once. For each message `f`
    /// gets its header fields, its payload and the room for the new payload
    /// (the rest of the slot), and returns `Some(new payload length)`, or
    /// `None` to keep it as it is. The SDK writes the common headers with
    /// the new ecpriPayload, the concatenation padding, the bytes after the
    /// messages, the IP and UDP lengths, and pads the frame to 60 bytes.
    /// On error the packet is left as it was.
    pub fn rewrite_messages<F>(&mut self, f: F) -> Result<(), Error>
    where
        F: FnMut(&Message, &[u8], &mut [u8]) -> Result<Option<usize>, Error>,
    {
        let off = self.ecpri_offset;
        self.rebuild(|src, dst| rewrite_into(src, dst, off, f))
    }

    /// Inserts a VLAN tag as the outermost one.
    pub fn push_vlan(&mut self, tag: VlanTag) -> Result<(), Error> {
        let tags = self.ethernet()?.tag_count();
        if tags >= ethernet::MAX_TAGS {
            return Err(Error::Unsupported("a third VLAN tag"));
        }
        let at = ethernet::field::TYPE;
        self.splice(at, 0, ethernet::field::TAG_LEN)?;
        let b = self.bytes_mut();
        set_be16(b, at, tag.tpid);
        set_be16(b, at + 2, tag.tci());
        Ok(())
    }

    /// Removes the outermost VLAN tag, returning it (`None` when untagged).
    pub fn pop_vlan(&mut self) -> Result<Option<VlanTag>, Error> {
        let Some(tag) = self.ethernet()?.tag(0) else { return Ok(None) };
        self.splice(ethernet::field::TYPE, ethernet::field::TAG_LEN, 0)?;
        if self.len() < MIN_FRAME_LEN {
            self.set_len(MIN_FRAME_LEN)?;
        }
        Ok(Some(tag))
    }

    /// Recomputes the IP and UDP checksums of an edited packet over UDP.
    pub(crate) fn refresh_checksums(&mut self) {
        if let Some(t) = self.transport() {
            let ip = t.ip_offset;
            // A malformed IP header stays as it is: there is nothing to fix.
            let _ = ecpri::ip::fill_checksums(&mut self.slot_mut()[ip..]);
        }
    }
}
