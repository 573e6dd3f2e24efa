"""A supervisor restarts workers that crash, and nothing is silently lost.

Shows:
    * a supervisor: an `Actor` subclass with a `supervisor_strategy` class
      attribute, spawning its workers with ``self.context.spawn`` in `on_start`;
    * one-for-one restarts: a worker that raises is replaced by a fresh instance
      from its factory while its mailbox (the jobs still queued) is kept;
    * a decider: `ValueError` (a bad job) restarts the worker, anything else
      escalates;
    * dead letters: the job a worker crashed on is recorded as a dead letter; a
      subscriber to ``system.dead_letters`` reports it to the supervisor, which
      settles a future once every job has either succeeded or failed;
    * state that survives restarts: each worker's factory closes over a
      `Lifetimes` record, so ``on_start`` can count the restarts.

Run:
    python examples/supervised_pool.py [--jobs N] [--workers K] [--crash-every M]
        [--worker-capacity C] [--threads T] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    DeadLetter,
    Directive,
    SupervisorStrategy,
)

# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """Square ``number``; a worker crashes on multiples of ``crash_every``."""

    number: int
    crash_every: int


@dataclass(frozen=True, slots=True)
class JobDone:
    """A worker finished a job."""

    job: Job
    result: int


@dataclass(frozen=True, slots=True)
class JobFailed:
    """A job's worker crashed on it (reported from the dead-letter office)."""

    job: Job
    reason: str


@dataclass(frozen=True, slots=True)
class Restarts:
    """Ask a worker how often it has been restarted."""


@dataclass(frozen=True, slots=True)
class Workers:
    """Ask the supervisor for its workers' refs."""


@dataclass(slots=True)
class Lifetimes:
    """Outlives worker instances: one per worker, created by the supervisor.

    Touched only by its worker's hooks, which run one at a time (each turn
    happens-after the previous one, across restarts too), so it needs no lock.
    """

    starts: int = 0


@dataclass(slots=True)
class Outcome:
    """What the supervisor reports once every job is accounted for."""

    succeeded: int = 0
    failed: int = 0
    checksum: int = 0


# -- actors --------------------------------------------------------------------------------


class Worker(Actor[Job | Restarts]):
    """Squares numbers, and crashes with `ValueError` on the unlucky ones."""

    def __init__(self, lifetimes: Lifetimes) -> None:
        self.lifetimes = lifetimes

    def on_start(self) -> None:
        self.lifetimes.starts += 1

    def receive(self, message: Job | Restarts) -> int | None:
        if isinstance(message, Restarts):
            return self.lifetimes.starts - 1
        if message.number % message.crash_every == 0:
            raise ValueError(f"{self.context.name} refuses {message.number}")
        parent = self.context.parent
        assert parent is not None
        parent.tell(JobDone(message, message.number * message.number))
        return None


def restart_bad_jobs(error: Exception) -> Directive:
    """Restart a worker that got a bad job; escalate anything unexpected."""
    return Directive.RESTART if isinstance(error, ValueError) else Directive.ESCALATE


class Pool(Actor[Job | JobDone | JobFailed | Workers]):
    """Deals jobs round-robin to its workers and tallies the outcomes."""

    # The intensity limit is per worker: a worker restarted more than
    # max_restarts times within `within` seconds escalates instead. The demo
    # crashes on purpose, so allow far more restarts than it will make.
    supervisor_strategy = SupervisorStrategy(restart_bad_jobs, max_restarts=1_000_000, within=60.0)

    def __init__(
        self, workers: int, jobs: int, done: Future[Outcome], worker_capacity: int | None = None
    ) -> None:
        self.size = workers
        self.worker_capacity = worker_capacity
        self.expected = jobs
        self.done = done
        self.outcome = Outcome()
        self.workers: list[ActorRef[Any]] = []
        self.dealt = 0

    def on_start(self) -> None:
        for index in range(self.size):
            lifetimes = Lifetimes()
            worker = self.context.spawn(
                lambda lifetimes=lifetimes: Worker(lifetimes),
                name=f"w{index}",
                # Unbounded by default: a supervisor must never wait for room in
                # the mailbox of a child that may have crashed and be waiting for
                # the supervisor's directive. Backpressure applies where jobs
                # enter, at the pool's own bounded mailbox.
                capacity=self.worker_capacity,
            )
            self.workers.append(worker)
        if self.expected == 0:
            self.done.set_result(self.outcome)

    def receive(self, message: Job | JobDone | JobFailed | Workers) -> Any:
        if isinstance(message, Job):
            self.workers[self.dealt % self.size].tell(message)
            self.dealt += 1
        elif isinstance(message, JobDone):
            self.outcome.succeeded += 1
            self.outcome.checksum += message.result
            self._check_done()
        elif isinstance(message, JobFailed):
            self.outcome.failed += 1
            self._check_done()
        elif isinstance(message, Workers):
            return tuple(self.workers)
        return None

    def _check_done(self) -> None:
        if self.outcome.succeeded + self.outcome.failed == self.expected:
            self.done.set_result(self.outcome)


# -- driver --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=1_000, metavar="N", help="jobs to run (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        metavar="K",
        help="worker actors in the pool (default: %(default)s)",
    )
    parser.add_argument(
        "--crash-every",
        type=int,
        default=7,
        metavar="M",
        help="a job whose number is a multiple of M crashes its worker (default: %(default)s)",
    )
    parser.add_argument(
        "--worker-capacity",
        type=int,
        default=None,
        metavar="C",
        help="bound each worker's mailbox to C messages (default: unbounded)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="T",
        help="worker threads (default: the CPU count)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 0 or args.workers < 1 or args.crash_every < 1:
        parser.error("need --jobs >= 0, --workers >= 1 and --crash-every >= 1")

    with ActorSystem("supervised-pool", workers=args.threads) as system:
        done: Future[Outcome] = Future()
        pool = system.spawn(
            lambda: Pool(args.workers, args.jobs, done, args.worker_capacity), name="pool"
        )

        def on_dead_letter(letter: DeadLetter) -> None:
            # Runs on the thread that recorded the letter: keep it short.
            if isinstance(letter.message, Job) and letter.reason.startswith("failed:"):
                pool.tell(JobFailed(letter.message, letter.reason))

        with system.dead_letters.subscribe(on_dead_letter):
            for number in range(1, args.jobs + 1):
                pool.tell(Job(number, args.crash_every), timeout=args.timeout)
            outcome = done.result(timeout=args.timeout)  # TimeoutError if jobs go missing

        # A worker handles the Restarts question after any restart still pending,
        # because its mailbox is kept across restarts.
        workers = pool.ask(Workers(), timeout=args.timeout)
        replies = [worker.ask_future(Restarts()) for worker in workers]
        _, pending = wait(replies, timeout=args.timeout)
        if pending:
            raise TimeoutError(f"{len(pending)} worker(s) did not answer within {args.timeout} s")
        restarts = {
            worker.name: reply.result() for worker, reply in zip(workers, replies, strict=True)
        }

    expected_failures = args.jobs // args.crash_every
    print(f"jobs: {args.jobs}")
    print(f"succeeded: {outcome.succeeded}")
    print(f"failed: {outcome.failed} (dead letters; expected {expected_failures})")
    print(f"checksum of squares: {outcome.checksum}")
    for name, count in restarts.items():
        print(f"restarts {name}: {count}")
    print(f"total restarts: {sum(restarts.values())}")
    accounted = outcome.succeeded + outcome.failed == args.jobs
    return 0 if accounted and outcome.failed == expected_failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
