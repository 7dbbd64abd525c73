//! `fanout = "eaxc"`: a classic BPF program for PACKET_FANOUT_CBPF that
//! sends every frame of one eAxC to one socket of the group, the socket
//! `ecpriPcid mod N`, as [`crate::io::steer::eaxc_of`] steers a DU's TX
//! queues. The kernel's own modes cannot: PACKET_FANOUT_HASH hashes IP
//! and UDP fields, which eCPRI over Ethernet lacks, so every flow lands
//! on one socket; `queue` needs a NIC that spreads eCPRI already.
//!
//! The program reads the frame from its link-layer header (`SKF_LL_OFF`:
//! the fanout runs after the Ethernet header was pulled), past up to two
//! VLAN tags still in the frame (the kernel strips one into metadata on
//! receive, so the program sees at most the inner one, but it does not
//! rely on that). It returns the ecpriPcid (of message types 0-3, which
//! carry an eAxC there), which the kernel takes modulo the group's size;
//! a frame that is not eCPRI, another message type (a delay measurement's
//! request and follow-up must stay together), or too short to say returns
//! 0 (the first socket), as a read past the end does in cBPF.

/// `BPF_LD | BPF_H | BPF_ABS`: load the big-endian half word at k.
const LDH_ABS: u16 = 0x28;
/// `BPF_LD | BPF_B | BPF_ABS`: load the byte at k.
const LDB_ABS: u16 = 0x30;
/// `BPF_JMP | BPF_JGT | BPF_K`: if A > k jump jt else jf.
const JGT_K: u16 = 0x25;
/// `BPF_JMP | BPF_JEQ | BPF_K`: if A == k jump jt else jf.
const JEQ_K: u16 = 0x15;
/// `BPF_RET | BPF_A`: return A.
const RET_A: u16 = 0x16;
/// `BPF_RET | BPF_K`: return k.
const RET_K: u16 = 0x06;

/// A socket filter that takes no frame (`ret #0`): a fanout member holds
/// it until its group has formed.
pub(super) const TAKE_NOTHING: [libc::sock_filter; 1] = [libc::sock_filter { code: RET_K, jt: 0, jf: 0, k: 0 }];

/// Offset k of byte `at` of the link-layer header.
fn ll(at: u32) -> u32 {
    (libc::SKF_LL_OFF as u32).wrapping_add(at)
}

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The program (23 instructions). Jumps count instructions after the
/// next one; the labels say where each lands.
pub(super) fn eaxc_program() -> Vec<libc::sock_filter> {
    const TPID_8021Q: u32 = 0x8100;
    const TPID_8021AD: u32 = 0x88A8;
    const ECPRI: u32 = 0xAEFE;
    // Message types 0-3 (IQ data, bit sequence, real-time control, generic
    // data) carry PC_ID or RTC_ID, the eAxC, in bytes 4-5; the others
    // (delay measurement, ...) carry something else there.
    const LAST_WITH_EAXC: u32 = 3;
    vec![
        /* 0 */ op(LDH_ABS, 0, 0, ll(12)),
        /* 1 */ op(JEQ_K, 2, 0, TPID_8021Q), // -> 4
        /* 2 */ op(JEQ_K, 1, 0, TPID_8021AD), // -> 4
        /* 3 */ op(JEQ_K, 6, 18, ECPRI), // -> 10 | 22
        /* 4 */ op(LDH_ABS, 0, 0, ll(16)),
        /* 5 */ op(JEQ_K, 2, 0, TPID_8021Q), // -> 8
        /* 6 */ op(JEQ_K, 1, 0, TPID_8021AD), // -> 8
        /* 7 */ op(JEQ_K, 6, 14, ECPRI), // -> 14 | 22
        /* 8 */ op(LDH_ABS, 0, 0, ll(20)),
        /* 9 */ op(JEQ_K, 8, 12, ECPRI), // -> 18 | 22
        // ecpriMessage 1 byte past the EtherType, ecpriPcid 4 bytes into the header.
        /* 10 */ op(LDB_ABS, 0, 0, ll(15)),
        /* 11 */ op(JGT_K, 10, 0, LAST_WITH_EAXC), // -> 22
        /* 12 */ op(LDH_ABS, 0, 0, ll(18)),
        /* 13 */ op(RET_A, 0, 0, 0),
        /* 14 */ op(LDB_ABS, 0, 0, ll(19)),
        /* 15 */ op(JGT_K, 6, 0, LAST_WITH_EAXC), // -> 22
        /* 16 */ op(LDH_ABS, 0, 0, ll(22)),
        /* 17 */ op(RET_A, 0, 0, 0),
        /* 18 */ op(LDB_ABS, 0, 0, ll(23)),
        /* 19 */ op(JGT_K, 2, 0, LAST_WITH_EAXC), // -> 22
        /* 20 */ op(LDH_ABS, 0, 0, ll(26)),
        /* 21 */ op(RET_A, 0, 0, 0),
        /* 22 */ op(RET_K, 0, 0, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::steer::eaxc_of;

    /// A cBPF interpreter for the four opcodes the program uses, with the
    /// kernel's rule that a load past the end returns 0 from the program.
    fn run(prog: &[libc::sock_filter], frame: &[u8]) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LDH_ABS => {
                    let at = i.k.wrapping_sub(libc::SKF_LL_OFF as u32) as usize;
                    let Some(b) = frame.get(at..at + 2) else { return 0 };
                    a = u32::from(u16::from_be_bytes([b[0], b[1]]));
                }
                LDB_ABS => {
                    let at = i.k.wrapping_sub(libc::SKF_LL_OFF as u32) as usize;
                    let Some(b) = frame.get(at) else { return 0 };
                    a = u32::from(*b);
                }
                JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                JGT_K => pc += usize::from(if a > i.k { i.jt } else { i.jf }),
                RET_A => return a,
                RET_K => return i.k,
                c => panic!("opcode {c:#x} at {}", pc - 1),
            }
        }
    }

    #[test]
    fn the_socket_is_the_eaxc_the_tx_steering_reads() {
        let prog = eaxc_program();
        let ecpri_of = |kind: u8, eaxc: u16| {
            let mut f = vec![0x10, kind, 0x00, 0x10];
            f.extend_from_slice(&eaxc.to_be_bytes());
            f.extend_from_slice(&[0u8; 20]);
            f
        };
        let ecpri = |eaxc: u16| ecpri_of(0, eaxc);
        let mut cases = Vec::new();
        for eaxc in [0u16, 1, 3, 0x1002, 0xffff] {
            for tags in [&[][..], &[0x8100u16][..], &[0x88A8, 0x8100][..], &[0x8100, 0x8100][..]] {
                let mut f = vec![0xAAu8; 12];
                for t in tags {
                    f.extend_from_slice(&t.to_be_bytes());
                    f.extend_from_slice(&[0x00, 0x07]);
                }
                f.extend_from_slice(&0xAEFEu16.to_be_bytes());
                f.extend_from_slice(&ecpri(eaxc));
                cases.push(f);
            }
        }
        // Message types 1-3 carry the eAxC too; 4 and up (5: delay
        // measurement, bytes 4-5 its ID and action) go to socket 0.
        for kind in [1u8, 2, 3, 4, 5, 6, 0xff] {
            cases.push([vec![0u8; 12], vec![0xAE, 0xFE], ecpri_of(kind, 0x1003)].concat());
        }
        // Not eCPRI, three tags, and frames cut short: socket 0.
        cases.push([vec![0u8; 12], vec![0x88, 0xF7], vec![0u8; 40]].concat());
        cases.push([vec![0u8; 12], [0x81, 0x00, 0, 1].repeat(3), vec![0xAE, 0xFE], ecpri(5)].concat());
        cases.push(vec![0u8; 13]);
        let mut cut = cases[0].clone();
        cut.truncate(19);
        cases.push(cut);
        for f in &cases {
            assert_eq!(run(&prog, f), u32::from(eaxc_of(f).unwrap_or(0)), "frame {f:02x?}");
        }
        assert!(cases.iter().filter(|f| eaxc_of(f).is_some()).count() >= 20);
    }
}
