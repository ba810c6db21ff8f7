"""The small pieces: cycles, time scopes, baseline windows, onsets, name matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.diagnose import Edge, Window, parse_window, split_inputs
from faultwise.diagnose._evidence import named_service, rfc3339
from faultwise.diagnose._graph import find_cycles
from faultwise.diagnose._patterns.config_drift import owner
from faultwise.diagnose._signals import Level, find_onset
from faultwise.diagnose._sql import CLICKHOUSE, DUCKDB, Scope
from faultwise.telemetry import Store

S = 1_000_000_000


def test_cycles_are_found_in_call_order_and_self_calls_count() -> None:
    edges = [
        Edge("a", "b", 1),
        Edge("b", "c", 1),
        Edge("c", "a", 1),
        Edge("c", "d", 1),
        Edge("e", "e", 1),
    ]
    assert (("a", "b", "c"), ("e",)) == find_cycles("abcde", edges)


def test_a_graph_without_cycles_has_none() -> None:
    assert () == find_cycles("abc", [Edge("a", "b", 1), Edge("a", "c", 1), Edge("b", "c", 1)])


def test_scopes_keep_their_window_and_untimed_rows_belong_to_the_incident() -> None:
    with Store() as store:
        w = Window(10, 20)
        assert "TRUE" == Scope(store).when("ts_ns")
        assert "(ts_ns IS NULL OR ((ts_ns >= 10 AND ts_ns < 20)))" == Scope(store, window=w).when(
            "ts_ns"
        )
        assert "(ts_ns >= 10 AND ts_ns < 20)" == Scope(store, window=w, keep_untimed=False).when(
            "ts_ns"
        )
        assert "(ts_ns IS NULL OR ((NOT (ts_ns >= 10 AND ts_ns < 20))))" == Scope(
            store, outside=w
        ).when("ts_ns")


@pytest.mark.parametrize(
    ("text", "first_ns", "expected"),
    [
        (
            "2026-03-04T10:00:00Z..2026-03-04T10:05:00Z",
            None,
            Window(1_772_618_400 * S, 1_772_618_700 * S),
        ),
        ("1772618400..1772618700", None, Window(1_772_618_400 * S, 1_772_618_700 * S)),
        (
            "1772618400123456789..1772618700.000000001",
            None,
            Window(1_772_618_400_123_456_789, 1_772_618_700 * S + 1),
        ),
        (
            "1772618400123..1772618700123456",
            None,
            Window(1_772_618_400_123 * 10**6, 1_772_618_700_123_456_000),
        ),
        ("10:00..10:05", 1_772_614_800 * S, Window(1_772_618_400 * S, 1_772_618_700 * S)),
        (
            "2026-03-04T11:00:00+01:00..2026-03-04T10:05:00",
            None,
            Window(1_772_618_400 * S, 1_772_618_700 * S),
        ),
    ],
)
def test_baseline_windows_read_iso_epoch_and_times_of_day(
    text: str, first_ns: int | None, expected: Window
) -> None:
    assert expected == parse_window(text).resolve(first_ns)


@pytest.mark.parametrize("text", ["10:00", "yesterday..today", "10:05..10:00"])
def test_bad_baseline_windows_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_window(text).resolve(0)


def test_an_onset_is_the_first_high_bucket_that_stays_high() -> None:
    normal = Level(median=10.0, spread=1.0, high=12.0, buckets=10)
    values = [10.0, 11.0, 30.0, 10.0, 10.0, 10.0, 25.0, 26.0, None, 27.0]
    assert 6 == find_onset(range(10), values, normal)
    assert find_onset(range(4), [10.0, 30.0, 10.0, 9.0], normal) is None


def test_environments_belong_to_the_longest_service_name_they_start_with() -> None:
    services = ["pay", "payments", "payments-api"]
    assert "payments" == owner("payments-7d9f8b6c5d-x2x9k", services)
    assert "payments-api" == owner("payments-api-0", services)
    assert owner("billing", services) is None


def test_the_service_named_last_in_a_chained_error_is_the_deepest() -> None:
    text = "call to checkout failed: call to orders failed: deadlock detected"
    assert "orders" == named_service(text, ["frontend", "checkout", "orders"], "frontend")
    assert named_service("timeout", ["orders"]) is None


def test_times_are_rfc3339_utc_with_nanoseconds() -> None:
    assert "2026-03-04T09:00:00.000000001Z" == rfc3339(1_772_614_800 * S + 1)


def test_the_engine_specific_functions_differ_only_in_spelling() -> None:
    assert "quantile_cont(x, 0.95)" == DUCKDB.quantile("x", 0.95)
    assert "quantileExactInclusive(0.95)(x)" == CLICKHOUSE.quantile("x", 0.95)
    assert "regexp_matches(m, 'a''b')" == DUCKDB.matches("m", "a'b")
    assert "match(m, 'a''b')" == CLICKHOUSE.matches("m", "a'b")


def test_configuration_files_are_told_apart_from_telemetry(tmp_path: Path) -> None:
    for name in (
        "logs/api.log",
        "config/api.json",
        "values-prod.yaml",
        "traces/spans.csv",
        ".env.production",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    telemetry, configs = split_inputs([str(tmp_path)])
    assert [str(tmp_path / "logs/api.log"), str(tmp_path / "traces/spans.csv")] == telemetry
    assert [
        str(tmp_path / ".env.production"),
        str(tmp_path / "config/api.json"),
        str(tmp_path / "values-prod.yaml"),
    ] == configs
