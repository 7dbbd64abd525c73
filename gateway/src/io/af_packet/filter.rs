//! The classic BPF program that lets only eCPRI frames into the receive
//! ring, whatever VLAN tags they carry and whether or not the kernel has
//! already stripped the outer one.

use ecpri::ethernet::{ETHERTYPE_ECPRI, TPID_8021AD, TPID_8021Q};

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const AD_VLAN_PRESENT: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TAG_PRESENT) as u32;
const AD_VLAN_TPID: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TPID) as u32;

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The classic BPF program that accepts eCPRI frames only: ethertype
/// 0xAEFE untagged, behind an 802.1Q tag, or behind 802.1ad + 802.1Q.
/// The kernel may have moved the outer tag into metadata before packet
/// sockets see the frame (the usual case), so both the stripped and the
/// inline shapes are accepted. Jumps are relative: `jt`/`jf` skip that
/// many instructions.
pub const ECPRI_FILTER: [libc::sock_filter; 22] = [
    /* 0 */ bpf(BPF_LD_W_ABS, 0, 0, AD_VLAN_PRESENT),
    /* 1 */ bpf(BPF_JEQ_K, 8, 0, 0), // no stripped tag: inline shapes at 10
    /* 2 */ bpf(BPF_LD_W_ABS, 0, 0, AD_VLAN_TPID),
    /* 3 */ bpf(BPF_JEQ_K, 2, 0, TPID_8021AD as u32), // stripped S-tag: C-tag at 12, at 6
    /* 4 */ bpf(BPF_LD_H_ABS, 0, 0, 12), // stripped C-tag: eCPRI at 12
    /* 5 */ bpf(BPF_JEQ_K, 14, 15, ETHERTYPE_ECPRI as u32),
    /* 6 */ bpf(BPF_LD_H_ABS, 0, 0, 12),
    /* 7 */ bpf(BPF_JEQ_K, 0, 13, TPID_8021Q as u32),
    /* 8 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 9 */ bpf(BPF_JEQ_K, 10, 11, ETHERTYPE_ECPRI as u32),
    /* 10 */ bpf(BPF_LD_H_ABS, 0, 0, 12), // inline shapes
    /* 11 */ bpf(BPF_JEQ_K, 8, 0, ETHERTYPE_ECPRI as u32),
    /* 12 */ bpf(BPF_JEQ_K, 1, 0, TPID_8021Q as u32), // C-tag at 14
    /* 13 */ bpf(BPF_JEQ_K, 2, 7, TPID_8021AD as u32), // S-tag at 16
    /* 14 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 15 */ bpf(BPF_JEQ_K, 4, 5, ETHERTYPE_ECPRI as u32),
    /* 16 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 17 */ bpf(BPF_JEQ_K, 0, 3, TPID_8021Q as u32),
    /* 18 */ bpf(BPF_LD_H_ABS, 0, 0, 20),
    /* 19 */ bpf(BPF_JEQ_K, 0, 1, ETHERTYPE_ECPRI as u32),
    /* 20 */ bpf(BPF_RET_K, 0, 0, u32::MAX), // accept the whole frame
    /* 21 */ bpf(BPF_RET_K, 0, 0, 0), // reject
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic BPF interpreter for the few instructions the filter uses,
    /// with the VLAN ancillary data given.
    fn run(prog: &[libc::sock_filter], pkt: &[u8], vlan: Option<u16>) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS if i.k == AD_VLAN_PRESENT => a = vlan.is_some() as u32,
                BPF_LD_W_ABS if i.k == AD_VLAN_TPID => a = vlan.unwrap_or(0) as u32,
                BPF_LD_H_ABS => match pkt.get(i.k as usize..i.k as usize + 2) {
                    Some(b) => a = u16::from_be_bytes([b[0], b[1]]) as u32,
                    None => return 0,
                },
                BPF_JEQ_K => pc += if a == i.k { i.jt } else { i.jf } as usize,
                BPF_RET_K => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn frame(types: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for t in types {
            f.extend(t.to_be_bytes());
            f.extend([0x20, 0x05]);
        }
        f.truncate(f.len() - 2);
        f.extend([0x10, 0, 0, 4, 0, 0, 0, 0]);
        f
    }

    #[test]
    fn filter_accepts_ecpri_in_every_shape_and_nothing_else() {
        let accept = |pkt: &[u8], vlan| run(&ECPRI_FILTER, pkt, vlan) != 0;
        // Inline shapes.
        assert!(accept(&frame(&[0xAEFE]), None));
        assert!(accept(&frame(&[0x8100, 0xAEFE]), None));
        assert!(accept(&frame(&[0x88A8, 0x8100, 0xAEFE]), None));
        // The outer tag stripped into metadata.
        assert!(accept(&frame(&[0xAEFE]), Some(0x8100)));
        assert!(accept(&frame(&[0x8100, 0xAEFE]), Some(0x88A8)));
        // Not eCPRI.
        for (types, vlan) in [
            (&[0x0800][..], None),
            (&[0x0806][..], None),
            (&[0x86DD][..], Some(0x8100)),
            (&[0x8100, 0x0800][..], None),
            (&[0x88A8, 0x8100, 0x0806][..], None),
            (&[0x88A8, 0xAEFE][..], None),
            (&[0xAEFE][..], Some(0x88A8)),
            (&[0x8100, 0xAEFE][..], Some(0x8100)),
            (&[0x8100, 0x0800][..], Some(0x88A8)),
        ] {
            assert!(!accept(&frame(types), vlan), "{types:x?} {vlan:?}");
        }
        assert!(!accept(&[0u8; 12], None), "too short to hold a type");
        // Every jump lands inside the program.
        for (pc, i) in ECPRI_FILTER.iter().enumerate() {
            if i.code == BPF_JEQ_K {
                assert!(pc + 1 + (i.jt.max(i.jf) as usize) < ECPRI_FILTER.len(), "{pc}");
            }
        }
    }
}
