//! Per-flow state without allocation: [`FlowKey`] identifies a flow the
//! way the descriptor does, and [`FlowTable`] is a fixed-capacity hash
//! table (open addressing, linear probing, backward-shift deletion).
//!
//! State lives only as long as the instance: after a fault or a hot swap
//! the new instance starts with empty tables (ABI.md §2).

/// A flow: plane, direction, innermost VLAN and eAxC ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Descriptor `plane` (0 U, 1 C, 2 other).
    pub plane: u8,
    /// Descriptor `direction` (1 DL, 0 UL).
    pub direction: u8,
    /// Innermost VLAN ID, `0xFFFF` when untagged.
    pub vlan: u16,
    /// eAxC ID (ecpriPcid / ecpriRtcid).
    pub eaxc: u16,
}

/// A key a [`FlowTable`] can hold: packs into a `u64` other than `u64::MAX`.
pub trait TableKey: Copy {
    /// The packed key; must never be `u64::MAX` (the empty marker).
    fn pack(self) -> u64;
    /// Unpacks a key made by [`TableKey::pack`].
    fn unpack(v: u64) -> Self;
}

impl TableKey for FlowKey {
    fn pack(self) -> u64 {
        (self.plane as u64) << 40 | (self.direction as u64) << 32 | (self.vlan as u64) << 16 | self.eaxc as u64
    }
    fn unpack(v: u64) -> Self {
        FlowKey { plane: (v >> 40) as u8, direction: (v >> 32) as u8, vlan: (v >> 16) as u16, eaxc: v as u16 }
    }
}

impl TableKey for u16 {
    fn pack(self) -> u64 {
        self as u64
    }
    fn unpack(v: u64) -> Self {
        v as u16
    }
}

impl TableKey for u32 {
    fn pack(self) -> u64 {
        self as u64
    }
    fn unpack(v: u64) -> Self {
        v as u32
    }
}

const EMPTY: u64 = u64::MAX;

/// A fixed-capacity map from `K` to `V` with `N` buckets (a power of two).
/// It holds at most `N - 1` entries, so a probe always ends.
#[derive(Clone)]
pub struct FlowTable<K: TableKey, V: Copy, const N: usize> {
    keys: [u64; N],
    vals: [V; N],
    len: usize,
    _k: core::marker::PhantomData<K>,
}

impl<K: TableKey, V: Copy, const N: usize> core::fmt::Debug for FlowTable<K, V, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlowTable").field("len", &self.len).field("capacity", &(N - 1)).finish()
    }
}

impl<K: TableKey, V: Copy, const N: usize> FlowTable<K, V, N> {
    const CHECK: () = assert!(N.is_power_of_two() && N >= 2, "FlowTable size must be a power of two");

    /// An empty table; `fill` only initialises the unused value slots.
    pub const fn new(fill: V) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        FlowTable { keys: [EMPTY; N], vals: [fill; N], len: 0, _k: core::marker::PhantomData }
    }

    #[inline]
    fn home(k: u64) -> usize {
        // Fibonacci hashing: the top bits of k × 2^64/φ.
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - N.trailing_zeros())) as usize & (N - 1)
    }

    /// The bucket holding `k`, or the empty bucket where it would go.
    #[inline]
    fn probe(&self, k: u64) -> (usize, bool) {
        let mut i = Self::home(k);
        loop {
            match self.keys[i] {
                x if x == k => return (i, true),
                EMPTY => return (i, false),
                _ => i = (i + 1) & (N - 1),
            }
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most entries it can hold (`N - 1`).
    pub const fn capacity(&self) -> usize {
        N - 1
    }

    /// The value of `key`.
    pub fn get(&self, key: K) -> Option<&V> {
        let (i, found) = self.probe(key.pack());
        found.then(|| &self.vals[i])
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        let (i, found) = self.probe(key.pack());
        found.then(move || &mut self.vals[i])
    }

    /// The value of `key`, inserting `init` first if absent; `None` when
    /// the table is full.
    pub fn get_or_insert(&mut self, key: K, init: V) -> Option<&mut V> {
        let k = key.pack();
        let (i, found) = self.probe(k);
        if !found {
            if self.len + 1 >= N {
                return None;
            }
            self.keys[i] = k;
            self.vals[i] = init;
            self.len += 1;
        }
        Some(&mut self.vals[i])
    }

    /// Sets the value of `key`; returns `false` (and changes nothing) when full.
    pub fn insert(&mut self, key: K, value: V) -> bool {
        match self.get_or_insert(key, value) {
            Some(v) => {
                *v = value;
                true
            }
            None => false,
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: K) -> Option<V> {
        let (mut hole, found) = self.probe(key.pack());
        if !found {
            return None;
        }
        let v = self.vals[hole];
        self.len -= 1;
        // Backward-shift deletion: pull later members of the run into the
        // hole when the hole lies between their home and where they sit.
        let mut j = hole;
        loop {
            j = (j + 1) & (N - 1);
            let k = self.keys[j];
            if k == EMPTY {
                break;
            }
            let home = Self::home(k);
            if (j.wrapping_sub(home) & (N - 1)) >= (j.wrapping_sub(hole) & (N - 1)) {
                self.keys[hole] = k;
                self.vals[hole] = self.vals[j];
                hole = j;
            }
        }
        self.keys[hole] = EMPTY;
        Some(v)
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.keys = [EMPTY; N];
        self.len = 0;
    }

    /// Every entry, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        self.keys.iter().zip(self.vals.iter()).filter(|(k, _)| **k != EMPTY).map(|(k, v)| (K::unpack(*k), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::vec::Vec;

    #[test]
    fn behaves_like_a_map() {
        let mut t: FlowTable<u32, u32, 64> = FlowTable::new(0);
        let mut m = HashMap::new();
        let mut x = 12345u64;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 90) as u32;
            match x % 3 {
                0 => {
                    let ok = t.insert(k, step);
                    if ok {
                        m.insert(k, step);
                    } else {
                        assert!(!m.contains_key(&k) && m.len() == 63);
                    }
                }
                1 => assert_eq!(t.remove(k), m.remove(&k)),
                _ => assert_eq!(t.get(k).copied(), m.get(&k).copied()),
            }
            assert_eq!(t.len(), m.len());
        }
        let mut all: Vec<_> = t.iter().map(|(k, v)| (k, *v)).collect();
        all.sort();
        let mut want: Vec<_> = m.into_iter().collect();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn flow_keys_round_trip() {
        let k = FlowKey { plane: 1, direction: 1, vlan: 0xFFFF, eaxc: 0x1234 };
        assert_eq!(FlowKey::unpack(k.pack()), k);
        let mut t: FlowTable<FlowKey, u8, 16> = FlowTable::new(0);
        *t.get_or_insert(k, 0).unwrap() += 5;
        assert_eq!(t.get(k), Some(&5));
        assert_eq!(t.capacity(), 15);
    }
}
