"""Run a Python script in a subprocess, watch its output, signal it, bound every wait.

Used by the exit and Ctrl-C tests: each waits for a line that proves the script
reached the state under test (never a sleep), then signals it, then waits for
its exit with a generous bound that fails the test (and kills the script) on a
hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HANG", "REPO", "Finished", "Script", "write_script"]

REPO = Path(__file__).resolve().parent.parent
#: Generous bound on any wait for a script: only a hang comes near it.
HANG = 60.0


@dataclass(frozen=True, slots=True)
class Finished:
    """How a script ended."""

    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """Everything it printed, for assertion messages."""
        return (
            f"exit status {self.returncode}\n--- stdout ---\n{self.stdout}\n"
            f"--- stderr ---\n{self.stderr}"
        )


class Script:
    """A running ``python <args>``; its stdout and stderr are collected as they come.

    Thread safety: `wait_for` and `finish` are for the test's thread; the two
    reader threads only append under ``_cond``.
    """

    def __init__(self, *args: str | Path, cwd: Path = REPO) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.pop("PYTHONWARNINGS", None)
        env["PYTHONFAULTHANDLER"] = "1"  # a hung script's threads are dumped on SIGABRT
        self.proc = subprocess.Popen(
            [sys.executable, *map(str, args)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Guards _text: what each stream printed so far, by stream name.
        self._cond = threading.Condition()
        self._text = {"stdout": "", "stderr": ""}
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream.fileno()), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, fd: int) -> None:
        while chunk := os.read(fd, 65536):
            with self._cond:
                self._text[name] += chunk.decode(errors="replace")
                self._cond.notify_all()

    def wait_for(self, text: str, stream: str = "stdout", timeout: float = HANG) -> None:
        """Wait until ``stream`` has printed ``text``; fail if it exits or hangs first."""

        def seen_or_exited() -> bool:
            return text in self._text[stream] or self.proc.poll() is not None

        with self._cond:
            self._cond.wait_for(seen_or_exited, timeout)
            if text in self._text[stream]:
                return
        finished = self.finish()
        raise AssertionError(f"{text!r} never appeared on {stream}; {finished.describe()}")

    def signal(self, signum: int = signal.SIGINT) -> None:
        """Send ``signum`` to the script (no-op once it has exited)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def finish(self, timeout: float = HANG) -> Finished:
        """Wait for the exit; on a hang, kill the script and fail the test."""
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler dumps every thread
            try:
                self.proc.wait(HANG)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(HANG)
            for reader in self._readers:
                reader.join(HANG)
            raise AssertionError(
                f"script still running after {timeout} s (killed); "
                f"{Finished(-9, self._text['stdout'], self._text['stderr']).describe()}"
            ) from None
        for reader in self._readers:
            reader.join(HANG)
        with self._cond:
            return Finished(returncode, self._text["stdout"], self._text["stderr"])

    def __enter__(self) -> Script:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(HANG)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def write_script(directory: Path, name: str, source: str) -> Path:
    """Write ``source`` to ``directory/name`` and return the path."""
    path = directory / name
    path.write_text(source)
    return path
