//! Whole C-plane messages as plain values (feature `alloc`): the common
//! header, the sections with their extension chains, and any trailing
//! bytes. `emit` writes back exactly what `parse` read.

use alloc::vec::Vec;

use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor, VisitFields};
use crate::{Error, Result};

use super::ext::ExtRepr;
use super::header::{CommonHeader, TypeFields};
use super::iter::{section_count, SectionItem, SectionIter};
use super::section::SectionFields;
use super::ParseOptions;

/// One decoded section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRepr<'a> {
    /// The fixed fields (ef is implied by `extensions`).
    pub fields: SectionFields,
    /// ciIsample/ciQsample data of a type 6 section, as sent (empty otherwise).
    pub ci_samples: &'a [u8],
    /// The extension chain, in wire order.
    pub extensions: Vec<ExtRepr<'a>>,
}

impl<'a> SectionRepr<'a> {
    /// Decodes a section found by [`SectionIter`]; offsets in errors count
    /// from the start of the message.
    pub fn from_item(item: &SectionItem<'a>) -> Result<Self> {
        let st = item.fields.section_type();
        let extensions = item
            .extensions()
            .map(|e| e.and_then(|e| e.repr(st)).map_err(|e| e.at(item.offset)))
            .collect::<Result<Vec<_>>>()?;
        Ok(SectionRepr { fields: item.fields, ci_samples: item.ci_samples, extensions })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.fields.buffer_len() + self.ci_samples.len() + self.extensions.iter().map(ExtRepr::buffer_len).sum::<usize>()
    }

    /// Writes the section at the start of `b`, setting every ef bit from
    /// the chain; returns its length.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        check_len(b, "oran_fh_cus.sectionId", 0, n)?;
        if !self.ci_samples.is_empty() && !matches!(self.fields, SectionFields::Type6 { .. }) {
            return Err(Error::LengthMismatch { field: "oran_fh_cus.ciSamples", offset: 0, declared: 0, actual: self.ci_samples.len() });
        }
        let mut at = self.fields.emit(b, !self.extensions.is_empty())?;
        b[at..at + self.ci_samples.len()].copy_from_slice(self.ci_samples);
        at += self.ci_samples.len();
        let last = self.extensions.len().saturating_sub(1);
        for (i, e) in self.extensions.iter().enumerate() {
            at += e.emit(&mut b[at..], i < last).map_err(|e| e.at(at))?;
        }
        Ok(at)
    }
}

impl<'a> VisitFields<'a> for SectionRepr<'a> {
    /// Reports the section inside a `sections` group; an extension 11
    /// without weights gives one beamId per bundle when numPrbc alone
    /// delimits the bundles.
    fn visit_fields<V: FieldVisitor<'a>>(&self, v: &mut V) {
        v.begin("sections");
        self.fields.visit(v, !self.extensions.is_empty());
        if matches!(self.fields, SectionFields::Type6 { .. }) {
            v.field("oran_fh_cus.ciSamples", FieldValue::Bytes(self.ci_samples));
        }
        // Extensions 6, 12 and 13 reshape the PRB allocation that
        // extension 11 divides into bundles; without them it is numPrbc.
        let plain = !self.extensions.iter().any(|e| matches!(e.ext_type(), 6 | 12 | 13));
        let last = self.extensions.len().saturating_sub(1);
        for (i, e) in self.extensions.iter().enumerate() {
            let bundles = match e {
                ExtRepr::FlexBfw(x) if plain => x.contiguous_bundles(self.fields.num_prbc()),
                _ => None,
            };
            e.visit_in_section(v, i < last, bundles);
        }
        v.end();
    }
}

/// A whole decoded C-plane message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr<'a> {
    /// The common header (for type 7, with its LBT message).
    pub header: CommonHeader,
    /// The sections, exactly as many as the header declares.
    pub sections: Vec<SectionRepr<'a>>,
    /// Bytes after the last section (or after the LBT message), kept so
    /// that the message round-trips; empty in a well-formed message.
    pub trailer: &'a [u8],
}

impl<'a> MessageRepr<'a> {
    /// Decodes `buf` (the bytes after ecpriSeqid) with default options.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        Self::parse_with(buf, ParseOptions::default())
    }

    /// Decodes `buf` with M-plane options that the wire does not carry.
    pub fn parse_with(buf: &'a [u8], opts: ParseOptions) -> Result<Self> {
        let header = CommonHeader::parse(buf)?;
        let mut it = SectionIter::new(buf, opts)?;
        let mut sections = Vec::with_capacity(it.remaining());
        for item in it.by_ref() {
            sections.push(SectionRepr::from_item(&item?)?);
        }
        Ok(MessageRepr { header, sections, trailer: it.trailer() })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.header.buffer_len() + self.sections.iter().map(SectionRepr::buffer_len).sum::<usize>() + self.trailer.len()
    }

    /// Writes the message at the start of `buf`, returning its length. The
    /// header must declare as many sections as there are, all of its type.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        check_len(buf, "oran_fh_cus.numberOfSections", 0, n)?;
        let st = self.header.section_type();
        let ues = match self.header.fields {
            TypeFields::Type6 { number_of_ues, .. } => Some(number_of_ues),
            _ => None,
        };
        let declared = section_count(self.header.number_of_sections, st, ues);
        if declared != self.sections.len() {
            return Err(Error::LengthMismatch {
                field: "oran_fh_cus.numberOfSections",
                offset: super::header::field::NUMBER_OF_SECTIONS,
                declared,
                actual: self.sections.len(),
            });
        }
        let mut at = self.header.emit(buf)?;
        for s in &self.sections {
            if s.fields.section_type() != st {
                return Err(Error::Unsupported { field: "oran_fh_cus.sectionType", offset: at, value: s.fields.section_type() as u32 });
            }
            at += s.emit(&mut buf[at..]).map_err(|e| e.at(at))?;
        }
        buf[at..at + self.trailer.len()].copy_from_slice(self.trailer);
        Ok(at + self.trailer.len())
    }
}

impl<'a> VisitFields<'a> for CommonHeader {
    fn visit_fields<V: FieldVisitor<'a>>(&self, v: &mut V) {
        self.visit(v);
    }
}

impl<'a> VisitFields<'a> for MessageRepr<'a> {
    /// Reports the header, each section in a `sections` group (each
    /// extension in an `extensions` group), then any trailer as
    /// `oran_fh_cus.trailer` bytes.
    fn visit_fields<V: FieldVisitor<'a>>(&self, v: &mut V) {
        self.header.visit(v);
        for s in &self.sections {
            s.visit_fields(v);
        }
        if !self.trailer.is_empty() {
            v.field("oran_fh_cus.trailer", FieldValue::Bytes(self.trailer));
        }
    }
}

#[cfg(test)]
mod tests;
