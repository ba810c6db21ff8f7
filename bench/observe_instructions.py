"""Instructions per request for the middleware variants of bench/observe.py, under callgrind.

Timings on a shared machine move by 10 % from run to run; instruction counts do not (the same
count for the same code, whatever else the machine is doing), so small changes to the request
path can be compared here first and confirmed in time with bench/observe.py. Each variant runs
twice under ``valgrind --tool=callgrind`` (after the same warm-up, 0 and ``--requests``
requests); the difference divided by the request count is its cost. Needs valgrind.

    python bench/observe_instructions.py                      # bare, faultwise, instrumentator
    python bench/observe_instructions.py faultwise --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

_COLLECTED = re.compile(rb"Collected : (\d+)")


def _serve(variant: str, requests: int) -> None:
    """The measured process: build one variant, warm it up, drive ``requests`` requests."""
    sys.path.insert(0, str(Path(__file__).parent))
    import observe

    app = observe.REQUEST_VARIANTS[variant]()

    async def drive() -> None:
        for _ in range(300):
            await app(dict(observe.SCOPE), observe._receive, observe._send)
        for _ in range(requests):
            await app(dict(observe.SCOPE), observe._receive, observe._send)

    asyncio.run(drive())


def _instructions(variant: str, requests: int) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--serve",
        variant,
        str(requests),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    done = subprocess.run(cmd, capture_output=True, env=env, check=True, timeout=900)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no instruction count for {variant}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["--serve"]:
        _serve(args[1], int(args[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=["faultwise", "instrumentator"])
    parser.add_argument("--requests", type=int, default=1000)
    opts = parser.parse_args(args)
    if shutil.which("valgrind") is None:
        print("observe_instructions: valgrind is not installed", file=sys.stderr)
        return 2
    per_request = {}
    for variant in ["bare", *[v for v in opts.variants if v != "bare"]]:
        cost = _instructions(variant, opts.requests) - _instructions(variant, 0)
        per_request[variant] = cost // opts.requests
    bare = per_request["bare"]
    print("| variant | instructions per request | over bare |")
    print("|---|---|---|")
    for variant, count in per_request.items():
        print(f"| {variant} | {count} | +{count - bare} |")
    if "faultwise" in per_request and "instrumentator" in per_request:
        ratio = (per_request["faultwise"] - bare) / (per_request["instrumentator"] - bare)
        print(f"\nfaultwise's overhead: {ratio:.3f}x the instrumentator's, in instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
