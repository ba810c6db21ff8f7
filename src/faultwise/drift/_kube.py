"""Kubernetes manifests: workloads, ConfigMaps and Secrets as flattened keys.

Keys start with ``Kind/name`` (never the namespace, which differs between environments by
design). A workload's pod template is lifted to that prefix, so a container's variable reads
``Deployment/api.containers.app.env.DB_POOL_SIZE`` and its limit
``Deployment/api.containers.app.resources.limits.memory``; ``envFrom`` and ``valueFrom``
references are kept as they are written. ConfigMap ``data`` and ``binaryData``, and Secret
``data`` (base64-decoded) and ``stringData`` become ``ConfigMap/name.KEY``; every Secret value
is secret whatever its name. A data key named like a file (``application.yaml``,
``app.properties``, ``.env``...) is read as that file:
``ConfigMap/name["application.yaml"].server.port``. ``metadata`` and ``status`` are left
out: names, labels, annotations and resource versions are not configuration.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from faultwise._errors import InputError
from faultwise.drift._model import ConfigEntry, Reject
from faultwise.drift._tree import Entries, Node, flatten, join_key

EmbeddedReader = Callable[[str, str, Entries], list[Reject]]

__all__ = ["is_manifest", "read_manifests"]

_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_SKIPPED = {"apiVersion", "kind", "metadata", "status"}
_FILE_NAME = re.compile(r"(?:.+\.(?:ya?ml|json|toml|ini|properties|env)|\.env(?:\..+)?)")


def is_manifest(node: Node) -> bool:
    """A mapping with a string ``apiVersion`` and ``kind``: a Kubernetes object."""
    value = node.value
    if not isinstance(value, dict):
        return False
    version, kind = value.get("apiVersion"), value.get("kind")
    return (
        version is not None
        and kind is not None
        and isinstance(version.value, str)
        and isinstance(kind.value, str)
    )


def read_manifests(
    documents: list[Node], file: str, out: Entries, embedded: EmbeddedReader | None = None
) -> list[Reject]:
    """Add every object of ``documents`` to ``out``; a non-object document is flattened.

    ``embedded`` reads a file held in a ConfigMap or Secret (its text, its name, the entries
    to fill); what it cannot read stays one text value and is reported as a reject.
    """
    rejects: list[Reject] = []
    for document in documents:
        if document.value is None:
            continue  # an empty document between two ---
        if is_manifest(document):
            rejects.extend(_read_object(document, file, out, embedded))
        else:
            flatten(document, "", file, out)
    return rejects


def _read_object(
    node: Node, file: str, out: Entries, embedded: EmbeddedReader | None
) -> list[Reject]:
    obj = _mapping(node)
    kind = str(obj["kind"].value)
    items = obj.get("items")
    if kind.endswith("List") and items is not None and isinstance(items.value, list):
        return read_manifests(items.value, file, out, embedded)  # kubectl get -o yaml
    prefix = f"{kind}/{_name(node)}"
    if kind in {"ConfigMap", "Secret"}:
        return _read_data(obj, prefix, file, out, embedded, secret=kind == "Secret")
    if kind in _POD_SPEC_PATHS:
        _read_workload(obj, _POD_SPEC_PATHS[kind], prefix, file, out)
    else:
        rest = {k: v for k, v in obj.items() if k not in _SKIPPED}
        flatten(Node(rest, node.line), prefix, file, out)
    return []


def _name(node: Node) -> str:
    metadata = _mapping(_mapping(node).get("metadata"))
    for field in ("name", "generateName"):
        value = metadata.get(field)
        if value is not None and isinstance(value.value, str) and value.value:
            return value.value
    return f"line{node.line}"


def _mapping(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}


def _read_data(
    obj: dict[str, Node],
    prefix: str,
    file: str,
    out: Entries,
    embedded: EmbeddedReader | None,
    *,
    secret: bool,
) -> list[Reject]:
    values: dict[str, Node] = {}
    for field in ("binaryData", "data") if not secret else ("data",):
        for key, value in _mapping(obj.get(field)).items():
            decode = field == "binaryData" or secret
            values[key] = _decoded(value, key, file) if decode else value
    values.update(_mapping(obj.get("stringData")) if secret else {})  # stringData wins
    for field, value in obj.items():
        if field not in {*_SKIPPED, "data", "binaryData", "stringData"}:
            flatten(value, f"{prefix}.{field}", file, out)  # type, immutable
    rejects: list[Reject] = []
    plain: dict[str, Node] = {}
    for key, value in values.items():
        text = value.value
        if embedded is None or not isinstance(text, str) or not _FILE_NAME.fullmatch(key):
            plain[key] = value
            continue
        inner = Entries()
        try:
            rejects.extend(embedded(text, key, inner))
        except InputError as exc:
            where = f"{file}:{value.line}" if value.line is not None else file
            rejects.append(Reject(where, f"{key} kept as one value: {exc}"))
            plain[key] = value
            continue
        for entry in inner.by_key.values():
            out.add(_embedded_entry(entry, join_key(prefix, key), file, value.line, secret))
    flatten(Node(plain, None), prefix, file, out, secret=secret)
    return rejects


def _embedded_entry(
    entry: ConfigEntry, prefix: str, file: str, offset: int | None, secret: bool
) -> ConfigEntry:
    """An entry of a file held in a ConfigMap, keyed and located in the manifest."""
    key = prefix + (entry.key if entry.key.startswith("[") else f".{entry.key}")
    line = entry.source.rpartition(":")[2]
    source = f"{file}:{offset + int(line)}" if offset is not None and line.isdigit() else file
    return ConfigEntry(key, entry.text, entry.type, source, entry.secret or secret)


def _decoded(node: Node, key: str, file: str) -> Node:
    source = f"{file}:{node.line}" if node.line is not None else file
    if not isinstance(node.value, str):
        raise InputError(f"{key!r}: base64 data must be a string", source=source)
    try:
        data = base64.b64decode("".join(node.value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{key!r}: not valid base64", source=source) from None
    try:
        return Node(data.decode("utf-8"), node.line)
    except UnicodeDecodeError:
        return Node(data, node.line)


def _read_workload(
    obj: dict[str, Node], path: tuple[str, ...], prefix: str, file: str, out: Entries
) -> None:
    level = obj
    for step in path:
        rest = {k: v for k, v in level.items() if k != step and k not in _SKIPPED}
        if rest:
            flatten(Node(rest), prefix, file, out)
        level = _mapping(level.get(step))
    for field in ("containers", "initContainers", "ephemeralContainers"):
        _check_unique_names(level.get(field), "container", file)
        for container in _list(level.get(field)):
            _check_unique_names(_mapping(container).get("env"), "environment variable", file)
    flatten(Node(level), prefix, file, out)


def _list(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _check_unique_names(node: Node | None, what: str, file: str) -> None:
    """Kubernetes keeps the last of two equal names silently: here it is an input error."""
    seen: dict[str, int | None] = {}
    for item in _list(node):
        name = _mapping(item).get("name")
        if name is None or not isinstance(name.value, str):
            continue
        if name.value in seen:
            raise InputError(
                f"duplicate {what} {name.value!r} (first defined at {file}:{seen[name.value]})",
                source=f"{file}:{name.line}",
            )
        seen[name.value] = name.line
