from __future__ import annotations

import base64
from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import ValueType, read_environment
from faultwise.drift._read import parse_text
from faultwise.drift._tree import Entries


def manifest(text: str) -> dict[str, str]:
    out = Entries()
    parse_text(text, "m.yaml", out)
    return {k: e.text for k, e in out.by_key.items()}


def test_deployment_env_resources_and_replicas_are_keyed_by_object_and_container(
    fixtures: Path,
) -> None:
    env = read_environment(fixtures / "k8s" / "prod")
    entries = env.entries
    assert "6" == entries["Deployment/api.replicas"].text
    assert "4" == entries["Deployment/api.containers.api.env.GUNICORN_WORKERS"].text
    assert "1Gi" == entries["Deployment/api.containers.api.resources.limits.memory"].text
    assert (
        "api-config" == entries["Deployment/api.containers.api.envFrom[0].configMapRef.name"].text
    )
    assert "5" == entries["ConfigMap/api-config.DB_POOL_SIZE"].text
    assert "3" == entries["StatefulSet/redis.replicas"].text
    assert "5" == entries["DaemonSet/log-agent.containers.agent.env.FLUSH_INTERVAL_S"].text


def test_metadata_and_namespace_are_not_configuration(fixtures: Path) -> None:
    keys = read_environment(fixtures / "k8s" / "prod").entries
    assert [] == [k for k in keys if "metadata" in k or "namespace" in k or "checksum" in k]


def test_value_from_references_are_kept_as_written(fixtures: Path) -> None:
    entries = read_environment(fixtures / "k8s" / "prod").entries
    prefix = "Deployment/api.containers.api.env.DB_PASSWORD.valueFrom.secretKeyRef"
    assert ("api-credentials", "DB_PASSWORD") == (
        entries[f"{prefix}.name"].text,
        entries[f"{prefix}.key"].text,
    )


def test_secret_data_is_base64_decoded_and_marked_secret(fixtures: Path) -> None:
    entries = read_environment(fixtures / "k8s" / "prod").entries
    password = entries["Secret/api-credentials.DB_PASSWORD"]
    token = entries["Secret/api-credentials.PAYMENTS_API_TOKEN"]
    assert ("prd-Pa55w0rd-e2a8", True) == (password.text, password.secret)
    assert ("tok_prd_77e3f0a1b5c2", True) == (token.text, token.secret)
    assert "Opaque" == entries["Secret/api-credentials.type"].text


def test_string_data_wins_over_data() -> None:
    encoded = base64.b64encode(b"old").decode()
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
        f"data: {{K: {encoded}}}\nstringData: {{K: new}}\n"
    )
    assert {"Secret/s.K": "new"} == manifest(text)


def test_invalid_base64_in_a_secret_names_the_line() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  K: not*base64\n"
    with pytest.raises(InputError) as exc:
        manifest(text)
    assert "m.yaml:5: 'K': not valid base64" == str(exc.value)


def test_configmap_binary_data_is_summarised_not_dumped() -> None:
    encoded = base64.b64encode(bytes(range(256))).decode()
    out = Entries()
    parse_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\nbinaryData:\n  blob: {encoded}\n",
        "m.yaml",
        out,
    )
    entry = out.by_key["ConfigMap/c.blob"]
    assert ValueType.BINARY == entry.type
    assert entry.text.startswith("<256 bytes sha256:")


def test_cronjob_pod_spec_is_lifted_and_schedule_kept() -> None:
    text = """apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          containers:
            - name: job
              env: [{name: BATCH_SIZE, value: "500"}]
"""
    expected = {
        "CronJob/report.schedule": "0 3 * * *",
        "CronJob/report.backoffLimit": "2",
        "CronJob/report.containers.job.env.BATCH_SIZE": "500",
    }
    assert expected == manifest(text)


def test_list_of_objects_from_kubectl_get_is_read() -> None:
    text = """apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: a}
    data: {X: "1"}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: b}
    data: {Y: "2"}
"""
    assert {"ConfigMap/a.X": "1", "ConfigMap/b.Y": "2"} == manifest(text)


def test_other_kinds_keep_their_spec() -> None:
    text = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec: {minReplicas: 3, maxReplicas: 12}
status: {currentReplicas: 5}
"""
    assert {
        "HorizontalPodAutoscaler/api.spec.minReplicas": "3",
        "HorizontalPodAutoscaler/api.spec.maxReplicas": "12",
    } == manifest(text)


def test_manifests_in_json_are_read_too() -> None:
    text = (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"A": "1"}}'
    )
    out = Entries()
    parse_text(text, "m.json", out)
    assert {"ConfigMap/c.A": "1"} == {k: e.text for k, e in out.by_key.items()}


def test_duplicate_container_names_are_an_error() -> None:
    text = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: app
    - name: app
"""
    with pytest.raises(InputError) as exc:
        manifest(text)
    assert "m.yaml:7: duplicate container 'app' (first defined at m.yaml:6)" == str(exc.value)


def test_the_same_object_twice_in_one_environment_is_an_error(tmp_path: Path) -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {A: '1'}\n"
    (tmp_path / "a.yaml").write_text(doc)
    (tmp_path / "b.yaml").write_text(doc)
    with pytest.raises(InputError) as exc:
        read_environment(tmp_path)
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    expected = f"{second}:4: duplicate key 'ConfigMap/c.A' (first defined at {first}:4)"
    assert expected == str(exc.value)


def test_files_held_in_a_configmap_are_read_as_files() -> None:
    text = """apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data:
  application.yaml: |
    server:
      port: 8080
    spring.datasource.hikari.maximum-pool-size: 10
  app.properties: |
    http.timeout=5s
  notes.txt: |
    free text
"""
    out = Entries()
    rejects = parse_text(text, "m.yaml", out)
    entries = {k: (e.text, e.source) for k, e in out.by_key.items()}
    assert {
        'ConfigMap/app["application.yaml"].server.port': ("8080", "m.yaml:7"),
        'ConfigMap/app["application.yaml"]["spring.datasource.hikari.maximum-pool-size"]': (
            "10",
            "m.yaml:8",
        ),
        'ConfigMap/app["app.properties"]["http.timeout"]': ("5s", "m.yaml:10"),
        'ConfigMap/app["notes.txt"]': ("free text\n", "m.yaml:11"),
    } == entries
    assert [] == rejects


def test_a_held_file_that_does_not_parse_stays_one_value_and_is_reported() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  x.json: |\n    {oops\n"
    out = Entries()
    rejects = parse_text(text, "m.yaml", out)
    assert ['ConfigMap/c["x.json"]'] == list(out.by_key)
    assert 1 == len(rejects)
    assert "m.yaml:5" == rejects[0].source
    assert rejects[0].reason.startswith("x.json kept as one value: x.json:1: invalid JSON")
