//! Classification of non-fronthaul frames, written against frames built
//! byte by byte here.

use super::*;

fn eth(ethertype: u16, tags: &[u16]) -> Vec<u8> {
    let mut f = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1];
    for t in tags {
        f.extend(t.to_be_bytes());
        f.extend([0x00, 0x05]);
    }
    f.extend(ethertype.to_be_bytes());
    f
}

/// IPv4 + UDP to `dport` with `payload`, checksum `csum` as given.
fn ipv4_udp(dport: u16, payload: &[u8], csum: u16, frag: u16) -> Vec<u8> {
    let mut f = eth(0x0800, &[]);
    let total = 20 + 8 + payload.len();
    f.extend([0x45, 0, (total >> 8) as u8, total as u8, 0, 0, (frag >> 8) as u8, frag as u8, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend(319u16.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend(((8 + payload.len()) as u16).to_be_bytes());
    f.extend(csum.to_be_bytes());
    f.extend(payload);
    f
}

#[test]
fn classes_by_ethertype_through_tags() {
    let c = |f: &[u8]| locate(f, Some(2152)).map(|l| l.class);
    assert_eq!(c(&eth(0x0806, &[])), Some(Class::Arp));
    assert_eq!(c(&eth(0x0806, &[0x8100])), Some(Class::Arp));
    assert_eq!(c(&eth(0x88CC, &[0x88A8, 0x8100])), Some(Class::Lldp));
    assert_eq!(c(&eth(0x9000, &[])), Some(Class::Other));
    assert_eq!(c(&[0u8; 10]), Some(Class::Other), "too short for an ethertype");
    assert_eq!(c(&eth(0xAEFE, &[])), None, "eCPRI is fronthaul");
    assert_eq!(c(&eth(0xAEFE, &[0x8100])), None);
    let mut ptp = eth(0x88F7, &[0x8100]);
    ptp.extend([0u8; 44]);
    assert_eq!(locate(&ptp, None), Some(Located { class: Class::Ptp, ptp: Some(PtpAt { offset: 18, len: 44, udp_checksum: None }) }));
}

#[test]
fn udp_ports_decide_ptp_ip_and_fronthaul() {
    let body = [0u8; 44];
    let l = locate(&ipv4_udp(319, &body, 0x1234, 0), Some(2152)).unwrap();
    assert_eq!(l, Located { class: Class::Ptp, ptp: Some(PtpAt { offset: 14 + 20 + 8, len: 44, udp_checksum: Some(14 + 20 + 6) }) });
    // IPv4 without a checksum keeps none.
    assert_eq!(locate(&ipv4_udp(320, &body, 0, 0), None).unwrap().ptp.unwrap().udp_checksum, None);
    assert_eq!(locate(&ipv4_udp(2152, &body, 0, 0), Some(2152)), None, "eCPRI over UDP is fronthaul");
    assert_eq!(locate(&ipv4_udp(22, &body, 0, 0), Some(2152)).unwrap().class, Class::Ip);
    // A fragment is IP, never PTP (its UDP header may not be there).
    assert_eq!(locate(&ipv4_udp(319, &body, 0, 0x2000), None).unwrap().class, Class::Ip);
    // Ethernet padding after the datagram is not PTP.
    let mut padded = ipv4_udp(319, &body, 0, 0);
    padded.extend([0u8; 20]);
    assert_eq!(locate(&padded, None).unwrap().ptp.unwrap().len, 44);
    // IPv6: the checksum is always kept.
    let mut v6 = eth(0x86DD, &[]);
    v6.extend([0x60, 0, 0, 0, 0, 52, 17, 64]);
    v6.extend([0u8; 32]);
    v6.extend([1, 63, 1, 63, 0, 52, 0, 0]);
    v6.extend(body);
    assert_eq!(locate(&v6, None).unwrap().ptp, Some(PtpAt { offset: 14 + 40 + 8, len: 44, udp_checksum: Some(14 + 40 + 6) }));
    // TCP over IPv6 (the M-plane's NETCONF over SSH) is IP.
    v6[14 + 6] = 6;
    assert_eq!(locate(&v6, None).unwrap().class, Class::Ip);
}

#[test]
fn policies() {
    assert!(Class::ALL.iter().all(|c| Passthrough::all().allows(*c) && !Passthrough::none().allows(*c)));
    let p = Passthrough::only(&[Class::Arp, Class::Ip]);
    assert!(p.allows(Class::Ip) && !p.allows(Class::Ptp));
    assert_eq!(p.describe(), "arp, ip");
    assert_eq!((Passthrough::all().describe(), Passthrough::none().describe()), ("all".into(), "none".into()));
    for c in Class::ALL {
        assert_eq!(Class::from_name(c.name()), Some(c));
    }
}
