//! Rewriting U-plane messages section by section, for translators that
//! change section lengths (IQ width, udCompHdr presence). Used inside
//! [`Packet::rewrite_messages`](crate::Packet::rewrite_messages): the
//! source is a type 0 payload, the destination the room for the new one.

use ecpri::seq_id::SeqId;
use ecpri::uplane::{self, SectionRepr, UplaneConfig};
use ecpri::UdCompHdr;

use crate::error::Error;
use crate::frame::ID_SEQ_LEN;

/// Bytes before the first section: ecpriPcid, ecpriSeqid and the U-plane
/// application header.
pub const PREAMBLE_LEN: usize = ID_SEQ_LEN + uplane::field::APP_HEADER_LEN;

/// `Err(Capacity)` unless `dst` has `need` bytes.
#[inline]
pub fn room(dst: &[u8], need: usize) -> Result<(), Error> {
    if need > dst.len() {
        Err(Error::Capacity { needed: need, capacity: dst.len() })
    } else {
        Ok(())
    }
}

/// Whether a type 0 payload is a whole message (not an RTL fragment, whose
/// bytes do not start on a section).
pub fn is_whole(payload: &[u8]) -> bool {
    payload.len() >= ID_SEQ_LEN && {
        let s = SeqId::from_bytes([payload[2], payload[3]]);
        s.e_bit && s.subseq_id == 0
    }
}

/// Rewrites the type 0 payload `src` into `dst`: the preamble is copied,
/// then `f` writes each section (given as parsed with `comp_hdr` and
/// `cfg`) at the start of the room it gets and returns its length.
/// Returns the new payload length.
pub fn rewrite_sections<F>(
    src: &[u8],
    dst: &mut [u8],
    comp_hdr: bool,
    cfg: &UplaneConfig,
    mut f: F,
) -> Result<usize, Error>
where
    F: FnMut(&SectionRepr<'_>, &mut [u8]) -> Result<usize, Error>,
{
    if !is_whole(src) {
        return Err(Error::Unsupported("a fragmented U-plane message"));
    }
    if src.len() < PREAMBLE_LEN {
        return Err(Error::Wire(ecpri::Error::Truncated {
            field: "oran_fh_cus.data_direction",
            offset: ID_SEQ_LEN,
            needed: uplane::field::APP_HEADER_LEN,
            available: src.len() - ID_SEQ_LEN,
        }));
    }
    room(dst, PREAMBLE_LEN)?;
    dst[..PREAMBLE_LEN].copy_from_slice(&src[..PREAMBLE_LEN]);
    let mut w = PREAMBLE_LEN;
    for s in uplane::sections(&src[ID_SEQ_LEN..], comp_hdr, cfg) {
        let (_, s) = s.map_err(|e| e.at(ID_SEQ_LEN))?;
        w += f(&s, &mut dst[w..])?;
    }
    Ok(w)
}

/// Writes a section header like `s` but with `ud_comp_hdr` (and its
/// reserved byte), or none; returns its length (4 or 6). The IQ data goes
/// right after it.
pub fn write_section_header(
    s: &SectionRepr<'_>,
    ud_comp_hdr: Option<(UdCompHdr, u8)>,
    dst: &mut [u8],
) -> Result<usize, Error> {
    let h = SectionRepr { ud_comp_hdr, iq_data: &[], ..*s };
    room(dst, h.buffer_len())?;
    Ok(h.emit(dst)?)
}

/// Copies a section as it is; returns its length.
pub fn copy_section(s: &SectionRepr<'_>, dst: &mut [u8]) -> Result<usize, Error> {
    room(dst, s.buffer_len())?;
    Ok(s.emit(dst)?)
}
