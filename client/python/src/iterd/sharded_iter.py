"""Many daemons feeding many trainers: one trainer's iterator over the parts of every daemon.

    it = iterd.ImageRecordIter(path_imgrec="train.rec", path_imgidx="train.idx", batch_size=32,
                               data_shape=(3, 224, 224), server="iterd-headless:50051",
                               rank=rank, world_size=world_size)

Design.

Daemons. `server` is "host:port", a comma-separated list of them, or a list; a host name expands
to all its A/AAAA records (getaddrinfo), as a Kubernetes headless Service gives one per pod. The
addresses are de-duplicated and sorted numerically, so every trainer that sees the same DNS answer
numbers the D daemons the same way. Without `server`, $ITERD_ADDRESS is read the same way.

Parts. With W trainers (world_size) the data set is cut into P = W * D parts with the daemon's
own part formula (num_parts / part_index of the pipeline config: by record count with an .idx, by
byte range without one, N // P keys each for ImageIter). Trainer r opens part r * D + d on daemon
d: every record is in exactly one part, each part is read by one trainer, and every daemon serves
W parts (parts k with k % D == d), so the load is even to within one part. A trainer pulls from its
D daemon iterators at once (one thread per part keeps a small queue full) and hands out their
batches round-robin (daemon 0, 1, ..., D-1, 0, ...; an exhausted part is skipped).

Equal batch counts. Every trainer computes, for every part of every trainer, how many batches the
part gives (from the total sample count N and the part formula: ceil(N / P) per part with an .idx,
so the last parts are short or empty), hence the batch count of every trainer, without talking to
the others. With balance="pad" (the default, MXNet's pad / round_batch) a trainer with fewer
batches than the largest count appends filler batches with pad == batch_size, whose content is a
copy of its first batch of the epoch (real, wrapped-around samples, as MXNet's padding); with
balance="discard" every trainer stops after the smallest count (samples of the dropped batches
reach no trainer in that epoch, as last_batch_handle='discard' drops a short batch). Where N cannot
be known before a pass (ImageRecordIter without .idx, CSV) and W > 1, `num_batches=` must give the
per-trainer count (pad/discard up or down to it).

Exactly once per epoch. MXNet's round_batch carries the wrapped samples over into the next epoch,
so a part of a sharded ImageRecordIter is opened with round_batch=False (each epoch starts at the
part's first record) and the client fills the pad rows of a part's short last batch with the first
rows of that part's epoch (round_batch=True, the default) or leaves the daemon's rows
(round_batch=False). The real samples of an epoch, summed over the trainers, are then every record
once. ImageIter keeps MXNet's split (N // P keys per part, N % P keys unused) and its own pad.

Failure. A part whose daemon fails (UNAVAILABLE, or its iterator gone) raises DaemonFailure
(an iterd.Unavailable) naming the daemon's address and the part, by default. With
on_daemon_failure="reassign" the part is reopened on the next surviving daemon with the same seeds,
advanced to the current epoch and past the batches already delivered from it (a part's order and
augmentation are a function of the seeds and the epoch), so the epoch completes exactly once.

Security. The iterators take the Client's root_certificates, certificate_chain, private_key and
token keywords (or their environment variables) and open every daemon's Client with them. A
daemon reached through a host name is checked against that name's certificate (TLS server name
= the name, not the address it resolved to), so one certificate for the Service's DNS name serves
every pod.

Entry points: iterd.ImageRecordIter, iterd.ImageIter and iterd.NDArrayIter return a ShardedIter
when given several addresses or rank / world_size (a single "host:port" without them keeps the
plain RemoteIter). CSVIter has no parts in MXNet (CSVConfig has no num_parts) and stays
one-daemon.

Checkpoints. state_dict() / load_state_dict() (PyTorch's names) save and restore the trainer's
position exactly: each part's RemoteIter state after the last of its batches handed to the user
(the fetch threads read ahead, so every fetched batch carries the part's state taken right after
it) and after the part's last reset or open (its epoch start), plus the trainer's own position
(epoch, batches delivered, the round-robin cursor, the parts that ended the epoch, and the part
whose batch opened the epoch). What the trainer kept in memory is read again: a part's first batch
of the epoch (the rows that fill its short batch) and the trainer's first batch (the filler batches'
content) are re-read from the part's epoch start. A state loads on a new iterator of the same
configuration, rank, world_size and daemon count, on any daemons (each part is reopened at its
saved position on the daemon the new iterator gives it). Not part of the state: daemon_batches
(counts of this process) and failed_daemons (this process's view of the daemons).

Not thread-safe towards its user: one thread calls next()/reset() (MXNet's contract).
"""
import collections
import concurrent.futures
import queue
import threading

import numpy as np

from iterd import _lifecycle
from iterd import errors
from iterd import security
from iterd.client import Client
from iterd.data_iter import BatchCursorDataIter
from iterd.descriptors import DataBatch
from iterd.sharding import BALANCE_MODES
from iterd.sharding import FAILURE_MODES
from iterd.sharding import DaemonFailure
from iterd.sharding import batches_of
from iterd.sharding import ceil_split_sizes  # noqa: F401 (callers use sharded_iter.NAME)
from iterd.sharding import is_daemon_failure
from iterd.sharding import resolve_daemons
from iterd.sharding import wants_sharding  # noqa: F401


# Batches a part's thread fetches ahead of the trainer.
PART_QUEUE_DEPTH = 2
_POLL_SECONDS = 0.05
# The "format" of ShardedIter.state_dict().
STATE_FORMAT = "iterd.ShardedIter/1"


def _position_of(iterator):
    """iterator.state_dict(), or the exception it raised (a daemon that sends no states): raised
    again only if the user asks for the trainer's state."""
    try:
        return iterator.state_dict()
    except Exception as error:  # pylint: disable=broad-except
        return error


def _saved_position(position):
    if isinstance(position, Exception):
        raise position
    return position


def _close_parts(parts, clients, timeout=5.0):
    """Stops the parts' threads, frees their daemon iterators and closes the connections. Every
    wait is bounded by `timeout` (the threads are daemon threads: one that does not stop is left
    behind)."""
    for part in parts:
        part.stop(timeout=min(0.2, timeout))
    for part in parts:
        if part.iterator is not None:
            try:
                # Cancels a stream a fetch thread may still wait on.
                part.iterator.close(timeout=timeout)
            except Exception:  # pylint: disable=broad-except
                pass  # A dead daemon: nothing left to free there.
        part.stop(timeout=timeout)
    for client in clients:
        client.close()


class _Part(object):
    """One part of this trainer: its daemon iterator and the thread that fetches ahead."""

    def __init__(self, slot, part_index, daemon):
        self.slot = slot
        self.part_index = part_index
        self.daemon = daemon
        self.iterator = None
        self.seed = None          # From the first open: reopening uses the same seeds.
        self.delivered = 0        # Batches of this epoch handed to the user.
        self.exhausted = False
        self.first_batch = None   # This epoch's first batch of the part (wrap-around rows).
        # The iterator's state_dict() (or _position_of's exception) after the last of its
        # batches (or end of epoch) handed to the user, and after its last open or reset.
        self.position = None
        self.epoch_start = None
        self._queue = None
        self._stop = None
        self._thread = None

    def start(self):
        self._queue = queue.Queue(maxsize=PART_QUEUE_DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self.iterator, self._queue, self._stop),
            name="iterd-part-%d" % self.part_index, daemon=True)
        self._thread.start()

    def start_from_here(self):
        """Starts the thread with the iterator's current state as the user's position (nothing of
        this epoch delivered yet: after open or reset)."""
        self.position = self.epoch_start = _position_of(self.iterator)
        self.start()

    @staticmethod
    def _run(iterator, items, stop):
        # The only thread that touches `iterator` until stop() joins it. Each item carries the
        # iterator's state right after it: the state to save once the user has it.
        while not stop.is_set():
            try:
                batch = iterator.next()
                item = ("batch", batch, _position_of(iterator))
            except StopIteration:
                item = ("end", None, _position_of(iterator))
            except Exception as error:  # pylint: disable=broad-except
                item = ("error", error, None)
            while not stop.is_set():
                try:
                    items.put(item, timeout=_POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            if item[0] != "batch":
                return

    def get(self):
        """("batch", DataBatch, position), ("end", None, position) or ("error", exception,
        None); position: the iterator's state right after the batch or end."""
        while True:
            try:
                return self._queue.get(timeout=_POLL_SECONDS * 10)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return ("error", errors.FailedPrecondition(
                        "the fetch thread of part %d stopped" % self.part_index), None)

    def stop(self, timeout=None):
        if self._thread is None:
            return True
        self._stop.set()
        if timeout == 0:
            return not self._thread.is_alive()  # Asked to stop; no wait.
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._thread = None
        self._queue = None
        return True


class ShardedIter(BatchCursorDataIter):
    """One trainer's batches from the parts of D daemons (see the module docstring).

    Attributes:
      addresses: the daemons, in the order every trainer uses.
      rank, world_size, num_parts (= world_size * len(addresses)).
      batches_per_epoch: this trainer's batch count per epoch (None when unknown, W == 1).
      daemon_batches: {address: batches delivered from it} since the iterator opened.
      failed_daemons: addresses given up on (on_daemon_failure="reassign").
    """

    def __init__(self, server, rank, world_size, open_part, part_samples=None,
                 discard_short=False, balance="pad", num_batches=None, fill_short=False,
                 on_daemon_failure="fail", *, root_certificates=None, certificate_chain=None,
                 private_key=None, token=None):
        """
        Args:
          open_part: open_part(client, part_index, num_parts, seed) -> RemoteIter (not owning
            the client); seed is None at the first open, else the first open's `seed`.
          part_samples: part_samples(clients, parts) -> list of the samples of all num_parts
            parts, or None when unknown; `clients` are the daemons' Clients and `parts` this
            trainer's opened RemoteIters, both in daemon order.
          discard_short: the parts drop their short last batch (last_batch_handle='discard').
          fill_short: fill the pad rows of a part's short batch with that part's first rows.
          root_certificates, certificate_chain, private_key, token: every daemon's Client's
            (see iterd.Client; None: the environment variables).
        """
        rank = 0 if rank is None else rank
        world_size = 1 if world_size is None else world_size
        for name, value in (("rank", rank), ("world_size", world_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise errors.InvalidArgument("%s must be an integer, got %r" % (name, value))
        if world_size < 1 or not 0 <= rank < world_size:
            raise errors.InvalidArgument("rank must be in [0, world_size), got rank=%r "
                                         "world_size=%r" % (rank, world_size))
        if balance not in BALANCE_MODES:
            raise errors.InvalidArgument("balance must be one of %s, got %r" %
                                         (", ".join(BALANCE_MODES), balance))
        if on_daemon_failure not in FAILURE_MODES:
            raise errors.InvalidArgument("on_daemon_failure must be one of %s, got %r" %
                                         (", ".join(FAILURE_MODES), on_daemon_failure))
        if num_batches is not None and (isinstance(num_batches, bool) or
                                        not isinstance(num_batches, (int, np.integer)) or
                                        num_batches < 0):
            raise errors.InvalidArgument("num_batches must be a non-negative integer, got %r" %
                                         (num_batches,))
        security_keywords = dict(root_certificates=root_certificates,
                                 certificate_chain=certificate_chain, private_key=private_key,
                                 token=token)
        # Bad settings fail here, before any daemon is contacted or any channel is opened.
        security.resolve(**security_keywords)
        super(ShardedIter, self).__init__()
        host_names = {}
        self.addresses = resolve_daemons(server, host_names)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.num_parts = self.world_size * len(self.addresses)
        self.balance = balance
        self.on_daemon_failure = on_daemon_failure
        self.daemon_batches = collections.Counter()
        self.failed_daemons = set()
        self.trainer_batches = None  # Every trainer's natural batch count, when known.
        self._open_part = open_part
        self._fill_short = fill_short
        self._epoch = 0
        self._delivered = 0
        self._cursor = 0
        self._first_batch = None
        self._first_batch_slot = None  # The part whose batch opened the epoch.
        self._closed = False
        self._broken = None  # The error that stopped the epoch: raised again until reset().
        self._clients = [Client(address, server_name=host_names.get(address),
                                **security_keywords)
                         for address in self.addresses]
        daemons = len(self.addresses)
        self._parts = [_Part(d, self.rank * daemons + d, d) for d in range(daemons)]
        _lifecycle.track(self)
        try:
            self._open_all()
            self.batches_per_epoch = self._plan(part_samples, discard_short, num_batches)
        except BaseException:
            self.close()
            raise
        first = self._parts[0].iterator
        self.batch_size = first.batch_size
        self._provide_data = first.provide_data
        self._provide_label = first.provide_label
        for part in self._parts:
            part.start_from_here()

    # ----- Set-up -----

    def _open_all(self):
        def open_one(part):
            try:
                part.iterator = self._open_part(self._clients[part.daemon], part.part_index,
                                                self.num_parts, None)
                part.seed = part.iterator.seed
                return None
            except errors.IterdError as error:
                return error

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self._parts)) as pool:
            failures = list(pool.map(open_one, self._parts))
        for part, error in zip(self._parts, failures):
            if error is None:
                continue
            if not is_daemon_failure(error) or self.on_daemon_failure == "fail":
                raise self._failure(part, error) if is_daemon_failure(error) else error
            self._reassign(part, error, skip=0)
            part.seed = part.iterator.seed

    def _plan(self, part_samples, discard_short, num_batches):
        if num_batches is not None:
            return int(num_batches)
        samples = (part_samples(self._clients, [p.iterator for p in self._parts])
                   if part_samples else None)
        if samples is None:
            if self.world_size == 1:
                return None  # One trainer: its natural count is everyone's.
            raise errors.InvalidArgument(
                "%d trainers need equal batch counts, but the sample count of the data is not "
                "known before a pass (ImageRecordIter without path_imgidx, CSVIter): give "
                "path_imgidx, or num_batches= (batches per trainer per epoch)" % self.world_size)
        daemons = len(self.addresses)
        counts = [sum(batches_of(samples[t * daemons + d], self.batch_size_of_parts(),
                                 discard_short) for d in range(daemons))
                  for t in range(self.world_size)]
        self.trainer_batches = counts
        return max(counts) if self.balance == "pad" else min(counts)

    def batch_size_of_parts(self):
        return self._parts[0].iterator.batch_size

    # ----- DataIter interface -----

    def next(self):
        self._check_open()
        if self._broken is not None:
            raise self._broken
        target = self.batches_per_epoch
        if target is not None and self._delivered >= target:
            raise StopIteration
        daemons = len(self._parts)
        while not all(p.exhausted for p in self._parts):
            part = self._parts[self._cursor % daemons]
            if part.exhausted:
                self._cursor += 1
                continue
            kind, value, position = part.get()
            if kind == "end":
                part.exhausted = True
                part.position = position
                self._cursor += 1
                continue
            if kind == "error":
                self._handle_error(part, value)
                continue
            self._cursor += 1
            part.position = position
            return self._deliver(part, value)
        if target is not None and self._delivered < target:
            self._delivered += 1
            return self._filler_batch()
        raise StopIteration

    def reset(self):
        """The next epoch on every part (each starts at its first record)."""
        self._check_open()
        self._stop_threads()
        self._broken = None
        self._epoch += 1
        for part in self._parts:
            try:
                part.iterator.reset()
            except errors.IterdError as error:
                if not is_daemon_failure(error):
                    raise
                if self.on_daemon_failure == "fail":
                    raise self._failure(part, error) from None
                self._reassign(part, error, skip=0)
            part.delivered = 0
            part.exhausted = False
            part.first_batch = None
        self._delivered = 0
        self._cursor = 0
        self._first_batch = None
        self._first_batch_slot = None
        for part in self._parts:
            part.start_from_here()

    def state_dict(self):
        """The trainer's position after the last batch next() returned (or the end of the epoch,
        or the last reset()), as a small JSON-serialisable dict (see the module docstring). Also
        after a failed epoch: the batches delivered before the failure are still a position to
        resume from, on other daemons."""
        self._check_open()
        return {
            "format": STATE_FORMAT,
            "rank": self.rank,
            "world_size": self.world_size,
            "num_parts": self.num_parts,
            "batches_per_epoch": self.batches_per_epoch,
            "epoch": self._epoch,
            "delivered": self._delivered,
            "cursor": self._cursor,
            "first_batch_part": self._first_batch_slot,
            "parts": [{"part_index": part.part_index,
                       "delivered": part.delivered,
                       "exhausted": part.exhausted,
                       "position": _saved_position(part.position),
                       "epoch_start": _saved_position(part.epoch_start)}
                      for part in self._parts],
        }

    def load_state_dict(self, state_dict):
        """Goes to a position state_dict() returned (from this iterator or a new one of the same
        configuration, rank, world_size and daemon count, on any daemons): the next next()
        returns the batch that followed.

        Every part is opened again at its saved position (on its daemon; with
        on_daemon_failure="reassign" on the next surviving one if that fails) before anything
        changes: a state that is refused (InvalidArgument when damaged, FailedPrecondition when of
        another configuration), or a daemon that fails, leaves this iterator as it was."""
        self._check_open()
        saved = _checked_state(state_dict, self)
        reopened = []
        try:
            for part, part_state in zip(self._parts, saved["parts"]):
                reopened.append(self._reopened_at(part, part_state,
                                                  self._needs_first_batch(part, saved)))
        except BaseException:
            for iterator, _, _ in reopened:
                iterator.close()
            raise
        for part, part_state, (iterator, daemon, first_batch) in zip(self._parts, saved["parts"],
                                                                      reopened):
            self._adopt_part(part, part_state, iterator, daemon, first_batch)
        self._epoch = saved["epoch"]
        self._delivered = saved["delivered"]
        self._cursor = saved["cursor"]
        self._first_batch_slot = saved["first_batch_part"]
        self._first_batch = (None if self._first_batch_slot is None else
                             self._parts[self._first_batch_slot].first_batch)
        self._broken = None
        for part in self._parts:
            part.start()

    def close(self):
        """Frees every part's daemon iterator and the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _close_parts(self._parts, self._clients)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def __del__(self):
        # Nothing that waits: the threads are told to stop, the rest goes to the reaper thread.
        try:
            if not self._closed:
                self._closed = True
                self.at_exit(None)
                _lifecycle.defer(_close_parts, self._parts, self._clients)
        except Exception:  # pylint: disable=broad-except
            pass

    def at_exit(self, deadline):  # pylint: disable=unused-argument
        """Interpreter exit (_lifecycle): tells the parts' threads to stop, without waiting; the
        parts' RemoteIters let go of the daemons themselves."""
        for part in self._parts:
            part.stop(timeout=0)

    @property
    def epoch(self):
        return self._epoch

    def part_addresses(self):
        """{part_index: address of the daemon serving it now}."""
        return {p.part_index: self.addresses[p.daemon] for p in self._parts}

    # ----- Internals -----

    def _check_open(self):
        if self._closed:
            raise errors.FailedPrecondition("sharded iterator (rank %d) is closed" % self.rank)

    def _deliver(self, part, batch):
        if part.first_batch is None:
            part.first_batch = batch
        if self._fill_short and batch.pad:
            _wrap_fill(batch, part.first_batch)
        if self._first_batch is None:
            self._first_batch = batch
            self._first_batch_slot = part.slot
        part.delivered += 1
        self._delivered += 1
        self.daemon_batches[self.addresses[part.daemon]] += 1
        return batch

    def _filler_batch(self):
        """A batch of pad == batch_size: a copy of this epoch's first batch (real samples
        wrapped around), or zeros when the trainer had none."""
        source = self._first_batch
        if source is None:
            data = [np.zeros(d.shape, d.dtype) for d in self.provide_data]
            label = [np.zeros(d.shape, d.dtype) for d in self.provide_label]
            index = None
        else:
            data = [np.array(a, copy=True) for a in source.data]
            label = [np.array(a, copy=True) for a in (source.label or [])]
            index = None if source.index is None else np.zeros_like(source.index)
        return DataBatch(data, label, pad=self.batch_size, index=index)

    def _failure(self, part, error):
        address = self.addresses[part.daemon]
        return DaemonFailure(
            "iterd daemon %s failed serving part %d of %d to trainer rank %d (epoch %d, after %d "
            "of the part's batches): %s. Pass on_daemon_failure='reassign' to re-read its part "
            "from the surviving daemons." % (address, part.part_index, self.num_parts, self.rank,
                                             self._epoch, part.delivered, error),
            address, part.part_index, self.num_parts, self.rank, self._epoch)

    def _handle_error(self, part, error):
        if not is_daemon_failure(error):
            self._stop_threads()
            self._broken = error
            raise error
        if self.on_daemon_failure == "fail":
            self._stop_threads()
            self._broken = self._failure(part, error)
            raise self._broken from None
        part.stop()
        try:
            self._reassign(part, error, skip=part.delivered)
        except BaseException as reassign_error:
            self._stop_threads()
            self._broken = reassign_error
            raise
        part.start()

    def _reassign(self, part, error, skip):
        """Reopens `part` on the next surviving daemon at the current epoch, past `skip`
        batches; DaemonFailure when no daemon is left."""
        self.failed_daemons.add(self.addresses[part.daemon])
        last_error = error
        old_iterator = part.iterator
        daemons = len(self.addresses)
        for step in range(1, daemons):
            candidate = (part.daemon + step) % daemons
            if self.addresses[candidate] in self.failed_daemons:
                continue
            try:
                iterator = self._reopen(self._clients[candidate], part, skip)
            except errors.IterdError as reopen_error:
                if not is_daemon_failure(reopen_error):
                    raise
                self.failed_daemons.add(self.addresses[candidate])
                last_error = reopen_error
                continue
            if old_iterator is not None:
                try:
                    old_iterator.close()
                except Exception:  # pylint: disable=broad-except
                    pass  # Its daemon is gone.
            part.iterator = iterator
            part.daemon = candidate
            return
        raise self._failure(part, "no surviving daemon to re-read the part (%s)" % last_error)

    def _reopen(self, client, part, skip):
        iterator = self._open_part(client, part.part_index, self.num_parts, part.seed)
        try:
            # The daemon's epoch counter moves on a reset that follows a read: read one batch of
            # each earlier epoch, so the part's order and augmentation are this epoch's.
            for _ in range(self._epoch):
                try:
                    iterator.next()
                except StopIteration:
                    pass
                iterator.reset()
            for number in range(skip):
                try:
                    iterator.next()
                except StopIteration:
                    raise errors.DataLoss(
                        "part %d re-read gave %d batches, fewer than the %d already delivered" %
                        (part.part_index, number, skip)) from None
        except BaseException:
            iterator.close()
            raise
        return iterator

    def _stop_threads(self):
        for part in self._parts:
            part.stop()

    # ----- Checkpoint internals -----

    def _needs_first_batch(self, part, saved):
        """Whether the part's first batch of the saved epoch is still needed: to fill the pad rows
        of the part's short batch, or as the content of the trainer's filler batches."""
        part_state = saved["parts"][part.slot]
        if not part_state["delivered"]:
            return False
        fills = self._fill_short and not part_state["exhausted"]
        target = self.batches_per_epoch
        pads_epoch = (saved["first_batch_part"] == part.slot and target is not None and
                      saved["delivered"] < target)
        return fills or pads_epoch

    def _reopened_at(self, part, part_state, wants_first_batch):
        """(a new iterator of `part` at its saved position, its daemon, the part's first batch
        of the saved epoch or None), on the part's daemon or, on_daemon_failure="reassign", on
        the next surviving one."""
        daemons = len(self.addresses)
        candidates = [(part.daemon + step) % daemons for step in range(daemons)]
        if self.on_daemon_failure == "fail":
            candidates = candidates[:1]
        last_error = None
        for daemon in candidates:
            if self.addresses[daemon] in self.failed_daemons:
                continue
            try:
                iterator, first_batch = self._open_at(daemon, part, part_state, wants_first_batch)
                return iterator, daemon, first_batch
            except errors.IterdError as error:
                if not is_daemon_failure(error):
                    raise
                if self.on_daemon_failure == "fail":
                    raise self._failure(part, error) from None
                self.failed_daemons.add(self.addresses[daemon])
                last_error = error
        raise self._failure(part, "no surviving daemon to reopen the part at its saved state "
                                  "(last error: %s)" % last_error)

    def _open_at(self, daemon, part, part_state, wants_first_batch):
        # Opened without the part's seed: a drawn seed is taken from the state.
        iterator = self._open_part(self._clients[daemon], part.part_index, self.num_parts, None)
        try:
            first_batch = None
            if wants_first_batch:
                iterator.load_state_dict(part_state["epoch_start"])
                first_batch = self._first_batch_again(iterator, part)
            iterator.load_state_dict(part_state["position"])
        except BaseException:
            iterator.close()
            raise
        return iterator, first_batch

    def _first_batch_again(self, iterator, part):
        """The part's first batch of the epoch `iterator` starts, as _deliver() kept it."""
        try:
            batch = iterator.next()
        except StopIteration:
            raise errors.DataLoss("part %d gave no batch from its saved epoch start, though the "
                                  "state says batches of that epoch were delivered" %
                                  part.part_index) from None
        if self._fill_short and batch.pad:
            _wrap_fill(batch, batch)
        return batch

    @staticmethod
    def _adopt_part(part, part_state, iterator, daemon, first_batch):
        """Stops the part's thread and puts the reopened iterator in place of its own."""
        part.stop(timeout=0.2)
        old_iterator, part.iterator, part.daemon = part.iterator, iterator, daemon
        try:
            # Cancels a fetch the thread may still wait on (a daemon that hangs), as close() does.
            old_iterator.close()
        except Exception:  # pylint: disable=broad-except
            pass  # Its daemon is gone (the state is being loaded after a failure).
        part.stop()
        part.seed = iterator.seed
        part.delivered = part_state["delivered"]
        part.exhausted = part_state["exhausted"]
        part.first_batch = first_batch
        part.position = part_state["position"]
        part.epoch_start = part_state["epoch_start"]


def _checked_state(state_dict, iterator):
    """The state dict, once its shape and its agreement with `iterator` are checked:
    InvalidArgument when damaged, FailedPrecondition when of another trainer or configuration."""
    if not isinstance(state_dict, dict):
        raise errors.InvalidArgument("sharded iterator state: must be the dict state_dict() "
                                     "returned, not %s" % type(state_dict).__name__)
    if state_dict.get("format") != STATE_FORMAT:
        raise errors.InvalidArgument("sharded iterator state: format %r is not %r" %
                                     (str(state_dict.get("format"))[:40], STATE_FORMAT))
    for field in ("rank", "world_size", "num_parts", "batches_per_epoch"):
        if state_dict.get(field) != getattr(iterator, field):
            raise errors.FailedPrecondition(
                "sharded iterator state: the state belongs to another iterator: its %s is %r, "
                "this iterator's is %r" % (field, state_dict.get(field), getattr(iterator, field)))
    for field in ("epoch", "delivered", "cursor"):
        _check_count(state_dict.get(field), field)
    parts = state_dict.get("parts")
    if not isinstance(parts, list) or len(parts) != len(iterator.addresses):
        raise errors.InvalidArgument("sharded iterator state: 'parts' must list %d parts" %
                                     len(iterator.addresses))
    for slot, part_state in enumerate(parts):
        _check_part_state(part_state, iterator.rank * len(parts) + slot)
    first_slot = state_dict.get("first_batch_part")
    if first_slot is not None:
        _check_count(first_slot, "first_batch_part")
        if first_slot >= len(parts) or not parts[first_slot]["delivered"]:
            raise errors.InvalidArgument("sharded iterator state: first_batch_part %r names no "
                                         "part that delivered a batch" % (first_slot,))
    return state_dict


def _check_count(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.InvalidArgument("sharded iterator state: %s must be a non-negative integer, "
                                     "got %r" % (field, value))


def _check_part_state(part_state, part_index):
    if not isinstance(part_state, dict) or part_state.get("part_index") != part_index:
        raise errors.InvalidArgument("sharded iterator state: the parts must be this trainer's "
                                     "parts in daemon order (expected part %d)" % part_index)
    _check_count(part_state.get("delivered"), "delivered of part %d" % part_index)
    if not isinstance(part_state.get("exhausted"), bool):
        raise errors.InvalidArgument("sharded iterator state: exhausted of part %d must be a "
                                     "boolean" % part_index)
    for field in ("position", "epoch_start"):
        if not isinstance(part_state.get(field), dict):
            raise errors.InvalidArgument("sharded iterator state: %s of part %d must be an "
                                         "iterator state" % (field, part_index))


def _wrap_fill(batch, source):
    """Overwrites the pad rows of `batch` with the first real rows of `source` (cycled)."""
    size = batch.data[0].shape[0]
    real = size - batch.pad
    source_real = source.data[0].shape[0] - (source.pad or 0)
    if source is batch:
        source_real = real
    if source_real <= 0 or real >= size:
        return
    rows = np.arange(batch.pad) % source_real
    for target, origin in zip(list(batch.data) + list(batch.label or []),
                              list(source.data) + list(source.label or [])):
        target[real:] = np.asarray(origin)[rows]
