from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from faultwise.cli import ExitCode, main

FIXTURES = Path(__file__).parents[1] / "drift" / "fixtures"
K8S = FIXTURES / "k8s"
K8S_ENVS = [str(K8S / name) for name in ("dev", "staging", "prod")]
POOL_KEY = "ConfigMap/api-config.DB_POOL_SIZE"

# every secret value written in the fixtures: none may appear in any output
SECRETS = [
    "dev-Pa55w0rd-9f3c", "stg-Pa55w0rd-71cd", "prd-Pa55w0rd-e2a8",
    "dev-UrlPw-1b7e", "stg-UrlPw-5d20", "prd-UrlPw-c9f1",
    "tok_dev_4c1d8a7f2e9b", "tok_stg_90ab12cd34ef", "tok_prd_77e3f0a1b5c2",
    "sk_test_51Hstg0aXk2LmNq8Rt", "sk_live_51HprdZq9Vb3NcW2Lp", "Stg-DbUrl-83kd", "Prd-DbUrl-k29x",
    "stg-Dotenv-Pw-5511", "prd-Dotenv-Pw-9034", "stg-Smtp-Pw-7702", "prd-Smtp-Pw-3318",
    "MC4CAQAwBQYDK2VwBCIEIHN0Zy1lZDI1NTE5LWtleS1mb3ItZHJpZnQtdGVzdA==",
    "MC4CAQAwBQYDK2VwBCIEIHByZC1lZDI1NTE5LWtleS1mb3ItZHJpZnQtdGVzdA==",
    "stg-Json-Pw-4420", "prd-Json-Pw-7781", "stg-Yaml-Redis-3391", "prd-Yaml-Redis-8820",
    "stg-Toml-Amqp-6610", "prd-Toml-Amqp-2275", "stg-Ini-Pw-1187", "prd-Ini-Pw-6634",
    "stg-Helm-Pw-5120", "prd-Helm-Pw-8873",
]  # fmt: skip
PAIRS = {
    "k8s": K8S_ENVS,
    "kubectl-env": [str(FIXTURES / "kubectl-env" / f) for f in ("staging.txt", "prod.txt")],
    "dotenv": [str(FIXTURES / "dotenv" / f) for f in (".env.staging", ".env.production")],
    "json": [str(FIXTURES / "json" / f) for f in ("staging.json", "prod.json")],
    "yaml": [str(FIXTURES / "yaml" / f) for f in ("staging.yaml", "prod.yaml")],
    "toml": [str(FIXTURES / "toml" / f) for f in ("staging.toml", "prod.toml")],
    "ini": [str(FIXTURES / "ini" / f) for f in ("staging.ini", "prod.ini")],
    "helm": [str(FIXTURES / "helm" / f) for f in ("values-staging.yaml", "values-prod.yaml")],
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No config file from the repository or above it; a wide terminal for rich."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["drift", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_killer_key_buried_among_hostnames_is_first_and_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, *K8S_ENVS, "--config", str(K8S / ".faultwise-drift.toml"), "--json")
    data = json.loads(out)
    first = data["differences"][0]
    assert ExitCode.FOUND == code
    assert (POOL_KEY, "unexpected", "pool") == (first["key"], first["status"], first["killer"])
    assert "ConfigMap/api-config.DB_POOL_SIZE 5 vs 20: 4× lower in prod" == first["summary"]
    assert [POOL_KEY] == [d["key"] for d in data["differences"] if d["status"] == "unexpected"]
    assert 10 <= data["summary"]["expected"]


def test_killer_key_is_the_first_row_of_the_terminal_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, *K8S_ENVS, "--config", str(K8S / ".faultwise-drift.toml"))
    rows = [line for line in out.splitlines() if "│" in line]
    assert ExitCode.FOUND == code
    assert "⚠ pool" in rows[0]
    assert POOL_KEY in rows[0]
    assert "4× lower in prod" in rows[0]


def test_allowing_the_killer_delta_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(K8S / ".faultwise-drift.toml")
    code, out, _ = run(capsys, *K8S_ENVS, "--config", config, "--allow", "*DB_POOL_SIZE")
    assert ExitCode.OK == code
    assert "0 unexpected differences" in out


def test_delta_allowed_only_between_staging_and_prod_still_fails_against_dev(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = (K8S / ".faultwise-drift.toml").read_text()
    pair = base + '\n[[expected]]\nkeys = ["*DB_POOL_SIZE"]\nbetween = ["staging", "prod"]\n'
    everywhere = base + '\n[[expected]]\nkeys = ["*DB_POOL_SIZE"]\nbetween = ["prod", "*"]\n'
    (tmp_path / "pair.toml").write_text(pair)
    (tmp_path / "everywhere.toml").write_text(everywhere)
    codes = [
        run(capsys, *K8S_ENVS, "--config", str(tmp_path / n))[0]
        for n in ("pair.toml", "everywhere.toml")
    ]
    assert [ExitCode.FOUND, ExitCode.OK] == codes


def test_config_is_discovered_from_the_current_directory_upward(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shop"\n\n[tool.faultwise.drift]\nallow = ["*_HOST", "*_URL", "*.host", '
        '"*.hosts", "*_DSN", "Secret/*", "*.replicas", "*.image", "*LOG_LEVEL", "*DB_POOL_SIZE"]\n'
    )
    nested = tmp_path / "services" / "api"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert ExitCode.OK == run(capsys, *K8S_ENVS)[0]
    assert ExitCode.FOUND == run(capsys, *K8S_ENVS, "--no-config")[0]


def test_only_differing_keys_by_default_and_every_key_with_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, default, _ = run(capsys, *PAIRS["json"], "--json")
    _, everything, _ = run(capsys, *PAIRS["json"], "--json", "--all")
    statuses = {d["status"] for d in json.loads(default)["differences"]}
    every = json.loads(everything)
    assert {"unexpected"} == statuses
    assert every["summary"]["keys"] == len(every["differences"])
    assert "service" in {d["key"] for d in every["differences"]}


def test_markdown_output_has_a_table_with_the_killer_row_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, *K8S_ENVS, "--config", str(K8S / ".faultwise-drift.toml"), "--markdown"
    )
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert ExitCode.FOUND == code
    assert "| | key | dev | staging | prod | notes |" == table[0]
    assert (
        "| ⚠ pool | `ConfigMap/api-config.DB_POOL_SIZE` | 20 | 20 | 5 | 4× lower in prod |"
        == table[1]
    )


def _all_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, sources: list[str]) -> str:
    outputs = []
    for flags in (
        [],
        ["--json"],
        ["--markdown"],
        ["--all"],
        ["--all", "--json"],
        ["--all", "--markdown"],
    ):
        outputs.append(run(capsys, *sources, "--no-config", "--show-rejects", *flags)[1])
    code, snapshot, _ = run(capsys, "snapshot", *sources)
    assert ExitCode.OK == code
    baseline = tmp_path / "baseline.json"
    baseline.write_text(snapshot)
    outputs.append(snapshot)
    for flags in ([], ["--json"], ["--markdown"], ["--all"]):
        # check every environment of the snapshot against the next one: everything changes
        names = [json.loads(snapshot)["environments"][i]["name"] for i in range(len(sources))]
        shifted = [*sources[1:], sources[0]]
        argv = [a for n in names for a in ("--name", n)]
        outputs.append(run(capsys, "check", str(baseline), *shifted, *argv, *flags)[1])
    return "\n".join(outputs)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_no_secret_value_appears_in_any_output_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    sources = PAIRS[kind]
    text = "\n".join(
        p.read_text()
        for s in sources
        for p in ([Path(s)] if Path(s).is_file() else Path(s).iterdir())
    )
    present = [s for s in SECRETS if s in text or base64.b64encode(s.encode()).decode() in text]
    output = _all_outputs(capsys, tmp_path, sources)
    assert present, f"the {kind} fixtures hold no secret: the test would prove nothing"
    assert [] == [s for s in present if s in output]
    assert "<secret>" in output or "****" in output


def test_secret_test_covers_every_listed_secret() -> None:
    text = "\n".join(p.read_text() for p in FIXTURES.rglob("*") if p.is_file())
    encoded = {base64.b64encode(s.encode()).decode(): s for s in SECRETS}
    found = {s for s in SECRETS if s in text} | {s for e, s in encoded.items() if e in text}
    assert set(SECRETS) == found


def test_secrets_show_only_differs_or_same(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, *K8S_ENVS, "--no-config", "--json")
    by_key = {d["key"]: d for d in json.loads(out)["differences"]}
    password = by_key["Secret/api-credentials.DB_PASSWORD"]
    url = by_key["ConfigMap/api-config.DATABASE_URL"]
    assert {"dev": "<secret>", "staging": "<secret>", "prod": "<secret>"} == password["values"]
    assert "secret differs (dev ≠ staging ≠ prod)" in password["notes"]
    assert (
        "postgres://orders_app:****@orders-db.prod.internal:5432/orders?sslmode=require"
        == url["values"]["prod"]
    )


def test_snapshot_then_check_reports_what_changed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staging, prod = PAIRS["kubectl-env"]
    code, snapshot, _ = run(capsys, "snapshot", prod, "--name", "prod")
    (tmp_path / "baseline.json").write_text(snapshot)
    unchanged = run(capsys, "check", str(tmp_path / "baseline.json"), prod, "--name", "prod")[0]
    changed, out, _ = run(
        capsys, "check", str(tmp_path / "baseline.json"), staging, "--name", "prod", "--json"
    )
    keys = {d["key"]: d for d in json.loads(out)["checks"][0]["differences"]}
    assert (ExitCode.OK, ExitCode.OK, ExitCode.FOUND) == (code, unchanged, changed)
    assert "HTTP_TIMEOUT_MS 5000 vs 500: 10× higher in prod" == keys["HTTP_TIMEOUT_MS"]["summary"]
    assert "secret differs (prod@baseline ≠ prod)" in keys["STRIPE_API_KEY"]["notes"]


def test_check_with_an_unknown_environment_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, snapshot, _ = run(capsys, "snapshot", PAIRS["ini"][1])
    (tmp_path / "b.json").write_text(snapshot)
    code = main(["drift", "check", str(tmp_path / "b.json"), PAIRS["ini"][0]])
    err = capsys.readouterr().err
    assert ExitCode.USAGE == code
    assert "environment 'staging' is not in the snapshot (it has: prod)" in err


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["drift", *argv])
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        ("invalid.yaml", "invalid.yaml:4", "invalid YAML"),
        ("duplicate.env", "duplicate.env:4", "duplicate key 'DB_POOL_SIZE' (first defined at"),
        ("duplicate.json", "duplicate.json:4", "duplicate key 'pool'"),
        (
            "duplicate-env-var.yaml",
            "duplicate-env-var.yaml:14",
            "duplicate environment variable 'TIMEOUT_MS'",
        ),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line(
    capsys: pytest.CaptureFixture[str], name: str, where: str, message: str
) -> None:
    code, lines = _error(capsys, str(FIXTURES / "bad" / name), PAIRS["json"][0])
    assert ExitCode.USAGE == code
    assert 1 == len(lines)
    assert f"{FIXTURES / 'bad' / where}: " in lines[0]
    assert message in lines[0]


def test_binary_file_is_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    binary = tmp_path / "prod.env"
    binary.write_bytes(b"APP=1\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, lines = _error(capsys, str(binary), PAIRS["json"][0])
    assert (ExitCode.USAGE, 1) == (code, len(lines))
    assert f"{binary}:2: binary file" in lines[0]


def test_missing_file_is_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "prod.env"
    code, lines = _error(capsys, str(missing), PAIRS["json"][0])
    assert (ExitCode.USAGE, [f"faultwise: error: {missing}: no such file or directory"]) == (
        code,
        lines,
    )


def test_unreadable_file_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    # /proc/self/mem refuses a plain read, even to root (who may read any permission-denied file)
    code, lines = _error(capsys, "/proc/self/mem", PAIRS["json"][0])
    assert (ExitCode.USAGE, 1) == (code, len(lines))
    assert lines[0].startswith("faultwise: error: /proc/self/mem: cannot read the file: ")


def test_one_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _error(capsys, PAIRS["json"][0])
    assert (ExitCode.USAGE, 1) == (code, len(lines))
    assert "at least two environments" in lines[0]


def test_names_come_from_files_or_name_flags(capsys: pytest.CaptureFixture[str]) -> None:
    _, derived, _ = run(capsys, *PAIRS["helm"], "--json")
    _, named, _ = run(capsys, *PAIRS["helm"], "--json", "--name", "stg", "--name", "live")
    assert ["staging", "prod"] == [e["name"] for e in json.loads(derived)["environments"]]
    assert ["stg", "live"] == [e["name"] for e in json.loads(named)["environments"]]


def test_format_override_reads_a_yaml_file_as_plain_yaml(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev, staging, _ = K8S_ENVS
    _, out, _ = run(
        capsys, f"{dev}/secret.yaml", f"{staging}/secret.yaml", "--format", "yaml", "--json"
    )
    keys = {d["key"] for d in json.loads(out)["differences"]}
    assert {"data.DB_PASSWORD", "stringData.PAYMENTS_API_TOKEN", "metadata.namespace"} == keys


def test_rejected_lines_are_counted_and_listed_on_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".env.a").write_text("A=1\nthis is not an assignment\nB=2\n")
    (tmp_path / ".env.b").write_text("A=1\nB=3\n")
    _, plain, _ = run(capsys, str(tmp_path / ".env.a"), str(tmp_path / ".env.b"))
    _, listed, _ = run(capsys, str(tmp_path / ".env.a"), str(tmp_path / ".env.b"), "--show-rejects")
    _, as_json, _ = run(capsys, str(tmp_path / ".env.a"), str(tmp_path / ".env.b"), "--json")
    assert "1 input line(s) or file(s) skipped (--show-rejects lists them)" in plain
    assert f"a: {tmp_path / '.env.a'}:2: not a KEY=VALUE line" in listed
    assert [
        {"environment": "a", "source": f"{tmp_path / '.env.a'}:2", "reason": "not a KEY=VALUE line"}
    ] == json.loads(as_json)["rejects"]
