"""The command line: parse options, run the chosen scenarios, print and save results."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._harness import FULL, QUICK, Config, Row
from ._markdown import markdown_table
from ._report import environment, format_table, write_json
from ._scenarios import SCENARIOS

__all__ = ["main", "run"]


def run(config: Config, names: Sequence[str] | None = None, *, verbose: bool = False) -> list[Row]:
    """Run the scenarios ``names`` (default: all, in order) and return their rows.

    Raises:
        ValueError: If a name is not a known scenario.
    """
    chosen = list(SCENARIOS) if names is None else list(names)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    rows: list[Row] = []
    for name in chosen:
        start = time.perf_counter()
        produced = SCENARIOS[name](config)
        rows += produced
        if verbose:
            elapsed = time.perf_counter() - start
            print(f"[{name}] done in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backstage_threads.bench",
        description="Benchmark backstage_threads against Pykka on this interpreter.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a ~20 s smoke test)")
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help=f"comma-separated scenarios to run: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results as JSON")
    parser.add_argument(
        "--workers", metavar="N", type=int, help="worker threads per system (default: CPU count)"
    )
    parser.add_argument(
        "--markdown",
        metavar="JSON",
        type=Path,
        nargs="+",
        help="run nothing: print README's table from the JSON of earlier runs "
        "(one column group per run, e.g. one per interpreter)",
    )
    parser.add_argument(
        "--ray",
        action="store_true",
        help="also measure the Ray backend against plain Ray actor calls (needs "
        "backstage_threads[ray] on a GIL build; starts a local Ray cluster); "
        "'--ray --only ray' runs only that",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.markdown:
        missing = [str(path) for path in args.markdown if not path.is_file()]
        if missing:
            parser.error(f"--markdown: no such file: {', '.join(missing)}")
        print(markdown_table(args.markdown))
        return 0
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    names = None
    if args.ray and args.only == "ray":
        names = []
    elif args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in SCENARIOS]
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    has_pykka = importlib.util.find_spec("pykka") is not None
    if args.ray:
        try:
            # The backend first: where Ray cannot run, its ImportError says why.
            importlib.import_module("backstage_threads.ray")
            from ._ray import ray_rows  # noqa: PLC0415 - Ray is optional: only --ray needs it
        except ImportError as error:
            parser.error(f"--ray: {error}")
    config = Config(QUICK if args.quick else FULL, args.workers, has_pykka)
    env = environment()
    print(
        f"python {env['python'].split()[0]} free-threaded={env['free_threaded_build']} "
        f"gil={env['gil_enabled']} cpus={env['cpu_count']} pykka={has_pykka} "
        f"sizes={'quick' if args.quick else 'full'}",
        flush=True,
    )
    start = time.perf_counter()
    rows = run(config, names, verbose=True)
    if args.ray:
        began = time.perf_counter()
        rows += ray_rows(config)
        print(f"[ray] done in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - start
    print(format_table(rows))
    print(f"\ntotal {total:.1f} s")
    if args.json is not None:
        extra = {
            "sizes": "quick" if args.quick else "full",
            "workers": args.workers,
            "pykka": has_pykka,
            "seconds": total,
        }
        write_json(args.json, rows, extra)
    return 0
