"""``@idempotent``: a plain function (sync or async) that runs once per idempotency key."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from faultwise.resilience.idempotency._codec import JSON
from faultwise.resilience.idempotency._core import (
    AsyncIdempotencyStore,
    Codec,
    Idempotency,
    IdempotencyStore,
    as_idempotency,
)

__all__ = ["idempotent"]

P = ParamSpec("P")
R = TypeVar("R")
KeyFunction = Callable[..., object]


def idempotent(
    target: Idempotency | IdempotencyStore | AsyncIdempotencyStore,
    *,
    key: str | KeyFunction,
    fingerprint: Callable[..., str | bytes] | None = None,
    codec: Codec[Any] = JSON,
    namespace: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function once per key; a repeated key returns the stored result.

    ``key`` names the parameter that carries the key, or is a function of the call's
    arguments; a key of ``None`` runs the call without idempotency. The fingerprint that
    tells a genuine retry from a key reused for another request is, by default, a SHA-256
    of the JSON of the call's arguments (pass ``fingerprint`` for arguments JSON cannot
    hold). Results go through ``codec`` (JSON by default; :data:`PICKLE` for any object,
    from a trusted store only). Keys are namespaced by the function's qualified name unless
    ``namespace`` is given. Raising releases the key so a retry executes again.

    >>> @idempotent(MemoryIdempotencyStore(), key="request_id")  # doctest: +SKIP
    ... def charge(request_id: str, order: str, cents: int) -> dict[str, str]: ...
    """
    idem = as_idempotency(target)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        prefix = namespace if namespace is not None else f"{fn.__module__}.{fn.__qualname__}"
        key_of = _parameter_key(signature, key) if isinstance(key, str) else key
        fingerprint_of = fingerprint or functools.partial(_arguments_fingerprint, signature)

        def identify(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str] | None:
            value = key_of(*args, **kwargs)
            if value is None:
                return None
            digest = fingerprint_of(*args, **kwargs)
            return f"{prefix}:{value}", digest if isinstance(digest, str) else digest.hex()

        if inspect.iscoroutinefunction(fn):
            call_async = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                identity = identify(args, kwargs)
                if identity is None:
                    return await call_async(*args, **kwargs)
                return await idem.run_async(*identity, lambda: call_async(*args, **kwargs), codec)

            return cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            identity = identify(args, kwargs)
            if identity is None:
                return fn(*args, **kwargs)
            return cast(R, idem.run(*identity, lambda: fn(*args, **kwargs), codec))

        return run

    return decorate


def _parameter_key(signature: inspect.Signature, name: str) -> KeyFunction:
    if name not in signature.parameters:
        raise TypeError(f"idempotent(key={name!r}): the function has no parameter {name!r}")

    def key_of(*args: Any, **kwargs: Any) -> object:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments[name]

    return key_of


def _arguments_fingerprint(signature: inspect.Signature, *args: Any, **kwargs: Any) -> str:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    try:
        text = json.dumps(bound.arguments, sort_keys=True, separators=(",", ":"))
    except TypeError as exc:
        raise TypeError(
            f"idempotent: cannot fingerprint the arguments as JSON ({exc}); "
            "pass fingerprint=<function of the arguments returning str or bytes>"
        ) from None
    return hashlib.sha256(text.encode()).hexdigest()
