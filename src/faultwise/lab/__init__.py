"""Rehearse: a lab where the classic outages really happen, with and without defenses.

Two modes share one scenario definition:

* ``sim``: a discrete-event simulation in virtual time (:class:`Sim`, :class:`SimClock`) that
  drives real policy objects; deterministic for a seed, fast enough for 10,000 clients;
* ``live``: real HTTP services on 127.0.0.1, a fault proxy with Toxiproxy's HTTP API, and an
  open-loop load generator.

>>> from faultwise.lab import StormSpec, PolicyKey, run_storm_sim
>>> result = run_storm_sim(StormSpec(), PolicyKey.IMMEDIATE_RETRIES, seed=1)
>>> result.summary.recovery_s is None   # the storm outlives its trigger
True
"""

from faultwise.lab._metrics import Series, Summary, percentile, summarize
from faultwise.lab._policies import AttemptFailed, ImmediateRetries, NoRetries, TenacityPolicy
from faultwise.lab._sim import (
    Attempt,
    Caller,
    ClientPolicy,
    Constant,
    Dist,
    Exponential,
    LogNormal,
    OpenLoop,
    Outcome,
    QueueOrder,
    Recorder,
    Service,
    ServiceSpec,
    Sim,
    SimClock,
)
from faultwise.lab._storm import POLICIES, PolicyKey, StormResult, StormSpec, run_storm_sim

__all__ = [
    "POLICIES",
    "Attempt",
    "AttemptFailed",
    "Caller",
    "ClientPolicy",
    "Constant",
    "Dist",
    "Exponential",
    "ImmediateRetries",
    "LogNormal",
    "NoRetries",
    "OpenLoop",
    "Outcome",
    "PolicyKey",
    "QueueOrder",
    "Recorder",
    "Series",
    "Service",
    "ServiceSpec",
    "Sim",
    "SimClock",
    "StormResult",
    "StormSpec",
    "Summary",
    "TenacityPolicy",
    "percentile",
    "run_storm_sim",
    "summarize",
]
