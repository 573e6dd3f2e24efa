"""The asyncio bridge: async actors, ask_async/tell_async, streams, pumps, loop safety."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import WAIT

from backstage_threads import (
    Actor,
    ActorStoppedError,
    ActorSystem,
    AsyncActor,
    DeadlockError,
    Directive,
    Overflow,
    SendTimeoutError,
    ServiceStatus,
    SupervisorStrategy,
    Terminated,
    _aio,
)
from backstage_threads.aio import END, open_stream, pump


class Sleeper(AsyncActor[Any]):
    async def on_start(self) -> None:
        self.total = 0

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(0.005)
        if message == "boom":
            raise ValueError("async boom")
        self.total += 1
        return self.total


class Blocking(Actor[Any]):
    def __init__(self, release: threading.Event, entered: threading.Event | None = None) -> None:
        self.release = release
        self.entered = entered or threading.Event()

    def receive(self, message: Any) -> Any:
        self.entered.set()
        self.release.wait(timeout=10)
        return message


async def max_stall_while(awaitable: Any) -> tuple[Any, float]:
    """Await ``awaitable`` while a heartbeat measures the longest loop stall."""
    gaps: list[float] = []

    async def beat() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(beat())
    try:
        result = await awaitable
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return result, max(gaps, default=0.0)


def test_async_actor_asks_failures_and_restart() -> None:
    async def main(system: ActorSystem) -> None:
        ref = system.spawn(Sleeper, name="sleeper")
        assert await ref.ask_async("a", timeout=5) == 1
        assert await ref.ask_async("b", timeout=5) == 2
        with pytest.raises(ValueError, match="async boom"):
            await ref.ask_async("boom", timeout=5)
        assert await ref.ask_async("c", timeout=5) == 1  # restarted: a new instance

    with ActorSystem(workers=2) as system:
        asyncio.run(main(system))
        assert system.status_tree().find("/user/sleeper") is not None
    assert not [t for t in threading.enumerate() if t.name.startswith("backstage")]


class AsyncLog(AsyncActor[Any]):
    """Keeps what it gets; fails on "boom"; on "hold" awaits the test's event."""

    def __init__(self, proceed: threading.Event | None = None) -> None:
        self.proceed = proceed
        self.entered = threading.Event()
        self.got: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom in a batch")
        if message == "hold":
            assert self.proceed is not None
            self.entered.set()
            await asyncio.to_thread(self.proceed.wait, WAIT)
        if message == "log":
            return list(self.got)
        self.got.append(message)
        return len(self.got)


def test_a_batch_settles_every_ask_in_order() -> None:
    # Messages queued together are run by one batch on the loop: every ask
    # gets its own reply, in order, from a plain thread and from the loop.
    with ActorSystem(workers=2) as system:
        ref = system.spawn(AsyncLog, capacity=None)
        futures = [ref.ask_future(i) for i in range(2_000)]
        assert [f.result(timeout=WAIT) for f in futures] == list(range(1, 2_001))

        async def from_loop() -> list[Any]:
            return list(await asyncio.gather(*(ref.ask_async(-i, timeout=WAIT) for i in range(50))))

        assert sorted(asyncio.run(from_loop())) == list(range(2_001, 2_051))
        assert system.dead_letters.count == 0


def test_a_failure_ends_the_batch_and_the_rest_run_after_the_restart() -> None:
    letters: list[Any] = []
    with ActorSystem(workers=2) as system:
        system.dead_letters.subscribe(letters.append)
        proceed = threading.Event()
        ref = system.spawn(lambda: AsyncLog(proceed))
        ref.tell("hold")  # everything below queues up behind it, for one batch
        before = [ref.ask_future(i) for i in range(3)]
        boom = ref.ask_future("boom")
        after = [ref.ask_future(i) for i in range(3, 6)]
        proceed.set()
        assert [f.result(timeout=WAIT) for f in before] == [2, 3, 4]
        with pytest.raises(ValueError, match="boom in a batch"):
            boom.result(timeout=WAIT)
        # The default strategy restarted it: a new instance took the rest.
        assert [f.result(timeout=WAIT) for f in after] == [1, 2, 3]
    assert [letter.message for letter in letters] == ["boom"]


def test_a_stop_is_seen_between_the_messages_of_a_batch() -> None:
    with ActorSystem(workers=2) as system:
        proceed = threading.Event()
        actor = AsyncLog(proceed)
        ref = system.spawn(lambda: actor)
        ref.tell("hold")
        for i in range(100):
            ref.tell(i)
        assert actor.entered.wait(WAIT)
        ref.stop()  # arrives while the batch is inside "hold"
        proceed.set()
        assert ref.wait_stopped(WAIT)
        assert actor.got == ["hold"]
        assert system.dead_letters.count == 100


class SlowStart(AsyncActor[Any]):
    """Its on_start awaits the test's event (or fails, when told to)."""

    def __init__(self, proceed: threading.Event, fail: bool = False) -> None:
        self.proceed = proceed
        self.fail = fail
        self.entered = threading.Event()
        self.ready = False

    async def on_start(self) -> None:
        self.entered.set()
        await asyncio.to_thread(self.proceed.wait, WAIT)
        if self.fail:
            raise ConnectionError("no database")
        self.ready = True

    async def receive(self, message: Any) -> Any:
        return (message, self.ready)


def test_async_on_start_holds_no_worker_and_messages_wait_for_it() -> None:
    with ActorSystem(workers=1) as system:
        proceed = threading.Event()
        actor = SlowStart(proceed)
        ref = system.spawn(lambda: actor, name="slow")
        assert actor.entered.wait(WAIT)
        early = ref.ask_future("early")
        # The only worker is free while on_start awaits: a plain actor answers.
        echo = system.spawn(Sleeper)
        assert echo.ask("x", timeout=WAIT) == 1
        assert system.status_tree().find("/user/slow").status is ServiceStatus.INITIALIZING
        assert not early.done()
        proceed.set()
        assert early.result(timeout=WAIT) == ("early", True)  # after on_start, never before
        assert ref.ask("late", timeout=WAIT) == ("late", True)
        assert system.status_tree().find("/user/slow").status is ServiceStatus.RUNNING


def test_a_failing_async_on_start_goes_to_the_supervisor() -> None:
    stop = SupervisorStrategy(lambda error: Directive.STOP)
    with ActorSystem(workers=2, guardian_strategy=stop) as system:
        proceed = threading.Event()
        proceed.set()
        ref = system.spawn(lambda: SlowStart(proceed, fail=True))
        assert ref.wait_stopped(WAIT)
        with pytest.raises(ActorStoppedError):
            ref.ask("too late", timeout=WAIT)


class SlowStop(AsyncActor[Any]):
    """Its on_stop awaits the test's event (then fails, when told to); logs hooks."""

    def __init__(self, proceed: threading.Event, log: list[str], fail: bool = False) -> None:
        self.proceed = proceed
        self.log = log
        self.fail = fail
        self.stopping = threading.Event()

    async def on_start(self) -> None:
        self.log.append("start")

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        self.log.append(f"got {message}")
        return message

    async def on_stop(self) -> None:
        self.log.append("stop")
        self.stopping.set()
        await asyncio.to_thread(self.proceed.wait, WAIT)
        if self.fail:
            raise ConnectionError("could not flush")


def test_async_on_stop_holds_no_worker() -> None:
    log: list[str] = []
    with ActorSystem(workers=1) as system:
        proceed = threading.Event()
        actor = SlowStop(proceed, log)
        ref = system.spawn(lambda: actor, name="slow")
        ref.stop()
        assert actor.stopping.wait(WAIT)
        # The only worker is free while on_stop awaits.
        assert system.spawn(Sleeper).ask_future("x").result(timeout=WAIT) == 1
        assert system.status_tree().find("/user/slow").status is ServiceStatus.STOPPING
        assert ref.is_alive
        proceed.set()
        assert ref.wait_stopped(WAIT)
    assert log == ["start", "stop"]


def test_a_restart_waits_for_the_async_on_stop_of_the_old_instance() -> None:
    log: list[str] = []
    with ActorSystem(workers=2) as system:
        proceed = threading.Event()
        first = SlowStop(proceed, log)
        instances = iter([first, SlowStop(proceed, log)])
        ref = system.spawn(lambda: next(instances))
        ref.tell("boom")  # the default strategy restarts it
        assert first.stopping.wait(WAIT)
        later = ref.ask_future("after")
        assert not later.done()
        proceed.set()
        assert later.result(timeout=WAIT) == "after"  # handled by the new instance
    assert log == ["start", "stop", "start", "got after", "stop"]


def test_a_failing_async_on_stop_is_reported_and_the_stop_goes_on() -> None:
    log: list[str] = []
    failures: list[BaseException] = []

    def decide(error: Exception) -> Directive:
        failures.append(error)
        return Directive.STOP

    with ActorSystem(workers=2, guardian_strategy=SupervisorStrategy(decide)) as system:
        proceed = threading.Event()
        proceed.set()
        ref = system.spawn(lambda: SlowStop(proceed, log, fail=True))
        assert ref.ask("x", timeout=WAIT) == "x"
        ref.stop()
        assert ref.wait_stopped(WAIT)
    assert log == ["start", "got x", "stop"]
    assert [type(f) for f in failures] == [ConnectionError]


def test_an_async_hook_past_hook_timeout_fails_with_timeout_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_aio, "HOOK_TIMEOUT", 0.05)
    failures: list[BaseException] = []

    def decide(error: Exception) -> Directive:
        failures.append(error)
        return Directive.STOP

    class NeverReady(AsyncActor[Any]):
        async def on_start(self) -> None:
            await asyncio.Event().wait()  # nobody sets it: only the hook timeout ends it

        async def receive(self, message: Any) -> Any:
            return message

    with ActorSystem(workers=2, guardian_strategy=SupervisorStrategy(decide)) as system:
        ref = system.spawn(NeverReady)
        assert ref.wait_stopped(WAIT)
    assert [type(f) for f in failures] == [TimeoutError]


def test_many_slow_coroutines_hold_no_worker() -> None:
    # 50 async actors on 1 worker: every receive waits until all 50 are inside
    # one, which only happens if they overlap (a serialised run times out).
    actors = 50
    inside = [0, 0]  # [now, most at once]; touched only on the system's loop thread
    everyone_in = asyncio.Event()

    class Nap(AsyncActor[Any]):
        async def receive(self, message: Any) -> Any:
            inside[0] += 1
            inside[1] = max(inside[1], inside[0])
            if inside[0] == actors:
                everyone_in.set()
            await asyncio.wait_for(everyone_in.wait(), WAIT)
            inside[0] -= 1
            return message

    async def main(system: ActorSystem) -> list[Any]:
        refs = [system.spawn(Nap) for _ in range(actors)]
        asks = (r.ask_async(i, timeout=WAIT) for i, r in enumerate(refs))
        return list(await asyncio.gather(*asks))

    with ActorSystem(workers=1) as system:
        assert asyncio.run(main(system)) == list(range(actors))
        assert inside[1] == actors
        probe = system.spawn(Sleeper)
        assert probe.ask("x", timeout=5) == 1  # the worker was free all along


def test_ask_async_never_stalls_the_callers_loop() -> None:
    release = threading.Event()

    async def main(system: ActorSystem) -> None:
        ref = system.spawn(lambda: Blocking(release), pinned=True)

        async def ask_and_release() -> Any:
            asyncio.get_running_loop().call_later(0.2, release.set)
            return await ref.ask_async("slow", timeout=5)

        result, stall = await max_stall_while(ask_and_release())
        assert result == "slow"
        assert stall < 0.05, f"the loop stalled for {stall * 1000:.1f} ms"

    with ActorSystem(workers=2) as system:
        asyncio.run(main(system))


def test_tell_async_waits_for_room_without_blocking_and_times_out() -> None:
    release = threading.Event()
    entered = threading.Event()

    async def main(system: ActorSystem) -> None:
        ref = system.spawn(
            lambda: Blocking(release, entered), capacity=1, overflow=Overflow.BLOCK, pinned=True
        )
        await ref.tell_async("first")
        assert await asyncio.to_thread(entered.wait, 5)  # "first" is in receive
        await ref.tell_async("second")  # fills the mailbox
        with pytest.raises(SendTimeoutError):
            await ref.tell_async("third", timeout=0.05)
        asyncio.get_running_loop().call_later(0.05, release.set)
        _, stall = await max_stall_while(ref.tell_async("fourth", timeout=5))
        assert stall < 0.05
        assert await ref.ask_async("last", timeout=5) == "last"

    with ActorSystem(workers=2) as system:
        asyncio.run(main(system))


def test_stream_out_of_actors_with_backpressure() -> None:
    async def main(system: ActorSystem) -> list[int]:
        stream = await open_stream(system, capacity=4)

        def produce() -> None:
            for i in range(200):
                stream.ref.tell(i, timeout=10)
            stream.ref.tell(END, timeout=10)

        thread = threading.Thread(target=produce)
        thread.start()
        got = [item async for item in stream]
        thread.join(timeout=10)
        return got

    with ActorSystem(workers=2) as system:
        assert asyncio.run(main(system)) == list(range(200))


def test_pump_into_an_actor_pauses_instead_of_dropping() -> None:
    async def source() -> AsyncIterator[int]:
        for i in range(300):
            yield i

    class Collect(Actor[Any]):
        def on_start(self) -> None:
            self.items: list[int] = []

        def receive(self, message: Any) -> Any:
            if message == "report":
                return self.items
            self.items.append(message)

    async def main(system: ActorSystem) -> None:
        ref = system.spawn(Collect, capacity=2, overflow=Overflow.BLOCK)
        assert await pump(source(), ref, timeout=10) == 300
        assert await ref.ask_async("report", timeout=10) == list(range(300))

    with ActorSystem(workers=2) as system:
        asyncio.run(main(system))
        assert system.dead_letters.count == 0


def test_blocking_calls_on_the_system_loop_raise() -> None:
    class Misuse(AsyncActor[Any]):
        async def receive(self, message: Any) -> Any:
            try:
                message.ask("x", timeout=1)
            except DeadlockError as exc:
                return str(exc)
            return "no error"

    with ActorSystem(workers=2) as system:
        other = system.spawn(Sleeper)
        ref = system.spawn(Misuse)
        assert "ask_async" in ref.ask(other, timeout=5)


def test_async_actors_are_watched_like_any_other() -> None:
    class Watcher(Actor[Any]):
        def on_start(self) -> None:
            self.seen: list[Any] = []

        def receive(self, message: Any) -> Any:
            if message == "report":
                return self.seen
            if isinstance(message, Terminated):
                self.seen.append(message.ref.path)
            else:
                self.context.watch(message)

    with ActorSystem(workers=2) as system:
        target = system.spawn(Sleeper, name="target")
        watcher = system.spawn(Watcher)
        watcher.ask(target, timeout=5)
        target.stop()
        assert target.wait_stopped(timeout=5)
        assert watcher.ask("report", timeout=5) == ["/user/target"]
