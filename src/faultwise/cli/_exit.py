"""Exit codes every command shares."""

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0  # nothing wrong
    FOUND = 1  # the command found something: drift, lint findings, a failed check
    USAGE = 2  # bad usage or unreadable input
    INTERNAL = 70  # a bug in faultwise (EX_SOFTWARE)
    INTERRUPTED = 130
