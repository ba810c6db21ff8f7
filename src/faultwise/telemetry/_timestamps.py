"""Every timestamp form to UTC nanoseconds, in SQL for bulk readers and in Python for the rest.

Forms: epoch seconds, ms, us or ns (told apart by magnitude, as a number or a string); ISO 8601
and RFC 3339 with or without a zone, ``T`` or space, ``.`` or ``,`` before the fraction, up to
nanoseconds; Go's ``time.String()`` (``2023-01-29 08:41:09.04 +0000 UTC m=+0.11``); the common
log format (``29/Jan/2023:08:42:22 +0000``); RFC 3164 syslog (``Jan 29 08:42:22``, no year:
the reference year is used). A time without a zone is taken as UTC; the clock check
(:mod:`faultwise.telemetry._clockcheck`) reports sources where that assumption looks wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

__all__ = ["TsForm", "detect_form", "parse_timestamp", "ts_sql"]

_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_GO = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?) ([+-]\d{4}) [A-Z]{1,5}( m=.*)?$")
_CLF = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$")
_SYSLOG = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(\.\d+)?$")
_SLASH = re.compile(r"^\d{4}/\d{2}/\d{2}[ T]\d{2}:\d{2}:\d{2}([.,]\d+)?$")
_KLOG = re.compile(r"^\d{4} \d{2}:\d{2}:\d{2}\.\d+$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}([.,]\d+)?$")
_NS_DIGITS = re.compile(r"[.,]\d{6}(\d{1,3})")


class TsForm(StrEnum):
    EPOCH = "epoch"
    ISO = "iso"
    GO = "go"
    CLF = "clf"
    SYSLOG = "syslog"
    SLASH = "slash"  # Go's log package: 2023/01/29 08:42:22
    KLOG = "klog"  # glog/klog: 0129 08:42:22.123456 (no year)
    TIME = "time"  # a time of day only: 16:42:22.382 (no date)


_PATTERNS = (
    (TsForm.EPOCH, _NUMERIC),
    (TsForm.ISO, _ISO),
    (TsForm.GO, _GO),
    (TsForm.CLF, _CLF),
    (TsForm.SYSLOG, _SYSLOG),
    (TsForm.SLASH, _SLASH),
    (TsForm.KLOG, _KLOG),
    (TsForm.TIME, _TIME),
)


def detect_form(values: Iterable[str]) -> TsForm | None:
    """The form most of ``values`` are written in, or None when none is recognised."""
    votes: dict[TsForm, int] = {}
    for value in values:
        text = value.strip()
        for form, pattern in _PATTERNS:
            if pattern.match(text):
                votes[form] = votes.get(form, 0) + 1
                break
    return max(votes, key=lambda f: votes[f]) if votes else None


# |value| below which an epoch number is in this unit, and its ns per unit: s, ms, us
_UNITS: Final = ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3))
_BIGINT_MAX: Final = 2**63 - 1


def _epoch_sql(x: str) -> str:
    """Epoch seconds, milliseconds, microseconds or nanoseconds (told by magnitude) as ns.

    Exact: an integer is scaled as an integer and a fraction read as a DECIMAL with nine
    places (a DOUBLE has 53 bits, so epoch milliseconds in ns, about 1.8e18, would land on a
    multiple of 256 ns). A value with an exponent takes the DOUBLE path.
    """
    i = f"TRY_CAST({x} AS BIGINT)"
    d = f"TRY_CAST({x} AS DECIMAL(38, 9))"
    v = f"TRY_CAST({x} AS DOUBLE)"
    # A value whose nanoseconds pass the BIGINT range has none (NULL), not an overflow error;
    # ranges, not abs(), which overflows on the smallest BIGINT.
    whole = "".join(
        f"WHEN {i} BETWEEN -{below - 1} AND {below - 1} THEN CASE WHEN {i} BETWEEN "
        f"-{_BIGINT_MAX // factor} AND {_BIGINT_MAX // factor} THEN {i} * {factor} END "
        for below, factor in _UNITS
    )
    fraction, approximate = (
        "".join(
            f"WHEN abs({n}) < {below} THEN TRY_CAST(round({n} * {factor}) AS BIGINT) "
            for below, factor in _UNITS
        )
        for n in (d, v)
    )
    # DuckDB rounds '1.5' to a BIGINT: a value is whole only without a dot or an exponent
    return (
        f"CASE WHEN NOT contains({x}, '.') AND NOT contains({x}, 'e') AND NOT contains({x}, 'E') "
        f"THEN CASE {whole}ELSE {i} END "
        f"ELSE coalesce(CASE {fraction}END, CASE {approximate}ELSE {i} END) END"
    )


def _ns(timestamp: str) -> str:
    """UTC ns of a TIMESTAMP expression; NULL outside the ns range (years 1677-2262)."""
    return f"TRY_CAST(epoch_us({timestamp})::HUGEINT * 1000 AS BIGINT)"


# A time without a zone, as loggers write it: TIMESTAMP_NS reads it as the general path does
# (checked on every date, time and fraction length of this shape), in a third of the time.
_ZONELESS = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"


def _iso_sql(x: str) -> str:
    """ISO 8601: a ``Z`` time or one without a zone goes straight to ns (fast); one with an
    offset goes through TIMESTAMPTZ (offsets applied) plus the digits beyond microseconds."""
    general = (
        f"TRY_CAST(epoch_us(TRY_CAST(replace({x}, ',', '.') AS TIMESTAMPTZ))::HUGEINT * 1000 "
        f"+ coalesce(TRY_CAST(rpad(regexp_extract({x}, '[.,]\\d{{6}}(\\d{{1,3}})', 1), 3, '0') "
        "AS BIGINT), 0) AS BIGINT)"
    )
    # the last ns of the range is no TIMESTAMP_NS: the general path has it
    zoneless = f"coalesce(epoch_ns(TRY_CAST(replace({x}, ',', '.') AS TIMESTAMP_NS)), {general})"
    return (
        f"CASE WHEN ends_with({x}, 'Z') AND NOT contains({x}, ',') "
        f"THEN epoch_ns(TRY_CAST({x} AS TIMESTAMP_NS)) "
        f"WHEN regexp_full_match({x}, '{_ZONELESS}') THEN {zoneless} ELSE {general} END"
    )


def ts_sql(x: str, form: TsForm | None, *, day: str, unit_ns: int | None = None) -> str:
    """A DuckDB expression turning the VARCHAR expression ``x`` into UTC ns (NULL if unreadable).

    Numbers are always read as epoch times (in ``unit_ns`` when the column says its unit,
    else by magnitude); text in ``form``, falling back to ISO 8601. The session's TimeZone
    must be UTC (the store sets it), so zone-less times are UTC. ``day`` (``YYYY-MM-DD``)
    completes forms without a year or a date.
    """
    year = day[:4]
    if unit_ns is not None:
        epoch = f"TRY_CAST(round(TRY_CAST({x} AS DOUBLE) * {unit_ns}) AS BIGINT)"
        if unit_ns == 1:
            epoch = f"TRY_CAST({x} AS BIGINT)"
    else:
        epoch = _epoch_sql(x)
    # A number has no colon: a time has, and skips the costlier cast.
    numeric = (
        f"CASE WHEN contains({x}, ':') THEN false ELSE TRY_CAST({x} AS DOUBLE) IS NOT NULL END"
    )
    if form is TsForm.GO:
        text = _iso_sql(f"regexp_replace({x}, ' [A-Z]{{1,5}}( m=.*)?$', '')")
    elif form is TsForm.CLF:
        text = _ns(f"try_strptime({x}, '%d/%b/%Y:%H:%M:%S %z')")
    elif form is TsForm.SYSLOG:
        with_year = f"'{year} ' || regexp_replace({x}, '\\.\\d+$', '')"
        text = _ns(f"try_strptime({with_year}, '%Y %b %d %H:%M:%S')")
    elif form is TsForm.SLASH:
        text = _iso_sql(f"replace({x}, '/', '-')")
    elif form is TsForm.KLOG:
        text = _ns(f"try_strptime('{year}' || {x}, '%Y%m%d %H:%M:%S.%f')")
    elif form is TsForm.TIME:
        text = _iso_sql(f"'{day} ' || {x}")
    else:
        # RFC 3339 in UTC, the common case, first and fast; then numbers, then the rest.
        fast = f"ends_with({x}, 'Z') AND NOT contains({x}, ',')"
        return (
            f"(CASE WHEN {fast} THEN epoch_ns(TRY_CAST({x} AS TIMESTAMP_NS)) "
            f"WHEN {numeric} THEN {epoch} ELSE {_iso_sql(x)} END)"
        )
    return f"(CASE WHEN {numeric} THEN {epoch} ELSE {text} END)"


def parse_timestamp(value: object, *, day: str | None = None) -> int | None:
    """One timestamp (number or text) to UTC ns, or None.

    >>> parse_timestamp("2023-01-29T08:42:22.383150913Z")
    1674981742383150913
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _epoch_ns(value)
    text = str(value).strip()
    if _NUMERIC.match(text):
        return _epoch_ns(int(text) if text.lstrip("-").isdigit() else float(text))
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    if _SLASH.match(text):
        text = text.replace("/", "-")
    elif _TIME.match(text):
        text = f"{day} {text}"
    elif _KLOG.match(text):
        text = f"{day[:4]}-{text[:2]}-{text[2:4]} {text[5:]}"
    go = _GO.match(text)
    if go:
        text = f"{go.group(1)}{go.group(3)}"
    try:
        if _CLF.match(text):
            dt = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        elif _SYSLOG.match(text):
            base = re.sub(r"\.\d+$", "", text)
            dt = datetime.strptime(f"{day[:4]} {base}", "%Y %b %d %H:%M:%S")
        else:
            dt = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ns = _NS_DIGITS.search(text)
    extra = int(ns.group(1).ljust(3, "0")) if ns else 0
    seconds = int(dt.replace(microsecond=0).timestamp())
    return seconds * 1_000_000_000 + dt.microsecond * 1000 + extra


def _epoch_ns(v: float) -> int:
    magnitude = abs(v)
    factor = (
        10**9
        if magnitude < 1e11
        else 10**6
        if magnitude < 1e14
        else 1000
        if magnitude < 1e17
        else 1
    )
    if isinstance(v, int):  # exact: no float rounding of ms or us
        return v * factor
    return round(v * factor)
