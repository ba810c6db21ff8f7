"""faultwise: defend against, observe, diagnose and rehearse the ways production systems fail.

The resilience library lives in :mod:`faultwise.resilience`, observability in
:mod:`faultwise.observe`, the analyser in :mod:`faultwise.diagnose`; test helpers in
:mod:`faultwise.testing`. This top-level namespace re-exports only the clock.
"""

from faultwise._clock import SYSTEM_CLOCK, Clock, SystemClock

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "__version__"]

__version__ = "0.1.0"
