"""Graceful stops: the first Ctrl-C or SIGTERM asks long work to stop at a safe point.

Inside :func:`deferred`, SIGINT and SIGTERM set a flag that the work checks between units
(training steps, video frames), so it can finish the unit, save, and exit cleanly. A second
signal raises KeyboardInterrupt at once, for when the safe point is too far away.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequest:
    def __init__(self) -> None:
        self.signal_name: str | None = None

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
