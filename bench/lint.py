"""How fast ``faultwise lint`` reads real code, side by side with ruff's related rules.

The corpus is well-known packages installed from PyPI into a throwaway virtualenv. Lines per
second count every line of every ``.py`` file, blank and comment lines included (as
``wc -l``). faultwise runs in-process, best of N repeats, in one process and with ``jobs=2``;
ruff (Rust, all cores) runs as a subprocess with its related rules selected. The machine may be
shared, so the report also gives lines per CPU-second (this process and its workers) and the
load average before and after.

    python bench/lint.py --make-corpus     # once: pip install the corpus into /tmp/lintcorpus
    python bench/lint.py                   # full run, table
    python bench/lint.py --quick --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultwise.lint import LintConfig, LintResult, lint_paths

PACKAGES = ("requests", "httpx", "celery", "kombu", "sqlalchemy", "django", "flask", "aiohttp",
            "redis", "pika", "tenacity")  # fmt: skip
QUICK = ("requests", "httpx", "flask", "redis")
CORPUS = Path("/tmp/lintcorpus")
RUFF_RULES = "S113,S110,S112,BLE001,E722,ASYNC,PLW0603"
TARGET = 50_000


@dataclass(frozen=True)
class Timing:
    wall: float  # best wall-clock seconds
    cpu: float  # best CPU seconds of this process and its finished children
    value: Any  # what the last run returned


def site_packages(venv: Path) -> Path:
    return (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )


def make_corpus(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PACKAGES], check=True)


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any], repeats: int) -> Timing:
    wall = cpu = float("inf")
    value = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), _cpu()
        value = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, _cpu() - start_cpu)
    return Timing(wall, cpu, value)


def ruff(paths: list[str], repeats: int) -> tuple[float, int] | None:
    exe = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not os.path.exists(exe):
        return None
    cmd = [exe, "check", "--isolated", "--no-cache", "--exit-zero", "--select", RUFF_RULES,
           "--output-format", "json", *paths]  # fmt: skip
    run = timed(lambda: subprocess.run(cmd, capture_output=True, check=True), repeats)
    return run.wall, len(json.loads(run.value.stdout))


def measure(root: Path, packages: tuple[str, ...], repeats: int) -> dict[str, Any]:
    config = LintConfig(root=root)
    rows = []
    for name in packages:
        path = root / name
        if not path.is_dir():
            print(f"skipping {name}: not installed under {root}", file=sys.stderr)
            continue
        run = timed(lambda p=path: lint_paths([str(p)], config), repeats)
        result: LintResult = run.value
        peer = ruff([str(path)], repeats)
        rows.append(
            {
                "package": name,
                "files": result.files,
                "lines": result.lines,
                "lines_per_s": result.lines / run.wall,
                "findings": len(result.findings),
                "per_kloc": 1000 * len(result.findings) / result.lines,
                "errors": len(result.errors),
                "ruff_findings": peer[1] if peer else None,
            }
        )
    paths = [str(root / r["package"]) for r in rows]
    lines = sum(r["lines"] for r in rows)
    serial = timed(lambda: lint_paths(paths, config), repeats)
    parallel = timed(lambda: lint_paths(paths, config, jobs=2), repeats)
    peer = ruff(paths, repeats)
    total = {
        "files": sum(r["files"] for r in rows),
        "lines": lines,
        "findings": sum(r["findings"] for r in rows),
        "serial_lines_per_s": lines / serial.wall,
        "serial_lines_per_cpu_s": lines / serial.cpu,
        "jobs2_lines_per_s": lines / parallel.wall,
        "jobs2_lines_per_cpu_s": lines / parallel.cpu,
        "ruff_lines_per_s": lines / peer[0] if peer else None,
        "ruff_findings": peer[1] if peer else None,
    }
    return {"packages": rows, "total": total, "repeats": repeats, "python": sys.version.split()[0]}


def table(report: dict[str, Any]) -> str:
    out = [
        "| package | files | lines | faultwise lines/s | findings | per 1k lines | ruff findings |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["packages"]:
        out.append(
            f"| {r['package']} | {r['files']:,} | {r['lines']:,} | {r['lines_per_s']:,.0f} | "
            f"{r['findings']} | {r['per_kloc']:.2f} | {r['ruff_findings']} |"
        )
    t = report["total"]
    out += [
        f"| **all** | {t['files']:,} | {t['lines']:,} | {t['serial_lines_per_s']:,.0f} | "
        f"{t['findings']} | {1000 * t['findings'] / t['lines']:.2f} | {t['ruff_findings']} |",
        "",
        "| run over all packages | lines/s (wall) | vs 50,000 | lines per CPU-second |",
        "|---|---:|---:|---:|",
        f"| faultwise, 1 process | {t['serial_lines_per_s']:,.0f} | "
        f"{t['serial_lines_per_s'] / TARGET:.2f}x | {t['serial_lines_per_cpu_s']:,.0f} |",
        f"| faultwise, jobs=2 | {t['jobs2_lines_per_s']:,.0f} | "
        f"{t['jobs2_lines_per_s'] / TARGET:.2f}x | {t['jobs2_lines_per_cpu_s']:,.0f} |",
    ]
    if t["ruff_lines_per_s"]:
        speed = t["ruff_lines_per_s"]
        out.append(
            f"| ruff {RUFF_RULES} (Rust, all cores) | {speed:,.0f} | {speed / TARGET:.2f}x | - |"
        )
    load = report.get("load_average")
    if load:
        out += [
            "",
            f"{os.cpu_count()} cores; 1-minute load average {load['before']:.1f} before, "
            f"{load['after']:.1f} after; best of {report['repeats']}; Python {report['python']}",
        ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four packages, one repeat")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="virtualenv holding the corpus")
    parser.add_argument(
        "--make-corpus", action="store_true", help="create the corpus virtualenv first"
    )
    args = parser.parse_args()
    if args.make_corpus:
        make_corpus(args.corpus)
    root = site_packages(args.corpus)
    if not root.is_dir():
        sys.exit(f"no corpus at {root}: run python bench/lint.py --make-corpus")
    load_before = os.getloadavg()[0]
    report = measure(root, QUICK if args.quick else PACKAGES, 1 if args.quick else 3)
    report["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
