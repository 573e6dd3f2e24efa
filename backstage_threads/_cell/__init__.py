"""The actor cell: one actor's mailbox, lifecycle, children and turns.

One class, `ActorCell`, spread over one module per concern (as Akka spreads its
``ActorCell`` over the traits in ``dungeon/``). Each layer builds on the one
below and knows nothing of those above; a layer that needs something from
above declares a hook that the upper layer overrides:

    _turn        ActorCell: the turn loop, the per-message path, mailbox hooks
    _handoff     async actors: coroutines on the event loop, parked meanwhile
    _resourcing  resources: publish, subscribe, link; waiting for them to start
    _lifecycle   start, fail, resume, restart, stop; status
    _family      the parent link and the children by name (under the cell's guard)
    _watching    death watch, timers, the receive timeout
    _muting      backpressure between actors; the park/resume handshake
    _system_queue  system messages, ahead of user messages
    _base        identity: system, name, path, ref, state, instance
    (_mailbox.Mailbox, below all of them: the bounded queue and its policies)

``_states`` holds the states, system-message kinds and markers they share.
The public face of a cell is `ActorContext` (``_actor``), which it implements.
Every layer types the cells it talks to by its own class (a parent, a child, a
watcher is "a Lifecycle", "a Watching"), never by a layer above, and the system
by `CellHost` (``_base``); nothing here names `ActorSystem`.
"""

from ._turn import ActorCell

__all__ = ["ActorCell"]
