"""A TCP line server on asyncio whose connections are served by actors.

Protocol (one command per line, one reply line each):
    ``UPPER text``  -> ``TEXT``
    ``COUNT``       -> ``COUNT session=<lines on this connection> total=<lines on all>``
    ``QUIT``        -> ``BYE``, then the server closes the connection
    anything else   -> ``ERR ...``

Shows:
    * asyncio and actors side by side: the server runs on the main thread's
      event loop (``asyncio.start_server``, loopback only); each accepted
      connection spawns a `Session`, an `AsyncActor` that runs on the actor
      system's own loop thread; the connection handler talks to it with
      ``await session.ask_async(...)``, which never blocks the server's loop;
    * shared state in one actor: the line counter is an ordinary actor on the
      worker pool, and sessions ``await counter.ask_async(...)`` it, so no lock
      is needed however many connections are open;
    * everything bounded: line length (the stream limit), idle connections
      (a read timeout, ``--timeout``), open connections (a semaphore,
      ``--max-connections``) and every ask (``--timeout`` again).

With ``--self-test N`` it starts the server, opens N real client connections
with ``asyncio.open_connection``, checks every reply and the final count,
prints OK and exits 0. Without it, it serves until Ctrl-C.

Run:
    python examples/tcp_lines.py [--port PORT] [--self-test N] [--timeout SECONDS]
        [--max-connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
from dataclasses import dataclass
from typing import Any

from backstage_threads import Actor, ActorRef, ActorSystem, AsyncActor, BackstageError

HOST = "127.0.0.1"  # loopback only
#: Longest accepted line, in bytes (the StreamReader limit).
MAX_LINE = 4096

# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """Count one line from ``session``; replies ``(session lines, total lines)``."""

    session: str


@dataclass(frozen=True, slots=True)
class Total:
    """Ask the counter for the total number of lines."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line received on a connection; the session replies with a `Reply`."""

    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The line to send back, and whether to close the connection after it."""

    text: str
    close: bool = False


# -- actors --------------------------------------------------------------------------------


class LineCounter(Actor[Seen | Total]):
    """Counts lines per session and in all; the only shared state."""

    def __init__(self) -> None:
        self.per_session: dict[str, int] = {}
        self.total = 0

    def receive(self, message: Seen | Total) -> tuple[int, int] | int:
        if isinstance(message, Total):
            return self.total
        self.total += 1
        count = self.per_session.get(message.session, 0) + 1
        self.per_session[message.session] = count
        return count, self.total


class Session(AsyncActor[Line]):
    """Serves the commands of one connection (runs on the actor system's loop)."""

    def __init__(self, counter: ActorRef[Any], timeout: float) -> None:
        self.counter = counter
        self.timeout = timeout

    async def receive(self, message: Line) -> Reply:
        mine, total = await self.counter.ask_async(Seen(self.context.name), timeout=self.timeout)
        command, _, argument = message.text.partition(" ")
        if command == "UPPER":
            return Reply(argument.upper())
        if command == "COUNT":
            return Reply(f"COUNT session={mine} total={total}")
        if command == "QUIT":
            return Reply("BYE", close=True)
        return Reply(f"ERR unknown command {command!r}; try UPPER text, COUNT or QUIT")


# -- the server (on the main thread's event loop) -------------------------------------------


class LineServer:
    """Accepts connections and hands each to its own `Session` actor."""

    def __init__(
        self, system: ActorSystem, counter: ActorRef[Any], timeout: float, max_connections: int
    ) -> None:
        self.system = system
        self.counter = counter
        self.timeout = timeout
        self.slots = asyncio.Semaphore(max_connections)
        self.ids = itertools.count(1)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.slots.locked():
                await self._send(writer, Reply("ERR too many connections", close=True))
                return
            async with self.slots:
                await self._serve(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or went quiet: just close
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = f"conn-{next(self.ids)}"
        session = self.system.spawn(lambda: Session(self.counter, self.timeout), name=name)
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(reader.readline(), self.timeout)
                except ValueError:  # longer than MAX_LINE
                    await self._send(writer, Reply("ERR line too long", close=True))
                    return
                if not raw:
                    return  # end of stream
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                try:
                    reply: Reply = await session.ask_async(Line(line), timeout=self.timeout)
                except BackstageError as exc:  # AskTimeoutError, ActorStoppedError...
                    reply = Reply(f"ERR {type(exc).__name__}", close=True)
                await self._send(writer, reply)
                if reply.close:
                    return
        finally:
            session.stop()  # returns at once; the shutdown waits for it

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        writer.write(reply.text.encode() + b"\n")
        await writer.drain()


# -- self-test client ----------------------------------------------------------------------


async def client(port: int, index: int, timeout: float) -> list[str]:
    """Run one scripted conversation over a real loopback connection."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    replies: list[str] = []
    try:
        for line in (f"UPPER hello from client {index}", "UPPER second line", "COUNT", "NOPE"):
            writer.write(line.encode() + b"\n")
            await writer.drain()
            replies.append((await asyncio.wait_for(reader.readline(), timeout)).decode().rstrip())
        writer.write(b"QUIT\n")
        await writer.drain()
        replies.append((await asyncio.wait_for(reader.readline(), timeout)).decode().rstrip())
        # After BYE the server closes: the next read is the end of the stream.
        replies.append((await asyncio.wait_for(reader.read(), timeout)).decode())
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return replies


def check(index: int, replies: list[str]) -> list[str]:
    """What is wrong with client ``index``'s replies (empty: all good)."""
    expected = [
        f"HELLO FROM CLIENT {index}",
        "SECOND LINE",
        r"COUNT session=3 total=\d+",
        "ERR unknown command 'NOPE'; try UPPER text, COUNT or QUIT",
        "BYE",
        "",
    ]
    if len(replies) != len(expected):
        return [f"client {index}: {len(replies)} replies, expected {len(expected)}"]
    return [
        f"client {index}: got {got!r}, expected {want!r}"
        for got, want in zip(replies, expected, strict=True)
        if not re.fullmatch(want if "\\d" in want else re.escape(want), got)
    ]


async def self_test(server: LineServer, port: int, clients: int, timeout: float) -> bool:
    conversations = await asyncio.gather(*(client(port, i, timeout) for i in range(clients)))
    problems = [p for i, replies in enumerate(conversations) for p in check(i, replies)]
    for problem in problems:
        print(problem)
    total = await server.counter.ask_async(Total(), timeout=timeout)
    lines = 5 * clients
    print(f"self-test: {clients} clients, {lines} lines sent, counter saw {total}")
    return not problems and total == lines


# -- driver --------------------------------------------------------------------------------


async def run(system: ActorSystem, args: argparse.Namespace) -> bool:
    counter = system.spawn(LineCounter, name="counter")
    server = LineServer(system, counter, args.timeout, args.max_connections)
    listener = await asyncio.start_server(server.handle, HOST, args.port, limit=MAX_LINE)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        print(f"listening on {HOST}:{port}", flush=True)
        if args.self_test is None:
            await listener.serve_forever()  # until Ctrl-C cancels it
            return True
        ok = await self_test(server, port, args.self_test, args.timeout)
    print("OK" if ok else "FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="PORT",
        help="TCP port on 127.0.0.1; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--self-test",
        type=int,
        default=None,
        metavar="N",
        help="connect N clients, check the replies, exit (default: serve until Ctrl-C)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="bound on every read and ask (default: %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=64,
        metavar="N",
        help="connections open at once; --self-test N raises it to N (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.self_test is not None and args.self_test < 1:
        parser.error("--self-test needs N >= 1")
    if args.max_connections < 1:
        parser.error("--max-connections must be >= 1")
    if args.self_test is not None:
        args.max_connections = max(args.max_connections, args.self_test)

    with ActorSystem("tcp-lines", workers=2) as system:
        ok = asyncio.run(run(system, args))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C: the actor system has already stopped gracefully
        raise SystemExit(130) from None
