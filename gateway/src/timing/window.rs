//! Receive windows (O-RAN WG4 CUS §4.4.3): a DU sends DL C-plane, UL
//! C-plane and DL U-plane T1a ahead of the symbol's OTA time, between
//! T1a_min and T1a_max; UL U-plane reaches the DU Ta4 after it, between
//! Ta4_min and Ta4_max. The keys and units (µs) are srsRAN's and OAI's.
//! A message is on time when its arrival offset (arrival − OTA) lies in
//! its window, bounds included.

/// Which window a message falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WindowKind {
    /// DL C-plane: T1a_cp_dl.
    CpDl,
    /// UL C-plane: T1a_cp_ul.
    CpUl,
    /// DL U-plane: T1a_up.
    UpDl,
    /// UL U-plane: Ta4.
    UpUl,
}

impl WindowKind {
    /// The window of a message on `plane` (U-plane when `uplane`) with dataDirection `direction`.
    #[inline]
    pub fn of(uplane: bool, direction: u8) -> WindowKind {
        match (uplane, direction == 1) {
            (false, true) => WindowKind::CpDl,
            (false, false) => WindowKind::CpUl,
            (true, true) => WindowKind::UpDl,
            (true, false) => WindowKind::UpUl,
        }
    }

    /// The config keys of its bounds, (min, max).
    pub fn keys(self) -> (&'static str, &'static str) {
        match self {
            WindowKind::CpDl => ("t1a_min_cp_dl", "t1a_max_cp_dl"),
            WindowKind::CpUl => ("t1a_min_cp_ul", "t1a_max_cp_ul"),
            WindowKind::UpDl => ("t1a_min_up", "t1a_max_up"),
            WindowKind::UpUl => ("ta4_min", "ta4_max"),
        }
    }

    /// Whether the bounds count ahead of OTA (T1a) rather than after it (Ta4).
    pub fn is_advance(self) -> bool {
        self != WindowKind::UpUl
    }

    /// Every kind, in key order.
    pub const ALL: [WindowKind; 4] = [WindowKind::CpDl, WindowKind::CpUl, WindowKind::UpDl, WindowKind::UpUl];
}

/// Where a message arrived against its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Before the window opens.
    Early,
    /// Inside the window.
    OnTime,
    /// After the window closes.
    Late,
}

impl Class {
    /// The O-RAN counter name (as xran spells it).
    pub fn counter_name(self) -> &'static str {
        match self {
            Class::Early => "Rx_early",
            Class::OnTime => "Rx_on_time",
            Class::Late => "Rx_late",
        }
    }
}

/// One window's bounds in µs, as configured (min ≤ max).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bounds {
    /// T1a_min / Ta4_min, µs.
    pub min_us: i64,
    /// T1a_max / Ta4_max, µs.
    pub max_us: i64,
}

impl Bounds {
    /// The (earliest, latest) arrival offset these bounds allow under `k`, ns against OTA.
    pub fn offsets(self, k: WindowKind) -> (i64, i64) {
        if k.is_advance() {
            (-self.max_us * 1000, -self.min_us * 1000)
        } else {
            (self.min_us * 1000, self.max_us * 1000)
        }
    }

    /// Classifies an arrival `offset_ns` under these bounds as window `k`.
    pub fn classify(self, k: WindowKind, offset_ns: i64) -> Class {
        class_in(self.offsets(k), offset_ns)
    }
}

/// The class of `offset_ns` in the window `(lo, hi)` of arrival offsets (ns, inclusive).
#[inline]
pub fn class_in((lo, hi): (i64, i64), offset_ns: i64) -> Class {
    if offset_ns < lo {
        Class::Early
    } else if offset_ns > hi {
        Class::Late
    } else {
        Class::OnTime
    }
}

/// The four windows of one side, each as arrival offsets (ns) against OTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Per [`WindowKind`] (in [`WindowKind::ALL`] order): (earliest, latest) offset in ns.
    offsets: [(i64, i64); 4],
    /// The same as configured.
    bounds: [Bounds; 4],
}

/// A window whose min is above its max: the keys at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowError {
    /// The min key.
    pub min_key: &'static str,
    /// The max key.
    pub max_key: &'static str,
}

impl Windows {
    /// Windows from bounds in [`WindowKind::ALL`] order.
    pub fn new(bounds: [Bounds; 4]) -> Result<Windows, WindowError> {
        let mut offsets = [(0, 0); 4];
        for (i, k) in WindowKind::ALL.into_iter().enumerate() {
            let b = bounds[i];
            if b.min_us > b.max_us {
                let (min_key, max_key) = k.keys();
                return Err(WindowError { min_key, max_key });
            }
            offsets[i] = b.offsets(k);
        }
        Ok(Windows { offsets, bounds })
    }

    /// The configured bounds of `k`.
    pub fn bounds(&self, k: WindowKind) -> Bounds {
        self.bounds[k as usize]
    }

    /// The (earliest, latest) arrival offset of `k`, ns against OTA.
    pub fn offsets(&self, k: WindowKind) -> (i64, i64) {
        self.offsets[k as usize]
    }

    /// Classifies an arrival `offset_ns` (arrival − OTA) under window `k`.
    #[inline]
    pub fn classify(&self, k: WindowKind, offset_ns: i64) -> Class {
        class_in(self.offsets[k as usize], offset_ns)
    }
}

/// The tightest bounds (µs, rounded outwards) that put every offset in
/// `[min_ns, max_ns]` on time under `k` with `margin_us` to spare on both sides.
pub fn fitting_bounds(k: WindowKind, min_ns: i64, max_ns: i64, margin_us: i64) -> Bounds {
    let floor_us = |ns: i64| ns.div_euclid(1000);
    let ceil_us = |ns: i64| -(-ns).div_euclid(1000);
    if k.is_advance() {
        // Advance = −offset: T1a_max covers the earliest arrival, T1a_min the latest.
        Bounds { min_us: floor_us(-max_ns) - margin_us, max_us: ceil_us(-min_ns) + margin_us }
    } else {
        Bounds { min_us: floor_us(min_ns) - margin_us, max_us: ceil_us(max_ns) + margin_us }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w() -> Windows {
        let b = |min_us, max_us| Bounds { min_us, max_us };
        Windows::new([b(258, 470), b(285, 429), b(50, 196), b(25, 300)]).unwrap()
    }

    #[test]
    fn advance_windows_count_before_ota_and_ta4_after() {
        let w = w();
        // DL U-plane: on time 196..50 µs ahead, bounds included.
        assert_eq!(w.classify(WindowKind::UpDl, -196_001), Class::Early);
        assert_eq!(w.classify(WindowKind::UpDl, -196_000), Class::OnTime);
        assert_eq!(w.classify(WindowKind::UpDl, -50_000), Class::OnTime);
        assert_eq!(w.classify(WindowKind::UpDl, -49_999), Class::Late);
        assert_eq!(w.classify(WindowKind::CpDl, -470_000), Class::OnTime);
        assert_eq!(w.classify(WindowKind::CpUl, -430_000), Class::Early);
        // UL U-plane: 25..300 µs after OTA.
        assert_eq!(w.classify(WindowKind::UpUl, 24_999), Class::Early);
        assert_eq!(w.classify(WindowKind::UpUl, 300_000), Class::OnTime);
        assert_eq!(w.classify(WindowKind::UpUl, 300_001), Class::Late);
        assert_eq!(WindowKind::of(true, 0), WindowKind::UpUl);
        assert_eq!(WindowKind::of(false, 1), WindowKind::CpDl);
    }

    #[test]
    fn inverted_windows_are_named() {
        let b = Bounds { min_us: 10, max_us: 5 };
        let ok = Bounds { min_us: 0, max_us: 5 };
        assert_eq!(Windows::new([ok, ok, b, ok]), Err(WindowError { min_key: "t1a_min_up", max_key: "t1a_max_up" }));
    }

    #[test]
    fn fitting_bounds_round_outwards_and_keep_the_margin() {
        // Arrivals 300.4 to 120.6 µs ahead: T1a 120..301 µs, then 10 µs spare.
        let b = fitting_bounds(WindowKind::UpDl, -300_400, -120_600, 10);
        assert_eq!(b, Bounds { min_us: 110, max_us: 311 });
        let w = Windows::new([b; 4]).unwrap();
        for off in [-300_400, -120_600] {
            assert_eq!(w.classify(WindowKind::UpDl, off - 9_999), Class::OnTime);
            assert_eq!(w.classify(WindowKind::UpDl, off + 9_999), Class::OnTime);
        }
        assert_eq!(fitting_bounds(WindowKind::UpUl, 40_500, 90_001, 5), Bounds { min_us: 35, max_us: 96 });
    }
}
