"""The event stream: runtime events, users' events, concurrent publishers, overflow."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from support import WAIT, Latch, LatchedRecorder, Recorder

from backstage_threads import (
    Actor,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    ActorSystem,
    ActorSystemClosedError,
    DeadLetter,
    ServiceStatus,
    StatusChanged,
)
from backstage_threads._status_events import EventHub


@dataclass(frozen=True)
class Tick:
    publisher: int
    n: int


def wait_until(done: Any, timeout: float = WAIT) -> None:
    """Poll ``done()`` until true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


class Failer(Actor[Any]):
    def receive(self, message: Any) -> Any:
        raise ValueError(message)


def test_runtime_lifecycle_events_and_dead_letters() -> None:
    events: queue.Queue[Any] = queue.Queue()
    with ActorSystem("ev", workers=2) as system:
        system.events.subscribe(object, events.put)
        ref = system.spawn(Failer, name="f")
        ref.tell("boom")  # fails: a dead letter, then a restart
        wait_until(
            lambda: _restarts(system, "/user/f") == 1 and ref.status is ServiceStatus.RUNNING
        )
        ref.stop()
        ref.wait_stopped(WAIT)
        seen: list[Any] = []
        wait_until(lambda: any(isinstance(e, ActorStopped) for e in _drain(events, seen)))
    kinds = [type(e) for e in seen if getattr(e, "ref", None) == ref or isinstance(e, DeadLetter)]
    assert ActorStarted in kinds and ActorRestarted in kinds and ActorStopped in kinds
    assert kinds.index(ActorStarted) < kinds.index(ActorRestarted) < kinds.index(ActorStopped)
    letters = [e for e in seen if isinstance(e, DeadLetter)]
    assert letters and letters[0].message == "boom" and letters[0].reason.startswith("failed")
    stopped = next(e for e in seen if isinstance(e, ActorStopped))
    assert stopped.reason == "actor stopped"
    changes = [e for e in seen if isinstance(e, StatusChanged) and e.ref == ref]
    assert changes[-1].new is ServiceStatus.STOPPED


def _restarts(system: ActorSystem, path: str) -> int:
    node = system.status_tree().find(path)
    return node.restarts if node is not None else -1


def _drain(q: queue.Queue[Any], into: list[Any]) -> list[Any]:
    while True:
        try:
            into.append(q.get_nowait())
        except queue.Empty:
            return into


def test_eight_concurrent_publishers_every_event_to_every_subscriber() -> None:
    publishers, per = 8, 5_000
    with ActorSystem("ev8", workers=2) as system:
        got: list[list[Tick]] = [[], []]
        subs = [
            system.events.subscribe(Tick, got[i].append, capacity=publishers * per)
            for i in range(2)
        ]
        actor = system.spawn(Recorder)
        by_actor = system.events.subscribe(Tick, actor, capacity=publishers * per)
        start = threading.Barrier(publishers)

        def publish(p: int) -> None:
            start.wait(WAIT)
            for n in range(per):
                system.events.publish(Tick(p, n))

        threads = [threading.Thread(target=publish, args=(p,)) for p in range(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        total = publishers * per
        wait_until(lambda: all(s.delivered + s.dropped == total for s in [*subs, by_actor]))
        for s, events in zip(subs, got):
            assert s.dropped == 0 and len(events) == total
            for p in range(publishers):  # each publisher's events in its order
                assert [e.n for e in events if e.publisher == p] == list(range(per))
        stats = system.events.statistics()
        assert stats.dropped == by_actor.dropped
        assert stats.delivered == 2 * total + by_actor.delivered


def test_a_slow_subscriber_overflow_is_counted_exactly() -> None:
    publishers, per, capacity = 8, 500, 16
    with ActorSystem("evslow", workers=2) as system:
        release = threading.Event()
        slow_got: list[Tick] = []

        def slow(event: Tick) -> None:
            release.wait(WAIT)
            slow_got.append(event)

        fast_got: list[Tick] = []
        slow_sub = system.events.subscribe(Tick, slow, capacity=capacity)
        fast_sub = system.events.subscribe(Tick, fast_got.append, capacity=publishers * per)
        start = threading.Barrier(publishers)

        def publish(p: int) -> None:
            start.wait(WAIT)
            for n in range(per):
                system.events.publish(Tick(p, n))  # never blocks on the stuck subscriber

        threads = [threading.Thread(target=publish, args=(p,)) for p in range(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
            assert not t.is_alive()
        release.set()
        total = publishers * per
        wait_until(lambda: slow_sub.delivered + slow_sub.dropped == total)
        wait_until(lambda: fast_sub.delivered == total)
        assert slow_sub.dropped > 0
        assert slow_sub.delivered == len(slow_got)
        assert len(slow_got) + slow_sub.dropped == total
        assert system.events.statistics().dropped == slow_sub.dropped


def test_an_actor_subscriber_with_a_full_mailbox_gets_dead_letters() -> None:
    with ActorSystem("evfull", workers=2) as system:
        latch = Latch()
        log: list[Any] = []
        ref = system.spawn(LatchedRecorder, latch, log, threading.Lock(), capacity=1, pinned=True)
        ref.tell("hold")
        assert latch.entered.wait(WAIT)  # its turn waits on the latch; its mailbox is tiny
        sub = system.events.subscribe(Tick, ref, capacity=1000)
        for n in range(50):
            system.events.publish(Tick(0, n))
        wait_until(lambda: sub.delivered + sub.dropped == 50)
        assert sub.delivered == 1 and sub.dropped == 49
        full = [d for d in system.dead_letters.recent() if d.reason == "event stream: mailbox full"]
        assert [d.message for d in full] == [Tick(0, n) for n in range(1, 50)]
        latch.release.set()
        wait_until(lambda: len(log) == 2)
        assert log == ["hold", Tick(0, 0)]


def test_a_stopped_actor_is_unsubscribed_and_bad_input_is_refused() -> None:
    with ActorSystem("evbad", workers=1) as system:
        ref = system.spawn(Recorder)
        sub = system.events.subscribe(Tick, ref)
        ref.stop()
        ref.wait_stopped(WAIT)
        system.events.publish(Tick(0, 0))
        wait_until(lambda: sub.dropped == 1)
        assert system.events.statistics().subscribers == 0
        with pytest.raises(TypeError, match="subscribed to by type"):
            system.events.subscribe("Tick", print)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="ActorRef or a callable"):
            system.events.subscribe(Tick, 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="capacity"):
            system.events.subscribe(Tick, print, capacity=0)
    with pytest.raises(ActorSystemClosedError):
        system.events.subscribe(Tick, print)


def test_the_stream_feeds_the_status_servers_event_hub() -> None:
    with ActorSystem("evfeed", workers=1) as system:
        hub = EventHub(system.events.feed(), max_clients=2, queue_size=1000)
        client = hub.join(lambda: None)
        ref = system.spawn(Recorder, name="fed")
        ref.stop()
        ref.wait_stopped(WAIT)
        frames: list[bytes] = []

        def seen_stop() -> bool:
            frames.extend(hub.take(client, 0.01)[0])
            return b'"event":"stopped"' in b"".join(frames)

        wait_until(seen_stop)
        text = b"".join(frames).decode()
        assert 'event: lifecycle\ndata: {"path":"/user/fed","event":"started"}' in text
        assert '"new":"Stopped"' in text
        hub.close()


def test_status_changes_reach_each_kind_of_listener_whatever_the_other_does() -> None:
    # Status changes skip the system's dispatch while nobody listens; a listener
    # of either kind (subscribe_status, the event stream) must turn it back on,
    # and cancelling one kind must not silence the other.
    with ActorSystem("ev-watch", workers=1) as system:
        assert not system._status_watched  # nobody listens yet
        seen: queue.Queue[tuple[str, ServiceStatus]] = queue.Queue()
        status = system.subscribe_status(lambda ref, old, new: seen.put((ref.path, new)))
        events = system.events.subscribe(StatusChanged, lambda e: None)
        events.cancel()  # the stream has no subscriber left, the status callback stays
        system.spawn(Recorder, name="a").stop()
        got = [seen.get(timeout=WAIT) for _ in range(4)]
        assert got == [
            ("/user/a", ServiceStatus.INITIALIZING),
            ("/user/a", ServiceStatus.RUNNING),
            ("/user/a", ServiceStatus.STOPPING),
            ("/user/a", ServiceStatus.STOPPED),
        ]
        status.cancel()
        assert not system._status_watched
        stream: queue.Queue[Any] = queue.Queue()
        system.events.subscribe(ActorStarted, stream.put)
        ref = system.spawn(Recorder, name="b")
        assert stream.get(timeout=WAIT).ref == ref
        assert seen.empty()  # the cancelled callback heard nothing more
