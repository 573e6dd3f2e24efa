"""How long a thread that waits for another spins before it parks.

Parking costs a futex wake-up on the other side (tens of microseconds on the
2-core VM this was measured on); a short spin skips it when the answer comes
soon, as Erlang's schedulers do before they sleep.

`SPIN_SECONDS` = 50 us. A plain thread's ask to an idle actor, 3.13t: 57 us
parking on both sides, 6.1 us spinning 50 us on both (20 us: 6.8 us; 200 us:
5.8 us). 3.11: 67 us parking, 48 us with the worker's spin alone, worse with
the asker spinning too (87 us), because there a spin only keeps the other
thread from the GIL; a bare two-lock round trip between two threads takes
35-53 us there, so that is near the floor of any thread hand-off.
"""

from __future__ import annotations

import sys

__all__ = ["GIL", "SPIN_SECONDS"]

SPIN_SECONDS = 50e-6

#: True on a build where the GIL is on: a spinning thread must then give it
#: away on every round (``time.sleep(0)``), and a waiter that only wants an
#: answer should park rather than spin.
GIL: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
