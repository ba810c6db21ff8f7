"""Lab services as real processes on 127.0.0.1, always cleaned up.

Each service runs ``python -m faultwise.lab._serve CONFIG`` in its own process group, binds a
free port on 127.0.0.1 itself and reports it on its first line of output, so no port is ever
guessed. :class:`Cluster` stops every process on exit, on an exception and on Ctrl-C
(SIGTERM to the group, then SIGKILL); each child also exits by itself when its parent dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from faultwise._errors import FaultwiseError

__all__ = ["Cluster", "ServiceProcess"]

_READY_TIMEOUT_S = 20.0


class ServiceProcess:
    """One running service: ``name``, ``port``, ``url``; :meth:`stop` ends its process group."""

    def __init__(self, name: str, config: dict[str, Any], *, log_dir: Path | None = None) -> None:
        self.name = name
        self.config = {"name": name, **config}
        self.port = 0
        stderr_path = (log_dir / f"{name}.stderr.log") if log_dir else None
        self._stderr = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "FAULTWISE_LAB_PARENT": str(os.getpid())}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faultwise.lab._serve", json.dumps(self.config)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> None:
        """Read the ``LISTENING <port>`` line the service prints once it can take requests."""
        assert self.process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        text = line[0].decode(errors="replace").strip() if line else ""
        if not text.startswith("LISTENING "):
            self.stop()
            raise FaultwiseError(
                f"lab service {self.name!r} did not start within {timeout:.0f} s"
                + (f": {text}" if text else "")
            )
        self.port = int(text.split()[1])

    def terminate(self) -> None:
        """Ask the process group to stop (SIGTERM); :meth:`stop` waits for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, grace: float = 3.0) -> None:
        self.terminate()
        if self.process.poll() is None:
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(grace)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if hasattr(self._stderr, "close"):
            self._stderr.close()


class Cluster:
    """Start services, wait until each listens, and stop all of them whatever happens.

    >>> with Cluster(log_dir=None) as cluster:            # doctest: +SKIP
    ...     backend = cluster.start("backend", {"kind": "backend", "workers": 4})
    """

    def __init__(self, *, log_dir: Path | None) -> None:
        self.log_dir = log_dir
        self.services: dict[str, ServiceProcess] = {}
        self._old_sigterm: Any = None

    def start(self, name: str, config: dict[str, Any]) -> ServiceProcess:
        service = ServiceProcess(name, config, log_dir=self.log_dir)
        self.services[name] = service
        service.wait_ready()
        return service

    def start_many(self, configs: dict[str, dict[str, Any]]) -> dict[str, ServiceProcess]:
        """Start several services in parallel (their imports overlap), then wait for each."""
        started = {n: ServiceProcess(n, c, log_dir=self.log_dir) for n, c in configs.items()}
        self.services.update(started)
        for service in started.values():
            service.wait_ready()
        return started

    def stop(self) -> None:
        services = list(self.services.values())
        for service in services:  # all at once: each one's shutdown overlaps the others'
            service.terminate()
        for service in reversed(services):
            service.stop()
        self.services.clear()

    def __enter__(self) -> Cluster:
        if threading.current_thread() is threading.main_thread():
            # a SIGTERM to the lab must still stop its services: turn it into an exception
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def watch_parent(interval: float = 0.5) -> None:
    """In a service: exit when the lab process that started it is gone (no orphans)."""
    parent = int(os.environ.get("FAULTWISE_LAB_PARENT", "0"))
    if not parent:
        return

    def loop() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=loop, name="faultwise-lab-parent-watch", daemon=True).start()
