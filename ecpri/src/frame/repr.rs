//! The fully decoded frame. Every byte of the input lands in some field
//! or borrowed slice, so `emit` reproduces the frame exactly; `finalize`
//! recomputes lengths for frames that were built or edited.

use alloc::vec::Vec;

use super::DecodeConfig;
use crate::cplane;
use crate::ethernet::{self, EthernetFrame, EthernetRepr};
use crate::fields::{FieldValue, FieldVisitor};
use crate::header::{self, message_type, EcpriPacket, HeaderRepr};
use crate::ip::{self, IpRepr, Ipv4Repr, Ipv6Repr, UdpRepr};
use crate::owd::OwdRepr;
use crate::uplane::{self, UplaneConfig};
use crate::{Error, Result, SeqId};

/// Bytes of ecpriPcid/ecpriRtcid plus ecpriSeqid in types 0 and 2.
const ID_SEQ_LEN: usize = 4;

/// IP and UDP under the eCPRI messages, when eCPRI runs over UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport<'a> {
    /// IPv4 or IPv6 header.
    pub ip: IpRepr<'a>,
    /// UDP header.
    pub udp: UdpRepr,
}

/// What follows the transport headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// One or more eCPRI messages.
    Ecpri(Vec<MessageRepr<'a>>),
    /// Anything else (PTP, ARP, LLDP, IP not on the eCPRI port), as bytes.
    Other(&'a [u8]),
}

/// One eCPRI message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr<'a> {
    /// The common header.
    pub header: HeaderRepr,
    /// The decoded payload.
    pub body: Body<'a>,
    /// Padding to the next 4-byte boundary after a concatenated message.
    pub padding: &'a [u8],
}

/// An eCPRI message payload, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Type 0, a whole O-RAN U-plane message.
    IqData {
        /// ecpriPcid (the eAxC ID).
        pc_id: u16,
        /// ecpriSeqid.
        seq_id: SeqId,
        /// The message.
        uplane: uplane::MessageRepr<'a>,
        /// The configuration it was read with (static compression).
        cfg: UplaneConfig,
    },
    /// Type 0 split by radio-transport-layer fragmentation (E bit clear or
    /// subsequence ID non-zero): the bytes are not section-aligned.
    IqFragment {
        /// ecpriPcid.
        pc_id: u16,
        /// ecpriSeqid.
        seq_id: SeqId,
        /// The fragment.
        data: &'a [u8],
    },
    /// Type 2, an O-RAN C-plane message.
    RtControl {
        /// ecpriRtcid (the eAxC ID).
        rtc_id: u16,
        /// ecpriSeqid.
        seq_id: SeqId,
        /// The message.
        cplane: cplane::MessageRepr<'a>,
    },
    /// Type 5, one-way delay measurement.
    OneWayDelay(OwdRepr<'a>),
    /// Any other type: the payload as bytes.
    Other(&'a [u8]),
}

impl Body<'_> {
    /// Bytes of payload (what ecpriPayload should say).
    pub fn buffer_len(&self) -> usize {
        match self {
            Body::IqData { uplane, .. } => ID_SEQ_LEN + uplane.buffer_len(),
            Body::IqFragment { data, .. } => ID_SEQ_LEN + data.len(),
            Body::RtControl { cplane, .. } => ID_SEQ_LEN + cplane.buffer_len(),
            Body::OneWayDelay(r) => r.buffer_len(),
            Body::Other(b) => b.len(),
        }
    }

    /// The eAxC ID and seqId of types 0 and 2.
    pub fn eaxc_and_seq(&self) -> Option<(u16, SeqId)> {
        match *self {
            Body::IqData { pc_id, seq_id, .. } | Body::IqFragment { pc_id, seq_id, .. } => Some((pc_id, seq_id)),
            Body::RtControl { rtc_id, seq_id, .. } => Some((rtc_id, seq_id)),
            _ => None,
        }
    }

    fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let id_seq = |b: &mut [u8], id: u16, s: SeqId| {
            crate::bits::set_be16(b, 0, id);
            b[2..4].copy_from_slice(&s.to_bytes());
        };
        crate::error::check_len(b, "ecpri.payload", 0, self.buffer_len())?;
        Ok(match self {
            Body::IqData { pc_id, seq_id, uplane, .. } => {
                id_seq(b, *pc_id, *seq_id);
                ID_SEQ_LEN + uplane.emit(&mut b[ID_SEQ_LEN..])?
            }
            Body::IqFragment { pc_id, seq_id, data } => {
                id_seq(b, *pc_id, *seq_id);
                b[ID_SEQ_LEN..ID_SEQ_LEN + data.len()].copy_from_slice(data);
                ID_SEQ_LEN + data.len()
            }
            Body::RtControl { rtc_id, seq_id, cplane } => {
                id_seq(b, *rtc_id, *seq_id);
                ID_SEQ_LEN + cplane.emit(&mut b[ID_SEQ_LEN..])?
            }
            Body::OneWayDelay(r) => r.emit(b)?,
            Body::Other(d) => {
                b[..d.len()].copy_from_slice(d);
                d.len()
            }
        })
    }
}

impl<'a> MessageRepr<'a> {
    /// Decodes one message (common header included) by its type.
    pub fn parse(p: &EcpriPacket<&'a [u8]>, cfg: &DecodeConfig) -> Result<Self> {
        let header = HeaderRepr::parse(p)?;
        let base = header::field::HEADER_LEN;
        let pl: &'a [u8] = &p.clone().into_inner()[base..p.total_len()];
        let id_seq = |name: &'static str| -> Result<(u16, SeqId)> {
            crate::error::check_len(pl, name, 0, ID_SEQ_LEN).map_err(|e| e.at(base))?;
            Ok((crate::bits::be16(pl, 0), SeqId::from_bytes([pl[2], pl[3]])))
        };
        let body = match header.message_type {
            message_type::IQ_DATA => {
                let (pc_id, seq_id) = id_seq("ecpri.pcid")?;
                let rest = &pl[ID_SEQ_LEN..];
                if !seq_id.e_bit || seq_id.subseq_id != 0 {
                    Body::IqFragment { pc_id, seq_id, data: rest }
                } else {
                    let dir = uplane::UplanePacket::new_checked(rest)
                        .map_err(|e| e.at(base + ID_SEQ_LEN))?
                        .data_direction();
                    let ucfg = cfg.uplane(dir);
                    let m = uplane::MessageRepr::parse(rest, &ucfg).map_err(|e| e.at(base + ID_SEQ_LEN))?;
                    Body::IqData { pc_id, seq_id, uplane: m, cfg: ucfg }
                }
            }
            message_type::RT_CONTROL => {
                let (rtc_id, seq_id) = id_seq("ecpri.rtcid")?;
                let opts = cplane::ParseOptions { carrier_prbs: Some(cfg.carrier_prbs), ..cplane::ParseOptions::default() };
                let m = cplane::MessageRepr::parse_with(&pl[ID_SEQ_LEN..], opts).map_err(|e| e.at(base + ID_SEQ_LEN))?;
                Body::RtControl { rtc_id, seq_id, cplane: m }
            }
            message_type::ONE_WAY_DELAY => Body::OneWayDelay(OwdRepr::parse(pl).map_err(|e| e.at(base))?),
            _ => Body::Other(pl),
        };
        Ok(MessageRepr { header, body, padding: &[] })
    }

    /// Bytes `emit` writes (header, payload and padding).
    pub fn buffer_len(&self) -> usize {
        header::field::HEADER_LEN + self.body.buffer_len() + self.padding.len()
    }

    /// Writes the message.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        crate::error::check_len(b, "ecpri.header", 0, self.buffer_len())?;
        let mut at = self.header.emit(b)?;
        at += self.body.emit(&mut b[at..])?;
        b[at..at + self.padding.len()].copy_from_slice(self.padding);
        Ok(at + self.padding.len())
    }

    /// Reports every field in wire order.
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V, cfg: &DecodeConfig) {
        self.header.visit(v);
        if let Some((id, seq)) = self.body.eaxc_and_seq() {
            let name = if self.header.message_type == message_type::RT_CONTROL { "ecpri.rtcid" } else { "ecpri.pcid" };
            v.field(name, FieldValue::U(id as u64));
            cfg.eaxc.split(id).visit(v);
            v.field("ecpri.seqid", FieldValue::U(u16::from_be_bytes(seq.to_bytes()) as u64));
            seq.visit(v);
        }
        match &self.body {
            Body::IqData { uplane, cfg: ucfg, .. } => uplane.visit(v, ucfg),
            Body::IqFragment { data, .. } => v.field("oran_fh_cus.fragment", FieldValue::Bytes(data)),
            Body::RtControl { cplane, .. } => {
                use crate::fields::VisitFields;
                cplane.visit_fields(v)
            }
            Body::OneWayDelay(r) => r.visit(v),
            Body::Other(b) => v.field("ecpri.payload", FieldValue::Bytes(b)),
        }
    }
}

/// A whole frame, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRepr<'a> {
    /// Ethernet header and VLAN tags.
    pub eth: EthernetRepr,
    /// IP and UDP, when eCPRI (or other traffic) runs over them and is decoded.
    pub transport: Option<Transport<'a>>,
    /// The messages, or the undecoded payload.
    pub payload: Payload<'a>,
    /// Bytes after the payload: Ethernet padding, bytes past the UDP
    /// length or the last eCPRI message.
    pub trailer: &'a [u8],
}

impl<'a> FrameRepr<'a> {
    /// Decodes a frame. Non-eCPRI traffic decodes to [`Payload::Other`];
    /// malformed eCPRI is an error naming the field and its offset in the frame.
    pub fn parse(frame: &'a [u8], cfg: &DecodeConfig) -> Result<Self> {
        let loc = super::locate(frame, cfg.udp_port)?;
        let eth = EthernetRepr::parse(&EthernetFrame::new_checked(frame)?);
        let hl = eth.buffer_len();
        let transport = match &loc.ecpri {
            Some(r) if r.start > hl => {
                let ip = match eth.ethertype {
                    ethernet::ETHERTYPE_IPV4 => IpRepr::V4(Ipv4Repr::parse(&frame[hl..])?),
                    _ => IpRepr::V6(Ipv6Repr::parse(&frame[hl..])?),
                };
                let udp = UdpRepr::parse(&frame[hl + ip.header_len()..])?;
                Some(Transport { ip, udp })
            }
            _ => None,
        };
        let Some(range) = loc.ecpri else {
            return Ok(FrameRepr { eth, transport, payload: Payload::Other(&frame[hl..]), trailer: &[] });
        };
        let buf = &frame[range.clone()];
        let mut messages = Vec::new();
        let mut it = super::MessageIter::new(buf);
        while let Some(m) = it.next() {
            let (r, p) = m.map_err(|e| e.at(range.start))?;
            let mut msg = MessageRepr::parse(&p, cfg).map_err(|e| e.at(range.start + r.start))?;
            let next = it.position();
            if msg.header.concatenation {
                msg.padding = &buf[r.end..next];
            }
            messages.push(msg);
        }
        let trailer = &frame[range.start + it.position()..];
        Ok(FrameRepr { eth, transport, payload: Payload::Ecpri(messages), trailer })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.eth.buffer_len()
            + self.transport.map_or(0, |t| t.ip.header_len() + ip::UDP_HEADER_LEN)
            + self.payload_len()
            + self.trailer.len()
    }

    fn payload_len(&self) -> usize {
        match &self.payload {
            Payload::Ecpri(m) => m.iter().map(|m| m.buffer_len()).sum(),
            Payload::Other(b) => b.len(),
        }
    }

    /// Writes the frame as decoded (lengths and checksums as carried).
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        crate::error::check_len(b, "eth", 0, self.buffer_len())?;
        let mut at = self.eth.emit(b)?;
        if let Some(t) = &self.transport {
            at += match &t.ip {
                IpRepr::V4(r) => r.emit(&mut b[at..])?,
                IpRepr::V6(r) => r.emit(&mut b[at..])?,
            };
            at += t.udp.emit(&mut b[at..])?;
        }
        match &self.payload {
            Payload::Ecpri(ms) => {
                for m in ms {
                    at += m.emit(&mut b[at..])?;
                }
            }
            Payload::Other(d) => {
                b[at..at + d.len()].copy_from_slice(d);
                at += d.len();
            }
        }
        b[at..at + self.trailer.len()].copy_from_slice(self.trailer);
        Ok(at + self.trailer.len())
    }

    /// Recomputes every length field from the content: ecpriPayload, the
    /// C bits and their padding, and the IP and UDP lengths. Call before
    /// [`FrameRepr::to_bytes`] on a frame that was built or edited.
    pub fn finalize(&mut self) -> Result<()> {
        const ZEROS: [u8; 3] = [0; 3];
        if let Payload::Ecpri(ms) = &mut self.payload {
            let n = ms.len();
            for (i, m) in ms.iter_mut().enumerate() {
                let size = m.body.buffer_len();
                m.header.payload_size = u16::try_from(size)
                    .map_err(|_| Error::ValueOutOfRange { field: "ecpri.size", value: size as u32, max: 0xFFFF })?;
                m.header.concatenation = i + 1 < n;
                m.padding = if m.header.concatenation {
                    &ZEROS[..header::concat_padding(header::field::HEADER_LEN + size)]
                } else {
                    &[]
                };
            }
        }
        let payload = self.payload_len();
        if let Some(t) = &mut self.transport {
            let udp_len = ip::UDP_HEADER_LEN + payload;
            t.udp.length = udp_len as u16;
            match &mut t.ip {
                IpRepr::V4(r) => r.total_len = (r.header_len() + udp_len) as u16,
                IpRepr::V6(r) => r.payload_len = udp_len as u16,
            }
        }
        Ok(())
    }

    /// Emits into a new buffer and fills IP and UDP checksums.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut b = alloc::vec![0u8; self.buffer_len()];
        self.emit(&mut b)?;
        if self.transport.is_some() {
            ip::fill_checksums(&mut b[self.eth.buffer_len()..])?;
        }
        Ok(b)
    }

    /// The eCPRI messages, if any.
    pub fn messages(&self) -> &[MessageRepr<'a>] {
        match &self.payload {
            Payload::Ecpri(m) => m,
            Payload::Other(_) => &[],
        }
    }

    /// Reports every field in wire order. The first message's fields are at
    /// the top level; further concatenated messages are `concatenated` groups.
    pub fn visit<V: FieldVisitor<'a>>(&self, v: &mut V, cfg: &DecodeConfig) {
        self.eth.visit(v);
        if let Some(t) = &self.transport {
            match &t.ip {
                IpRepr::V4(r) => r.visit(v),
                IpRepr::V6(r) => r.visit(v),
            }
            t.udp.visit(v);
        }
        match &self.payload {
            Payload::Ecpri(ms) => {
                for (i, m) in ms.iter().enumerate() {
                    if i > 0 {
                        v.begin("concatenated");
                    }
                    m.visit(v, cfg);
                    if i > 0 {
                        v.end();
                    }
                }
            }
            Payload::Other(b) => v.field("data", FieldValue::Bytes(b)),
        }
    }
}
