"""ResizeIter and PrefetchingIter: MXNet's mx.io wrappers around other DataIters.

Both work on any DataIter-like object (next(), reset(), provide_data, provide_label): local
user-written iterators and iterd's remote ones alike. Neither owns its inner iterators: close()
stops PrefetchingIter's threads but leaves the inner iterators open for their owner to close.

Checkpoints: both have state_dict() / load_state_dict() (PyTorch's names) when the iterators they
wrap have them (every iterd iterator does). A wrapper's state holds its inner iterators' states
(whatever their own state_dict() returns, so it is JSON-serialisable when theirs are) and the
wrapper's own position; loading it makes the next next() return the batch that followed.
"""
import collections
import numbers
import threading

from iterd import _lifecycle
from iterd import errors
from iterd.data_iter import BatchCursorDataIter
from iterd.data_iter import descriptor_list
from iterd.descriptors import DataBatch
from iterd.descriptors import DataDesc

# How long close() waits for a prefetch thread's inner next() to return before leaving the
# (daemon) thread behind.
JOIN_TIMEOUT_SECONDS = 10.0

# The "format" of the wrappers' state dicts: a state of one is refused by the other.
RESIZE_STATE_FORMAT = "iterd.ResizeIter/1"
PREFETCHING_STATE_FORMAT = "iterd.PrefetchingIter/1"


def _inner_method(inner, name, wrapper):
    """inner.`name` (state_dict or load_state_dict), or FailedPrecondition naming the inner
    iterator's type: a wrapper can only save a position its inner iterators can save."""
    method = getattr(inner, name, None)
    if not callable(method):
        raise errors.FailedPrecondition(
            "%s wraps a %s, which has no %s(): its position cannot be saved or restored (every "
            "iterd iterator has state_dict() and load_state_dict())" %
            (wrapper, type(inner).__name__, name))
    return method


def _checked_format(state_dict, expected, wrapper):
    if not isinstance(state_dict, dict):
        raise errors.InvalidArgument("%s: a state must be the dict state_dict() returned, not %s" %
                                     (wrapper, type(state_dict).__name__))
    if state_dict.get("format") != expected:
        raise errors.InvalidArgument("%s: state format %r is not %r" %
                                     (wrapper, str(state_dict.get("format"))[:40], expected))


class ResizeIter(BatchCursorDataIter):
    """Yields exactly `size` batches of data_iter per epoch (mx.io.ResizeIter).

    When data_iter runs out before `size` batches it is reset and continues; reset() restarts
    the count and, if reset_internal, resets data_iter too (else the next epoch continues where
    this one stopped).

    state_dict(): {"format", "size", "batches": batches given in this resized epoch, "inner":
    data_iter.state_dict()}. Nothing else is needed to resume the wrap-around: an inner iterator
    whose epoch ended says so in its own state, so the resumed one ends it (and is reset by this
    wrapper) at the same batch.
    """

    def __init__(self, data_iter, size, reset_internal=True):
        super(ResizeIter, self).__init__()
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
            raise errors.InvalidArgument("ResizeIter: size must be a non-negative integer, got "
                                         "%r" % (size,))
        self.data_iter = data_iter
        self.size = int(size)
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            # The inner epoch is over before ours: wrap around. An inner iterator with no batch
            # at all raises StopIteration again, which ends this epoch too.
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True

    def state_dict(self):
        """The position after the last batch next() returned (or the end of this epoch, or the
        last reset()): the batches of this epoch and data_iter's own state. FailedPrecondition
        when data_iter has no state_dict()."""
        inner = _inner_method(self.data_iter, "state_dict", "ResizeIter")()
        return {"format": RESIZE_STATE_FORMAT, "size": self.size, "batches": self.cur,
                "inner": inner}

    def load_state_dict(self, state_dict):
        """Goes to a position state_dict() returned (on a new ResizeIter of the same size over an
        iterator of the same configuration): the next next() returns the batch that followed.
        The state is checked before data_iter is touched; a state data_iter refuses leaves this
        iterator as it was when data_iter's load_state_dict() does (iterd's do)."""
        batches = self._checked_batches(state_dict)
        _inner_method(self.data_iter, "load_state_dict", "ResizeIter")(state_dict["inner"])
        self.cur = batches
        self.current_batch = None

    def _checked_batches(self, state_dict):
        _checked_format(state_dict, RESIZE_STATE_FORMAT, "ResizeIter")
        if state_dict.get("size") != self.size:
            raise errors.FailedPrecondition(
                "ResizeIter: the state belongs to another iterator: its size is %r, this "
                "iterator's is %d" % (state_dict.get("size"), self.size))
        batches = state_dict.get("batches")
        if (isinstance(batches, bool) or not isinstance(batches, numbers.Integral) or
                not 0 <= batches <= self.size):
            raise errors.InvalidArgument("ResizeIter: state 'batches' must be an integer in "
                                         "[0, %d], got %r" % (self.size, batches))
        if "inner" not in state_dict:
            raise errors.InvalidArgument("ResizeIter: the state has no 'inner' state")
        return int(batches)


# An inner iterator's state_dict() at one point, or the exception state_dict() raised there (raised
# again only if the user asks PrefetchingIter for its state).
_Position = collections.namedtuple("_Position", "state error")


def _position_of(inner, number):
    """inner's state now: called only while no thread but the caller uses inner."""
    try:
        return _Position(_inner_method(inner, "state_dict",
                                       "PrefetchingIter (iterator %d)" % number)(), None)
    except Exception as error:  # pylint: disable=broad-except
        return _Position(None, error)


# What the thread publishes for one request: the batch (None at the end of the epoch) or the
# exception inner.next() raised, and inner's _Position right after it (None after an exception).
_Result = collections.namedtuple("_Result", "batch error position")


class _PrefetchWorker(object):
    """One inner iterator and the thread that reads at most one batch ahead of the consumer.

    The thread holds this object, never the PrefetchingIter, so that an abandoned
    PrefetchingIter is garbage collected and its __del__ can stop the threads.

    Handoff: the consumer request()s a batch; the thread calls inner.next() and publishes the
    batch (None at the end of the epoch) or the exception it raised, with inner's state_dict()
    taken right after (the inner iterator is a batch ahead of the consumer, so its current state
    is not the consumer's); wait_ready() returns them. Between publishing and the next request()
    the thread does not touch the inner iterator, so the consumer may reset() or reposition it
    then.
    """

    def __init__(self, inner, number):
        self.inner = inner
        self.number = number
        self._condition = threading.Condition()
        self._requested = False
        self._ready = False
        self._stopping = False
        self._result = None
        self._thread = threading.Thread(target=self._run, name="iterd-prefetch-%d" % number,
                                        daemon=True)

    def start(self):
        self.request()
        self._thread.start()

    def request(self):
        """Drops the published result and asks the thread for the next batch."""
        with self._condition:
            self._ready = False
            self._result = None
            self._requested = True
            self._condition.notify_all()

    def wait_ready(self):
        """The _Result of the last request, once the thread has it."""
        with self._condition:
            while not self._ready:
                self._condition.wait()
            return self._result

    def stop(self):
        """Asks the thread to exit; it does once its current inner.next(), if any, returns."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()

    def join(self, timeout):
        # close() may run in any thread, this one included (a garbage collection there).
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self):
        return self._thread.is_alive()

    def _run(self):
        while True:
            with self._condition:
                while not self._requested and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                self._requested = False
            batch = None
            error = None
            try:
                batch = self.inner.next()
            except StopIteration:
                pass
            except BaseException as raised:  # pylint: disable=broad-except
                # Handed to the consumer, whose next() re-raises it: the thread must not die
                # silently and leave the consumer waiting.
                error = raised
            # Still before publishing: the consumer may take over the inner iterator after.
            position = _position_of(self.inner, self.number) if error is None else None
            with self._condition:
                self._result = _Result(batch, error, position)
                self._ready = True
                self._condition.notify_all()


def _renamed(descriptors, renames, position, kind):
    """descriptor_list(descriptors) with names mapped by the dict `renames` (None: unchanged)."""
    descriptors = descriptor_list(descriptors) or []
    if renames is None:
        return descriptors
    if not isinstance(renames, dict):
        raise errors.InvalidArgument("PrefetchingIter: rename_%s[%d] must be a dict of old name "
                                     "to new name, got %r" % (kind, position, renames))
    return [DataDesc(renames.get(d.name, d.name), d.shape, d.dtype, d.layout) for d in descriptors]


def _rename_lists(renames, num_iters, kind):
    if renames is None:
        return [None] * num_iters
    if not isinstance(renames, (list, tuple)) or len(renames) != num_iters:
        raise errors.InvalidArgument("PrefetchingIter: rename_%s must be a list of %d dicts (one "
                                     "per iterator), got %r" % (kind, num_iters, renames))
    return list(renames)


class PrefetchingIter(BatchCursorDataIter):
    """Reads several DataIters in background threads and joins their batches (mx.io).

    One thread per inner iterator stays one batch ahead. A batch carries the data (and label)
    lists of all inner batches in order, the pad and index of the first; all pads must be equal
    and all inner iterators must end their epoch together (else AssertionError, as MXNet).
    rename_data / rename_label: None, or one dict {old name: new name} per inner iterator.

    An exception raised by an inner iterator is re-raised by next(), and again by every next()
    until reset(). close() stops and joins the threads; it waits (up to JOIN_TIMEOUT_SECONDS) for
    an inner next() in progress to return. Garbage collection and interpreter exit only tell the
    threads to stop (they are daemon threads). The inner iterators are not closed.

    state_dict(): {"format", "iterators": [each inner iterator's state_dict() as it was right
    after the batch next() last returned (or the end of the epoch, or the last reset())]}. The
    threads take each inner state as they read a batch ahead, so saving costs nothing and never
    waits for them; an inner iterator without state_dict() only fails state_dict().
    """

    def __init__(self, iters, rename_data=None, rename_label=None):
        super(PrefetchingIter, self).__init__()
        self._workers = []
        self._closed = False
        if not isinstance(iters, (list, tuple)):
            iters = [iters]
        if not iters:
            raise errors.InvalidArgument("PrefetchingIter: iters must hold at least one iterator")
        self.iters = list(iters)
        self.n_iter = len(self.iters)
        self.rename_data = rename_data
        self.rename_label = rename_label
        self._data_renames = _rename_lists(rename_data, self.n_iter, "data")
        self._label_renames = _rename_lists(rename_label, self.n_iter, "label")
        # Read once, before any thread touches the inner iterators.
        self._inner_provide_data = [i.provide_data for i in self.iters]
        self._inner_provide_label = [i.provide_label for i in self.iters]
        self._fixed_provide_data = self._joined(self._inner_provide_data, self._data_renames,
                                                "data")
        self._fixed_provide_label = self._joined(self._inner_provide_label, self._label_renames,
                                                 "label")
        if self._fixed_provide_data and self._fixed_provide_data[0].shape:
            self.batch_size = self._fixed_provide_data[0].shape[0]
        else:
            self.batch_size = getattr(self.iters[0], "batch_size", 0)
        self.current_batch = None
        self._reset_error = None
        # The error of a load_state_dict() that moved some inner iterators but not all: next()
        # and reset() raise it until a load_state_dict() succeeds.
        self._misaligned = None
        # The inner iterators' positions after the last batch (or end of epoch, or reset) the
        # user got. Taken before any thread reads ahead.
        self._positions = [_position_of(inner, i) for i, inner in enumerate(self.iters)]
        self._workers = [_PrefetchWorker(inner, i) for i, inner in enumerate(self.iters)]
        for worker in self._workers:
            worker.start()
        _lifecycle.track(self)

    @property
    def provide_data(self):
        return self._fixed_provide_data

    @property
    def provide_label(self):
        return self._fixed_provide_label

    def reset(self):
        """Discards the batches read ahead, resets every inner iterator, restarts reading."""
        self._check_aligned()
        self._wait_idle()
        try:
            for worker in self._workers:
                worker.inner.reset()
        except BaseException as error:
            self._reset_error = error
            raise
        self._reset_error = None
        self._restart_reading()

    def state_dict(self):
        """The position after the last batch next() returned (or the end of the epoch, or the
        last reset()): every inner iterator's state at that point, not where its thread has read
        to. FailedPrecondition when an inner iterator has no state_dict()."""
        self._check_open()
        for position in self._positions:
            if position.error is not None:
                raise position.error
        return {"format": PREFETCHING_STATE_FORMAT,
                "iterators": [position.state for position in self._positions]}

    def load_state_dict(self, state_dict):
        """Goes to a position state_dict() returned (on a new PrefetchingIter over iterators of
        the same configurations): the next next() returns the batch that followed.

        Waits for the threads' reads ahead, discards them, loads every inner iterator and starts
        reading ahead from there. A state the first inner iterator refuses leaves this iterator
        as it was (iterd's iterators refuse a state without changing); one refused by a later
        inner iterator leaves the inner iterators at different positions, and next() and reset()
        raise FailedPrecondition until a load_state_dict() succeeds (state_dict() still gives the
        position before the failed load)."""
        self._check_open()
        states = self._checked_states(state_dict)
        loaders = [_inner_method(worker.inner, "load_state_dict",
                                 "PrefetchingIter (iterator %d)" % worker.number)
                   for worker in self._workers]
        self._wait_idle()
        for number, (load, state) in enumerate(zip(loaders, states)):
            try:
                load(state)
            except BaseException as error:
                if number:
                    self._misaligned = errors.FailedPrecondition(
                        "PrefetchingIter: load_state_dict() failed at iterator %d (%s) after "
                        "moving iterators 0 to %d: load a state again" %
                        (number, error, number - 1))
                    self._misaligned.__cause__ = error
                raise
        self._misaligned = None
        self._reset_error = None
        self._restart_reading()

    def iter_next(self):
        self._check_aligned()
        if self._reset_error is not None:
            raise self._reset_error
        results = [worker.wait_ready() for worker in self._workers]
        for result in results:
            if result.error is not None:
                # Left published: the next call raises it again, reset() clears it.
                raise result.error
        batches = [result.batch for result in results]
        if all(batch is None for batch in batches):
            self._positions = [result.position for result in results]
            return False
        if any(batch is None for batch in batches):
            raise AssertionError(
                "PrefetchingIter: number of batches mismatches between iterators: iterator(s) "
                "%s ended the epoch while iterator(s) %s gave a batch" %
                ([i for i, b in enumerate(batches) if b is None],
                 [i for i, b in enumerate(batches) if b is not None]))
        pads = [batch.pad for batch in batches]
        if any(pad != pads[0] for pad in pads):
            raise AssertionError("PrefetchingIter: number of entry mismatches between iterators: "
                                 "pads %s differ (iterator i has pad pads[i])" % (pads,))
        self.current_batch = DataBatch(
            sum([list(batch.data) for batch in batches], []),
            sum([list(batch.label or []) for batch in batches], []),
            pads[0], batches[0].index,
            provide_data=self._batch_descriptors(batches, "data"),
            provide_label=self._batch_descriptors(batches, "label"))
        self._positions = [result.position for result in results]
        for worker in self._workers:
            worker.request()
        return True

    def next(self):
        if self.iter_next():
            return self.current_batch
        raise StopIteration

    def close(self):
        """Stops and joins the prefetch threads. Idempotent; the iterator is unusable after."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.stop()
        if _lifecycle.exiting():
            return  # The threads may be frozen: joining one would never return.
        for worker in self._workers:
            worker.join(JOIN_TIMEOUT_SECONDS)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def __del__(self):
        # No waiting here: the threads are told to stop and exit once their next() returns.
        # During interpreter finalization not even that (a frozen thread may hold the lock).
        try:
            if not self._closed and not _lifecycle.exiting():
                self.at_exit(None)
        except Exception:  # pylint: disable=broad-except
            pass  # Half-constructed: nothing was started.

    def at_exit(self, deadline):  # pylint: disable=unused-argument
        """Interpreter exit (_lifecycle): tells the threads to stop, without joining them."""
        self._closed = True
        for worker in self._workers:
            worker.stop()

    # ----- Internals -----

    def _check_open(self):
        if self._closed:
            raise errors.FailedPrecondition("PrefetchingIter is closed")

    def _check_aligned(self):
        self._check_open()
        if self._misaligned is not None:
            raise self._misaligned

    def _wait_idle(self):
        """Waits until every thread has published its read ahead: from then until
        _restart_reading() the inner iterators are the caller's alone."""
        for worker in self._workers:
            worker.wait_ready()

    def _restart_reading(self):
        """Takes the inner iterators' positions (the threads are idle) and reads ahead again."""
        self._positions = [_position_of(worker.inner, worker.number)
                           for worker in self._workers]
        for worker in self._workers:
            worker.request()

    def _checked_states(self, state_dict):
        _checked_format(state_dict, PREFETCHING_STATE_FORMAT, "PrefetchingIter")
        states = state_dict.get("iterators")
        if not isinstance(states, list):
            raise errors.InvalidArgument("PrefetchingIter: state 'iterators' must be the list of "
                                         "the inner iterators' states")
        if len(states) != self.n_iter:
            raise errors.FailedPrecondition(
                "PrefetchingIter: the state belongs to another iterator: it holds %d inner "
                "states, this iterator has %d inner iterators" % (len(states), self.n_iter))
        return states

    def _joined(self, per_iterator, renames, kind):
        joined = []
        for position, (descriptors, rename) in enumerate(zip(per_iterator, renames)):
            joined.extend(_renamed(descriptors, rename, position, kind))
        return joined

    def _batch_descriptors(self, batches, kind):
        """The batch's own descriptors (a bucketing inner batch may carry some), renamed."""
        fixed = self._fixed_provide_data if kind == "data" else self._fixed_provide_label
        if all(getattr(batch, "provide_" + kind) is None for batch in batches):
            return fixed
        inner = self._inner_provide_data if kind == "data" else self._inner_provide_label
        renames = self._data_renames if kind == "data" else self._label_renames
        per_iterator = [getattr(batch, "provide_" + kind) or descriptors
                        for batch, descriptors in zip(batches, inner)]
        return self._joined(per_iterator, renames, kind)
