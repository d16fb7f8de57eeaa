"""ResizeIter and PrefetchingIter: MXNet's mx.io wrappers around other DataIters.

Both work on any DataIter-like object (next(), reset(), provide_data, provide_label): local
user-written iterators and iterd's remote ones alike. Neither owns its inner iterators: close()
stops PrefetchingIter's threads but leaves the inner iterators open for their owner to close.
"""
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


class ResizeIter(BatchCursorDataIter):
    """Yields exactly `size` batches of data_iter per epoch (mx.io.ResizeIter).

    When data_iter runs out before `size` batches it is reset and continues; reset() restarts
    the count and, if reset_internal, resets data_iter too (else the next epoch continues where
    this one stopped).
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


class _PrefetchWorker(object):
    """One inner iterator and the thread that reads at most one batch ahead of the consumer.

    The thread holds this object, never the PrefetchingIter, so that an abandoned
    PrefetchingIter is garbage collected and its __del__ can stop the threads.

    Handoff: the consumer request()s a batch; the thread calls inner.next() and publishes the
    batch (None at the end of the epoch) or the exception it raised; wait_ready() returns it.
    Between publishing and the next request() the thread does not touch the inner iterator, so
    the consumer may reset() it then.
    """

    def __init__(self, inner, position):
        self.inner = inner
        self._condition = threading.Condition()
        self._requested = False
        self._ready = False
        self._stopping = False
        self._batch = None
        self._error = None
        self._thread = threading.Thread(target=self._run, name="iterd-prefetch-%d" % position,
                                        daemon=True)

    def start(self):
        self.request()
        self._thread.start()

    def request(self):
        """Drops the published result and asks the thread for the next batch."""
        with self._condition:
            self._ready = False
            self._batch = None
            self._error = None
            self._requested = True
            self._condition.notify_all()

    def wait_ready(self):
        """(batch or None, exception or None) of the last request, once the thread has it."""
        with self._condition:
            while not self._ready:
                self._condition.wait()
            return self._batch, self._error

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
            with self._condition:
                self._batch = batch
                self._error = error
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
        self._check_open()
        # Every thread is idle once its result is published: the inner iterators are ours.
        for worker in self._workers:
            worker.wait_ready()
        try:
            for worker in self._workers:
                worker.inner.reset()
        except BaseException as error:
            self._reset_error = error
            raise
        self._reset_error = None
        for worker in self._workers:
            worker.request()

    def iter_next(self):
        self._check_open()
        if self._reset_error is not None:
            raise self._reset_error
        results = [worker.wait_ready() for worker in self._workers]
        for _, error in results:
            if error is not None:
                # Left published: the next call raises it again, reset() clears it.
                raise error
        batches = [batch for batch, _ in results]
        if all(batch is None for batch in batches):
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
