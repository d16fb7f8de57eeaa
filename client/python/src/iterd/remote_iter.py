"""RemoteIter: an mx.io.DataIter whose batches are produced by an iterator in the iterd daemon.

Batches are pulled in Fetch windows of `max_batches` batches: a window is one server stream of,
per batch, a BatchHeader and the chunks of its payload. A stream that ends without end_of_epoch
only closes the window and the next Fetch continues the epoch.

A Fetch stream is never abandoned half read: the daemon frees an iterator whose stream is
cancelled, and gRPC Python cancels a call that is garbage collected before it finished. So a
stream is always read to its end (reset() drains and discards what is left), and only close()
cancels.

Same-host shared memory: when the open response carries a region this process can map
(wire.SharedMemoryMapping), Fetch asks the daemon to put each payload in a slot of it and the batch
is copied from there into its pooled buffer; nothing of the payload crosses the socket. A window's
slots are rewritten by the next Fetch, which starts only after every batch of the window was
copied out. If the region cannot be mapped, the byte stream is used, silently.

Letting go (iterd/_lifecycle.py): close() frees the daemon's iterator (CloseIterator with a
deadline); a dropped iterator's __del__ only unmaps and hands the daemon calls to the reaper
thread; at interpreter exit an open iterator cancels its stream and closes with a short deadline,
and never closes the channel.

Checkpoints (iterd/iterator_state.py): every batch header, end of epoch, open and reset answer
carries the daemon iterator's position after it; state_dict() returns the one of the last batch
handed to the user and load_state_dict() reopens the iterator there (on any daemon).

Not thread-safe: use one iterator from one thread at a time (as MXNet's iterators).
"""
import grpc
import numpy as np

from iterd import _lifecycle
from iterd import errors
from iterd import iterator_state
from iterd.data_iter import BatchCursorDataIter
from iterd.descriptors import DataBatch
from iterd.descriptors import DataDesc
from iterd.v1 import service_pb2
from iterd.wire import BufferPool
from iterd.wire import SharedMemoryMapping
from iterd.wire import chunk_span
from iterd.wire import split_payload

# CloseIterator's deadline in close(): a daemon that does not answer must not hang the caller.
CLOSE_TIMEOUT_SECONDS = 10.0


def _let_go(client, iterator_id, stream, owns_client, timeout=None):
    """The daemon side of closing: cancel the stream (which frees the daemon's iterator at once;
    CloseIterator then finds nothing), CloseIterator, close an owned client's channel."""
    try:
        if stream is not None:
            stream.cancel()
        client.close_iterator(iterator_id, timeout=timeout)
    except errors.IterdError:
        pass  # Already freed (expired, cancelled) or the daemon is gone: nothing left to close.
    finally:
        if owns_client:
            client.close()


class RemoteIter(BatchCursorDataIter):
    """Batches of one daemon iterator, with MXNet's DataIter interface.

    Attributes:
      iterator_id: the iterator's handle, a secret: whoever has it can fetch from, reset or close
        the iterator. Do not log it; messages use display_id.
      display_id: the daemon's public name of the iterator ("it-17"), as in its log and /metrics.
      batch_size, provide_data, provide_label: as in mx.io (lists of DataDesc).
      seed: the shuffle seed in use; num_samples: samples per epoch (-1 when unknown, CSV).
    """

    def __init__(self, client, open_response, max_batches, owns_client=False, open_message=None,
                 arrays=()):
        """open_message, arrays: the OpenIterator message and inline arrays the iterator was
        opened with, kept so that load_state_dict() can open it again at a saved position."""
        self._client = client
        self._owns_client = owns_client
        self._max_batches = max_batches
        self._open_message = open_message
        self._arrays = tuple(arrays)
        self._pool = BufferPool()
        self._stream = None
        self._shared_memory = None
        # Batches whose payload was copied out of the shared-memory region (not chunks).
        self.shared_memory_batches = 0
        self._closed = False
        self._adopt(open_response)
        _lifecycle.track(self)

    def _adopt(self, open_response):
        """Takes on the daemon iterator of `open_response` (at open, and at load_state_dict)."""
        self.iterator_id = open_response.iterator_id
        self.display_id = open_response.display_id or "(unnamed)"
        self.batch_size = int(open_response.batch_size)
        self.seed = int(open_response.seed)
        self.num_samples = int(open_response.num_samples)
        self._provide_data = [DataDesc.from_proto(d) for d in open_response.provide_data]
        self._provide_label = [DataDesc.from_proto(d) for d in open_response.provide_label]
        self._end_of_epoch = False
        if (getattr(self._client, "wants_shared_memory", False) and
                open_response.HasField("shared_memory")):
            self._shared_memory = SharedMemoryMapping.map(open_response.shared_memory)
        self.current_batch = None
        # The daemon's position after the last batch (or end of epoch, or reset) handed to the
        # user: what state_dict() returns.
        self._state = open_response.state
        # Batches of this epoch handed to the user: tells the daemon, at reset(), whether the
        # epoch was finished (MXNet's carry-over) or reset mid-way, whatever it had sent ahead.
        self._batches_consumed = 0

    # ----- mx.io.DataIter interface -----

    @property
    def uses_shared_memory(self):
        """Whether batches come through the daemon's same-host shared-memory region."""
        return self._shared_memory is not None

    @property
    def provide_data(self):
        return self._provide_data

    @property
    def provide_label(self):
        return self._provide_label

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next DataBatch; StopIteration at the end of the epoch (until reset())."""
        self._check_open()
        if self._end_of_epoch:
            raise StopIteration
        empty_windows = 0
        while True:
            if self._stream is None:
                self._stream = self._client.fetch_stream(
                    self.iterator_id, self._max_batches,
                    shared_memory=self._shared_memory is not None)
            message = self._next_message()
            if message is None:
                # The window is over without end_of_epoch: fetch the next one.
                self._stream = None
                empty_windows += 1
                if empty_windows > 1:
                    raise errors.DataLoss("Fetch of iterator %s ended without a batch or the end "
                                          "of the epoch" % self.display_id)
                continue
            response = service_pb2.FetchResponse.FromString(message)
            part = response.WhichOneof("part")
            if part == "header":
                batch = self._receive_batch(response.header)
                self._batches_consumed += 1
                self._state = response.header.state
                return batch
            if part == "end_of_epoch":
                self._end_of_epoch = True
                self._state = response.end_of_epoch.state
                self._drain()
                raise StopIteration
            raise errors.DataLoss("iterator %s: unexpected %r message before a batch header" %
                                  (self.display_id, part))

    def reset(self):
        """Starts the next epoch (MXNet's reset(), carry-over semantics of the pipeline)."""
        self._check_open()
        self._drain()
        self._state = self._client.reset_iterator(self.iterator_id, self._batches_consumed)
        self._batches_consumed = 0
        self._end_of_epoch = False
        self.current_batch = None
        self._on_reset()

    def state_dict(self):
        """The iterator's position after the last batch next() returned (or the end of the epoch,
        or the last reset()): a small JSON-serialisable dict to keep with a checkpoint. Named as
        PyTorch's stateful loaders name it."""
        self._check_open()
        return iterator_state.to_dict(self._state)

    def load_state_dict(self, state_dict):
        """Goes to a position state_dict() returned (from this iterator, or another of the same
        configuration, on any daemon): the next next() returns the batch that followed it. Opens
        the daemon iterator again from that position (nothing before it is read) and lets go of
        the current one. Raises InvalidArgument for a damaged state and FailedPrecondition for one
        of another configuration (the message names what differs)."""
        self._check_open()
        state = iterator_state.from_dict(state_dict)
        if self._open_message is None:
            raise errors.FailedPrecondition(
                "iterator %s was opened without its OpenIterator message, so it cannot be "
                "reopened at a saved state" % self.display_id)
        message = service_pb2.OpenIterator()
        message.CopyFrom(self._open_message)
        message.resume_from.CopyFrom(state)
        response = self._client.open_iterator_response(message, self._arrays)
        old_id, old_stream = self.iterator_id, self._stream
        self._stream = None
        if self._shared_memory is not None:
            self._shared_memory.close()
            self._shared_memory = None
        self._adopt(response)
        _let_go(self._client, old_id, old_stream, False, CLOSE_TIMEOUT_SECONDS)
        self._on_reset()

    def stats(self):
        """The daemon's counters of this iterator: an IteratorStats(batches_produced,
        records_decoded, records_skipped, skipped_examples) namedtuple."""
        self._check_open()
        return self._client.iterator_stats(self.iterator_id)

    def close(self, timeout=CLOSE_TIMEOUT_SECONDS):
        """Frees the daemon's iterator (CloseIterator waits up to `timeout` seconds); the object
        is unusable afterwards. Idempotent."""
        stream = self._let_go_locally()
        if stream is not False:
            _let_go(self._client, self.iterator_id, stream, self._owns_client, timeout)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def __del__(self):
        # Nothing that waits: the daemon calls go to the reaper thread (none at exit).
        try:
            stream = self._let_go_locally()
            if stream is not False:
                _lifecycle.defer(_let_go, self._client, self.iterator_id, stream,
                                 self._owns_client)
        except Exception:  # pylint: disable=broad-except
            pass  # Half-constructed, or best effort: the daemon's idle timeout frees it anyway.

    def at_exit(self, deadline):
        """Interpreter exit (_lifecycle): cancel the stream or CloseIterator within `deadline`;
        the channel stays open (the process's exit closes it)."""
        stream = self._let_go_locally()
        if stream is not False:
            _let_go(self._client, self.iterator_id, stream, False, _lifecycle.remaining(deadline))

    # ----- Internals -----

    def _let_go_locally(self):
        """Marks the iterator closed and drops what this process holds (buffers, the mapping).
        Returns the Fetch stream to cancel (None if none), or False when already closed."""
        if self._closed:
            return False
        self._closed = True
        stream, self._stream = self._stream, None
        self._pool.clear()
        if self._shared_memory is not None:
            self._shared_memory.close()
            self._shared_memory = None
        return stream

    def _on_reset(self):
        """Hook for subclasses: state tied to an epoch is stale after reset()."""

    def _check_open(self):
        if self._closed:
            raise errors.FailedPrecondition("iterator %s is closed" % self.display_id)

    def _next_message(self):
        """The next serialized message of the current stream, or None at its end."""
        try:
            return next(self._stream)
        except StopIteration:
            self._stream = None
            return None
        except grpc.RpcError as rpc_error:
            self._stream = None
            to_error = getattr(self._client, "error", None)
            raise (to_error(rpc_error) if to_error is not None else
                   errors.from_rpc_error(rpc_error)) from None

    def _drain(self):
        """Reads the current stream to its end, discarding batches (never cancels it)."""
        while self._stream is not None:
            self._next_message()

    def _receive_batch(self, header):
        payload_bytes = int(header.payload_bytes)
        buffer = self._pool.take(payload_bytes)
        if header.HasField("shared_memory_slot"):
            self._copy_from_slot(header, buffer)
            payload_bytes = 0  # No chunks follow.
        destination = memoryview(buffer)
        filled = 0
        while filled < payload_bytes:
            message = self._next_message()
            if message is None:
                raise errors.DataLoss("iterator %s: stream ended after %d of the %d payload bytes "
                                      "of batch %d" % (self.display_id, filled, payload_bytes,
                                                       header.sequence))
            span = chunk_span(message)
            if span is None:
                response = service_pb2.FetchResponse.FromString(message)
                if response.WhichOneof("part") != "chunk":
                    raise errors.DataLoss("iterator %s: batch %d got a %r message after %d of its "
                                          "%d payload bytes" %
                                          (self.display_id, header.sequence,
                                           response.WhichOneof("part"), filled, payload_bytes))
                message = response.chunk
                span = (0, len(message))
            start, length = span
            if filled + length > payload_bytes:
                raise errors.DataLoss("iterator %s: batch %d carries more than its %d payload "
                                      "bytes" % (self.display_id, header.sequence, payload_bytes))
            # The one copy of the payload: from the received message into the batch buffer.
            destination[filled:filled + length] = memoryview(message)[start:start + length]
            filled += length
        del destination
        try:
            data, label = split_payload(buffer, header)
        except ValueError as error:
            raise errors.DataLoss("iterator %s: batch %d: %s" %
                                  (self.display_id, header.sequence, error)) from None
        self._pool.give(buffer)
        index = np.array(header.index, dtype=np.uint64) if len(header.index) else None
        return DataBatch(data, label, pad=int(header.pad), index=index)

    def _copy_from_slot(self, header, buffer):
        """The one copy of a shared-memory batch: from its slot into the batch buffer."""
        if self._shared_memory is None:
            raise errors.DataLoss("iterator %s: batch %d was sent in shared memory, which this "
                                  "client has not mapped" % (self.display_id, header.sequence))
        try:
            self._shared_memory.copy_slot(int(header.shared_memory_slot), buffer)
            self.shared_memory_batches += 1
        except ValueError as error:
            raise errors.DataLoss("iterator %s: batch %d: %s" %
                                  (self.display_id, header.sequence, error)) from None
