"""ConnectivityCore connections (establish_native_rust) over loopback.

Tests run with whichever backend this suite run selects; the ``requires_rust`` ones pair a
Rust-backend peer with a Python-backend peer (``forced_python`` builds the Python side).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pyagent import connectivity_core as cc
from pyagent.backend import forced_python
from pyagent.connectivity_core import (
    ConnectionClosedError,
    Listener,
    ProtocolError,
    establish_connection,
)


def _make(python: bool, factory: Any, *args: Any) -> Any:
    if python:
        with forced_python():
            return factory(*args)
    return factory(*args)


@contextlib.contextmanager
def pair(server_python: bool = False, client_python: bool = False) -> Iterator[tuple[Any, Any]]:
    """(server side, client side) connected over loopback."""
    listener = _make(server_python, Listener)
    accepted: list[Any] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept(10)))
    thread.start()
    client = _make(client_python, establish_connection, "127.0.0.1", listener.port, 10)
    thread.join(10)
    server = accepted[0]
    try:
        yield server, client
    finally:
        client.close()
        server.close()
        listener.close()


def _exchange(server: Any, client: Any, streams: int = 20, per_stream: int = 50) -> None:
    sent = {
        s: [{"s": s, "seq": i, "pad": "x" * (i % 40)} for i in range(per_stream)]
        for s in range(streams)
    }
    for i in range(per_stream):
        for s in range(streams):
            client.send(s, sent[s][i])
    received: dict[int, list[Any]] = {s: [] for s in range(streams)}
    for _ in range(streams * per_stream):
        sid, obj = server.recv(10)
        received[sid].append(obj)
    assert received == sent  # no loss, no reordering within a stream


def test_streams_round_trip_in_order() -> None:
    with pair() as (server, client):
        _exchange(server, client)
        _exchange(client, server)


def test_recv_stream_and_recv_share_one_queue() -> None:
    with pair() as (server, client):
        for i in range(6):
            client.send(i % 2, i)
        assert server.recv_stream(1, 10) == 1
        assert server.recv_stream(1, 10) == 3
        assert [server.recv(10) for _ in range(4)] == [(0, 0), (0, 2), (0, 4), (1, 5)]
        with pytest.raises(TimeoutError):
            server.recv(0.05)
        with pytest.raises(TimeoutError):
            server.recv_stream(0, 0.05)


def test_large_messages_are_compressed_and_arrive_whole() -> None:
    blob = {"data": bytes(3_000_000), "text": "lorem " * 100_000}
    with pair() as (server, client):
        client.send(5, blob)
        assert server.recv(30) == (5, blob)


def test_ping_is_a_round_trip() -> None:
    with pair() as (server, client):
        assert 0 <= client.ping(5) < 5
        assert 0 <= server.ping(5) < 5


def test_close_is_seen_by_the_peer_and_is_idempotent() -> None:
    with pair() as (server, client):
        client.send(1, "last")
        client.close()
        client.close()
        assert client.closed
        assert server.recv(10) == (1, "last")
        with pytest.raises(ConnectionClosedError):
            server.recv(10)
        with pytest.raises(ConnectionError):
            client.send(1, "after close")
        with pytest.raises(ConnectionClosedError):
            client.recv(1)


def test_context_managers_close() -> None:
    with Listener() as listener:
        port = listener.port
        thread = threading.Thread(target=lambda: listener.accept(10).close())
        thread.start()
        with establish_connection("127.0.0.1", port, 10) as conn:
            assert not conn.closed
        thread.join(10)
    assert conn.closed


def test_refused_and_timeouts() -> None:
    with Listener() as listener:
        port = listener.port
        with pytest.raises(TimeoutError):
            listener.accept(0.05)
    with pytest.raises(ConnectionRefusedError):
        establish_connection("127.0.0.1", port, 5)


def test_handshake_rejects_a_foreign_server() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(8)
        conn.sendall(b"HTTP/1")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    with pytest.raises(ProtocolError):
        establish_connection("127.0.0.1", port, 5)
    thread.join(10)
    server.close()


def test_listener_refuses_wrong_versions_and_silent_clients() -> None:
    with Listener() as listener:
        raw = socket.create_connection(("127.0.0.1", listener.port))
        raw.sendall(struct.pack(">4sHH", b"PYAC", 7, 9))
        with pytest.raises(ProtocolError):
            listener.accept(5)
        assert raw.recv(6) == b"PYAC\x00\x00"
        raw.close()
        silent = socket.create_connection(("127.0.0.1", listener.port))
        with pytest.raises(TimeoutError):
            listener.accept(0.3)
        silent.close()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("127.0.0.1", "80"), TypeError),
        (("127.0.0.1", 70000), OverflowError),
        ((None, 80), TypeError),
        (("127.0.0.1", 80, 0), ValueError),
        (("127.0.0.1", 80, "1"), TypeError),
    ],
)
def test_bad_arguments(args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        establish_connection(*args)


def test_send_refuses_the_control_stream() -> None:
    with pair() as (server, client):
        with pytest.raises(ValueError):
            client.send(cc.CONTROL_STREAM, 1)
        with pytest.raises(TypeError):
            client.send("1", 1)
        with pytest.raises(TypeError):
            client.send(1, {1, 2})
        client.send(0, "still usable")
        assert server.recv(10) == (0, "still usable")


@pytest.mark.requires_rust
@pytest.mark.parametrize(("server_python", "client_python"), [(True, False), (False, True)])
def test_rust_and_python_peers_talk(server_python: bool, client_python: bool) -> None:
    with pair(server_python, client_python) as (server, client):
        kinds = {type(server).__module__, type(client).__module__}
        assert kinds == {"rust_core", "pyagent.connectivity_core"}
        _exchange(server, client)
        _exchange(client, server)
        assert client.ping(5) >= 0
        assert server.ping(5) >= 0
        big = {"blob": bytes(range(256)) * 4000}
        server.send(9, big)
        assert client.recv_stream(9, 10) == big


@pytest.mark.slow
@pytest.mark.parametrize("python_side", [False, True])
def test_load_100_streams_no_loss_no_reordering(python_side: bool) -> None:
    """Bounded load test: 100 concurrent streams, 50,000 messages, sender in its own thread."""
    streams, per_stream = 100, 500
    with pair(server_python=python_side) as (server, client):

        def produce() -> None:
            for i in range(per_stream):
                for s in range(streams):
                    client.send(s, [s, i])

        thread = threading.Thread(target=produce)
        thread.start()
        expected = dict.fromkeys(range(streams), 0)
        for _ in range(streams * per_stream):
            sid, (s, i) = server.recv(30)
            assert sid == s
            assert i == expected[s]
            expected[s] += 1
        thread.join(30)
        assert all(v == per_stream for v in expected.values())


@pytest.mark.requires_rust
def test_rust_sender_never_blocks_a_python_reader_in_the_same_process() -> None:
    """More than the socket buffers hold, sent before anyone calls recv: the Python peer's
    reader thread needs the GIL to drain the socket, so Rust must write without it."""
    blob = bytes(range(256)) * 32  # 8 KiB
    with pair(server_python=True) as (server, client):
        for i in range(3000):  # ~24 MB
            client.send(i % 4, [i, blob])
        assert [server.recv(30)[1][0] for _ in range(3000)] == list(range(3000))
