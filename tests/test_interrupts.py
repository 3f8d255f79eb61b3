"""Graceful stops: the first SIGINT/SIGTERM sets a flag, the second raises KeyboardInterrupt.

The signals are real (os.kill of this process); Python runs the handler before the next
bytecode, so the flag is visible right after os.kill returns.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from rtstyle.interrupts import StopRequest, deferred

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def handlers():
    return {s: signal.getsignal(s) for s in SIGNALS}


def send(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    # The C-level handler only sets a flag; the Python handler runs at the next check.
    for _ in range(10):
        time.sleep(0.001)


@pytest.fixture(autouse=True)
def restore_handlers():
    """Whatever a test does, leave pytest's own handlers in place."""
    before = handlers()
    yield
    for s, h in before.items():
        signal.signal(s, h)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_first_signal_sets_the_flag_without_raising(sig):
    with deferred() as stop:
        assert isinstance(stop, StopRequest)
        assert not stop.requested and not stop and stop.signal_name is None
        send(sig)
        assert stop.requested
        assert bool(stop)
        assert stop.signal_name == sig.name
    assert stop.signal_name == sig.name  # still readable after the block


@pytest.mark.parametrize("first, second", [(signal.SIGINT, signal.SIGINT),
                                           (signal.SIGTERM, signal.SIGTERM),
                                           (signal.SIGTERM, signal.SIGINT),
                                           (signal.SIGINT, signal.SIGTERM)],
                         ids=["int-int", "term-term", "term-int", "int-term"])
def test_second_signal_raises_keyboard_interrupt(first, second):
    reached_end = False
    with pytest.raises(KeyboardInterrupt):
        with deferred() as stop:
            send(first)
            assert stop.signal_name == first.name
            send(second)
            reached_end = True
    assert not reached_end
    assert stop.signal_name == first.name  # the first signal is the one remembered


def test_handlers_are_restored_after_the_block():
    before = handlers()
    with deferred():
        inside = handlers()
        assert all(inside[s] is not before[s] for s in SIGNALS)
        assert inside[signal.SIGINT] is inside[signal.SIGTERM]
    assert handlers() == before


def test_handlers_are_restored_after_an_exception_and_after_the_second_signal():
    before = handlers()
    with pytest.raises(RuntimeError):
        with deferred():
            raise RuntimeError("work failed")
    assert handlers() == before
    with pytest.raises(KeyboardInterrupt):
        with deferred():
            send(signal.SIGINT)
            send(signal.SIGINT)
    assert handlers() == before


def test_after_the_block_sigint_raises_keyboard_interrupt_again():
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with deferred() as stop:
        send(signal.SIGINT)
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)


def test_nested_blocks_restore_the_outer_handler():
    with deferred() as outer:
        outer_handler = signal.getsignal(signal.SIGINT)
        with deferred() as inner:
            send(signal.SIGINT)
        assert inner.requested and not outer.requested
        assert signal.getsignal(signal.SIGINT) is outer_handler
        send(signal.SIGTERM)
        assert outer.signal_name == "SIGTERM"


def test_outside_the_main_thread_it_is_a_no_op():
    before = handlers()
    seen = {}

    def work():
        with deferred() as stop:
            seen["stop"] = stop
            seen["handlers"] = handlers()  # getsignal works in any thread
        seen["after"] = handlers()

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive()
    assert isinstance(seen["stop"], StopRequest)
    assert not seen["stop"].requested and seen["stop"].signal_name is None
    assert seen["handlers"] == before == seen["after"] == handlers()
