"""FW12x: swallowed errors; narrow, logged, re-raised or deliberate cleanup handlers pass."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        try:
            charge()
        except:
            pass
        """,
        [("FW120", 4)],
        id="bare-except",
    ),
    pytest.param(
        """
        try:
            charge()
        except Exception:
            pass
        for item in items:
            try:
                send(item)
            except (ValueError, BaseException):
                continue
        """,
        [("FW121", 4), ("FW121", 9)],
        id="broad-pass-and-continue",
    ),
    pytest.param(
        """
        import contextlib
        from contextlib import suppress
        with contextlib.suppress(Exception):
            charge()
        with suppress(KeyError, Exception):
            charge()
        """,
        [("FW121", 4), ("FW121", 6)],
        id="suppress-exception",
    ),
    pytest.param(
        """
        def balance(account):
            try:
                return ledger.balance(account)
            except Exception:
                return 0
        def fetch_rate(currency):
            try:
                return rates.fetch(currency)
            except Exception as exc:
                return 1.0
        """,
        [("FW122", 5), ("FW122", 10)],
        id="default-without-logging",
    ),
]

QUIET = [
    pytest.param(
        """
        try:
            value = cache[key]
        except KeyError:
            pass
        try:
            import ujson as json
        except Exception:
            json = None
        """,
        id="narrow-handler-and-optional-import",
    ),
    pytest.param(
        """
        import logging
        log = logging.getLogger(__name__)
        try:
            charge()
        except Exception:
            log.exception("charge failed")
        try:
            charge()
        except Exception:
            cleanup()
            raise
        try:
            charge()
        except:
            rollback()
            raise
        try:
            charge()
        except Exception as exc:
            errors.append(exc)
        try:
            main()
        except Exception:
            sys.exit(1)
        """,
        id="logged-reraised-used-or-exiting",
    ),
    pytest.param(
        """
        def port(text):
            try:
                return int(text.strip())
            except Exception:
                return None
        def is_up():
            try:
                ping()
                return True
            except Exception:
                return False
        """,
        id="pure-conversion-and-predicate",
    ),
    pytest.param(
        """
        try:
            charge()
        except Exception:  # noqa: BLE001
            pass
        try:
            charge()
        except:  # pylint: disable=bare-except
            pass
        """,
        id="waived-by-another-linter",
    ),
    pytest.param(
        """
        try:
            value = remote_config.fetch()
        except Exception:
            # fall back to the defaults shipped with the image
            value = DEFAULTS
        try:
            charge()
        except Exception:  # the caller retries the whole batch
            pass
        """,
        id="explained-by-a-comment",
    ),
    pytest.param(
        """
        def request(url):
            try:
                return send(url)
            except HTTPError as e:
                body = b""
                try:
                    body = e.read()
                except Exception:
                    pass
                raise Failed(body) from e
        def unsubscribe(nodes):
            failed = []
            for node in nodes:
                try:
                    node.unsubscribe()
                except Exception:
                    failed.append(node)
            return failed
        def drop_exception(fut):
            try:
                fut.result()
            except Exception:
                pass
        """,
        id="inside-a-handler-recorded-or-deliberate-by-name",
    ),
    pytest.param(
        """
        class Conn:
            def close(self):
                try:
                    self.sock.shutdown()
                except Exception:
                    pass
            def __del__(self):
                try:
                    self.flush()
                except Exception:
                    pass
        async def stop(conn):
            try:
                await conn.aclose()
            except Exception:
                pass
        """,
        id="best-effort-cleanup",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW12",), FLAGGED, QUIET)
