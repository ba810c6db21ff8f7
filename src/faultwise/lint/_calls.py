"""What individual calls mean: tables of qualified names, and the checks on one call.

Each check receives the call, its resolved qualified name and a ``report`` callback; none of
them walks the tree. Libraries whose defaults are safe are left alone on purpose: httpx (5 s
default timeout), asyncpg (60 s connect timeout), ``ThreadPoolExecutor`` (bounded by default).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

__all__ = [
    "ASYNC_BLOCKING",
    "ENQUEUE_METHODS",
    "NETWORK_CALLS",
    "check_auto_ack",
    "check_timeouts",
    "check_unbounded_pool",
    "has_kwargs",
    "keyword",
    "literal_str",
]

Report = Callable[[str, ast.AST, str], None]

_VERBS = ("get", "options", "head", "post", "put", "patch", "delete", "request")
REQUESTS_CALLS = frozenset(
    [f"requests.{v}" for v in _VERBS] + [f"requests.Session.{v}" for v in (*_VERBS, "send")]
)
HTTPX_CALLS = frozenset(
    [f"httpx.{v}" for v in (*_VERBS, "stream")]
    + [f"httpx.{c}.{v}" for c in ("Client", "AsyncClient") for v in (*_VERBS, "stream", "send")]
)
_HTTPX_SYNC = frozenset(q for q in HTTPX_CALLS if not q.startswith("httpx.AsyncClient."))
AIOHTTP_CALLS = frozenset(
    [f"aiohttp.ClientSession.{v}" for v in (*_VERBS, "ws_connect")] + ["aiohttp.request"]
)
NETWORK_CALLS = REQUESTS_CALLS | HTTPX_CALLS | AIOHTTP_CALLS | {"urllib.request.urlopen"}
_NETWORK_TYPES = ("boto3.client.", "smtplib.SMTP.")

# Blocking calls inside ``async def``, by rule.
ASYNC_BLOCKING: dict[str, str] = {
    "time.sleep": "FW170",
    **dict.fromkeys(REQUESTS_CALLS | _HTTPX_SYNC | {"urllib.request.urlopen"}, "FW171"),
    **dict.fromkeys(
        (
            "psycopg2.connect",
            "psycopg.connect",
            "psycopg.Connection.connect",
            "pymysql.connect",
            "MySQLdb.connect",
        ),
        "FW172",
    ),
    **{
        f"subprocess.{f}": "FW173"
        for f in ("run", "call", "check_call", "check_output", "getoutput", "getstatusoutput")
    },
    "os.system": "FW173",
    "os.popen": "FW173",
}
_SYNC_DB_TYPES = ("redis.Redis.", "psycopg2.connection.", "psycopg.Connection.", "pymysql.")

ENQUEUE_METHODS = frozenset({"delay", "apply_async", "send_task", "basic_publish"})

_REDIS = frozenset(
    f"redis.{n}"
    for n in (
        "Redis",
        "StrictRedis",
        "Redis.from_url",
        "StrictRedis.from_url",
        "from_url",
        "ConnectionPool",
        "ConnectionPool.from_url",
        "asyncio.Redis",
        "asyncio.from_url",
        "asyncio.Redis.from_url",
        "asyncio.ConnectionPool",
    )
)
_POSTGRES = frozenset(
    {
        "psycopg2.connect",
        "psycopg.connect",
        "psycopg.Connection.connect",
        "psycopg.AsyncConnection.connect",
    }
)
# qualified name -> position of the timeout argument
_SOCKETS = {
    "socket.create_connection": 1,
    "http.client.HTTPConnection": 2,
    "http.client.HTTPSConnection": 4,
    "smtplib.SMTP": 3,
    "smtplib.SMTP_SSL": 5,
    "ftplib.FTP": 4,
    "urllib.request.urlopen": 2,
}


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw
    return None


def has_kwargs(call: ast.Call) -> bool:
    """``f(**options)``: any keyword may be in there, so absence proves nothing."""
    return any(kw.arg is None for kw in call.keywords)


def _is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def literal_str(node: ast.expr | None) -> str | None:
    """The text of a string literal, or of the constant parts of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def _short(call: ast.Call, qualname: str) -> str:
    """The call as written, with what it resolved to when the text does not show it."""
    written = ast.unparse(call.func)
    if len(written) > 40:
        written = "..." + written[-37:]
    if written.split(".")[0] == qualname.split(".", maxsplit=1)[0]:
        return f"{written}()"
    return f"{written}() ({qualname})"


def check_timeouts(call: ast.Call, qualname: str, report: Report) -> None:
    """FW101-FW107 on one call (aiohttp sessions are checked by the caller, see FW104)."""
    timeout = keyword(call, "timeout")
    if qualname in REQUESTS_CALLS:
        if timeout is None and not has_kwargs(call):
            report("FW101", call, f"{_short(call, qualname)} without timeout")
        elif timeout is not None and _is_none(timeout.value):
            report("FW101", call, f"{_short(call, qualname)} with timeout=None")
    elif qualname in HTTPX_CALLS or qualname in ("httpx.Client", "httpx.AsyncClient"):
        if timeout is not None and _is_none(timeout.value):
            report("FW102", call, f"{_short(call, qualname)} with timeout=None")
    elif qualname == "httpx.Timeout":
        if len(call.args) == 1 and _is_none(call.args[0]) and not call.keywords:
            report("FW102", call, "httpx.Timeout(None) disables every timeout")
    elif qualname in AIOHTTP_CALLS:
        if timeout is not None and _is_none(timeout.value):
            report("FW104", call, f"{_short(call, qualname)} with timeout=None")
    elif qualname == "aiohttp.ClientTimeout":
        if _unbounded_client_timeout(call):
            report("FW104", call, "aiohttp.ClientTimeout() with neither total nor sock_read")
    elif qualname in _REDIS:
        _check_redis(call, qualname, report)
    elif qualname in _POSTGRES:
        _check_postgres(call, qualname, report)
    elif qualname in _SOCKETS:
        _check_socket(call, qualname, timeout, report)


def _unbounded_client_timeout(call: ast.Call) -> bool:
    if call.args:
        return _is_none(call.args[0]) and keyword(call, "sock_read") is None
    bounds = [keyword(call, "total"), keyword(call, "sock_read")]
    return not has_kwargs(call) and all(kw is None or _is_none(kw.value) for kw in bounds)


def _check_redis(call: ast.Call, qualname: str, report: Report) -> None:
    if has_kwargs(call) or keyword(call, "connection_pool") is not None:
        return
    timeout = keyword(call, "socket_timeout")
    if timeout is not None:
        if _is_none(timeout.value):
            report("FW105", call, f"{_short(call, qualname)} with socket_timeout=None")
        return
    url = literal_str(call.args[0]) if call.args else literal_str(_kw_value(call, "url"))
    if url is not None and "socket_timeout" in url:
        return
    if qualname.endswith("from_url") and url is None and call.args:
        return  # a URL from configuration may carry ?socket_timeout=
    report("FW105", call, f"{_short(call, qualname)} without socket_timeout")


def _kw_value(call: ast.Call, name: str) -> ast.expr | None:
    kw = keyword(call, name)
    return None if kw is None else kw.value


def _check_postgres(call: ast.Call, qualname: str, report: Report) -> None:
    if has_kwargs(call) or keyword(call, "connect_timeout") is not None:
        return
    dsn = call.args[0] if call.args else _kw_value(call, "dsn") or _kw_value(call, "conninfo")
    text = literal_str(dsn)
    if text is not None and "connect_timeout" in text:
        return
    if dsn is not None and text is None:
        return  # a DSN from configuration may carry connect_timeout
    report("FW106", call, f"{_short(call, qualname)} without connect_timeout")


def _check_socket(
    call: ast.Call, qualname: str, timeout: ast.keyword | None, report: Report
) -> None:
    position = _SOCKETS[qualname]
    if timeout is not None:
        if _is_none(timeout.value):
            rule_id = "FW103" if qualname.startswith("urllib") else "FW107"
            report(rule_id, call, f"{_short(call, qualname)} with timeout=None")
        return
    if len(call.args) > position or has_kwargs(call):
        return
    if any(isinstance(a, ast.Starred) for a in call.args):
        return
    rule_id = "FW103" if qualname.startswith("urllib") else "FW107"
    report(rule_id, call, f"{_short(call, qualname)} without timeout")


def is_network_call(qualname: str | None) -> bool:
    if qualname is None:
        return False
    return qualname in NETWORK_CALLS or qualname.startswith(_NETWORK_TYPES)


def blocking_rule(qualname: str) -> str | None:
    """The FW17x rule a call breaks inside ``async def``, if any."""
    found = ASYNC_BLOCKING.get(qualname)
    if found is None and qualname.startswith(_SYNC_DB_TYPES):
        return "FW172"
    return found


_POOL_BOUNDS = {
    "sqlalchemy.create_engine": (("max_overflow", -1), ("pool_size", 0)),
    "sqlalchemy.ext.asyncio.create_async_engine": (("max_overflow", -1), ("pool_size", 0)),
    "sqlalchemy.pool.QueuePool": (("max_overflow", -1), ("pool_size", 0)),
    "aiohttp.TCPConnector": (("limit", 0),),
    "httpx.Limits": (("max_connections", None),),
    "redis.ConnectionPool": (("max_connections", None),),
    "redis.asyncio.ConnectionPool": (("max_connections", None),),
}


def check_unbounded_pool(call: ast.Call, qualname: str, report: Report) -> None:
    """FW160: a pool size or overflow that means 'no limit'."""
    for name, unbounded in _POOL_BOUNDS.get(qualname, ()):
        value = _kw_value(call, name)
        if value is None:
            continue
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            operand = value.operand
            if isinstance(operand, ast.Constant) and operand.value == 1 and unbounded == -1:
                report("FW160", call, f"{_short(call, qualname)} with {name}=-1 (no limit)")
        elif (
            isinstance(value, ast.Constant)
            and value.value == unbounded
            and (unbounded is None or type(value.value) is int)
        ):
            report("FW160", call, f"{_short(call, qualname)} with {name}={unbounded!r} (no limit)")


_AUTO_ACK = (("auto_ack", True), ("no_ack", True), ("enable_auto_commit", True))


def check_auto_ack(call: ast.Call, report: Report) -> None:
    """FW141: a consumer that lets the broker forget messages on delivery."""
    for name, value in _AUTO_ACK:
        kw = _kw_value(call, name)
        if isinstance(kw, ast.Constant) and kw.value is value:
            report("FW141", call, f"consumer with {name}=True")
    if call.args and isinstance(call.args[0], ast.Dict):  # confluent_kafka.Consumer({...})
        for key, val in zip(call.args[0].keys, call.args[0].values, strict=True):
            if literal_str(key) == "enable.auto.commit" and (
                isinstance(val, ast.Constant) and val.value in (True, "true")
            ):
                report("FW141", call, "consumer with enable.auto.commit=True")
