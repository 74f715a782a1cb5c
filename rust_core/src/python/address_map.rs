//! Maps keyed by Python object addresses, for the bindings that deduplicate objects.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes an object address: one 128-bit multiply, folded, so every bit of the result
/// depends on every bit of the address (the low bits pick the bucket, the high bits tag it).
#[derive(Default)]
pub struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(byte));
        }
    }

    fn write_usize(&mut self, address: usize) {
        self.write_u64(address as u64);
    }

    fn write_u64(&mut self, value: u64) {
        let product =
            u128::from(value ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

/// A HashMap keyed by object address. Addresses are not attacker-chosen, so SipHash's
/// flooding resistance buys nothing; this hasher is one multiply per lookup.
pub type AddressMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;
