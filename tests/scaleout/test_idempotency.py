"""Idempotency core and the ``@idempotent`` decorator, on the in-memory store."""

from __future__ import annotations

import asyncio
import threading

import pytest

from faultwise.resilience import Event, RejectedError
from faultwise.resilience.idempotency import (
    PICKLE,
    Claim,
    Idempotency,
    IdempotencyKeyReused,
    IdempotencyRejected,
    IdempotencyReleased,
    IdempotencyReplayed,
    KeyReusedError,
    MemoryIdempotencyStore,
    Replay,
    RequestInProgressError,
    idempotent,
)
from faultwise.testing import FakeClock


def recorded(idem: Idempotency) -> list[Event]:
    events: list[Event] = []
    idem.on_event(events.append)
    return events


def test_a_repeated_key_returns_the_stored_result_without_running_again() -> None:
    calls: list[int] = []

    @idempotent(MemoryIdempotencyStore(), key="request_id")
    def charge(request_id: str, cents: int) -> dict[str, int]:
        calls.append(cents)
        return {"charged": cents, "n": len(calls)}

    assert {"charged": 500, "n": 1} == charge("r-1", 500)
    assert {"charged": 500, "n": 1} == charge("r-1", 500)
    assert {"charged": 500, "n": 1} == charge(request_id="r-1", cents=500)
    assert [500] == calls


def test_the_same_key_with_other_arguments_is_refused() -> None:
    idem = Idempotency(MemoryIdempotencyStore())
    events = recorded(idem)

    @idempotent(idem, key="request_id")
    def charge(request_id: str, cents: int) -> int:
        return cents

    charge("r-1", 500)
    with pytest.raises(KeyReusedError, match="r-1"):
        charge("r-1", 900)
    assert [IdempotencyKeyReused("idempotency", f"{__name__}.{charge.__qualname__}:r-1")] == [
        e for e in events if isinstance(e, IdempotencyKeyReused)
    ]


def test_a_failed_execution_releases_the_key_so_a_retry_runs() -> None:
    idem = Idempotency(MemoryIdempotencyStore())
    events = recorded(idem)
    attempts: list[str] = []

    @idempotent(idem, key=lambda order_id: order_id)
    def place(order_id: str) -> str:
        attempts.append(order_id)
        if len(attempts) == 1:
            raise ConnectionError("payment gateway reset")
        return "placed"

    with pytest.raises(ConnectionError):
        place("o-7")
    assert "placed" == place("o-7")
    assert "placed" == place("o-7")
    assert ["o-7", "o-7"] == attempts
    assert ["released", "replayed"] == [e.event for e in events]


def test_a_key_of_none_runs_every_call() -> None:
    calls: list[str | None] = []

    @idempotent(MemoryIdempotencyStore(), key="key")
    def send(key: str | None = None) -> int:
        calls.append(key)
        return len(calls)

    assert [1, 2] == [send(), send(None)]


def test_keys_are_namespaced_per_function() -> None:
    store = MemoryIdempotencyStore()

    @idempotent(store, key="key")
    def first(key: str) -> str:
        return "first"

    @idempotent(store, key="key")
    def second(key: str) -> str:
        return "second"

    assert ("first", "second") == (first("k"), second("k"))


def test_results_expire_after_the_ttl() -> None:
    clock = FakeClock()
    calls: list[int] = []

    @idempotent(Idempotency(MemoryIdempotencyStore(clock=clock), ttl=60.0, clock=clock), key="k")
    def act(k: str) -> int:
        calls.append(1)
        return len(calls)

    assert 1 == act("a")
    clock.advance(59.9)
    assert 1 == act("a")
    clock.advance(0.2)
    assert 2 == act("a")


def test_an_abandoned_claim_frees_itself_after_the_lease() -> None:
    clock = FakeClock()
    idem = Idempotency(MemoryIdempotencyStore(clock=clock), lease=30.0, clock=clock)
    events = recorded(idem)
    stale = idem.claim("k", "f")
    assert isinstance(stale, Claim)
    with pytest.raises(RequestInProgressError):
        idem.claim("k", "f")
    clock.advance(30.0)
    fresh = idem.claim("k", "f")
    assert isinstance(fresh, Claim)
    idem.complete(stale, b"late")  # the old owner finishes after losing its lease
    idem.complete(fresh, b"fresh")
    assert Replay("k", b"fresh") == idem.claim("k", "f")
    assert IdempotencyReleased("idempotency", "k", "lease_expired") in events


def test_a_concurrent_duplicate_is_refused_at_once_by_default() -> None:
    idem = Idempotency(MemoryIdempotencyStore())
    events = recorded(idem)
    idem.claim("k", "f")
    with pytest.raises(RequestInProgressError) as info:
        idem.claim("k", "f")
    assert isinstance(info.value, RejectedError)
    assert (1.0, "idempotency") == (info.value.retry_after, info.value.strategy)
    assert [IdempotencyRejected("idempotency", "k")] == events


def test_a_waiting_duplicate_polls_with_growing_pauses_until_wait_runs_out() -> None:
    clock = FakeClock()
    idem = Idempotency(
        MemoryIdempotencyStore(clock=clock), wait=1.0, poll=0.01, max_poll=0.2, clock=clock
    )
    idem.claim("k", "f")
    with pytest.raises(RequestInProgressError):
        idem.claim("k", "f")
    assert 1.0 == pytest.approx(sum(clock.sleeps))
    *pauses, last = clock.sleeps  # the last pause is what was left of the wait: any length
    assert all(0.005 <= s <= 0.2 for s in pauses)
    assert 0 < last <= 0.2
    assert clock.sleeps[3] > clock.sleeps[0]


def test_a_waiting_duplicate_gets_the_result_once_the_first_completes() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(clock=clock)
    idem = Idempotency(store, wait=5.0, clock=clock)
    first = idem.claim("k", "f")
    assert isinstance(first, Claim)
    original_sleep = clock.sleep

    def sleep_then_finish(seconds: float) -> None:
        original_sleep(seconds)
        if len(clock.sleeps) == 3:
            idem.complete(first, b"done")

    clock.sleep = sleep_then_finish  # type: ignore[method-assign]
    assert Replay("k", b"done") == idem.claim("k", "f")
    assert 3 == len(clock.sleeps)


def test_a_waiting_duplicate_runs_itself_when_the_first_fails() -> None:
    idem = Idempotency(MemoryIdempotencyStore(), wait=5.0)
    first = idem.claim("k", "f")
    assert isinstance(first, Claim)
    timer = threading.Timer(0.05, idem.release, (first,))
    timer.start()
    second = idem.claim("k", "f")
    timer.join()
    assert isinstance(second, Claim)
    assert first.token != second.token


def test_a_hundred_threads_with_one_key_execute_once_and_agree() -> None:
    idem = Idempotency(MemoryIdempotencyStore(), wait=10.0)
    runs: list[int] = []
    barrier = threading.Barrier(100)

    @idempotent(idem, key="key")
    def create(key: str) -> dict[str, int]:
        runs.append(1)
        threading.Event().wait(0.05)
        return {"id": 42}

    results: list[dict[str, int]] = []

    def caller() -> None:
        barrier.wait()
        results.append(create("same"))

    threads = [threading.Thread(target=caller) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert 1 == len(runs)
    assert [{"id": 42}] * 100 == results


async def test_the_async_decorator_runs_once_for_concurrent_duplicates() -> None:
    idem = Idempotency(MemoryIdempotencyStore(), wait=5.0)
    runs: list[str] = []

    @idempotent(idem, key="key")
    async def create(key: str, item: str) -> dict[str, str]:
        runs.append(item)
        await asyncio.sleep(0.02)
        return {"item": item}

    results = await asyncio.gather(*(create("k", "book") for _ in range(50)))
    assert ["book"] == runs
    assert [{"item": "book"}] * 50 == results


async def test_the_async_decorator_releases_the_key_when_the_call_raises() -> None:
    runs: list[int] = []

    @idempotent(MemoryIdempotencyStore(), key="key")
    async def flaky(key: str) -> int:
        runs.append(1)
        if len(runs) == 1:
            raise TimeoutError
        return len(runs)

    with pytest.raises(TimeoutError):
        await flaky("k")
    assert (2, 2) == (await flaky("k"), await flaky("k"))


def test_arguments_json_cannot_hold_need_a_fingerprint_function() -> None:
    class Order:
        pass

    @idempotent(MemoryIdempotencyStore(), key=lambda order: "o-1")
    def place(order: Order) -> str:
        return "ok"

    with pytest.raises(TypeError, match="fingerprint="):
        place(Order())

    @idempotent(MemoryIdempotencyStore(), key=lambda order: "o-1", fingerprint=lambda order: "v1")
    def place_fingerprinted(order: Order) -> str:
        return "ok"

    assert "ok" == place_fingerprinted(Order())


def test_a_key_parameter_the_function_lacks_is_an_error_at_decoration() -> None:
    with pytest.raises(TypeError, match="no parameter 'request_id'"):

        @idempotent(MemoryIdempotencyStore(), key="request_id")
        def act(key: str) -> None: ...


def test_the_pickle_codec_replays_any_object() -> None:
    @idempotent(MemoryIdempotencyStore(), key="key", codec=PICKLE)
    def make(key: str) -> set[int]:
        return {1, 2}

    assert {1, 2} == make("k") == make("k")


def test_replays_and_refusals_are_events() -> None:
    idem = Idempotency(MemoryIdempotencyStore())
    events = recorded(idem)
    claim = idem.claim("k", "f")
    assert isinstance(claim, Claim)
    idem.complete(claim, b"x")
    idem.claim("k", "f")
    assert [IdempotencyReplayed("idempotency", "k")] == events
    assert ("idempotency", "replayed") == (events[0].kind, events[0].event)


@pytest.mark.parametrize(
    ("field", "value"),
    [("ttl", 0.0), ("lease", -1.0), ("wait", -0.1), ("poll", float("inf"))],
)
def test_invalid_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Idempotency(MemoryIdempotencyStore(), **{field: value})  # type: ignore[arg-type]


def test_the_memory_store_sweeps_expired_keys() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(clock=clock)
    for n in range(1000):
        store.begin(f"old-{n}", "f", 1.0)
    clock.advance(2.0)
    for n in range(100):
        store.begin(f"new-{n}", "f", 1.0)
    assert 100 == len(store)
