//! Egress: the last stage before the wire. Every packet a worker sends
//! passes [`Egress::process_frame`] (per burst: [`Egress::process`]), which
//!
//! 1. checks every eCPRI message's ecpriPayload against its content (the
//!    U-plane sections or C-plane sections it carries) and fixes it where
//!    the content is unambiguous (a translator appended or removed whole
//!    sections), and sets the C bits of concatenated messages. Bytes after
//!    the last message (Ethernet padding) stay; a frame shorter than 60
//!    bytes is padded with zeros to 60;
//! 2. enforces the egress MTU: a frame whose Ethernet payload (the bytes
//!    after the Ethernet header and VLAN tags, IP and UDP included) is
//!    larger is re-packed, splitting U-plane messages at PRB boundaries
//!    into whole messages with their own startPrbu and numPrbu; what it
//!    cannot split is handled by [`OversizePolicy`];
//! 3. keeps each flow's ecpriSeqid as the sender numbered it until a split
//!    adds packets, then moves the flow's later IDs by the number added
//!    ([`SeqIdMode`]);
//! 4. fixes IP and UDP lengths and checksums when eCPRI runs over UDP.
//!
//! A packet the translators produced that does not decode under the
//! egress format ([`EgressConfig::decode`]: a translator changed the
//! compression, and egress was not told) is never split or rewritten: it
//! is a [`EgressErrorKind::FormatMismatch`], counted with its flow, and
//! forwarded as it is. Frames that did not decode on ingress (or are not
//! eCPRI) bypass the translators and leave as they came, in their place,
//! subject only to the MTU.
//!
//! It runs on the hot path: frames that fit are edited in place, pieces
//! are written into caller-provided buffers ([`PieceSink`]), and nothing
//! allocates, locks or makes a syscall per packet. A packet that cannot be
//! sent as asked (a C-plane message larger than the MTU, a PRB that does
//! not fit, a frame that does not decode) is an [`EgressError`] naming the
//! field and its offset, counted in [`EgressStats`]; it is never dropped
//! silently and never panics.
//!
//! Pieces of a split section keep its sectionId, rb bit and udCompHdr;
//! numPrbu = 0 (the whole carrier) is read with the carrier width of
//! [`EgressConfig::decode`]. Not split: sections with symInc set (their
//! symbol depends on the sections before them) and pieces whose startPrbu
//! would pass 1023. Radio-transport fragments (E bit 0) pass with their
//! ecpriSeqid untouched.

mod burst;
mod flows;
mod frame;
mod report;
mod seq;
mod sink;
mod split;
#[cfg(test)]
mod tests;

use ecpri::bits::be16;
use ecpri::ethernet::EthernetFrame;
use ecpri::frame::DecodeConfig;
use ecpri::header::message_type;
use ecpri::uplane::{self, UplaneConfig};

pub use frame::header_flow;
pub use report::{EgressError, EgressErrorKind, EgressStats, OversizePolicy};
pub use burst::BurstEgress;
pub use flows::{FlowFormat, FlowFormats, FlowFormatsFull, MAX_FLOW_FORMATS};
pub use seq::{FlowSeqTable, SeqIdMode};
pub use sink::{PieceSink, SplitBuf};

use burst::Fate;
use frame::{fix_transport, layout, transport_lengths_ok};

use crate::classify::FlowKey;
use crate::translate::abi::plane;
use crate::translate::{Packet, BURST_CAPACITY};

/// Most eCPRI messages one frame may concatenate.
pub const MAX_MESSAGES: usize = 64;
/// Most frames one packet may be split into.
pub const MAX_PIECES: usize = BURST_CAPACITY;

/// Common header, ecpriPcid and ecpriSeqid: what precedes the U-plane
/// application header.
const ECPRI_PREFIX: usize = 8;
/// Bytes of a U-plane message before its first section.
const UPLANE_PREFIX: usize = ECPRI_PREFIX + uplane::field::APP_HEADER_LEN;
/// ecpriSeqid's second byte on a whole message: E bit 1, subsequence 0.
const SEQ_WHOLE: u8 = 0x80;

/// Most flows the sequence table of one [`Egress`] tracks.
pub const MAX_FLOWS: usize = 4096;
/// The shortest frame egress sends, without FCS (IEEE 802.3 minimum).
pub const MIN_FRAME: usize = 60;

/// How egress treats packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressConfig {
    /// Largest Ethernet payload: bytes after the Ethernet header and VLAN
    /// tags, IP and UDP headers included (like an IP MTU).
    pub mtu: usize,
    /// The renumbering mode: `true` is [`SeqIdMode::Always`] (a flow's
    /// sequence IDs move by the packets splits add to it, and pass as sent
    /// until then), `false` is [`SeqIdMode::Off`].
    pub renumber_seq_id: bool,
    /// How to read the messages as they leave (after translation): U-plane
    /// compression, udCompHdr presence, the carrier width numPrbu = 0
    /// stands for, the eCPRI UDP port.
    pub decode: DecodeConfig,
    /// What becomes of a frame larger than the MTU that egress cannot split.
    pub oversize: OversizePolicy,
    /// `decode` is what the chain's translators declared they produce
    /// (ABI.md §6 `effect`): a U-plane message that does not read with it
    /// is the translator's [`EgressErrorKind::BadOutput`].
    pub declared: bool,
    /// U-plane flows read with a compression of their own (PRACH, SRS,
    /// flows only some chains convert); the rest read with `decode`'s.
    pub flows: FlowFormats,
}

impl EgressConfig {
    /// An MTU and decoding options, renumbering on, oversize frames dropped.
    pub fn new(mtu: usize, decode: DecodeConfig) -> Self {
        EgressConfig { mtu, renumber_seq_id: true, decode, oversize: OversizePolicy::Drop, declared: false, flows: FlowFormats::NONE }
    }

    /// The renumbering mode.
    pub fn seq_id_mode(&self) -> SeqIdMode {
        if self.renumber_seq_id {
            SeqIdMode::Always
        } else {
            SeqIdMode::Off
        }
    }

    /// This configuration with renumbering `mode`.
    pub fn with_seq_id_mode(self, mode: SeqIdMode) -> Self {
        EgressConfig { renumber_seq_id: mode == SeqIdMode::Always, ..self }
    }
}

/// What happened to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitted {
    /// Send the input buffer's first `len` bytes (edited in place).
    InPlace {
        /// Frame length now (shorter when trailing bytes were trimmed).
        len: usize,
    },
    /// The packet was split into this many frames, written to the sink;
    /// the input buffer is free.
    Split {
        /// Frames written.
        pieces: usize,
    },
}

/// One eCPRI message of the frame being processed.
#[derive(Debug, Clone, Copy)]
struct Msg {
    /// Offset of its common header in the frame.
    at: usize,
    /// Common header plus payload, as its content says.
    len: usize,
    /// The U-plane view, for a whole U-plane message whose sections walk.
    uplane: Option<UplaneConfig>,
}

/// One worker's egress stage: configuration, the flow sequence table and
/// scratch space, all allocated at construction.
pub struct Egress {
    cfg: EgressConfig,
    /// How pieces are classified when they become [`Packet`]s (the
    /// pipeline's ingress decoding, like every other packet).
    classify_decode: DecodeConfig,
    flows: FlowSeqTable,
    msgs: Vec<Msg>,
    plan: Vec<usize>,
    staging: Vec<Packet>,
    pieces: Vec<Packet>,
    fates: Vec<Fate>,
    /// Ingress and egress decode alike, so a pristine packet may take the
    /// fast path ([`Egress::pass_pristine`]).
    pristine_ok: bool,
    /// Some flow's sequence IDs have moved (a split added packets): until
    /// then no message needs a table lookup.
    moved: bool,
    stats: EgressStats,
    last_error: Option<EgressError>,
}

impl Egress {
    /// An egress stage for `cfg`; pieces of split packets are classified
    /// with `classify_decode`. Allocates its tables now, for [`MAX_FLOWS`] flows.
    pub fn new(cfg: EgressConfig, classify_decode: DecodeConfig) -> Self {
        Self::with_max_flows(cfg, classify_decode, MAX_FLOWS)
    }

    /// As [`Egress::new`], with room for `max_flows` flows.
    pub fn with_max_flows(cfg: EgressConfig, classify_decode: DecodeConfig, max_flows: usize) -> Self {
        Egress {
            cfg,
            classify_decode,
            flows: FlowSeqTable::with_capacity(max_flows),
            msgs: Vec::with_capacity(MAX_MESSAGES),
            plan: Vec::with_capacity(MAX_PIECES),
            staging: Vec::with_capacity(BURST_CAPACITY),
            pieces: Vec::with_capacity(BURST_CAPACITY),
            fates: Vec::with_capacity(BURST_CAPACITY),
            pristine_ok: classify_decode == cfg.decode,
            moved: false,
            stats: EgressStats::default(),
            last_error: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EgressConfig {
        &self.cfg
    }

    /// The counters so far.
    pub fn stats(&self) -> &EgressStats {
        &self.stats
    }

    /// The most recent error, for logs.
    pub fn last_error(&self) -> Option<&EgressError> {
        self.last_error.as_ref()
    }

    /// Flows with a sequence counter.
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Whether `frame` fits the MTU as it is.
    pub fn fits_mtu(&self, frame: &[u8]) -> bool {
        EthernetFrame::new_checked(frame).is_ok_and(|e| frame.len() - e.header_len() <= self.cfg.mtu)
    }

    /// Processes one frame (the whole of `frame`). A frame that fits is
    /// edited in place ([`Emitted::InPlace`]); a larger one is split into
    /// frames written to `sink` ([`Emitted::Split`]). Errors are counted
    /// in [`Egress::stats`] and returned for the caller to count and act on.
    #[inline]
    pub fn process_frame<S: PieceSink + ?Sized>(&mut self, frame: &mut [u8], sink: &mut S) -> Result<Emitted, EgressError> {
        self.stats.packets_in += 1;
        let r = self.frame(frame, sink);
        match r {
            Ok(Emitted::InPlace { .. }) => self.stats.packets_out += 1,
            Ok(Emitted::Split { pieces }) => {
                self.stats.split += 1;
                self.stats.pieces += pieces as u64;
                self.stats.packets_out += pieces as u64;
            }
            Err(e) => {
                self.stats.errors[e.kind.index()] += 1;
                self.last_error = Some(e);
            }
        }
        r
    }

    /// Moves the sequence ID of a frame egress does not otherwise touch by
    /// its flow's offset, so that the flow's IDs neither repeat nor skip
    /// after a split. Only a whole U- or C-plane message directly over
    /// Ethernet (over UDP its checksum would need the message to decode).
    fn shift_untouched(&mut self, p: &mut Packet) {
        if !self.moved || !self.cfg.renumber_seq_id {
            return;
        }
        let len = p.len;
        let frame = &mut p.buf.bytes_mut()[..len];
        let Ok(Some(lay)) = layout(frame, self.cfg.decode.udp_port) else { return };
        let at = lay.ecpri_at;
        if lay.ip.is_some() || frame.len() <= at + ECPRI_PREFIX {
            return;
        }
        self.renumber(&mut frame[at..], lay.vlan, true);
    }

    /// The fast path for a pristine frame (as received, classified with
    /// the decoding egress uses): one whole eCPRI message over Ethernet
    /// that ends the frame and fits the MTU is already what egress would
    /// make of it, but for its sequence ID. Returns `false` (nothing
    /// written) for anything else, which takes the full path.
    #[inline]
    fn pass_pristine(&mut self, frame: &mut [u8]) -> bool {
        let Ok(Some(lay)) = layout(frame, self.cfg.decode.udp_port) else { return false };
        let at = lay.ecpri_at;
        if lay.ip.is_some() || frame.len() < at + ECPRI_PREFIX || frame[at] & 1 != 0 {
            return false;
        }
        let end = at + 4 + be16(frame, at + 2) as usize;
        if end != frame.len() || end - lay.eth_len > self.cfg.mtu {
            return false;
        }
        self.renumber(&mut frame[at..end], lay.vlan, true);
        self.stats.packets_in += 1;
        self.stats.packets_out += 1;
        true
    }

    fn frame<S: PieceSink + ?Sized>(&mut self, frame: &mut [u8], sink: &mut S) -> Result<Emitted, EgressError> {
        let Some(lay) = layout(frame, self.cfg.decode.udp_port)? else {
            // Not eCPRI: nothing to verify, and nothing we may split.
            return if self.fits_mtu(frame) {
                Ok(Emitted::InPlace { len: frame.len() })
            } else {
                Err(EgressError::new(EgressErrorKind::NotSplittable, "eth.type", 12))
            };
        };
        let end = self.scan(frame, &lay)?;
        let mut dirty = self.fix_headers(frame)?;
        if end - lay.eth_len > self.cfg.mtu {
            return self.split(&frame[..end], &lay, sink);
        }
        // Bytes after the last message are padding: they stay, as far as
        // the MTU allows.
        let len = frame.len().min(lay.eth_len + self.cfg.mtu);
        self.stats.bytes_trimmed += (frame.len() - len) as u64;
        let content = &mut frame[..end];
        for i in 0..self.msgs.len() {
            let m = self.msgs[i];
            dirty |= self.renumber(&mut content[m.at..m.at + m.len], lay.vlan, true);
        }
        if lay.ip.is_some() && (dirty || !transport_lengths_ok(content, &lay)) {
            fix_transport(content, &lay)?;
        }
        Ok(Emitted::InPlace { len })
    }

    /// Moves ecpriSeqid of a whole U-plane or C-plane message by its
    /// flow's offset; `first` is false for the second and later pieces of
    /// a split message, each of which adds one to the offset first.
    /// Returns whether it wrote.
    #[inline]
    fn renumber(&mut self, msg: &mut [u8], vlan: u16, first: bool) -> bool {
        // Until a split adds packets, every ID passes as it is: no lookup.
        if !self.cfg.renumber_seq_id || (first && !self.moved) || msg.len() <= ECPRI_PREFIX {
            return false;
        }
        let plane = match msg[1] {
            message_type::IQ_DATA => plane::U,
            message_type::RT_CONTROL => plane::C,
            _ => return false,
        };
        if msg[7] != SEQ_WHOLE {
            self.stats.fragments_kept += 1;
            return false;
        }
        let key = FlowKey { direction: msg[ECPRI_PREFIX] >> 7, plane, eaxc: be16(msg, 4), vlan };
        let Some(offset) = self.flows.offset(key) else {
            self.stats.flows_untracked += 1;
            return false;
        };
        if !first {
            *offset = offset.wrapping_add(1);
            self.moved = true;
        }
        if *offset == 0 {
            return false;
        }
        msg[6] = msg[6].wrapping_add(*offset);
        self.stats.renumbered += 1;
        true
    }
}

