"""How a thread that waits for another spins before it parks.

Parking costs a futex wake-up on the other side (tens of microseconds on the
2-core VM this was measured on); a short spin skips it when the answer comes
soon, as Erlang's schedulers do before they sleep. Every round of a spin yields
the CPU (`yield_cpu`, ``sched_yield``, which also releases the GIL): on a busy
machine the thread being waited for may need this very core, and a spin that
does not yield then costs a whole time slice instead of saving a wake-up.

Measured with a plain thread asking an idle actor (``python -m
backstage_threads.bench --only ask``-like loop, best of 5), on the project's
2-core VM:

======================  =================  ==================================
                        idle machine       one core busy with another process
======================  =================  ==================================
3.13t, no spin          57 us              46-49 us (Pykka 48-52 us)
3.13t, spin, no yield   6.1 us             148-152 us
3.13t, spin + yield     6-8 us             9.6 us
3.11, no spin           67 us              10.4-11.2 us (Pykka 12.7-13.5 us)
3.11, spin, sleep(0)    48 us              40-42 us
3.11, spin + yield      55 us (Pykka 77)   9.2 us
======================  =================  ==================================

`SPIN_SECONDS` = 50 us: long enough for a reply that needs one short turn
(20 us took 6.8 us, 200 us 5.8 us on idle 3.13t), short enough that an idle
pool spins only once per burst of work (idle CPU stays near zero).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["SPIN_SECONDS", "yield_cpu"]

SPIN_SECONDS = 50e-6


def _sleep_zero() -> None:
    time.sleep(0)


#: One round of a spin: give the CPU (and the GIL) to whoever else is ready.
yield_cpu: Callable[[], None] = getattr(os, "sched_yield", _sleep_zero)
