"""One lab process: ``python -m faultwise.lab._serve '<json config>'``.

It binds a free port on 127.0.0.1 itself and prints ``LISTENING <port>`` once it accepts
connections. ``kind`` says what it is: a service of :mod:`faultwise.lab._kinds` (Starlette
on uvicorn, observed, see :mod:`faultwise.lab._runtime`), ``store`` (the built-in database
and queue, :mod:`faultwise.lab._store`) or ``proxy`` (the fault proxy with Toxiproxy's API).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

from faultwise.lab._procs import watch_parent

__all__ = ["build_app", "main"]


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def _ready(port: int) -> None:
    print(f"LISTENING {port}", flush=True)


def build_app(config: dict[str, Any]) -> Any:
    """The ASGI app of a lab service (``config["kind"]`` names it)."""
    from faultwise.lab._kinds import KINDS
    from faultwise.lab._runtime import Runtime

    runtime = Runtime(config)
    routes, checks = KINDS[config.get("kind", "backend")](runtime)
    return runtime.app(routes, checks=checks)


def _serve_service(config: dict[str, Any]) -> None:
    import uvicorn

    sock = _listen()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(config),
            log_level="warning",
            access_log=False,
            http="h11",
            loop="asyncio",
            backlog=2048,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
            log_config=None,  # uvicorn's own warnings go through the service's JSON logging
        )
    )
    _ready(sock.getsockname()[1])
    server.run(sockets=[sock])


def _serve_store(config: dict[str, Any]) -> None:
    from faultwise.lab._store import Store, serve_store
    from faultwise.observe import configure_logging

    out = config.get("out")
    stream = None
    if out:
        path = Path(out) / "logs" / f"{config['name']}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "ab", buffering=0)  # noqa: SIM115
    configure_logging(config["name"], stream=stream, static={"instance": config["name"]})
    store = Store(op_time=float(config.get("op_time", 0.001)), seed=int(config.get("seed", 0)))
    store.rows.update({str(k): int(v) for k, v in config.get("rows", {}).items()})
    sock = _listen()
    _ready(sock.getsockname()[1])
    asyncio.run(serve_store(store, sock))


def _serve_proxy(config: dict[str, Any]) -> None:
    from faultwise.lab._proxy import FaultProxy

    asyncio.run(FaultProxy().serve("127.0.0.1", 0, ready=_ready))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(args[0])
    watch_parent()
    kind = config.get("kind", "backend")
    if kind == "store":
        _serve_store(config)
    elif kind == "proxy":
        _serve_proxy(config)
    else:
        _serve_service(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
