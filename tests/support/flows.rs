//! Frames grouped by flow, read from their bytes alone (an oracle
//! independent of the gateway's classifier), and order checks on captures.
#![allow(dead_code)] // each test file uses some of these

use std::collections::BTreeMap;

use fhgate::io::pcap::Captured;

/// A frame's flow from its bytes alone (plain Ethernet, no VLAN or one
/// tag): (message type, ecpriPcid/Rtcid, dataDirection); `None` for
/// anything that is not eCPRI.
pub fn flow(f: &[u8]) -> Option<(u8, u16, u8)> {
    let at = match u16::from_be_bytes([f[12], f[13]]) {
        0xAEFE => 14,
        0x8100 if u16::from_be_bytes([f[16], f[17]]) == 0xAEFE => 18,
        _ => return None,
    };
    Some((f[at + 1], u16::from_be_bytes([f[at + 4], f[at + 5]]), f.get(at + 8).map_or(2, |b| b >> 7)))
}

/// Frames per flow, in order.
pub fn per_flow(frames: &[Captured]) -> BTreeMap<Option<(u8, u16, u8)>, Vec<Vec<u8>>> {
    let mut m: BTreeMap<_, Vec<Vec<u8>>> = BTreeMap::new();
    for f in frames {
        m.entry(flow(&f.data)).or_default().push(f.data.clone());
    }
    m
}

/// The frames as the gateway sends them: shorter ones padded with zeros
/// to the 60-byte Ethernet minimum (the shipped captures' C-plane frames
/// are 42 bytes).
pub fn padded(frames: &[Captured]) -> Vec<Captured> {
    frames
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f.data.len() < 60 {
                f.data.resize(60, 0);
            }
            f
        })
        .collect()
}

/// Timestamps never go backwards.
pub fn assert_monotonic(frames: &[Captured], what: &str) {
    for w in frames.windows(2) {
        assert!(w[1].timestamp >= w[0].timestamp, "{what}: a timestamp goes backwards: {:?} then {:?}", w[0].timestamp, w[1].timestamp);
    }
}

/// `got` has the flows of `want`, each with the same frames, byte for
/// byte, in the same order; says which flow differs and where.
pub fn assert_same_per_flow(got: &[Captured], want: &[Captured], what: &str) {
    let (got, want) = (per_flow(got), per_flow(want));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: the same flows");
    for (k, w) in &want {
        let g = &got[k];
        let first = g.iter().zip(w).position(|(a, b)| a != b);
        assert!(first.is_none() && g.len() == w.len(), "{what}: flow {k:?}: {} frames vs {}, first difference at frame {first:?} of the flow", g.len(), w.len());
    }
}
