//! KnowledgeCore.sharding_index: Adler-32 bucket placement.

/// Adler-32 of `key`, identical to `zlib.adler32(key)`.
pub fn adler32(key: &[u8]) -> u32 {
    simd_adler32::adler32(&key)
}

/// The shard a key's UTF-8 bytes fall in: `adler32(key) % shard_count`.
///
/// `shard_count` must be at least 1; callers validate it once per batch.
pub fn shard_of(key: &[u8], shard_count: u64) -> u64 {
    u64::from(adler32(key)) % shard_count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_zlib_vectors() {
        // zlib.adler32(b"") == 1, zlib.adler32(b"Wikipedia") == 300286872
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 300_286_872);
        // Long input crosses the 5552-byte modulo window.
        let long = vec![0xffu8; 100_000];
        let mut a: u32 = 1;
        let mut b: u32 = 0;
        for &byte in &long {
            a = (a + u32::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&long), (b << 16) | a);
    }

    #[test]
    fn shard_is_modulo() {
        assert_eq!(shard_of(b"Wikipedia", 7), 300_286_872 % 7);
        assert_eq!(shard_of(b"Wikipedia", u64::MAX), 300_286_872);
    }
}
