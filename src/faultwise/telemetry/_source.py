"""Opening inputs: files, directories, stdin; gzip and zstd; numbered lines for DuckDB.

This module and the readers are the only code that opens input files. A file's lines are a
query ``(n BIGINT, line VARCHAR)`` over DuckDB's own CSV scanner (no Python per line, nothing
copied into a staging table). When that fast path refuses a file (invalid UTF-8, a line
longer than the limit, a control character DuckDB uses as the column separator, a truncated
gzip stream), a Python pass rewrites it into a clean staging file first: invalid bytes become
U+FFFD, over-long lines and the unreadable tail of a truncated stream become counted rejects,
and line numbers are kept.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from faultwise._errors import InputError, require
from faultwise.telemetry._model import Reject

__all__ = [
    "MAX_LINE_BYTES",
    "DamagedStream",
    "Dropped",
    "Source",
    "chunks",
    "intact",
    "iter_sources",
    "read_all",
    "read_error",
    "read_lines",
    "reject_text",
    "stage_sql",
]

STDIN: Final = "<stdin>"  # the name standard input is cited by

T = TypeVar("T")
MAX_LINE_BYTES = 4 * 1024 * 1024  # longer lines are rejects: nobody reads a 10 MB log line
HEAD_BYTES = 256 * 1024
KEEP_REJECTS = 5
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIP_NAMES = frozenset({".DS_Store"})
_SEP = "\x01"  # the column separator the line scanner is told; lines holding it go the slow way
# Bytes the line scanner cannot take inside a line become spaces in the slow path.
_CONTROL = bytes.maketrans(b"\x00\x01\r", b"   ")


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
    size: int  # bytes on disk (compressed, for a compressed file)

    @property
    def head_text(self) -> str:
        return self.head.decode("utf-8", errors="replace")

    def head_lines(self, limit: int = 2000) -> list[str]:
        lines = self.head_text.splitlines()
        if not self.head_complete and lines:
            lines.pop()  # possibly cut in the middle
        return lines[:limit]


@dataclass(frozen=True, slots=True)
class Dropped:
    """Lines the clean-copy pass could not keep (over-long lines, a damaged stream's end)."""

    rejects: tuple[Reject, ...] = ()
    rejected: int = 0


def _compression(path: Path) -> str:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic.startswith(_GZIP_MAGIC):
        return "gzip"
    if magic.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


class DamagedStream(Exception):
    """A compressed stream ends early or is corrupt; what came before it was delivered."""


def chunks(path: Path, compression: str, size: int = 1 << 20) -> Iterator[bytes]:
    """The decompressed bytes of ``path`` in pieces. A damaged gzip or zstd stream yields all
    it can, then raises :class:`DamagedStream` (Python's gzip module would lose the last
    buffered part, and DuckDB's reader stops without a word)."""
    with path.open("rb") as raw:
        if compression == "none":
            while block := raw.read(size):
                yield block
            return
        new = _decompressor(compression)
        d, fed = new(), False
        while block := raw.read(size):
            while block:
                try:
                    out = d.decompress(block)
                except Exception as exc:  # zlib.error, zstd.ZstdError
                    raise DamagedStream(_short(exc)) from exc
                fed = True
                if out:
                    yield out
                block = d.unused_data if d.eof else b""
                if d.eof:  # a new member (gzip) or frame (zstd) may follow
                    d, fed = new(), False
        if fed and not d.eof:
            raise DamagedStream("the compressed stream ends before its end marker")


def _decompressor(compression: str) -> Callable[[], Any]:
    if compression == "gzip":
        return lambda: zlib.decompressobj(wbits=47)
    zstd = require("zstandard", "diagnose")
    return lambda: _ZstdObj(zstd.ZstdDecompressor().decompressobj())


class _ZstdObj:
    """zstandard's decompressobj with zlib's ``eof``/``unused_data`` names."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def decompress(self, data: bytes) -> bytes:
        out: bytes = self._obj.decompress(data)
        return out

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._obj.unused_data)


def _read_head(path: Path, compression: str) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    try:
        for block in chunks(path, compression, 64 * 1024):
            parts.append(block)
            size += len(block)
            if size > HEAD_BYTES:
                return b"".join(parts)[:HEAD_BYTES], False
    except DamagedStream:
        pass
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", source=str(path)) from exc
    return b"".join(parts), True


def _source(path: Path, name: str) -> Source:
    compression = _compression(path)
    head, complete = _read_head(path, compression)
    stat = path.stat()
    mtime_ns = stat.st_mtime_ns
    day = time.strftime("%Y-%m-%d", time.gmtime(mtime_ns // 10**9))
    return Source(path, name, compression, head, complete, day, mtime_ns, stat.st_size)


def iter_sources(paths: list[str], *, spool_dir: Path) -> Iterator[Source]:
    """Every input file under ``paths`` (directories recursively, ``-`` for stdin), sorted."""
    for raw in paths:
        if raw == "-":
            spooled = spool_dir / "stdin"
            with spooled.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
            yield _source(spooled, STDIN)
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


def read_all(src: Source) -> tuple[bytes, str | None]:
    """The whole decompressed content, and why it ends early when the stream is damaged."""
    parts: list[bytes] = []
    try:
        for block in chunks(src.path, src.compression):
            parts.append(block)
    except DamagedStream as exc:
        return b"".join(parts), str(exc)
    return b"".join(parts), None


def read_error(src: Source) -> str | None:
    """Why a compressed stream cannot be read to its end, or None (reads it, keeps nothing)."""
    try:
        for _ in chunks(src.path, src.compression, 4 << 20):
            pass
    except DamagedStream as exc:
        return str(exc)
    return None


def intact(src: Source, spool_dir: Path) -> tuple[Path, str, Reject | None]:
    """``(path, compression)`` to hand DuckDB for ``src``: the file itself, or for a damaged
    gzip or zstd stream a decompressed copy of what precedes the damage, and a reject that
    counts the cut."""
    if src.compression == "none" or (why := read_error(src)) is None:
        return src.path, src.compression, None
    fd, name = tempfile.mkstemp(prefix="intact-", dir=spool_dir)
    lines = 0
    with os.fdopen(fd, "wb") as out:
        try:
            for block in chunks(src.path, src.compression):
                out.write(block)
                lines += block.count(b"\n")
        except DamagedStream:
            pass
    return Path(name), "none", Reject(src.name, lines + 1, f"unreadable from here on ({why})", "")


def reject_text(line: str | bytes) -> str:
    """The start of a rejected line, enough for a person to recognise it."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    return text[:200]


def stage_sql(path: Path, compression: str) -> str:
    """A subquery of ``(n, line)`` over every line of ``path``, in file order (``line`` NULL
    when blank).

    Nothing is materialised and nothing numbers the lines here: ``n`` is NULL. DuckDB keeps a
    scan's order through projections and into an ``INSERT`` (with ``preserve_insertion_order``,
    which the store sets), so a reader that turns each line into exactly one row learns the
    line numbers from the ``rowid`` of the rows it inserted (see
    :func:`faultwise.telemetry._logsql.finish_logs`); numbering with ``row_number() OVER ()``
    here would force the whole load onto one thread. Every query over it reads the file again;
    those that need only a sample stop early (``LIMIT``)."""
    literal = "'" + str(path).replace("'", "''") + "'"
    return (
        f"(SELECT CAST(NULL AS BIGINT) AS n, line FROM read_csv({literal}, "
        "columns={'line': 'VARCHAR'}, header=false, auto_detect=false, "
        f"delim='{_SEP}', quote='', escape='', compression='{compression}', "
        f"max_line_size={MAX_LINE_BYTES + 2}))"
    )


def read_lines(src: Source, spool_dir: Path, read: Callable[[str], T]) -> tuple[T, Dropped]:
    """Run ``read`` over the lines of ``src`` (see :func:`stage_sql`). When DuckDB refuses the
    bytes (invalid UTF-8, an over-long line, a damaged stream), a Python pass writes a clean
    copy first and ``read`` runs over that; what it had to drop is in the returned rejects."""
    import duckdb

    damaged = src.compression != "none" and read_error(src) is not None
    if not damaged:
        try:
            return read(stage_sql(src.path, src.compression)), Dropped()
        except duckdb.InvalidInputException:
            pass
    clean, _, rejects, rejected = _sanitise(src, spool_dir)
    try:
        return read(stage_sql(clean, "none")), Dropped(tuple(rejects), rejected)
    finally:
        clean.unlink(missing_ok=True)


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
            for line in _split_lines(chunks(src.path, src.compression)):
                n += 1
                if line is None:
                    reject(n, f"line longer than {MAX_LINE_BYTES // (1 << 20)} MiB", b"")
                    out.write(b"\n")
                    continue
                text = line.rstrip(b"\r").translate(_CONTROL)
                out.write(text.decode("utf-8", errors="replace").encode() + b"\n")
        except DamagedStream as exc:
            reject(n + 1, f"unreadable from here on ({exc})", b"")
    return Path(name), n, rejects, rejected


def _split_lines(blocks: Iterator[bytes]) -> Iterator[bytes | None]:
    """Lines without their newline; None for a line longer than MAX_LINE_BYTES."""
    pending = b""
    skipping = False
    for block in blocks:
        pending += block
        while True:
            cut = pending.find(b"\n")
            if cut < 0:
                break
            line, pending = pending[:cut], pending[cut + 1 :]
            if skipping:
                skipping = False
                continue
            yield None if len(line) > MAX_LINE_BYTES else line
        if len(pending) > MAX_LINE_BYTES and not skipping:
            yield None
            skipping, pending = True, b""
        elif skipping:
            pending = b""
    if pending and not skipping:
        yield None if len(pending) > MAX_LINE_BYTES else pending


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
