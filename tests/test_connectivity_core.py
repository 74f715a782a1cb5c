"""ConnectivityCore binary_transport; runs against whichever backend this suite run selects."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import msgpack
import pytest
import zstandard

from pyagent import connectivity_core as cc
from pyagent.backend import forced_python
from pyagent.connectivity_core import FrameDecoder, ProtocolError, encode_frame, encode_frames

SAMPLES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64 - 1,
    -(2**63),
    1.5,
    "héllo 🌍",
    b"\x00\xff",
    [1, [2, [3]]],
    {"a": 1, "b": [None, 2.0, b"x"], 3: {"nested": True}},
    msgpack.ExtType(7, b"ext"),
    msgpack.Timestamp(1_700_000_000, 123),
]


def _frame(payload: bytes, stream_id: int = 0, flags: int = 0, version: int = 1) -> bytes:
    head = struct.pack(">4sBBHII", b"PYAF", version, flags, 0, stream_id, len(payload))
    return head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload


@pytest.mark.parametrize("obj", SAMPLES)
def test_round_trip_and_standard_payload(obj: Any) -> None:
    frame = encode_frame(obj, 42)
    magic, version, flags, reserved, sid, length = struct.unpack(">4sBBHII", frame[:16])
    assert (magic, version, flags, reserved, sid, length) == (b"PYAF", 1, 0, 0, 42, len(frame) - 20)
    assert struct.unpack(">I", frame[16:20])[0] == zlib.crc32(frame[20:], zlib.crc32(frame[:16]))
    assert frame[20:] == msgpack.packb(obj, use_bin_type=True)
    assert FrameDecoder().feed(frame) == [(42, msgpack.unpackb(frame[20:], strict_map_key=False))]


def test_large_payload_is_a_standard_zstd_frame() -> None:
    obj = {"text": "abc" * 2000, "blob": bytes(5000)}
    frame = encode_frame(obj, 1, compress_threshold=100, level=5)
    assert frame[5] == cc.FLAG_ZSTD
    raw = zstandard.ZstdDecompressor().decompress(frame[20:])
    assert raw == msgpack.packb(obj, use_bin_type=True)
    assert frame[20:] == zstandard.ZstdCompressor(level=5).compress(raw)
    assert FrameDecoder().feed(frame) == [(1, obj)]
    small = encode_frame(obj, 1, compress_threshold=10**9)
    assert small[5] == 0


def test_decoder_accepts_any_chunking_and_reports_pending() -> None:
    messages = [(i, {"i": i, "pad": "x" * (i * 300)}) for i in range(8)]
    stream = b"".join(encode_frame(o, sid) for sid, o in messages)
    for size in (1, 7, 20, 999, len(stream)):
        decoder = FrameDecoder()
        got: list[tuple[int, Any]] = []
        for at in range(0, len(stream), size):
            got.extend(decoder.feed(stream[at : at + size]))
        assert got == messages
        assert decoder.pending == 0
        decoder.finish()
    decoder = FrameDecoder()
    assert decoder.feed(memoryview(stream)[:10]) == []
    assert decoder.pending == 10
    with pytest.raises(ProtocolError):
        decoder.finish()


@pytest.mark.parametrize(
    "stream",
    [
        b"XYAF" + encode_frame(1)[4:],
        _frame(b"\xc0", version=2),
        _frame(b"\xc0", flags=0x80),
        encode_frame(1)[:-1] + b"\x02",  # payload byte changed: checksum mismatch
        _frame(b"\xc1"),  # never-used MessagePack marker
        _frame(b"\x92\x01"),  # truncated MessagePack
        _frame(b"\x01\x02"),  # extra data
        _frame(b"\xdd\xff\xff\xff\xff"),  # claims 4 G elements
        _frame(b"\x91" * 1025 + b"\x01"),  # nesting beyond msgpack's stack
        _frame(b"\x81\x91\x01\x02"),  # unhashable map key
        _frame(b"\xa2\xff\xfe"),  # invalid UTF-8
        _frame(b"\x81\xa2\xff\xfe\x01"),  # invalid UTF-8 in a (short, cached) map key
        _frame(b"\x81\xa3\xed\xa0\x80\x01"),  # a surrogate encoded in a map key
        _frame(b"not zstd", flags=1),
    ],
)
def test_hostile_frames_raise_protocol_error_and_close(stream: bytes) -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(stream)
    with pytest.raises(ProtocolError):
        decoder.feed(encode_frame(1))


def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = _frame(b"\x00" * 10)[:20]
    claimed = header[:12] + struct.pack(">I", 2**32 - 1) + header[16:]
    decoder = FrameDecoder(max_frame_size=1 << 20)
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.feed(claimed)
    assert issubclass(ProtocolError, ValueError)


def test_zstd_bomb_is_refused() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\x00" * (8 << 20))
    assert len(bomb) < 1000
    with pytest.raises(ProtocolError):
        FrameDecoder(max_frame_size=1 << 20).feed(_frame(bomb, flags=1))
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(b"\xc0")
    with pytest.raises(ProtocolError, match="content size"):
        FrameDecoder().feed(_frame(no_size, flags=1))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"stream_id": -1}, ValueError),
        ({"stream_id": 2**32}, ValueError),
        ({"stream_id": "1"}, TypeError),
        ({"compress_threshold": -1}, ValueError),
        ({"compress_threshold": 1.0}, TypeError),
        ({"level": 0}, ValueError),
        ({"level": 23}, ValueError),
        ({"level": None}, TypeError),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_frame({"a": 1}, **kwargs)


@pytest.mark.parametrize(
    ("obj", "error"),
    [({1, 2}, TypeError), (2**64, OverflowError), ("\ud800", UnicodeEncodeError)],
)
def test_unpackable_objects(obj: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_frame(obj)


def test_decoder_arguments() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(0)
    with pytest.raises(TypeError):
        FrameDecoder("big")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FrameDecoder().feed("text")
    assert FrameDecoder(123).max_frame_size == 123


@pytest.mark.requires_rust
def test_backends_write_identical_frames_and_read_each_other() -> None:
    obj = {"values": [i * 0.5 for i in range(3000)], "name": "x" * 3000}
    rust = encode_frame(obj, 9, compress_threshold=64, level=3)
    with forced_python():
        python = encode_frame(obj, 9, compress_threshold=64, level=3)
        assert type(FrameDecoder()).__module__ == "pyagent.connectivity_core"
        assert FrameDecoder().feed(rust) == [(9, obj)]
    assert rust == python
    assert type(FrameDecoder()).__module__ == "rust_core.binary_transport"
    assert FrameDecoder().feed(python) == [(9, obj)]


def test_encode_frames_is_the_joined_frames() -> None:
    messages = [(i, {"i": i, "pad": "x" * (i * 400)}) for i in range(6)] + [(7, None)]
    for threshold, level in ((1024, 3), (0, 1), (10**9, 5)):
        joined = b"".join(
            encode_frame(o, sid, compress_threshold=threshold, level=level) for sid, o in messages
        )
        batch = encode_frames(messages, compress_threshold=threshold, level=level)
        assert batch == joined
        assert encode_frames(iter(messages), compress_threshold=threshold, level=level) == joined
        assert FrameDecoder().feed(batch) == messages
    assert encode_frames([]) == b""
    assert encode_frames([[3, "list pair"], (4, "tuple pair")]) == encode_frame(
        "list pair", 3
    ) + encode_frame("tuple pair", 4)
    assert encode_frames(iter([iter((5, 1))])) == encode_frame(1, 5)


@pytest.mark.parametrize(
    ("messages", "kwargs", "error"),
    [
        ([], {"level": 0}, ValueError),  # arguments are checked even with no messages
        ([], {"compress_threshold": "1"}, TypeError),
        ([(1, 2, 3)], {}, ValueError),
        ([(1,)], {}, ValueError),
        ([7], {}, TypeError),
        ([(-1, "x")], {}, ValueError),
        ([("1", "x")], {}, TypeError),
        ([(1, "ok"), (2, {1, 2})], {}, TypeError),
        ([(1, 2**64)], {}, OverflowError),
        (5, {}, TypeError),
    ],
)
def test_encode_frames_errors(messages: Any, kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        encode_frames(messages, **kwargs)


def test_decoder_keeps_keys_right_across_many_messages() -> None:
    # More distinct short keys than any key cache holds, repeated, plus long and non-ASCII
    # keys and non-str keys: every message must come back exactly.
    messages = [
        (i % 7, {f"k{i % 1500}": i, f"k{(i * 7) % 1500}": [i], "é": i, "x" * 40: i, 1: b"1"})
        for i in range(6000)
    ]
    decoder = FrameDecoder()
    stream = encode_frames(messages)
    got: list[tuple[int, Any]] = []
    for at in range(0, len(stream), 4096):
        got.extend(decoder.feed(stream[at : at + 4096]))
    assert got == messages
    assert [list(obj) for _, obj in got] == [list(obj) for _, obj in messages]


def test_decoder_reuses_its_decompression_buffer_correctly() -> None:
    # Compressed frames of shrinking and growing sizes, in one feed and one by one.
    sizes = [9000, 3000, 20000, 1500, 40, 12000]
    messages = [(i, {"text": "ab" * n, "n": n}) for i, n in enumerate(sizes)]
    frames = [encode_frame(o, sid, compress_threshold=64) for sid, o in messages]
    assert all(frame[5] == cc.FLAG_ZSTD for frame in frames)
    assert FrameDecoder().feed(b"".join(frames)) == messages
    decoder = FrameDecoder()
    assert [decoder.feed(frame)[0] for frame in frames] == messages


class _LyingList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        return iter([b"lie"])

    def __len__(self) -> int:
        return 99


class _LyingTuple(tuple):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        return iter([b"lie"])


class _LyingDict(dict):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 5

    def items(self) -> Any:
        return [("a", 1), ("a", 2), ("b", 3)]


@pytest.mark.parametrize(
    ("obj", "read_as"),
    [
        (_LyingList([1, 2]), [1, 2]),
        (_LyingTuple((1, 2)), [1, 2]),
        ({"k": [_LyingList([3])]}, {"k": [[3]]}),
        (_LyingDict(x=1), {"a": 2, "b": 3}),
    ],
)
def test_builtin_subclasses_are_packed_by_their_storage(obj: Any, read_as: Any) -> None:
    # msgpack-python alone writes a lying list's storage length with its __iter__ items: a
    # corrupt message. Both backends read sequences by storage, mappings by dict(items()).
    assert encode_frame(obj) == encode_frame(read_as)
