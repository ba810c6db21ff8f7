from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import system_tool

from faultwise.cli import ExitCode, main


def rules_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert ExitCode.OK == main(["rules", *args])
    return capsys.readouterr().out


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [system_tool("promtool"), *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_rules_lists_the_six_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(rules_text(capsys, "--json"))
    assert [
        "HttpRouteErrorRate",
        "HttpRouteLatencyP99",
        "DbPoolPinnedAtMax",
        "DbPoolTimeouts",
        "CircuitBreakerOpen",
        "RetryRatioHigh",
    ] == [rule["alert"] for rule in doc["groups"][0]["rules"]]


def test_selector_labels_and_thresholds_reach_every_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = json.loads(
        rules_text(
            capsys,
            "--json",
            "--selector",
            'job="checkout"',
            "--label",
            "team=payments",
            "--error-ratio",
            "0.02",
            "--pool-pinned-for",
            "45s",
        )
    )
    rules = {rule["alert"]: rule for rule in doc["groups"][0]["rules"]}
    assert all('job="checkout"' in rule["expr"] for rule in rules.values())
    assert all("payments" == rule["labels"]["team"] for rule in rules.values())
    assert ") > 0.02\n" in rules["HttpRouteErrorRate"]["expr"]
    assert "45s" == rules["DbPoolPinnedAtMax"]["for"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "bad label=x"], "--label wants KEY=VALUE"),
        (["--by", "job,9lives"], "--by has invalid label names: 9lives"),
        (["--p99", "-1"], "--p99 must be positive"),
    ],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert ExitCode.USAGE == main(["rules", *args])
    assert message in capsys.readouterr().err


def test_a_bad_duration_is_rejected_by_the_parser() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rules", "--window", "five minutes"])
    assert ExitCode.USAGE == exc.value.code


@pytest.mark.integration
def test_promtool_accepts_the_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rules_text(capsys))
    result = promtool("check", "rules", str(path))
    assert (0, "SUCCESS: 6 rules found") == (
        result.returncode,
        result.stdout.split("\n")[1].strip(),
    )


def _alert(name: str, at: str, labels: dict[str, str], summary: str) -> dict[str, Any]:
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": summary}}],
    }


@pytest.mark.integration
def test_the_alerts_fire_on_the_symptoms_and_stay_quiet_otherwise(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``promtool test rules``: synthetic series in, expected alerts out."""
    doc = json.loads(rules_text(capsys, "--json"))
    for rule in doc["groups"][0]["rules"]:
        del rule["annotations"]["description"]  # keep the expectations short
    (tmp_path / "rules.json").write_text(json.dumps(doc))
    requests = "http_server_request_duration_seconds"
    api = 'job="api",http_request_method="GET"'
    series = [
        # /pay: half the requests fail; /home: all succeed
        (f'{requests}_count{{{api},http_route="/pay",http_response_status_code="500"}}', "0+60x80"),
        (f'{requests}_count{{{api},http_route="/pay",http_response_status_code="200"}}', "0+60x80"),
        (
            f'{requests}_count{{{api},http_route="/home",http_response_status_code="200"}}',
            "0+60x80",
        ),
        # /slow: every request between 2.5 s and 5 s
        *(
            (f'{requests}_bucket{{{api},http_route="/slow",le="{le}"}}', values)
            for le, values in (
                ("1", "0x80"),
                ("2.5", "0x80"),
                ("5", "0+30x80"),
                ("+Inf", "0+30x80"),
            )
        ),
        # a pool pinned at 5 of 5, another at 4 of 10
        (
            'db_client_connection_count{job="api",db_client_connection_pool_name="orders",'
            'db_client_connection_state="used"}',
            "5x80",
        ),
        ('db_client_connection_max{job="api",db_client_connection_pool_name="orders"}', "5x80"),
        (
            'db_client_connection_count{job="api",db_client_connection_pool_name="audit",'
            'db_client_connection_state="used"}',
            "4x80",
        ),
        ('db_client_connection_max{job="api",db_client_connection_pool_name="audit"}', "10x80"),
        (
            'db_client_connection_timeouts_total{job="api",db_client_connection_pool_name="orders"}',
            "0x20 1+1x60",
        ),
        ('resilience_circuit_breaker_state{job="api",strategy="payments",state="open"}', "1x80"),
        ('resilience_circuit_breaker_state{job="api",strategy="search",state="open"}', "0x80"),
        ('resilience_retries_total{job="api",strategy="payments"}', "0+300x80"),
        ('http_client_request_duration_seconds_count{job="api"}', "0+900x80"),
    ]
    job = {"job": "api"}
    test = {
        "rule_files": ["rules.json"],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    _alert(
                        "HttpRouteErrorRate",
                        "15m",
                        {**job, "http_route": "/pay", "severity": "page"},
                        "/pay fails 50% of requests",
                    ),
                    _alert(
                        "HttpRouteLatencyP99",
                        "15m",
                        {**job, "http_route": "/slow", "severity": "ticket"},
                        "/slow p99 latency is 4.975s",
                    ),
                    _alert(
                        "DbPoolPinnedAtMax",
                        "2m",
                        {**job, "db_client_connection_pool_name": "orders", "severity": "page"},
                        "Pool orders has every connection in use",
                    ),
                    _alert(
                        "DbPoolTimeouts",
                        "10m",
                        {**job, "db_client_connection_pool_name": "orders", "severity": "page"},
                        "Requests time out waiting for pool orders",
                    ),
                    _alert(
                        "CircuitBreakerOpen",
                        "5m",
                        {**job, "strategy": "payments", "severity": "ticket"},
                        "Circuit breaker payments is open",
                    ),
                    _alert(
                        "RetryRatioHigh",
                        "15m",
                        {**job, "severity": "ticket"},
                        "Retries are 33.33% of outgoing calls",
                    ),
                    {"eval_time": "20s", "alertname": "DbPoolPinnedAtMax", "exp_alerts": []},
                    {"eval_time": "4m", "alertname": "DbPoolTimeouts", "exp_alerts": []},
                ],
            }
        ],
    }
    (tmp_path / "test.json").write_text(json.dumps(test))
    result = promtool("test", "rules", str(tmp_path / "test.json"))
    assert (0, "") == (result.returncode, result.stderr), result.stdout
