//! Any bytes as a train of frames through the PTP end-to-end transparent
//! clock (ecpri::ptp: locate, the header, tc): nothing may panic, a
//! header that parses is emitted back to the same header, and a frame
//! leaves at its length with nothing changed but correctionField and the
//! UDP checksum, the checksum still right, the correction the old one
//! plus the residence time (ns × 2^16, held at the largest value).
#![no_main]

use ecpri::ptp::locate::{locate, PtpAt};
use ecpri::ptp::tc::{Outcome, TcMode, TransparentClock};
use ecpri::ptp::{self, field};
use libfuzzer_sys::fuzz_target;

/// RFC 1071 one's complement sum of `b`, folded; 0xFFFF and 0 both mean "zero".
fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u64 = b.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u64).sum();
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    if s == 0xFFFF { 0 } else { s as u16 }
}

fuzz_target!(|data: &[u8]| {
    // Options: mode, whether eCPRI runs over UDP; then rx and tx times.
    if data.len() < 17 {
        return;
    }
    let mode = [TcMode::Off, TcMode::OneStep, TcMode::TwoStep][data[0] as usize % 3];
    let udp_port = (data[0] & 0x80 != 0).then_some(2152);
    let rx = u64::from_be_bytes(data[1..9].try_into().unwrap());
    let tx = u64::from_be_bytes(data[9..17].try_into().unwrap());
    let mut clock = TransparentClock::new(mode);
    // Frames, each behind a one-byte length (a train, so that two-step
    // follow-ups meet the event messages they follow).
    let mut rest = &data[17..];
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        one(&mut clock, frame, udp_port, rx, tx);
    }
});

fn one(clock: &mut TransparentClock, frame: &[u8], udp_port: Option<u16>, rx: u64, tx: u64) {
    let Some(loc) = locate(frame, udp_port) else { return };
    let Some(at) = loc.ptp else { return };
    let PtpAt { offset, len, udp_checksum } = at;
    assert!(offset <= frame.len(), "PTP at {offset} past a {}-byte frame", frame.len());
    let msg = &frame[offset..(offset + len).min(frame.len())];
    // Parse → emit gives the same header bytes, which parse the same.
    if let Ok(repr) = ptp::Packet::new_checked(msg).and_then(|p| ptp::Repr::parse(&p)) {
        let mut buf = vec![0u8; repr.message_length as usize];
        repr.emit(&mut ptp::Packet::new_checked(&mut buf[..]).expect("a message's length holds its header"));
        assert_eq!(&buf[..repr.buffer_len()], &msg[..field::HEADER_LEN], "emit wrote another header");
        let again = ptp::Repr::parse(&ptp::Packet::new_checked(&buf[..]).unwrap()).expect("an emitted header parses");
        assert_eq!(repr, again);
    }
    let datagram = udp_checksum.map(|c| {
        assert!(c >= 6 && c + 2 <= offset, "UDP checksum at {c}, PTP at {offset}");
        let udp_at = c - 6;
        let ulen = u16::from_be_bytes([frame[c - 2], frame[c - 1]]) as usize;
        assert!(ulen >= 8 && udp_at + ulen <= frame.len(), "UDP length {ulen} at {udp_at} in {} bytes", frame.len());
        udp_at..udp_at + ulen
    });
    let mut out = frame.to_vec();
    let outcome = clock.on_egress(&mut out, at, rx, tx);
    assert_eq!(out.len(), frame.len());
    let corr = offset + field::CORRECTION.start..offset + field::CORRECTION.end;
    for i in 0..frame.len() {
        let may = corr.contains(&i) || udp_checksum.is_some_and(|c| i == c || i == c + 1);
        assert!(may || out[i] == frame[i], "byte {i} changed ({outcome:?})");
    }
    match outcome {
        Some(Outcome::Corrected { residence_ns, .. }) => {
            let old = i64::from_be_bytes(frame[corr.clone()].try_into().unwrap()) as i128;
            let new = i64::from_be_bytes(out[corr.clone()].try_into().unwrap()) as i128;
            // IEEE 1588-2019 §13.3.2.9: ns × 2^16; too big is 0x7FFF_FFFF_FFFF_FFFF.
            let want = (old + ((residence_ns as i128) << 16)).min(i64::MAX as i128);
            assert_eq!(new, want, "correctionField {old:#x} + {residence_ns} ns");
        }
        _ => assert_eq!(out, frame, "untouched unless corrected ({outcome:?})"),
    }
    if let Some(d) = datagram {
        // The pseudo-header is unchanged, so the checksum stays right iff
        // the datagram's sum (checksum included) does.
        if frame[udp_checksum.unwrap()..udp_checksum.unwrap() + 2] != [0, 0] {
            assert_eq!(ones_sum(&out[d.clone()]), ones_sum(&frame[d]), "UDP checksum no longer right");
        }
    }
}
