//! A pcap file from raw frames, for tests that need hand-made input.

use std::path::Path;

/// Writes `frames` as a little-endian, microsecond pcap (Ethernet), frame
/// i stamped at i seconds.
pub fn write_pcap<F: AsRef<[u8]>>(path: &Path, frames: &[F]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let f = f.as_ref();
        b.extend_from_slice(&(i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}
