"""Brooker's jitter simulation, driven by faultwise's own backoff objects in virtual time.

Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015): N clients each
make exactly one optimistic-concurrency update of one row (read the version, then write it
back conditionally; a stale write fails, the client backs off and starts over). Every message
takes |N(10 ms, 2 ms)| on the network; base 5 ms, cap 2 s. No server capacity limit, as in the
original. Reported: total write calls ("work") and the completion time of the last client,
each the mean over ``--runs`` seeded runs.

The waits come from ``faultwise.resilience`` backoff objects: ``ExponentialBackoff`` with
jitter none/equal/full (base 10 ms, because Brooker's first retry already waits 2 * base) and
``DecorrelatedBackoff(5 ms)``; "no backoff" retries at once.

    python bench/backoff_sim.py                 # N = 10 ... 190, 100 runs each
    python bench/backoff_sim.py --quick --json
"""

from __future__ import annotations

import heapq
import random
import statistics
from dataclasses import dataclass

from _common import arguments, emit, table
from faultwise.resilience import (
    Backoff,
    ConstantBackoff,
    DecorrelatedBackoff,
    ExponentialBackoff,
    Jitter,
)

CAP = 2.0
STRATEGIES: dict[str, Backoff] = {
    "exponential": ExponentialBackoff(0.010, cap=CAP, jitter=Jitter.NONE),
    "equal_jitter": ExponentialBackoff(0.010, cap=CAP, jitter=Jitter.EQUAL),
    "full_jitter": ExponentialBackoff(0.010, cap=CAP, jitter=Jitter.FULL),
    "decorrelated": DecorrelatedBackoff(0.005, cap=CAP),
    "no_backoff": ConstantBackoff(0.0),
}

# Message kinds, in the order one attempt goes through them.
READ, READ_REPLY, WRITE, WRITE_REPLY = range(4)


@dataclass(frozen=True, slots=True)
class Outcome:
    calls: int
    seconds: float


def simulate(clients: int, backoff: Backoff, rng: random.Random) -> Outcome:
    """One run in virtual time: a heap of (arrival, seq, kind, client, payload) messages."""

    def delay() -> float:
        return abs(rng.normalvariate(0.010, 0.002))

    version = calls = seq = 0
    attempts = [0] * clients
    previous = [0.0] * clients
    queue: list[tuple[float, int, int, int, int]] = []
    for client in range(clients):
        seq += 1
        queue.append((delay(), seq, READ, client, 0))
    heapq.heapify(queue)
    now = 0.0
    while queue:
        now, _, kind, client, payload = heapq.heappop(queue)
        if kind == READ:  # the server reads the row's version
            message = (now + delay(), READ_REPLY, version)
        elif kind == READ_REPLY:  # the client writes back with the version it read
            message = (now + delay(), WRITE, payload)
        elif kind == WRITE:  # conditional write: succeeds only on the current version
            calls += 1
            ok = payload == version
            version += ok
            message = (now + delay(), WRITE_REPLY, int(ok))
        elif payload:  # WRITE_REPLY, success: this client is done
            continue
        else:  # WRITE_REPLY, failure: back off, then start over with a read
            attempts[client] += 1
            wait = backoff.delay(attempts[client], previous[client], rng)
            previous[client] = wait
            message = (now + delay() + wait, READ, 0)
        seq += 1
        heapq.heappush(queue, (message[0], seq, message[1], client, message[2]))
    return Outcome(calls, now)


def run(clients: list[int], runs: int, seed: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    for name, backoff in STRATEGIES.items():
        calls: list[float] = []
        millis: list[float] = []
        for n in clients:
            outcomes = [simulate(n, backoff, random.Random(seed + r)) for r in range(runs)]
            calls.append(statistics.fmean(o.calls for o in outcomes))
            millis.append(statistics.fmean(o.seconds for o in outcomes) * 1000)
        results[name] = {"calls": calls, "time_ms": millis}
    return results


def checks(clients: list[int], results: dict[str, dict[str, list[float]]]) -> dict[str, object]:
    """The shape Brooker reported, confirmed or refuted at the largest N."""
    last = len(clients) - 1
    time_ratio = results["exponential"]["time_ms"][last] / results["full_jitter"]["time_ms"][last]
    by_calls = sorted(results, key=lambda name: results[name]["calls"][last])
    return {
        "clients": clients[last],
        "exponential_over_full_jitter_time": round(time_ratio, 1),
        "exponential_over_10x_slower": time_ratio > 10,
        "fewest_calls_order": by_calls,
        "full_and_equal_fewest_calls": set(by_calls[:2]) == {"full_jitter", "equal_jitter"},
    }


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    if args.quick:
        clients, runs = [10, 50, 100, 190], 10
    else:
        clients, runs = [10, 25, 50, 75, 100, 125, 150, 175, 190], 100
    results = run(clients, runs, seed=2015)
    summary = checks(clients, results)
    if args.json:
        emit({"runs": runs, "clients": clients, "strategies": results, "checks": summary})
        return
    names = list(STRATEGIES)
    for metric, title in (("calls", "write calls (work)"), ("time_ms", "completion time, ms")):
        print(f"\nMean {title} over {runs} runs")
        rows = [[n, *(results[s][metric][i] for s in names)] for i, n in enumerate(clients)]
        print(table(["N", *names], rows))
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
