//! Packet I/O backends. Only capture files exist so far.

pub mod pcap;
