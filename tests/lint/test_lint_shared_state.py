"""FW15x: module-level state read-modify-written from threads without a lock."""

from __future__ import annotations

import pytest
from rule_cases import Hits, rule_tests

FLAGGED = [
    pytest.param(
        """
        import threading
        processed = 0
        def worker():
            global processed
            processed += 1
        threading.Thread(target=worker).start()
        """,
        [("FW150", 6)],
        id="thread-target-counter",
    ),
    pytest.param(
        """
        from concurrent.futures import ThreadPoolExecutor
        hits = {}
        def count(key):
            hits[key] = hits.get(key, 0) + 1
        with ThreadPoolExecutor() as pool:
            pool.submit(count, "a")
        """,
        [("FW150", 5)],
        id="executor-submit-dict-update",
    ),
    pytest.param(
        """
        from flask import Flask
        app = Flask(__name__)
        visits = {"total": 0}
        @app.route("/")
        def index():
            visits["total"] += 1
            return "ok"
        """,
        [("FW150", 7)],
        id="sync-web-handler",
    ),
    pytest.param(
        """
        import threading
        stats = dict()
        class Poller(threading.Thread):
            def run(self):
                stats["polls"] += 1
        """,
        [("FW150", 6)],
        id="thread-subclass-run",
    ),
]

QUIET = [
    pytest.param(
        """
        import threading
        lock = threading.Lock()
        processed = 0
        def worker():
            global processed
            with lock:
                processed += 1
        threading.Thread(target=worker).start()
        """,
        id="guarded-by-a-lock",
    ),
    pytest.param(
        """
        import threading
        results = []
        seen = {}
        def worker(item):
            results.append(item)
            seen[item] = True
        threading.Thread(target=worker, args=(1,)).start()
        """,
        id="atomic-single-operations",
    ),
    pytest.param(
        """
        counter = 0
        def bump():
            global counter
            counter += 1
        bump()
        """,
        id="not-run-in-threads",
    ),
    pytest.param(
        """
        from fastapi import FastAPI
        app = FastAPI()
        visits = {"total": 0}
        @app.get("/")
        async def index():
            visits["total"] += 1
        """,
        id="async-handler-runs-on-one-event-loop",
    ),
    pytest.param(
        """
        import threading
        totals = {}
        def worker(rows):
            totals = {}
            for r in rows:
                totals[r] = totals.get(r, 0) + 1
        threading.Thread(target=worker, args=([],)).start()
        """,
        id="local-shadows-module-name",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW15",), FLAGGED, QUIET)


def test_django_view_counts_as_thread_entry(hits: Hits) -> None:
    source = """
    counter = 0
    def index(request):
        global counter
        counter += 1
    """
    assert [("FW150", 5)] == hits(source, select=("FW15",), path="shop/views.py")
    assert [] == hits(source, select=("FW15",), path="shop/models.py")
