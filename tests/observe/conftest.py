from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def logging_state() -> Iterator[None]:
    """Puts back what configure_logging changes process-wide: the root's handlers and level,
    the record factory, the logger class and the class of every logger already made."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogRecordFactory(), logging.getLoggerClass())
    classes = {
        name: type(obj)
        for name, obj in logging.Logger.manager.loggerDict.items()
        if isinstance(obj, logging.Logger)
    }
    root_class = type(root)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])
    logging.setLoggerClass(saved[3])
    root.__class__ = root_class
    for name, obj in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(obj, logging.Logger):
            obj.__class__ = classes.get(name, saved[3])
