"""Opening inputs: files, directories, stdin; gzip and zstd; staging lines into DuckDB.

This module and the readers are the only code that opens input files. Lines are staged into a
temporary table ``(n BIGINT, line VARCHAR)`` by DuckDB's own CSV scanner (parallel, no Python
per line). When that fast path refuses a file (invalid UTF-8, a line longer than the limit, a
control character DuckDB uses as the column separator, a truncated gzip stream), a Python pass
rewrites it into a clean staging file first: invalid bytes become U+FFFD, over-long lines and
the unreadable tail of a truncated stream become counted rejects, and line numbers are kept.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from faultwise._errors import InputError, require
from faultwise.telemetry._model import Reject

__all__ = [
    "MAX_LINE_BYTES",
    "Source",
    "StagedLines",
    "iter_sources",
    "open_bytes",
    "reject_text",
    "stage_lines",
]

MAX_LINE_BYTES = 4 * 1024 * 1024  # longer lines are rejects: nobody reads a 10 MB log line
HEAD_BYTES = 256 * 1024
KEEP_REJECTS = 5
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIP_NAMES = frozenset({".DS_Store"})
_SEP = "\x01"  # the column separator the line scanner is told; lines holding it go the slow way


@dataclass(frozen=True, slots=True)
class Source:
    """One input: where its bytes are, the name rejects and events cite, and its first bytes."""

    path: Path
    name: str
    compression: str  # "none", "gzip" or "zstd"
    head: bytes  # the first HEAD_BYTES of the decompressed content
    head_complete: bool  # the whole content fits in head
    day: str  # YYYY-MM-DD of the file's mtime: completes times without a year or date
    mtime_ns: int  # when a snapshot without its own times was taken

    @property
    def head_text(self) -> str:
        return self.head.decode("utf-8", errors="replace")

    def head_lines(self, limit: int = 2000) -> list[str]:
        lines = self.head_text.splitlines()
        if not self.head_complete and lines:
            lines.pop()  # possibly cut in the middle
        return lines[:limit]


@dataclass(frozen=True, slots=True)
class StagedLines:
    table: str
    lines: int
    rejects: tuple[Reject, ...] = ()
    rejected: int = 0
    notes: tuple[str, ...] = field(default=())


def _compression(path: Path) -> str:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic.startswith(_GZIP_MAGIC):
        return "gzip"
    if magic.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


def open_bytes(path: Path, compression: str) -> IO[bytes]:
    """The decompressed bytes of ``path``."""
    if compression == "gzip":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        zstd = require("zstandard", "diagnose")
        raw = path.open("rb")
        reader: IO[bytes] = zstd.ZstdDecompressor().stream_reader(raw, closefd=True)
        return reader
    return path.open("rb")


def _read_head(path: Path, compression: str) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    try:
        with open_bytes(path, compression) as f:
            while size < HEAD_BYTES:
                chunk = f.read(HEAD_BYTES - size)
                if not chunk:
                    return b"".join(chunks), True
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks), not f.read(1)
    except (EOFError, OSError, zlib.error, ValueError) as exc:  # truncated or corrupt stream
        if not chunks and not isinstance(exc, EOFError) and compression == "none":
            raise InputError(f"cannot read: {exc}", source=str(path)) from exc
        return b"".join(chunks), True
    except Exception as exc:  # zstandard raises its own ZstdError
        if type(exc).__name__ == "ZstdError":
            return b"".join(chunks), True
        raise


def _source(path: Path, name: str) -> Source:
    compression = _compression(path)
    head, complete = _read_head(path, compression)
    mtime_ns = path.stat().st_mtime_ns
    day = time.strftime("%Y-%m-%d", time.gmtime(mtime_ns // 10**9))
    return Source(path, name, compression, head, complete, day, mtime_ns)


def iter_sources(paths: list[str], *, spool_dir: Path) -> Iterator[Source]:
    """Every input file under ``paths`` (directories recursively, ``-`` for stdin), sorted."""
    for raw in paths:
        if raw == "-":
            spooled = spool_dir / "stdin"
            with spooled.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
            yield _source(spooled, "<stdin>")
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not p.name.startswith(".") and p.name not in _SKIP_NAMES
            )
            for p in files:
                yield _source(p, str(p))
        elif path.is_file():
            yield _source(path, raw)
        elif path.exists():
            raise InputError("not a regular file or directory", source=raw)
        else:
            raise InputError("no such file or directory", source=raw)


def reject_text(line: str | bytes) -> str:
    """The start of a rejected line, enough for a person to recognise it."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    return text[:200]


_counter = iter(range(1, 1 << 62))


def stage_lines(con: object, src: Source, *, spool_dir: Path) -> StagedLines:
    """Load ``src``'s lines into a new temporary table ``(n, line)``; ``line`` NULL when blank."""
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    table = f"_lines_{next(_counter)}"
    try:
        _scan_lines(con, table, src.path, src.compression)
        lines = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
        return StagedLines(table, lines)
    except duckdb.Error:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    clean, lines, rejects, rejected = _sanitise(src, spool_dir)
    try:
        _scan_lines(con, table, clean, "none")
    finally:
        clean.unlink(missing_ok=True)
    return StagedLines(table, lines, tuple(rejects), rejected)


def _scan_lines(con: object, table: str, path: Path, compression: str) -> None:
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT row_number() OVER () AS n, line "
        "FROM read_csv(?, columns={'line': 'VARCHAR'}, header=false, auto_detect=false, "
        f"delim=?, quote='', escape='', compression=?, max_line_size={MAX_LINE_BYTES + 2})",
        [str(path), _SEP, compression],
    )


def _sanitise(src: Source, spool_dir: Path) -> tuple[Path, int, list[Reject], int]:
    fd, name = tempfile.mkstemp(prefix="lines-", suffix=".txt", dir=spool_dir)
    rejects: list[Reject] = []
    rejected = 0
    n = 0

    def reject(line_no: int, reason: str, text: bytes) -> None:
        nonlocal rejected
        rejected += 1
        if len(rejects) < KEEP_REJECTS:
            rejects.append(Reject(src.name, line_no, reason, reject_text(text)))

    with os.fdopen(fd, "wb") as out:
        try:
            with open_bytes(src.path, src.compression) as raw:
                stream = io.BufferedReader(raw, 1 << 20) if src.compression != "none" else raw  # type: ignore[type-var]
                while True:
                    line = stream.readline(MAX_LINE_BYTES + 1)
                    if not line:
                        break
                    n += 1
                    if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                        reject(n, f"line longer than {MAX_LINE_BYTES // (1 << 20)} MiB", line)
                        while line and not line.endswith(b"\n"):  # skip the rest of it
                            line = stream.readline(1 << 20)
                        out.write(b"\n")
                        continue
                    text = line.rstrip(b"\r\n").replace(_SEP.encode(), b" ")
                    out.write(text.decode("utf-8", errors="replace").encode() + b"\n")
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            reject(n + 1, f"unreadable from here on ({_short(exc)})", b"")
        except Exception as exc:
            if type(exc).__name__ != "ZstdError":
                raise
            reject(n + 1, f"unreadable from here on ({_short(exc)})", b"")
    return Path(name), n, rejects, rejected


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
