"""ConnectivityCore.establish_native_rust: multiplexed streams over one loopback connection.

Load: 100 concurrent logical streams, messages ``[stream, seq, 100 bytes]`` sent round-robin
by a producer thread on one side and received on the other, which checks that nothing is
lost and nothing is reordered within a stream. Each round sets up a fresh listener +
connection (handshake included) with the implementation under test on both ends.

Groups: ``establish_native_rust`` with 100,000 messages for all three implementations
(the Python reference's socket + threading path is too slow to time a million messages
five times over), and ``establish_native_rust[1M]`` with the issue's 1,000,000 messages for
Rust vs the peer only. Peer: asyncio streams on loopback carrying the bare msgpack stream
(no framing, no checksums, no multiplexing bookkeeping), read with ``msgpack.Unpacker``.
Throughput (messages/s, MB/s of wire bytes) is reported by ``python -m bench.summary``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import msgpack
import pytest

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import connectivity_core as cc

STREAMS = 100
BODY = b"x" * 100


def _wire_bytes(messages: int, framed: bool) -> int:
    sample = [STREAMS - 1, messages, BODY]
    size = len(cc.encode_frame(sample)) if framed else len(msgpack.packb(sample))
    return size * messages


def _run_ours(messages: int) -> int:
    per_stream = messages // STREAMS
    with cc.Listener() as listener:
        accepted: list[Any] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept(30)))
        thread.start()
        client = cc.establish_connection("127.0.0.1", listener.port, 30)
        thread.join(30)
        server = accepted[0]
        with client, server:

            def produce() -> None:
                for i in range(per_stream):
                    for s in range(STREAMS):
                        client.send(s, [s, i, BODY])

            producer = threading.Thread(target=produce)
            producer.start()
            expected = [0] * STREAMS
            for _ in range(per_stream * STREAMS):
                sid, (s, i, _body) = server.recv(60)
                if sid != s or i != expected[s]:
                    raise AssertionError(f"stream {s}: got seq {i}, expected {expected[s]}")
                expected[s] += 1
            producer.join(60)
            return sum(expected)


def _run_peer(messages: int) -> int:
    per_stream = messages // STREAMS

    async def main() -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            unpacker = msgpack.Unpacker()
            expected = [0] * STREAMS
            total = 0
            while total < per_stream * STREAMS:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                unpacker.feed(data)
                for s, i, _body in unpacker:
                    if i != expected[s]:
                        raise AssertionError(f"stream {s}: got seq {i}")
                    expected[s] += 1
                    total += 1
            writer.close()
            done.set_result(total)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(per_stream):
            for s in range(STREAMS):
                writer.write(msgpack.packb([s, i, BODY]))
            if i % 50 == 0:
                await writer.drain()
        await writer.drain()
        total = await asyncio.wait_for(done, 120)
        writer.close()
        server.close()
        return total

    return asyncio.run(main())


def _bench(benchmark: Any, implementation: str, messages: int, suffix: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="establish_native_rust",
        workload=f"{messages:,} messages over {STREAMS} streams, one loopback connection",
        ours=lambda: _run_ours(messages),
        peer=lambda: _run_peer(messages),
        check=lambda got: got == messages,
        group_suffix=suffix,
    )
    benchmark.extra_info.update(
        messages=messages, bytes=_wire_bytes(messages, framed=implementation != "peer")
    )


def test_connection_load(benchmark: Any, implementation: str) -> None:
    _bench(benchmark, implementation, scaled(100_000, 10_000), "")


@pytest.mark.slow
@rust_vs_peer_only
def test_connection_load_1m(benchmark: Any, implementation: str) -> None:
    _bench(benchmark, implementation, scaled(1_000_000, 50_000), "[1M]")
