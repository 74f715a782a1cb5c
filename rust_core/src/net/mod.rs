//! The wire: the framed binary protocol and the multiplexed TCP connection.

pub mod connection;
pub mod transport;
