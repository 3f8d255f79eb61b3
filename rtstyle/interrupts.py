"""Graceful stops: the first Ctrl-C or SIGTERM asks long work to stop at a safe point.

Inside :func:`deferred`, SIGINT and SIGTERM set a flag that the work checks between units
(training steps, video frames), so it can finish the unit, save, and exit cleanly. A second
signal raises KeyboardInterrupt at once, for when the safe point is too far away.

A time limit (``StopRequest.finish_after``) is the other way long work ends early: unlike a
signal it means "finish now as if done", so a training run writes its model at that step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator


class StopRequest:
    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.deadline: float | None = None
        self.limit_s: float | None = None

    def finish_after(self, seconds: float | None) -> None:
        """Ask the work to finish (not stop) once ``seconds`` have passed from now."""
        self.limit_s = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    @property
    def time_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def __bool__(self) -> bool:
        return self.requested


@contextlib.contextmanager
def deferred() -> Iterator[StopRequest]:
    """Defer SIGINT/SIGTERM to a :class:`StopRequest` (no-op outside the main thread)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.requested:
            raise KeyboardInterrupt
        stop.signal_name = signal.Signals(signum).name

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
