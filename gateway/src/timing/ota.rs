//! Over-the-air (OTA) time of a C-plane or U-plane message (O-RAN WG4
//! CUS §4.4 / §9.7): the radio frame whose frameId the message carries
//! starts where GPS time, less the offsets α and β, is a whole number of
//! 10 ms frames, and frameId is that number modulo 256. Within the frame,
//! subframes are 1 ms, slots 1 ms / 2^µ and symbols a fourteenth of a
//! slot (normal cyclic prefix).
//!
//! Symbols are taken as equal (slot / 14, floored to the ns), as srsRAN
//! and the O-RAN SC library time them: 3GPP gives the first symbol of
//! every half subframe a cyclic prefix 16κ·Tc (0.52 µs) longer, which is
//! far inside any receive window.
//!
//! frameId repeats every 256 frames (2.56 s), so a message's OTA time is
//! only known near a reference: [`OtaClock::offset_ns`] returns the
//! arrival minus the nearest OTA time that carries the message's IDs,
//! folded into ±1.28 s. Everything is integer ns; nothing allocates.

use std::fmt;

/// Unix time of the GPS epoch, 1980-01-06 00:00:00 UTC, in seconds.
pub const GPS_EPOCH_UNIX_S: i64 = 315_964_800;
/// TAI − GPS, fixed since 1980, seconds.
pub const TAI_MINUS_GPS_S: i64 = 19;
/// TAI − UTC since 2017-01-01 (the default UTC offset), seconds.
pub const DEFAULT_UTC_OFFSET_S: i64 = 37;
/// One radio frame, ns.
pub const FRAME_NS: i64 = 10_000_000;
/// One subframe, ns.
pub const SUBFRAME_NS: i64 = 1_000_000;
/// frameId's period: 256 frames, ns.
pub const FRAME_ID_PERIOD_NS: i64 = 256 * FRAME_NS;
/// Symbols per slot (normal cyclic prefix).
pub const SYMBOLS_PER_SLOT: u8 = 14;
/// Highest numerology the CUS timing fields carry (slotId < 2^µ ≤ 16).
pub const MAX_NUMEROLOGY: u8 = 4;
/// GPS α unit: α counts 1/1.2288 ns (1.2288 GHz ticks); α < 10 ms.
pub const ALPHA_PER_FRAME: u32 = 12_288_000;

/// What the host clock (CLOCK_REALTIME, or a capture's timestamps) counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// UTC on the Unix epoch (CLOCK_REALTIME after phc2sys), with TAI − UTC
    /// in seconds (37 since 2017).
    Utc {
        /// TAI − UTC, seconds (PTP's currentUtcOffset).
        utc_offset_s: i64,
    },
    /// TAI on the Unix epoch (a PHC, or CLOCK_TAI).
    Tai,
}

impl Default for Reference {
    fn default() -> Self {
        Reference::Utc { utc_offset_s: DEFAULT_UTC_OFFSET_S }
    }
}

/// A message's air-time fields (the first four bytes of the U-plane and
/// C-plane application headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AirTime {
    /// frameId (8 bits).
    pub frame_id: u8,
    /// subframeId (0-9).
    pub subframe_id: u8,
    /// slotId within the subframe (below 2^µ).
    pub slot_id: u8,
    /// symbolId (U-plane) or startSymbolId (C-plane), 0-13.
    pub symbol_id: u8,
}

/// Why a message's air-time fields name no symbol under the numerology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaError {
    /// The numerology is outside 0-4.
    Numerology(u8),
    /// `oran_fh_cus.subframe_id` is 10 or more.
    SubframeId(u8),
    /// `oran_fh_cus.slotId` is 2^µ or more.
    SlotId {
        /// The value carried.
        value: u8,
        /// The numerology it was read under.
        numerology: u8,
    },
    /// `oran_fh_cus.symbolId` / `startSymbolId` is 14 or more.
    SymbolId(u8),
}

impl fmt::Display for OtaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtaError::Numerology(m) => write!(f, "numerology {m} is outside 0-{MAX_NUMEROLOGY}"),
            OtaError::SubframeId(v) => write!(f, "oran_fh_cus.subframe_id {v} is outside 0-9"),
            OtaError::SlotId { value, numerology } => {
                write!(f, "oran_fh_cus.slotId {value} is outside 0-{} at numerology {numerology}", (1u32 << numerology) - 1)
            }
            OtaError::SymbolId(v) => write!(f, "oran_fh_cus.symbolId {v} is outside 0-13"),
        }
    }
}

impl std::error::Error for OtaError {}

/// Slot length at numerology `mu`, ns (exact for µ ≤ 4).
pub const fn slot_ns(mu: u8) -> i64 {
    1_000_000 >> mu
}

/// Start of symbol `symbol` within its slot, ns (equal symbols, floored).
pub const fn symbol_start_ns(mu: u8, symbol: u8) -> i64 {
    symbol as i64 * slot_ns(mu) / SYMBOLS_PER_SLOT as i64
}

impl AirTime {
    /// Where this symbol starts within frameId's 2.56 s period, ns, or
    /// which field is out of range under numerology `mu`.
    #[inline]
    pub fn in_period_ns(&self, mu: u8) -> Result<i64, OtaError> {
        if mu > MAX_NUMEROLOGY {
            return Err(OtaError::Numerology(mu));
        }
        if self.subframe_id > 9 {
            return Err(OtaError::SubframeId(self.subframe_id));
        }
        if self.slot_id as u32 >= 1 << mu {
            return Err(OtaError::SlotId { value: self.slot_id, numerology: mu });
        }
        if self.symbol_id >= SYMBOLS_PER_SLOT {
            return Err(OtaError::SymbolId(self.symbol_id));
        }
        Ok(self.frame_id as i64 * FRAME_NS
            + self.subframe_id as i64 * SUBFRAME_NS
            + self.slot_id as i64 * slot_ns(mu)
            + symbol_start_ns(mu, self.symbol_id))
    }
}

/// Maps host clock readings to GPS time and OTA symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtaClock {
    /// Clock reading (ns) at the GPS epoch.
    gps_epoch_clock_ns: i64,
    /// α/1.2288 + β·10 ms, ns: where frames start after the epoch.
    alpha_beta_ns: i64,
    /// Clock reading (ns) at the start of a frame whose frameId is 0.
    frame0_clock_ns: i64,
}

impl Default for OtaClock {
    fn default() -> Self {
        OtaClock::new(Reference::default(), 0, 0)
    }
}

impl OtaClock {
    /// A clock counting `reference`, with the O-RAN offsets α (units of
    /// 1/1.2288 ns, below one frame) and β (frames).
    pub fn new(reference: Reference, alpha: u32, beta: i16) -> Self {
        // Clock reading at the GPS epoch: Unix seconds of 1980-01-06 UTC,
        // moved by the leap seconds the clock counts since then.
        let epoch_s = match reference {
            Reference::Utc { utc_offset_s } => GPS_EPOCH_UNIX_S - (utc_offset_s - TAI_MINUS_GPS_S),
            Reference::Tai => GPS_EPOCH_UNIX_S + TAI_MINUS_GPS_S,
        };
        // α/1.2288 ns = α·10000/12288, rounded to the ns.
        let alpha_beta_ns = (alpha as i64 * 10_000 + 6_144) / 12_288 + beta as i64 * FRAME_NS;
        let gps_epoch_clock_ns = epoch_s * 1_000_000_000;
        OtaClock { gps_epoch_clock_ns, alpha_beta_ns, frame0_clock_ns: gps_epoch_clock_ns + alpha_beta_ns }
    }

    /// GPS time (ns since the GPS epoch, α and β not applied) at clock reading `clock_ns`.
    pub fn gps_ns(&self, clock_ns: i64) -> i64 {
        clock_ns - self.gps_epoch_clock_ns
    }

    /// α and β as one offset of the frame grid from the GPS epoch, ns.
    pub fn alpha_beta_ns(&self) -> i64 {
        self.alpha_beta_ns
    }

    /// Arrival at clock reading `clock_ns` minus the nearest OTA start of
    /// `t` under numerology `mu`, in ns within ±1.28 s (negative: before
    /// the symbol is on air). One remainder, no allocation.
    #[inline]
    pub fn offset_ns(&self, clock_ns: i64, t: AirTime, mu: u8) -> Result<i64, OtaError> {
        let ota = t.in_period_ns(mu)?;
        let now = (clock_ns - self.frame0_clock_ns).rem_euclid(FRAME_ID_PERIOD_NS);
        Ok((now - ota + FRAME_ID_PERIOD_NS / 2).rem_euclid(FRAME_ID_PERIOD_NS) - FRAME_ID_PERIOD_NS / 2)
    }

    /// The first slot boundary at or after `clock_ns`: its clock reading
    /// and its slot count since frame 0 of the current 2.56 s period
    /// (what [`SlotCount`] splits into frameId, subframeId and slotId).
    pub fn next_slot(&self, clock_ns: i64, mu: u8) -> (i64, u64) {
        let slot = slot_ns(mu);
        let since = clock_ns - self.frame0_clock_ns;
        let n = since.div_euclid(slot) + i64::from(since.rem_euclid(slot) != 0);
        let per_period = FRAME_ID_PERIOD_NS / slot;
        (self.frame0_clock_ns + n * slot, n.rem_euclid(per_period) as u64)
    }

    /// Clock reading of the OTA start of `t` in the 2.56 s period that
    /// holds `near` (or the one before or after, whichever is nearest).
    pub fn ota_clock_ns(&self, near: i64, t: AirTime, mu: u8) -> Result<i64, OtaError> {
        Ok(near - self.offset_ns(near, t, mu)?)
    }
}

/// Splits a running slot count into frameId, subframeId and slotId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotCount;

impl SlotCount {
    /// The air time of symbol `symbol` of slot `n` (counted from a frame
    /// whose frameId is 0) at numerology `mu`; frameId wraps at 256.
    pub fn air_time(n: u64, mu: u8, symbol: u8) -> AirTime {
        let per_sf = 1u64 << mu;
        AirTime { frame_id: (n / (per_sf * 10)) as u8, subframe_id: ((n / per_sf) % 10) as u8, slot_id: (n % per_sf) as u8, symbol_id: symbol }
    }
}

#[cfg(test)]
#[path = "ota_tests.rs"]
mod tests;
