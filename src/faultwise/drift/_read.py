"""Read a file or a directory into one :class:`Environment`: the only code that opens files."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from faultwise._errors import InputError
from faultwise.drift._envfile import looks_like_dotenv, parse_dotenv, parse_env_dump
from faultwise.drift._json import parse_json
from faultwise.drift._kube import is_manifest, read_manifests
from faultwise.drift._model import Environment, Format, Reject
from faultwise.drift._text import decode, read_bytes
from faultwise.drift._tomlini import parse_ini, parse_toml
from faultwise.drift._tree import Entries, Node, flatten
from faultwise.drift._yaml import parse_yaml

__all__ = [
    "detect_format",
    "environment_names",
    "parse_text",
    "read_environment",
    "read_environments",
]

_SUFFIXES = {
    ".json": Format.JSON,
    ".yaml": Format.YAML,
    ".yml": Format.YAML,
    ".toml": Format.TOML,
    ".ini": Format.INI,
    ".cfg": Format.INI,
    ".conf": Format.INI,
    ".properties": Format.INI,
}
_HELM_VALUES = re.compile(r"values(?:[-_.][^/]*)?\.ya?ml")
_HELM_SKIPPED = {"templates", "charts", "crds", "Chart.yaml", "Chart.lock", ".helmignore"}
_NAME_AFFIX = re.compile(r"(?:values|env|config|settings|application|app)[-_.](.+)")
_ENV_LINE = re.compile(r"[^=\s#]+=.*")
_YAML_LINE = re.compile(r"[ \t]*[\w.\-\"']+:(?:[ \t].*)?|[ \t]*-[ \t].*|---.*|#.*")
_JSON_ARRAY = re.compile(r"\[\s*(?:$|[\[{\"\d\-\]]|true|false|null)")
_INI_HEADER = re.compile(r"\[[^\]\n]+\][ \t]*")


def read_environment(
    path: str | Path, *, name: str | None = None, format: Format = Format.AUTO
) -> Environment:
    """Read a file, or every configuration file under a directory, as one environment.

    >>> env = read_environment("deploy/prod")  # doctest: +SKIP
    >>> env.entries["Deployment/api.containers.app.env.DB_POOL_SIZE"].text  # doctest: +SKIP
    '5'
    """
    root = Path(path)
    out = Entries()
    rejects: list[Reject] = []
    if root.is_dir():
        files, skipped = _directory_files(root)
        rejects.extend(skipped)
    elif root.exists() or root.is_symlink():
        files = [root]
    else:
        raise InputError("no such file or directory", source=str(root))
    for file in files:
        data = read_bytes(file)
        text = decode(data, str(file))
        rejects.extend(parse_text(text, str(file), out, format))
    return Environment(
        name=name or environment_names([root])[0],
        entries=out.by_key,
        sources=tuple(str(f) for f in files),
        rejects=tuple(rejects),
    )


def read_environments(
    paths: Sequence[str | Path], *, names: Sequence[str] = (), format: Format = Format.AUTO
) -> list[Environment]:
    """Read each path as one environment; names come from ``names``, else from the paths."""
    if len(names) > len(paths):
        raise InputError(f"{len(names)} names given for {len(paths)} sources")
    derived = environment_names([Path(p) for p in paths])
    chosen = [*names, *derived[len(names) :]]
    if len(set(chosen)) != len(chosen):
        raise InputError(f"environment names must differ: {', '.join(chosen)} (use --name)")
    return [read_environment(p, name=n, format=format) for p, n in zip(paths, chosen, strict=True)]


def environment_names(paths: Sequence[Path]) -> list[str]:
    """Names from file or directory names (``values-prod.yaml``, ``.env.prod``, ``prod/``:
    ``prod``); where two collide, their parent directories' names, else the paths."""
    names = [_short_name(p) for p in paths]
    if len(set(names)) != len(names):
        parents = [p.resolve().parent.name or str(p) for p in paths]
        names = parents if len(set(parents)) == len(parents) else [str(p) for p in paths]
    return names


def _short_name(path: Path) -> str:
    name = path.name or path.resolve().name
    if path.is_dir():
        return name or str(path)
    if name == ".env":
        return path.resolve().parent.name or name
    if name.startswith(".env."):
        return name[len(".env.") :]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    match = _NAME_AFFIX.fullmatch(stem)
    return match.group(1) if match else stem


def _directory_files(root: Path) -> tuple[list[Path], list[Reject]]:
    files: list[Path] = []
    skipped: list[Reject] = []
    charts = {p.parent for p in root.rglob("Chart.yaml")}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part.startswith(".") and not _is_env_name(part) for part in relative):
            continue  # .git, .faultwise-drift.toml, editor files
        if path.is_dir():
            continue
        chart = next((c for c in charts if c in path.parents), None)
        if chart is not None and path.relative_to(chart).parts[0] in _HELM_SKIPPED:
            skipped.append(Reject(str(path), "skipped: part of a Helm chart, not its values"))
        elif (
            chart == path.parent
            and _HELM_VALUES.fullmatch(path.name)
            and path.name != "values.yaml"
        ):
            skipped.append(Reject(str(path), "skipped: a values override; give it as a source"))
        elif path.suffix.lower() in _SUFFIXES or _is_env_name(path.name):
            files.append(path)
        else:
            skipped.append(Reject(str(path), "skipped: not a configuration file name"))
    return files, skipped


def _is_env_name(name: str) -> bool:
    return name in {".env", "env"} or name.startswith(".env.") or name.endswith(".env")


def detect_format(name: str, text: str) -> Format:
    """The input kind of a file from its name, else from its first lines."""
    base = Path(name).name
    suffix = Path(base).suffix.lower()
    if suffix in {".yaml", ".yml"} and _HELM_VALUES.fullmatch(base):
        return Format.HELM
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if base == ".env" or base.startswith(".env."):
        return Format.DOTENV
    if _is_env_name(base):
        return Format.DOTENV if looks_like_dotenv(text) else Format.ENV
    return _sniff(text)


def _sniff(text: str) -> Format:
    lines = [line for line in text.split("\n") if line.strip()][:50]
    first = lines[0].strip() if lines else ""
    if first.startswith("{") or _JSON_ARRAY.match(first):
        return Format.JSON
    if _INI_HEADER.fullmatch(first):
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return Format.INI
        return Format.TOML
    env_lines = sum(1 for line in lines if _ENV_LINE.fullmatch(line))
    yaml_lines = sum(1 for line in lines if _YAML_LINE.fullmatch(line))
    if yaml_lines > env_lines:
        return Format.YAML
    return Format.DOTENV if looks_like_dotenv(text) else Format.ENV


def parse_text(text: str, file: str, out: Entries, format: Format = Format.AUTO) -> list[Reject]:
    """Add the entries of one file's ``text`` to ``out``; returns what it had to skip."""
    kind = detect_format(file, text) if format is Format.AUTO else format
    if kind is Format.ENV:
        return parse_env_dump(text, file, out)
    if kind is Format.DOTENV:
        return parse_dotenv(text, file, out)
    if kind is Format.INI:
        return parse_ini(text, file, out)
    documents: list[Node]
    if kind is Format.TOML:
        documents = [parse_toml(text, file)]
    elif kind is Format.JSON:
        documents = [parse_json(text, file)]
    else:
        documents = parse_yaml(text, file)
    sniffed = format is Format.AUTO and kind in {Format.YAML, Format.JSON}
    manifests = kind is Format.KUBERNETES or (sniffed and any(map(is_manifest, documents)))
    if manifests:
        return read_manifests(documents, file, out, parse_text)
    for document in documents:
        if document.value is not None or len(documents) == 1:
            flatten(document, "", file, out)
    return []
