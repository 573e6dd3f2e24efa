"""Prometheus exposition of `ActorSystem.metrics`, through ``prometheus_client``.

``prometheus_client`` is optional (``pip install 'backstage_threads[metrics]'``):
this module imports it only when a collector is made or an exposition is
rendered, and says how to install it when it is missing.

`PrometheusCollector` is a custom collector: each scrape takes one
`SystemMetrics` snapshot and turns it into metric families, so users who
already run ``prometheus_client`` get our metrics in their own registry
(`register_metrics`). Every series carries a ``system`` label. Per-actor series
(``backstage_actor_*``, labelled by ``path`` and ``actor_class``) can be turned
off for very large trees; the receive-duration histogram is per class only
(a histogram per actor would be one series per bucket per actor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ._metrics import SAMPLE_EVERY, SystemMetrics

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = [
    "INSTALL_HINT",
    "PrometheusCollector",
    "exposition",
    "register_metrics",
    "require_prometheus",
]

#: What to tell a user who asks for Prometheus metrics without the extra.
INSTALL_HINT = (
    "Prometheus metrics need the optional prometheus_client package: "
    "pip install 'backstage_threads[metrics]'"
)


class MetricsSource(Protocol):
    """What the collector reads: an `ActorSystem`."""

    @property
    def name(self) -> str: ...
    def metrics(self) -> SystemMetrics: ...


def require_prometheus() -> Any:
    """The ``prometheus_client`` module.

    Raises:
        ImportError: If it is not installed, saying how to install it.
    """
    try:
        import prometheus_client  # noqa: PLC0415 - optional: imported when first needed
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return prometheus_client


class PrometheusCollector:
    """A ``prometheus_client`` collector of one actor system's metrics.

    Args:
        system: The `ActorSystem` to report.
        per_actor: Also report one series per live actor (default True); turn
            it off when the tree is too large for per-actor series.

    Raises:
        ImportError: If ``prometheus_client`` is not installed.

    Thread safety: ``collect`` may be called from any thread (each call takes
    its own snapshot).
    """

    def __init__(self, system: MetricsSource, *, per_actor: bool = True) -> None:
        if not isinstance(per_actor, bool):
            raise TypeError(f"per_actor must be a bool, got {per_actor!r}")
        require_prometheus()
        from prometheus_client import core  # noqa: PLC0415 - optional, see require_prometheus

        self._core = core
        self._system = system
        self._per_actor = per_actor

    def describe(self) -> Iterator[Any]:
        """The metric families, empty (a registry uses their names to refuse duplicates)."""
        return self._families(None)

    def collect(self) -> Iterator[Any]:
        """The metric families, filled from a fresh snapshot."""
        return self._families(self._system.metrics())

    def _families(self, snapshot: SystemMetrics | None) -> Iterator[Any]:
        core = self._core
        if self._per_actor:
            yield from self._actor_families(core, snapshot)
        yield from self._class_families(core, snapshot)
        yield from self._system_families(core, snapshot)

    def _actor_families(self, core: Any, snapshot: SystemMetrics | None) -> Iterator[Any]:
        labels = ["system", "path", "actor_class"]
        depth = core.GaugeMetricFamily(
            "backstage_actor_mailbox_depth",
            "Messages waiting in the actor's mailbox",
            labels=labels,
        )
        processed = core.CounterMetricFamily(
            "backstage_actor_messages_processed", "Messages the actor has received", labels=labels
        )
        restarts = core.CounterMetricFamily(
            "backstage_actor_restarts", "Times the actor was restarted", labels=labels
        )
        failures = core.CounterMetricFamily(
            "backstage_actor_failures", "Times a hook of the actor raised", labels=labels
        )
        dead = core.CounterMetricFamily(
            "backstage_actor_dead_letters",
            "Messages to the actor that were not processed, by reason",
            labels=[*labels, "reason"],
        )
        system, actors = (snapshot.system, snapshot.actors) if snapshot is not None else ("", ())
        for actor in actors:
            values = [system, actor.path, actor.actor_class]
            depth.add_metric(values, actor.mailbox_depth)
            processed.add_metric(values, actor.processed)
            restarts.add_metric(values, actor.restarts)
            failures.add_metric(values, actor.failures)
            _by_reason(dead, values, actor.dead_letters)
        yield from (depth, processed, restarts, failures, dead)

    def _class_families(self, core: Any, snapshot: SystemMetrics | None) -> Iterator[Any]:
        labels = ["system", "actor_class"]
        actors = core.GaugeMetricFamily(
            "backstage_class_actors", "Live actors of the class", labels=labels
        )
        depth = core.GaugeMetricFamily(
            "backstage_class_mailbox_depth",
            "Messages waiting in the mailboxes of the class's live actors",
            labels=labels,
        )
        processed = core.CounterMetricFamily(
            "backstage_class_messages_processed",
            "Messages received by actors of the class",
            labels=labels,
        )
        restarts = core.CounterMetricFamily(
            "backstage_class_restarts", "Restarts of actors of the class", labels=labels
        )
        failures = core.CounterMetricFamily(
            "backstage_class_failures", "Failures of actors of the class", labels=labels
        )
        dead = core.CounterMetricFamily(
            "backstage_class_dead_letters",
            "Dead letters to actors of the class, by reason",
            labels=[*labels, "reason"],
        )
        duration = core.HistogramMetricFamily(
            "backstage_receive_duration_seconds",
            f"Sampled time per message in actors' turns (one in {SAMPLE_EVERY} is timed)",
            labels=labels,
        )
        system, classes = (snapshot.system, snapshot.classes) if snapshot is not None else ("", ())
        for entry in classes:
            values = [system, entry.actor_class]
            actors.add_metric(values, entry.actors)
            depth.add_metric(values, entry.mailbox_depth)
            processed.add_metric(values, entry.processed)
            restarts.add_metric(values, entry.restarts)
            failures.add_metric(values, entry.failures)
            _by_reason(dead, values, entry.dead_letters)
            buckets = [(_le(bound), count) for bound, count in entry.receive_duration.cumulative()]
            duration.add_metric(values, buckets, entry.receive_duration.sum)
        yield from (actors, depth, processed, restarts, failures, dead, duration)

    def _system_families(self, core: Any, snapshot: SystemMetrics | None) -> Iterator[Any]:
        name = [snapshot.system] if snapshot is not None else []
        worker_labels = ["system", "worker"]
        families = {
            "turns": core.CounterMetricFamily(
                "backstage_worker_turns", "Actor turns run by the worker", labels=worker_labels
            ),
            "messages": core.CounterMetricFamily(
                "backstage_worker_messages", "Messages run by the worker", labels=worker_labels
            ),
            "steals": core.CounterMetricFamily(
                "backstage_worker_steals", "Times the worker stole work", labels=worker_labels
            ),
            "parks": core.CounterMetricFamily(
                "backstage_worker_parks", "Times the worker went to sleep", labels=worker_labels
            ),
        }
        spawned = core.CounterMetricFamily(
            "backstage_actors_spawned", "Actors spawned", labels=["system"]
        )
        stopped = core.CounterMetricFamily(
            "backstage_actors_stopped", "Actors stopped", labels=["system"]
        )
        live = core.GaugeMetricFamily("backstage_actors", "Live actors", labels=["system"])
        dead = core.CounterMetricFamily(
            "backstage_dead_letters", "Dead letters, by reason", labels=["system", "reason"]
        )
        if snapshot is not None:
            for worker in snapshot.workers:
                values = [*name, worker.name]
                families["turns"].add_metric(values, worker.turns)
                families["messages"].add_metric(values, worker.messages)
                families["steals"].add_metric(values, worker.steals)
                families["parks"].add_metric(values, worker.parks)
            spawned.add_metric(name, snapshot.spawned)
            stopped.add_metric(name, snapshot.stopped)
            live.add_metric(name, len(snapshot.actors))
            _by_reason(dead, name, snapshot.dead_letters)
        yield from (*families.values(), spawned, stopped, live, dead)


def _by_reason(family: Any, labels: list[str], counts: Mapping[str, int]) -> None:
    for reason, count in counts.items():
        family.add_metric([*labels, reason], count)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def register_metrics(
    system: MetricsSource,
    registry: CollectorRegistry | None = None,
    *,
    per_actor: bool = True,
) -> PrometheusCollector:
    """Report ``system``'s metrics in a ``prometheus_client`` registry.

    ``registry`` defaults to ``prometheus_client.REGISTRY`` (what
    ``start_http_server`` and ``generate_latest()`` serve). Returns the
    collector: ``registry.unregister(collector)`` takes it out again.

    Raises:
        ImportError: If ``prometheus_client`` is not installed (the message
            says how to install it).
        ValueError: If the registry already reports backstage_threads metrics
            (of this or another system): one registry takes one collector.
    """
    module = require_prometheus()
    collector = PrometheusCollector(system, per_actor=per_actor)
    target = module.REGISTRY if registry is None else registry
    try:
        target.register(collector)
    except ValueError as exc:
        raise ValueError(
            f"cannot register the metrics of actor system {system.name!r}: the registry "
            f"already has series of the same names ({exc}); one registry takes one "
            "backstage_threads collector, so give each system a registry of its own"
        ) from exc
    return collector


def exposition(
    system: MetricsSource, extra: Callable[[Any], Iterable[Any]] | None = None
) -> tuple[bytes, str]:
    """The Prometheus text of ``system``'s metrics and its content type.

    ``extra(prometheus_client.core)``, if given, returns more metric families
    to add (the status server's own counters). Rendered from a private
    registry, so the default one is not touched.

    Raises:
        ImportError: If ``prometheus_client`` is not installed.
    """
    module = require_prometheus()
    registry = module.CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(system))
    if extra is not None:
        registry.register(_Families(lambda: extra(module.metrics_core)))
    return module.generate_latest(registry), module.CONTENT_TYPE_LATEST


class _Families:
    """A collector of whatever ``make`` returns."""

    def __init__(self, make: Callable[[], Iterable[Any]]) -> None:
        self._make = make

    def collect(self) -> Iterable[Any]:
        return self._make()
