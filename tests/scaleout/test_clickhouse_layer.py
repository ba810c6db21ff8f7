"""The small dialect layer between the detectors' SQL and ClickHouse, the HTTP connection,
and ``faultwise diagnose --clickhouse`` end to end on a chDB data directory."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.diagnose.conftest import golden_incident

from faultwise._errors import FaultwiseError, InputError
from faultwise.cli import main
from faultwise.diagnose import load_incident
from faultwise.diagnose._clickhouse import HttpConnection, bind, connect, open_clickhouse
from faultwise.diagnose._clickhouse import with_model as rewrite

from .otel_clickhouse import export

chdb_session = pytest.importorskip("chdb.session")

MODEL = {name: f"SELECT * FROM otel_{name}" for name in ("logs", "spans", "samples")}
MODEL |= {"changes": "SELECT 1", "configs": "SELECT 2"}


def test_a_query_gets_the_model_tables_it_reads_as_ctes_and_no_others() -> None:
    sql = rewrite("SELECT count(*) FROM logs l JOIN spans s ON s.trace_id = l.trace_id", MODEL)
    assert sql.startswith("WITH logs AS (\nSELECT * FROM otel_logs\n), spans AS (")
    assert "otel_samples" not in sql


def test_table_names_inside_strings_and_aliases_are_not_tables() -> None:
    sql = rewrite("SELECT 'no logs here' AS spans FROM samples", MODEL)
    assert ["samples"] == [n for n in MODEL if f"{n} AS (" in sql]


def test_the_query_s_own_ctes_follow_the_model_s_even_under_a_union() -> None:
    sql = rewrite(
        "WITH s AS (SELECT * FROM spans) SELECT 1 FROM s UNION ALL SELECT 2 FROM s", MODEL
    )
    assert 1 == sql.count("WITH ")
    assert sql.index("spans AS (") < sql.index("s AS (SELECT")


def test_qualified_projections_keep_their_standard_names() -> None:
    sql = rewrite("SELECT s.service, p.kind, c.name, d.name FROM s, p, c, d", {})
    assert "s.service AS service" in sql
    assert "p.kind AS kind" in sql
    assert "c.name AS name" not in sql  # two columns named name: ambiguous either way


def test_lag_and_lead_answer_null_past_the_partition_edge() -> None:
    sql = rewrite("SELECT lag(a) OVER (PARTITION BY b ORDER BY c) FROM t", {})
    assert (
        "lagInFrame(toNullable(a)) OVER (PARTITION BY b ORDER BY c "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    ) in sql


def test_positional_parameters_are_bound_outside_string_literals() -> None:
    assert "SELECT 'a?b', 'it''s', 3, NULL" == bind("SELECT 'a?b', ?, ?, ?", ["it's", 3, None])
    assert "SELECT '\\\\d'" == bind("SELECT ?", ["\\d"])  # backslash is an escape there


def test_named_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="positional"):
        bind("SELECT $x", {"x": 1})


@pytest.mark.parametrize("url", ["mysql://host/db", "chdb", "http:///nohost"])
def test_an_unusable_url_is_an_input_error(url: str) -> None:
    with pytest.raises(InputError):
        connect(url)


class FakeClickHouse(http.server.BaseHTTPRequestHandler):
    """Answers like ClickHouse's HTTP interface; keeps what it was sent."""

    seen: ClassVar[list[tuple[dict[str, list[str]], str | None, str]]] = []
    reply: ClassVar[tuple[int, bytes]] = (200, b"")

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        body = self.rfile.read(length).decode()
        self.seen.append((query, self.headers.get("Authorization"), body))
        status, payload = self.reply
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None: ...


@pytest.fixture
def fake_clickhouse() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeClickHouse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeClickHouse.seen = []
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_http_connection_sends_database_settings_and_credentials(fake_clickhouse: str) -> None:
    doc = {"meta": [{"name": "n", "type": "UInt64"}, {"name": "x", "type": "Float64"}]}
    FakeClickHouse.reply = (200, json.dumps({**doc, "data": [[3, 1]]}).encode())
    connection = HttpConnection(f"http://ana:s%40cret@{fake_clickhouse}/otel")
    assert ([("n", "UInt64"), ("x", "Float64")], [[3, 1]]) == connection.run("SELECT 1")
    query, auth, body = FakeClickHouse.seen[0]
    assert ("otel", "1", "JSONCompact", "SELECT 1") == (
        query["database"][0],
        query["join_use_nulls"][0],
        query["default_format"][0],
        body,
    )
    assert "Basic YW5hOnNAY3JldA==" == auth  # ana:s@cret


def test_a_clickhouse_error_is_one_line_naming_the_server(fake_clickhouse: str) -> None:
    FakeClickHouse.reply = (404, b"Code: 60. DB::Exception: Unknown table otel.otel_logs\n")
    with pytest.raises(FaultwiseError, match=r"Unknown table otel\.otel_logs"):
        HttpConnection(f"http://{fake_clickhouse}/otel").run("SELECT 1")


def test_an_unreachable_server_is_one_line() -> None:
    with pytest.raises(FaultwiseError, match=r"cannot reach ClickHouse at 127\.0\.0\.1:9"):
        HttpConnection("http://127.0.0.1:9/otel", timeout=2.0).run("SELECT 1")


@pytest.fixture(scope="module")
def chdb_incident(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The pool-exhaustion incident written into a chDB data directory (then closed)."""
    folder, _ = golden_incident(tmp_path_factory.mktemp("golden"), "pool_exhaustion")
    data = tmp_path_factory.mktemp("chdb")
    session = chdb_session.Session(str(data))
    with load_incident([str(folder)]) as store:
        export(store, session, database="otel")
    session.close()
    return str(data), str(folder)


def test_the_command_diagnoses_from_clickhouse(
    chdb_incident: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = chdb_incident
    code = main(
        [
            "diagnose",
            "--clickhouse",
            f"chdb:{data}?database=otel",
            "--since",
            "2026-03-04T09:00:00Z",
            "--until",
            "2026-03-04T09:10:00Z",
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert (1, "checkout", "pool_exhaustion") == (
        code,
        doc["root_cause"]["component"],
        doc["root_cause"]["pattern"],
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clickhouse", "chdb:"], "--since TIME --until TIME"),
        ([], "(PATH...) or --clickhouse URL"),
        (
            ["--clickhouse", "chdb:", "--since", "09:00", "--until", "09:10"],
            "dates with times",
        ),
    ],
)
def test_the_command_says_what_is_missing(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 2 == main(["diagnose", *argv])
    assert message in capsys.readouterr().err


def test_telemetry_files_next_to_clickhouse_are_refused(
    chdb_incident: tuple[str, str], tmp_path: Path
) -> None:
    data, folder = chdb_incident
    with pytest.raises(InputError, match="configuration files"):
        open_clickhouse(
            f"chdb:{data}?database=otel",
            since="2026-03-04T09:00:00Z",
            until="2026-03-04T09:10:00Z",
            configs=[folder],
        )


def test_the_clickhouse_store_answers_as_the_duckdb_store_does(
    chdb_incident: tuple[str, str],
) -> None:
    data, folder = chdb_incident
    sql = (
        "SELECT service, count(*) AS n, avg(CASE WHEN severity >= 17 THEN 1 ELSE 0 END) AS e "
        "FROM logs WHERE service IS NOT NULL GROUP BY service ORDER BY service"
    )
    with load_incident([folder]) as store:
        expected = store.query_dicts(sql)
    with open_clickhouse(
        f"chdb:{data}?database=otel", since="2026-03-04T09:00:00Z", until="2026-03-04T09:10:00Z"
    ) as store:
        assert expected == store.query_dicts(sql)
        assert [type(v) for v in expected[0].values()] == [
            type(v) for v in store.query_dicts(sql)[0].values()
        ]
        assert [(None,)] == store.query("SELECT max(ts_ns) FROM logs WHERE service = ?", ["-"])
