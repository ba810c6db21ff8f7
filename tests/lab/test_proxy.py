"""The fault proxy, driven by the toxiproxy-python client and by raw HTTP."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from faultwise.lab._proxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with FaultProxy().running_in_thread() as address:
        yield address


@pytest.fixture
def server(api: str) -> Iterator[toxiproxy.Toxiproxy]:
    host, port = api.split(":")
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer(host, int(port))
    yield client
    client.destroy_all()


def _connect(listen: str) -> socket.socket:
    host, port = listen.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=3)


def _send_then_read(sock: socket.socket) -> bytes:
    sock.sendall(b"x")
    return sock.recv(100)


def _roundtrip(listen: str, payload: bytes = b"ping") -> tuple[bytes, float]:
    with _connect(listen) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got, time.monotonic() - started


def test_a_proxy_forwards_bytes_both_ways(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="echo")
    assert (b"hello", True) == (_roundtrip(proxy.listen, b"hello")[0], proxy.enabled)
    assert ["echo"] == list(server.proxies())


def test_creating_a_proxy_twice_is_a_conflict(server: toxiproxy.Toxiproxy, echo: str) -> None:
    server.create(upstream=echo, name="twice")
    with pytest.raises(ProxyExists):
        toxiproxy.api.APIConsumer.post("/proxies", json={"name": "twice", "upstream": echo})


def test_latency_toxic_delays_the_downstream(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="slow")
    proxy.add_toxic(type="latency", attributes={"latency": 200, "jitter": 0})
    got, elapsed = _roundtrip(proxy.listen)
    assert b"ping" == got
    assert elapsed >= 0.19
    assert ["latency_downstream"] == list(proxy.toxics())
    proxy.destroy_toxic("latency_downstream")
    assert _roundtrip(proxy.listen)[1] < 0.15


def test_timeout_toxic_stops_data_and_closes_after_the_timeout(
    server: toxiproxy.Toxiproxy, echo: str
) -> None:
    proxy = server.create(upstream=echo, name="blackhole")
    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 300})
    with _connect(proxy.listen) as sock:
        started = time.monotonic()
        sock.sendall(b"lost")
        assert b"" == sock.recv(100)  # closed, nothing came back
        assert time.monotonic() - started >= 0.25


def test_reset_peer_toxic_resets_the_connection(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="rst")
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 100})
    with _connect(proxy.listen) as sock:
        time.sleep(0.3)
        with pytest.raises(ConnectionResetError):
            _send_then_read(sock)


def test_limit_data_toxic_closes_after_the_byte_limit(
    server: toxiproxy.Toxiproxy, echo: str
) -> None:
    proxy = server.create(upstream=echo, name="limited")
    proxy.add_toxic(type="limit_data", attributes={"bytes": 5})
    with _connect(proxy.listen) as sock:
        sock.sendall(b"0123456789")
        got = b""
        while chunk := sock.recv(100):
            got += chunk
    assert b"01234" == got


def test_bandwidth_toxic_limits_the_rate(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="narrow")
    proxy.add_toxic(type="bandwidth", attributes={"rate": 100})  # 100 KB/s
    got, elapsed = _roundtrip(proxy.listen, b"x" * 30_000)
    assert 30_000 == len(got)
    assert elapsed >= 0.25


def test_slicer_toxic_delivers_everything_in_small_pieces(
    server: toxiproxy.Toxiproxy, echo: str
) -> None:
    proxy = server.create(upstream=echo, name="sliced")
    proxy.add_toxic(
        type="slicer", attributes={"average_size": 10, "size_variation": 5, "delay": 1000}
    )
    got, _ = _roundtrip(proxy.listen, b"y" * 1000)
    assert b"y" * 1000 == got


def test_slow_close_toxic_delays_the_close(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="lingering")
    proxy.add_toxic(type="slow_close", stream="upstream", attributes={"delay": 300})
    with _connect(proxy.listen) as sock:
        sock.sendall(b"bye")
        assert b"bye" == sock.recv(100)
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        assert b"" == sock.recv(100)
        assert time.monotonic() - started >= 0.25


def test_toxicity_zero_never_applies(server: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = server.create(upstream=echo, name="lucky")
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 1000})
    assert _roundtrip(proxy.listen)[1] < 0.5


def test_disabled_proxy_refuses_connections_and_comes_back(
    server: toxiproxy.Toxiproxy, echo: str
) -> None:
    proxy = server.create(upstream=echo, name="flaky")
    with proxy.down():
        with pytest.raises(ConnectionRefusedError):
            _connect(proxy.listen)
        assert False is server.get_proxy("flaky").enabled
    assert b"ping" == _roundtrip(proxy.listen)[0]


def test_reset_enables_every_proxy_and_removes_every_toxic(
    server: toxiproxy.Toxiproxy, echo: str
) -> None:
    proxy = server.create(upstream=echo, name="messy")
    proxy.add_toxic(type="latency", attributes={"latency": 500})
    proxy.disable()
    assert server.reset()
    again = server.get_proxy("messy")
    assert (True, {}) == (again.enabled, again.toxics())


def test_version_and_unknown_toxic_type(server: toxiproxy.Toxiproxy, echo: str) -> None:
    assert b"faultwise" in server.version()
    proxy = server.create(upstream=echo, name="typo")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latencyy")
    with pytest.raises(NotFound):
        toxiproxy.api.APIConsumer.get("/proxies/nope")


def test_only_loopback_upstreams_are_allowed(server: toxiproxy.Toxiproxy) -> None:
    with pytest.raises(InvalidToxic):  # toxiproxy-python maps every 400 to InvalidToxic
        server.create(upstream="10.0.0.1:80", name="outside")


def test_raw_http_api_matches_toxiproxy(api: str, echo: str) -> None:
    base = f"http://{api}"
    with httpx.Client(base_url=base, timeout=5) as http:
        created = http.post("/proxies", json={"name": "raw", "upstream": echo})
        assert 201 == created.status_code
        assert {"name", "listen", "upstream", "enabled", "toxics"} == set(created.json())
        toxic = http.post(
            "/proxies/raw/toxics",
            json={"type": "latency", "stream": "upstream", "attributes": {"jitter": 5}},
        )
        assert {
            "name": "latency_upstream",
            "type": "latency",
            "stream": "upstream",
            "toxicity": 1.0,
            "attributes": {"latency": 0, "jitter": 5},
        } == toxic.json()
        updated = http.post(
            "/proxies/raw/toxics/latency_upstream", json={"attributes": {"latency": 7}}
        )
        assert {"latency": 7, "jitter": 5} == updated.json()["attributes"]
        assert (
            409
            == http.post(
                "/proxies/raw/toxics", json={"type": "latency", "stream": "upstream"}
            ).status_code
        )
        missing = http.get("/proxies/raw/toxics/none")
        assert (404, {"error": "toxic not found", "status": 404}) == (
            missing.status_code,
            missing.json(),
        )
        populated = http.post(
            "/populate", json=[{"name": "raw", "upstream": echo}, {"name": "pop", "upstream": echo}]
        )
        assert (201, ["raw", "pop"]) == (
            populated.status_code,
            [p["name"] for p in populated.json()["proxies"]],
        )
        assert 204 == http.delete("/proxies/raw/toxics/latency_upstream").status_code
        assert 204 == http.delete("/proxies/raw").status_code
        assert 204 == http.delete("/proxies/pop").status_code
        assert {} == http.get("/proxies").json()
