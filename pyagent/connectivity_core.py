"""ConnectivityCore: the framed binary transport (MessagePack / Zstandard) between agents.

A frame is a fixed 20-byte header followed by the payload; all integers are big-endian::

    offset size field
    0      4    magic b"PYAF"
    4      1    version, 1
    5      1    flags: bit 0 = the payload is one Zstandard frame; other bits must be zero
    6      2    reserved, zero
    8      4    stream id (u32): the logical stream the message belongs to
    12     4    payload length in bytes (u32)
    16     4    CRC-32 (zlib.crc32, IEEE) of bytes 0..16 followed by the payload

The payload is standard MessagePack, exactly ``msgpack.packb(obj, use_bin_type=True)``, so
any msgpack library reads it; when it is longer than ``compress_threshold`` bytes it is
compressed into one standard Zstandard frame (``zstandard.ZstdCompressor(level).compress``,
content size in the frame header) and flag bit 0 is set. The CRC covers the header too, so a
flipped stream id or flag is caught as surely as a flipped payload byte.

Why these choices: CRC-32 is what ``zlib`` computes in C in every Python, with no extra
dependency, and catches the corruption a transport sees (it is not a MAC: an attacker can
forge it; authenticate at another layer). MessagePack and Zstandard are the wire formats
agents already speak; a fixed header lets a decoder check magic, version, flags and the
announced length before it has the payload.

Hostile input never costs more memory than the bytes actually received: the announced length
is checked against the decoder's ``max_frame_size`` as soon as the header is complete, a
compressed payload must declare its decompressed size (Zstandard's content-size field) within
the same limit and is decompressed into exactly that capacity, and everything malformed (bad
magic, version, flags or reserved bytes, oversized, checksum mismatch, bad Zstandard or
MessagePack, trailing data) raises :class:`ProtocolError`. ``rust_core.binary_transport``
raises this very class (it imports it from here), so ``except ProtocolError`` works with
either backend.

Both backends produce byte-identical frames for the same object and settings: the Rust
encoder writes msgpack-python's encodings (smallest integer form, float64, bin for
bytes/bytearray/memoryview, str, map, array, ExtType/Timestamp) and compresses with the same
libzstd version (1.5.7) the ``zstandard`` wheel bundles.
"""

from __future__ import annotations

import struct
import threading
import zlib
from typing import Any

import msgpack
import zstandard

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "DEFAULT_COMPRESS_THRESHOLD",
    "DEFAULT_LEVEL",
    "DEFAULT_MAX_FRAME_SIZE",
    "FLAG_ZSTD",
    "HEADER_SIZE",
    "MAGIC",
    "VERSION",
    "FrameDecoder",
    "ProtocolError",
    "encode_frame",
]

MAGIC = b"PYAF"
VERSION = 1
FLAG_ZSTD = 0x01
HEADER_SIZE = 20
#: MessagePack payloads longer than this many bytes are Zstandard-compressed by default.
DEFAULT_COMPRESS_THRESHOLD = 1024
#: Zstandard level by default (libzstd's own default); levels 1..22 are accepted.
DEFAULT_LEVEL = 3
MIN_LEVEL, MAX_LEVEL = 1, 22
#: The largest payload, stored or decompressed, a decoder accepts by default: 64 MiB.
DEFAULT_MAX_FRAME_SIZE = 64 << 20
_MAX_PAYLOAD = 0xFFFFFFFF

# magic, version, flags, reserved, stream id, payload length (the CRC follows).
_HEAD = struct.Struct(">4sBBHII")
_CRC = struct.Struct(">I")


class ProtocolError(ValueError):
    """A frame is malformed, oversized, corrupt or of an unknown magic or version.

    Raised by both backends (``rust_core`` raises this class, imported from here). A
    decoder that raised it is closed: its stream position can no longer be trusted.
    """


_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    # One compressor per level and thread: zstandard objects are not thread-safe, and
    # building one per frame would time its allocation rather than the compression.
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    compressor = cache.get(level)
    if compressor is None:
        compressor = cache[level] = zstandard.ZstdCompressor(level=level)
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    decompressor: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def _int_arg(value: object, what: str) -> int:
    if not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


def _check_stream_id(stream_id: object) -> int:
    value = _int_arg(stream_id, "stream_id")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"stream_id must be in [0, 2**32), got {value!r}")
    return value


def _check_threshold(compress_threshold: object) -> int:
    value = _int_arg(compress_threshold, "compress_threshold")
    if value < 0:
        raise ValueError("compress_threshold must be >= 0")
    return value


def _check_level(level: object) -> int:
    value = _int_arg(level, "level")
    if not MIN_LEVEL <= value <= MAX_LEVEL:
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}, got {value}")
    return value


def _check_max_frame_size(max_frame_size: object) -> int:
    value = _int_arg(max_frame_size, "max_frame_size")
    if value < 1:
        raise ValueError("max_frame_size must be >= 1")
    return value


def encode_frame(
    obj: Any,
    stream_id: int = 0,
    *,
    compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD,
    level: int = DEFAULT_LEVEL,
) -> bytes:
    """One frame carrying ``obj`` on ``stream_id`` (see the module docstring for the layout).

    ``obj`` is anything msgpack-python packs: None, bool, int (-2**63 .. 2**64-1; beyond is
    OverflowError), float (always float64), str, bytes/bytearray/memoryview (bin), dict,
    list/tuple (array), ``msgpack.ExtType`` and ``msgpack.Timestamp``; another type is a
    TypeError, nesting deeper than 1024 a ValueError. The MessagePack is Zstandard-compressed
    at ``level`` (1..22) when longer than ``compress_threshold`` bytes. Arguments are
    checked in order (stream id, threshold, level): TypeError for a non-int, ValueError out
    of range.
    """
    if rc is not None and hasattr(rc, "binary_transport"):
        return rc.binary_transport.encode_frame(
            obj, stream_id, compress_threshold=compress_threshold, level=level
        )
    sid = _check_stream_id(stream_id)
    threshold = _check_threshold(compress_threshold)
    lvl = _check_level(level)
    payload: bytes = msgpack.packb(obj, use_bin_type=True)
    flags = 0
    if len(payload) > threshold:
        payload = _compressor(lvl).compress(payload)
        flags |= FLAG_ZSTD
    if len(payload) > _MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes does not fit in a frame")
    head = _HEAD.pack(MAGIC, VERSION, flags, 0, sid, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((head, _CRC.pack(crc), payload))


def _decompress(payload: bytes, limit: int) -> bytes:
    try:
        size = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"no valid Zstandard frame header: {exc}") from exc
    if size < 0:
        raise ProtocolError("compressed payload does not declare its content size")
    if size > limit:
        raise ProtocolError(f"compressed payload declares {size} bytes, above the limit {limit}")
    try:
        # With the content size declared, zstandard decompresses into exactly that capacity.
        return _decompressor().decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"bad Zstandard payload: {exc}") from exc


def _unpack(payload: bytes) -> Any:
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # every malformation msgpack reports (ValueError, TypeError...)
        raise ProtocolError(f"bad MessagePack payload: {exc}") from exc


class FrameDecoder:
    """Incremental decoder: :meth:`feed` bytes in any chunking, get whole messages back.

    ``max_frame_size`` (an int >= 1) bounds each payload, stored and decompressed; a frame
    announcing more is refused as soon as its header arrives. The first bad frame raises
    :class:`ProtocolError` (messages completed earlier in the same :meth:`feed` call are
    dropped with it) and closes the decoder: every later call raises ProtocolError too.
    """

    def __new__(cls, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> FrameDecoder:
        """The Rust decoder when rust_core provides it, else this class."""
        if rc is not None and hasattr(rc, "binary_transport"):
            return rc.binary_transport.FrameDecoder(max_frame_size)
        return super().__new__(cls)

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._max = _check_max_frame_size(max_frame_size)
        self._buffer = bytearray()
        self._failed: str | None = None

    @property
    def max_frame_size(self) -> int:
        """The payload size limit this decoder enforces."""
        return self._max

    @property
    def pending(self) -> int:
        """Bytes received that do not form a whole frame yet."""
        return len(self._buffer)

    def _check_open(self) -> None:
        if self._failed is not None:
            raise ProtocolError(f"decoder closed by an earlier error: {self._failed}")

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        self._failed = str(exc)
        return exc

    def feed(self, data: Any) -> list[tuple[int, Any]]:
        """Appends ``data`` (any bytes-like object).

        Returns ``(stream_id, obj)`` for every frame it completes, in order.
        """
        with memoryview(data) as view:
            if not view.c_contiguous:
                raise BufferError("feed needs a C-contiguous buffer")
            self._check_open()
            self._buffer += view
        buf = self._buffer
        out: list[tuple[int, Any]] = []
        pos = 0
        try:
            while len(buf) - pos >= HEADER_SIZE:
                magic, version, flags, reserved, stream_id, length = _HEAD.unpack_from(buf, pos)
                self._check_header(magic, version, flags, reserved, length)
                end = pos + HEADER_SIZE + length
                if len(buf) < end:
                    break
                (expected,) = _CRC.unpack_from(buf, pos + 16)
                payload = bytes(buf[pos + HEADER_SIZE : end])
                if zlib.crc32(payload, zlib.crc32(buf[pos : pos + 16])) != expected:
                    raise ProtocolError("frame checksum mismatch")
                if flags & FLAG_ZSTD:
                    payload = _decompress(payload, self._max)
                out.append((stream_id, _unpack(payload)))
                pos = end
        except ProtocolError as exc:
            raise self._fail(exc) from exc.__cause__
        del buf[:pos]
        return out

    def _check_header(
        self, magic: bytes, version: int, flags: int, reserved: int, length: int
    ) -> None:
        if magic != MAGIC:
            raise ProtocolError(f"bad frame magic {magic!r}")
        if version != VERSION:
            raise ProtocolError(f"unsupported frame version {version}")
        if flags & ~FLAG_ZSTD:
            raise ProtocolError(f"unknown frame flags {flags:#04x}")
        if reserved:
            raise ProtocolError("reserved header bytes are not zero")
        if length > self._max:
            raise ProtocolError(f"frame payload of {length} bytes exceeds the limit of {self._max}")

    def finish(self) -> None:
        """Raises ProtocolError if the stream ended inside a frame (bytes still pending)."""
        self._check_open()
        if self._buffer:
            raise self._fail(
                ProtocolError(f"stream ended inside a frame ({len(self._buffer)} bytes pending)")
            )
