//! The `fhgate.meta` custom section (translators/ABI.md §5): a
//! translator's name, version and the packets it wants.

use std::fmt;

use super::abi::{plane, Descriptor};

/// The custom section's name.
pub const SECTION: &str = "fhgate.meta";

/// A set of small values (planes 0–2, directions 0–1, message types
/// 0–255) as a bitmap; all bits set means `any`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Set([u64; 4]);

impl Set {
    /// Every value.
    pub const ANY: Set = Set([u64::MAX; 4]);
    /// No value.
    pub const NONE: Set = Set([0; 4]);

    /// Whether `v` is in the set.
    #[inline]
    pub fn contains(&self, v: u8) -> bool {
        self.0[(v >> 6) as usize] & (1 << (v & 63)) != 0
    }

    /// Adds `v`.
    pub fn insert(&mut self, v: u8) {
        self.0[(v >> 6) as usize] |= 1 << (v & 63)
    }

    /// Whether every value is in the set.
    pub fn is_any(&self) -> bool {
        *self == Self::ANY
    }
}

/// Which packets a translator wants (its metadata's `planes`,
/// `directions` and `types`), laid out for the hot loop: one bit per
/// (direction, plane, message type), so that a test is a few shifts of
/// the descriptor's flow word and one table lookup, without a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Bit [`Filter::index`]. The index keeps two bits of the plane:
    /// ABI.md §3 gives direction 0–1 and plane 0–2, and the host's
    /// classifier makes no other; plane 3 is wanted only when `planes` is
    /// `any`.
    bits: [u64; 32],
}

impl Filter {
    /// Wants nothing.
    pub const NONE: Filter = Filter { bits: [0; 32] };

    /// The filter of these sets.
    pub fn new(planes: &Set, directions: &Set, types: &Set) -> Filter {
        let mut f = Filter::NONE;
        for dir in 0..2u8 {
            for plane in 0..4u8 {
                let has_plane = if plane < 3 { planes.contains(plane) } else { planes.is_any() };
                if !(has_plane && directions.contains(dir)) {
                    continue;
                }
                for ty in (0..=255u8).filter(|&t| types.contains(t)) {
                    let i = Self::index(dir, plane, ty);
                    f.bits[i / 64] |= 1 << (i % 64);
                }
            }
        }
        f
    }

    /// `direction & 1 | (plane & 3) << 1 | msg_type << 3`: 11 bits.
    #[inline]
    fn index(direction: u8, plane: u8, msg_type: u8) -> usize {
        (direction & 1) as usize | ((plane & 3) as usize) << 1 | (msg_type as usize) << 3
    }

    /// Whether the packet whose descriptor has this flow word
    /// ([`DescriptorImage::flow_word`](super::abi::DescriptorImage::flow_word)) passes.
    #[inline]
    pub fn wants_flow_word(&self, w: u64) -> bool {
        // Direction is bits 8–15 of the word, plane 16–23, message type
        // 24–31: this is `index` without unpacking the bytes.
        self.has(((w >> 8) & 1 | (w >> 15) & 6 | (w >> 21) & 0x7F8) as usize)
    }

    /// Whether the packet this descriptor describes passes.
    #[inline]
    pub fn wants<T: AsRef<[u8]>>(&self, d: &Descriptor<T>) -> bool {
        self.has(Self::index(d.direction(), d.plane(), d.msg_type()))
    }

    /// Whether bit `i` (an 11-bit [`Filter::index`]) is set.
    #[inline]
    fn has(&self, i: usize) -> bool {
        (self.bits[i / 64] >> (i % 64)) & 1 != 0
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Set({:x?})", self.0)
    }
}

/// A translator's metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `planes`: 0 U, 1 C, 2 other eCPRI.
    pub planes: Set,
    /// `directions`: 0 UL, 1 DL.
    pub directions: Set,
    /// `types`: eCPRI message types.
    pub types: Set,
    /// `plan` lines, `FIELD:CONFIG`: a configuration that makes it bridge a
    /// difference in FIELD, with `{du.KEY}`/`{ru.KEY}` placeholders
    /// (`fhgate plan` fills them, then checks the declared effects).
    pub plans: Vec<String>,
    /// Keys the host does not know, kept for `translator check` to show.
    pub unknown_keys: Vec<String>,
}

impl Metadata {
    /// Whether the translator wants the packet this descriptor describes
    /// (builds the filter: for more than one packet, keep [`Self::filter`]).
    #[inline]
    pub fn wants<T: AsRef<[u8]>>(&self, d: &Descriptor<T>) -> bool {
        self.filter().wants(d)
    }

    /// The packet filter, as the hot loop tests it.
    pub fn filter(&self) -> Filter {
        Filter::new(&self.planes, &self.directions, &self.types)
    }

    /// Parses the section's text.
    pub fn parse(text: &[u8]) -> Result<Metadata, String> {
        let text = std::str::from_utf8(text).map_err(|e| format!("{SECTION} is not UTF-8: {e}"))?;
        let (mut name, mut version) = (None, None);
        let mut m = Metadata {
            name: String::new(),
            version: String::new(),
            planes: Set::ANY,
            directions: Set::ANY,
            types: Set::ANY,
            plans: Vec::new(),
            unknown_keys: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("{SECTION} line {}: `{line}` is not key=value", i + 1));
            };
            let (k, v) = (k.trim(), v.trim());
            let bad = |what: &str| format!("{SECTION} line {}: {k}={v}: {what}", i + 1);
            match k {
                "name" if !v.is_empty() => name = Some(v.to_string()),
                "version" if !v.is_empty() => version = Some(v.to_string()),
                "planes" => {
                    m.planes = parse_set(v, |w| match w {
                        "u" => Some(plane::U),
                        "c" => Some(plane::C),
                        "other" => Some(plane::OTHER),
                        _ => None,
                    })
                    .ok_or_else(|| bad("expected u, c, other (comma-separated) or any"))?
                }
                "directions" => {
                    m.directions = parse_set(v, |w| match w {
                        "dl" => Some(1),
                        "ul" => Some(0),
                        _ => None,
                    })
                    .ok_or_else(|| bad("expected dl, ul or any"))?
                }
                "types" => {
                    m.types = parse_set(v, |w| w.parse::<u8>().ok()).ok_or_else(|| bad("expected eCPRI message types 0-255 or any"))?
                }
                "plan" => match v.split_once(':') {
                    Some((f, _)) if super::effect::Field::from_name(f).is_some_and(super::effect::Field::is_format) => m.plans.push(v.to_string()),
                    _ => return Err(bad("expected FIELD:CONFIG with FIELD dl_comp, ul_comp, comp_hdr, eaxc_bits or vlan")),
                },
                "name" | "version" => return Err(bad("must not be empty")),
                _ => m.unknown_keys.push(k.to_string()),
            }
        }
        m.name = name.ok_or_else(|| format!("{SECTION} has no `name`"))?;
        m.version = version.ok_or_else(|| format!("{SECTION} has no `version`"))?;
        Ok(m)
    }
}

fn parse_set(v: &str, item: impl Fn(&str) -> Option<u8>) -> Option<Set> {
    if v == "any" {
        return Some(Set::ANY);
    }
    let mut s = Set::NONE;
    for w in v.split(',') {
        s.insert(item(w.trim())?);
    }
    Some(s)
}

fn fmt_set(f: &mut fmt::Formatter<'_>, s: &Set, range: core::ops::RangeInclusive<u8>, name: impl Fn(u8) -> String) -> fmt::Result {
    if s.is_any() {
        return f.write_str("any");
    }
    let mut first = true;
    for v in range {
        if s.contains(v) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(&name(v))?;
        }
    }
    Ok(())
}

impl fmt::Display for Metadata {
    /// `name=… version=… planes=… directions=… types=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name={} version={} planes=", self.name, self.version)?;
        fmt_set(f, &self.planes, 0..=2, |v| ["u", "c", "other"][v as usize].to_string())?;
        f.write_str(" directions=")?;
        fmt_set(f, &self.directions, 0..=1, |v| ["ul", "dl"][v as usize].to_string())?;
        f.write_str(" types=")?;
        fmt_set(f, &self.types, 0..=255, |v| v.to_string())
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::abi::DescriptorImage;

    #[test]
    fn parses_and_filters() {
        let m = Metadata::parse(b"name=bfp_width\nversion=1.2.0\nplanes=u,c\ndirections=dl\ntypes=0,2\nvendor=x\n").unwrap();
        assert_eq!(m.to_string(), "name=bfp_width version=1.2.0 planes=u,c directions=dl types=0,2");
        assert_eq!(m.unknown_keys, ["vendor"]);
        let mut d = DescriptorImage::default();
        d.set_direction(1);
        assert!(m.wants(&d));
        d.set_direction(0);
        assert!(!m.wants(&d));
        d.set_direction(1);
        d.set_plane(plane::OTHER);
        assert!(!m.wants(&d));
    }

    #[test]
    fn the_filter_agrees_with_the_sets_on_every_valid_flow() {
        let texts = ["", "planes=u", "planes=c,other\ndirections=ul", "directions=dl\ntypes=0,2,255", "planes=other\ntypes=7"];
        for t in texts {
            let m = Metadata::parse(format!("name=n\nversion=1\n{t}").as_bytes()).unwrap();
            let f = m.filter();
            for dir in 0..2u8 {
                for pl in 0..3u8 {
                    for ty in 0..=255u8 {
                        let mut d = DescriptorImage::default();
                        d.set_direction(dir);
                        d.set_plane(pl);
                        d.set_msg_type(ty);
                        let want = m.planes.contains(pl) && m.directions.contains(dir) && m.types.contains(ty);
                        assert_eq!(f.wants(&d), want, "{t:?}: dir {dir} plane {pl} type {ty}");
                        assert_eq!(f.wants_flow_word(d.flow_word()), want, "{t:?}: dir {dir} plane {pl} type {ty}");
                    }
                }
            }
        }
    }

    #[test]
    fn defaults_to_any() {
        let m = Metadata::parse(b"name=n\nversion=1").unwrap();
        assert!(m.planes.is_any() && m.directions.is_any() && m.types.is_any());
        assert_eq!(m.to_string(), "name=n version=1 planes=any directions=any types=any");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(Metadata::parse(b"version=1").unwrap_err().contains("no `name`"));
        assert!(Metadata::parse(b"name=a").unwrap_err().contains("no `version`"));
        assert!(Metadata::parse(b"name=a\nversion=1\nplanes=x").unwrap_err().contains("planes=x"));
        assert!(Metadata::parse(b"name=a\nversion=1\ntypes=300").unwrap_err().contains("types=300"));
        assert!(Metadata::parse(b"name=a\nbogus").unwrap_err().contains("not key=value"));
        assert!(Metadata::parse(&[0xFF]).unwrap_err().contains("UTF-8"));
    }
}
