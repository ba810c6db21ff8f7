"""FW13x: network calls and task publishing while a database transaction is open."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        import requests
        def pay(session, order):
            with session.begin():
                order.status = "paid"
                requests.post("https://psp/charge", json={}, timeout=5)
        """,
        [("FW130", 6)],
        id="sqlalchemy-session-begin",
    ),
    pytest.param(
        """
        import boto3
        s3 = boto3.client("s3")
        def archive(session, doc):
            with session.begin():
                session.add(doc)
                s3.put_object(Bucket="docs", Key=doc.key, Body=doc.body)
        """,
        [("FW130", 7)],
        id="aws-sdk-call",
    ),
    pytest.param(
        """
        import httpx
        from django.db import transaction
        @transaction.atomic
        def pay(order):
            order.save()
            httpx.post("https://psp/charge")
        def refund(order):
            with transaction.atomic():
                order.save()
                notify.delay(order.id)
        """,
        [("FW130", 7), ("FW131", 11)],
        id="django-atomic-decorator-and-block",
    ),
    pytest.param(
        """
        import httpx
        async def pay(conn, client: httpx.AsyncClient):
            async with conn.transaction():
                await conn.execute("UPDATE orders SET paid = true")
                await client.post("https://psp/charge")
        """,
        [("FW130", 6)],
        id="asyncpg-transaction-and-tracked-client",
    ),
    pytest.param(
        """
        import requests
        def pay(conn):
            cur = conn.cursor()
            cur.execute("BEGIN")
            cur.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
            requests.post("https://psp/charge", timeout=5)
            cur.execute("COMMIT")
        def pay_implicit(conn, cur):
            cur.execute("SELECT * FROM accounts WHERE id = 1 FOR UPDATE")
            requests.post("https://psp/charge", timeout=5)
            conn.commit()
        """,
        [("FW130", 7), ("FW130", 11)],
        id="explicit-begin-commit-and-row-lock",
    ),
]

QUIET = [
    pytest.param(
        """
        import requests
        from django.db import transaction
        def pay(session, order):
            response = requests.post("https://psp/charge", timeout=5)
            with session.begin():
                order.status = response.json()["status"]
            requests.post("https://audit", timeout=5)
        def refund(order):
            with transaction.atomic():
                order.save()
                transaction.on_commit(lambda: notify.delay(order.id))
        """,
        id="calls-outside-and-on-commit",
    ),
    pytest.param(
        """
        import requests
        def pay(conn, cur):
            cur.execute("UPDATE accounts SET balance = 0")
            conn.commit()
            requests.post("https://psp/charge", timeout=5)
            cur.execute("SELECT 1")
            requests.post("https://psp/charge", timeout=5)
        """,
        id="after-commit-and-plain-reads",
    ),
    pytest.param(
        """
        import requests
        def pay(session):
            with session.begin():
                def later():
                    requests.post("u", timeout=5)
                session.info["hook"] = later
        """,
        id="nested-function-runs-later",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW13",), FLAGGED, QUIET)
