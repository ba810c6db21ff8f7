from __future__ import annotations

import pytest

from faultwise import races


def test_every_public_name_is_exported_and_resolves() -> None:
    expected = sorted(
        [
            "Access",
            "Finding",
            "Frame",
            "Hang",
            "Kind",
            "Location",
            "LockEdge",
            "LockOrderCycle",
            "Mode",
            "Race",
            "RaceDetector",
            "RacesConfig",
            "Report",
            "ThreadDump",
            "detect_races",
            "load_config",
            "render_text",
        ]
    )
    assert expected == sorted(races.__all__)
    assert all(getattr(races, name) is not None for name in races.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nothing_here"):
        races.nothing_here  # noqa: B018
