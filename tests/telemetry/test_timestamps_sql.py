"""A time without a zone is read in DuckDB by a fast path (TIMESTAMP_NS) that must give what
the general path gives (TIMESTAMPTZ, then the digits beyond microseconds): every date and time,
valid or not, with a fraction of 0 to 9 digits after a dot or a comma."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from faultwise.telemetry import Store
from faultwise.telemetry._timestamps import TsForm, ts_sql

# the general path, as _iso_sql wrote it for every ISO time before the fast path
GENERAL = (
    "TRY_CAST(epoch_us(TRY_CAST(replace(x, ',', '.') AS TIMESTAMPTZ))::HUGEINT * 1000 "
    r"+ coalesce(TRY_CAST(rpad(regexp_extract(x, '[.,]\d{6}(\d{1,3})', 1), 3, '0') "
    "AS BIGINT), 0) AS BIGINT)"
)


def _two(top: int) -> st.SearchStrategy[str]:
    return st.integers(0, top).map(lambda v: f"{v:02d}")


_TIMES = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac: f"{y:04d}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}",
    st.one_of(st.integers(0, 9999), st.sampled_from([1677, 1970, 2026, 2262])),
    _two(19),
    _two(39),
    st.sampled_from(["T", " "]),
    _two(29),
    _two(69),
    _two(69),
    st.one_of(
        st.just(""),
        st.tuples(st.sampled_from(".,"), st.text("0123456789", min_size=1, max_size=9)).map(
            "".join
        ),
    ),
)
_EDGES = [
    "2262-04-11 23:47:16.854775807",  # the last ns of the range
    "2262-04-11 23:47:16.854775808",
    "1677-09-21 00:12:43.145224192",
    "1677-09-21 00:12:43.145224191",
    "2026-12-31 23:59:60",
    "2026-01-01 24:00:00",
]


@settings(max_examples=60, deadline=None)
@given(times=st.lists(_TIMES, min_size=1, max_size=50))
def test_a_time_without_a_zone_reads_as_the_general_path_reads_it(times: list[str]) -> None:
    times = [*times, *_EDGES]
    values = ", ".join("(?)" for _ in times)
    fast = ts_sql("x", TsForm.ISO, day="2026-01-01")
    with Store() as store:
        rows = store.query(f"SELECT {fast}, {GENERAL} FROM (VALUES {values}) t(x)", times)
    assert [general for _, general in rows] == [read for read, _ in rows]


def test_an_epoch_number_past_the_nanosecond_range_has_no_time_and_no_error() -> None:
    # seconds, ms and us: the last value each unit can give in ns, then the next one
    numbers = [
        "9223372036",
        "9223372037",
        "-9223372037",
        "9223372036854",
        "9223372036855",
        "9223372036854775",
        "9223372036854776",
        "-9223372036854775808",
    ]
    values = ", ".join("(?)" for _ in numbers)
    epoch = ts_sql("x", TsForm.EPOCH, day="2026-01-01")
    with Store() as store:
        rows = store.query(f"SELECT {epoch} FROM (VALUES {values}) t(x)", numbers)
    assert [ns for (ns,) in rows] == [
        9_223_372_036_000_000_000,
        None,
        None,
        9_223_372_036_854_000_000,
        None,
        9_223_372_036_854_775_000,
        None,
        -9_223_372_036_854_775_808,
    ]
