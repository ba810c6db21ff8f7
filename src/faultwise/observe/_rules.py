"""Prometheus alerting rules for the metrics this package exports.

Each rule encodes one failure pattern as its symptom in the metrics: a route failing, a route
slow at p99, a connection pool pinned at its maximum (the leak rule), pool timeouts, an open
circuit breaker, and retries above 10 % of outgoing calls (the Google SRE book's budget).
``faultwise rules`` prints them as a Prometheus rule file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["AlertRule", "RuleGroup", "RuleOptions", "alert_rules"]


@dataclass(frozen=True, slots=True)
class AlertRule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    rules: tuple[AlertRule, ...]
    interval: str | None = None


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """Thresholds and scope. ``selector`` (say ``job="checkout"``) is added to every series
    selector; ``by`` are the labels each alert is kept apart by besides its own; ``labels``
    are added to every alert (say ``team=payments``)."""

    selector: str = ""
    by: tuple[str, ...] = ("job",)
    window: str = "5m"
    error_ratio: float = 0.05
    min_request_rate: float = 0.1
    p99_seconds: float = 1.0
    pool_pinned_for: str = "30s"
    breaker_open_for: str = "1m"
    retry_ratio: float = 0.1
    group: str = "faultwise"
    labels: tuple[tuple[str, str], ...] = ()


def _sel(metric: str, opts: RuleOptions, *matchers: str) -> str:
    inner = ", ".join(m for m in (opts.selector, *matchers) if m)
    return f"{metric}{{{inner}}}" if inner else metric


def _by(opts: RuleOptions, *labels: str) -> str:
    return ", ".join(dict.fromkeys((*opts.by, *labels)))


def alert_rules(opts: RuleOptions | None = None) -> RuleGroup:
    """The rule group for ``opts`` (defaults: 5 % errors, p99 1 s, pinned 30 s, 10 % retries)."""
    o = opts if opts is not None else RuleOptions()
    w = o.window
    requests = "http_server_request_duration_seconds_count"
    route_by = _by(o, "http_route")
    rate_all = f"sum by ({route_by}) (rate({_sel(requests, o)}[{w}]))"
    server_errors = 'http_response_status_code=~"5.."'
    rate_5xx = f"sum by ({route_by}) (rate({_sel(requests, o, server_errors)}[{w}]))"
    pool = "db_client_connection_pool_name"
    used = 'db_client_connection_state="used"'
    is_open = 'state="open"'
    rules = [
        AlertRule(
            "HttpRouteErrorRate",
            f"(\n  {rate_5xx}\n/\n  {rate_all}\n) > {o.error_ratio:g}\n"
            f"and\n{rate_all} > {o.min_request_rate:g}",
            "5m",
            "page",
            "{{ $labels.http_route }} fails {{ $value | humanizePercentage }} of requests",
            f"More than {o.error_ratio:.0%} of requests to this route ended in a 5xx status "
            f"over {w}.",
        ),
        AlertRule(
            "HttpRouteLatencyP99",
            "histogram_quantile(0.99,\n"
            f"  sum by ({_by(o, 'http_route', 'le')}) "
            f"(rate({_sel('http_server_request_duration_seconds_bucket', o)}[{w}]))\n"
            f") > {o.p99_seconds:g}",
            "10m",
            "ticket",
            "{{ $labels.http_route }} p99 latency is {{ $value | humanizeDuration }}",
            f"The 99th percentile of request duration on this route is above "
            f"{o.p99_seconds:g} s over {w}.",
        ),
        AlertRule(
            "DbPoolPinnedAtMax",
            f"{_sel('db_client_connection_count', o, used)}\n"
            f">= ignoring(db_client_connection_state)\n"
            f"{_sel('db_client_connection_max', o)}",
            o.pool_pinned_for,
            "page",
            f"Pool {{{{ $labels.{pool} }}}} has every connection in use",
            f"Every connection of the pool has been in use for {o.pool_pinned_for}: a connection "
            "leak or an undersized pool. Requests will soon time out waiting for a connection.",
        ),
        AlertRule(
            "DbPoolTimeouts",
            f"sum by ({_by(o, pool)}) "
            f"(increase({_sel('db_client_connection_timeouts_total', o)}[{w}])) > 0",
            "0m",
            "page",
            f"Requests time out waiting for pool {{{{ $labels.{pool} }}}}",
            f"Connection requests timed out waiting for a free connection in the last {w}.",
        ),
        AlertRule(
            "CircuitBreakerOpen",
            f"max by ({_by(o, 'strategy')}) "
            f"({_sel('resilience_circuit_breaker_state', o, is_open)}) == 1",
            o.breaker_open_for,
            "ticket",
            "Circuit breaker {{ $labels.strategy }} is open",
            f"The breaker has been open for {o.breaker_open_for}: calls to its dependency are "
            "rejected without being tried.",
        ),
        AlertRule(
            "RetryRatioHigh",
            f"sum by ({_by(o)}) (rate({_sel('resilience_retries_total', o)}[{w}]))\n/\n"
            f"sum by ({_by(o)}) "
            f"(rate({_sel('http_client_request_duration_seconds_count', o)}[{w}]))\n"
            f"> {o.retry_ratio:g}",
            "5m",
            "ticket",
            "Retries are {{ $value | humanizePercentage }} of outgoing calls",
            f"More than {o.retry_ratio:.0%} of outgoing calls are retries: a retry storm in "
            "the making. Use a retry budget.",
        ),
    ]
    if o.labels:
        rules = [replace(r, labels=(*r.labels, *o.labels)) for r in rules]
    return RuleGroup(o.group, tuple(rules))
