//! Files built here from the format specifications, field by field, then read.

use super::*;

/// An Ethernet frame: broadcast to an eCPRI ethertype, `n` payload bytes.
fn eth(n: usize) -> Vec<u8> {
    let mut f = vec![0xFF; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0xAE, 0xFE]);
    f.extend((0..n).map(|i| i as u8));
    f
}

/// A classic pcap: `records` of (seconds, fraction, captured bytes, original length).
fn pcap(big: bool, nanos: bool, link_type: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut b = Vec::new();
    b.extend_from_slice(&w32(if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }));
    b.extend_from_slice(&w16(2));
    b.extend_from_slice(&w16(4));
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&w32(65535));
    b.extend_from_slice(&w32(link_type));
    for (s, frac, data, orig) in records {
        for v in [*s, *frac, data.len() as u32, *orig] {
            b.extend_from_slice(&w32(v));
        }
        b.extend_from_slice(data);
    }
    b
}

/// pcapng blocks, little-endian unless `big`.
struct Ng {
    big: bool,
    b: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Ng {
        let mut n = Ng { big, b: Vec::new() };
        let mut body = n.u32(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&n.u16(1));
        body.extend_from_slice(&n.u16(0));
        body.extend_from_slice(&(-1i64).to_le_bytes());
        n.block(0x0A0D_0D0A, &body);
        n
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) {
        let mut body = body.to_vec();
        body.resize(body.len().next_multiple_of(4), 0);
        let total = body.len() as u32 + 12;
        let (t, len) = (self.u32(t), self.u32(total));
        self.b.extend_from_slice(&t);
        self.b.extend_from_slice(&len);
        self.b.extend_from_slice(&body);
        self.b.extend_from_slice(&len);
    }
    fn idb(&mut self, link_type: u16, tsresol: Option<u8>) {
        let mut body = self.u16(link_type).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32(0));
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.u16(9));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0; 4]);
        }
        self.block(1, &body);
    }
    fn epb(&mut self, iface: u32, units: u64, data: &[u8], orig: u32) {
        let mut body = Vec::new();
        for v in [iface, (units >> 32) as u32, units as u32, data.len() as u32, orig] {
            body.extend_from_slice(&self.u32(v));
        }
        body.extend_from_slice(data);
        self.block(6, &body);
    }
}

#[test]
fn classic_pcap_in_both_byte_orders_and_units() {
    let f = eth(50);
    for big in [false, true] {
        for nanos in [false, true] {
            let c = parse(&pcap(big, nanos, 1, &[(10, 20, &f, f.len() as u32), (11, 0, &f[..30], 64)])).unwrap();
            assert_eq!(c.format, Format::Pcap);
            assert_eq!(c.frames.len(), 2);
            assert_eq!(c.frames[0].data, f);
            let frac_ns = if nanos { 20 } else { 20_000 };
            assert_eq!(c.frames[0].timestamp, Duration::new(10, frac_ns));
            assert!(!c.frames[0].is_cut());
            assert!(c.frames[1].is_cut() && c.frames[1].orig_len == 64 && c.frames[1].data.len() == 30);
            assert_eq!((c.cut_frames(), c.cut_short), (1, None));
        }
    }
}

#[test]
fn pcapng_enhanced_packets_with_their_interface_resolution() {
    let f = eth(40);
    for big in [false, true] {
        let mut n = Ng::new(big);
        n.idb(1, None); // microseconds
        n.idb(1, Some(9)); // nanoseconds
        n.idb(1, Some(0x80 | 10)); // 2^-10 s
        n.epb(0, 1_500_000, &f, f.len() as u32);
        n.epb(1, 2_000_000_007, &f[..20], 100);
        n.epb(2, 3 * 1024 + 512, &f, f.len() as u32);
        let c = parse(&n.b).unwrap();
        assert_eq!(c.format, Format::PcapNg);
        let ts: Vec<Duration> = c.frames.iter().map(|f| f.timestamp).collect();
        assert_eq!(ts, [Duration::from_millis(1500), Duration::new(2, 7), Duration::from_millis(3500)]);
        assert_eq!(c.frames[1].data, &f[..20]);
        assert_eq!((c.frames[1].orig_len, c.cut_frames()), (100, 1));
    }
}

#[test]
fn linux_cooked_captures_become_ethernet() {
    let payload = [0xAEu8, 0xFE, 0x10, 0x00, 0x00, 0x08];
    let src = [2, 0x11, 0x22, 0x33, 0x44, 0x55];
    // SLL: packet type 4 (outgoing), ARPHRD_ETHER, address length 6, address padded to 8, protocol.
    let mut sll = vec![0, 4, 0, 1, 0, 6];
    sll.extend_from_slice(&src);
    sll.extend_from_slice(&[0, 0, 0x81, 0x00]);
    sll.extend_from_slice(&[0x00, 0x02]); // TCI: VLAN 2
    sll.extend_from_slice(&payload);
    // SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address.
    let mut sll2 = vec![0x81, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6];
    sll2.extend_from_slice(&src);
    sll2.extend_from_slice(&[0, 0, 0x00, 0x02]);
    sll2.extend_from_slice(&payload);
    let mut want = vec![0; 6];
    want.extend_from_slice(&src);
    want.extend_from_slice(&[0x81, 0x00, 0x00, 0x02]);
    want.extend_from_slice(&payload);
    for (lt, frame) in [(113u16, &sll), (276, &sll2)] {
        let orig = frame.len() as u32 + 100;
        let c = parse(&pcap(false, false, lt as u32, &[(0, 0, frame, orig)])).unwrap();
        assert_eq!(c.frames[0].data, want, "link type {lt}");
        assert_eq!(c.frames[0].orig_len, want.len() as u32 + 100, "link type {lt}");
        let mut n = Ng::new(false);
        n.idb(lt, None);
        n.epb(0, 0, frame, frame.len() as u32);
        assert_eq!(parse(&n.b).unwrap().frames[0].data, want, "pcapng, link type {lt}");
    }
}

#[test]
fn other_link_types_are_refused_by_name_per_interface() {
    let e = parse(&pcap(false, false, 101, &[])).unwrap_err();
    assert_eq!(e, CaptureError::LinkType { interface: None, link_type: 101 });
    assert!(e.to_string().contains("link type 101 (RAW)"), "{e}");
    let mut n = Ng::new(false);
    n.idb(1, None);
    n.idb(127, None);
    n.epb(0, 0, &eth(10), 24);
    assert!(parse(&n.b).is_ok(), "an unused interface of another type is no obstacle");
    n.epb(1, 0, &[0; 24], 24);
    let e = parse(&n.b).unwrap_err();
    assert!(e.to_string().contains("interface 1 has link type 127 (IEEE802_11_RADIOTAP)"), "{e}");
}

#[test]
fn a_file_cut_mid_record_keeps_the_frames_before_the_cut() {
    let f = eth(60);
    let whole = pcap(false, false, 1, &[(0, 0, &f, 74), (1, 0, &f, 74), (2, 0, &f, 74)]);
    let second = 24 + 16 + f.len();
    let third = second + 16 + f.len();
    for (cut, what, frames) in [(third + 5, "record header", 2), (third + 16 + 10, "record", 2), (second + 3, "record header", 1)] {
        let c = parse(&whole[..cut]).unwrap();
        assert_eq!(c.frames.len(), frames, "cut at {cut}");
        let s = c.cut_short.unwrap();
        assert_eq!((s.offset as usize, s.what), (if frames == 2 { third } else { second }, what));
        assert_eq!(s.available as usize, cut - s.offset as usize);
    }
    let mut n = Ng::new(false);
    n.idb(1, None);
    n.epb(0, 0, &f, 74);
    let keep = n.b.len();
    n.epb(0, 0, &f, 74);
    let c = parse(&n.b[..n.b.len() - 7]).unwrap();
    assert_eq!(c.frames.len(), 1);
    assert_eq!(c.cut_short.unwrap().offset as usize, keep);
    assert!(c.cut_short.unwrap().to_string().contains(&format!("byte offset {keep}")));
}

#[test]
fn corrupt_headers_name_the_field_and_offset() {
    let f = eth(20);
    let mut b = pcap(false, false, 1, &[(0, 0, &f, 34)]);
    b[24 + 12..24 + 16].copy_from_slice(&10u32.to_le_bytes());
    let e = parse(&b).unwrap_err();
    assert_eq!(e, CaptureError::Field { offset: 36, field: "orig_len", why: "10 is less than incl_len 34".into() });
    let mut b = pcap(false, false, 1, &[(0, 0, &f, 34)]);
    b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(parse(&b), Err(CaptureError::Field { offset: 32, field: "incl_len", .. })));
    let mut n = Ng::new(false);
    n.idb(1, None);
    n.epb(3, 0, &f, 34);
    assert!(parse(&n.b).unwrap_err().to_string().contains("interface 3 is not described"));
    let mut n = Ng::new(false);
    let at = n.b.len();
    n.idb(1, None);
    n.b[at + 4] = 13;
    assert!(matches!(parse(&n.b), Err(CaptureError::Field { field: "block_total_length", .. })));
    assert_eq!(parse(b"\x0a\x0d"), Err(CaptureError::TooShort { len: 2 }));
    assert_eq!(parse(b"GIF89a"), Err(CaptureError::UnknownMagic { magic: *b"GIF8" }));
    assert!(matches!(parse(&pcap(false, false, 1, &[])[..20]), Err(CaptureError::Field { field: "file header", .. })));
}
