"""What the ASGI and WSGI middleware share: key parsing, fingerprints, stored responses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

__all__ = [
    "REPLAYED_HEADER",
    "HttpOptions",
    "HttpSettings",
    "StoredResponse",
    "decode_response",
    "encode_response",
    "fingerprint_start",
    "parse_key",
    "problem",
    "storable",
    "store_key",
]

REPLAYED_HEADER = b"idempotent-replayed"
"""Set to ``true`` on a replayed response (Stripe's header)."""

MAX_KEY_LENGTH = 255  # Stripe's limit; the draft recommends UUIDs (36 characters)
_NOT_STORED = frozenset({b"date", b"connection", b"keep-alive", b"transfer-encoding"})
_RETRYABLE = frozenset({408, 425, 429})  # "try again" answers: the request did not take effect


class HttpSettings(TypedDict, total=False):
    """The keyword settings of both middleware (see their docstrings)."""

    methods: Iterable[str]
    required: bool
    header: str
    partition_header: str | None
    max_body: int


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The middleware's settings, shared by the ASGI and WSGI twins."""

    methods: frozenset[str]
    required: bool
    header: bytes
    partition_header: bytes | None
    max_body: int

    @classmethod
    def build(
        cls,
        methods: Iterable[str] = ("POST", "PATCH"),
        required: bool = False,
        header: str = "Idempotency-Key",
        partition_header: str | None = "Authorization",
        max_body: int = 1 << 20,
    ) -> HttpOptions:
        if max_body < 0:
            raise ValueError(f"max_body must be >= 0, got {max_body!r}")
        partition = partition_header.lower().encode("latin-1") if partition_header else None
        return cls(
            frozenset(m.upper() for m in methods),
            required,
            header.lower().encode("latin-1"),
            partition,
            max_body,
        )


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as kept in the store; ``body`` is ``None`` when it was too large to keep."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None


def parse_key(raw: bytes) -> str | None:
    """The key of an ``Idempotency-Key`` value, or ``None`` when it is not a valid key.

    The draft makes the value a Structured Field string (``"8e03978e-..."``); Stripe sends it
    bare. Both are accepted: 1 to 255 printable ASCII characters.
    """
    value = raw.strip()
    if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
        value = value[1:-1]
    if not 0 < len(value) <= MAX_KEY_LENGTH or not all(0x20 <= b < 0x7F for b in value):
        return None
    return value.decode("ascii")


def store_key(key: str, partition: bytes | None) -> str:
    """The key as stored: prefixed by a hash of the caller's credentials when configured, so
    two clients choosing the same key never see each other's responses."""
    if partition is None:
        return key
    return f"{hashlib.sha256(partition).hexdigest()[:16]}:{key}"


def fingerprint_start(method: str, path: str, query: bytes) -> hashlib._Hash:
    """A SHA-256 of method, path and query; the caller feeds it the body."""
    digest = hashlib.sha256(method.encode("latin-1"))
    digest.update(b" " + path.encode("utf-8", "surrogateescape") + b"?" + query + b"\n")
    return digest


def storable(status: int) -> bool:
    """Whether a response is final: 5xx and "try again" answers release the key instead."""
    return status < 500 and status not in _RETRYABLE


def encode_response(
    status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes | None
) -> bytes:
    kept = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in headers
        if name.lower() not in _NOT_STORED
    ]
    head = json.dumps({"s": status, "h": kept, "b": body is not None}, separators=(",", ":"))
    return head.encode() + b"\n" + (body or b"")


def decode_response(payload: bytes) -> StoredResponse:
    head, _, body = payload.partition(b"\n")
    meta = json.loads(head)
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in meta["h"]]
    return StoredResponse(meta["s"], headers, body if meta["b"] else None)


def problem(status: int, title: str, detail: str, retry_after: int | None = None) -> StoredResponse:
    """An RFC 9457 ``application/problem+json`` response, as the draft asks for errors."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = [(b"content-type", b"application/problem+json")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    return StoredResponse(status, headers, body.encode())


def replay_headers(response: StoredResponse) -> list[tuple[bytes, bytes]]:
    return [*response.headers, (REPLAYED_HEADER, b"true")]


TOO_LARGE = problem(
    409,
    "Response not replayable",
    "the first request with this idempotency key completed, but its response was larger "
    "than the middleware's max_body and was not stored",
)
MISSING = problem(400, "Idempotency-Key missing", "this endpoint requires an Idempotency-Key")
INVALID = problem(
    400, "Idempotency-Key invalid", "the key must be 1 to 255 printable ASCII characters"
)
IN_PROGRESS = problem(
    409,
    "Request in progress",
    "a request with this idempotency key is still being processed; retry later",
    retry_after=1,
)
REUSED = problem(
    422,
    "Idempotency-Key reused",
    "this idempotency key was already used for a different request",
)
UNAVAILABLE = problem(
    503,
    "Idempotency store unavailable",
    "the idempotency key could not be checked, so the request was not run; retry later",
    retry_after=1,
)
