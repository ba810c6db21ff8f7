from __future__ import annotations

import pytest

from faultwise.drift import Dimension, Quantity, quantity


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("500", (), Quantity(500.0, Dimension.NUMBER)),
        ("0.25", (), Quantity(0.25, Dimension.NUMBER)),
        ("500ms", (), Quantity(0.5, Dimension.SECONDS)),
        ("5s", (), Quantity(5.0, Dimension.SECONDS)),
        ("1h30m", (), Quantity(5400.0, Dimension.SECONDS)),
        ("10m", (), Quantity(600.0, Dimension.SECONDS)),
        ("PT30S", (), Quantity(30.0, Dimension.SECONDS)),
        ("512Mi", ("memory",), Quantity(512 * 2**20, Dimension.BYTES)),
        ("1Gi", (), Quantity(2**30, Dimension.BYTES)),
        ("1G", (), Quantity(1e9, Dimension.BYTES)),
        ("10kB", (), Quantity(10_000.0, Dimension.BYTES)),
        ("512m", ("heap",), Quantity(512 * 2**20, Dimension.BYTES)),
        ("500m", ("cpu",), Quantity(0.5, Dimension.CPU)),
        ("2", ("cpu",), Quantity(2.0, Dimension.CPU)),
        ("80%", (), Quantity(80.0, Dimension.PERCENT)),
        ("abc", (), None),
        ("nan", (), None),
        ("1e999", (), None),
        ("5g", (), None),
        ("", (), None),
    ],
)
def test_quantities_read_the_common_units(
    text: str, words: tuple[str, ...], expected: Quantity | None
) -> None:
    assert expected == quantity(text, words)
