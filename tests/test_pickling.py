"""Objects that cross process boundaries: pickle, copy and deepcopy on both backends.

Runs in both suite runs: with ``PYAGENT_BACKEND=rust`` the objects are rust_core's, with
``=python`` their pure-Python twins. The ``requires_rust`` tests also load a pickle in a fresh
interpreter of the *other* backend, the way a worker process without the extension would.
"""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pyagent import connectivity_core as cc
from pyagent.backend import forced_python
from pyagent.kv_cache_core import BlockManager, NoFreeBlocksError
from pyagent.tokenizer_core import tiny_tokenizer
from pyagent.validation_core import compile_schema

from .conftest import run_python

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
INSTANCES: list[Any] = [{"a": 1}, {"a": "x"}, {}, [], {"a": 2, "b": None}]
SPECIALS = {"<|end|>": 50_000}
TEXT = "Hello, world! <|end|> 12345 agents\n\n  spaces"


def _manager() -> Any:
    """A manager with shared blocks, a copy-on-write and a freed sequence."""
    manager = BlockManager(16, 4)
    manager.allocate(3, 9)
    manager.fork(3, 7)
    manager.append_token(7)  # copy-on-write of the shared, partly filled last block
    manager.allocate(1, 2)
    manager.free(3)
    return manager


def _decoder() -> Any:
    """A decoder holding one whole frame's worth of delivered data and half a frame."""
    decoder = cc.FrameDecoder(1 << 20)
    first = cc.encode_frame({"step": 1}, 5)
    second = cc.encode_frame(["x" * 3000, 2.5], 9)  # compressed (over the threshold)
    assert decoder.feed(first + second[:20]) == [(5, {"step": 1})]
    return decoder


def _tokenizer() -> Any:
    return tiny_tokenizer(SPECIALS)


def _validator() -> Any:
    return compile_schema(SCHEMA)


#: A registered document behind a $ref, and format assertion on: keywords a pickle must keep.
REGISTERED = {"https://example.com/name": {"type": "string", "format": "email"}}
SCHEMA_WITH_KEYWORDS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "properties": {"who": {"$ref": "https://example.com/name"}},
}


def _validator_with_keywords() -> Any:
    return compile_schema(SCHEMA_WITH_KEYWORDS, registry=REGISTERED, format="assert")


def _keyword_behaviour(validator: Any) -> Any:
    return [
        validator.draft,
        validator.is_valid_many([{"who": "a@example.com"}, {"who": "not an email"}, {"who": 3}]),
    ]


def _manager_behaviour(manager: Any) -> Any:
    """Everything observable, then what further calls do (errors included)."""
    seen: list[Any] = [manager.__getstate__(), manager.num_free_blocks, len(manager)]
    for call in (
        lambda: manager.append_token(7),
        lambda: manager.allocate(2, 30),
        lambda: manager.allocate(2, 3),
        lambda: manager.fork(2, 9),
        lambda: manager.append_token(9),
        lambda: manager.free(1),
        lambda: manager.allocate(4, 100),
    ):
        try:
            seen.append(call())
        except (KeyError, ValueError, NoFreeBlocksError) as exc:
            seen.append(type(exc).__name__)
    seen.append(manager.__getstate__())
    return seen


def _decoder_behaviour(decoder: Any) -> Any:
    rest = cc.encode_frame(["x" * 3000, 2.5], 9)[20:] + cc.encode_frame(None, 1)
    return [decoder.pending, decoder.max_frame_size, decoder.feed(rest), decoder.pending]


def _tokenizer_behaviour(tokenizer: Any) -> Any:
    tokens = tokenizer.encode(TEXT, allowed_special="all")
    return [tokens, tokenizer.encode_ordinary(TEXT), tokenizer.decode(tokens), tokenizer.n_vocab]


def _validator_behaviour(validator: Any) -> Any:
    return [validator.schema, validator.draft, validator.validate_many(INSTANCES)]


#: name -> (factory, behaviour): every class rust_core has that holds data worth moving.
CLASSES: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "BlockManager": (_manager, _manager_behaviour),
    "FrameDecoder": (_decoder, _decoder_behaviour),
    "Tokenizer": (_tokenizer, _tokenizer_behaviour),
    "SchemaValidator": (_validator, _validator_behaviour),
    "SchemaValidator+registry": (_validator_with_keywords, _keyword_behaviour),
}


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickle_round_trip_keeps_state_and_behaviour(name: str, protocol: int) -> None:
    make, behaviour = CLASSES[name]
    original = make()
    restored = pickle.loads(pickle.dumps(original, protocol))
    assert type(restored) is type(original)
    assert behaviour(restored) == behaviour(make())


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copies_are_equal_and_independent(name: str, copier: Callable[[Any], Any]) -> None:
    make, behaviour = CLASSES[name]
    original = make()
    duplicate = copier(original)
    assert type(duplicate) is type(original)
    assert duplicate is not original
    assert behaviour(duplicate) == behaviour(make())
    # The duplicate was driven on; the original must not have moved with it.
    assert behaviour(original) == behaviour(make())


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_pickle_names_the_backend_neutral_constructor(name: str) -> None:
    make, _ = CLASSES[name]
    data = pickle.dumps(make(), 2)
    assert b"pyagent." in data
    assert b"rust_core" not in data, "a pickle naming rust_core cannot load without it"


def test_live_sockets_refuse_to_move() -> None:
    with cc.Listener() as listener:
        accepted: list[Any] = []
        server = threading.Thread(target=lambda: accepted.append(listener.accept()))
        server.start()
        client = cc.establish_connection("127.0.0.1", listener.port)
        server.join(10)
        try:
            for obj, kind in ((listener, "Listener"), (client, "Connection")):
                for protocol in PROTOCOLS:
                    with pytest.raises(TypeError, match=f"cannot pickle '{kind}'.*live socket"):
                        pickle.dumps(obj, protocol)
                for copier in (copy.copy, copy.deepcopy):
                    with pytest.raises(TypeError, match="live socket"):
                        copier(obj)
        finally:
            client.close()
            for conn in accepted:
                conn.close()


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize(
    "trigger",
    [
        lambda: BlockManager(1, 1).allocate(0, 5),
        lambda: BlockManager(1, 1).free(3),
        lambda: cc.FrameDecoder().feed(b"not a frame at all, long enough"),
        lambda: compile_schema({"type": 5}),
        lambda: _tokenizer().encode("<|end|>"),
        lambda: BlockManager(1, 1).__setstate__({"next_unused": 9, "free": [], "sequences": []}),
    ],
    ids=["NoFreeBlocks", "KeyError", "ProtocolError", "SchemaError", "special", "state"],
)
def test_errors_cross_processes(trigger: Callable[[], Any]) -> None:
    """A worker's exception comes back pickled: same class, same message."""
    error = _raised(trigger)
    for protocol in PROTOCOLS:
        back = pickle.loads(pickle.dumps(error, protocol))
        assert type(back) is type(error)
        assert str(back) == str(error)
        assert back.args == error.args


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"next_unused": 0, "free": [], "sequences": [], "refs": {}},
        {"next_unused": 2**31 - 1, "free": [], "sequences": []},  # no 8 GiB of counts
        {"next_unused": 2, "free": [0], "sequences": [(1, [0], 1)]},  # free and used
        {"next_unused": 2, "free": [], "sequences": [(1, [0], 1)]},  # block 1 lost
        {"next_unused": 1, "free": [], "sequences": [(1, [0], 9)]},  # 1 block for 9 tokens
        {"next_unused": 1, "free": [], "sequences": [(1, [0], 1), (1, [0], 1)]},
        {"next_unused": True, "free": [], "sequences": []},
    ],
)
def test_forged_manager_state_is_refused_and_changes_nothing(state: Any) -> None:
    manager = _manager()
    before = manager.__getstate__()
    with pytest.raises(ValueError, match="invalid BlockManager state"):
        manager.__setstate__(state)
    assert manager.__getstate__() == before


@pytest.mark.parametrize(
    "state",
    [None, {"pending": "text", "failed": None}, {"pending": b"x", "failed": "closed"}, {}],
)
def test_forged_decoder_state_is_refused(state: Any) -> None:
    decoder = _decoder()
    before = decoder.__getstate__()
    with pytest.raises(ValueError, match="invalid FrameDecoder state"):
        decoder.__setstate__(state)
    assert decoder.__getstate__() == before


def test_closed_decoder_stays_closed_after_a_pickle() -> None:
    decoder = cc.FrameDecoder()
    with pytest.raises(cc.ProtocolError):
        decoder.feed(b"X" * 40)
    restored = pickle.loads(pickle.dumps(decoder))
    assert restored.pending == 0
    with pytest.raises(cc.ProtocolError, match="closed by an earlier error"):
        restored.feed(cc.encode_frame(1, 1))


# --- thread safety: the statement in the docs, held by both backends --------------------------


ROUNDS = 400


def test_block_manager_shared_by_threads_loses_no_block() -> None:
    manager = BlockManager(64, 2)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(base: int) -> None:
        start.wait()
        try:
            for round_ in range(ROUNDS):
                seq = base * 10_000 + round_
                manager.allocate(seq, 3)
                manager.fork(seq, seq + 5000)
                for _ in range(3):
                    manager.append_token(seq)
                    manager.append_token(seq + 5000)
                manager.free(seq + 5000)
                manager.free(seq)
        except BaseException as exc:  # reported below, with the state it left
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(manager) == 0
    assert manager.num_free_blocks == 64
    state = manager.__getstate__()
    assert sorted(state["free"]) == list(range(state["next_unused"]))


def test_frame_decoder_shared_by_threads_keeps_every_frame() -> None:
    decoder = cc.FrameDecoder()
    frames = [cc.encode_frame({"i": i, "pad": "p" * (i % 50)}, i) for i in range(300)]
    got: list[Any] = []
    lock = threading.Lock()

    def worker(part: list[bytes]) -> None:
        for frame in part:
            messages = decoder.feed(frame)  # whole frames: any order of calls is a valid stream
            with lock:
                got.extend(messages)

    threads = [threading.Thread(target=worker, args=(frames[i::3],)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(got, key=lambda m: m[0]) == [
        (i, {"i": i, "pad": "p" * (i % 50)}) for i in range(300)
    ]
    decoder.finish()


# --- the other backend, in a fresh interpreter --------------------------------------------------

_LOAD_AND_RUN = """
import json, pickle
from tests.test_pickling import CLASSES
out = {}
for name, (make, behaviour) in CLASSES.items():
    with open(f"{DIR}/{name}.pickle", "rb") as handle:
        obj = pickle.load(handle)
    out[name] = [type(obj).__module__, repr(behaviour(obj)), repr(behaviour(make()))]
print(json.dumps(out))
"""


def _load_elsewhere(tmp_path: Any, backend: str) -> dict[str, list[str]]:
    code = _LOAD_AND_RUN.replace("{DIR}", str(tmp_path))
    done = run_python(code, env={"PYAGENT_BACKEND": backend}, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.requires_rust
def test_rust_pickles_load_where_the_extension_is_absent(tmp_path: Any) -> None:
    for name, (make, _) in CLASSES.items():
        obj = make()
        assert type(obj).__module__.startswith("rust_core")
        (tmp_path / f"{name}.pickle").write_bytes(pickle.dumps(obj))
    loaded = _load_elsewhere(tmp_path, "python")
    for name, (module, behaviour, expected) in loaded.items():
        assert module.startswith("pyagent."), (name, module)
        assert behaviour == expected, name


@pytest.mark.requires_rust
def test_python_pickles_load_as_the_extension(tmp_path: Any) -> None:
    with forced_python():
        for name, (make, _) in CLASSES.items():
            obj = make()
            assert type(obj).__module__.startswith("pyagent.")
            (tmp_path / f"{name}.pickle").write_bytes(pickle.dumps(obj))
    loaded = _load_elsewhere(tmp_path, "rust")
    for name, (module, behaviour, expected) in loaded.items():
        assert module.startswith("rust_core"), (name, module)
        assert behaviour == expected, name
