//! What the report says about the host: CPU, kernel, and each port's
//! driver (ethtool's `ETHTOOL_GDRVINFO`, asked in the port's namespace).

/// The CPU model and logical CPU count, from /proc/cpuinfo.
pub fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string()));
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} ({n} logical CPUs usable)", model.unwrap_or_else(|| "unknown CPU".into()))
}

/// `uname`'s nodename and release.
pub fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("unknown".into(), "unknown".into());
    }
    let s = |f: &[libc::c_char]| f.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect::<String>();
    (s(&u.nodename), s(&u.release))
}

/// The interface's driver and its version, as ethtool reports them, in
/// the calling thread's network namespace.
pub fn driver(iface: &str) -> Option<String> {
    #[repr(C)]
    struct DrvInfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }
    const ETHTOOL_GDRVINFO: u32 = 3;
    if iface.is_empty() || iface.len() >= libc::IFNAMSIZ {
        return None;
    }
    // SAFETY: DrvInfo is plain data; all-zero is valid.
    let mut info: DrvInfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(iface.bytes()) {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut info as *mut DrvInfo).cast();
    // SAFETY: a socket for the ioctl, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: SIOCETHTOOL reads ifr_name and writes through ifru_data into
    // `info`, which outlives the call and has the layout the kernel expects.
    let r = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL as _, &mut ifr) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if r < 0 {
        return None;
    }
    let s = |b: &[u8]| String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned();
    let (d, v) = (s(&info.driver), s(&info.version));
    Some(if v.is_empty() { d } else { format!("{d} {v}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_no_driver_info_but_the_cpu_and_kernel_are_named() {
        assert!(!cpu().starts_with("unknown"), "{}", cpu());
        let (_, release) = uname();
        assert!(release.chars().next().is_some_and(|c| c.is_ascii_digit()), "{release}");
        assert_eq!(driver("no-such-if0"), None);
    }
}
