//! The UDP port on loopback, IPv4 and IPv6: datagrams from a std
//! `UdpSocket` come out as Ethernet/IP/UDP frames the eCPRI decoder reads
//! on the bind port, and frames sent through the port (UDP frames, or
//! eCPRI over Ethernet) reach a std `UdpSocket` as their eCPRI bytes.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ecpri::frame::{locate, DecodeConfig, FrameRepr, Payload};
use ecpri::ip::IpRepr;
use fhgate::config::UdpConfig;
use fhgate::io::port_stats::PortEvent;
use fhgate::io::udp::{self, UdpRx, UdpTx};
use fhgate::io::{RxPoll, RxPort, TxPort};
use fhgate::translate::{PacketBuf, PACKET_CAPACITY};

const LOOPBACKS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// A port bound to `host:0` whose peer is a std socket on `host`.
fn open(host: &str) -> (UdpRx, UdpTx, UdpSocket) {
    let peer = UdpSocket::bind(format!("{host}:0")).expect("peer socket");
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // Room for whole bursts at the peer too.
    let size: libc::c_int = 16 << 20;
    // SAFETY: a live c_int of the size passed, on a valid socket.
    unsafe {
        libc::setsockopt(
            peer.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            4,
        )
    };
    let c = UdpConfig {
        bind: format!("{host}:0").parse().unwrap(),
        peer: peer.local_addr().unwrap(),
    };
    let (rx, tx) = udp::open(&c, 1500).expect("open");
    assert_ne!(rx.local_addr().port(), 0, "the chosen port is known");
    (rx, tx, peer)
}

/// The eCPRI bytes of real frames: U-plane, C-plane and transport samples.
fn payloads() -> Vec<(Vec<u8>, DecodeConfig)> {
    let all = ecpri::samples::catalog().unwrap();
    let step = all.len() / 24;
    all.iter()
        .step_by(step.max(1))
        .map(|s| {
            let r = locate(&s.frame, s.decode.udp_port)
                .unwrap()
                .ecpri
                .expect("eCPRI");
            (s.frame[r].to_vec(), s.decode)
        })
        .collect()
}

/// Frames the port receives until `want` have come or 5 s have passed,
/// and how many `recv` calls returned frames.
fn collect(rx: &mut UdpRx, want: usize) -> (Vec<Vec<u8>>, usize) {
    let mut bufs: Vec<PacketBuf> = (0..64).map(|_| PacketBuf::new()).collect();
    let (mut lens, mut times) = (vec![0; 64], vec![0; 64]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut out, mut calls) = (Vec::new(), 0);
    while out.len() < want && Instant::now() < deadline {
        match rx.recv(&mut bufs, &mut lens, &mut times).expect("recv") {
            RxPoll::Frames(n) => {
                calls += 1;
                let now = fhgate::io::live::unix_ns();
                for i in 0..n {
                    assert!(
                        times[i] <= now && now - times[i] < 5_000_000_000,
                        "a Unix time in ns"
                    );
                    out.push(bufs[i].bytes()[..lens[i]].to_vec());
                }
            }
            RxPoll::Idle => std::thread::sleep(Duration::from_micros(200)),
            RxPoll::Closed => break,
        }
    }
    (out, calls)
}

fn recv_from(peer: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65536];
    let (n, from) = peer.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some((buf, from))
}

#[test]
fn datagrams_arrive_as_frames_that_decode_on_the_bind_port() {
    for host in LOOPBACKS {
        let (mut rx, _tx, peer) = open(host);
        let local = rx.local_addr();
        let want = payloads();
        for (p, _) in &want {
            peer.send_to(p, local).unwrap();
        }
        let (got, _) = collect(&mut rx, want.len());
        assert_eq!(got.len(), want.len(), "{host}");
        for (i, (f, (p, decode))) in got.iter().zip(&want).enumerate() {
            let decode = DecodeConfig {
                udp_port: Some(local.port()),
                ..*decode
            };
            let frame =
                FrameRepr::parse(f, &decode).unwrap_or_else(|e| panic!("{host} frame {i}: {e}"));
            assert!(
                matches!(frame.payload, Payload::Ecpri(ref m) if !m.is_empty()),
                "{host} frame {i} is eCPRI"
            );
            assert_eq!(
                &f[locate(f, decode.udp_port).unwrap().ecpri.unwrap()],
                &p[..],
                "{host} frame {i}: the same eCPRI bytes"
            );
            let t = frame.transport.expect("IP and UDP");
            let (src, dst): (SocketAddr, SocketAddr) = match t.ip {
                IpRepr::V4(ip) => (
                    (ip.src, t.udp.src_port).into(),
                    (ip.dst, t.udp.dst_port).into(),
                ),
                IpRepr::V6(ip) => (
                    (ip.src, t.udp.src_port).into(),
                    (ip.dst, t.udp.dst_port).into(),
                ),
            };
            assert_eq!(
                (src, dst),
                (peer.local_addr().unwrap(), local),
                "{host}: sender to bound address"
            );
            // Lengths and checksums are right: recomputing changes nothing.
            let mut again = f.clone();
            ecpri::ip::fill_checksums(&mut again[14..]).unwrap();
            assert_eq!(&again, f, "{host} frame {i} checksums");
            // And the frame goes back out as the same datagram.
            assert_eq!(udp::datagram_payload(f).map(|r| &f[r]), Some(&p[..]));
        }
        let s = rx.stats();
        assert_eq!((s.frames, s.truncated), (want.len() as u64, 0));
        assert_eq!(s.bytes, got.iter().map(|f| f.len() as u64).sum::<u64>());
    }
}

#[test]
fn udp_frames_and_ecpri_over_ethernet_frames_are_sent_as_their_ecpri_bytes() {
    for host in LOOPBACKS {
        let (mut rx, mut tx, peer) = open(host);
        let local = rx.local_addr();
        let samples = ecpri::samples::transport_samples().unwrap();
        let frame = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .frame
                .clone()
        };
        // A UDP frame as the port itself produced it.
        let (p0, _) = &payloads()[0];
        peer.send_to(p0, local).unwrap();
        let (udp_frame, _) = collect(&mut rx, 1);
        // UDP frames from elsewhere (other addresses and ports are not checked).
        let v4 = frame("udp-ipv4");
        let v6 = frame("udp-ipv6");
        // eCPRI over Ethernet: untagged, 802.1Q, QinQ, and padded to the Ethernet minimum.
        let plain = frame("one-way-delay");
        let qinq = frame("vlan-qinq");
        let ctag = frame("vlan-8021q");
        let mut padded = frame("generic-data");
        let unpadded_len = padded.len();
        padded.resize(60, 0);
        let arp = {
            let mut a = vec![0xFF; 12];
            a.extend([0x08, 0x06]);
            a.extend([0; 28]);
            a
        };
        let cases: Vec<(&[u8], Vec<u8>)> = vec![
            (&udp_frame[0], p0.clone()),
            (&v4, v4[42..].to_vec()),
            (&v6, v6[18 + 48..].to_vec()),
            (&plain, plain[14..].to_vec()),
            (&qinq, qinq[22..].to_vec()),
            (&ctag, ctag[18..].to_vec()),
            (&padded, padded[14..unpadded_len].to_vec()),
        ];
        tx.send(&arp, 0).unwrap();
        for (f, _) in &cases {
            tx.send(f, 0).unwrap();
        }
        tx.flush().unwrap();
        for (i, (_, want)) in cases.iter().enumerate() {
            let (got, from) = recv_from(&peer).unwrap_or_else(|| panic!("{host}: datagram {i}"));
            assert_eq!(&got, want, "{host}: datagram {i}");
            assert_eq!(from, local, "{host}: sent from the bound address");
        }
        let s = tx.stats();
        assert_eq!(
            (s.frames, s.not_ecpri, s.too_long, s.buffer_full, s.refused),
            (cases.len() as u64, 1, 0, 0, 0),
            "{host}"
        );
        let c = tx.counters();
        assert_eq!((c.get(PortEvent::DropNotEcpri), c.drops()), (1, 1), "{c}");
        assert_eq!(
            (c.backend(), c.interface()),
            ("udp", local.to_string().as_str())
        );
        assert_eq!(s.bytes, cases.iter().map(|c| c.1.len() as u64).sum::<u64>());
        peer.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        assert!(
            recv_from(&peer).is_none(),
            "{host}: the ARP frame was not sent"
        );
    }
}

#[test]
fn bursts_of_many_datagrams_move_in_few_calls() {
    const N: usize = 2000;
    for host in LOOPBACKS {
        let (mut rx, mut tx, peer) = open(host);
        let local = rx.local_addr();
        let (base, _) = payloads()[1].clone();
        let numbered = |k: usize| {
            let mut p = base.clone();
            let n = p.len();
            p[n - 4..].copy_from_slice(&(k as u32).to_be_bytes());
            p
        };
        // In: all sent before the port reads, then read 64 per call.
        for k in 0..N {
            peer.send_to(&numbered(k), local).unwrap();
        }
        let (got, calls) = collect(&mut rx, N);
        assert_eq!(got.len(), N, "{host}");
        for (k, f) in got.iter().enumerate() {
            assert_eq!(
                udp::datagram_payload(f).map(|r| f[r].to_vec()),
                Some(numbered(k)),
                "{host}: datagram {k} in order"
            );
        }
        assert!(
            calls <= N / 64 + 2,
            "{host}: {calls} recv calls for {N} datagrams (recvmmsg moves a burst per call)"
        );
        // Out: bursts of 200 frames, one flush each.
        let hl = udp::header_len(local.is_ipv6());
        for burst in 0..N / 200 {
            for k in burst * 200..(burst + 1) * 200 {
                let p = numbered(k);
                let mut f = vec![0u8; hl + p.len()];
                f[hl..].copy_from_slice(&p);
                let n =
                    udp::wrap_datagram(&mut f, p.len(), local, peer.local_addr().unwrap()).unwrap();
                tx.send(&f[..n], 0).unwrap();
            }
            tx.flush().unwrap();
        }
        for k in 0..N {
            let (d, _) = recv_from(&peer).unwrap_or_else(|| panic!("{host}: datagram {k} out"));
            assert_eq!(d, numbered(k), "{host}: datagram {k} out, in order");
        }
        assert_eq!(tx.stats().frames, N as u64);
    }
}

#[test]
fn datagrams_too_large_for_a_buffer_are_counted_and_dropped() {
    for host in LOOPBACKS {
        let (mut rx, _tx, peer) = open(host);
        let local = rx.local_addr();
        let room = PACKET_CAPACITY - udp::header_len(local.is_ipv6());
        let (p, _) = payloads()[0].clone();
        let fits = {
            let mut f = p.clone();
            f.resize(room, 0xA5);
            f
        };
        peer.send_to(&vec![0x10; room + 1], local).unwrap();
        peer.send_to(&vec![0x10; 60_000], local).unwrap();
        peer.send_to(&fits, local).unwrap();
        peer.send_to(&p, local).unwrap();
        let (got, _) = collect(&mut rx, 2);
        assert_eq!(got.len(), 2, "{host}");
        assert_eq!(
            got[0].len(),
            PACKET_CAPACITY,
            "{host}: the largest that fits, whole"
        );
        assert_eq!(
            udp::datagram_payload(&got[0]).map(|r| got[0][r].to_vec()),
            Some(fits)
        );
        assert_eq!(
            udp::datagram_payload(&got[1]).map(|r| got[1][r].to_vec()),
            Some(p)
        );
        let s = rx.stats();
        assert_eq!((s.frames, s.truncated), (2, 2), "{host}");
        let c = rx.counters();
        assert_eq!(
            (
                c.get(PortEvent::Frames),
                c.get(PortEvent::DropTruncated),
                c.drops()
            ),
            (2, 2, 2),
            "{c}"
        );
    }
}

#[test]
fn bad_addresses_are_clear_errors() {
    let err = |bind: &str, peer: &str| match udp::open(
        &UdpConfig {
            bind: bind.parse().unwrap(),
            peer: peer.parse().unwrap(),
        },
        1500,
    ) {
        Ok(_) => panic!("opened {bind}"),
        Err(e) => e.to_string(),
    };
    // TEST-NET-1 and documentation IPv6 addresses are on no interface here.
    let e = err("192.0.2.1:5000", "127.0.0.1:5001");
    assert!(
        e.contains("udp 192.0.2.1:5000")
            && e.contains("no interface has that address")
            && e.contains("ip addr"),
        "{e}"
    );
    let e = err("[2001:db8::1]:5000", "[::1]:5001");
    assert!(e.contains("no interface has that address"), "{e}");
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = err(&held.local_addr().unwrap().to_string(), "127.0.0.1:5001");
    assert!(e.contains("the port is in use"), "{e}");
    let e = err("127.0.0.1:0", "[::1]:5001");
    assert!(e.contains("different IP versions"), "{e}");
}
