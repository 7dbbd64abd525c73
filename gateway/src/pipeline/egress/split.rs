//! MTU enforcement: re-packing a frame's messages into frames within the
//! MTU, splitting U-plane messages at PRB boundaries into whole messages
//! (startPrbu and numPrbu per piece, udCompHdr kept, the application
//! header copied). Everything is planned and checked before the first
//! byte is written, so a packet fails whole or not at all.

use ecpri::bits::set_be16;
use ecpri::header::{concat_padding, message_type};
use ecpri::uplane::{self, SectionHeader, SectionRepr, UplaneConfig};

use super::frame::{fix_transport, Layout};
use super::{Egress, EgressError, EgressErrorKind, Emitted, Msg, PieceSink, ECPRI_PREFIX, MAX_PIECES, MIN_FRAME, UPLANE_PREFIX};

/// How far a split has got: the message, and within a U-plane message
/// being split, the section (frame offset, 0 before the first) and PRB.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cursor {
    msg: usize,
    sec_at: usize,
    prb_off: usize,
}

impl Egress {
    /// Plans the frames `frame` splits into (checking everything before
    /// writing anything), then writes them to `sink`.
    pub(super) fn split<S: PieceSink + ?Sized>(&mut self, frame: &[u8], lay: &Layout, sink: &mut S) -> Result<Emitted, EgressError> {
        let room = self.cfg.mtu.saturating_sub(lay.transport_len());
        self.plan.clear();
        let mut cur = Cursor::default();
        while cur.msg < self.msgs.len() {
            if self.plan.len() == MAX_PIECES {
                return Err(EgressError::new(EgressErrorKind::NoBuffers, "egress.pieces", 0));
            }
            let n = self.pack(frame, room, &mut cur, None)?;
            self.plan.push(lay.ecpri_at + n);
        }
        let pieces = self.plan.len();
        if !sink.reserve(pieces) {
            return Err(EgressError::new(EgressErrorKind::NoBuffers, "egress.buffers", 0));
        }
        let mut cur = Cursor::default();
        for i in 0..pieces {
            let len = self.plan[i];
            // A short piece is padded with zeros to the Ethernet minimum.
            let Some(out) = sink.frame(len.max(MIN_FRAME)) else {
                return Err(EgressError::new(EgressErrorKind::NoBuffers, "egress.buffers", 0));
            };
            out[len..].fill(0);
            let out = &mut out[..len];
            out[..lay.ecpri_at].copy_from_slice(&frame[..lay.ecpri_at]);
            let n = self.pack(frame, room, &mut cur, Some((&mut out[lay.ecpri_at..], lay.vlan)))?;
            debug_assert_eq!(lay.ecpri_at + n, len);
            if lay.ip.is_some() {
                fix_transport(out, lay)?;
            }
        }
        sink.done();
        Ok(Emitted::Split { pieces })
    }

    /// Fills one output frame's eCPRI part (`room` bytes at most) from
    /// `cur` on: whole messages that fit, pieces of U-plane messages that
    /// are larger than a frame. Writes into `out` when given (with the
    /// VLAN ID of the flow key), otherwise only measures. Returns the bytes.
    fn pack(&mut self, frame: &[u8], room: usize, cur: &mut Cursor, mut out: Option<(&mut [u8], u16)>) -> Result<usize, EgressError> {
        let mut used = 0usize;
        let mut prev: Option<(usize, usize)> = None;
        while cur.msg < self.msgs.len() {
            let m = self.msgs[cur.msg];
            let pad = prev.map_or(0, |(_, len)| concat_padding(len));
            let at = used + pad;
            let left = room.saturating_sub(at);
            // Whether this begins the message (a whole one, or its first piece).
            let first = cur.sec_at == 0;
            let wrote = if m.len <= room && cur.sec_at == 0 {
                if m.len > left {
                    break;
                }
                if let Some((o, _)) = out.as_mut() {
                    o[at..at + m.len].copy_from_slice(&frame[m.at..m.at + m.len]);
                }
                cur.msg += 1;
                m.len
            } else {
                let Some(ucfg) = m.uplane else {
                    let field = if frame[m.at + 1] == message_type::IQ_DATA { "ecpri.seqid" } else { "ecpri.type" };
                    let offset = if field == "ecpri.type" { m.at + 1 } else { m.at + 6 };
                    return Err(EgressError::new(EgressErrorKind::NotSplittable, field, offset));
                };
                let n = piece(frame, &m, &ucfg, cur, left, prev.is_none(), out.as_mut().map(|(o, _)| o.get_mut(at..).unwrap_or_default()))?;
                if n == 0 {
                    break;
                }
                n
            };
            if let Some((o, vlan)) = out.as_mut() {
                o[at - pad..at].fill(0);
                if let Some((p, _)) = prev {
                    o[p] |= 1;
                }
                o[at] &= !1;
                self.renumber(&mut o[at..at + wrote], *vlan, first);
            }
            prev = Some((at, wrote));
            used = at + wrote;
        }
        Ok(used)
    }
}

/// Writes into `out` (when given) one piece of the U-plane message `m`:
/// its headers, then as many whole PRBs from `cur` on as fit `left`
/// bytes, sections split where needed. Returns the piece's length, 0 when
/// not one PRB fits (an error if `fresh`, i.e. the frame is empty).
fn piece(
    frame: &[u8],
    m: &Msg,
    ucfg: &UplaneConfig,
    cur: &mut Cursor,
    left: usize,
    fresh: bool,
    mut out: Option<&mut [u8]>,
) -> Result<usize, EgressError> {
    let end = m.at + m.len;
    let body = m.at + ECPRI_PREFIX;
    let comp_hdr = uplane::resolve_comp_hdr(&frame[body..end], ucfg).map_err(|e| EgressError::malformed(e.at(body)))?;
    let saved = *cur;
    if cur.sec_at == 0 {
        *cur = Cursor { msg: cur.msg, sec_at: m.at + UPLANE_PREFIX, prb_off: 0 };
    }
    let mut at = UPLANE_PREFIX;
    while cur.sec_at < end {
        let sec = cur.sec_at;
        let s = SectionRepr::parse(&frame[sec..end], comp_hdr, ucfg).map_err(|e| EgressError::malformed(e.at(sec)))?;
        if s.sym_inc {
            return Err(EgressError::new(EgressErrorKind::NotSplittable, "oran_fh_cus.symInc", sec + 1));
        }
        let hdr_len = s.buffer_len() - s.iq_data.len();
        let prb_len = s.comp(ucfg.static_comp).prb_len().map_err(|e| EgressError::malformed(e.at(sec)))?;
        let total = s.prb_count(ucfg.carrier_prbs);
        let space = left.saturating_sub(at);
        if space < hdr_len + prb_len {
            if fresh && at == UPLANE_PREFIX {
                return Err(EgressError::new(EgressErrorKind::PrbTooLarge, "oran_fh_cus.iq_user_data", sec + hdr_len));
            }
            break;
        }
        let fit = (space - hdr_len) / prb_len;
        let remaining = total - cur.prb_off;
        let whole = cur.prb_off == 0 && remaining <= fit;
        let k = if whole { total } else { remaining.min(fit).min(u8::MAX as usize) };
        if whole {
            if let Some(o) = out.as_deref_mut() {
                o[at..at + s.buffer_len()].copy_from_slice(&frame[sec..sec + s.buffer_len()]);
            }
        } else {
            let start = s.start_prbu as usize + cur.prb_off * if s.rb { 2 } else { 1 };
            if start > uplane::field::START_PRBU as usize {
                return Err(EgressError::new(EgressErrorKind::NotSplittable, "oran_fh_cus.startPrbu", sec + 1));
            }
            if let Some(o) = out.as_deref_mut() {
                let h = &mut o[at..at + hdr_len];
                h.copy_from_slice(&frame[sec..sec + hdr_len]);
                let mut h = SectionHeader::new_checked(h, comp_hdr).map_err(EgressError::malformed)?;
                h.set_start_prbu(start as u16);
                h.set_num_prbu(k as u8);
                let d = cur.prb_off * prb_len;
                o[at + hdr_len..at + hdr_len + k * prb_len].copy_from_slice(&s.iq_data[d..d + k * prb_len]);
            }
        }
        at += hdr_len + k * prb_len;
        cur.prb_off += k;
        if cur.prb_off == total {
            cur.sec_at += s.buffer_len();
            cur.prb_off = 0;
        }
    }
    if at == UPLANE_PREFIX {
        *cur = saved;
        return Ok(0);
    }
    if let Some(o) = out {
        o[..UPLANE_PREFIX].copy_from_slice(&frame[m.at..m.at + UPLANE_PREFIX]);
        set_be16(o, 2, (at - 4) as u16);
    }
    if cur.sec_at >= end {
        *cur = Cursor { msg: cur.msg + 1, sec_at: 0, prb_off: 0 };
    }
    Ok(at)
}

