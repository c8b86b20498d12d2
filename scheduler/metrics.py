"""Prometheus metrics of a node: what the dispatcher and the runs did, and what is stored.

Counters and the lateness histogram live in this process (they restart at zero with the
node, as Prometheus expects); runs by status and jobs by state are counted in the database
when scraped, so every node reports the same truth about stored rows.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()

FIRES = Counter(
    "traitor_fires",
    "Fires dispatched by this node, by outcome (run, skipped_overlap, skipped_missed).",
    ["outcome"],
    registry=REGISTRY,
)
FIRE_LATENESS = Histogram(
    "traitor_fire_lateness_seconds",
    "Time from a fire's instant to the start of its script (schedule runs of this node).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0, 3600.0),
    registry=REGISTRY,
)
RUNS_FINISHED = Counter(
    "traitor_runs_finished",
    "Runs this node finished, by final status.",
    ["status"],
    registry=REGISTRY,
)
RUNS_IN_FLIGHT = Gauge(
    "traitor_runs_in_flight",
    "Runs handed to this node's sandbox pool and not finished yet.",
    registry=REGISTRY,
)
DISPATCH_ERRORS = Counter(
    "traitor_dispatch_errors",
    "Dispatcher iterations or jobs that failed (the loop went on).",
    registry=REGISTRY,
)


class _StoredRowsCollector(Collector):
    """Counts stored runs by status and jobs by state at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Imported here: this module is imported by code that runs before apps are ready.
        from django.db.models import Count

        from jobs.models import Job, JobState, Run, RunStatus

        runs = GaugeMetricFamily("traitor_runs", "Stored runs by status.", labels=["status"])
        counts = dict(
            Run.objects.order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status in RunStatus.values:
            runs.add_metric([status], counts.get(status, 0))
        yield runs

        jobs = GaugeMetricFamily("traitor_jobs", "Stored jobs by state.", labels=["state"])
        states = dict(
            Job.objects.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        for value, label in JobState.choices:
            jobs.add_metric([label], states.get(value, 0))
        yield jobs


REGISTRY.register(_StoredRowsCollector())
