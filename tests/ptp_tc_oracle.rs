//! The transparent clock's correctionField and UDP checksum against two
//! oracles: a reference written here from IEEE 1588-2019 §13.3.2.9
//! (correctionField = ns × 2^16, big-endian signed) and RFC 768/8200 (the
//! UDP checksum over the pseudo-header, computed in full), and tshark,
//! which decodes the corrected frames on its own.

#[path = "support/write_pcap.rs"]
mod write_pcap;

use std::process::Command;

use fhgate::bridge::ptp::MessageType;
use fhgate::bridge::tc::{Outcome, TcMode, TransparentClock};
use fhgate::bridge::{locate, Class};

// ---------------------------------------------------------------- frames, from the spec

/// A PTP message of `len` bytes: type, twoStepFlag, correction (ns × 2^16), sequenceId.
fn ptp(t: u8, two_step: bool, correction: i64, seq: u16, len: usize) -> Vec<u8> {
    let mut m = vec![0u8; len];
    m[0] = t;
    m[1] = 2;
    m[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    m[6] = if two_step { 0x02 } else { 0 };
    m[8..16].copy_from_slice(&correction.to_be_bytes());
    m[20..30].copy_from_slice(&[0x02, 0x11, 0x22, 0xFF, 0xFE, 0x33, 0x44, 0x55, 0, 1]);
    m[30..32].copy_from_slice(&seq.to_be_bytes());
    m
}

fn l2(msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0x01, 0x80, 0xC2, 0, 0, 0x0E, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    f.extend(msg);
    f
}

/// Ones' complement sum of 16-bit words (odd tail padded with zero).
fn sum16(b: &[u8]) -> u32 {
    b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum()
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// The UDP checksum of a datagram (checksum field zeroed) with its pseudo-header.
fn udp_checksum(pseudo: &[u8], udp: &[u8]) -> u16 {
    let mut d = udp.to_vec();
    d[6..8].fill(0);
    match !fold(sum16(pseudo) + sum16(&d)) {
        0 => 0xFFFF,
        v => v,
    }
}

fn ipv4_udp(msg: &[u8], with_checksum: bool) -> Vec<u8> {
    let mut f = vec![0x01, 0x00, 0x5E, 0, 1, 0x81, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 28 + msg.len();
    let (src, dst) = ([10, 77, 0, 1], [224, 0, 1, 129]);
    let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 1, 17, 0, 0];
    ip.extend(src);
    ip.extend(dst);
    let c = !fold(sum16(&ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut udp = vec![1, 63, 1, 63];
    udp.extend(((8 + msg.len()) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(msg);
    if with_checksum {
        let mut pseudo = [src, dst].concat();
        pseudo.extend([0, 17]);
        pseudo.extend(((8 + msg.len()) as u16).to_be_bytes());
        let c = udp_checksum(&pseudo, &udp);
        udp[6..8].copy_from_slice(&c.to_be_bytes());
    }
    f.extend(ip);
    f.extend(udp);
    f
}

fn ipv6_udp(msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 1, 0x81, 0x02, 0, 0, 0, 0, 1, 0x86, 0xDD];
    let plen = 8 + msg.len();
    let src = [0xFDu8, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0xFFu8, 0x0E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x81];
    f.extend([0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, 17, 1]);
    f.extend(src);
    f.extend(dst);
    let mut udp = vec![1, 63, 1, 63];
    udp.extend((plen as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(msg);
    let mut pseudo = [src, dst].concat();
    pseudo.extend((plen as u32).to_be_bytes());
    pseudo.extend([0, 0, 0, 17]);
    let c = udp_checksum(&pseudo, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend(udp);
    f
}

/// Runs `frame` through a transparent clock as received at `rx` and sent at `tx`.
fn through(tc: &mut TransparentClock, frame: &mut [u8], rx: u64, tx: u64) -> Option<Outcome> {
    let l = locate(frame, Some(2152)).expect("not fronthaul");
    assert_eq!(l.class, Class::Ptp);
    tc.on_egress(frame, l.ptp.unwrap(), rx, tx)
}

/// correctionField as the spec lays it out, at the PTP header `at`.
fn correction_at(frame: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(frame[at + 8..at + 16].try_into().unwrap())
}

// ---------------------------------------------------------------- tshark

/// `fields` of every frame, as tshark decodes `frames`.
fn tshark(frames: &[Vec<u8>], fields: &[&str]) -> Vec<Vec<String>> {
    // One file per call: the tests run on threads of one process.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fhgate-ptp-oracle-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tc.pcap");
    write_pcap::write_pcap(&path, frames);
    let mut args = vec!["-r".to_string(), path.display().to_string(), "-o".into(), "udp.check_checksum:TRUE".into(), "-T".into(), "fields".into()];
    for f in fields {
        args.extend(["-e".to_string(), f.to_string()]);
    }
    let out = Command::new("tshark").args(&args).output().unwrap_or_else(|e| panic!("tshark is the oracle here and must be installed (scripts/setup): {e}"));
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

// ---------------------------------------------------------------- tests

#[test]
fn one_step_corrects_every_event_message_and_keeps_checksums() {
    let mut tc = TransparentClock::new(TcMode::OneStep);
    // (frame, PTP offset, correction before in ns × 2^16, residence ns)
    let cases: Vec<(Vec<u8>, usize, i64, u64)> = vec![
        (l2(&ptp(0x0, true, 0x18000, 1, 44)), 14, 0x18000, 2_500),          // Sync, two-step sender: 1.5 ns before
        (l2(&ptp(0x1, false, 0, 2, 44)), 14, 0, 7_001),                     // Delay_Req
        (l2(&ptp(0x2, false, -(3 << 16), 3, 54)), 14, -(3 << 16), 123_456), // Pdelay_Req, negative before
        (l2(&ptp(0x3, true, 0, 4, 54)), 14, 0, 1),                          // Pdelay_Resp
        (ipv4_udp(&ptp(0x0, false, 0, 5, 44), true), 42, 0, 987_654),       // Sync over UDP/IPv4 with a checksum
        (ipv4_udp(&ptp(0x1, false, 0, 6, 44), false), 42, 0, 40_000),       // Delay_Req, IPv4 without one
        (ipv6_udp(&ptp(0x1, false, 0x7FFF, 7, 44)), 62, 0x7FFF, 3_000_000), // Delay_Req over IPv6 (sub-ns before)
    ];
    let mut out = Vec::new();
    for (i, (f, at, before, res)) in cases.iter().enumerate() {
        let mut f = f.clone();
        let rx = 1_700_000_000_000_000_000 + i as u64 * 1000;
        let o = through(&mut tc, &mut f, rx, rx + res).unwrap();
        assert!(matches!(o, Outcome::Corrected { residence_ns, .. } if residence_ns == *res), "case {i}: {o:?}");
        // The reference: the field grows by residence × 2^16, nothing else changes but the checksum.
        assert_eq!(correction_at(&f, *at), before + ((*res as i64) << 16), "case {i}");
        let orig = &cases[i].0;
        for (k, (a, b)) in orig.iter().zip(&f).enumerate() {
            let in_corr = (at + 8..at + 16).contains(&k);
            let in_csum = k == at - 2 || k == at - 1;
            assert!(a == b || in_corr || in_csum, "case {i}: byte {k} changed");
        }
        out.push(f);
    }
    // The UDP checksums, recomputed in full by the reference.
    let v4 = &out[4];
    let mut pseudo = v4[26..34].to_vec();
    pseudo.extend([0, 17, 0, 52]);
    assert_eq!(u16::from_be_bytes([v4[40], v4[41]]), udp_checksum(&pseudo, &v4[34..]), "IPv4 checksum fixed");
    assert_eq!(&out[5][40..42], &[0, 0], "an IPv4 datagram without a checksum stays without");
    let v6 = &out[6];
    let mut pseudo = v6[22..54].to_vec();
    pseudo.extend([0, 0, 0, 52, 0, 0, 0, 17]);
    assert_eq!(u16::from_be_bytes([v6[60], v6[61]]), udp_checksum(&pseudo, &v6[54..]), "IPv6 checksum fixed");

    // tshark: correction in ns, and UDP checksums good (status 1) where present.
    let rows = tshark(&out, &["ptp.v2.messagetype", "ptp.v2.correction.ns", "ptp.v2.correction.subns", "udp.checksum.status"]);
    assert_eq!(rows.len(), cases.len());
    for (i, ((_, _, before, res), row)) in cases.iter().zip(&rows).enumerate() {
        let total = before + ((*res as i64) << 16);
        // tshark shows the integer ns and the fraction apart.
        assert_eq!(row[1].parse::<i64>().unwrap(), total >> 16, "case {i}: tshark's correction.ns, row {row:?}");
        let subns: f64 = row[2].parse().unwrap();
        assert!((subns - (total & 0xFFFF) as f64 / 65536.0).abs() < 1e-6, "case {i}: subns {row:?}");
    }
    assert_eq!(rows[4][3], "1", "tshark: IPv4 checksum good");
    assert_eq!(rows[6][3], "1", "tshark: IPv6 checksum good");
}

#[test]
fn two_step_moves_the_residence_time_into_the_follow_up() {
    let mut tc = TransparentClock::new(TcMode::TwoStep);
    let sync = l2(&ptp(0x0, true, 0, 42, 44));
    let mut s = sync.clone();
    assert_eq!(through(&mut tc, &mut s, 1_000, 6_000), Some(Outcome::Held { message: MessageType::Sync, residence_ns: 5_000 }));
    assert_eq!(s, sync, "a two-step Sync passes unchanged");
    // Another sequence's Follow_Up is not this Sync's.
    let other = l2(&ptp(0x8, false, 0, 41, 44));
    let mut o = other.clone();
    assert_eq!(through(&mut tc, &mut o, 7_000, 7_100), Some(Outcome::Untouched(MessageType::FollowUp)));
    assert_eq!(o, other);
    let mut fu = l2(&ptp(0x8, false, 0x10000, 42, 44));
    assert_eq!(through(&mut tc, &mut fu, 8_000, 8_100), Some(Outcome::Corrected { message: MessageType::FollowUp, residence_ns: 5_000 }));
    assert_eq!(correction_at(&fu, 14), 0x10000 + (5_000 << 16), "the Sync's residence time, not the Follow_Up's own");
    // Used once: a repeated Follow_Up is left alone.
    let mut again = l2(&ptp(0x8, false, 0, 42, 44));
    assert_eq!(through(&mut tc, &mut again, 9_000, 9_100), Some(Outcome::Untouched(MessageType::FollowUp)));
    // Delay_Req is corrected in place, and a one-step Sync too.
    let mut dr = l2(&ptp(0x1, false, 0, 1, 44));
    assert!(matches!(through(&mut tc, &mut dr, 0, 300), Some(Outcome::Corrected { message: MessageType::DelayReq, .. })));
    assert_eq!(correction_at(&dr, 14), 300 << 16);
    let mut one = l2(&ptp(0x0, false, 0, 43, 44));
    assert!(matches!(through(&mut tc, &mut one, 0, 200), Some(Outcome::Corrected { message: MessageType::Sync, .. })));
    // Pdelay_Resp → Pdelay_Resp_Follow_Up.
    let mut pr = l2(&ptp(0x3, true, 0, 9, 54));
    assert!(matches!(through(&mut tc, &mut pr, 0, 700), Some(Outcome::Held { .. })));
    let mut prf = l2(&ptp(0xA, false, 0, 9, 54));
    assert!(matches!(through(&mut tc, &mut prf, 0, 50), Some(Outcome::Corrected { residence_ns: 700, .. })));
    let rows = tshark(&[fu, prf], &["ptp.v2.correction.ns"]);
    assert_eq!((rows[0][0].as_str(), rows[1][0].as_str()), ("5001", "700"), "tshark agrees");
}

#[test]
fn malformed_ptp_is_forwarded_untouched() {
    let mut tc = TransparentClock::new(TcMode::OneStep);
    let mut bad_version = ptp(0x0, false, 0, 1, 44);
    bad_version[1] = 1;
    let mut reserved_type = ptp(0x5, false, 0, 1, 44);
    reserved_type[0] = 0x5;
    let mut short_len = ptp(0x2, false, 0, 1, 54);
    short_len[2..4].copy_from_slice(&44u16.to_be_bytes()); // a Pdelay_Req needs 54
    let mut long_len = ptp(0x0, false, 0, 1, 44);
    long_len[2..4].copy_from_slice(&300u16.to_be_bytes());
    for (i, (m, kind)) in [(bad_version, "version"), (reserved_type, "message_type"), (short_len, "length"), (long_len, "length"), (vec![0u8; 20], "truncated")].into_iter().enumerate() {
        for frame in [l2(&m), ipv4_udp(&m, true)] {
            let mut f = frame.clone();
            match through(&mut tc, &mut f, 0, 1_000_000) {
                Some(Outcome::Malformed(e)) => assert_eq!(e.kind(), kind, "case {i}: {e}"),
                o => panic!("case {i}: {o:?}"),
            }
            assert_eq!(f, frame, "case {i}: byte for byte as it came");
        }
    }
    // Off: nothing is looked at.
    let mut off = TransparentClock::new(TcMode::Off);
    let mut f = l2(&ptp(0, false, 0, 1, 44));
    assert_eq!(through(&mut off, &mut f, 0, 1000), None);
}
