"""Codecs that turn a function's result into the bytes an idempotency store keeps."""

from __future__ import annotations

import json
import pickle
from typing import Any

__all__ = ["JSON", "PICKLE", "JsonCodec", "PickleCodec"]


class JsonCodec:
    """JSON (the default): safe to read back from a store other processes can write."""

    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def decode(self, payload: bytes) -> Any:
        return json.loads(payload)


class PickleCodec:
    """Any picklable result. Only for a store no one untrusted can write: unpickling
    attacker-controlled bytes runs their code."""

    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, payload: bytes) -> Any:
        return pickle.loads(payload)  # trusted stores only: see the class docstring


JSON = JsonCodec()
PICKLE = PickleCodec()
