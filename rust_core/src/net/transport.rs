//! ConnectivityCore.binary_transport: the framed binary protocol, without Python types.
//!
//! A frame is a 20-byte header followed by the payload (all integers big-endian):
//!
//! | offset | size | field                                                        |
//! |--------|------|--------------------------------------------------------------|
//! | 0      | 4    | magic `b"PYAF"`                                              |
//! | 4      | 1    | version (1)                                                  |
//! | 5      | 1    | flags: bit 0 = payload is one Zstandard frame; others zero   |
//! | 6      | 2    | reserved, zero                                               |
//! | 8      | 4    | stream id (u32)                                              |
//! | 12     | 4    | payload length in bytes (u32)                                |
//! | 16     | 4    | CRC-32 (IEEE, zlib's) of bytes 0..16 followed by the payload |
//!
//! The payload is standard MessagePack (msgpack-python's `packb(obj, use_bin_type=True)`),
//! Zstandard-compressed (`ZSTD_compress2` at the given level, content size in the frame
//! header) when the MessagePack is longer than the compression threshold.
//!
//! Decoding is incremental ([`FrameBuffer`]) and never trusts a claimed length: the payload
//! length is checked against the decoder's `max_frame_size` as soon as the header is in, the
//! buffer only ever grows with bytes actually received, and a compressed payload must
//! declare a content size within the same limit, into which it is decompressed with a
//! capacity that cannot be exceeded (a Zstandard bomb is a [`ProtocolError`]).
//!
//! [`Reader`] tokenises MessagePack from a slice with bounds checks on every length.

use std::cell::{Cell, RefCell};
use std::fmt;

use zstd_safe::{CCtx, CParameter, DCtx, InBuffer, OutBuffer};

pub const MAGIC: [u8; 4] = *b"PYAF";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 20;
pub const FLAG_ZSTD: u8 = 1;
/// MessagePack payloads longer than this many bytes are compressed by default.
pub const DEFAULT_COMPRESS_THRESHOLD: u64 = 1024;
/// Zstandard level by default (libzstd's own default).
pub const DEFAULT_LEVEL: i32 = 3;
/// The largest payload (stored, and decompressed) a decoder accepts by default: 64 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 64 << 20;
/// Levels accepted by the encoder: libzstd's positive levels.
pub const MIN_LEVEL: i32 = 1;
pub const MAX_LEVEL: i32 = 22;
/// Containers nested deeper than this are refused, as msgpack-python's unpacker does.
pub const MAX_NESTING: usize = 1024;

/// Objects a frame may decode to, counted as every array 1 plus its length and every map 1
/// plus twice its entries once built: [`FRAME_OBJECTS_BASE`] plus
/// [`FRAME_OBJECTS_PER_BYTE`] per payload byte received (compressed or not), as
/// `pyagent.connectivity_core`'s constants of the same names. The decompression cap bounds
/// a payload's bytes, not what they expand to: one byte of MessagePack (an empty array) is
/// some 80 bytes of Python objects, so a 300-byte Zstandard frame became 600 MB. An
/// uncompressed payload never reaches the budget (no item is shorter than a byte, and a
/// count covers at most two items); a compressed one may expand 4 counts per byte received,
/// past a floor of about a million.
pub const FRAME_OBJECTS_BASE: u64 = 1 << 20;
/// See [`FRAME_OBJECTS_BASE`].
pub const FRAME_OBJECTS_PER_BYTE: u64 = 4;

/// The object budget of a frame whose payload took `wire_len` bytes on the wire.
pub fn frame_object_budget(wire_len: usize) -> u64 {
    FRAME_OBJECTS_BASE.saturating_add(FRAME_OBJECTS_PER_BYTE.saturating_mul(wire_len as u64))
}
/// The largest payload a frame can carry (its length field is a u32).
pub const MAX_PAYLOAD: u64 = u32::MAX as u64;

/// A malformed, hostile or oversized frame (Python: `pyagent.connectivity_core.ProtocolError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn protocol<T>(message: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(message.into()))
}

thread_local! {
    static CCTX: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
    /// Compression output reused between frames (see [`seal_at`]).
    static ZSCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A per-thread compression buffer above this capacity is freed rather than kept.
const ZSCRATCH_KEEP: usize = 16 << 20;

/// `ZSTD_compress2(src)` at `level` into `out` (replacing its contents).
fn compress_into(src: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    CCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let cctx = slot.get_or_insert_with(CCtx::create);
        cctx.set_parameter(CParameter::CompressionLevel(level))
            .map_err(|code| ProtocolError(zstd_message("compression", code)))?;
        out.clear();
        out.reserve(zstd_safe::compress_bound(src.len()));
        // Writes into the spare capacity reserved above and sets the length.
        cctx.compress2(out, src)
            .map_err(|code| ProtocolError(zstd_message("compression", code)))?;
        Ok(())
    })
}

/// `ZSTD_compress2(src)` at `level`: the bytes python-zstandard's `compress` writes.
pub fn compress(src: &[u8], level: i32, head_room: usize) -> Result<Vec<u8>, ProtocolError> {
    CCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let cctx = slot.get_or_insert_with(CCtx::create);
        cctx.set_parameter(CParameter::CompressionLevel(level))
            .map_err(|code| ProtocolError(zstd_message("compression", code)))?;
        let bound = zstd_safe::compress_bound(src.len());
        let mut out = vec![0u8; head_room + bound];
        let written = cctx
            .compress2(&mut out[head_room..], src)
            .map_err(|code| ProtocolError(zstd_message("compression", code)))?;
        out.truncate(head_room + written);
        Ok(out)
    })
}

fn zstd_message(what: &str, code: usize) -> String {
    format!("zstd {what} error: {}", zstd_safe::get_error_name(code))
}

/// The content size a compressed payload declares, checked against `max`.
fn declared_size(src: &[u8], max: u64) -> Result<usize, ProtocolError> {
    let size = match zstd_safe::get_frame_content_size(src) {
        Err(_) => return protocol("compressed payload has no valid Zstandard frame header"),
        Ok(None) => return protocol("compressed payload does not declare its content size"),
        Ok(Some(size)) => size,
    };
    if size > max {
        return protocol(format!(
            "compressed payload declares {size} bytes, above the limit of {max}"
        ));
    }
    usize::try_from(size)
        .map_err(|_| ProtocolError("declared content size does not fit in memory".into()))
}

/// Decompresses `src` (one whole Zstandard frame and nothing after it) into exactly `out`,
/// whose length is the declared content size: zstd can never write past it.
fn decompress_exact(src: &[u8], out: &mut [u8]) -> Result<(), ProtocolError> {
    let capacity = out.len();
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let dctx = slot.get_or_insert_with(DCtx::create);
        dctx.reset(zstd_safe::ResetDirective::SessionOnly)
            .map_err(|code| ProtocolError(zstd_message("decompression", code)))?;
        let mut input = InBuffer::around(src);
        let mut output = OutBuffer::around(out);
        let hint = dctx
            .decompress_stream(&mut output, &mut input)
            .map_err(|code| ProtocolError(zstd_message("decompression", code)))?;
        let produced = output.pos();
        if hint != 0 {
            return protocol("compressed payload does not hold a whole Zstandard frame");
        }
        if produced != capacity {
            return protocol(format!(
                "compressed payload decompressed to {produced} bytes, declared {capacity}"
            ));
        }
        if input.pos != src.len() {
            return protocol("compressed payload has data after its Zstandard frame");
        }
        Ok(())
    })
}

/// Decompresses one Zstandard frame that must declare its content size (<= `max`), fill
/// exactly that size, and span all of `src`; never allocates more than the declared size.
pub fn decompress(src: &[u8], max: u64) -> Result<Vec<u8>, ProtocolError> {
    let size = declared_size(src, max)?;
    if size == 0 {
        // As python-zstandard: an empty declared content is b"", whatever follows.
        return Ok(Vec::new());
    }
    // Zeroed allocation: fresh pages from the OS are zero already, so this costs no memset.
    let mut out = vec![0u8; size];
    decompress_exact(src, &mut out)?;
    Ok(out)
}

/// [`decompress`] into a buffer kept between frames (the decoder's): `scratch` grows to the
/// largest declared size seen, never beyond `max`, and the result is its first bytes.
pub fn decompress_reusing<'a>(
    src: &[u8],
    max: u64,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], ProtocolError> {
    let size = declared_size(src, max)?;
    if size == 0 {
        return Ok(&[]);
    }
    if scratch.len() < size {
        scratch.resize(size, 0);
    }
    let out = &mut scratch[..size];
    decompress_exact(src, out)?;
    Ok(out)
}

/// Inputs from this length on go to crc32fast, whose PCLMULQDQ path starts at 128 bytes.
const CRC_SIMD_MIN: usize = 128;

/// CRC-32 tables for slicing by 16: `CRC_TABLES[k][b]` is the CRC of byte `b` followed by
/// `k` zero bytes (table 0 is the classic byte-at-a-time table, polynomial 0xEDB88320).
static CRC_TABLES: [[u32; 256]; 16] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 16] {
    let mut tables = [[0u32; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 16 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    tables
}

/// One block of `N` (4, 8 or 16) bytes, slicing by `N`: the CRC state is folded into the
/// first four bytes, then every byte is looked up in the table for its distance to the end.
#[inline(always)]
fn crc_block<const N: usize>(crc: u32, block: &[u8; N]) -> u32 {
    let mut out = 0u32;
    let mut i = 0;
    while i < N {
        let mut byte = block[i];
        if i < 4 {
            byte ^= (crc >> (8 * i)) as u8;
        }
        out ^= CRC_TABLES[N - 1 - i][usize::from(byte)];
        i += 1;
    }
    out
}

/// CRC-32 (IEEE, zlib's `crc32(data, prev)`), continuing from `prev`.
///
/// crc32fast computes inputs shorter than 64 bytes one byte at a time (a chain of dependent
/// table loads) and uses PCLMULQDQ only from 128 bytes; a small message's frame is a 16-byte
/// header and a few dozen payload bytes, so those go through slicing-by-16 here (16 independent
/// loads per step), and longer inputs to crc32fast's SIMD code.
pub fn crc32(prev: u32, data: &[u8]) -> u32 {
    if data.len() >= CRC_SIMD_MIN {
        let mut hasher = crc32fast::Hasher::new_with_initial(prev);
        hasher.update(data);
        return hasher.finalize();
    }
    let mut crc = !prev;
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; 16]>::try_from(block) {
            crc = crc_block(crc, block);
        }
    }
    let mut rest = blocks.remainder();
    if let Some((block, tail)) = rest.split_first_chunk::<8>() {
        crc = crc_block(crc, block);
        rest = tail;
    }
    if let Some((block, tail)) = rest.split_first_chunk::<4>() {
        crc = crc_block(crc, block);
        rest = tail;
    }
    for &byte in rest {
        crc = CRC_TABLES[0][usize::from(crc as u8 ^ byte)] ^ (crc >> 8);
    }
    !crc
}

/// The CRC of a header's first 8 bytes (magic, version, flags, reserved zeros), by flags: they
/// are fixed once the header is checked, so a frame's CRC starts from here (indexed by
/// `flags`, which is 0 or [`FLAG_ZSTD`]).
static HEADER_PREFIX_CRC: [u32; 2] = [header_prefix_crc(0), header_prefix_crc(FLAG_ZSTD)];

const fn header_prefix_crc(flags: u8) -> u32 {
    let prefix = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION, flags, 0, 0];
    let mut crc = !0u32;
    let mut i = 0;
    while i < prefix.len() {
        crc = CRC_TABLES[0][((crc as u8) ^ prefix[i]) as usize] ^ (crc >> 8);
        i += 1;
    }
    !crc
}

/// The CRC of a frame: its header's first 16 bytes, then its payload. `header` is a checked
/// (or just written) header, so its first 8 bytes come from [`HEADER_PREFIX_CRC`].
#[inline]
fn frame_crc(header: &[u8], payload: &[u8]) -> u32 {
    let start = match header.get(5) {
        Some(&0) => HEADER_PREFIX_CRC[0],
        Some(&FLAG_ZSTD) => HEADER_PREFIX_CRC[1],
        // Never reached for a checked header; computed in full all the same.
        _ => crc32(0, header.get(..8).unwrap_or(&[])),
    };
    let middle = header.get(8..16).unwrap_or(&[]);
    if middle.len() + payload.len() <= CRC_PAD_MAX {
        crc_padded(start, middle, payload)
    } else {
        crc32(crc32(start, middle), payload)
    }
}

/// Inputs of [`crc_padded`] fit in this many bytes.
const CRC_PAD_MAX: usize = 128;

/// [`crc32`] continuing from `prev` over `head` then `tail` (together at most
/// [`CRC_PAD_MAX`] bytes, `head` at least 4), with no code that depends on the length: the
/// bytes are copied behind leading zeros into whole 16-byte blocks and the running state is
/// folded into their first four bytes. From a zero state, zero bytes leave the state zero,
/// so the result is the same, without the 8/4/1-byte tail steps whose branches a stream of
/// frames of varying sizes keeps mispredicting.
fn crc_padded(prev: u32, head: &[u8], tail: &[u8]) -> u32 {
    let n = head.len() + tail.len();
    if head.len() < 4 || n > CRC_PAD_MAX {
        return crc32(crc32(prev, head), tail);
    }
    let blocks = n.div_ceil(16);
    let pad = blocks * 16 - n;
    let mut buf = [0u8; CRC_PAD_MAX];
    buf[pad..pad + head.len()].copy_from_slice(head);
    buf[pad + head.len()..pad + n].copy_from_slice(tail);
    for (slot, byte) in buf[pad..pad + 4].iter_mut().zip((!prev).to_le_bytes()) {
        *slot ^= byte;
    }
    let data = &buf[..blocks * 16];
    #[cfg(target_arch = "x86_64")]
    if blocks > 0 && clmul::available() {
        // SAFETY: the CPU has the instructions (checked just above); data is whole blocks.
        return unsafe { clmul::crc_blocks(data) };
    }
    let mut crc = 0u32;
    for block in data.chunks_exact(16) {
        if let Ok(block) = <&[u8; 16]>::try_from(block) {
            crc = crc_block(crc, block);
        }
    }
    !crc
}

/// CRC-32 of whole 16-byte blocks by carry-less multiplication: each block folded into the
/// running 128-bit remainder with one PCLMULQDQ pair (no table loads, whose latency bounds
/// slicing-by-16), then the Barrett reduction to 32 bits. The fold-by-one and reduction
/// steps and their constants are crc32fast 1.5.0's `specialized::pclmulqdq` (MIT/Apache-2.0;
/// crc32fast itself only takes this path from 128 bytes on, with four lanes).
#[cfg(target_arch = "x86_64")]
mod clmul {
    use std::arch::x86_64 as arch;

    const K3: i64 = 0x1751997d0;
    const K4: i64 = 0x0ccaa009e;
    const K5: i64 = 0x163cd6124;
    const P_X: i64 = 0x1DB710641;
    const U_PRIME: i64 = 0x1F7011641;

    /// Whether this CPU has PCLMULQDQ and SSE4.1 (std caches the answer).
    #[inline]
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("pclmulqdq") && is_x86_feature_detected!("sse4.1")
    }

    /// The CRC-32 (final inversion applied) of `data`, whole 16-byte blocks (at least one),
    /// from a zero raw state (the caller folds any running state into the first bytes).
    ///
    /// # Safety
    /// The CPU supports PCLMULQDQ, SSE2 and SSE4.1 ([`available`]).
    #[target_feature(enable = "pclmulqdq", enable = "sse2", enable = "sse4.1")]
    pub(super) unsafe fn crc_blocks(data: &[u8]) -> u32 {
        let mut blocks = data.chunks_exact(16);
        let load = |block: &[u8]| {
            // SAFETY: a 16-byte chunk; unaligned loads are allowed.
            unsafe { arch::_mm_loadu_si128(block.as_ptr().cast::<arch::__m128i>()) }
        };
        let Some(first) = blocks.next() else {
            return 0;
        };
        let k3k4 = arch::_mm_set_epi64x(K4, K3);
        let mut x = load(first);
        for block in blocks {
            let t1 = arch::_mm_clmulepi64_si128(x, k3k4, 0x00);
            let t2 = arch::_mm_clmulepi64_si128(x, k3k4, 0x11);
            x = arch::_mm_xor_si128(arch::_mm_xor_si128(load(block), t1), t2);
        }
        let x = arch::_mm_xor_si128(
            arch::_mm_clmulepi64_si128(x, k3k4, 0x10),
            arch::_mm_srli_si128(x, 8),
        );
        let low32 = arch::_mm_set_epi32(0, 0, 0, !0);
        let x = arch::_mm_xor_si128(
            arch::_mm_clmulepi64_si128(
                arch::_mm_and_si128(x, low32),
                arch::_mm_set_epi64x(0, K5),
                0x00,
            ),
            arch::_mm_srli_si128(x, 4),
        );
        let pu = arch::_mm_set_epi64x(U_PRIME, P_X);
        let t1 = arch::_mm_clmulepi64_si128(arch::_mm_and_si128(x, low32), pu, 0x10);
        let t2 = arch::_mm_clmulepi64_si128(arch::_mm_and_si128(t1, low32), pu, 0x00);
        !(arch::_mm_extract_epi32(arch::_mm_xor_si128(x, t2), 1) as u32)
    }
}

/// Checks an encoder's zstd level.
pub fn check_level(level: i64) -> Result<i32, String> {
    if (i64::from(MIN_LEVEL)..=i64::from(MAX_LEVEL)).contains(&level) {
        Ok(level as i32)
    } else {
        Err(format!(
            "level must be between {MIN_LEVEL} and {MAX_LEVEL}, got {level}"
        ))
    }
}

/// Turns `buf` = `HEADER_LEN` reserved bytes followed by the MessagePack payload into a whole
/// frame: compressed when the payload is longer than `threshold`, header and CRC filled in.
pub fn seal(
    mut buf: Vec<u8>,
    stream_id: u32,
    threshold: u64,
    level: i32,
) -> Result<Vec<u8>, ProtocolError> {
    debug_assert!(buf.len() >= HEADER_LEN);
    let mut flags = 0u8;
    if (buf.len() - HEADER_LEN) as u64 > threshold {
        buf = compress(&buf[HEADER_LEN..], level, HEADER_LEN)?;
        flags |= FLAG_ZSTD;
    }
    write_header(&mut buf, flags, stream_id)?;
    Ok(buf)
}

/// [`seal`] for the frame that starts at `start` in a buffer of many frames (the batch
/// encoder): `out[start..start + HEADER_LEN]` is reserved, the MessagePack follows up to the
/// end of `out`. The frame is byte-identical to what [`seal`] makes of the same payload.
pub fn seal_at(
    out: &mut Vec<u8>,
    start: usize,
    stream_id: u32,
    threshold: u64,
    level: i32,
) -> Result<(), ProtocolError> {
    debug_assert!(out.len() >= start + HEADER_LEN);
    let body = start + HEADER_LEN;
    let mut flags = 0u8;
    if (out.len() - body) as u64 > threshold {
        // Compressed into a per-thread buffer kept between frames, then copied in place of
        // the MessagePack: no fresh compress_bound-sized allocation per frame.
        let mut packed = ZSCRATCH.with(Cell::take);
        let made = compress_into(&out[body..], level, &mut packed);
        if made.is_ok() {
            out.truncate(body);
            out.extend_from_slice(&packed);
        }
        if packed.capacity() <= ZSCRATCH_KEEP {
            ZSCRATCH.with(|cell| cell.set(packed));
        }
        made?;
        flags |= FLAG_ZSTD;
    }
    write_header(&mut out[start..], flags, stream_id)
}

/// Fills in the header of `frame` (header + payload, nothing after): length and CRC.
fn write_header(frame: &mut [u8], flags: u8, stream_id: u32) -> Result<(), ProtocolError> {
    let length = (frame.len() - HEADER_LEN) as u64;
    if length > MAX_PAYLOAD {
        return protocol(format!(
            "payload of {length} bytes does not fit in a frame (limit {MAX_PAYLOAD})"
        ));
    }
    frame[0..4].copy_from_slice(&MAGIC);
    frame[4] = VERSION;
    frame[5] = flags;
    frame[6..8].copy_from_slice(&[0, 0]);
    frame[8..12].copy_from_slice(&stream_id.to_be_bytes());
    frame[12..16].copy_from_slice(&(length as u32).to_be_bytes());
    let crc = frame_crc(&frame[..HEADER_LEN], &frame[HEADER_LEN..]);
    frame[16..20].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// A frame whose header and checksum are valid; `payload` is the MessagePack, decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub stream_id: u32,
    pub payload: Vec<u8>,
    /// Bytes the payload took in the frame (before decompression): what its object budget
    /// ([`frame_object_budget`]) is counted from.
    pub wire_len: usize,
}

/// Where a checked frame's payload is in the decoder's buffer (not copied): MessagePack, or
/// Zstandard to be decompressed when it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Buffered(std::ops::Range<usize>),
    /// A Zstandard payload, still compressed in the buffer: see [`FrameBuffer::payload`].
    Compressed(std::ops::Range<usize>),
}

/// A frame whose header and checksum are valid, read without copying its payload: the bytes
/// are [`FrameBuffer::payload`], valid until the next [`FrameBuffer::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpan {
    pub stream_id: u32,
    pub payload: Payload,
}

/// Incremental frame splitter: bytes in (any chunking), whole checked frames out.
///
/// After the first [`ProtocolError`] it is closed: every later call fails too, since the
/// stream position can no longer be trusted.
#[derive(Debug)]
pub struct FrameBuffer {
    buf: Vec<u8>,
    start: usize,
    max_frame_size: u64,
    failed: Option<String>,
}

impl FrameBuffer {
    pub fn new(max_frame_size: u64) -> Self {
        FrameBuffer {
            buf: Vec::new(),
            start: 0,
            max_frame_size,
            failed: None,
        }
    }

    pub fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }

    /// Bytes received but not yet part of a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    fn check_open(&self) -> Result<(), ProtocolError> {
        match &self.failed {
            Some(message) => protocol(format!("decoder closed by an earlier error: {message}")),
            None => Ok(()),
        }
    }

    /// Appends received bytes (fails if the decoder is closed by an earlier error).
    pub fn push(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        self.check_open()?;
        if self.start > 0 && (self.start >= self.buf.len() / 2 || self.buf.len() == self.start) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn fail<T>(&mut self, err: ProtocolError) -> Result<T, ProtocolError> {
        self.failed = Some(err.0.clone());
        Err(err)
    }

    /// The next whole frame, `None` until enough bytes are in, or the error that closes it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        let Some(span) = self.next_span()? else {
            return Ok(None);
        };
        let (payload, wire_len) = match &span.payload {
            Payload::Buffered(range) => (Ok(self.buf[range.clone()].to_vec()), range.len()),
            Payload::Compressed(range) => (
                decompress(&self.buf[range.clone()], self.max_frame_size),
                range.len(),
            ),
        };
        match payload {
            Ok(payload) => Ok(Some(Frame {
                stream_id: span.stream_id,
                payload,
                wire_len,
            })),
            Err(err) => self.fail(err),
        }
    }

    /// [`next_frame`](Self::next_frame) without copying or decompressing the payload: read
    /// it with [`payload`](Self::payload) before the next `push`. Header and checksum are
    /// checked here; a compressed payload is checked when it is read.
    pub fn next_span(&mut self) -> Result<Option<FrameSpan>, ProtocolError> {
        self.check_open()?;
        match self.parse() {
            Ok(frame) => Ok(frame),
            Err(err) => self.fail(err),
        }
    }

    /// The MessagePack of a span returned by [`next_span`](Self::next_span) since the last
    /// `push`, a compressed one decompressed into `scratch` (kept by the caller between
    /// frames; see [`decompress_reusing`]). A bad Zstandard payload is the ProtocolError that
    /// closes the decoder, as in [`next_frame`](Self::next_frame).
    pub fn payload<'a>(
        &'a mut self,
        span: &FrameSpan,
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], ProtocolError> {
        let range = match &span.payload {
            Payload::Buffered(range) => return Ok(self.buf.get(range.clone()).unwrap_or(&[])),
            Payload::Compressed(range) => range.clone(),
        };
        let src = self.buf.get(range).unwrap_or(&[]);
        match decompress_reusing(src, self.max_frame_size, scratch) {
            Ok(bytes) => Ok(bytes),
            Err(err) => {
                self.failed = Some(err.0.clone());
                Err(err)
            }
        }
    }

    /// The bytes [`pending`](Self::pending) counts.
    pub fn pending_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// The message of the error that closed the decoder, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Replaces the buffered bytes and the closed state (a decoder restored from a pickle).
    pub fn restore(&mut self, pending: &[u8], failed: Option<String>) {
        self.buf.clear();
        self.buf.extend_from_slice(pending);
        self.start = 0;
        self.failed = failed;
    }

    /// Closes the decoder because of an error found outside it (a bad MessagePack payload).
    pub fn close(&mut self, message: &str) {
        self.failed = Some(message.to_owned());
    }

    /// Fails if a partial frame is buffered (the stream ended mid-frame).
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        self.check_open()?;
        if self.pending() > 0 {
            let err = ProtocolError(format!(
                "stream ended inside a frame ({} bytes pending)",
                self.pending()
            ));
            return self.fail(err);
        }
        Ok(())
    }

    fn parse(&mut self) -> Result<Option<FrameSpan>, ProtocolError> {
        let available = &self.buf[self.start..];
        if available.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = &available[..HEADER_LEN];
        let length = check_header(header, self.max_frame_size)?;
        let total = HEADER_LEN + length;
        if available.len() < total {
            return Ok(None);
        }
        let payload = &available[HEADER_LEN..total];
        let expected = u32::from_be_bytes([header[16], header[17], header[18], header[19]]);
        if frame_crc(header, payload) != expected {
            return protocol("frame checksum mismatch");
        }
        let stream_id = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let body = self.start + HEADER_LEN;
        let payload = if header[5] & FLAG_ZSTD != 0 {
            Payload::Compressed(body..body + length)
        } else {
            Payload::Buffered(body..body + length)
        };
        self.start += total;
        Ok(Some(FrameSpan { stream_id, payload }))
    }
}

/// Validates a 20-byte header; the payload length it announces.
pub fn check_header(header: &[u8], max_frame_size: u64) -> Result<usize, ProtocolError> {
    if header[0..4] != MAGIC {
        return protocol(format!("bad frame magic {:?}", &header[0..4]));
    }
    if header[4] != VERSION {
        return protocol(format!("unsupported frame version {}", header[4]));
    }
    if header[5] & !FLAG_ZSTD != 0 {
        return protocol(format!("unknown frame flags {:#04x}", header[5]));
    }
    if header[6] != 0 || header[7] != 0 {
        return protocol("reserved header bytes are not zero");
    }
    let length = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
    if u64::from(length) > max_frame_size {
        return protocol(format!(
            "frame payload of {length} bytes exceeds the limit of {max_frame_size}"
        ));
    }
    Ok(length as usize)
}

/// One MessagePack item header (containers give their element count; the caller recurses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    Nil,
    Bool(bool),
    UInt(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

/// A bounds-checked MessagePack tokenizer over one buffer.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next byte (a marker, at an item boundary), without consuming it.
    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Consumes the byte [`peek`](Self::peek) returned (a no-op at the end).
    #[inline(always)]
    pub fn bump(&mut self) {
        if self.pos < self.data.len() {
            self.pos += 1;
        }
    }

    /// The next `n` bytes, or the truncation error.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if n > self.remaining() {
            return protocol("MessagePack data is truncated");
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }
    #[inline]
    fn u16(&mut self) -> Result<usize, ProtocolError> {
        Ok(u16::from_be_bytes(self.array()?) as usize)
    }
    #[inline]
    fn u32(&mut self) -> Result<usize, ProtocolError> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    /// A container's element count, refused when the rest of the buffer cannot hold it
    /// (every element takes at least one byte), so no hostile count is ever allocated.
    #[inline]
    fn count(&mut self, n: usize, per_item: usize) -> Result<usize, ProtocolError> {
        if n.saturating_mul(per_item) > self.remaining() {
            return protocol("MessagePack container length exceeds the data");
        }
        Ok(n)
    }

    #[inline]
    fn ext(&mut self, len: usize) -> Result<Token<'a>, ProtocolError> {
        let code = self.u8()? as i8;
        Ok(Token::Ext(code, self.take(len)?))
    }

    // Inlined into the unpacker's loop: the token then stays in registers.
    #[inline(always)]
    pub fn next_token(&mut self) -> Result<Token<'a>, ProtocolError> {
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Token::UInt(u64::from(marker)),
            0x80..=0x8f => Token::Map(self.count(usize::from(marker & 0x0f), 2)?),
            0x90..=0x9f => Token::Array(self.count(usize::from(marker & 0x0f), 1)?),
            0xa0..=0xbf => Token::Str(self.take(usize::from(marker & 0x1f))?),
            0xc0 => Token::Nil,
            0xc1 => return protocol("MessagePack marker 0xc1 is never used"),
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => {
                let n = usize::from(self.u8()?);
                Token::Bin(self.take(n)?)
            }
            0xc5 => {
                let n = self.u16()?;
                Token::Bin(self.take(n)?)
            }
            0xc6 => {
                let n = self.u32()?;
                Token::Bin(self.take(n)?)
            }
            0xc7 => {
                let n = usize::from(self.u8()?);
                self.ext(n)?
            }
            0xc8 => {
                let n = self.u16()?;
                self.ext(n)?
            }
            0xc9 => {
                let n = self.u32()?;
                self.ext(n)?
            }
            0xca => Token::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Token::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Token::UInt(u64::from(self.u8()?)),
            0xcd => Token::UInt(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Token::UInt(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Token::UInt(u64::from_be_bytes(self.array()?)),
            0xd0 => Token::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Token::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Token::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Token::Int(i64::from_be_bytes(self.array()?)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9 => {
                let n = usize::from(self.u8()?);
                Token::Str(self.take(n)?)
            }
            0xda => {
                let n = self.u16()?;
                Token::Str(self.take(n)?)
            }
            0xdb => {
                let n = self.u32()?;
                Token::Str(self.take(n)?)
            }
            0xdc => {
                let n = self.u16()?;
                Token::Array(self.count(n, 1)?)
            }
            0xdd => {
                let n = self.u32()?;
                Token::Array(self.count(n, 1)?)
            }
            0xde => {
                let n = self.u16()?;
                Token::Map(self.count(n, 2)?)
            }
            0xdf => {
                let n = self.u32()?;
                Token::Map(self.count(n, 2)?)
            }
            0xe0..=0xff => Token::Int(i64::from(marker as i8)),
        })
    }

    /// Fails unless every byte was consumed (msgpack-python's ExtraData).
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.remaining() != 0 {
            return protocol(format!(
                "{} bytes of extra data after the MessagePack object",
                self.remaining()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], stream_id: u32, threshold: u64) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(payload);
        seal(buf, stream_id, threshold, DEFAULT_LEVEL).unwrap()
    }

    #[test]
    fn round_trip_in_any_chunking() {
        let mut stream = frame(b"\x93\x01\x02\x03", 7, 1024);
        let big = vec![0x42u8; 5000];
        let mut bin = vec![0xc5, 0x13, 0x88];
        bin.extend_from_slice(&big);
        stream.extend(frame(&bin, 9, 1024));
        assert_eq!(stream[HEADER_LEN + 4 + 5], FLAG_ZSTD);
        for chunk in [1, 3, 20, 4096, stream.len()] {
            let mut decoder = FrameBuffer::new(DEFAULT_MAX_FRAME_SIZE);
            let mut frames = Vec::new();
            for piece in stream.chunks(chunk) {
                decoder.push(piece).unwrap();
                while let Some(f) = decoder.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            decoder.finish().unwrap();
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].stream_id, 7);
            assert_eq!(frames[0].payload, b"\x93\x01\x02\x03");
            assert_eq!(frames[1].stream_id, 9);
            assert_eq!(frames[1].payload, bin);
        }
    }

    #[test]
    fn hostile_headers_are_protocol_errors() {
        let good = frame(b"\xc0", 1, 1024);
        for (index, value) in [(0usize, b'X'), (4, 2), (5, 0x80), (6, 1), (19, 1), (20, 1)] {
            let mut bad = good.clone();
            bad[index] ^= value;
            let mut decoder = FrameBuffer::new(DEFAULT_MAX_FRAME_SIZE);
            decoder.push(&bad).unwrap();
            assert!(decoder.next_frame().is_err(), "byte {index}");
            assert!(decoder.push(b"x").is_err(), "stays closed");
        }
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut decoder = FrameBuffer::new(1 << 20);
        decoder.push(&huge[..HEADER_LEN]).unwrap();
        assert!(decoder.next_frame().is_err());
        let mut truncated = FrameBuffer::new(1 << 20);
        truncated.push(&good[..good.len() - 1]).unwrap();
        assert_eq!(truncated.next_frame().unwrap(), None);
        assert!(truncated.finish().is_err());
    }

    #[test]
    fn zstd_bomb_is_refused() {
        let zeros = vec![0u8; 1 << 20];
        let packed = compress(&zeros, 3, 0).unwrap();
        assert!(decompress(&packed, 1000).is_err());
        assert_eq!(decompress(&packed, 1 << 20).unwrap(), zeros);
        let mut trailing = packed.clone();
        trailing.push(0);
        assert!(decompress(&trailing, 1 << 20).is_err());
        assert!(decompress(&packed[..packed.len() - 1], 1 << 20).is_err());
    }

    #[test]
    fn reader_tokens_and_bounds() {
        let mut reader = Reader::new(b"\x92\xcd\x01\x00\xd0\x80");
        assert_eq!(reader.next_token().unwrap(), Token::Array(2));
        assert_eq!(reader.next_token().unwrap(), Token::UInt(256));
        assert_eq!(reader.next_token().unwrap(), Token::Int(-128));
        reader.finish().unwrap();
        assert!(Reader::new(b"\xdd\xff\xff\xff\xff").next_token().is_err());
        assert!(Reader::new(b"\xdb\x00\x00\x00\x09abc")
            .next_token()
            .is_err());
        assert!(Reader::new(b"\xc1").next_token().is_err());
    }

    #[test]
    fn seal_at_matches_seal_and_spans_match_frames() {
        let small = b"\x93\x01\x02\x03".to_vec();
        let mut big = vec![0xc5u8, 0x13, 0x88];
        big.extend(vec![0x42u8; 5000]);
        let mut out = Vec::new();
        let mut expected = Vec::new();
        for (sid, payload) in [(1u32, &small), (2, &big), (3, &small)] {
            let start = out.len();
            out.resize(start + HEADER_LEN, 0);
            out.extend_from_slice(payload);
            seal_at(&mut out, start, sid, 1024, DEFAULT_LEVEL).unwrap();
            expected.extend(frame(payload, sid, 1024));
        }
        assert_eq!(out, expected);
        let mut decoder = FrameBuffer::new(DEFAULT_MAX_FRAME_SIZE);
        decoder.push(&out).unwrap();
        let mut spans = Vec::new();
        while let Some(span) = decoder.next_span().unwrap() {
            spans.push(span);
        }
        assert_eq!(spans.len(), 3);
        assert!(matches!(spans[0].payload, Payload::Buffered(_)));
        assert!(matches!(spans[1].payload, Payload::Compressed(_)));
        let mut scratch = Vec::new();
        assert_eq!(
            decoder.payload(&spans[0], &mut scratch).unwrap(),
            &small[..]
        );
        assert_eq!(decoder.payload(&spans[1], &mut scratch).unwrap(), &big[..]);
        assert_eq!(
            decoder.payload(&spans[2], &mut scratch).unwrap(),
            &small[..]
        );
        assert_eq!(spans[2].stream_id, 3);
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn crc_padded_matches_crc32_at_every_length() {
        let data: Vec<u8> = (0..CRC_PAD_MAX as u32)
            .map(|i| (i * 131 + 7) as u8)
            .collect();
        for n in 0..=CRC_PAD_MAX {
            for split in [0, 3, 4, 8, 17] {
                if split > n {
                    continue;
                }
                let (head, tail) = data[..n].split_at(split);
                for prev in [0, 0xdead_beef] {
                    assert_eq!(
                        crc_padded(prev, head, tail),
                        crc32(crc32(prev, head), tail),
                        "n={n} split={split}"
                    );
                }
            }
        }
    }

    #[test]
    fn frame_crc_matches_plain_crc() {
        for flags in [0, FLAG_ZSTD] {
            let mut header = [0u8; HEADER_LEN];
            header[..4].copy_from_slice(&MAGIC);
            header[4] = VERSION;
            header[5] = flags;
            header[8..16].copy_from_slice(&[1, 2, 3, 4, 0, 0, 0, 9]);
            let payload = b"some payload bytes";
            let plain = crc32(crc32(0, &header[..16]), payload);
            assert_eq!(frame_crc(&header, payload), plain);
        }
    }

    #[test]
    fn crc32_matches_crc32fast_at_every_length() {
        let data: Vec<u8> = (0..400u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in 0..data.len() {
            for prev in [0u32, 0xdead_beef, u32::MAX] {
                let mut hasher = crc32fast::Hasher::new_with_initial(prev);
                hasher.update(&data[..len]);
                assert_eq!(crc32(prev, &data[..len]), hasher.finalize(), "len {len}");
            }
        }
        assert_eq!(crc32(0, b"hello world"), 0x0d4a_1185);
    }

    #[test]
    fn levels() {
        assert!(check_level(0).is_err());
        assert!(check_level(23).is_err());
        assert_eq!(check_level(22), Ok(22));
    }
}
