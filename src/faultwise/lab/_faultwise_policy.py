"""faultwise's own defenses in the lab: its client policy, and server-side load shedding."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from faultwise._clock import Clock
from faultwise._errors import FaultwiseError
from faultwise.lab._sim import ClientPolicy, ServiceSpec

if TYPE_CHECKING:
    from faultwise.lab._storm import StormSpec

__all__ = ["faultwise_client_factory", "shedding_server_spec"]


def faultwise_client_factory(spec: StormSpec, clock: Clock) -> Callable[[], ClientPolicy]:
    """A factory of faultwise's default client policy, on ``clock``."""
    try:
        from faultwise import resilience
    except ImportError as exc:
        raise FaultwiseError("faultwise.resilience is not available in this build") from exc
    raise FaultwiseError(f"faultwise.resilience {resilience!r} has no client policy yet")


def shedding_server_spec(base: ServiceSpec, spec: StormSpec) -> ServiceSpec:
    """Admission sized in time: never queue more than the timeout's worth of work, and drop
    queued work whose caller's deadline has passed (the deadline travels with the request)."""
    limit = max(base.workers, math.floor(base.capacity * spec.timeout))
    return replace(base, queue_limit=limit, shed_expired=True)
