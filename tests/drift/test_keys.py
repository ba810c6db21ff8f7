from __future__ import annotations

import pytest

from faultwise.drift import Killer, is_secret_key, killer_of


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("KEY", True),
        ("API_KEY", True),
        ("apiKey", True),
        ("DB_PASSWORD", True),
        ("database.password", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("SSH_PRIVATE_KEY", True),
        ("client_secret", True),
        ("DB_PASS", True),
        ("MONKEY", False),
        ("KEYSPACE", False),
        ("KEYCLOAK_URL", False),
        ("TOKENIZER_MODEL", False),
        ("SECRETARY_EMAIL", False),
        ("CACHE_KEY_PREFIX", False),
        ("PUBLIC_KEY", False),
        ("partitionKey", False),
        ("TOKEN_TTL", False),
        ("PASSWORD_MIN_LENGTH", False),
        ("DB_PASSWORD_FILE", False),
        ("Deployment/token-svc.containers.app.env.LOG_LEVEL", False),
        ("Deployment/api.containers.app.env.DB_PASSWORD.valueFrom.secretKeyRef.name", False),
        ("Deployment/api.containers.app.env.DB_PASSWORD", True),
    ],
)
def test_secret_keys_are_matched_by_whole_words(key: str, secret: bool) -> None:
    assert secret == is_secret_key(key)


@pytest.mark.parametrize(
    ("key", "killer"),
    [
        ("DB_POOL_SIZE", Killer.POOL),
        ("maxPoolSize", Killer.POOL),
        ("MAX_CONNECTIONS", Killer.POOL),
        ("TIMEOUT_MS", Killer.TIMEOUT),
        ("DB_POOL_TIMEOUT", Killer.TIMEOUT),
        ("readinessProbe.timeoutSeconds", Killer.TIMEOUT),
        ("CACHE_TTL", Killer.TIMEOUT),
        ("PAYMENTS_RETRIES", Killer.RETRY),
        ("FEATURE_NEW_CHECKOUT", Killer.FEATURE_FLAG),
        ("cache.enabled", Killer.FEATURE_FLAG),
        ("Deployment/api.replicas", Killer.SCALING),
        ("GUNICORN_WORKERS", Killer.SCALING),
        ("Deployment/api.containers.app.resources.limits.memory", Killer.RESOURCES),
        ("RATE_LIMIT_RPS", Killer.LIMIT),
        ("circuit_breaker.failure_threshold", Killer.BREAKER),
        ("DB_HOST", None),
        ("REDIS_URL", None),
        ("SERVICE_NAME", None),
        ("LOG_LEVEL", None),
        ("Deployment/api.containers.queue.env.LOG_LEVEL", None),
    ],
)
def test_killer_keys_are_recognised_by_their_words(key: str, killer: Killer | None) -> None:
    assert killer == killer_of(key)
