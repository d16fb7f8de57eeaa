"""How iterd objects let go of the daemon without ever blocking a dropped object or the exit.

A program that used iterators and did not close them must still exit. Two places must not wait:

* `__del__` runs wherever a garbage collection happens, gRPC's own threads included: waiting
  there for gRPC (channel.close() drains the channel's calls on gRPC's thread) can wait for
  itself. So `__del__` only drops local state and hands the daemon calls to one background
  thread, the reaper (defer(); queue.SimpleQueue.put is safe in `__del__`). Calls still queued at
  exit run in the atexit handler instead, within its budget.
* Interpreter shutdown. Once finalization starts, daemon threads (gRPC's, the reaper, prefetch
  threads) are frozen: channel.close() or joining such a thread waits forever. exiting() is True
  from our atexit handler on; from then on nothing calls gRPC or joins a thread. The handler itself
  runs while every thread still works: it gives the objects still alive (track()) one bounded
  chance to let go (cancel streams, CloseIterator with a short deadline, stop threads without
  joining them), within AT_EXIT_BUDGET_SECONDS in all. What it does not reach, the daemon frees on
  its own: a cancelled stream (the connection closes with the process) or the idle timeout.
"""
import atexit
import queue
import sys
import threading
import time
import weakref

# Imported before our handler is registered: atexit runs handlers last-registered first, so any
# that gRPC registers at import run after ours, with the channels still usable by ours.
import grpc  # noqa: F401

# The whole of what the atexit handler may spend, and one daemon call within it.
AT_EXIT_BUDGET_SECONDS = 2.0
AT_EXIT_CALL_SECONDS = 0.5
# A CloseIterator for a dropped iterator, on the reaper thread.
DROPPED_CALL_SECONDS = 5.0

_exiting = False
_live = weakref.WeakSet()
_work = queue.SimpleQueue()
_reaper = None
_reaper_lock = threading.Lock()


def exiting():
    """True from the atexit handler on: no gRPC call, channel close or join any more."""
    return _exiting or sys.is_finalizing()


def track(thing):
    """Gives `thing` (which has at_exit(deadline), deadline a time.monotonic() value) its chance
    at exit while it is alive. Call it from __init__, not from __del__. Also starts the reaper."""
    _live.add(thing)
    _start_reaper()


def defer(function, *args):
    """Runs function(*args, timeout=seconds) later: on the reaper thread with
    DROPPED_CALL_SECONDS, or at exit with what is left of the budget. Safe in __del__: it only
    puts the call on a SimpleQueue. Exceptions of the call are dropped."""
    if not exiting():
        _work.put((function, args))


def remaining(deadline):
    """Seconds left until `deadline` (time.monotonic()) for one call, at most AT_EXIT_CALL_SECONDS;
    0 when the budget is spent."""
    return max(0.0, min(AT_EXIT_CALL_SECONDS, deadline - time.monotonic()))


def _start_reaper():
    global _reaper
    with _reaper_lock:
        # After a fork the parent's reaper does not exist in the child: start another.
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap, name="iterd-reaper", daemon=True)
            _reaper.start()


def _run(function, args, timeout):
    try:
        function(*args, timeout=timeout)
    except Exception:  # pylint: disable=broad-except
        pass  # Best effort: the daemon's idle timeout frees what this could not.


def _reap():
    while True:
        function, args = _work.get()
        if exiting():
            _work.put((function, args))  # The atexit handler runs it (or it is dropped).
            return
        _run(function, args, DROPPED_CALL_SECONDS)
        del function, args


@atexit.register
def _at_exit():
    global _exiting
    _exiting = True
    deadline = time.monotonic() + AT_EXIT_BUDGET_SECONDS
    while True:
        try:
            function, args = _work.get_nowait()
        except queue.Empty:
            break
        _run(function, args, remaining(deadline))
    for thing in list(_live):
        try:
            thing.at_exit(deadline)
        except Exception:  # pylint: disable=broad-except
            pass
