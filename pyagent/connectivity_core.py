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

The payload is standard MessagePack, ``msgpack.packb(obj, use_bin_type=True)`` (subclasses
of builtins read by their storage: :func:`_by_storage`), so any msgpack library reads it; when
longer than ``compress_threshold`` bytes it is compressed into one standard Zstandard frame
(``zstandard.ZstdCompressor(level).compress``, content size in the frame header) and flag bit
0 is set. The CRC covers the header, so a flipped stream id or flag is caught like a payload byte.

Why these choices: CRC-32 is what ``zlib`` computes in C in every Python, with no extra
dependency, and catches the corruption a transport sees (it is not a MAC: an attacker can
forge it; authenticate at another layer). MessagePack and Zstandard are the wire formats
agents already speak; a fixed header lets a decoder check magic, version, flags and the
announced length before it has the payload.

Hostile input never costs more memory than the bytes actually received, plus a bounded
amount: the announced length
is checked against the decoder's ``max_frame_size`` as soon as the header is complete, a
compressed payload must declare its decompressed size (Zstandard's content-size field) within
the same limit and is decompressed into exactly that capacity, and everything malformed (bad
magic, version, flags or reserved bytes, oversized, checksum mismatch, bad Zstandard or
MessagePack, trailing data, more objects in one frame than its budget, see
:data:`FRAME_OBJECTS_BASE`) raises
:class:`ProtocolError`. ``rust_core.binary_transport``
raises this very class (it imports it from here), so ``except ProtocolError`` works with
either backend.

Both backends produce byte-identical frames for the same object and settings: the Rust
encoder writes msgpack-python's encodings (smallest integer form, float64, bin for
bytes/bytearray/memoryview, str, map, array, ExtType/Timestamp) and compresses with the same
libzstd version (1.5.7) the ``zstandard`` wheel bundles.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import struct
import threading
import time
import weakref
import zlib
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import msgpack
import zstandard

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "CONTROL_STREAM",
    "DEFAULT_COMPRESS_THRESHOLD",
    "DEFAULT_LEVEL",
    "DEFAULT_MAX_FRAME_SIZE",
    "FLAG_ZSTD",
    "FRAME_OBJECTS_BASE",
    "FRAME_OBJECTS_PER_BYTE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_TIMEOUT",
    "PROTOCOL_VERSION",
    "VERSION",
    "Connection",
    "ConnectionClosedError",
    "FrameDecoder",
    "Listener",
    "ProtocolError",
    "encode_frame",
    "encode_frames",
    "establish_connection",
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
#: Objects a frame may decode to, counted as every array 1 plus its length and every map 1
#: plus twice its entries (once built, repeated keys merged): ``FRAME_OBJECTS_BASE`` plus
#: ``FRAME_OBJECTS_PER_BYTE`` per payload byte received (compressed or not). The
#: decompression cap bounds a payload's bytes, not what they expand to: one byte of
#: MessagePack (an empty array) is some 80 bytes of Python objects, so a 300-byte Zstandard
#: frame became 600 MB. An uncompressed payload never reaches the budget (no item is shorter
#: than a byte, and a count covers at most two items); a compressed one may expand 4 counts
#: per byte received, past a floor of about a million. The same numbers in rust_core.
FRAME_OBJECTS_BASE = 1 << 20
FRAME_OBJECTS_PER_BYTE = 4

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
    return int.__int__(value)  # an int subclass by its stored value, as rust_core reads it


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
    return _encode(obj, sid, threshold, lvl)


def encode_frames(
    messages: Iterable[tuple[int, Any]],
    *,
    compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD,
    level: int = DEFAULT_LEVEL,
) -> bytes:
    """The frames of every ``(stream_id, obj)`` in ``messages``, concatenated.

    Byte for byte ``b"".join(encode_frame(obj, sid, ...) for sid, obj in messages)``: the
    batch form, for a sender with many messages at hand (one call and one bytes object
    instead of one per frame; the stream decodes exactly as the separate frames would).
    ``compress_threshold`` and ``level`` are checked first, even for no messages; then each
    item is unpacked as ``sid, obj`` (TypeError or ValueError for anything but two values)
    and encoded in order, the first error raised as :func:`encode_frame` raises it.
    """
    if rc is not None and hasattr(rc, "binary_transport"):
        return rc.binary_transport.encode_frames(
            messages, compress_threshold=compress_threshold, level=level
        )
    threshold = _check_threshold(compress_threshold)
    lvl = _check_level(level)
    return b"".join(_encode(obj, _check_stream_id(sid), threshold, lvl) for sid, obj in messages)


def _encode(obj: Any, sid: int, threshold: int, lvl: int) -> bytes:
    payload: bytes = msgpack.packb(obj, use_bin_type=True, strict_types=True, default=_by_storage)
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
    if size == 0:
        # Empty content is b"" whatever follows, as in rust_core. zstandard reads a skippable
        # frame (content size 0) by allocating the length it declares, up to 4 GiB from a
        # 28-byte frame, before finding it is not there.
        return b""
    try:
        # With the content size declared, zstandard decompresses into exactly that capacity.
        return _decompressor().decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"bad Zstandard payload: {exc}") from exc


class _TooManyObjects(ValueError):
    pass


def _unpack(payload: bytes, wire_len: int) -> Any:
    """The object of one MessagePack payload that took ``wire_len`` bytes in its frame."""
    objects = 0
    budget = FRAME_OBJECTS_BASE + FRAME_OBJECTS_PER_BYTE * wire_len

    def count(n: int) -> None:
        nonlocal objects
        objects += n
        if objects > budget:
            raise _TooManyObjects(f"frame decodes to more than {budget} objects")

    def list_hook(items: list[Any]) -> list[Any]:
        count(1 + len(items))
        return items

    def object_hook(mapping: dict[Any, Any]) -> dict[Any, Any]:
        count(1 + 2 * len(mapping))
        return mapping

    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=False,
            use_list=True,
            list_hook=list_hook,
            object_hook=object_hook,
            # Refused at the header, before a list or dict of that size is made.
            max_array_len=budget,
            max_map_len=budget // 2,
        )
    except _TooManyObjects as exc:
        raise ProtocolError(str(exc)) from None
    except Exception as exc:  # every malformation msgpack reports (ValueError, TypeError...)
        raise ProtocolError(f"bad MessagePack payload: {exc}") from exc


class FrameDecoder:
    """Incremental decoder: :meth:`feed` bytes in any chunking, get whole messages back.

    ``max_frame_size`` (an int >= 1) bounds each payload, stored and decompressed; a frame
    announcing more is refused as soon as its header arrives. The first bad frame raises
    :class:`ProtocolError` (messages completed earlier in the same :meth:`feed` call are
    dropped with it) and closes the decoder: every later call raises ProtocolError too.

    Thread safety: calls are serialised by a lock (a mutex in Rust), so two threads feeding
    one decoder never interleave inside a call; which call's bytes come first is theirs to
    order. Pickling, ``copy.copy`` and ``copy.deepcopy`` keep the bytes of a partly received
    frame and the closed state (a closed decoder keeps no bytes), on either backend: the pickle
    names this class, so it loads with or without rust_core.
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
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        """``(FrameDecoder, (max_frame_size,), state)``; see :meth:`__getstate__`."""
        return (FrameDecoder, (self._max,), self.__getstate__())

    def __getstate__(self) -> dict[str, Any]:
        """``{"pending": bytes, "failed": str or None}``.

        The bytes of a partly received frame, and the message of the error that closed the
        decoder (which then keeps no bytes).
        """
        with self._lock:
            if self._failed is not None:
                return {"pending": b"", "failed": self._failed}
            return {"pending": bytes(self._buffer), "failed": None}

    def __setstate__(self, state: object) -> None:
        """Restores a pickled state; ValueError (decoder unchanged) for a malformed one."""
        if (
            not isinstance(state, dict)
            or set(state) != {"pending", "failed"}
            or type(state["pending"]) is not bytes
            or not (state["failed"] is None or isinstance(state["failed"], str))
            or (state["failed"] is not None and state["pending"])
        ):
            raise ValueError(
                "invalid FrameDecoder state: expected {'pending': bytes, 'failed': str or None}"
            )
        with self._lock:
            self._buffer = bytearray(state["pending"])
            self._failed = state["failed"]

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
        with self._lock:
            return self._feed(data)

    def _feed(self, data: Any) -> list[tuple[int, Any]]:
        frames, error = self._split(data)
        try:
            out = [(sid, self._open(flags, payload)) for sid, flags, payload in frames]
            if error is not None:
                raise error
        except ProtocolError as exc:
            raise self._fail(exc) from exc.__cause__
        return out

    def _split(self, data: Any) -> tuple[list[tuple[int, int, bytes]], ProtocolError | None]:
        """Appends ``data``; the whole frames it completes, and the error that stopped them.

        Each frame is ``(stream_id, flags, payload)``, its header and checksum verified and
        its bytes cut from the buffer; the first frame with a bad header or checksum stops
        the split (it stays in the buffer) and is returned as the error. Payloads are not
        decompressed or unpacked here (:meth:`_open` does that), as in rust_core: a frame
        whose payload turns out bad is consumed, and the frames before it are whole.
        """
        with memoryview(data) as view:
            if not view.c_contiguous:
                raise BufferError("feed needs a C-contiguous buffer")
            self._check_open()
            self._buffer += view
        buf = self._buffer
        frames: list[tuple[int, int, bytes]] = []
        error: ProtocolError | None = None
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
                frames.append((stream_id, flags, payload))
                pos = end
        except ProtocolError as exc:
            error = exc
        del buf[:pos]
        return frames, error

    def _open(self, flags: int, payload: bytes) -> Any:
        """The object of one split frame: decompressed if flagged, then unpacked."""
        return _unpack(self._inflate(flags, payload), len(payload))

    def _inflate(self, flags: int, payload: bytes) -> bytes:
        """The MessagePack of one split frame: its payload, decompressed if flagged."""
        return _decompress(payload, self._max) if flags & FLAG_ZSTD else payload

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
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        self._check_open()
        if self._buffer:
            raise self._fail(
                ProtocolError(f"stream ended inside a frame ({len(self._buffer)} bytes pending)")
            )


# --- Connections: establish_native_rust ------------------------------------------------------
#
# Handshake, before any frame: the client sends b"PYAC" and the lowest and highest protocol
# versions it speaks (u16 big-endian each); the server answers b"PYAC" and the version it
# chose (u16; 0 = no common version, after which it closes). Both sides speak version 1.
# Then both send frames. Stream id 2**32 - 1 is the control stream: its payloads are
# [0, token] (ping), [1, token] (pong, sent by the peer's reader) and [2] (close).

HELLO_MAGIC = b"PYAC"
PROTOCOL_VERSION = 1
#: The stream id reserved for pings, pongs and close notices; send() refuses it.
CONTROL_STREAM = 0xFFFFFFFF
DEFAULT_CONNECT_TIMEOUT = 10.0
#: A timeout above this many seconds (about 68 years; ``inf`` included) means no limit: the
#: same in both backends, and below what threads and sockets can wait for.
MAX_TIMEOUT = float(2**31)
DEFAULT_PING_TIMEOUT = 5.0
_PING, _PONG, _CLOSE = 0, 1, 2
_HELLO = struct.Struct(">4sHH")
_REPLY = struct.Struct(">4sH")
_READ_CHUNK = 256 * 1024
# How long close() waits for a sender to finish its frame before cutting the socket under it:
# a peer that stopped reading would otherwise hold close() for ever.
_CLOSE_GRACE = 1.0
# A close frame that does not fit the socket buffer at once is dropped rather than waited on.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class ConnectionClosedError(ConnectionError):
    """The connection (or listener) is closed: by this side, by the peer, or lost."""


def _check_timeout(timeout: object) -> float | None:
    """``None`` (no limit) or seconds > 0 as a float; above :data:`MAX_TIMEOUT` means None.

    Compared before any conversion, so ``inf`` and ints of any size (``2**64``) are no limit
    rather than an OverflowError; NaN and values <= 0 are a ValueError, a non-number (bool
    included) a TypeError.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    if timeout != timeout or timeout <= 0:
        raise ValueError("timeout must be > 0 or None")
    if timeout > MAX_TIMEOUT:
        return None
    return float(timeout)


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    port = int.__int__(port)  # an int subclass by its stored value, as rust_core reads it
    if not 0 <= port <= 0xFFFF:
        raise OverflowError("port must be 0-65535.")
    return port


def _check_host(host: object) -> str:
    """The host as the ASCII name or address handed to ``getaddrinfo``.

    Both backends call this (rust_core imports it), so they accept and refuse the same
    hosts: TypeError for a non-str, ValueError for an empty host (it would mean "every
    interface" to a listening socket; say ``"0.0.0.0"`` or ``"::"`` for that) or one with a
    NUL character, UnicodeError (a ValueError) for one the IDNA codec cannot encode (lone
    surrogates, an empty or over-long label). Internationalised names are IDNA-encoded, as
    :func:`socket.getaddrinfo` encodes them.
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if not host:
        raise ValueError(
            "host must not be empty (use '0.0.0.0' or '::' to listen on every interface)"
        )
    if "\0" in host:
        raise ValueError("host contains a NUL character")
    return host.encode("idna").decode("ascii")


def _check_send_stream(stream_id: object) -> int:
    value = _int_arg(stream_id, "stream_id")
    if not 0 <= value < CONTROL_STREAM:
        raise ValueError("stream_id must be in [0, 2**32 - 1) (2**32 - 1 is the control stream)")
    return value


def _remaining(deadline: float | None, what: str) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"{what} timed out")
    return left


def _recv_exact(sock: socket.socket, n: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionClosedError(f"peer closed during {what}")
        data += chunk
    return bytes(data)


def _control(kind: int, token: int | None = None) -> bytes:
    body = [kind] if token is None else [kind, token]
    return _encode(body, CONTROL_STREAM, _MAX_PAYLOAD, MIN_LEVEL)


#: MessagePack markers of an array length and of an unsigned int: (marker, bytes that follow).
_ARRAY_MARKERS = {0xDC: 2, 0xDD: 4}
_UINT_MARKERS = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}


def _msgpack_count(
    payload: bytes, pos: int, markers: dict[int, int], fixed: int, fixed_max: int
) -> tuple[int, int] | None:
    """``(value, next position)`` of the fixint-style or sized header at ``pos``, or None."""
    if pos >= len(payload):
        return None
    marker = payload[pos]
    if fixed <= marker <= fixed_max:
        return marker - fixed, pos + 1
    size = markers.get(marker)
    if size is None or pos + 1 + size > len(payload):
        return None
    return int.from_bytes(payload[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _parse_control(payload: bytes) -> tuple[int, int | None] | None:
    """``(kind, token or None)`` of a control payload, or None when it is not one.

    A control payload is a MessagePack array of one or two unsigned ints and nothing
    after, read from its bytes as rust_core reads it: an int in a signed encoding (int8 ..
    int64), even a non-negative one, is not a control message.
    """
    head = _msgpack_count(payload, 0, _ARRAY_MARKERS, 0x90, 0x9F)
    if head is None or not 1 <= head[0] <= 2:
        return None
    values: list[int] = []
    pos = head[1]
    for _ in range(head[0]):
        item = _msgpack_count(payload, pos, _UINT_MARKERS, 0x00, 0x7F)
        if item is None:
            return None
        value, pos = item
        values.append(value)
    if pos != len(payload):
        return None
    return values[0], (values[1] if len(values) == 2 else None)


def _cannot_move(kind: str) -> TypeError:
    """The error pickling or copying a live socket object gives, on both backends."""
    return TypeError(
        f"cannot pickle {kind!r} object: it owns a live socket of this process; "
        "open a new one in the other process"
    )


class _Link:
    """The state and threads behind one :class:`Connection`.

    The reader and pong threads hold this object, never the Connection itself, so a
    Connection dropped without :meth:`Connection.close` is collected, and its finalizer
    closes the link: the socket is shut down, both threads end and the socket is closed.
    The public methods behave as documented on :class:`Connection`.
    """

    def __init__(self, sock: socket.socket, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._streams: dict[int, deque[Any]] = {}
        self._order: deque[int] = deque()
        self._skip: dict[int, int] = {}
        self._pongs: set[int] = set()
        self._end: Exception | None = None
        self._closed = False
        self._tokens = itertools.count(1)
        # Ping tokens to answer (None: the reader has stopped); the pong thread writes them.
        self._pong_queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._ponger: threading.Thread | None = None
        # The Python decoder itself, whatever backend serves FrameDecoder().
        self._decoder = object.__new__(FrameDecoder)
        self._decoder.__init__(max_frame_size)  # type: ignore[misc]
        self._reader = threading.Thread(
            target=self._read_loop, name="pyagent-conn-reader", daemon=True
        )
        self._reader.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError("connection is closed")

    def _write(self, frame: bytes) -> None:
        with self._send_lock:
            try:
                self._sock.sendall(frame)
            except OSError as exc:
                raise ConnectionClosedError(f"send failed: {exc}") from exc

    def send(self, stream_id: int, obj: Any) -> None:
        sid = _check_send_stream(stream_id)
        self._check_open()
        self._write(_encode(obj, sid, DEFAULT_COMPRESS_THRESHOLD, DEFAULT_LEVEL))

    def _finish(self, end: Exception) -> None:
        with self._cond:
            if self._end is None:
                self._end = end
            self._cond.notify_all()

    def _wait(self, deadline: float | None) -> None:
        # Called with self._cond held.
        if self._end is not None:
            raise self._end
        if self._closed:
            raise ConnectionClosedError("connection is closed")
        left = _remaining(deadline, "receive")
        self._cond.wait(left)

    def recv(self, timeout: float | None = None) -> tuple[int, Any]:
        t = _check_timeout(timeout)
        self._check_open()
        deadline = None if t is None else time.monotonic() + t
        with self._cond:
            while True:
                while self._order:
                    sid = self._order.popleft()
                    if self._skip.get(sid, 0) > 0:
                        self._skip[sid] -= 1
                        continue
                    queue = self._streams.get(sid)
                    if queue:
                        return sid, _unpack(*queue.popleft())
                self._wait(deadline)

    def recv_stream(self, stream_id: int, timeout: float | None = None) -> Any:
        sid = _check_send_stream(stream_id)
        t = _check_timeout(timeout)
        self._check_open()
        deadline = None if t is None else time.monotonic() + t
        with self._cond:
            while True:
                queue = self._streams.get(sid)
                if queue:
                    self._skip[sid] = self._skip.get(sid, 0) + 1
                    return _unpack(*queue.popleft())
                self._wait(deadline)

    def ping(self, timeout: float | None = DEFAULT_PING_TIMEOUT) -> float:
        t = _check_timeout(timeout)
        self._check_open()
        token = next(self._tokens)
        start = time.perf_counter()
        self._write(_control(_PING, token))
        deadline = None if t is None else time.monotonic() + t
        with self._cond:
            while token not in self._pongs:
                try:
                    self._wait(deadline)
                except TimeoutError:
                    raise TimeoutError("ping timed out") from None
            self._pongs.discard(token)
        return time.perf_counter() - start

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        locked = self._send_lock.acquire(timeout=_CLOSE_GRACE)
        try:
            if locked:
                with contextlib.suppress(OSError):
                    self._sock.send(_control(_CLOSE), _DONTWAIT)
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        finally:
            if locked:
                self._send_lock.release()
        self._finish(ConnectionClosedError("connection is closed"))
        if self._reader is not threading.current_thread():
            self._reader.join()
        # Read after the reader is gone: only the reader starts the pong thread. It ends on
        # a None (the reader's, or this one when close runs on the reader thread itself, from
        # a finalizer) or on a failed write to the shut-down socket.
        self._pong_queue.put(None)
        if self._ponger is not None and self._ponger is not threading.current_thread():
            self._ponger.join()
        self._sock.close()
        with self._cond:
            self._streams.clear()
            self._order.clear()

    def _read_loop(self) -> None:
        try:
            self._read_frames()
        finally:
            self._pong_queue.put(None)

    def _pong_loop(self) -> None:
        """Writes the pongs the reader queues, several per lock when they pile up."""
        while True:
            token = self._pong_queue.get()
            tokens: list[int | None] = [token]
            with contextlib.suppress(queue.Empty):
                while tokens[-1] is not None:
                    tokens.append(self._pong_queue.get_nowait())
            out = b"".join(_control(_PONG, t) for t in tokens if t is not None)
            if out:
                try:
                    self._write(out)
                except ConnectionClosedError:
                    return
            if tokens[-1] is None:
                return

    def _answer_ping(self, token: int) -> None:
        # Only the reader thread calls this, so the pong thread starts once.
        self._pong_queue.put(token)
        if self._ponger is None:
            self._ponger = threading.Thread(
                target=self._pong_loop, name="pyagent-conn-ponger", daemon=True
            )
            self._ponger.start()

    def _read_frames(self) -> None:
        while True:
            try:
                data = self._sock.recv(_READ_CHUNK)
            except OSError as exc:
                self._finish(ConnectionClosedError(f"connection lost: {exc}"))
                return
            if not data:
                self._finish(ConnectionClosedError("peer closed the connection"))
                return
            if not self._deliver(*self._decoder._split(data)):
                return

    def _deliver(self, frames: list[tuple[int, int, bytes]], error: Exception | None) -> bool:
        """Queues one batch; False once the reader must stop (peer closed, bad frame).

        Data payloads are queued as received and opened by the receive that takes them, as
        rust_core does: a bad payload is that receive's ProtocolError, and the whole frames
        before a bad header or checksum are delivered before it ends the connection.
        """
        batch: list[tuple[int, tuple[bytes, int]]] = []
        pongs: list[int] = []
        end: Exception | None = None
        for sid, flags, payload in frames:
            try:
                body = self._decoder._inflate(flags, payload)
            except ProtocolError as exc:
                end = exc
                break
            if sid != CONTROL_STREAM:
                batch.append((sid, (body, len(payload))))
                continue
            control = _parse_control(body)
            if control is not None and control[0] == _PING and control[1] is not None:
                self._answer_ping(control[1])
            elif control is not None and control[0] == _PONG and control[1] is not None:
                pongs.append(control[1])
            elif control == (_CLOSE, None):
                end = ConnectionClosedError("peer closed the connection")
                break
            else:
                end = ProtocolError("bad control message")
                break
        else:
            end = error
        with self._cond:
            for sid, obj in batch:
                self._streams.setdefault(sid, deque()).append(obj)
                self._order.append(sid)
            self._pongs.update(pongs)
            self._cond.notify_all()
        if end is not None:
            self._finish(end)
            return False
        return True


class Connection:
    """One side of an established connection: logical streams multiplexed on one socket.

    Built by :func:`establish_connection` (client) or :meth:`Listener.accept` (server). A
    reader thread splits incoming frames and queues messages per stream and in arrival
    order; a message is delivered once, by :meth:`recv` or :meth:`recv_stream`. The reader
    never writes: it hands pings to a pong thread (started at the first ping), because a
    reader that wrote its pongs would wait for the send lock, held by a sender waiting for
    the peer to read, whose reader may wait the same way; with both sides sending and
    pinging, every thread would stop.
    Messages of one stream arrive in the order they were sent. Queues are unbounded: a
    receiver that never reads keeps what the peer sends. After a protocol error or the
    peer's close, queued messages can still be read, then the error (ProtocolError or
    ConnectionClosedError) is raised; after :meth:`close`, every call raises
    ConnectionClosedError.

    Dropping a Connection without closing it closes it when it is collected (socket and
    threads are released), as leaving a ``with`` block does; closing explicitly remains the
    way to choose the moment.

    Thread safety: any number of threads may send, receive and close at once (sends are
    serialised by a lock, receives share the queues). A connection cannot be pickled or
    copied (TypeError on both backends): its socket lives in this process.
    """

    __slots__ = ("__weakref__", "_closer", "_link")

    def __reduce__(self) -> tuple[Any, ...]:
        """Always TypeError: a live connection cannot move to another process."""
        raise _cannot_move("Connection")

    def __init__(self, sock: socket.socket, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._link = _Link(sock, max_frame_size)
        # The finalizer holds the link, not self; it runs once, at close() or collection.
        self._closer = weakref.finalize(self, self._link.close)
        # At interpreter exit the process ends anyway: never hold it up on a stalled peer.
        self._closer.atexit = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._link.closed

    def send(self, stream_id: int, obj: Any) -> None:
        """Sends ``obj`` (anything :func:`encode_frame` takes) on stream ``stream_id``."""
        self._link.send(stream_id, obj)

    def recv(self, timeout: float | None = None) -> tuple[int, Any]:
        """The next message of any stream as ``(stream_id, obj)``, in arrival order.

        TimeoutError after ``timeout`` seconds (None: wait as long as it takes).
        """
        return self._link.recv(timeout)

    def recv_stream(self, stream_id: int, timeout: float | None = None) -> Any:
        """The next message of stream ``stream_id``; TimeoutError after ``timeout`` seconds."""
        return self._link.recv_stream(stream_id, timeout)

    def ping(self, timeout: float | None = DEFAULT_PING_TIMEOUT) -> float:
        """A real round trip (ping frame out, the peer's pong back); the seconds it took."""
        return self._link.ping(timeout)

    def close(self) -> None:
        """Tells the peer, shuts the socket down and joins its threads; idempotent.

        Never waits long on the peer: the close frame is written only if no sender holds
        the socket for more than a second, and only as far as the socket buffer takes it
        at once. Otherwise the socket is shut down under the blocked sender, which then
        raises ConnectionClosedError, and the peer sees the connection end without it.
        """
        self._closer()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def establish_connection(
    host: str, port: int, timeout: float | None = DEFAULT_CONNECT_TIMEOUT
) -> Connection:
    """Connects to a :class:`Listener` at ``host:port``: TCP, then the version handshake.

    Both must finish within ``timeout`` seconds (None, ``inf`` or anything above
    :data:`MAX_TIMEOUT`: no limit), else TimeoutError. ``host`` is checked by
    :func:`_check_host` (TypeError, ValueError for an empty host or a NUL, UnicodeError for
    one IDNA cannot encode); a name that does not resolve raises :class:`socket.gaierror`; a
    refused or unreachable address raises the OSError the system reports (e.g.
    ConnectionRefusedError); a peer that is not a PyAgent endpoint or shares no protocol
    version raises ProtocolError; one that hangs up mid-handshake ConnectionClosedError.
    """
    if rc is not None and hasattr(rc, "establish_native_rust"):
        return rc.establish_native_rust(host, port, timeout)
    h = _check_host(host)
    p = _check_port(port)
    t = _check_timeout(timeout)
    deadline = None if t is None else time.monotonic() + t
    sock = socket.create_connection((h, p), timeout=t)
    try:
        sock.settimeout(_remaining(deadline, "handshake"))
        sock.sendall(_HELLO.pack(HELLO_MAGIC, PROTOCOL_VERSION, PROTOCOL_VERSION))
        magic, version = _REPLY.unpack(_recv_exact(sock, _REPLY.size, "handshake"))
        if magic != HELLO_MAGIC:
            raise ProtocolError("peer is not a PyAgent endpoint")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"no common protocol version (peer chose {version})")
        return Connection(sock)
    except BaseException:
        sock.close()
        raise


def _serve_handshake(sock: socket.socket, deadline: float | None) -> Connection:
    try:
        sock.settimeout(_remaining(deadline, "handshake"))
        magic, low, high = _HELLO.unpack(_recv_exact(sock, _HELLO.size, "handshake"))
        if magic != HELLO_MAGIC:
            raise ProtocolError("peer is not a PyAgent endpoint")
        chosen = PROTOCOL_VERSION if low <= PROTOCOL_VERSION <= high else 0
        sock.sendall(_REPLY.pack(HELLO_MAGIC, chosen))
        if not chosen:
            raise ProtocolError(f"no common protocol version (peer speaks {low}..{high})")
        return Connection(sock)
    except BaseException:
        sock.close()
        raise


class Listener:
    """A listening TCP socket; :meth:`accept` returns connections with the handshake done.

    ``port=0`` picks a free port (read it from :attr:`port`). ``host`` is checked as
    :func:`establish_connection` checks it (an empty host is a ValueError: say ``"0.0.0.0"``
    or ``"::"`` to listen on every interface) and resolved with ``AI_PASSIVE``; the first
    address is bound (an IPv6 one dual-stack where the system allows it). A name that does
    not resolve is :class:`socket.gaierror`, a bind failure the OSError of its errno. Use as
    a context manager or call :meth:`close`; :meth:`close` from another thread wakes an
    :meth:`accept` blocked in it, which raises ConnectionClosedError.

    Thread safety: several threads may accept at once, and any thread may close. A listener
    cannot be pickled or copied (TypeError on both backends).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """Always TypeError: a listening socket cannot move to another process."""
        raise _cannot_move("Listener")

    def __new__(cls, host: str = "127.0.0.1", port: int = 0) -> Listener:
        """The Rust listener when rust_core provides it, else this class."""
        if rc is not None and hasattr(rc, "Listener"):
            return rc.Listener(host, port)
        return super().__new__(cls)

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        h = _check_host(host)
        p = _check_port(port)
        family, _, _, _, address = socket.getaddrinfo(
            h, p, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )[0]
        dualstack = family == socket.AF_INET6 and socket.has_dualstack_ipv6()
        self._sock = socket.create_server(address, family=family, dualstack_ipv6=dualstack)
        self._closed = False

    @property
    def port(self) -> int:
        """The port the listener is bound to."""
        return int(self._sock.getsockname()[1])

    @property
    def host(self) -> str:
        """The address the listener is bound to."""
        return str(self._sock.getsockname()[0])

    def accept(self, timeout: float | None = None) -> Connection:
        """The next connection; TimeoutError after ``timeout`` seconds (None: wait)."""
        t = _check_timeout(timeout)
        if self._closed:
            raise ConnectionClosedError("listener is closed")
        deadline = None if t is None else time.monotonic() + t
        self._sock.settimeout(t)
        try:
            sock, _ = self._sock.accept()
        except TimeoutError:
            raise TimeoutError("accept timed out") from None
        except OSError as exc:
            if self._closed:
                raise ConnectionClosedError("listener is closed") from exc
            raise
        return _serve_handshake(sock, deadline)

    def close(self) -> None:
        """Stops listening and wakes a blocked :meth:`accept`; idempotent."""
        self._closed = True
        # Closing the descriptor alone does not wake a thread blocked in accept(2) on Linux;
        # shutting the listening socket down does (accept fails with EINVAL).
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _by_storage(obj: object) -> object:
    """The msgpack ``default`` under ``strict_types``: what exact builtin types do not cover.

    msgpack-python packs a subclass of list or tuple with the length of its storage but the
    items of its ``__iter__``: an overridden ``__iter__`` gives an array whose count
    disagrees with its items (a corrupt message). Under ``strict_types`` every subclass
    comes here instead and is read by its storage, as ``rust_core`` reads it
    (:func:`pyagent._builtin.stored`; docs/limits.md, "Hostile arguments"): an exact tuple
    becomes an array (strict msgpack packs only lists), a dict subclass ``dict(obj.items())``
    (mappings are read through their methods), an ExtType subclass its code and data.
    """
    if isinstance(obj, msgpack.ExtType):
        return msgpack.ExtType(obj.code, obj.data)
    if isinstance(obj, list | tuple):
        return list(tuple.__iter__(obj)) if isinstance(obj, tuple) else list.copy(obj)
    if isinstance(obj, dict):
        return dict(obj.items())
    if isinstance(obj, bytearray):
        return bytes(memoryview(obj))
    if isinstance(obj, int | float | str | bytes):
        return stored(obj)
    raise TypeError(f"can not serialize {type(obj).__name__!r} object")
