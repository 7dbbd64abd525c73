//! U-plane layout inference: which of udCompHdr present, or absent with
//! each IQ width and udCompParam size, makes every sampled message's
//! sections tile its payload exactly.

use ecpri::comp_hdr::{CompMethod, UdCompHdr};

use super::{has_param, Spec};

/// What the U-plane of one direction says.
pub struct Inferred {
    /// Compression method and width (`None`: the layout is known but not the method; `evidence` lists candidates).
    pub comp: Option<UdCompHdr>,
    /// Whether sections carry udCompHdr.
    pub comp_hdr: bool,
    /// Largest startPrbu + numPrbu.
    pub prb_edge: u16,
    /// Why `comp`.
    pub evidence: String,
    /// Why `comp_hdr`.
    pub hdr_evidence: String,
}

/// One way to read a section: udCompHdr present, or absent with a fixed PRB size.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Layout {
    Present,
    Absent { width: u8, param: bool },
}

/// The walk of one message under a layout: PRB edge, udCompHdr bytes, udCompParam bytes.
#[derive(Default)]
struct Walk {
    edge: u16,
    hdrs: Vec<u8>,
    params: Vec<u8>,
}

/// Walks `b` (the sections after the application header) under `layout`;
/// `None` when the sections do not tile it exactly.
fn walk(b: &[u8], layout: Layout, w: &mut Walk) -> Option<()> {
    let mut at = 0;
    while at < b.len() {
        let hl = if layout == Layout::Present { 6 } else { 4 };
        let h = b.get(at..at + hl)?;
        let start = u16::from(h[1] & 0x03) << 8 | u16::from(h[2]);
        let num = h[3];
        let (prb_len, param) = match layout {
            Layout::Present => {
                if h[5] != 0 {
                    return None; // the reserved byte after udCompHdr
                }
                let c = UdCompHdr::from_byte(h[4]);
                w.hdrs.push(h[4]);
                (c.prb_len().ok()?, has_param(c.comp_meth))
            }
            Layout::Absent { width, param } => (3 * usize::from(width) + usize::from(param), param),
        };
        at += hl;
        let rest = b.len() - at;
        // numPrbu = 0: the whole carrier, whose width the payload must give.
        let n = if num == 0 {
            if rest % prb_len != 0 || rest == 0 {
                return None;
            }
            rest / prb_len
        } else {
            usize::from(num)
        };
        let data = b.get(at..at + n * prb_len)?;
        if param {
            w.params.extend(data.iter().step_by(prb_len));
        }
        w.edge = w.edge.max(start + n as u16);
        at += n * prb_len;
    }
    Some(())
}

/// Infers the layout and compression from sampled U-plane messages.
pub fn infer(samples: &[Vec<u8>]) -> Result<Inferred, String> {
    let mut layouts = vec![Layout::Present];
    for width in 1..=16 {
        for param in [false, true] {
            layouts.push(Layout::Absent { width, param });
        }
    }
    let mut fits = Vec::new();
    for l in layouts {
        let mut w = Walk::default();
        if samples.iter().all(|s| walk(s, l, &mut w).is_some()) {
            fits.push((l, w));
        }
    }
    let n = samples.len();
    let absent: Vec<String> = fits.iter().filter_map(|(l, _)| match l {
        Layout::Absent { width, param } => Some(format!("absent with {width}-bit IQ and {} udCompParam byte ({} bytes/PRB)", u8::from(*param), 3 * width + u8::from(*param))),
        Layout::Present => None,
    }).collect();
    if let Some((_, w)) = fits.iter().find(|(l, _)| *l == Layout::Present) {
        let mut counts = std::collections::BTreeMap::new();
        for h in &w.hdrs {
            *counts.entry(*h).or_insert(0u64) += 1;
        }
        let (&b, &c) = counts.iter().max_by_key(|(_, c)| **c).ok_or("no sections")?;
        let comp = UdCompHdr::from_byte(b);
        let mut evidence = format!("udCompHdr {} in {c} of {} sections", comp.spec(), w.hdrs.len());
        if counts.len() > 1 {
            evidence.push_str(&format!(" (dynamic: {} distinct udCompHdr values)", counts.len()));
        }
        let mut hdr_evidence = format!("all {n} messages tile exactly with udCompHdr present");
        if !absent.is_empty() {
            hdr_evidence.push_str(&format!(" (also with it {}; present is taken as its udCompHdr bytes are valid and their reserved byte is 0)", absent.join(", ")));
        }
        return Ok(Inferred { comp: Some(comp), comp_hdr: true, prb_edge: w.edge, evidence, hdr_evidence });
    }
    let [(Layout::Absent { width, param }, w)] = fits.as_slice() else {
        return Err(if fits.is_empty() {
            format!("no layout (udCompHdr present, or absent with any width 1-16) tiles all {n} messages")
        } else {
            format!("{} layouts tile all {n} messages: {}", fits.len(), absent.join("; "))
        });
    };
    let hdr_evidence = format!("all {n} messages tile exactly only with udCompHdr absent and {} bytes/PRB", 3 * width + u8::from(*param));
    let meth = if !param { Ok((CompMethod::None, "no udCompParam: 3w bytes per PRB".to_string())) } else { method_from_params(&w.params, *width) };
    let (comp, evidence) = match meth {
        Ok((m, why)) => {
            let comp = UdCompHdr::new(m, *width);
            (Some(comp), format!("{}: {hdr_evidence}; {why}", comp.spec()))
        }
        Err(why) => (None, format!("undecided: {why}")),
    };
    Ok(Inferred { comp, comp_hdr: false, prb_edge: w.edge, evidence, hdr_evidence })
}

/// BFP, block scaling or µ-law, from udCompParam statistics.
fn method_from_params(p: &[u8], width: u8) -> Result<(CompMethod, String), String> {
    let max = p.iter().copied().max().unwrap_or(0);
    let distinct = p.iter().collect::<std::collections::BTreeSet<_>>().len();
    if max <= 15 && width == 16 {
        return Err(format!("udCompParam all ≤ 15 at 16-bit IQ: BFP's exponent or µ-law's compBitWidth 0 (= 16) with compShift; candidates bfp:16 and mu-law:16"));
    }
    if max <= 15 {
        // BFP: 4 reserved bits (0) then the exponent (0-15).
        return Ok((CompMethod::Bfp, format!("udCompParam of {} PRBs all ≤ 15 ({distinct} distinct, max {max}): reserved nibble 0 and an exponent, as BFP writes it", p.len())));
    }
    // µ-law: compBitWidth (high nibble) is the IQ width, one value; block scaling's sblockScaler spreads over the byte.
    let high: std::collections::BTreeSet<u8> = p.iter().map(|b| b >> 4).collect();
    if high.len() == 1 && high.contains(&(width & 0xF)) {
        return Ok((CompMethod::MuLaw, format!("udCompParam of {} PRBs all have compBitWidth (high nibble) {width}, the IQ width, as µ-law writes it", p.len())));
    }
    if high.len() > 1 {
        return Ok((CompMethod::BlockScaling, format!("udCompParam of {} PRBs spread over the byte (max {max}, {} high-nibble values): a block scaler, not BFP's exponent or µ-law's fixed compBitWidth", p.len(), high.len())));
    }
    Err(format!(
        "udCompParam reaches {max}: not BFP; its high nibble {} is one value but not the width {width}: candidates block-scaling and mu-law",
        high.first().copied().unwrap_or(0)
    ))
}
