from __future__ import annotations

from pathlib import Path

import faultwise.drift
from faultwise.drift import ConfigRow, KeyedHasher, read_rows


def test_public_names_are_exactly_the_documented_ones() -> None:
    exported = {name for name in dir(faultwise.drift) if not name.startswith("_")}
    modules = {
        name for name in exported if type(getattr(faultwise.drift, name)).__name__ == "module"
    }
    assert sorted(faultwise.drift.__all__) == sorted(exported - modules - {"annotations", "Path"})
    assert all(hasattr(faultwise.drift, name) for name in faultwise.drift.__all__)


def test_read_rows_gives_configs_table_rows_without_secrets(fixtures: Path) -> None:
    rows = read_rows(fixtures / "k8s" / "prod", hasher=KeyedHasher(b"2" * 16))
    by_key = {row.key: row for row in rows}
    pool = by_key["ConfigMap/api-config.DB_POOL_SIZE"]
    password = by_key["Secret/api-credentials.DB_PASSWORD"]
    url = by_key["ConfigMap/api-config.DATABASE_URL"]
    source = f"{fixtures / 'k8s' / 'prod' / 'configmap.yaml'}:14"
    assert ConfigRow("prod", source, "ConfigMap/api-config.DB_POOL_SIZE", "5", False) == pool
    assert password.secret
    assert password.value.startswith("<secret:")
    assert "prd-Pa55w0rd-e2a8" not in password.value
    assert url.value.startswith("postgres://orders_app:****@orders-db.prod.internal:5432/")
    assert "prd-UrlPw-c9f1" not in url.value


def test_read_rows_equal_secrets_have_equal_values_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("DB_PASSWORD=x\n")
    (tmp_path / "b.env").write_text("DB_PASSWORD=x\n")
    a = read_rows(tmp_path / "a.env")[0].value
    b = read_rows(tmp_path / "b.env")[0].value
    assert a == b
