//! The XDP program that steers eCPRI frames to our socket, hand-assembled
//! so that no clang or BPF toolchain is needed to build fhgate, and the
//! raw `bpf()` calls that load it and attach it with a BPF link.
//!
//! The program redirects every frame to the XSKMAP entry of the queue it
//! arrived on: eCPRI, PTP, ARP, IP, LLDP alike, since a gateway port is
//! one end of a bridge (DEVELOPERS.md, "Passthrough"). A frame that
//! arrives while no socket is in the map goes to the kernel (the
//! redirect's flags).
//!
//! Which queue a frame arrives on is the NIC's choice, made before this
//! program runs; a multi-queue port (`queues = "0-3"`) has a socket in
//! the map per queue, and each must get whole flows. RSS hashes IP/UDP
//! fields, which eCPRI over Ethernet lacks, so by default every eCPRI
//! frame lands on one queue. Spread it with ethtool ntuple rules, one per
//! eAxC or group (`ethtool -N IFACE flow-type ether proto 0xaefe` plus the
//! driver's flexible bytes on ecpriPcid, `action Q`), with a NIC's eCPRI
//! RSS where it has one (Intel E810's eCPRI DDP profile hashes ecpriPcid),
//! or, for eCPRI over UDP, with ordinary RSS over a source port per eAxC.
//! Where the NIC cannot spread eCPRI, use one queue: its worker fans flows
//! out over rings (`workers`, pipelined threading).

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
    /// BPF_ALU64 | BPF_MOV | BPF_K: `dst = imm`.
    pub const MOV64_K: u8 = 0xb7;
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
    pub const RX_QUEUE_INDEX: i16 = 16;
}

const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;

fn regs(dst: u8, src: u8) -> u8 {
    if cfg!(target_endian = "little") {
        dst | src << 4
    } else {
        dst << 4 | src
    }
}

/// A tiny assembler: straight-line instructions.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
}

impl Asm {
    fn emit(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(Insn { code, regs: regs(dst, src), off, imm });
    }
    fn finish(self) -> io::Result<Vec<Insn>> {
        Ok(self.insns)
    }
}

/// The bridge program: every frame of the queue goes to the socket in
/// `xsks_map` (an XSKMAP fd), eCPRI or not, since the gateway's ports are
/// the two ends of a bridge and fhgate decides what crosses (the
/// `[passthrough]` policy). A frame arriving while no socket is in the
/// map goes to the kernel (the redirect's fallback flag).
pub fn redirect_all(xsks_map: RawFd) -> io::Result<Vec<Insn>> {
    let mut a = Asm::default();
    // return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS)
    a.emit(op::LDX_W, R2, R1, xdp_md::RX_QUEUE_INDEX, 0);
    a.emit(op::LD_DW_IMM, R1, PSEUDO_MAP_FD, 0, xsks_map);
    a.emit(0, 0, 0, 0, 0);
    a.emit(op::MOV64_K, R3, 0, 0, XDP_PASS);
    a.emit(op::CALL, 0, 0, 0, FUNC_REDIRECT_MAP);
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
        let p = redirect_all(7).unwrap();
        // r2 = *(u32 *)(r1 + 16): ctx->rx_queue_index; dst 2 in the low nibble, src 1 in the high.
        assert_eq!(p[0], Insn { code: 0x61, regs: 0x12, off: 16, imm: 0 });
        // The map fd load takes two slots and is flagged as a pseudo map fd.
        assert_eq!((p[1].code, p[1].regs, p[1].imm, p[2]), (0x18, 0x11, 7, Insn { code: 0, regs: 0, off: 0, imm: 0 }));
        // r3 = XDP_PASS (no socket: the kernel), call bpf_redirect_map, return its verdict.
        assert_eq!(p[3], Insn { code: 0xb7, regs: 0x03, off: 0, imm: XDP_PASS });
        assert_eq!((p[4].code, p[4].imm), (0x85, 51));
        assert_eq!((p.len(), p[5].code), (6, 0x95));
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
        load_xdp(&redirect_all(map.as_raw_fd()).unwrap()).unwrap();
    }
}
