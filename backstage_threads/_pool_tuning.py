"""The work-stealing pool's tuning constants (``_scheduler``), and why each has its value.

Measured on a 2-core x86-64 VM, CPython 3.11 and 3.13t (see
``python -m backstage_threads.bench``):

`DEFAULT_BUDGET` = 64 messages per turn: a turn costs about 1 us of fixed
overhead on 3.11 (0.36 us of it in the turn itself), which 64 messages
amortise to under 3% of peak throughput, while a light actor waiting behind a
flooded one waits at most one 64-message turn per busy worker.

`INJECT_INTERVAL` = 1 ms, read off the clock every 8 turns or after any
turn of more than one message; with the turn's own time slice
(`TURN_SLICE`, 2 ms) it bounds how long a message from outside the pool
waits behind busy workers.

`SPIN_SECONDS`: see ``_spin.py`` for the measurements. An idle pool spins
only once per burst of work, so idle CPU stays near zero.

`SAMPLE_EVERY` (``_dispatcher.py``): one turn in 256 per worker is timed
for the metrics' receive durations, the rest pay one AND and a branch.

The others are explained where they are defined.
"""

from __future__ import annotations

__all__ = [
    "CLOCK_EVERY",
    "DEFAULT_BUDGET",
    "INJECT_INTERVAL",
    "MAX_SPARES",
    "NEW_TURN_BUDGET",
    "NEW_TURN_BURST",
]

DEFAULT_BUDGET = 64
#: A worker with work of its own looks at the injection queue first once this
#: many seconds have passed since it last did (tokio aims its global-queue
#: interval at a fixed time the same way). A count of turns (Go's 61) is no
#: bound when turns are long: 61 turns of 1 ms messages kept a message told from
#: a plain thread waiting 0.5 s. 1 ms is well under the light-actor latency we
#: promise (5 ms at p99) and 50 ping-pong hops apart at the slowest.
INJECT_INTERVAL = 0.001
#: The budget of a turn that cells told from outside the pool are waiting
#: behind (found when the injection queue is looked at and is not empty after).
#: With 8 actors flooded at once with 1 ms messages and a light actor told
#: after them, full turns (about 3 ms each: a time slice and the message that
#: ends it) kept the light actor's first message waiting 12-24 ms behind their
#: first turns on 2 workers; one message each bounds it by about 4 messages'
#: time. The order they were told in is kept (Go's batch from the global queue
#: would let cells told later overtake them).
NEW_TURN_BUDGET = 1
#: While such a backlog lasts, a worker starts at most this many cells from
#: outside in a row before a cell of its own queue has a (one-message) turn, so
#: a flood from outside that never ends cannot starve the work already inside.
#: 8 starts a burst of 16 (two workers) within 8 messages' time.
NEW_TURN_BURST = 8
# The clock is read after every turn that ran more than one message (it may have
# been long) and after every 8th turn (a turn of one heavy message): a
# one-message turn pays a countdown, and a clock read (40 ns) every 8 turns.
# A power of two that divides SAMPLE_EVERY (the sample is taken once a round).
CLOCK_EVERY = 8
# At most this many spare workers at once (ForkJoinPool caps its compensation
# threads at 256 too): a thousand turns blocked at once must not become a
# thousand threads. Past it a blocked ask waits without a spare of its own;
# the spares already running keep the pool's other turns going.
MAX_SPARES = 256
