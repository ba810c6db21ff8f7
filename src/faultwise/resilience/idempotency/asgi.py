"""``Idempotency-Key`` for ASGI apps: a pure ASGI middleware.

>>> idem = Idempotency(AsyncRedisIdempotencyStore(client), wait=10.0)  # doctest: +SKIP
>>> app.add_middleware(IdempotencyMiddleware, idempotency=idem)  # doctest: +SKIP

For POST and PATCH requests that carry the header: the first request executes and its
response (status, headers, body) is stored before its last byte goes out; a duplicate gets
that response again with ``Idempotent-Replayed: true``; a duplicate arriving while the first
runs waits for it (``wait``) or gets 409; the key with a different method, path, query or
body gets 422; 5xx, 408, 425 and 429 answers and exceptions release the key. Errors are
``application/problem+json``. When the store is unreachable the request is refused with 503
rather than run unprotected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Unpack

from faultwise.resilience.idempotency import _http
from faultwise.resilience.idempotency._core import (
    AsyncIdempotencyStore,
    Claim,
    Idempotency,
    KeyReusedError,
    Replay,
    RequestInProgressError,
    as_idempotency,
)

__all__ = ["IdempotencyMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class IdempotencyMiddleware:
    """Make retried POST/PATCH requests safe with the ``Idempotency-Key`` header.

    ``idempotency`` is an :class:`Idempotency` (its ``wait``, ``ttl``, ``lease`` and
    listeners apply) or an async store. Settings: ``methods`` (default POST and PATCH);
    ``required`` answers 400 to a request without a key; ``header`` (``Idempotency-Key``).
    ``partition_header`` (default ``Authorization``) scopes keys per caller; ``None`` shares
    one key space. Responses larger than ``max_body`` bytes are not stored: a duplicate gets
    409 instead of re-running the request.
    """

    def __init__(
        self,
        app: ASGIApp,
        idempotency: Idempotency | AsyncIdempotencyStore,
        **settings: Unpack[_http.HttpSettings],
    ) -> None:
        self.app = app
        self.idempotency = as_idempotency(idempotency)
        self._options = _http.HttpOptions.build(**settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        options = self._options
        if scope["type"] != "http" or scope["method"] not in options.methods:
            await self.app(scope, receive, send)
            return
        raw = partition = None
        for name, value in scope["headers"]:
            if name == options.header:
                raw = value
            elif name == options.partition_header:
                partition = value
        if raw is None:
            if options.required:
                await _respond(send, _http.MISSING)
            else:
                await self.app(scope, receive, send)
            return
        key = _http.parse_key(raw)
        if key is None:
            await _respond(send, _http.INVALID)
            return
        digest = _http.fingerprint_start(scope["method"], scope["path"], scope["query_string"])
        messages: deque[Message] = deque()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nothing ran, nothing to keep
            messages.append(message)
            digest.update(message.get("body", b""))
            more = message.get("more_body", False)
        key = _http.store_key(key, partition)
        try:
            claimed = await self.idempotency.claim_async(key, digest.hexdigest())
        except RequestInProgressError:
            await _respond(send, _http.IN_PROGRESS)
        except KeyReusedError:
            await _respond(send, _http.REUSED)
        except Exception as exc:
            self.idempotency.store_failed(key, "refused", exc)
            await _respond(send, _http.UNAVAILABLE)
        else:
            if isinstance(claimed, Replay):
                await _replay(send, claimed)
            else:
                await self._execute(claimed, scope, messages, receive, send)

    async def _execute(
        self, claim: Claim, scope: Scope, messages: deque[Message], receive: Receive, send: Send
    ) -> None:
        status, headers, body = 500, [], bytearray()
        too_large = finished = False
        limit = self._options.max_body

        async def receive_buffered() -> Message:
            return messages.popleft() if messages else await receive()

        async def send_recorded(message: Message) -> None:
            nonlocal status, headers, too_large, finished
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", ()))
            elif message["type"] == "http.response.body" and not finished:
                chunk = message.get("body", b"")
                too_large = too_large or len(body) + len(chunk) > limit
                if not too_large:
                    body.extend(chunk)
                if not message.get("more_body", False):
                    finished = True  # store before the last byte leaves: a retry sees it
                    await self._finish(claim, status, headers, None if too_large else bytes(body))
            await send(message)

        try:
            await self.app(scope, receive_buffered, send_recorded)
        finally:
            if not finished:  # raised, cancelled, or returned without a whole response
                await self._release(claim)

    async def _finish(
        self, claim: Claim, status: int, headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> None:
        if not _http.storable(status):
            await self._release(claim)
            return
        try:
            await self.idempotency.complete_async(
                claim, _http.encode_response(status, headers, body)
            )
        except Exception as exc:  # the request ran: its response must still go out
            self.idempotency.store_failed(claim.key, "not_stored", exc)

    async def _release(self, claim: Claim) -> None:
        try:
            await self.idempotency.release_async(claim)
        except Exception as exc:  # never hide the request's own outcome behind a store error
            self.idempotency.store_failed(claim.key, "not_released", exc)


async def _replay(send: Send, replay: Replay) -> None:
    stored = _http.decode_response(replay.payload)
    if stored.body is None:
        await _respond(send, _http.TOO_LARGE)
        return
    await _respond(
        send, _http.StoredResponse(stored.status, _http.replay_headers(stored), stored.body)
    )


async def _respond(send: Send, response: _http.StoredResponse) -> None:
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    await send({"type": "http.response.body", "body": response.body or b""})
