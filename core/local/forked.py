"""Half of a job in a forked child: on small files the cost is system calls, and each one hands the GIL over,
so a process without threads forks once and the two processes share the calls. The child sends its result
back through a pipe (marshal) and leaves without running any of the parent's exit handlers."""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
from collections.abc import Callable
from typing import Any


class Forked:
    """A forked child computing ``work()``. ``result()`` waits for its answer; ``stop()`` ends it early."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, work: Callable[[], Any]) -> Forked | None:
        """Fork a child that runs ``work`` (its result must be marshal-able); None when the fork failed."""
        try:
            r, w = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return None
        if pid == 0:
            code = 1
            try:
                os.close(r)
                answer = marshal.dumps(work())
                with open(w, "wb") as out:
                    out.write(answer)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        return cls(pid, r)

    def result(self) -> Any:
        """The child's result; None when it failed (the caller then does its half itself)."""
        with open(self.fd, "rb") as pipe:
            self.fd = -1
            data = pipe.read()
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # SIGCHLD ignored: the child was reaped already; its data tells
            status = 0
        self.pid = 0
        if status != 0:
            return None
        try:
            return marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None

    def stop(self) -> None:
        """End a child whose answer is no longer wanted (the parent failed or was cancelled); after
        ``result()`` it does nothing."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
