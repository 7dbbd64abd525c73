//! What a NIC can timestamp, as `ethtool -T` reports it (the kernel's
//! `ETHTOOL_GET_TS_INFO`): hardware receive and transmit timestamps and
//! the PTP hardware clock (PHC) they come from, or software only.
//!
//! fhgate's transparent clock takes software timestamps on every port
//! (DEVELOPERS.md, "Hardware timestamps"): residence time needs the
//! ingress and egress timestamps on one clock, and the egress one before
//! the frame is sent, which a NIC's transmit timestamp (read back from the
//! socket's error queue after the frame has left) cannot give a one-step
//! clock. This module makes that choice visible per port: a NIC that
//! could do better is named in the log and the metrics, never passed over.

use std::io;
use std::os::fd::AsRawFd;

/// `SOF_TIMESTAMPING_*` capability bits (linux/net_tstamp.h).
const TX_HARDWARE: u32 = 1 << 0;
const TX_SOFTWARE: u32 = 1 << 1;
const RX_HARDWARE: u32 = 1 << 2;
const RX_SOFTWARE: u32 = 1 << 3;
const RAW_HARDWARE: u32 = 1 << 6;
/// `ETHTOOL_GET_TS_INFO` (linux/ethtool.h).
const ETHTOOL_GET_TS_INFO: u32 = 0x41;

/// `struct ethtool_ts_info`.
#[repr(C)]
#[derive(Default)]
struct EthtoolTsInfo {
    cmd: u32,
    so_timestamping: u32,
    phc_index: i32,
    tx_types: u32,
    tx_reserved: [u32; 3],
    rx_filters: u32,
    rx_reserved: [u32; 3],
}

/// `struct ifreq` with its union as `ifr_data`, padded to the kernel's size.
#[repr(C)]
struct IfReqData {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// A NIC's timestamping capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicTimestamping {
    /// Hardware receive timestamps (raw PHC time).
    pub hardware_rx: bool,
    /// Hardware transmit timestamps.
    pub hardware_tx: bool,
    /// The PTP hardware clock's index (`/dev/ptpN`), if the NIC has one.
    pub phc: Option<u32>,
    /// Software receive timestamps.
    pub software_rx: bool,
    /// Software transmit timestamps.
    pub software_tx: bool,
}

impl NicTimestamping {
    /// Asks the kernel about `interface` (in this network namespace).
    pub fn query(interface: &str) -> io::Result<NicTimestamping> {
        let name = interface.as_bytes();
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("`{interface}` is not an interface name")));
        }
        // SAFETY: a plain socket call; the descriptor is owned below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor no one else owns.
        let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let mut info = EthtoolTsInfo { cmd: ETHTOOL_GET_TS_INFO, ..Default::default() };
        let mut req = IfReqData { name: [0; libc::IFNAMSIZ], data: (&mut info as *mut EthtoolTsInfo).cast(), _pad: [0; 16] };
        req.name[..name.len()].copy_from_slice(name);
        // SAFETY: req names the interface and points at an ethtool_ts_info
        // that outlives the call, as SIOCETHTOOL expects.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let has = |bit: u32| info.so_timestamping & bit != 0;
        Ok(NicTimestamping {
            hardware_rx: has(RX_HARDWARE) && has(RAW_HARDWARE),
            hardware_tx: has(TX_HARDWARE) && has(RAW_HARDWARE),
            phc: u32::try_from(info.phc_index).ok(),
            software_rx: has(RX_SOFTWARE),
            software_tx: has(TX_SOFTWARE),
        })
    }

    /// Whether the NIC could give hardware timestamps fhgate does not use.
    pub fn hardware(&self) -> bool {
        self.hardware_rx || self.hardware_tx
    }

    /// The PHC label for logs and metrics: `ptp0`, or `none`.
    pub fn phc_name(&self) -> String {
        self.phc.map_or_else(|| "none".to_string(), |i| format!("ptp{i}"))
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        if self.hardware() {
            format!(
                "hardware rx {} / tx {} on PHC /dev/{}, not used: the transparent clock takes software timestamps (DEVELOPERS.md, \"Hardware timestamps\")",
                yes(self.hardware_rx),
                yes(self.hardware_tx),
                self.phc_name()
            )
        } else {
            format!("software only (rx {}, tx {}; no hardware timestamping, PHC {})", yes(self.software_rx), yes(self.software_tx), self.phc_name())
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused_before_the_kernel() {
        for name in ["", "a-name-longer-than-15", "nul\0"] {
            assert_eq!(NicTimestamping::query(name).unwrap_err().kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
        assert!(NicTimestamping::query("fhgate-none0").is_err(), "no such interface");
    }

    #[test]
    fn the_ifreq_is_the_kernel_s_size() {
        assert_eq!(std::mem::size_of::<IfReqData>(), std::mem::size_of::<libc::ifreq>());
        assert_eq!(std::mem::size_of::<EthtoolTsInfo>(), 44);
    }
}
