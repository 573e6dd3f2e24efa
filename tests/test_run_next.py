"""The cell a turn wakes runs next on that worker, and a stopped actor lets go at once.

A cell that a worker's turn schedules (a tell, a spawn, a system message) takes
the worker's next turn, ahead of its queue, until the clock says to look
outside; a cell that resubmits itself (work left after its budget) still goes
to the back; a turn that blocks hands it to the other workers. A stopped child leaves its parent's
children when it stops, not when the parent next has a turn, and lets go of its
instance and ref, so that nothing is left for the cyclic garbage collector
(with a skynet tree run breadth first, the stopped leaves waited for their
parents' turns and filled the heap the collector scans).
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest
from support import WAIT, Echo

from backstage_threads import DEFAULT_BUDGET, Actor, ActorRef, ActorSystem


class AsksWhatItWoke(Actor[Any]):
    """Spawns an echo (and tells an idle one) inside its turn, then asks each of
    them, blocking that turn: the woken cells must not wait for it to end."""

    def __init__(self, idle: ActorRef[Any]) -> None:
        self.idle = idle

    def receive(self, message: Any) -> Any:
        fresh = self.context.spawn(Echo)
        first = fresh.ask("spawned", timeout=WAIT)
        self.idle.tell("told")
        second = self.idle.ask("asked", timeout=WAIT)
        return (first, second)


def test_a_blocking_ask_to_a_cell_its_turn_woke_completes_on_one_worker() -> None:
    with ActorSystem(workers=1, name="runnext-ask") as system:
        idle = system.spawn(Echo)
        idle.ask("started", timeout=WAIT)
        asker = system.spawn(AsksWhatItWoke, idle)
        assert asker.ask("go", timeout=WAIT) == ("spawned", "asked")


class Player(Actor[Any]):
    """Bounces a count with its peer until ``done`` is set; the first serve also
    tells ``bystander`` (before the peer, so that the peer's cell displaces the
    bystander's from the run-next slot into the queue)."""

    def __init__(self, hops: list[int], done: threading.Event) -> None:
        self.hops = hops
        self.done = done
        self.peer: ActorRef[Any] | None = None

    def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.peer = message
            return None
        if isinstance(message, tuple):  # the serve: (bystander,)
            message[0].tell(len(self.hops))
            message = 0
        self.hops.append(message)
        if not self.done.is_set():
            assert self.peer is not None
            self.peer.tell(message + 1)
        return None


class Bystander(Actor[Any]):
    def __init__(self, seen: list[int], done: threading.Event) -> None:
        self.seen = seen
        self.done = done

    def receive(self, message: Any) -> Any:
        self.seen.append(message)
        self.done.set()
        return None


def test_two_actors_waking_each_other_do_not_starve_the_queue() -> None:
    hops: list[int] = []
    seen: list[int] = []
    done = threading.Event()
    with ActorSystem(workers=1, name="runnext-fair") as system:
        ping = system.spawn(Player, hops, done)
        pong = system.spawn(Player, hops, done)
        bystander = system.spawn(Bystander, seen, done)
        ping.ask(pong, timeout=WAIT)
        pong.ask(ping, timeout=WAIT)
        bystander.ask(None, timeout=WAIT)
        seen.clear()
        done.clear()
        ping.tell((bystander,))
        # The pair runs next on the only worker on every hop; the clock's look
        # outside sends the woken one behind the queue, so the bystander has a
        # turn while they still bounce (done then stops them).
        assert done.wait(WAIT)
    assert seen == [0]
    assert len(hops) > 1


class Appender(Actor[Any]):
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def receive(self, message: Any) -> Any:
        self.log.append(message)
        return None


class Witness(Actor[Any]):
    """Notes how many messages the flooded actor had handled when it got its turn."""

    def __init__(self, flooded: list[Any], saw: list[int], done: threading.Event) -> None:
        self.flooded = flooded
        self.saw = saw
        self.done = done

    def receive(self, message: Any) -> Any:
        self.saw.append(len(self.flooded))
        self.done.set()
        return None


class Flooder(Actor[Any]):
    """In one turn: one message to the witness, then many to the counter (whose
    cell then runs next, the witness's queued behind it)."""

    def __init__(self, witness: ActorRef[Any], counter: ActorRef[Any]) -> None:
        self.witness = witness
        self.counter = counter

    def receive(self, message: Any) -> Any:
        self.witness.tell("look")
        for i in range(20 * DEFAULT_BUDGET):
            self.counter.tell(i)
        return None


def test_a_cell_with_work_left_after_its_turn_goes_behind_the_queue() -> None:
    flooded: list[Any] = []
    saw: list[int] = []
    done = threading.Event()
    with ActorSystem(workers=1, name="runnext-budget") as system:
        counter = system.spawn(Appender, flooded)
        witness = system.spawn(Witness, flooded, saw, done)
        flooder = system.spawn(Flooder, witness, counter)
        for ref in (counter, witness):
            ref.ask(None, timeout=WAIT)
        flooded.clear()
        saw.clear()
        done.clear()
        flooder.tell("go")
        assert done.wait(WAIT)
    # One budget's turn at most, then the counter went behind the witness.
    assert saw[0] <= DEFAULT_BUDGET, f"the witness waited for {saw[0]} of the counter's messages"


class Parent(Actor[Any]):
    """Spawns a child and stops it, inside one turn, and reports its children
    once the child has stopped (the parent has had no turn in between)."""

    def receive(self, message: Any) -> Any:
        child = self.context.spawn(Echo, name="child")
        child.ask("started", timeout=WAIT)
        child.stop()
        assert child.wait_stopped(WAIT)
        return [ref.path for ref in self.context.children]


def test_a_stopped_child_leaves_its_parents_children_when_it_stops() -> None:
    with ActorSystem(workers=2, name="runnext-children") as system:
        parent = system.spawn(Parent, name="parent")
        assert parent.ask("go", timeout=WAIT) == []
        assert system.lookup("/user/parent/child") is None


class Kept(Actor[Any]):
    def __init__(self, instances: list[weakref.ref[Actor[Any]]]) -> None:
        instances.append(weakref.ref(self))

    def receive(self, message: Any) -> Any:
        if message == "stop":
            self.context.stop()
        return message


class Keeper(Actor[Any]):
    """Spawns the child it is asked for; any other message is a plain echo."""

    def __init__(self, instances: list[weakref.ref[Actor[Any]]]) -> None:
        self.instances = instances

    def receive(self, message: Any) -> Any:
        if message == "spawn":
            return self.context.spawn(Kept, self.instances)
        return message


@pytest.mark.parametrize("how", ["stop", "self-stop"])
def test_a_stopped_actor_is_freed_without_the_cyclic_collector(how: str) -> None:
    instances: list[weakref.ref[Actor[Any]]] = []
    with ActorSystem(workers=1, name="runnext-free") as system:
        keeper = system.spawn(Keeper, instances)
        gc.collect()
        gc.disable()
        try:
            child: ActorRef[Any] = keeper.ask("spawn", timeout=WAIT)
            child.ask("started", timeout=WAIT)
            if how == "stop":
                child.stop()
            else:
                child.tell("stop")
            assert child.wait_stopped(WAIT)
            # The ref still names the stopped actor; what it is told is a dead letter.
            assert child.path == "/user/$1/$1"
            child.tell("late")
            assert system.dead_letters.count == 1
            del child
            keeper.ask("after", timeout=WAIT)  # (a turn of the parent: it heard)
            assert instances[0]() is None, "the stopped actor's instance is still alive"
        finally:
            gc.enable()
