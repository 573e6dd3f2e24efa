"""backstage_threads.ray: the same `Actor` classes, strategies and refs on a Ray cluster.

``pip install 'backstage_threads[ray]'`` (a GIL build of CPython 3.11-3.14: Ray
has no free-threaded wheels), then::

    import ray
    from backstage_threads.ray import RaySystem

    ray.init()
    with RaySystem("app") as system:
        ref = system.spawn(Counter, name="counter", capacity=1000)
        ref.ask(1, timeout=5.0)

Each actor runs in a Ray actor of its own (a host: ``_host.py``), with our
bounded mailbox shared by every sender (``_mailbox.py``), one thread running its
hooks (``_turns.py``), its children and watches (``_family.py``) and
``self.context`` (``_context.py``); refs (``_ref.py``) pickle and travel in
messages; dead letters gather in the driver (``_office.py``); `RaySystem`
(``_system.py``) is the driver's side. See the README section "Outgrowing one
machine: Ray" for what differs from the thread backend.

Importing this on a free-threaded interpreter, or without Ray, fails at once
with an ImportError that says why and what to run instead.
"""

from __future__ import annotations

from ._guard import require_ray

require_ray()

from .._exports import publish  # noqa: E402
from ._context import RayContext  # noqa: E402
from ._ref import RayActorRef  # noqa: E402
from ._spec import LostMailbox  # noqa: E402
from ._system import RaySystem  # noqa: E402

__all__ = ["LostMailbox", "RayActorRef", "RayContext", "RaySystem"]

publish(globals(), __all__, __name__)
