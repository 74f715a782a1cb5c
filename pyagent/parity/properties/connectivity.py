"""ConnectivityCore parity: binary_transport frames and establish_native_rust connections.

No tolerance: frames must be byte-identical (same MessagePack encodings, same libzstd
1.5.7 output at the same level) and decoded objects equal exactly, NaN payloads included.
The decoder is fuzzed with random bytes, mutated valid frames, and frames whose header and
CRC are valid around random (optionally "compressed") payloads, so the MessagePack and
Zstandard readers see hostile input too; both backends must give the same messages and then
the same exception class (ProtocolError for anything malformed). Forged headers carry a
valid CRC so that the magic, version, flag and reserved checks are reached; compressed
payloads that expand to about a frame's object budget (decompression bombs) test the count.

Connections: a Rust-backend peer and a Python-backend peer exchange Hypothesis-generated
messages over loopback in both directions (equal per stream, in order), and bad connection
arguments (or a refused port) raise the same exception class from both backends.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import pickle
import socket
import struct
import threading
import time
import zlib
from typing import Any

import msgpack
import zstandard
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import connectivity_core as cc
from pyagent.backend import forced_python
from pyagent.parity import hostile
from pyagent.parity.compare import call_python, outcome_of, same, same_outcome
from pyagent.parity.registry import parity_property


def _nested(depth: int) -> Any:
    obj: Any = 1
    for _ in range(depth):
        obj = [obj]
    return obj


_INT = st.integers(min_value=-(2**63), max_value=2**64 - 1)
_keys = st.one_of(
    st.none(),
    st.booleans(),
    _INT,
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.binary(max_size=12),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _INT,
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(memoryview),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=20)),
    st.builds(msgpack.Timestamp, st.integers(-(2**40), 2**40), st.integers(0, 999_999_999)),
)
messages = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.dictionaries(_keys, inner, max_size=6),
    ),
    max_leaves=40,
)
#: Objects msgpack refuses: same exception class expected (TypeError, OverflowError...).
unpackable = st.one_of(
    st.integers(min_value=2**64, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-(2**63) - 1),
    st.sets(st.integers(), max_size=3),
    st.just(object()),
    st.just(complex(1, 2)),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),
    st.integers(1020, 1030).map(_nested),
)
thresholds = st.one_of(st.integers(0, 64), st.just(cc.DEFAULT_COMPRESS_THRESHOLD))
levels = st.integers(1, 6)
bad_ints = st.one_of(
    st.integers(-(2**70), -1),
    st.integers(2**32, 2**70),
    st.integers(23, 100),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)


def _both(function: Any, *args: Any, **kwargs: Any) -> None:
    """Rust outcome vs forced-Python outcome of a helper that goes through the hooks."""
    assert cc.rc is not None, "rust_core is not active in pyagent.connectivity_core"
    rust = outcome_of(lambda: function(*args, **kwargs))
    python = call_python(function, *args, **kwargs)
    same_outcome(rust, python, rel_tol=0)


def _decode(chunks: list[bytes], max_frame_size: int) -> list[Any]:
    """Feeds every chunk, then finish(); the messages, then the error as a last item."""
    decoder = cc.FrameDecoder(max_frame_size)
    out: list[Any] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.finish()
    out.append(("pending", decoder.pending))
    return out


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _frame(
    payload: bytes,
    stream_id: int = 0,
    flags: int = 0,
    *,
    magic: bytes = cc.MAGIC,
    version: int = cc.VERSION,
    reserved: int = 0,
) -> bytes:
    """A frame around ``payload`` with a valid CRC, whatever its header fields say."""
    head = struct.pack(">4sBBHII", magic, version, flags, reserved, stream_id, len(payload))
    return head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload


@parity_property("binary_transport")
@given(obj=messages, stream_id=st.integers(0, 2**32 - 1), threshold=thresholds, level=levels)
def encode_frame_is_byte_identical(obj: Any, stream_id: int, threshold: int, level: int) -> None:
    """The same frame bytes for any msgpack-able object, stream id, threshold and level."""
    out = same(
        cc.encode_frame, obj, stream_id, compress_threshold=threshold, level=level, rel_tol=0
    )
    assert out.error is None, out.describe()


@parity_property("binary_transport")
@given(
    obj=st.one_of(messages, unpackable),
    stream_id=st.one_of(st.integers(0, 2**32 - 1), bad_ints),
    threshold=st.one_of(thresholds, bad_ints),
    level=st.one_of(levels, bad_ints),
)
def encode_frame_rejects_the_same(obj: Any, stream_id: Any, threshold: Any, level: Any) -> None:
    """Bad objects and arguments: the same exception class from both backends."""
    same(cc.encode_frame, obj, stream_id, compress_threshold=threshold, level=level, rel_tol=0)


@parity_property("binary_transport")
@given(
    objs=st.lists(st.tuples(st.integers(0, 2**32 - 1), messages), max_size=8),
    threshold=thresholds,
    level=levels,
)
def encode_frames_is_the_joined_frames(
    objs: list[tuple[int, Any]], threshold: int, level: int
) -> None:
    """The batch encoder: the same bytes from both backends, and exactly the joined frames."""
    out = same(cc.encode_frames, objs, compress_threshold=threshold, level=level, rel_tol=0)
    assert out.error is None, out.describe()
    joined = b"".join(
        cc.encode_frame(o, sid, compress_threshold=threshold, level=level) for sid, o in objs
    )
    assert out.value == joined


_bad_items = st.one_of(
    st.tuples(st.one_of(st.integers(0, 2**32 - 1), bad_ints), st.one_of(messages, unpackable)),
    st.lists(st.integers(0, 5), max_size=4),
    st.tuples(st.integers(0, 5)),
    st.tuples(st.integers(0, 5), st.none(), st.none()),
    st.integers(),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=3),
)


@parity_property("binary_transport")
@given(
    items=st.lists(st.one_of(st.tuples(st.integers(0, 9), messages), _bad_items), max_size=5),
    threshold=st.one_of(thresholds, bad_ints),
    level=st.one_of(levels, bad_ints),
    as_iterator=st.booleans(),
)
def encode_frames_rejects_the_same(
    items: list[Any], threshold: Any, level: Any, as_iterator: bool
) -> None:
    """Bad items (not a pair, bad stream id, unpackable object) and arguments: same class."""

    def encode(batch: list[Any]) -> bytes:
        return cc.encode_frames(
            iter(batch) if as_iterator else batch, compress_threshold=threshold, level=level
        )

    _both(encode, items)
    same(cc.encode_frames, 5, rel_tol=0)


@parity_property("binary_transport")
@given(
    objs=st.lists(st.tuples(st.integers(0, 2**32 - 1), messages), max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    threshold=thresholds,
)
def decoder_agrees_on_any_chunking(
    objs: list[tuple[int, Any]], cuts: list[int], threshold: int
) -> None:
    """Valid streams cut anywhere decode to the same messages on both backends."""
    stream = b"".join(
        cc.encode_frame(o, sid, compress_threshold=threshold, level=1) for sid, o in objs
    )
    _both(_decode, _chunked(stream, cuts), cc.DEFAULT_MAX_FRAME_SIZE)


@parity_property("binary_transport")
@given(
    data=st.data(),
    objs=st.lists(messages, min_size=1, max_size=3),
    threshold=thresholds,
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
    max_frame_size=st.one_of(st.integers(1, 300), st.just(cc.DEFAULT_MAX_FRAME_SIZE)),
)
def decoder_fuzz_mutated_frames(
    data: st.DataObject, objs: list[Any], threshold: int, cuts: list[int], max_frame_size: int
) -> None:
    """Flipped, dropped, inserted bytes and truncations: same messages, same error class."""
    stream = bytearray(
        b"".join(cc.encode_frame(o, i, compress_threshold=threshold) for i, o in enumerate(objs))
    )
    for _ in range(data.draw(st.integers(0, 3))):
        kind = data.draw(st.sampled_from(["flip", "drop", "insert", "truncate"]))
        at = data.draw(st.integers(0, max(len(stream) - 1, 0)))
        if kind == "flip" and stream:
            stream[at] ^= data.draw(st.integers(1, 255))
        elif kind == "drop" and stream:
            del stream[at]
        elif kind == "insert":
            stream[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del stream[at:]
    _both(_decode, _chunked(bytes(stream), cuts), max_frame_size)


@parity_property("binary_transport")
@given(
    junk=st.binary(max_size=200),
    payload=st.one_of(
        st.binary(max_size=60),
        messages.map(lambda o: msgpack.packb(o, use_bin_type=True)[:-1]),
        st.lists(
            st.sampled_from([b"\x91", b"\x81", b"\xc1", b"\xdd\xff\xff\xff\xff"]), max_size=1100
        ).map(b"".join),
    ),
    compressed=st.booleans(),
    sized=st.booleans(),
    extra=st.binary(max_size=3),
    max_frame_size=st.one_of(st.integers(1, 100), st.just(cc.DEFAULT_MAX_FRAME_SIZE)),
)
def decoder_fuzz_hostile_payloads(
    junk: bytes, payload: bytes, compressed: bool, sized: bool, extra: bytes, max_frame_size: int
) -> None:
    """Random bytes, and valid-CRC frames around hostile MessagePack or Zstandard.

    The Zstandard frame declares its content size or not (``sized``): the contract refuses
    one that does not, and one declaring 0 bytes holds no MessagePack at all.
    """
    _both(_decode, [junk], max_frame_size)
    if compressed:
        compressor = zstandard.ZstdCompressor(level=1, write_content_size=sized)
        body = compressor.compress(payload) + extra
        stream = _frame(body, 1, cc.FLAG_ZSTD)
    else:
        stream = _frame(payload + extra, 1)
    _both(_decode, [stream], max_frame_size)
    _both(_decode, [stream[:5], stream[5:]], max_frame_size)


#: Header fields a forged frame may carry; mostly the valid value, so that one bad field at a
#: time is common. A near miss of the magic (one byte changed) as well as any four bytes.
_magics = st.one_of(
    st.just(cc.MAGIC),
    st.binary(min_size=4, max_size=4),
    st.tuples(st.integers(0, 3), st.integers(1, 255)).map(
        lambda t: bytes(b ^ t[1] if i == t[0] else b for i, b in enumerate(cc.MAGIC))
    ),
)
_versions = st.one_of(st.just(cc.VERSION), st.integers(0, 255))
_flags = st.one_of(st.sampled_from([0, cc.FLAG_ZSTD]), st.integers(0, 255))
_reserved = st.one_of(st.just(0), st.integers(0, 0xFFFF))


@parity_property("binary_transport")
@given(
    magic=_magics,
    version=_versions,
    flags=_flags,
    reserved=_reserved,
    obj=messages,
    before=st.lists(messages, max_size=2),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
)
# A bad magic, the rest of the frame valid (its CRC too): refused, whole or cut inside it.
@example(magic=b"PYAG", version=1, flags=0, reserved=0, obj=5, before=[], cuts=[]).via(
    "bad magic, valid CRC"
)
@example(magic=b"PYAG", version=1, flags=0, reserved=0, obj=5, before=[[1]], cuts=[2, 27]).via(
    "bad magic after a good frame, fed in pieces"
)
def decoder_refuses_forged_headers(
    magic: bytes,
    version: int,
    flags: int,
    reserved: int,
    obj: Any,
    before: list[Any],
    cuts: list[int],
) -> None:
    """A header whose CRC is valid but whose magic, version, flags or reserved bytes are not.

    The CRC covers the header, so a frame forged (or written by another protocol) with a
    matching CRC reaches the header checks themselves: both backends deliver the frames
    before it and then raise the same class (ProtocolError for any bad field).
    """
    payload = msgpack.packb(obj, use_bin_type=True)
    if flags & cc.FLAG_ZSTD:
        payload = zstandard.ZstdCompressor(level=1).compress(payload)
    forged = _frame(payload, 7, flags, magic=magic, version=version, reserved=reserved)
    stream = b"".join(cc.encode_frame(o, i, level=1) for i, o in enumerate(before))
    stream += forged + cc.encode_frame("after", 9)
    _both(_decode, _chunked(stream, cuts), cc.DEFAULT_MAX_FRAME_SIZE)


def _budget(wire_len: int) -> int:
    """The objects a frame whose payload took ``wire_len`` bytes may decode to (contract)."""
    return cc.FRAME_OBJECTS_BASE + cc.FRAME_OBJECTS_PER_BYTE * wire_len


def _array(n: int, items: bytes = b"") -> bytes:
    """A MessagePack array32 header of ``n`` items, then ``items``."""
    return b"\xdd" + struct.pack(">I", n) + items


def _map(n: int, items: bytes = b"") -> bytes:
    """A MessagePack map32 header of ``n`` entries, then ``items``."""
    return b"\xdf" + struct.pack(">I", n) + items


def _bomb_payload(shape: str, delta: int, budget: int) -> bytes:
    """MessagePack that counts ``budget + delta`` objects (maps: ``budget // 2 + delta`` long).

    Counted as the contract counts (every array 1 plus its length, every map 1 plus twice
    its entries once built): "array" is one array of zeros; "arrays" many 15-zero arrays
    and one of the rest; "maps" many {0: 0} maps and an array of the rest; "map" and
    "map2x" one map of repeated {0: 0} entries (built, it is 3 objects) whose header
    announces ``budget // 2 + delta`` or ``2 * budget + delta`` entries, against the cap
    the header is checked with.
    """
    target = budget + delta
    if shape == "array":
        return _array(target - 1, b"\x00" * (target - 1))
    if shape == "arrays":  # 1 + (n + 1) for the top array, 16 per child, 1 + rest
        n = budget // 20
        rest = target - 17 * n - 3
        return _array(n + 1, (b"\x9f" + b"\x00" * 15) * n + _array(rest, b"\x00" * rest))
    if shape == "maps":  # 1 + (n + 1) for the top array, 3 per {0: 0}, 1 + rest
        n = budget // 5
        rest = target - 4 * n - 3
        return _array(n + 1, b"\x81\x00\x00" * n + _array(rest, b"\x00" * rest))
    entries = budget // 2 + delta if shape == "map" else 2 * budget + delta
    return _map(entries, b"\x00\x00" * entries)


@functools.lru_cache(maxsize=64)
def _bomb_frame(shape: str, delta: int) -> bytes:
    """A compressed frame of :func:`_bomb_payload`, its budget from its own compressed size.

    The budget depends on the compressed length, which depends a little on the payload:
    iterated to a fixed point (these payloads compress to some 50 bytes, so it is reached
    at once; if not, the frame is merely off the exact boundary, still a valid input).
    """
    compressor = zstandard.ZstdCompressor(level=1)
    wire = 64
    for _ in range(4):
        body = compressor.compress(_bomb_payload(shape, delta, _budget(wire)))
        if len(body) == wire:
            break
        wire = len(body)
    return _frame(body, 3, cc.FLAG_ZSTD)


def _decode_digest(chunks: list[bytes]) -> list[Any]:
    """:func:`_decode`, each message as its stream id and a digest of its MessagePack.

    Equal messages give equal digests; a million-element list compared item by item (and
    pickled across backends) would cost far more than decoding it.
    """
    out = _decode(chunks, cc.DEFAULT_MAX_FRAME_SIZE)
    return [
        (item[0], hashlib.sha256(msgpack.packb(item[1])).hexdigest())
        if item[0] != "pending"
        else item
        for item in out
    ]


@parity_property("binary_transport")
@given(
    shape=st.sampled_from(["array", "arrays", "maps", "map", "map2x"]),
    delta=st.integers(-1, 2),
    split=st.booleans(),
)
# One object past the budget, in many tiny containers: a decompression bomb, refused.
@example(shape="arrays", delta=1, split=False).via("many small arrays, one object too many")
@example(shape="maps", delta=1, split=True).via("many small maps, one object too many")
# A map header one entry past budget // 2 is refused before the map is built, even when its
# repeated keys would merge into one entry (3 objects).
@example(shape="map", delta=1, split=False).via("map header past budget // 2")
@example(shape="map2x", delta=0, split=False).via("map header of 2 * budget entries")
def decoder_counts_objects_alike(shape: str, delta: int, split: bool) -> None:
    """Compressed payloads that expand to about the frame's object budget, either side of it.

    A few dozen bytes of Zstandard become a million MessagePack objects; both backends must
    count them the same way (:data:`~pyagent.connectivity_core.FRAME_OBJECTS_BASE`) and
    accept or refuse (ProtocolError) the same frames, fed whole or cut inside the header.
    """
    frame = _bomb_frame(shape, delta)
    stream = frame + cc.encode_frame("after", 4)
    _both(_decode_digest, [stream[:5], stream[5:]] if split else [stream])


@contextlib.contextmanager
def _rust_restored() -> Any:
    """Inside :func:`forced_python`, makes this module's hook see rust_core again."""
    import rust_core

    saved, cc.rc = cc.rc, rust_core
    try:
        yield
    finally:
        cc.rc = saved


def _decode_across(chunks: list[bytes], split: int, max_frame_size: int, how: str) -> list[Any]:
    """Feeds some chunks, moves the decoder to the *other* backend, feeds the rest there.

    The move is a pickle or a copy. Returns the messages, the states along the way, then the
    error.
    """
    decoder = cc.FrameDecoder(max_frame_size)
    out: list[Any] = []
    try:
        for chunk in chunks[:split]:
            out.extend(decoder.feed(chunk))
    except cc.ProtocolError as exc:
        out.append(("error", type(exc).__name__))
    out.append(("state", decoder.__getstate__()))
    moved_to_rust = cc.rc is None  # this run is the forced-Python one
    with contextlib.ExitStack() as stack:
        if moved_to_rust:
            stack.enter_context(_rust_restored())
        else:
            stack.enter_context(forced_python())
        if how == "pickle":
            moved = pickle.loads(pickle.dumps(decoder))
        else:
            moved = (copy.copy if how == "copy" else copy.deepcopy)(decoder)
    assert (type(moved).__module__ == "rust_core.binary_transport") is moved_to_rust
    out.append(("state", moved.__getstate__(), moved.max_frame_size, moved.pending))
    for chunk in chunks[split:]:
        out.extend(moved.feed(chunk))
    moved.finish()
    out.append(("pending", moved.pending))
    return out


@parity_property("binary_transport")
@given(
    objs=st.lists(st.tuples(st.integers(0, 2**32 - 1), messages), max_size=5),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    split=st.integers(0, 10),
    corrupt=st.one_of(st.none(), st.integers(0, 10_000)),
    how=st.sampled_from(["pickle", "pickle", "copy", "deepcopy"]),
)
def decoder_moves_between_backends(
    objs: list[tuple[int, Any]], cuts: list[int], split: int, corrupt: int | None, how: str
) -> None:
    """A decoder moved mid-stream goes on on the other backend as the original would have.

    Moved by pickle or copy, even mid-frame or after an error closed it.
    """
    stream = bytearray(b"".join(cc.encode_frame(o, sid, level=1) for sid, o in objs))
    if corrupt is not None and stream:
        stream[corrupt % len(stream)] ^= 0x55
    _both(_decode_across, _chunked(bytes(stream), cuts), split, 1 << 20, how)


@parity_property("binary_transport")
@given(
    state=st.one_of(
        st.fixed_dictionaries(
            {
                "pending": st.one_of(st.binary(max_size=40), st.text(max_size=3), st.none()),
                "failed": st.one_of(st.none(), st.text(max_size=5), st.binary(max_size=3)),
            }
        ),
        st.dictionaries(st.sampled_from(["pending", "failed", "x"]), st.none(), max_size=3),
        st.sampled_from([None, [], (b"", None), "state"]),
    ),
    head=st.binary(max_size=30),
)
def decoder_rejects_forged_states(state: Any, head: bytes) -> None:
    """A forged pickled state: both backends accept it or raise the same class, unchanged."""

    def restore() -> Any:
        decoder = cc.FrameDecoder()
        with contextlib.suppress(cc.ProtocolError):
            decoder.feed(head)
        before = decoder.__getstate__()
        try:
            decoder.__setstate__(state)
        except ValueError:
            assert decoder.__getstate__() == before, "a refused state changed the decoder"
            raise
        return decoder.__getstate__(), decoder.pending

    _both(restore)


# --- establish_native_rust: a Rust peer and a Python peer on one loopback connection ---------


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def _connected(server_python: bool) -> tuple[Any, Any, Any]:
    """(listener, server side, client side); the client is on the other backend."""
    with forced_python() if server_python else contextlib.nullcontext():
        listener = cc.Listener()
    accepted: list[Any] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept(10)))
    thread.start()
    with contextlib.nullcontext() if server_python else forced_python():
        client = cc.establish_connection("127.0.0.1", listener.port, 10)
    thread.join(10)
    return listener, accepted[0], client


@parity_property("establish_native_rust")
@given(
    messages=st.lists(st.tuples(st.integers(0, 2**32 - 2), messages), max_size=12),
    server_python=st.booleans(),
)
def rust_and_python_peers_exchange(messages: list[tuple[int, Any]], server_python: bool) -> None:
    """Whatever one backend sends, the other receives: per stream, in order, both ways."""
    assert cc.rc is not None, "rust_core is not active in pyagent.connectivity_core"
    listener, server, client = _connected(server_python)
    try:
        # Compared as MessagePack bytes: NaN payloads must arrive too, and nan != nan.
        expected = [(sid, msgpack.packb(o)) for sid, o in messages]
        for a, b in ((client, server), (server, client)):
            for sid, obj in messages:
                a.send(sid, obj)
            got = [(sid, msgpack.packb(o)) for sid, o in (b.recv(10) for _ in messages)]
            for sid in {s for s, _ in messages}:
                assert [o for s, o in got if s == sid] == [o for s, o in expected if s == sid]
            assert sorted(s for s, _ in got) == sorted(s for s, _ in expected)
        assert client.ping(10) >= 0 and server.ping(10) >= 0
        # Closing ends both sides: the closer reports closed and refuses sends, the peer's
        # receive ends with ConnectionClosedError, whichever backend closed first.
        client.close()
        assert client.closed
        assert outcome_of(lambda: client.send(0, 1)).error is cc.ConnectionClosedError
        assert outcome_of(lambda: server.recv(10)).error is cc.ConnectionClosedError
        server.close()
        assert server.closed
        assert outcome_of(lambda: server.send(0, 1)).error is cc.ConnectionClosedError
    finally:
        client.close()
        server.close()
        listener.close()


#: Hosts every check and the resolver refuse: empty or NUL (ValueError), lone surrogates and
#: over-long labels (UnicodeError from IDNA), a name that does not resolve (socket.gaierror).
_BAD_HOSTS = ["", "a\0b", "\udcff", "host\udcff.example", "x" * 300, "nonexistent.invalid"]
#: Timeouts beyond what a socket or a thread can wait: no limit, never an OverflowError.
_HUGE_TIMEOUTS = [float("inf"), 2**64, 10**400, 1e300, -(10**400)]


@parity_property("establish_native_rust")
@given(
    host=st.sampled_from(["127.0.0.1", None, 5, b"127.0.0.1", *_BAD_HOSTS]),
    port=st.one_of(st.just("refused"), st.sampled_from(["80", -1, 65536, 70000, 1.5, None])),
    timeout=st.sampled_from([None, 5, 2.5, 0, -1.0, float("nan"), "1", True, *_HUGE_TIMEOUTS]),
)
# 65536, one past the last port: the resolver would wrap it to port 0 (and connect, or bind
# a free port) if the range check let it through.
@example(host="127.0.0.1", port=65536, timeout=5)
def establish_connection_rejects_the_same(host: Any, port: Any, timeout: Any) -> None:
    """Bad hosts, ports and timeouts, and a refused port: the same exception class."""
    real_port = _closed_port() if port == "refused" else port
    same(cc.establish_connection, host, real_port, timeout, rel_tol=0)


@parity_property("establish_native_rust")
@given(
    host=st.sampled_from(["127.0.0.1", "localhost", "::1", None, *_BAD_HOSTS]),
    port=st.sampled_from([0, 65536, -1, True]),
)
@example(host="127.0.0.1", port=65536)
def listener_accepts_and_refuses_the_same_hosts(host: Any, port: Any) -> None:
    """Listener(host, port): both bind (to the same kind of address) or both raise one class."""
    rust = outcome_of(lambda: cc.Listener(host, port))
    python = call_python(cc.Listener, host, port)
    try:
        assert rust.error is python.error, f"Rust {rust.describe()}\nPython {python.describe()}"
        if rust.error is None:
            assert rust.value.host == python.value.host
    finally:
        for outcome in (rust, python):
            if outcome.error is None:
                outcome.value.close()


@parity_property("binary_transport")
@given(
    obj=st.one_of(
        hostile.for_kind("sequence"), hostile.for_kind("mapping"), hostile.for_kind("number")
    ),
    stream_id=hostile.mix(st.integers(0, 9), "int"),
)
def encode_frame_hostile(obj: Any, stream_id: Any) -> None:
    """Subclasses with lying or raising dunders, nesting around 1024, odd numbers.

    Not yet drawn: a list subclass whose ``__iter__`` lies or raises as the object itself.
    msgpack-python (the reference's packer) writes the stored length but iterates with the
    override; rust_core reads the stored items (docs/limits.md, "Hostile arguments"). Open.
    """
    if isinstance(obj, (hostile.LyingList, hostile.RaisingList)):
        obj = list.copy(obj)
    same(cc.encode_frame, obj, stream_id, rel_tol=0)


@parity_property("binary_transport")
@given(chunk=hostile.for_kind("buffer"))
def decoder_feed_hostile(chunk: Any) -> None:
    """Strided, read-only, empty, multi-dimensional buffers fed to a decoder."""
    rust = outcome_of(lambda: cc.FrameDecoder().feed(chunk))

    def python_feed() -> Any:
        with forced_python():
            return cc.FrameDecoder().feed(chunk)

    same_outcome(rust, outcome_of(python_feed), rel_tol=0)


@parity_property("establish_native_rust")
@given(
    # A positive timeout below a millisecond races the kernel's refusal of a closed port
    # (timed out or refused, in either backend): not a question of parity.
    timeout=hostile.for_kind("number").filter(
        lambda t: not (isinstance(t, float) and 0 < float.__float__(t) < 1e-3)
    ),
    port=hostile.mix(st.just("refused"), "int"),
)
def establish_connection_hostile_numbers(timeout: Any, port: Any) -> None:
    """NaN, infinities, 2**64, bools, numpy scalars and lying ints as timeout and port."""
    real_port = _closed_port() if port == "refused" else port
    same(cc.establish_connection, "127.0.0.1", real_port, timeout, rel_tol=0)


def _accept_then_close(server_python: bool) -> Any:
    """The class an accept() blocked in another thread raises when the listener closes."""
    with forced_python() if server_python else contextlib.nullcontext():
        listener = cc.Listener()
    outcomes: list[Any] = []
    thread = threading.Thread(
        target=lambda: outcomes.append(outcome_of(lambda: listener.accept(10)))
    )
    thread.start()
    # Long enough for the thread to block in accept(2); closing earlier gives the same class
    # (the closed check before accepting), so the wait only decides which branch is tested.
    time.sleep(0.1)
    listener.close()
    thread.join(10)
    return outcomes[0].error


@parity_property("establish_native_rust")
@given(server_python=st.booleans())
def closing_a_listener_wakes_accept(server_python: bool) -> None:
    """close() from another thread ends a blocked accept() with ConnectionClosedError."""
    assert _accept_then_close(server_python) is cc.ConnectionClosedError


def _frame_layer(case: str, arg: Any) -> Any:
    """One operation of the frame decoder every connection reads with (see ``_Link``)."""
    if case == "max":
        return cc.FrameDecoder(arg).max_frame_size
    decoder = cc.FrameDecoder()
    if case == "feed":
        out = list(decoder.feed(arg))
        decoder.finish()
        return out
    if case == "move":
        decoder.feed(arg)
        moved = [pickle.loads(pickle.dumps(decoder)), copy.copy(decoder), copy.deepcopy(decoder)]
        return [(m.__getstate__(), m.max_frame_size) for m in moved]
    decoder.__setstate__(arg)
    return decoder.__getstate__(), decoder.pending


_GOOD = cc.encode_frame({"a": [1, 2.5, None]}, 3, compress_threshold=0)
_FRAME_CASES = [
    ("max", 0),
    ("max", -5),
    ("max", 1),
    ("max", 2**40),
    ("max", "9"),
    ("feed", _GOOD),
    ("feed", _frame(b"\xc1", 1)),  # a marker MessagePack never uses
    ("feed", _frame(b"\x92\x01", 1)),  # a list cut short
    ("feed", _frame(msgpack.packb([1, "x"]), 2)),
    ("move", b""),
    ("move", _GOOD[:7]),
    ("move", _GOOD[:-1]),
    ("move", _frame(b"\xc1", 1)[:-1]),
    ("state", {"pending": b"", "failed": None}),
    ("state", {"pending": _GOOD[:5], "failed": None}),
    ("state", {"pending": b"", "failed": "closed"}),
    ("state", {"pending": b"", "failed": b"closed"}),
    ("state", {"pending": b"x", "failed": "closed"}),
    ("state", {"pending": "x", "failed": None}),
]


@parity_property("establish_native_rust")
@given(case=st.sampled_from(_FRAME_CASES))
def connections_frame_layer_agrees(case: tuple[str, Any]) -> None:
    """The decoder under every connection: sizes, bad payloads, moves, restored states.

    A connection reads with FrameDecoder (the Python one on the Python backend), so its
    argument checks, MessagePack errors, pickling and state checks are part of what a
    connection does; both backends must return the same or raise the same class.
    """
    _both(_frame_layer, *case)


def _raw_peer_sends(server_python: bool, frames: bytes, receives: int) -> list[Any]:
    """A bare socket does the handshake, sends ``frames``; what the accepted side receives.

    Each receive's outcome as (value or None, exception class or None).
    """
    with forced_python() if server_python else contextlib.nullcontext():
        listener = cc.Listener()
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw:
            raw.sendall(cc._HELLO.pack(cc.HELLO_MAGIC, cc.PROTOCOL_VERSION, cc.PROTOCOL_VERSION))
            server = listener.accept(10)
            try:
                raw.sendall(frames)
                out = []
                for _ in range(receives):
                    got = outcome_of(lambda: server.recv(10))
                    out.append((got.value, got.error))
                return out
            finally:
                server.close()
    finally:
        listener.close()


_ZSTD_EMPTY = _frame(bytes.fromhex("28b52ffd2000010000"), 1, cc.FLAG_ZSTD)  # zstd of b""


@parity_property("establish_native_rust")
@given(
    bad=st.sampled_from([_ZSTD_EMPTY, _frame(b"\xc1", 1), _frame(b"", 2), _frame(b"\x92\x01", 1)]),
    server_python=st.booleans(),
)
@example(bad=_ZSTD_EMPTY, server_python=True)
def a_bad_payload_fails_only_its_receive(bad: bytes, server_python: bool) -> None:
    """A payload that does not decode fails its own receive only, on both backends.

    A Zstandard frame of empty content, or MessagePack that is bad or empty: that receive's
    ProtocolError, then the connection goes on with the next frame.
    """
    frames = bad + cc.encode_frame([7, "after"], 4)
    got = _raw_peer_sends(server_python, frames, 2)
    assert got == [(None, cc.ProtocolError), ((4, [7, "after"]), None)], got


@parity_property("binary_transport")
@given(
    payload=st.sampled_from([b"", msgpack.packb([1, 2]), b"\xc1", b"\x92\x01"]),
    sized=st.booleans(),
    extra=st.sampled_from([b"", b"\x00"]),
    truncated=st.booleans(),
    skippable=st.one_of(
        st.none(),
        st.tuples(st.sampled_from([0, 3, 4, 0xFFFFFFF0]), st.sampled_from([b"", b"abc"])),
    ),
)
# Declared content size 0: it inflates (to nothing), so only its receive fails.
@example(payload=b"", sized=True, extra=b"", truncated=False, skippable=None).via(
    "zstd of b'', size 0"
)
# A skippable frame (content size 0) declaring 3 bytes that are there, and one declaring
# 4 GiB in 8 bytes: the reference's zstandard allocated the declared length (MemoryError
# under a limit) and ended the connection; now both read empty content.
@example(payload=b"", sized=True, extra=b"", truncated=False, skippable=(3, b"abc")).via(
    "regression: skippable frame as the payload"
)
@example(payload=b"", sized=True, extra=b"", truncated=False, skippable=(0xFFFFFFF0, b"")).via(
    "regression: skippable frame declaring 4 GiB"
)
def connections_open_compressed_payloads_alike(
    payload: bytes, sized: bool, extra: bytes, truncated: bool, skippable: tuple[int, bytes] | None
) -> None:
    """The decoder's two steps as a connection sees them, on both backends.

    A connection reads with FrameDecoder and opens each payload in two steps: inflating
    (Zstandard) in its reader, unpacking in the receive that takes the message. A payload
    that does not inflate (no content size declared, trailing or missing bytes) ends the
    connection; one that inflates to bad MessagePack (empty included) fails its own receive
    only. So which step refuses a frame is observable: the receive after it must agree.

    A Zstandard *skippable* frame (any declared length, whatever follows) has content size
    0: it inflates to nothing, so only its receive fails, and never costs the length it
    declares.
    """
    if skippable is not None:
        length, data = skippable
        body = b"\x50\x2a\x4d\x18" + length.to_bytes(4, "little") + data
    else:
        body = zstandard.ZstdCompressor(level=1, write_content_size=sized).compress(payload)
        body = (body[:-1] if truncated else body) + extra
    frames = _frame(body, 1, cc.FLAG_ZSTD) + cc.encode_frame([7, "after"], 4)
    _both(_raw_peer_sends, False, frames, 2)
