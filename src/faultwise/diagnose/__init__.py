"""Diagnose: from an incident's telemetry (:mod:`faultwise.telemetry`) to a timeline, a request's
path, and the failure patterns behind it."""
