//! The XDP program that steers eCPRI frames to our socket, hand-assembled
//! so that no clang or BPF toolchain is needed to build fhgate, and the
//! raw `bpf()` calls that load it and attach it with a BPF link.
//!
//! The program redirects a frame to the XSKMAP entry of the queue it
//! arrived on when its ethertype is 0xAEFE, untagged, behind one 802.1Q
//! tag, or behind an 802.1ad tag and an 802.1Q tag. Every other frame
//! (PTP, ARP, IP, ...) gets `XDP_PASS` and goes to the kernel, and so does
//! an eCPRI frame when no socket is in the map (the redirect's flags).
//! Only the first buffer of a multi-buffer frame is read, so the headers
//! must lie in it; every driver puts at least 22 bytes there.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class, size or source, operation.
    pub code: u8,
    /// Destination register in the low nibble, source in the high (little-endian layout).
    pub regs: u8,
    /// Jump or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

/// Opcodes used here (class | mode/source | size/operation).
mod op {
    /// BPF_LDX | BPF_MEM | BPF_W: `dst = *(u32 *)(src + off)`.
    pub const LDX_W: u8 = 0x61;
    /// BPF_LDX | BPF_MEM | BPF_H: `dst = *(u16 *)(src + off)`.
    pub const LDX_H: u8 = 0x69;
    /// BPF_ALU64 | BPF_MOV | BPF_X: `dst = src`.
    pub const MOV64_X: u8 = 0xbf;
    /// BPF_ALU64 | BPF_MOV | BPF_K: `dst = imm`.
    pub const MOV64_K: u8 = 0xb7;
    /// BPF_ALU64 | BPF_ADD | BPF_K: `dst += imm`.
    pub const ADD64_K: u8 = 0x07;
    /// BPF_JMP | BPF_JGT | BPF_X: `if dst > src goto +off`.
    pub const JGT_X: u8 = 0x2d;
    /// BPF_JMP | BPF_JEQ | BPF_K: `if dst == imm goto +off`.
    pub const JEQ_K: u8 = 0x15;
    /// BPF_JMP | BPF_JNE | BPF_K: `if dst != imm goto +off`.
    pub const JNE_K: u8 = 0x55;
    /// BPF_JMP | BPF_JA: `goto +off`.
    pub const JA: u8 = 0x05;
    /// BPF_LD | BPF_IMM | BPF_DW: a 64-bit immediate over two slots.
    pub const LD_DW_IMM: u8 = 0x18;
    /// BPF_JMP | BPF_CALL: call helper `imm`.
    pub const CALL: u8 = 0x85;
    /// BPF_JMP | BPF_EXIT: return r0.
    pub const EXIT: u8 = 0x95;
}

/// `src_reg` of an `LD_DW_IMM` whose immediate is a map fd (BPF_PSEUDO_MAP_FD).
const PSEUDO_MAP_FD: u8 = 1;
/// Helper `bpf_redirect_map(map, key, flags)`.
const FUNC_REDIRECT_MAP: i32 = 51;
/// The `XDP_PASS` verdict.
pub const XDP_PASS: i32 = 2;

/// Offsets in `struct xdp_md`, the program's context.
mod xdp_md {
    pub const DATA: i16 = 0;
    pub const DATA_END: i16 = 4;
    pub const RX_QUEUE_INDEX: i16 = 16;
}

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// Ethertypes as a 16-bit load from the packet sees them (network order in memory).
const fn wire16(v: u16) -> i32 {
    u16::from_ne_bytes(v.to_be_bytes()) as i32
}
const ECPRI: i32 = wire16(0xAEFE);
const DOT1Q: i32 = wire16(0x8100);
const DOT1AD: i32 = wire16(0x88A8);

fn regs(dst: u8, src: u8) -> u8 {
    if cfg!(target_endian = "little") {
        dst | src << 4
    } else {
        dst << 4 | src
    }
}

/// A tiny assembler: instructions plus named jump targets resolved at the end.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    labels: Vec<(&'static str, usize)>,
    jumps: Vec<(usize, &'static str)>,
}

impl Asm {
    fn emit(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(Insn { code, regs: regs(dst, src), off, imm });
    }
    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, to: &'static str) {
        self.jumps.push((self.insns.len(), to));
        self.emit(code, dst, src, 0, imm);
    }
    fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.insns.len()));
    }
    /// `if data + len > data_end goto pass` (r2 = data, r3 = data_end, r4 scratch).
    fn need(&mut self, len: i32) {
        self.emit(op::MOV64_X, R4, R2, 0, 0);
        self.emit(op::ADD64_K, R4, 0, 0, len);
        self.jump(op::JGT_X, R4, R3, 0, "pass");
    }
    /// Resolves the jumps: an offset counts from the next instruction.
    fn finish(mut self) -> io::Result<Vec<Insn>> {
        for &(at, to) in &self.jumps {
            let target = self.labels.iter().find(|l| l.0 == to).map(|l| l.1);
            let off = target.and_then(|t| i16::try_from(t as isize - at as isize - 1).ok());
            match off {
                Some(off) => self.insns[at].off = off,
                None => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("XDP program: bad jump to `{to}`"))),
            }
        }
        Ok(self.insns)
    }
}

/// The eCPRI steering program, redirecting to `xsks_map` (an XSKMAP fd).
pub fn ecpri_redirect(xsks_map: RawFd) -> io::Result<Vec<Insn>> {
    let mut a = Asm::default();
    // r1 = ctx, kept until the redirect; r2 = data, r3 = data_end.
    a.emit(op::LDX_W, R2, R1, xdp_md::DATA, 0);
    a.emit(op::LDX_W, R3, R1, xdp_md::DATA_END, 0);
    // Untagged: the ethertype at 12.
    a.need(14);
    a.emit(op::LDX_H, R5, R2, 12, 0);
    a.jump(op::JEQ_K, R5, 0, ECPRI, "redirect");
    a.jump(op::JEQ_K, R5, 0, DOT1AD, "qinq");
    a.jump(op::JNE_K, R5, 0, DOT1Q, "pass");
    // One 802.1Q tag: the ethertype at 16.
    a.need(18);
    a.emit(op::LDX_H, R5, R2, 16, 0);
    a.jump(op::JEQ_K, R5, 0, ECPRI, "redirect");
    a.jump(op::JA, 0, 0, 0, "pass");
    // 802.1ad then 802.1Q: the inner TPID at 16, the ethertype at 20.
    a.label("qinq");
    a.need(22);
    a.emit(op::LDX_H, R5, R2, 16, 0);
    a.jump(op::JNE_K, R5, 0, DOT1Q, "pass");
    a.emit(op::LDX_H, R5, R2, 20, 0);
    a.jump(op::JNE_K, R5, 0, ECPRI, "pass");
    // return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS)
    a.label("redirect");
    a.emit(op::LDX_W, R2, R1, xdp_md::RX_QUEUE_INDEX, 0);
    a.emit(op::LD_DW_IMM, R1, PSEUDO_MAP_FD, 0, xsks_map);
    a.emit(0, 0, 0, 0, 0);
    a.emit(op::MOV64_K, R3, 0, 0, XDP_PASS);
    a.emit(op::CALL, 0, 0, 0, FUNC_REDIRECT_MAP);
    a.emit(op::EXIT, 0, 0, 0, 0);
    a.label("pass");
    a.emit(op::MOV64_K, R0, 0, 0, XDP_PASS);
    a.emit(op::EXIT, 0, 0, 0, 0);
    a.finish()
}

// bpf(2) commands, map and program types, attach types and flags (uapi/linux/bpf.h, if_link.h).
const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_PROG_LOAD: u32 = 5;
const BPF_LINK_CREATE: u32 = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
/// Attach in generic (SKB) mode.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// Attach in driver (native) mode.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// The leading fields of `union bpf_attr` for BPF_MAP_CREATE.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `union bpf_attr` for BPF_MAP_*_ELEM.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The leading fields of `union bpf_attr` for BPF_LINK_CREATE.
#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

fn name16(s: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    let len = s.len().min(15);
    n[..len].copy_from_slice(&s.as_bytes()[..len]);
    n
}

/// bpf(cmd, attr, sizeof attr); an fd-returning command's result is owned.
fn sys_bpf<A>(cmd: u32, attr: &mut A) -> io::Result<i64> {
    // SAFETY: `attr` is a live, exclusively borrowed `repr(C)` prefix of
    // `union bpf_attr` and we pass its exact size; the kernel copies it in
    // (zero-extending) and reads only memory its pointer fields name,
    // which the callers keep alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd as libc::c_long, attr as *mut A, std::mem::size_of::<A>() as libc::c_long) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("bpf() returned an fd out of range"))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates an XSKMAP with `entries` slots (queue index → AF_XDP socket).
pub fn create_xsk_map(entries: u32) -> io::Result<OwnedFd> {
    let mut a = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: entries,
        map_name: name16("fhgate_xsks"),
        ..Default::default()
    };
    owned(sys_bpf(BPF_MAP_CREATE, &mut a)?)
}

/// Puts socket `xsk` at `queue` in the XSKMAP `map`.
pub fn set_xsk(map: BorrowedFd<'_>, queue: u32, xsk: BorrowedFd<'_>) -> io::Result<()> {
    let key = queue;
    let value = xsk.as_raw_fd() as u32;
    let mut a = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: &key as *const u32 as u64,
        value: &value as *const u32 as u64,
        ..Default::default()
    };
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
}

/// Why the program did not load: the system error and the verifier's log.
#[derive(Debug)]
pub struct LoadError {
    /// The error of the failing load.
    pub error: io::Error,
    /// The verifier log of a second, logged attempt (may be empty).
    pub log: String,
}

/// Loads `insns` as a frags-aware XDP program (licence "Dual MIT/GPL").
pub fn load_xdp(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    let license = c"Dual MIT/GPL";
    let attempt = |log: Option<&mut [u8]>| {
        let mut a = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_XDP,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            prog_flags: BPF_F_XDP_HAS_FRAGS,
            prog_name: name16("fhgate_ecpri"),
            expected_attach_type: BPF_XDP,
            ..Default::default()
        };
        if let Some(buf) = log {
            a.log_level = 1;
            a.log_size = buf.len() as u32;
            a.log_buf = buf.as_mut_ptr() as u64;
        }
        sys_bpf(BPF_PROG_LOAD, &mut a).and_then(owned)
    };
    match attempt(None) {
        Ok(fd) => Ok(fd),
        Err(error) => {
            // Load again with the verifier log on, only to explain the failure.
            let mut buf = vec![0u8; 1 << 16];
            let log = match attempt(Some(&mut buf)) {
                Ok(_) => String::new(),
                Err(_) => {
                    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                    String::from_utf8_lossy(&buf[..end]).trim().to_string()
                }
            };
            Err(LoadError { error, log })
        }
    }
}

/// Attaches `prog` to interface `ifindex` through a BPF link (`flags`:
/// [`XDP_FLAGS_SKB_MODE`] or [`XDP_FLAGS_DRV_MODE`]). The program stays
/// attached while the link fd is open, and detaches when it closes,
/// including when the process dies.
pub fn attach_xdp(prog: BorrowedFd<'_>, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut a = LinkCreateAttr { prog_fd: prog.as_raw_fd() as u32, target_ifindex: ifindex, attach_type: BPF_XDP, flags };
    owned(sys_bpf(BPF_LINK_CREATE, &mut a)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<MapCreateAttr>(), 44);
        assert_eq!(std::mem::size_of::<MapElemAttr>(), 32);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::size_of::<LinkCreateAttr>(), 16);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn instructions_are_encoded_as_the_kernel_reads_them() {
        let p = ecpri_redirect(7).unwrap();
        // r2 = *(u32 *)(r1 + 0): dst 2 in the low nibble, src 1 in the high.
        assert_eq!(p[0], Insn { code: 0x61, regs: 0x12, off: 0, imm: 0 });
        assert_eq!(p[1], Insn { code: 0x61, regs: 0x13, off: 4, imm: 0 });
        // r4 = r2; r4 += 14; if r4 > r3 goto pass
        assert_eq!(p[2], Insn { code: 0xbf, regs: 0x24, off: 0, imm: 0 });
        assert_eq!(p[3], Insn { code: 0x07, regs: 0x04, off: 0, imm: 14 });
        assert_eq!((p[4].code, p[4].regs), (0x2d, 0x34));
        // r5 = *(u16 *)(r2 + 12); if r5 == 0xAEFE (as loaded: bytes AE FE) goto redirect
        assert_eq!(p[5], Insn { code: 0x69, regs: 0x25, off: 12, imm: 0 });
        assert_eq!((p[6].code, p[6].imm), (0x15, 0xFEAE));
        assert_eq!((p[7].imm, p[8].code, p[8].imm), (0xA888, 0x55, 0x0081));
        // The map fd load takes two slots and is flagged as a pseudo map fd.
        let ld = p.iter().position(|i| i.code == 0x18).unwrap();
        assert_eq!((p[ld].regs, p[ld].imm, p[ld + 1]), (0x11, 7, Insn { code: 0, regs: 0, off: 0, imm: 0 }));
        assert_eq!((p[ld + 2].code, p[ld + 2].regs, p[ld + 2].imm), (0xb7, 0x03, XDP_PASS));
        assert_eq!((p[ld + 3].code, p[ld + 3].imm), (0x85, 51));
        // Both exits; pass returns XDP_PASS.
        let n = p.len();
        assert_eq!((p[n - 3].code, p[n - 2], p[n - 1].code), (0x95, Insn { code: 0xb7, regs: 0, off: 0, imm: 2 }, 0x95));
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        let p = ecpri_redirect(3).unwrap();
        let pass = p.len() as isize - 2;
        let redirect = p.iter().position(|i| i.code == 0x69 && i.off == 20).unwrap() as isize + 2;
        for (i, insn) in p.iter().enumerate() {
            let jmp = matches!(insn.code, 0x2d | 0x15 | 0x55 | 0x05);
            if jmp {
                let to = i as isize + 1 + insn.off as isize;
                assert!(to > i as isize && to < p.len() as isize, "insn {i} jumps to {to}");
                // Bounds checks and non-matching ethertypes go to pass.
                if matches!(insn.code, 0x2d | 0x05) {
                    assert_eq!(to, pass, "insn {i}");
                }
            }
        }
        // The last QinQ check falls through to the redirect.
        assert_eq!(p[redirect as usize].code, 0x61);
        assert_eq!(p[redirect as usize].off, xdp_md::RX_QUEUE_INDEX);
    }

    #[test]
    fn the_verifier_log_explains_a_refused_program() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "loading an XDP program needs CAP_BPF: run this test as root (CI does)");
        // `exit` without setting r0.
        let bad = [Insn { code: op::EXIT, regs: 0, off: 0, imm: 0 }];
        let e = load_xdp(&bad).unwrap_err();
        assert!(e.log.contains("R0 !read_ok"), "{e:?}");
        assert_eq!(e.error.raw_os_error(), Some(libc::EACCES));
        // Ours loads.
        let map = create_xsk_map(1).unwrap();
        load_xdp(&ecpri_redirect(map.as_raw_fd()).unwrap()).unwrap();
    }

    #[test]
    fn unresolved_labels_are_errors() {
        let mut a = Asm::default();
        a.jump(op::JA, 0, 0, 0, "nowhere");
        assert!(a.finish().is_err());
    }
}
