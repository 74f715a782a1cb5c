"""CacheCore: content digests and integrity checks for PyAgent's storage cache.

Hot paths ``generate_hash`` and ``verify_integrity`` (seed: Storage/Cache), each with a batch
form. Digests are hashlib's, lower-case hex; ``data`` is any bytes-like object (hashed as its
raw bytes, without a copy) or a ``str`` (hashed as UTF-8). The native path hashes large
inputs with the GIL released and large batches in parallel.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "ALGORITHMS",
    "CacheCore",
    "generate_hash",
    "generate_hash_batch",
    "verify_integrity",
    "verify_integrity_batch",
]

#: Digest algorithms offered, by their hashlib names. Names are matched ignoring ASCII case.
ALGORITHMS = ("md5", "sha1", "sha256", "sha512")

Data = bytes | bytearray | memoryview | str


def _algorithm(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"algorithm must be str, not {type(name).__name__}")
    lowered = name.lower() if name.isascii() else name
    if lowered not in ALGORITHMS:
        raise ValueError(
            f"unsupported hash algorithm {name!r}; expected one of md5, sha1, sha256, sha512"
        )
    return lowered


def _raw(data: object, what: str) -> bytes | memoryview:
    if isinstance(data, str):
        return data.encode("utf-8")
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{what} must be str or a bytes-like object, not {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view


def _items(items: object) -> list[bytes | memoryview]:
    if isinstance(items, (str, bytes)):
        raise TypeError(
            "items must be an iterable of str or bytes-like objects, not a single str or bytes"
        )
    return [_raw(item, "each item") for item in items]  # type: ignore[attr-defined]


def _digest_matches(actual: str, expected: object) -> bool:
    if not isinstance(expected, str):
        raise TypeError(
            f"expected digest must be a str of hex digits, not {type(expected).__name__}"
        )
    if not expected.isascii():
        return False
    return hmac.compare_digest(actual.encode(), expected.lower().encode())


def generate_hash(data: Data, algorithm: str = "sha256") -> str:
    """Hex digest of ``data`` with ``algorithm`` (md5, sha1, sha256 or sha512).

    Raises TypeError for data that is neither str nor bytes-like, ValueError for an unknown
    algorithm, UnicodeEncodeError for a str holding lone surrogates.
    """
    if rc is not None and hasattr(rc, "generate_hash"):
        return rc.generate_hash(data, algorithm)
    name = _algorithm(algorithm)
    return hashlib.new(name, _raw(data, "data")).hexdigest()


def generate_hash_batch(items: Iterable[Data], algorithm: str = "sha256") -> list[str]:
    """Hex digests of every item, in order: one call for a whole batch of cache entries."""
    if rc is not None and hasattr(rc, "generate_hash_batch"):
        return rc.generate_hash_batch(items, algorithm)
    name = _algorithm(algorithm)
    return [hashlib.new(name, raw).hexdigest() for raw in _items(items)]


def verify_integrity(data: Data, expected: str, algorithm: str = "sha256") -> bool:
    """True when ``expected`` (hex, any case) is the digest of ``data``.

    The comparison runs in constant time, so checking a digest supplied by an untrusted
    party leaks nothing about how close it was.
    """
    if rc is not None and hasattr(rc, "verify_integrity"):
        return rc.verify_integrity(data, expected, algorithm)
    name = _algorithm(algorithm)
    actual = hashlib.new(name, _raw(data, "data")).hexdigest()
    return _digest_matches(actual, expected)


def verify_integrity_batch(
    items: Iterable[Data], expected: Iterable[str], algorithm: str = "sha256"
) -> list[bool]:
    """``verify_integrity`` over paired items and digests; unequal lengths are a ValueError."""
    if rc is not None and hasattr(rc, "verify_integrity_batch"):
        return rc.verify_integrity_batch(items, expected, algorithm)
    name = _algorithm(algorithm)
    raws = _items(items)
    if isinstance(expected, str):
        raise TypeError("expected must be an iterable of digests, not a single str")
    digests = list(expected)
    for digest in digests:
        if not isinstance(digest, str):
            raise TypeError(
                f"expected digest must be a str of hex digits, not {type(digest).__name__}"
            )
    if len(digests) != len(raws):
        raise ValueError(f"got {len(raws)} items but {len(digests)} expected digests")
    return [
        _digest_matches(hashlib.new(name, raw).hexdigest(), digest)
        for raw, digest in zip(raws, digests, strict=True)
    ]


@dataclass
class CacheCore:
    """A content-addressed in-memory cache whose entries are checked on every read.

    Keys are digests of the stored value, so a corrupted entry is detected rather than
    served: :meth:`get` verifies the bytes against their key before returning them.
    """

    algorithm: str = "sha256"
    _entries: dict[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.algorithm = _algorithm(self.algorithm)

    def put(self, value: Data) -> str:
        """Stores ``value`` and returns its key (its digest)."""
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        key = generate_hash(raw, self.algorithm)
        self._entries[key] = raw
        return key

    def put_many(self, values: Iterable[Data]) -> list[str]:
        """Stores every value with one batch hash call; returns their keys in order."""
        raws = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
        keys = generate_hash_batch(raws, self.algorithm)
        self._entries.update(zip(keys, raws, strict=True))
        return keys

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; KeyError if absent, ValueError if corrupted."""
        raw = self._entries[key]
        if not verify_integrity(raw, key, self.algorithm):
            raise ValueError(f"cache entry {key} failed its integrity check")
        return raw

    def corrupted(self) -> list[str]:
        """Keys whose stored bytes no longer match them, checked in one batch."""
        keys = list(self._entries)
        verdicts = verify_integrity_batch([self._entries[k] for k in keys], keys, self.algorithm)
        return [key for key, ok in zip(keys, verdicts, strict=True) if not ok]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries
