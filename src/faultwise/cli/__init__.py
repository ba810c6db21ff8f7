"""The ``faultwise`` command: one app, one module per command.

Every module in this package whose name does not start with ``_`` is a command. It defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, keeps its heavy imports
inside ``run``, computes a typed result and hands it to a renderer.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from faultwise import __version__
from faultwise._errors import FaultwiseError
from faultwise.cli._exit import ExitCode

__all__ = ["ExitCode", "build_parser", "main"]


def _command_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _invoked(argv: Sequence[str], names: list[str]) -> str | None:
    """The command named on the line, found without importing any command module."""
    for arg in argv:
        if not arg.startswith("-"):
            module = arg.replace("-", "_")
            return module if module in names else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` one command's parser (start-up imports one module)."""
    parser = argparse.ArgumentParser(
        prog="faultwise",
        description="Defend against, observe, diagnose and rehearse production failures.",
    )
    parser.add_argument("--version", action="version", version=f"faultwise {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of unexpected errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_names():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        cmd = sub.add_parser(name.replace("_", "-"), help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :class:`ExitCode`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_invoked(argv, _command_names()))
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return ExitCode.USAGE
    try:
        return int(args._run(args))
    except FaultwiseError as exc:
        print(f"faultwise: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("faultwise: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"faultwise: internal error: {type(exc).__name__}: {exc} "
                "(run again with --debug for the traceback)",
                file=sys.stderr,
            )
        return ExitCode.INTERNAL
