"""The rule catalogue: stable ids grouped by family, each with the outage it leads to and a fix.

Ids never change meaning once published; a retired rule keeps its id reserved. Families:

====== ==========================================
FW10x  missing or disabled timeouts
FW11x  retries: no backoff, no jitter, no cap
FW12x  swallowed errors
FW13x  I/O inside a database transaction
FW14x  acknowledging a message before processing it
FW15x  unsynchronised shared state
FW16x  unbounded resources
FW17x  blocking calls inside ``async def``
====== ==========================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["RULES", "Family", "Level", "Rule"]


class Family(enum.Enum):
    TIMEOUTS = "timeouts"
    RETRIES = "retries"
    SWALLOWED_ERRORS = "swallowed-errors"
    TRANSACTIONS = "io-in-transaction"
    ACK = "ack-before-processing"
    SHARED_STATE = "shared-state"
    UNBOUNDED = "unbounded-resources"
    ASYNC = "blocking-in-async"


class Level(enum.Enum):
    """SARIF ``level`` of a rule's findings."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    """One check: ``id`` is stable (``FW101``), ``name`` a readable slug."""

    id: str
    name: str
    family: Family
    level: Level
    title: str  # what the rule detects, one line
    outage: str  # the failure pattern it leads to
    fix: str  # what to do instead


_T, _R, _S, _X = Family.TIMEOUTS, Family.RETRIES, Family.SWALLOWED_ERRORS, Family.TRANSACTIONS
_A, _H, _U, _Y = Family.ACK, Family.SHARED_STATE, Family.UNBOUNDED, Family.ASYNC
_E, _W = Level.ERROR, Level.WARNING

_CATALOGUE = (
    Rule(
        "FW101", "requests-without-timeout", _T, _E,
        "requests call without a timeout",
        "requests has no default timeout: a server that accepts the connection and never "
        "answers holds this thread (and its pool slot) forever; threads pile up until the "
        "service stops serving",
        "pass timeout=(connect, read), for example timeout=(3.05, 10)",
    ),
    Rule(
        "FW102", "httpx-timeout-disabled", _T, _E,
        "httpx client or call with timeout=None",
        "timeout=None removes httpx's 5 s default: a stalled dependency blocks the caller "
        "forever",
        "drop timeout=None, or pass httpx.Timeout(10.0, connect=3.0)",
    ),
    Rule(
        "FW103", "urlopen-without-timeout", _T, _E,
        "urllib.request.urlopen without a timeout",
        "urlopen falls back to the global socket timeout, None by default: a stalled server "
        "blocks the caller forever",
        "pass timeout=10 (seconds)",
    ),
    Rule(
        "FW104", "aiohttp-unbounded-timeout", _T, _W,
        "aiohttp session or request without a bounded ClientTimeout",
        "aiohttp waits 300 s by default and forever with ClientTimeout() or total=None: a slow "
        "dependency holds every request and connection far longer than any caller waits, "
        "so work piles up behind it",
        "pass timeout=aiohttp.ClientTimeout(total=10, sock_connect=3)",
    ),
    Rule(
        "FW105", "redis-without-socket-timeout", _T, _E,
        "redis client without socket_timeout",
        "redis-py waits forever on a socket read by default: a Redis that stalls (failover, "
        "a long command, a full network buffer) hangs every caller",
        "pass socket_timeout=... and socket_connect_timeout=... (seconds)",
    ),
    Rule(
        "FW106", "postgres-without-connect-timeout", _T, _W,
        "PostgreSQL connection without connect_timeout",
        "libpq waits indefinitely for a connection by default: a database that drops SYNs "
        "stalls every new connection for minutes",
        "pass connect_timeout=5 (or put connect_timeout=5 in the DSN)",
    ),
    Rule(
        "FW107", "socket-without-timeout", _T, _E,
        "socket-level connection (socket, http.client, smtplib, ftplib) without a timeout",
        "the global socket default is None: connect and every read block forever on a "
        "stalled peer",
        "pass timeout=... (seconds)",
    ),
    Rule(
        "FW110", "retry-without-backoff", _R, _E,
        "retry loop that retries immediately, without sleeping",
        "every client hammers a failing dependency as fast as it can: a brief blip turns "
        "into a retry storm that keeps it down",
        "sleep between attempts with capped exponential backoff and full jitter "
        "(faultwise.resilience.Retry, or tenacity wait_random_exponential)",
    ),
    Rule(
        "FW111", "retry-constant-delay", _R, _W,
        "retry loop that sleeps a constant delay without jitter",
        "clients that failed together retry together, in lock-step waves that hit the "
        "recovering dependency at the same instant",
        "use capped exponential backoff with full jitter: "
        "sleep(random.uniform(0, min(cap, base * 2 ** n)))",
    ),
    Rule(
        "FW112", "retry-backoff-without-jitter", _R, _W,
        "retry loop whose backoff grows without randomness",
        "deterministic backoff keeps synchronised clients synchronised: every retry wave "
        "arrives at once (Brooker, 'Exponential Backoff And Jitter', 2015)",
        "add full jitter: sleep(random.uniform(0, delay))",
    ),
    Rule(
        "FW113", "retry-without-cap", _R, _E,
        "retry loop with neither an attempt limit nor a deadline",
        "the caller retries forever: it never fails fast, its own callers time out, and the "
        "retries add load for as long as the dependency is down",
        "stop after a few attempts or a deadline, then raise",
    ),
    Rule(
        "FW114", "retry-library-forever", _R, _E,
        "tenacity retry without stop=, or backoff without max_tries/max_time",
        "tenacity retries forever by default: one failing dependency parks every caller in "
        "an endless retry loop",
        "pass stop=stop_after_attempt(3) | stop_after_delay(10) (backoff: max_tries=/max_time=)",
    ),
    Rule(
        "FW115", "retry-library-no-jitter", _R, _W,
        "tenacity exponential wait, or backoff with jitter=None, without jitter",
        "clients that failed together retry together: synchronised waves of retries",
        "use wait_random_exponential(...) or wait_exponential_jitter(...) (backoff: keep the "
        "default full_jitter)",
    ),
    Rule(
        "FW120", "bare-except", _S, _W,
        "bare except: that does not re-raise",
        "it also catches KeyboardInterrupt, SystemExit and task cancellation: the process "
        "cannot be stopped cleanly and real failures vanish",
        "catch the exceptions you expect (at most Exception), log them, or re-raise",
    ),
    Rule(
        "FW121", "silenced-exception", _S, _W,
        "broad exception silenced (pass, continue, contextlib.suppress(Exception))",
        "a silent failure: the operation fails, nothing is logged or counted, and the bug "
        "surfaces later as missing data",
        "catch the specific exception, or log it with logger.exception() and count it",
    ),
    Rule(
        "FW122", "broad-except-default", _S, _W,
        "broad except that returns or continues with a default, without logging or re-raising",
        "the failure turns into a plausible wrong answer: callers cannot tell 'none' from "
        "'the dependency is down'",
        "log the exception (logger.exception) before falling back, or re-raise",
    ),
    Rule(
        "FW130", "network-call-in-transaction", _X, _E,
        "HTTP or RPC call inside an open database transaction",
        "row locks and a pooled connection are held while waiting on the network: a slow "
        "dependency blocks other writers and exhausts the connection pool",
        "do the call before the transaction or after commit (transaction.on_commit, outbox)",
    ),
    Rule(
        "FW131", "enqueue-in-transaction", _X, _W,
        "task or message published inside an open database transaction",
        "the consumer can run before the commit (and miss the row), or the message is sent "
        "for a transaction that rolls back",
        "publish after commit: transaction.on_commit(lambda: task.delay(...)), or an outbox table",
    ),
    Rule(
        "FW140", "ack-before-processing", _A, _E,
        "message acknowledged (ack, basic_ack, commit) before it is processed",
        "a crash or error after the ack loses the message: at-most-once delivery where "
        "at-least-once was intended",
        "ack after the work succeeded (and make the handler idempotent)",
    ),
    Rule(
        "FW141", "auto-ack-consumer", _A, _E,
        "consumer with auto_ack=True / no_ack=True / enable_auto_commit=True",
        "the broker forgets the message on delivery: a crash or exception in the handler "
        "loses it silently",
        "use manual acks after processing (auto_ack=False)",
    ),
    Rule(
        "FW150", "unsynchronised-shared-state", _H, _E,
        "module-level state read-modify-written by code run in threads, without a lock",
        "a lost update: concurrent += or d[k] = d[k] + 1 interleave and drop increments; "
        "it passes every single-threaded test",
        "guard the update with a threading.Lock, or use a thread-safe structure",
    ),
    Rule(
        "FW160", "unbounded-connection-pool", _U, _E,
        "connection pool without an upper bound",
        "under load or a slow dependency the pool opens connections without limit until "
        "the database or the file-descriptor limit refuses them all",
        "set a finite pool size and overflow (for example pool_size=10, max_overflow=5)",
    ),
    Rule(
        "FW161", "unbounded-queue", _U, _W,
        "unbounded queue between a producer and a consumer",
        "when the consumer is slower, the queue grows without limit: latency climbs and "
        "memory runs out instead of the producer being told to slow down",
        "pass maxsize=... and decide what a full queue does (block, drop, reject)",
    ),
    Rule(
        "FW162", "unbounded-cache-request-keyed", _U, _W,
        "unbounded cache (lru_cache(maxsize=None), functools.cache) keyed by request data",
        "every distinct request value stays in memory forever: a memory leak that grows "
        "with traffic",
        "bound it: lru_cache(maxsize=1024), or a TTL cache",
    ),
    Rule(
        "FW170", "sleep-in-async", _Y, _E,
        "time.sleep inside async def",
        "the whole event loop stops: every other request on this worker waits for the sleep",
        "await asyncio.sleep(...)",
    ),
    Rule(
        "FW171", "sync-http-in-async", _Y, _E,
        "synchronous HTTP call inside async def",
        "the event loop blocks for the whole round trip: one slow dependency stalls every "
        "coroutine on the worker",
        "use httpx.AsyncClient or aiohttp, or await asyncio.to_thread(...)",
    ),
    Rule(
        "FW172", "sync-db-in-async", _Y, _E,
        "synchronous database or Redis driver call inside async def",
        "the event loop blocks on every query: latency of all requests rises with the "
        "slowest query",
        "use the driver's asyncio API (psycopg AsyncConnection, asyncpg, redis.asyncio)",
    ),
    Rule(
        "FW173", "subprocess-in-async", _Y, _W,
        "blocking subprocess call inside async def",
        "the event loop waits for the child process: everything else on the worker stalls",
        "use asyncio.create_subprocess_exec(...)",
    ),
)  # fmt: skip

RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}
