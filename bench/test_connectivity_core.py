"""ConnectivityCore.binary_transport: framing many small messages and a few large ones.

Workloads, each encode + decode of the whole batch (the decoder is fed the stream in 64 KiB
chunks, as a socket delivers it):

* 100,000 small dict messages (~60 bytes of MessagePack each, below the compression
  threshold, so uncompressed frames);
* 100 messages of ~1 MB (64k float64 samples, 256 KiB of bytes, text), Zstandard level 3.

Each workload is timed twice, with the same decoder: encoding one ``encode_frame`` call per
message (the per-call group, what a sender pays per message), and encoding the whole batch
with one ``encode_frames`` call (the ``[batch]`` groups; the Python reference's is the natural
``b"".join`` of its frames, Rust's writes one buffer). Both backends run the same public API.

"python" is the reference framing in pyagent (msgpack + zstandard C extensions, struct,
zlib.crc32); "peer" is msgpack + zstandard used directly with no framing at all (packb /
compress per message, Unpacker or decompress + unpackb to read back): the floor any framing
in Python pays. Results are checked against the input messages.
"""

from __future__ import annotations

import random
from typing import Any

import msgpack
import zstandard

from bench.conftest import compare, scaled
from pyagent import connectivity_core as cc

SMALL_COUNT = scaled(100_000, 10_000)
LARGE_COUNT = scaled(100, 10)
CHUNK = 64 * 1024

SMALL = [
    (i % 100, {"id": i, "kind": "event", "ok": i % 3 == 0, "value": i * 0.25, "tags": ["a", "b"]})
    for i in range(SMALL_COUNT)
]
_rng = random.Random(20261124)
_SAMPLES = [_rng.random() for _ in range(65_536)]
_BLOB = bytes(_rng.getrandbits(8) for _ in range(1 << 16)) * 4
LARGE = [
    (i, {"id": i, "samples": _SAMPLES, "blob": _BLOB, "text": "lorem ipsum " * 4000})
    for i in range(LARGE_COUNT)
]


def _decode(stream: bytes) -> list[tuple[int, Any]]:
    decoder = cc.FrameDecoder()
    out: list[tuple[int, Any]] = []
    for at in range(0, len(stream), CHUNK):
        out.extend(decoder.feed(stream[at : at + CHUNK]))
    return out


def _frames_round_trip(messages: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return _decode(b"".join(cc.encode_frame(obj, sid) for sid, obj in messages))


def _batch_round_trip(messages: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return _decode(cc.encode_frames(messages))


def _peer_small() -> list[tuple[int, Any]]:
    stream = b"".join(msgpack.packb(obj, use_bin_type=True) for _, obj in SMALL)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    out: list[tuple[int, Any]] = []
    for at in range(0, len(stream), CHUNK):
        unpacker.feed(stream[at : at + CHUNK])
        out.extend(unpacker)
    return [(sid, obj) for (sid, _), obj in zip(SMALL, out, strict=True)]


def _peer_large() -> list[tuple[int, Any]]:
    compressor = zstandard.ZstdCompressor(level=cc.DEFAULT_LEVEL)
    decompressor = zstandard.ZstdDecompressor()
    packed = [compressor.compress(msgpack.packb(obj, use_bin_type=True)) for _, obj in LARGE]
    return [
        (sid, msgpack.unpackb(decompressor.decompress(p), raw=False))
        for (sid, _), p in zip(LARGE, packed, strict=True)
    ]


def test_binary_transport_small(benchmark: Any, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="binary_transport",
        workload=f"{SMALL_COUNT:,} small dict messages, encode + decode (64 KiB chunks)",
        ours=lambda: _frames_round_trip(SMALL),
        peer=_peer_small,
        check=lambda got: got == SMALL,
    )


def test_binary_transport_large(benchmark: Any, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="binary_transport",
        workload=f"{LARGE_COUNT} messages of ~1 MB, zstd level 3, encode + decode",
        ours=lambda: _frames_round_trip(LARGE),
        peer=_peer_large,
        check=lambda got: got == LARGE,
        group_suffix="[1MB]",
    )


def test_binary_transport_small_batch(benchmark: Any, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="binary_transport",
        workload=f"{SMALL_COUNT:,} small dict messages, encode_frames + decode (64 KiB chunks)",
        ours=lambda: _batch_round_trip(SMALL),
        peer=_peer_small,
        check=lambda got: got == SMALL,
        group_suffix="[batch]",
    )


def test_binary_transport_large_batch(benchmark: Any, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="binary_transport",
        workload=f"{LARGE_COUNT} messages of ~1 MB, zstd level 3, encode_frames + decode",
        ours=lambda: _batch_round_trip(LARGE),
        peer=_peer_large,
        check=lambda got: got == LARGE,
        group_suffix="[1MB batch]",
    )
