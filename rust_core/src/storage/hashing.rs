//! Storage/Cache hot paths: hex digests and constant-time integrity checks.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The digest algorithms CacheCore offers; the names are hashlib's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

/// Raised for an algorithm name outside [`Algorithm::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl std::fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unsupported hash algorithm {:?}; expected one of md5, sha1, sha256, sha512",
            self.0
        )
    }
}

impl Algorithm {
    pub const NAMES: [&'static str; 4] = ["md5", "sha1", "sha256", "sha512"];

    /// Parses a hashlib-style name, ignoring ASCII case.
    pub fn parse(name: &str) -> Result<Self, UnknownAlgorithm> {
        const ALL: [Algorithm; 4] = [
            Algorithm::Md5,
            Algorithm::Sha1,
            Algorithm::Sha256,
            Algorithm::Sha512,
        ];
        Algorithm::NAMES
            .iter()
            .zip(ALL)
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, alg)| alg)
            .ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }

    /// Length of the hex digest in characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A raw digest of any supported algorithm: the bytes and how many of the 64 are used.
#[derive(Clone, Copy)]
pub struct RawDigest {
    bytes: [u8; 64],
    len: usize,
}

impl RawDigest {
    /// Digest of `data` with `alg`, computed without allocating.
    pub fn of(alg: Algorithm, data: &[u8]) -> Self {
        let mut bytes = [0u8; 64];
        let len = digest_into(alg, data, &mut bytes);
        RawDigest { bytes, len }
    }

    /// Lower-case hex into `out`, returned as a str borrowed from it.
    pub fn hex<'a>(&self, out: &'a mut [u8; 128]) -> &'a str {
        for (i, byte) in self.bytes[..self.len].iter().enumerate() {
            out[2 * i] = HEX[usize::from(byte >> 4)];
            out[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        // Every byte written is an ASCII hex digit.
        std::str::from_utf8(&out[..2 * self.len]).unwrap_or_default()
    }
}

fn digest_into(alg: Algorithm, data: &[u8], out: &mut [u8; 64]) -> usize {
    match alg {
        Algorithm::Md5 => {
            out[..16].copy_from_slice(&Md5::digest(data));
            16
        }
        Algorithm::Sha1 => {
            out[..20].copy_from_slice(&Sha1::digest(data));
            20
        }
        Algorithm::Sha256 => {
            out[..32].copy_from_slice(&Sha256::digest(data));
            32
        }
        Algorithm::Sha512 => {
            out.copy_from_slice(&Sha512::digest(data));
            64
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex digest of `data`, identical to `hashlib.new(alg, data).hexdigest()`.
pub fn hex_digest(alg: Algorithm, data: &[u8]) -> String {
    let mut out = [0u8; 128];
    RawDigest::of(alg, data).hex(&mut out).to_owned()
}

/// True when `expected` is the hex digest of `data` (ASCII case ignored).
///
/// The comparison takes the same time wherever the first difference is, so a caller
/// checking attacker-supplied digests leaks nothing about how much of a guess was right.
pub fn verify(alg: Algorithm, data: &[u8], expected: &str) -> bool {
    let actual = hex_digest(alg, data);
    let expected = expected.as_bytes();
    if expected.len() != actual.len() {
        // The length of a hex digest is public: it is fixed by the algorithm.
        return false;
    }
    let lowered: Vec<u8> = expected.iter().map(u8::to_ascii_lowercase).collect();
    bool::from(actual.as_bytes().ct_eq(&lowered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex_digest(Algorithm::Md5, b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex_digest(Algorithm::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex_digest(Algorithm::Sha256, b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex_digest(Algorithm::Sha512, b"abc").len(), 128);
    }

    #[test]
    fn parse_ignores_ascii_case_only() {
        assert_eq!(Algorithm::parse("SHA256"), Ok(Algorithm::Sha256));
        assert!(Algorithm::parse("sha-256").is_err());
        assert!(Algorithm::parse("").is_err());
    }

    #[test]
    fn verify_accepts_upper_case_and_rejects_others() {
        let digest = hex_digest(Algorithm::Md5, b"x").to_uppercase();
        assert!(verify(Algorithm::Md5, b"x", &digest));
        assert!(!verify(Algorithm::Md5, b"y", &digest));
        assert!(!verify(Algorithm::Md5, b"x", &digest[..31]));
        assert!(!verify(Algorithm::Md5, b"x", "é"));
    }
}
