"""A TCP fault proxy whose HTTP API is Toxiproxy's, so its clients drive it unchanged.

Proxies forward TCP connections from ``listen`` to ``upstream``; toxics degrade them:
``latency`` (``latency`` and ``jitter`` ms), ``bandwidth`` (``rate`` KB/s), ``slow_close``
(``delay`` ms), ``timeout`` (``timeout`` ms: data stops; the connection closes after it, or
never when 0), ``reset_peer`` (``timeout`` ms, then a TCP RST), ``slicer`` (``average_size``,
``size_variation`` bytes, ``delay`` µs), ``limit_data`` (``bytes``, then the connection
closes). Each toxic acts on one ``stream`` (``upstream``: client to server, or
``downstream``) and on a share ``toxicity`` of connections. Toxics change live connections.

The API (``GET/POST /proxies``, ``GET/POST/DELETE /proxies/{name}``,
``GET/POST /proxies/{name}/toxics``, ``GET/POST/DELETE /proxies/{name}/toxics/{toxic}``,
``POST /populate``, ``POST /reset``, ``GET /version``) answers as Toxiproxy 2 does. Only
loopback addresses may be listened on or proxied to: this is a lab tool.

    proxy = FaultProxy()
    with proxy.running_in_thread() as api:   # api == "127.0.0.1:PORT"
        ...                                  # toxiproxy-python, Chaos Toolkit, curl
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from faultwise import __version__

__all__ = ["TOXIC_TYPES", "FaultProxy", "ProxyError", "Toxic"]

TOXIC_TYPES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
STREAMS = ("upstream", "downstream")
VERSION = f"2.12.0-faultwise-{__version__}"
_CHUNK = 32 * 1024


class ProxyError(Exception):
    """An API error: ``status`` is the HTTP status Toxiproxy answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Toxic:
        kind = body.get("type")
        if kind not in TOXIC_TYPES:
            raise ProxyError(f"invalid toxic type: {kind!r}", 400)
        stream = body.get("stream") or "downstream"
        if stream not in STREAMS:
            raise ProxyError(f"stream must be upstream or downstream, got {stream!r}", 400)
        toxicity = float(body.get("toxicity", 1.0))
        if not 0.0 <= toxicity <= 1.0:
            raise ProxyError(f"toxicity must be within 0..1, got {toxicity!r}", 400)
        attributes = dict(TOXIC_TYPES[kind])
        for key, value in (body.get("attributes") or {}).items():
            if key not in attributes:
                raise ProxyError(f"unknown attribute {key!r} for a {kind} toxic", 400)
            if not isinstance(value, int | float) or value < 0:
                raise ProxyError(f"attribute {key!r} must be a number >= 0", 400)
            attributes[key] = int(value)
        name = body.get("name") or f"{kind}_{stream}"
        return cls(str(name), str(kind), str(stream), toxicity, attributes)


def _loopback(hostport: str, *, what: str) -> tuple[str, int]:
    host, sep, port_text = hostport.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ProxyError(f"{what} must be host:port, got {hostport!r}", 400)
    host = host.strip("[]") or "127.0.0.1"
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ProxyError(f"{what} {hostport!r}: only loopback addresses are allowed", 400)
    return host, int(port_text)


class _Proxy:
    def __init__(self, owner: FaultProxy, name: str, listen: str, upstream: str) -> None:
        self.owner = owner
        self.name = name
        self.listen_host, self.listen_port = _loopback(listen, what="listen")
        self.upstream = upstream
        self.upstream_host, self.upstream_port = _loopback(upstream, what="upstream")
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self.server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self.changed = asyncio.Event()

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.as_json() for t in self.toxics.values()],
        }

    def touch(self) -> None:
        """Wake every connection: the toxics changed."""
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    async def start(self) -> None:
        if self.enabled:
            return
        try:
            self.server = await asyncio.start_server(
                self._accept, self.listen_host, self.listen_port, reuse_address=True
            )
        except OSError as exc:
            raise ProxyError(f"cannot listen on {self.listen}: {exc.strerror}", 500) from exc
        self.listen_port = self.server.sockets[0].getsockname()[1]
        self.enabled = True

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for conn in list(self.connections):
            conn.abort()
        self.enabled = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.close()
            return
        conn = _Connection(self, writer, up_writer)
        self.connections.add(conn)
        try:
            await conn.run(reader, up_reader)
        finally:
            self.connections.discard(conn)


class _Connection:
    """One client connection and its upstream twin, with the toxics applied both ways."""

    def __init__(
        self, proxy: _Proxy, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.sent = {"upstream": 0, "downstream": 0}
        self._dice: dict[str, bool] = {}
        self._since: dict[str, float] = {}
        self._closed = False

    def applies(self, toxic: Toxic) -> bool:
        """Toxicity is drawn once per connection and toxic, as Toxiproxy does."""
        hit = self._dice.get(toxic.name)
        if hit is None:
            hit = self._dice[toxic.name] = random.random() < toxic.toxicity
        return hit

    def active(self, stream: str) -> list[Toxic]:
        return [t for t in self.proxy.toxics.values() if t.stream == stream and self.applies(t)]

    async def run(
        self, client_reader: asyncio.StreamReader, up_reader: asyncio.StreamReader
    ) -> None:
        pumps = [
            asyncio.create_task(self._pump(client_reader, self.upstream, "upstream")),
            asyncio.create_task(self._pump(up_reader, self.client, "downstream")),
        ]
        watcher = asyncio.create_task(self._watch())
        try:
            await asyncio.gather(*pumps)
        except (ConnectionError, OSError):
            pass
        finally:
            watcher.cancel()
            for task in pumps:
                task.cancel()
            self.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: str
    ) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            data = await reader.read(_CHUNK)
            arrived = loop.time()
            toxics = self.active(stream)
            if not data:
                for toxic in toxics:
                    if toxic.type == "slow_close":
                        await asyncio.sleep(toxic.attributes["delay"] / 1000)
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            slicer: Toxic | None = None
            for toxic in toxics:
                data = await self._apply(toxic, data, arrived, loop)
                if toxic.type == "slicer":
                    slicer = toxic
            if not data:
                continue
            if slicer is not None:
                await self._write_sliced(writer, data, slicer)
            else:
                writer.write(data)
                await writer.drain()
            self.sent[stream] += len(data)
            for toxic in toxics:
                if toxic.type == "limit_data" and self.sent[stream] >= toxic.attributes["bytes"]:
                    self.close()
                    return

    async def _apply(
        self, toxic: Toxic, data: bytes, arrived: float, loop: asyncio.AbstractEventLoop
    ) -> bytes:
        attrs = toxic.attributes
        if toxic.type == "latency":
            jitter = attrs["jitter"]
            delay = attrs["latency"] + (random.uniform(-jitter, jitter) if jitter else 0.0)
            wait = arrived + max(delay, 0.0) / 1000 - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        elif toxic.type == "bandwidth" and attrs["rate"] > 0:
            await asyncio.sleep(len(data) / (attrs["rate"] * 1000))
        elif toxic.type == "timeout":
            return b""  # data stops; the watcher closes the connection when it is due
        elif toxic.type == "limit_data":
            stream = toxic.stream
            return data[: max(attrs["bytes"] - self.sent[stream], 0)]
        return data

    async def _write_sliced(self, writer: asyncio.StreamWriter, data: bytes, toxic: Toxic) -> None:
        attrs = toxic.attributes
        average = max(attrs["average_size"], 1)
        variation = min(attrs["size_variation"], average - 1)
        i = 0
        while i < len(data):
            size = average + (random.randint(-variation, variation) if variation else 0)
            writer.write(data[i : i + max(size, 1)])
            await writer.drain()
            i += max(size, 1)
            if attrs["delay"] and i < len(data):
                await asyncio.sleep(attrs["delay"] / 1_000_000)

    async def _watch(self) -> None:
        """Close (timeout) or reset (reset_peer) the connection when such a toxic is due."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            changed = self.proxy.changed
            now = loop.time()
            due: list[tuple[float, str]] = []
            for toxic in self.proxy.toxics.values():
                if toxic.type not in ("timeout", "reset_peer") or not self.applies(toxic):
                    continue
                since = self._since.setdefault(toxic.name, now)
                ms = toxic.attributes["timeout"]
                if toxic.type == "timeout" and ms == 0:
                    continue  # hold the connection open, data dropped, until removed
                due.append((since + ms / 1000, toxic.type))
            self._since = {k: v for k, v in self._since.items() if k in self.proxy.toxics}
            if due:
                when, kind = min(due)
                if when <= now:
                    self.reset() if kind == "reset_peer" else self.close()
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), when - now)
            else:
                await changed.wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for writer in (self.client, self.upstream):
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), as a peer that crashed would."""
        for writer in (self.client, self.upstream):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    def abort(self) -> None:
        self._closed = True
        for writer in (self.client, self.upstream):
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()


class FaultProxy:
    """The proxies and their toxics, plus the Toxiproxy-compatible HTTP API (:meth:`app`)."""

    def __init__(self) -> None:
        self.proxies: dict[str, _Proxy] = {}
        self._server: Any = None

    # -- operations (async: they open and close listening sockets) --------------------------

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name, upstream = body.get("name"), body.get("upstream")
        if not name or not upstream:
            raise ProxyError("missing required field: name and upstream", 400)
        if name in self.proxies:
            raise ProxyError("proxy already exists", 409)
        proxy = _Proxy(self, str(name), str(body.get("listen") or "127.0.0.1:0"), str(upstream))
        if body.get("enabled", True):
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy.as_json()

    def get(self, name: str) -> _Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ProxyError("proxy not found", 404)
        return proxy

    async def update(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        proxy = self.get(name)
        if "upstream" in body and body["upstream"] != proxy.upstream:
            proxy.upstream_host, proxy.upstream_port = _loopback(body["upstream"], what="upstream")
            proxy.upstream = body["upstream"]
        if "listen" in body and body["listen"] != proxy.listen:
            host, port = _loopback(body["listen"], what="listen")
            await proxy.stop()
            proxy.listen_host, proxy.listen_port = host, port
            await proxy.start()
        if "enabled" in body:
            await (proxy.start() if body["enabled"] else proxy.stop())
        return proxy.as_json()

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def populate(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for body in bodies:
            existing = self.proxies.get(str(body.get("name")))
            if existing is not None and (
                existing.upstream != body.get("upstream")
                or ("listen" in body and existing.listen != body["listen"])
            ):
                await self.delete(existing.name)
                existing = None
            out.append(existing.as_json() if existing else await self.create(body))
        return out

    async def reset(self) -> None:
        for proxy in self.proxies.values():
            proxy.toxics.clear()
            await proxy.start()
            proxy.touch()

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()

    def add_toxic(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        proxy = self.get(name)
        toxic = Toxic.from_json(body)
        if toxic.name in proxy.toxics:
            raise ProxyError("toxic already exists", 409)
        proxy.toxics[toxic.name] = toxic
        proxy.touch()
        return toxic.as_json()

    def get_toxic(self, name: str, toxic_name: str) -> Toxic:
        toxic = self.get(name).toxics.get(toxic_name)
        if toxic is None:
            raise ProxyError("toxic not found", 404)
        return toxic

    def update_toxic(self, name: str, toxic_name: str, body: dict[str, Any]) -> dict[str, Any]:
        old = self.get_toxic(name, toxic_name)
        merged = old.as_json()
        merged["attributes"].update(body.get("attributes") or {})
        if "toxicity" in body:
            merged["toxicity"] = body["toxicity"]
        self.get(name).toxics[toxic_name] = Toxic.from_json(merged)
        self.get(name).touch()
        return self.get(name).toxics[toxic_name].as_json()

    def delete_toxic(self, name: str, toxic_name: str) -> None:
        self.get_toxic(name, toxic_name)
        del self.get(name).toxics[toxic_name]
        self.get(name).touch()

    # -- the HTTP API -----------------------------------------------------------------------

    def app(self) -> Any:
        """The Starlette application serving Toxiproxy's HTTP API."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def body_of(request: Request) -> Any:
            raw = await request.body()
            if not raw:
                return {}
            try:
                import json

                return json.loads(raw)
            except ValueError as exc:
                raise ProxyError("bad request body", 400) from exc

        def handler(fn: Any) -> Any:
            async def endpoint(request: Request) -> Response:
                try:
                    response: Response = await fn(request)
                except ProxyError as exc:
                    return JSONResponse({"error": str(exc), "status": exc.status}, exc.status)
                return response

            return endpoint

        async def proxies(request: Request) -> Response:
            if request.method == "GET":
                return JSONResponse({n: p.as_json() for n, p in self.proxies.items()})
            return JSONResponse(await self.create(await body_of(request)), 201)

        async def one(request: Request) -> Response:
            name = request.path_params["name"]
            if request.method == "GET":
                return JSONResponse(self.get(name).as_json())
            if request.method == "DELETE":
                await self.delete(name)
                return Response(status_code=204)
            return JSONResponse(await self.update(name, await body_of(request)))

        async def toxics(request: Request) -> Response:
            name = request.path_params["name"]
            if request.method == "GET":
                return JSONResponse([t.as_json() for t in self.get(name).toxics.values()])
            return JSONResponse(self.add_toxic(name, await body_of(request)))

        async def toxic(request: Request) -> Response:
            name, toxic_name = request.path_params["name"], request.path_params["toxic"]
            if request.method == "GET":
                return JSONResponse(self.get_toxic(name, toxic_name).as_json())
            if request.method == "DELETE":
                self.delete_toxic(name, toxic_name)
                return Response(status_code=204)
            return JSONResponse(self.update_toxic(name, toxic_name, await body_of(request)))

        async def populate(request: Request) -> Response:
            body = await body_of(request)
            if not isinstance(body, list):
                raise ProxyError("populate takes a JSON array of proxies", 400)
            return JSONResponse({"proxies": await self.populate(body)}, 201)

        async def reset(request: Request) -> Response:
            await self.reset()
            return Response(status_code=204)

        async def version(request: Request) -> Response:
            return JSONResponse({"version": VERSION})

        update = ["GET", "POST", "PATCH", "DELETE"]
        return Starlette(
            routes=[
                Route("/proxies", handler(proxies), methods=["GET", "POST"]),
                Route("/populate", handler(populate), methods=["POST"]),
                Route("/proxies/{name}", handler(one), methods=update),
                Route("/proxies/{name}/toxics", handler(toxics), methods=["GET", "POST"]),
                Route("/proxies/{name}/toxics/{toxic}", handler(toxic), methods=update),
                Route("/reset", handler(reset), methods=["POST"]),
                Route("/version", handler(version), methods=["GET"]),
            ]
        )

    async def serve(self, host: str = "127.0.0.1", port: int = 8474, *, ready: Any = None) -> None:
        """Serve the API until cancelled; ``ready(port)`` is called once it listens."""
        import uvicorn

        _loopback(f"{host}:{port}", what="the API address")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until the server accepts them
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", access_log=False, http="h11"
        )
        server = self._server = uvicorn.Server(config)
        if ready is not None:
            ready(sock.getsockname()[1])
        try:
            await server.serve(sockets=[sock])
        finally:
            await self.close()

    def shutdown(self) -> None:
        """Ask :meth:`serve` to stop (from the serving loop's thread)."""
        if self._server is not None:
            self._server.should_exit = True

    @contextlib.contextmanager
    def running_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Run the proxy and its API on a background event loop; yields ``host:port``."""
        started = threading.Event()
        bound: list[int] = []
        loop = asyncio.new_event_loop()

        def ready(p: int) -> None:
            bound.append(p)
            started.set()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve(host, port, ready=ready))
            loop.close()

        thread = threading.Thread(target=main, name="faultwise-fault-proxy", daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("the fault proxy did not start within 10 s")
        try:
            yield f"{host}:{bound[0]}"
        finally:
            loop.call_soon_threadsafe(self.shutdown)
            thread.join(10)
