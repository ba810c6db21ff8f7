"""Fuzzing every reader: whatever the bytes, a command ends with exit 0 (and counted rejects)
or exit 2 (a one-line error), never with a traceback or an internal error."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultwise.cli import main
from faultwise.telemetry import Format, load

READERS = [f.value for f in Format if f not in (Format.EMPTY, Format.ID_LIST, Format.HTML)]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _check(code: int, out: str, err: str) -> dict[str, object] | None:
    assert code in (0, 2), err
    if code == 2:
        assert 1 == len(err.strip().splitlines()), err
        assert err.startswith("faultwise: error: ")
        return None
    document: dict[str, object] = json.loads(out)
    return document


@pytest.mark.parametrize("fmt", READERS)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_never_crash_any_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, data: bytes
) -> None:
    path = tmp_path / "input"
    path.write_bytes(data)
    _check(*_run(capsys, "timeline", str(path), "--json", "--format", fmt))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=80),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(
                        ["ts", "time", "msg", "level", "trace_id", "@timestamp", "log"]
                    ),
                    st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none()),
                ),
            ),
        ),
        max_size=20,
    ),
    suffix=st.sampled_from([".log", ".jsonl", ".csv", ".json", ".prom", ""]),
)
def test_arbitrary_lines_with_detected_formats_never_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], suffix: str
) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    for command in ("timeline", "templates"):
        _check(*_run(capsys, command, str(path), "--json"))


def test_invalid_utf8_is_read_with_replacement_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(b"2026-01-01T00:00:00Z ERROR caf\xe9 \xff\xfe broke\n")
    document = _check(*_run(capsys, "timeline", str(path), "--json"))
    assert document is not None
    assert ["caf\ufffd \ufffd\ufffd broke"] == [e["message"] for e in document["events"]]  # type: ignore[attr-defined]


def test_a_10_mb_line_is_a_counted_reject_and_its_neighbours_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.jsonl"
    good = json.dumps({"ts": "2026-01-01T00:00:00Z", "msg": "ok"})
    huge = json.dumps({"ts": "2026-01-01T00:00:01Z", "msg": "x" * 10_000_000})
    path.write_text(f"{good}\n{huge}\n{good}\n")
    document = _check(*_run(capsys, "timeline", str(path), "--json", "--no-collapse"))
    assert document is not None
    assert 1 == document["rejected"]
    assert 2 == len(document["events"])  # type: ignore[arg-type]
    assert "big.jsonl:2" in json.dumps(document["inputs"])


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.log", b""),
        ("empty.log.gz", gzip.compress(b"")),
        ("truncated.log.gz", gzip.compress(b"2026-01-01T00:00:00Z INFO a\n" * 500)[:200]),
        ("garbage.gz", b"\x1f\x8b" + b"\x00" * 50),
        (
            "truncated.zst",
            zstandard.ZstdCompressor().compress(b"2026-01-01T00:00:00Z a\n" * 500)[:40],
        ),
        ("binary.bin", bytes(range(256)) * 20),
        ("nul.log", b"\x00\x00\x00\n\x00"),
        ("crlf.log", b"2026-01-01T00:00:00Z INFO a\r\n2026-01-01T00:00:01Z INFO b\r\n"),
        ("sep.log", b"2026-01-01T00:00:00Z INFO a\x01b\n"),
    ],
)
def test_broken_files_give_rejects_or_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    for command in ("timeline", "templates"):
        _check(*_run(capsys, command, str(path), "--json"))
    code, _, err = _run(capsys, "trace", "no-such-request-7f3a", str(path))
    assert 2 == code
    assert 1 == len(err.strip().splitlines())


def test_truncated_gzip_keeps_the_lines_before_the_cut_and_counts_the_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cut.log.gz"
    path.write_bytes(
        gzip.compress(
            b"".join(
                f"2026-01-01T00:00:{i % 60:02d}Z INFO line {i}\n".encode() for i in range(2000)
            )
        )[:3000]
    )
    document = _check(*_run(capsys, "timeline", str(path), "--json", "--no-collapse"))
    assert document is not None
    assert 1 == document["rejected"]
    assert 0 < len(document["events"]) < 2000  # type: ignore[arg-type]


def test_truncated_gzip_csv_keeps_the_rows_before_the_cut_and_counts_the_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z,svc,request {i} done\n" for i in range(3000)
    ]
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(("time,service,message\n" + "".join(rows)).encode())[:4000])
    document = _check(*_run(capsys, "timeline", str(path), "--json", "--no-collapse"))
    assert document is not None
    rejects = document["inputs"]["rejects"]  # type: ignore[index]
    assert 1 == document["rejected"]
    assert "unreadable from here on" in rejects[0]["reason"]
    assert 0 < len(document["events"]) < 3000  # type: ignore[arg-type]


def test_a_gzip_header_alone_is_a_counted_reject_for_every_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"\x1f\x8b")
    for fmt in READERS:
        document = _check(*_run(capsys, "timeline", str(path), "--json", "--format", fmt))
        assert (fmt, 1) == (fmt, document["rejected"] if document else None)


def test_missing_path_and_bad_options_are_one_line_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for args in (
        ["timeline", str(tmp_path / "nope.log")],
        ["timeline", str(tmp_path), "--format", "yaml"],
        ["timeline"],
        ["timeline", str(tmp_path), "--level", "loud"],
        ["timeline", str(tmp_path), "--since", "yesterday-ish"],
        ["timeline", str(tmp_path), "--grep", "("],
        ["templates", "--db", str(tmp_path / "none.duckdb")],
    ):
        code, _, err = _run(capsys, *args)
        assert (2, 1) == (code, len(err.strip().splitlines())), (args, err)


_PG_FIELDS = {
    "DETAIL": "db.postgresql.detail",
    "HINT": "db.postgresql.hint",
    "QUERY": "db.postgresql.query",
    "CONTEXT": "db.postgresql.context",
    "LOCATION": "db.postgresql.location",  # not "function, file:line": kept as written
    "STATEMENT": "db.query.text",
}
_PG_WORD = st.from_regex(r"[a-z]([a-z ]{0,8}[a-z])?", fullmatch=True)
_PG_LINE = st.one_of(
    st.tuples(st.just("record"), st.sampled_from([1, 2, 3]), st.sampled_from([0, 1]), _PG_WORD),
    st.tuples(
        st.sampled_from(list(_PG_FIELDS)),
        st.sampled_from([1, 2, 3]),
        st.sampled_from([0, 1]),
        _PG_WORD,
    ),
    st.tuples(st.just("continued"), st.just(0), st.just(0), _PG_WORD),
    st.tuples(st.just("cut"), st.just(0), st.just(0), _PG_WORD),
)


def _pg_model(lines: list[tuple[str, int, int, str]]) -> tuple[list[object], int]:
    """What a PostgreSQL log's lines must give: (line, message, attributes) of each record, and
    the number of rejects. A field joins the last record of its process when its time is the
    record's; a continued line, the text of the line above that has a header."""
    records: list[tuple[int, list[str], dict[str, list[str]]]] = []
    last: dict[int, tuple[int, int]] = {}  # process -> (record index, its time)
    at: tuple[int, str | None] | None = None  # what a continued line continues
    cut = 0
    for n, (kind, pid, second, word) in enumerate(lines, 1):
        if kind == "record" or (kind in _PG_FIELDS and last.get(pid, (0, -1))[1] != second):
            text = word if kind == "record" else f"{kind}:  {word}"
            records.append((n, [text], {}))
            at = (len(records) - 1, None)
            if kind == "record":
                last[pid] = (len(records) - 1, second)
        elif kind in _PG_FIELDS:
            records[last[pid][0]][2].setdefault(kind, []).append(word)
            at = (last[pid][0], kind)
        elif kind == "continued" and at is not None:
            index, label = at
            (records[index][1] if label is None else records[index][2][label]).append(word)
        else:
            cut += 1
    expected = [
        (n, "\n".join(msg), {_PG_FIELDS[k]: "\n".join(v) for k, v in attrs.items()} or None)
        for n, msg, attrs in records
    ]
    return expected, cut


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_PG_LINE, min_size=1, max_size=14))
def test_postgresql_fields_join_their_record_as_a_model_says(
    tmp_path: Path, lines: list[tuple[str, int, int, str]]
) -> None:
    # records first: a file's layout is the one a fifth of its lines at least are written in
    lines = [("record", pid, 0, "started") for pid in (1, 2, 3, 1)] + lines
    text = []
    for kind, pid, second, word in lines:
        head = f"2026-01-01 10:00:0{second}.000 UTC [{pid}] app@orders "
        if kind == "record":
            text.append(f"{head}ERROR:  {word}")
        elif kind in _PG_FIELDS:
            text.append(f"{head}{kind}:  {word}")
        elif kind == "continued":
            text.append(f"\t{word}")
        else:
            text.append(f"2026-01-01 10:00:0x {word}")
    path = tmp_path / "postgresql.log"
    path.write_text("\n".join(text) + "\n")
    with load([path]) as store:
        rows = store.query("SELECT source_line, message, attrs FROM logs ORDER BY 1")
        rejected = store.summary.rejected
    expected, cut = _pg_model(lines)
    assert (expected, cut) == (
        [(n, msg, json.loads(attrs) if attrs else None) for n, msg, attrs in rows],
        rejected,
    )
