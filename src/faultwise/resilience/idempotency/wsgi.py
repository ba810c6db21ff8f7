"""``Idempotency-Key`` for WSGI apps (Flask, Django, ...): the twin of the ASGI middleware.

>>> idem = Idempotency(RedisIdempotencyStore(client), wait=10.0)  # doctest: +SKIP
>>> app.wsgi_app = IdempotencyWSGIMiddleware(app.wsgi_app, idem)  # doctest: +SKIP

Same rules as :class:`~faultwise.resilience.idempotency.IdempotencyMiddleware`; the
response is stored when the app's body iterable is exhausted, before the last chunk is
handed to the server.
"""

from __future__ import annotations

import http
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Unpack

from faultwise.resilience.idempotency import _http
from faultwise.resilience.idempotency._core import (
    Claim,
    Idempotency,
    IdempotencyStore,
    KeyReusedError,
    Replay,
    RequestInProgressError,
    as_idempotency,
)

__all__ = ["IdempotencyWSGIMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class IdempotencyWSGIMiddleware:
    """Make retried POST/PATCH requests safe with the ``Idempotency-Key`` header (WSGI).

    Arguments as for the ASGI middleware; ``idempotency`` is an :class:`Idempotency` over a
    sync store, or the store itself.
    """

    def __init__(
        self,
        app: WSGIApp,
        idempotency: Idempotency | IdempotencyStore,
        **settings: Unpack[_http.HttpSettings],
    ) -> None:
        self.app = app
        self.idempotency = as_idempotency(idempotency)
        self._options = _http.HttpOptions.build(**settings)
        header = settings.get("header", "Idempotency-Key")
        partition_header = settings.get("partition_header", "Authorization")
        self._key_var = _environ_name(header)
        self._partition_var = _environ_name(partition_header) if partition_header else None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method: str = environ["REQUEST_METHOD"]
        if method not in self._options.methods:
            return self.app(environ, start_response)
        raw: str | None = environ.get(self._key_var)
        if raw is None:
            if self._options.required:
                return _respond(start_response, _http.MISSING)
            return self.app(environ, start_response)
        key = _http.parse_key(raw.encode("latin-1"))
        if key is None:
            return _respond(start_response, _http.INVALID)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        digest = _http.fingerprint_start(method, path, environ.get("QUERY_STRING", "").encode())
        digest.update(body)
        partition = environ.get(self._partition_var) if self._partition_var else None
        key = _http.store_key(key, partition.encode("latin-1") if partition else None)
        try:
            claimed = self.idempotency.claim(key, digest.hexdigest())
        except RequestInProgressError:
            return _respond(start_response, _http.IN_PROGRESS)
        except KeyReusedError:
            return _respond(start_response, _http.REUSED)
        except Exception as exc:
            self.idempotency.store_failed(key, "refused", exc)
            return _respond(start_response, _http.UNAVAILABLE)
        if isinstance(claimed, Replay):
            stored = _http.decode_response(claimed.payload)
            if stored.body is None:
                return _respond(start_response, _http.TOO_LARGE)
            replayed = _http.StoredResponse(
                stored.status, _http.replay_headers(stored), stored.body
            )
            return _respond(start_response, replayed)
        return self._execute(claimed, environ, start_response)

    def _execute(
        self, claim: Claim, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        recorded: list[Any] = []

        def start_recorded(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            recorded[:] = [status, headers]
            return start_response(status, headers, *exc)

        try:
            body = self.app(environ, start_recorded)
        except BaseException:
            self._release(claim)
            raise
        return _Recorded(self, claim, body, recorded)

    def _finish(self, claim: Claim, recorded: list[Any], body: bytes | None) -> None:
        status = int(recorded[0].split(None, 1)[0]) if recorded else 500
        if not _http.storable(status):
            self._release(claim)
            return
        headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in recorded[1]]
        try:
            self.idempotency.complete(claim, _http.encode_response(status, headers, body))
        except Exception as exc:  # the request ran: its response must still go out
            self.idempotency.store_failed(claim.key, "not_stored", exc)

    def _release(self, claim: Claim) -> None:
        try:
            self.idempotency.release(claim)
        except Exception as exc:  # never hide the request's own outcome behind a store error
            self.idempotency.store_failed(claim.key, "not_released", exc)


class _Recorded:
    """The app's body: kept (up to ``max_body``) while it streams; stored at its end."""

    __slots__ = ("_body", "_claim", "_done", "_iterator", "_middleware", "_recorded")

    def __init__(
        self,
        middleware: IdempotencyWSGIMiddleware,
        claim: Claim,
        body: Iterable[bytes],
        recorded: list[Any],
    ) -> None:
        self._middleware = middleware
        self._claim = claim
        self._body = body
        self._recorded = recorded
        self._done = False
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        # One pass only: servers (werkzeug among them) may call iter() again after a first chunk.
        if self._iterator is None:
            self._iterator = self._record()
        return self._iterator

    def _record(self) -> Iterator[bytes]:
        kept: bytearray | None = bytearray()
        limit = self._middleware._options.max_body
        previous: bytes | None = None
        try:
            for chunk in self._body:
                if previous is not None:
                    yield previous
                if kept is not None and len(kept) + len(chunk) <= limit:
                    kept.extend(chunk)
                else:
                    kept = None
                previous = chunk
        except BaseException:
            self._abandon()
            raise
        self._done = True  # store before the last chunk leaves: a retry sees it
        self._middleware._finish(self._claim, self._recorded, None if kept is None else bytes(kept))
        if previous is not None:
            yield previous

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._abandon()

    def _abandon(self) -> None:
        if not self._done:  # the server stopped reading, or the app raised mid-body
            self._done = True
            self._middleware._release(self._claim)


def _environ_name(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


def _read_body(environ: Environ) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        data: bytes = stream.read(int(length))
        return data
    if environ.get("wsgi.input_terminated"):
        rest: bytes = stream.read()
        return rest
    return b""


def _respond(start_response: StartResponse, response: _http.StoredResponse) -> list[bytes]:
    try:
        reason = http.HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers]
    start_response(f"{response.status} {reason}".rstrip(), headers)
    return [response.body or b""]
