from __future__ import annotations

import subprocess
import sys

import pytest

from faultwise import __version__
from faultwise._errors import InputError, MissingExtraError, require
from faultwise.cli import ExitCode, build_parser, main


def test_no_command_prints_help_and_exits_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert ExitCode.USAGE == main([])
    assert "COMMAND" in capsys.readouterr().out


def test_version_flag_prints_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert 0 == exc.value.code
    assert f"faultwise {__version__}\n" == capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert ExitCode.USAGE == exc.value.code


def test_every_command_module_has_help_and_run() -> None:
    parser = build_parser()
    # argparse keeps subcommands in the only _SubParsersAction of the parser
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, cmd in sub.choices.items():  # type: ignore[attr-defined]
        assert cmd.description, f"command {name} has no help line"
        assert callable(cmd.get_default("_run")), f"command {name} has no run()"


def test_input_error_names_its_source() -> None:
    assert "app.log:7: bad timestamp" == str(InputError("bad timestamp", source="app.log:7"))


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError) as exc:
        require("faultwise_no_such_module", "diagnose")
    assert "pip install 'faultwise[diagnose]'" in str(exc.value)


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "faultwise", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, f"faultwise {__version__}\n") == (proc.returncode, proc.stdout)


def test_running_one_command_imports_no_other_command_module() -> None:
    code = (
        "import sys\n"
        "from faultwise.cli import main\n"
        "main(['rules'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('faultwise.cli.') and "
        "not m.startswith('faultwise.cli._')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "['faultwise.cli.rules']" == proc.stdout.strip().splitlines()[-1]
