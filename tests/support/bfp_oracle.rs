//! A U-plane decoder written from the spec for the tests, using
//! neither `ecpri` nor the gateway's decoders: raw capture bytes →
//! mantissa × 2^exponent in `i64` (O-RAN.WG4.CUS §7.4 and Annex A.1; the
//! other methods of Annex A as real values, [`spec_decode_any`]), and
//! the ideal quantiser (round to nearest at the smallest exponent that
//! fits) that bounds what any BFP translator can reach at a width.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// (eAxC, dataDirection, frameId, subframeId, slotId, symbolId, PRB).
pub type PrbKey = (u16, u8, u8, u8, u8, u8, u16);

/// One PRB as the spec defines it: its exponent and its 24 samples m·2^e.
#[derive(Debug, Clone, Copy)]
pub struct Prb {
    pub exponent: u8,
    pub samples: [i64; 24],
}

/// The records of a classic little-endian pcap file (µs or ns time stamps,
/// as gen and replay write).
pub fn pcap_records(path: &Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(b[..4].try_into().unwrap());
    assert!(
        magic == 0xA1B2_C3D4 || magic == 0xA1B2_3C4D,
        "{}: a little-endian pcap",
        path.display()
    );
    let (mut at, mut out) = (24, Vec::new());
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(b[at + 16..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    out
}

/// Reads `bits` bits MSB first from `data` at bit offset `*pos`, as a
/// two's-complement number.
pub fn signed_bits(data: &[u8], pos: &mut usize, bits: usize) -> i64 {
    let mut v: u64 = 0;
    for _ in 0..bits {
        let bit = (data[*pos / 8] >> (7 - *pos % 8)) & 1;
        v = (v << 1) | bit as u64;
        *pos += 1;
    }
    if v >> (bits - 1) & 1 == 1 {
        v as i64 - (1i64 << bits)
    } else {
        v as i64
    }
}

/// Every BFP PRB of the U-plane of a capture whose sections carry
/// udCompHdr, decoded from the bytes: Ethernet (optionally one 802.1Q
/// tag), the eCPRI common header (§3.1.3.1 of eCPRI 2.0: revision, C bit,
/// message type 0 = IQ data, payload size), ecpriPcid and ecpriSeqid, the
/// U-plane application header and sections (§7.4), udCompParam (reserved
/// 4 bits, exponent 4 bits) and 24 mantissas of udIqWidth bits each.
pub fn oracle_decode(path: &Path) -> BTreeMap<PrbKey, Prb> {
    oracle_decode_with(path, None)
}

/// As [`oracle_decode`], for sections without udCompHdr (static
/// compression, O-RAN.WG4.CUS §7.4, section header 4 bytes): BFP at
/// `width` bits.
pub fn oracle_decode_static(path: &Path, width: usize) -> BTreeMap<PrbKey, Prb> {
    oracle_decode_with(path, Some(width))
}

fn oracle_decode_with(path: &Path, static_width: Option<usize>) -> BTreeMap<PrbKey, Prb> {
    let mut out = BTreeMap::new();
    walk_prbs(path, static_width.map(|w| (1, w)), |key, meth, width, prb| {
        assert_eq!(meth, 1, "BFP");
        let exponent = prb[0] & 0x0F;
        let mut pos = 8;
        let mut samples = [0i64; 24];
        for x in &mut samples {
            *x = signed_bits(prb, &mut pos, width) << exponent;
        }
        out.insert(key, Prb { exponent, samples });
    });
    out
}

/// Calls `f` with every PRB of the U-plane of a capture: its key,
/// udCompMeth, udIqWidth and bytes (udCompParam first for every method but
/// 0, none). Sections carry udCompHdr unless `static_comp` (method,
/// width) is given, when the section header is 4 bytes (§7.4).
pub fn walk_prbs(path: &Path, static_comp: Option<(u8, usize)>, mut visit: impl FnMut(PrbKey, u8, usize, &[u8])) {
    for f in pcap_records(path) {
        let mut at = 12;
        let mut ethertype = u16::from_be_bytes([f[at], f[at + 1]]);
        if ethertype == 0x8100 {
            at += 4;
            ethertype = u16::from_be_bytes([f[at], f[at + 1]]);
        }
        at += 2;
        assert_eq!(ethertype, 0xAEFE, "eCPRI over Ethernet");
        let (c_bit, msg_type) = (f[at] & 1, f[at + 1]);
        assert_eq!(c_bit, 0, "one message per frame");
        let size = u16::from_be_bytes([f[at + 2], f[at + 3]]) as usize;
        let end = at + 4 + size;
        if msg_type != 0 {
            continue;
        }
        let eaxc = u16::from_be_bytes([f[at + 4], f[at + 5]]);
        let h = at + 8;
        let dir = f[h] >> 7;
        let frame_id = f[h + 1];
        let subframe = f[h + 2] >> 4;
        let slot = ((f[h + 2] & 0x0F) << 2) | (f[h + 3] >> 6);
        let symbol = f[h + 3] & 0x3F;
        let mut s = h + 4;
        let head = if static_comp.is_some() { 4 } else { 6 };
        while s + head <= end {
            let start_prbu = (((f[s + 1] & 0x03) as u16) << 8) | f[s + 2] as u16;
            let num_prbu = f[s + 3] as usize;
            assert_ne!(num_prbu, 0, "the captures here name their PRBs");
            let (meth, width) = match static_comp {
                Some(c) => c,
                None => {
                    let ud_comp_hdr = f[s + 4];
                    let width = (ud_comp_hdr >> 4) as usize;
                    (ud_comp_hdr & 0x0F, if width == 0 { 16 } else { width })
                }
            };
            s += head;
            // udCompParam: one byte for every method here but none (Annex A).
            let len = if meth == 0 { 3 * width } else { 1 + 3 * width };
            for i in 0..num_prbu {
                visit((eaxc, dir, frame_id, subframe, slot, symbol, start_prbu + i as u16), meth, width, &f[s..s + len]);
                s += len;
            }
        }
    }
}

/// Every PRB of the U-plane of a capture whose sections carry udCompHdr,
/// any of methods 0-3, as the real sample values O-RAN.WG4.CUS Annex A
/// defines at the 16-bit scale: none keeps the w most significant bits
/// of a 16-bit sample; BFP (A.1) is mantissa · 2^exponent; block scaling
/// (A.2) sblockScaler (Q1.7) · c / 2^(w − 9); µ-law (A.3) inverts the
/// segment of |c| (up to 2^(w−2): · 2^(15−w); up to 2^(w−2) + 2^(w−3):
/// minus 2^(w−3), · 2^(16−w); above: minus 2^(w−2), · 2^(17−w)), restores
/// the sign and divides by 2^compShift.
pub fn spec_decode_any(path: &Path) -> BTreeMap<PrbKey, [f64; 24]> {
    let mut out = BTreeMap::new();
    walk_prbs(path, None, |key, meth, w, prb| {
        let param = if meth == 0 { 0 } else { prb[0] as i32 };
        let mut pos = if meth == 0 { 0 } else { 8 };
        let p2 = |e: i32| 2f64.powi(e);
        let wi = w as i32;
        let mut x = [0f64; 24];
        for v in &mut x {
            let c = signed_bits(prb, &mut pos, w);
            *v = match meth {
                0 => (c << (16 - w)) as f64,
                1 => (c << (param & 0xF)) as f64,
                2 => param as f64 * c as f64 / p2(wi - 9),
                3 => {
                    let a = c.unsigned_abs().min((1 << (w - 1)) - 1) as f64;
                    let mag = if a <= p2(wi - 2) {
                        a * p2(15 - wi)
                    } else if a <= p2(wi - 2) + p2(wi - 3) {
                        (a - p2(wi - 3)) * p2(16 - wi)
                    } else {
                        (a - p2(wi - 2)) * p2(17 - wi)
                    };
                    c.signum() as f64 * mag / p2(param & 0xF)
                }
                m => panic!("udCompMeth {m} is not decoded here"),
            };
        }
        out.insert(key, x);
    });
    out
}

/// A PRB quantised as BFP at `width` with rounding to nearest (halves
/// away from zero) at the smallest exponent 0–15 whose mantissas all fit;
/// at 15 what still does not fit is clipped. The ideal a translator can
/// reach at that width.
pub fn quantise_nearest(x: &[i64; 24], width: u32) -> [i64; 24] {
    let (lo, hi) = (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1);
    let e = nearest_exponent(x, width).unwrap_or(15);
    x.map(|v| round_at(v, e).clamp(lo, hi) << e)
}

/// The smallest exponent 0–15 at which every sample rounded to nearest
/// fits `width` bits; `None` when none does (the PRB is clipped).
pub fn nearest_exponent(x: &[i64; 24], width: u32) -> Option<u32> {
    let (lo, hi) = (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1);
    (0..=15).find(|&e| x.iter().all(|&v| (lo..=hi).contains(&round_at(v, e))))
}

/// `v / 2^e` rounded to nearest, halves away from zero.
fn round_at(v: i64, e: u32) -> i64 {
    if e == 0 {
        return v;
    }
    let half = 1i64 << (e - 1);
    if v >= 0 {
        (v + half) >> e
    } else {
        -((-v + half) >> e)
    }
}

/// EVM in dB of B against A over the PRBs of eAxC `eaxc` (every one of
/// A's must be in B), both decoded here.
pub fn evm_db(a: &Path, b: &Path, eaxc: u16) -> f64 {
    let (xa, xb) = (oracle_decode(a), oracle_decode(b));
    let (mut err, mut reference) = (0f64, 0f64);
    for (k, pa) in xa.iter().filter(|(k, _)| k.0 == eaxc) {
        let pb = xb
            .get(k)
            .unwrap_or_else(|| panic!("PRB {k:?} is missing in B"));
        for (x, y) in pa.samples.iter().zip(&pb.samples) {
            err += (*y as f64 - *x as f64).powi(2);
            reference += (*x as f64).powi(2);
        }
    }
    10.0 * (err / reference).log10()
}

/// EVM in dB of A's own PRBs of eAxC `eaxc` quantised to nearest at
/// `width` ([`quantise_nearest`]): the bound at that width.
pub fn bound_db(a: &Path, width: u32, eaxc: u16) -> f64 {
    let (mut err, mut reference) = (0f64, 0f64);
    for (_, p) in oracle_decode(a).iter().filter(|(k, _)| k.0 == eaxc) {
        let q = quantise_nearest(&p.samples, width);
        for (x, y) in p.samples.iter().zip(&q) {
            err += (*y as f64 - *x as f64).powi(2);
            reference += (*x as f64).powi(2);
        }
    }
    10.0 * (err / reference).log10()
}

/// B's EVM against A on eAxC `eaxc`, A's bound at `width`, and whether
/// the EVM is within 0.5 dB of the bound (both -inf, identical, when A
/// fits `width` bits: narrowing then loses nothing).
pub fn near_bound(a: &Path, b: &Path, width: u32, eaxc: u16) -> (bool, f64, f64) {
    let (evm, bound) = (evm_db(a, b, eaxc), bound_db(a, width, eaxc));
    let near = if bound == f64::NEG_INFINITY { evm == bound } else { (evm - bound).abs() < 0.5 };
    (near, evm, bound)
}
