//! A walk over the sections of a C-plane message that allocates nothing:
//! each step yields the section's byte range, its fixed fields and an
//! iterator over its extensions. The gateway's hot path and Wasm
//! translators use it to find the bytes they rewrite.

use core::ops::Range;

use crate::error::check_len;
use crate::{Error, Result};

use super::ext::ExtIter;
use super::header::CplanePacket;
use super::section::{fixed_len, SectionFields};
use super::ParseOptions;

/// One section found by [`SectionIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionItem<'a> {
    /// The fixed fields.
    pub fields: SectionFields,
    /// ef: extensions follow.
    pub ef: bool,
    /// Where the section starts in the message.
    pub offset: usize,
    /// The whole section: fixed part, channel information, extensions.
    pub bytes: &'a [u8],
    /// ciIsample/ciQsample data of a type 6 section (empty otherwise).
    pub ci_samples: &'a [u8],
    ext_start: usize,
}

impl<'a> SectionItem<'a> {
    /// The section's byte range in the message.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.bytes.len()
    }

    /// The byte range of the extension chain, relative to the section.
    pub fn ext_range(&self) -> Range<usize> {
        self.ext_start..self.bytes.len()
    }

    /// sectionId (type 6 sections have none).
    pub fn section_id(&self) -> Option<u16> {
        self.fields.section_id()
    }

    /// startPrbc.
    pub fn start_prbc(&self) -> u16 {
        self.fields.start_prbc()
    }

    /// numPrbc.
    pub fn num_prbc(&self) -> u8 {
        self.fields.num_prbc()
    }

    /// The extensions; [`super::ExtItem::offset`] counts from the section start.
    pub fn extensions(&self) -> ExtIter<'a> {
        ExtIter::new(self.bytes, self.ext_start, self.ef)
    }
}

/// Parses the section at `at` in `msg`. A type 6 section's channel
/// information is delimited by `opts.ci_bytes_per_prb`, or, without it, by
/// the end of the message when this is the `last` section and has no
/// extensions. Offsets in errors count from the start of `msg`.
pub(crate) fn parse_section<'a>(
    msg: &'a [u8],
    at: usize,
    section_type: u8,
    last: bool,
    opts: ParseOptions,
) -> Result<SectionItem<'a>> {
    let (fields, ef) = SectionFields::parse(&msg[at..], section_type).map_err(|e| e.at(at))?;
    if let (Some(carrier), false) = (opts.carrier_prbs, section_type == 3) {
        use super::section::field;
        let (start_at, count_at, rb) = match fields {
            SectionFields::Type6 { rb, .. } => (field::T6_RSV_RB_SYM_START.start, field::T6_NUM_PRBC, rb),
            _ => (field::ID_RB_SYM_START.start + 1, field::NUM_PRBC, fields.common().is_some_and(|c| c.rb)),
        };
        // numPrbc 0 is "all PRBs": no data rides on it here, so only
        // startPrbc is held to the carrier.
        let count = fields.num_prbc().max(1) as usize;
        crate::error::check_carrier(
            ("oran_fh_cus.startPrbc", at + start_at),
            ("oran_fh_cus.numPrbc", at + count_at),
            fields.start_prbc(),
            count,
            rb,
            carrier,
        )?;
    }
    let ext_start = fixed_len(section_type).unwrap_or(0);
    let mut ci_len = 0;
    if let SectionFields::Type6 { num_prbc, .. } = fields {
        let pos = at + ext_start;
        ci_len = match opts.ci_bytes_per_prb {
            Some(per_prb) if num_prbc != 0 => {
                // Capped so that a huge configured size cannot overflow the bounds check.
                let n = per_prb.saturating_mul(num_prbc as usize).min(msg.len() + 1);
                check_len(msg, "oran_fh_cus.ciSamples", pos, n)?;
                n
            }
            _ if last && !ef => msg.len() - pos,
            _ => return Err(Error::Unsupported { field: "oran_fh_cus.ciSamples", offset: pos, value: num_prbc as u32 }),
        };
    }
    let sec = &msg[at..];
    let ext_start = ext_start + ci_len;
    let mut exts = ExtIter::new(sec, ext_start, ef);
    for e in exts.by_ref() {
        e.map_err(|e| e.at(at))?;
    }
    let end = if ef { exts.end() } else { ext_start };
    Ok(SectionItem {
        fields,
        ef,
        offset: at,
        bytes: &sec[..end],
        ci_samples: &sec[ext_start - ci_len..ext_start],
        ext_start,
    })
}

/// How many sections a message of this header carries: numberOfSections,
/// or numberOfUEs for type 6 when numberOfSections is 0 (as Wireshark
/// reads it); type 7 carries none.
pub(crate) fn section_count(number_of_sections: u8, section_type: u8, number_of_ues: Option<u8>) -> usize {
    match section_type {
        7 => 0,
        6 if number_of_sections == 0 => number_of_ues.unwrap_or(0) as usize,
        _ => number_of_sections as usize,
    }
}

/// Walks the sections of a message (the bytes after ecpriSeqid) without
/// allocating. It yields exactly as many sections as the header declares
/// and stops at the first error; whatever follows the last section is
/// [`SectionIter::trailer`].
#[derive(Debug, Clone)]
pub struct SectionIter<'a> {
    msg: &'a [u8],
    section_type: u8,
    pos: usize,
    remaining: usize,
    opts: ParseOptions,
}

impl<'a> SectionIter<'a> {
    /// Checks the common header of `msg` and positions at the first section.
    pub fn new(msg: &'a [u8], opts: ParseOptions) -> Result<Self> {
        let p = CplanePacket::new_checked(msg)?;
        Ok(Self::with_header(msg, &p, opts))
    }

    /// Positions at the first section of a checked packet.
    pub fn from_packet<T: AsRef<[u8]>>(p: &'a CplanePacket<T>, opts: ParseOptions) -> Self {
        Self::with_header(p.as_bytes(), p, opts)
    }

    fn with_header<T: AsRef<[u8]>>(msg: &'a [u8], p: &CplanePacket<T>, opts: ParseOptions) -> Self {
        let st = p.section_type();
        SectionIter {
            msg,
            section_type: st,
            pos: p.sections_offset(),
            remaining: section_count(p.number_of_sections(), st, p.number_of_ues()),
            opts,
        }
    }

    /// sectionType of the message.
    pub fn section_type(&self) -> u8 {
        self.section_type
    }

    /// Sections not yet yielded.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The bytes from the current position to the end of the message:
    /// after the last section, the trailer (empty in a well-formed message).
    pub fn trailer(&self) -> &'a [u8] {
        &self.msg[self.pos..]
    }
}

impl<'a> Iterator for SectionIter<'a> {
    type Item = Result<SectionItem<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let r = parse_section(self.msg, self.pos, self.section_type, self.remaining == 1, self.opts);
        match &r {
            Ok(item) => {
                self.pos += item.bytes.len();
                self.remaining -= 1;
            }
            Err(_) => self.remaining = 0,
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Type 1 header (2 sections, udCompHdr BFP 9), then
    // section 1: startPrbc 0, numPrbc 10, beamId 1, ef with ext 4 and ext 6;
    // section 2: startPrbc 10, numPrbc 20, beamId 2, no extensions.
    const MSG: [u8; 36] = [
        0x90, 0x00, 0x00, 0x00, 0x02, 0x01, 0x91, 0x00, //
        0x00, 0x10, 0x00, 0x0A, 0xFF, 0xF1, 0x80, 0x01, //
        0x84, 0x01, 0x00, 0x10, //
        0x06, 0x02, 0x10, 0x00, 0x00, 0x0F, 0x3F, 0xFF, //
        0x00, 0x20, 0x0A, 0x14, 0xFF, 0xF1, 0x00, 0x02,
    ];

    #[test]
    fn walks_sections_and_extensions() {
        let mut it = SectionIter::new(&MSG, ParseOptions::default()).unwrap();
        let s1 = it.next().unwrap().unwrap();
        assert_eq!((s1.section_id(), s1.start_prbc(), s1.num_prbc()), (Some(1), 0, 10));
        assert_eq!(s1.range(), 8..28);
        assert_eq!(s1.ext_range(), 8..20);
        let exts: Vec<_> = s1.extensions().map(|e| e.unwrap()).collect();
        assert_eq!(exts.iter().map(|e| (e.ext_type, e.offset, e.bytes.len())).collect::<Vec<_>>(), [(4, 8, 4), (6, 12, 8)]);
        let s2 = it.next().unwrap().unwrap();
        assert_eq!((s2.section_id(), s2.start_prbc(), s2.num_prbc(), s2.range()), (Some(2), 10, 20, 28..36));
        assert!(it.next().is_none());
        assert!(it.trailer().is_empty());
    }

    #[test]
    fn missing_section_and_trailer() {
        let mut short = MSG;
        short[4] = 3;
        let r: Vec<_> = SectionIter::new(&short, ParseOptions::default()).unwrap().collect();
        assert!(matches!(r[2], Err(Error::Truncated { field: "oran_fh_cus.sectionId", offset: 36, .. })));
        let mut one = MSG;
        one[4] = 1;
        let mut it = SectionIter::new(&one, ParseOptions::default()).unwrap();
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().is_none());
        assert_eq!(it.trailer(), &MSG[28..]);
    }

    #[test]
    fn in_place_rewrite_through_ranges() {
        let mut m = MSG;
        let ranges: Vec<_> = SectionIter::new(&m, ParseOptions::default()).unwrap().map(|s| s.unwrap().range()).collect();
        for r in ranges {
            let mut s = super::super::SectionPacket::new_checked(&mut m[r], 1).unwrap();
            s.set_beam_id(0x100).unwrap();
        }
        let ids: Vec<_> = SectionIter::new(&m, ParseOptions::default())
            .unwrap()
            .map(|s| match s.unwrap().fields {
                SectionFields::Type1 { beam_id, .. } => beam_id,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ids, [0x100, 0x100]);
        assert_eq!(m[14] & 0x80, 0x80, "ef kept");
    }
}
