"""Benchmarks of backstage_threads against Pykka, run as ``python -m backstage_threads.bench``.

Nine scenarios after the Savina suite and skynet: count, fan-in,
ping-pong, ask, cpu, skynet, spawn, fairness and idle. Each runs in a fresh
`ActorSystem` that must shut down cleanly; Pykka, when installed, runs the
equivalent workload in the same process, so every figure is read against a
peer measured on the same interpreter in the same run.

Usage::

    python -m backstage_threads.bench [--quick] [--only NAME,...] [--json PATH] [--workers N]
"""

from __future__ import annotations

from ._cli import main, run
from ._harness import FULL, QUICK, Config, Row, Sizes, Target
from ._scenarios import SCENARIOS

__all__ = ["FULL", "QUICK", "SCENARIOS", "Config", "Row", "Sizes", "Target", "main", "run"]
