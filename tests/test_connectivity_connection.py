"""ConnectivityCore connections (establish_native_rust) over loopback.

Tests run with whichever backend this suite run selects; the ``requires_rust`` ones pair a
Rust-backend peer with a Python-backend peer (``forced_python`` builds the Python side).
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import socket
import struct
import threading
import time
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


class StalledPeer:
    """A raw-socket peer that completes the handshake and never reads again, with a
    connection of the backend under test connected to it and a thread flooding it with
    incompressible frames. Once :meth:`wait_until_stuck` returns, that thread is blocked in
    a send while holding the connection's send lock."""

    def __init__(self, python: bool) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        accepted: list[socket.socket] = []

        def accept() -> None:
            sock, _ = self.server.accept()
            hello = b""
            while len(hello) < 8:
                hello += sock.recv(8 - len(hello))
            sock.sendall(b"PYAC" + struct.pack(">H", 1))
            accepted.append(sock)

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        self.conn = _make(
            python, establish_connection, "127.0.0.1", self.server.getsockname()[1], 10
        )
        acceptor.join(10)
        self.peer = accepted[0]
        self.sent = 0
        self.outcome: list[BaseException] = []
        self.flooder = threading.Thread(target=self._flood, daemon=True)
        self.flooder.start()

    def _flood(self) -> None:
        blob = random.Random(8).randbytes(64 * 1024)
        try:
            while True:
                self.conn.send(1, blob)
                self.sent += 1
        except ConnectionClosedError as exc:
            self.outcome.append(exc)

    def wait_until_stuck(self) -> None:
        """Returns once no frame has gone out for a whole second (a busy machine can pause
        a sender that is not blocked for a moment, never for that long)."""
        last, still = -1, 0
        while still < 5:
            still = still + 1 if self.sent == last else 0
            last = self.sent
            self.flooder.join(0.2)
            assert self.flooder.is_alive(), f"the flood ended early: {self.outcome}"

    def close(self) -> None:
        self.peer.close()
        self.server.close()
        self.conn.close()


def _run_bounded(work: Any, seconds: float) -> Any:
    """``work()`` in a daemon thread; fails (instead of hanging the suite) past ``seconds``."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if errors:
        raise errors[0]
    return results[0]


@pytest.mark.parametrize("python", [False, pytest.param(True, marks=pytest.mark.requires_rust)])
def test_a_ping_never_stops_the_reader_while_a_sender_is_blocked(python: bool) -> None:
    """The peer pings, then sends a message, while this side's sender is blocked on it. A
    reader that wrote the pong itself would wait for the send lock and stop reading; with
    both sides in that state (both sending, both pinging) every thread waits for ever. The
    message after the ping must still arrive."""
    stalled = StalledPeer(python)
    try:
        stalled.wait_until_stuck()
        stalled.peer.sendall(
            cc.encode_frame([0, 77], stream_id=cc.CONTROL_STREAM)
            + cc.encode_frame("after the ping", stream_id=5)
        )
        assert stalled.conn.recv_stream(5, 10) == "after the ping"
    finally:
        _run_bounded(stalled.close, 20)


@pytest.mark.parametrize("python", [False, pytest.param(True, marks=pytest.mark.requires_rust)])
def test_close_does_not_wait_for_a_sender_blocked_on_a_stalled_peer(python: bool) -> None:
    """close() from another thread returns although a sender holds the socket, and that
    sender gets ConnectionClosedError instead of blocking for ever."""
    stalled = StalledPeer(python)
    try:
        stalled.wait_until_stuck()
        _run_bounded(stalled.conn.close, 20)
        stalled.flooder.join(20)
        assert not stalled.flooder.is_alive()
        assert len(stalled.outcome) == 1
        assert isinstance(stalled.outcome[0], ConnectionClosedError)
    finally:
        _run_bounded(stalled.close, 20)


def test_a_busy_connection_still_answers_pings_both_ways() -> None:
    """Pings from both sides while both send more than the socket buffers hold: each ping
    is answered (a pong thread shares the send lock with the senders) and nothing is lost."""
    blob = random.Random(7).randbytes(1 << 20)
    count = 24
    with pair() as (server, client):

        def scenario() -> None:
            def bulk(conn: Any) -> None:
                for i in range(count):
                    conn.send(1, [i, blob])

            senders = [threading.Thread(target=bulk, args=(c,)) for c in (server, client)]
            for t in senders:
                t.start()
            while any(t.is_alive() for t in senders):
                client.ping(30)
                server.ping(30)
            for t in senders:
                t.join()
            for conn in (server, client):
                assert [conn.recv_stream(1, 30)[0] for _ in range(count)] == list(range(count))

        _run_bounded(scenario, 120)


def _fds_and_threads() -> tuple[int, int]:
    """Open descriptors and OS threads of this process (Rust threads included)."""
    return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))


def _settle(expected: tuple[int, int], limit: float = 20.0) -> tuple[int, int]:
    """The counts once they equal ``expected`` (threads take a moment to exit), or after
    ``limit`` seconds the counts as they are, for the assertion to report."""
    deadline = time.monotonic() + limit
    now = _fds_and_threads()
    while now != expected and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
        now = _fds_and_threads()
    return now


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts come from /proc")
def test_dropped_connections_release_their_sockets_and_threads() -> None:
    """100 connections (50 pairs) dropped without close(): no socket and no thread stays.
    Before the fix the Python backend kept 100 descriptors and 100 reader threads here."""
    with Listener() as listener:
        gc.collect()
        before = _fds_and_threads()
        for _ in range(50):
            server, client = _accepted_pair(listener)
            client.send(1, "dropped unread")
            # One side pings, so pong threads exist too and must end as well.
            assert server.ping(10) >= 0
            del server, client
        assert _settle(before) == before


def _accepted_pair(listener: Any) -> tuple[Any, Any]:
    """(server side, client side) of a new connection to ``listener``."""
    accepted: list[Any] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept(10)))
    thread.start()
    client = establish_connection("127.0.0.1", listener.port, 10)
    thread.join(10)
    return accepted[0], client


def test_a_dropped_connection_closes_its_peer() -> None:
    """The peer of a dropped (collected) connection sees it closed, as after close()."""
    with Listener() as listener:
        server, client = _accepted_pair(listener)
        del client
        gc.collect()
        with server, pytest.raises(ConnectionClosedError):
            server.recv(10)


def test_listener_close_from_another_thread_wakes_a_blocked_accept() -> None:
    listener = Listener()
    outcome: list[BaseException | Any] = []

    def wait() -> None:
        try:
            outcome.append(listener.accept())  # no timeout: only close() can end it
        except BaseException as exc:  # the outcome is what is asserted
            outcome.append(exc)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    time.sleep(0.2)  # let it block in accept
    assert thread.is_alive()
    listener.close()
    thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosedError)


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("", ValueError),
        ("a\0b", ValueError),
        ("\udcff", UnicodeError),
        ("x" * 300, UnicodeError),
        ("nonexistent.invalid", socket.gaierror),
    ],
)
def test_bad_hosts_raise_one_class_for_connect_and_listen(
    host: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        establish_connection(host, 80, 5)
    with pytest.raises(error):
        Listener(host)


@pytest.mark.parametrize("timeout", [float("inf"), 2**64, 10**400, 1e300])
def test_huge_timeouts_mean_no_limit(timeout: float) -> None:
    with Listener() as listener:
        accepted: list[Any] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept(timeout)))
        thread.start()
        with establish_connection("127.0.0.1", listener.port, timeout) as client:
            thread.join(10)
            with accepted[0] as server:
                server.send(3, "queued")
                assert client.recv(timeout) == (3, "queued")
                server.send(4, "queued too")
                assert client.recv_stream(4, timeout) == "queued too"
                assert client.ping(timeout) >= 0
    with pytest.raises(ValueError):
        establish_connection("127.0.0.1", 80, -(10**400))
