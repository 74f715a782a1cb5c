//! Files, paths and digests: atomic writes, the directory walk and its globs, literal search, hashing and key placement.

pub mod atomic_write;
pub mod fs_scan;
pub mod glob;
pub mod hashing;
pub mod regular_file;
pub mod search;
pub mod sharding;
