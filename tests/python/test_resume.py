"""Resumable iterators (state_dict / load_state_dict) against real daemons.

For every kind, with shuffle and random augmentation on: an uninterrupted run of three epochs
records every batch byte for byte and the iterator's state_dict() after every step (batch, end of
epoch, reset). The daemon is then killed with SIGKILL and a new one started; for many cuts (the
start, mid-epoch, the last batch, the end of an epoch, after a reset, across round_batch and
roll_over wrap-around) a freshly built iterator loads the JSON round-tripped state and must
produce the rest of the run exactly.
"""
import hashlib
import struct

import numpy as np
import pytest

import iterd
from iterd import iterator_state
from conftest import start_daemon, stop_daemon
from helpers import write_rows_csv
import image_data
from resume_checks import assert_every_cut_resumes

EPOCHS = 3


def _resummed(state):
    """`state` with its checksum recomputed (as the daemon computes it), for tests that must get
    past the checksum to reach the daemon's other checks."""
    state.checksum = 0
    digest = hashlib.sha256(state.SerializeToString(deterministic=True)).digest()
    state.checksum = struct.unpack("<Q", digest[:8])[0]
    return state


@pytest.fixture
def two_daemons(tmp_path):
    """A data root with the test data, and a way to kill the daemon and start another on it."""
    root = tmp_path / "data"
    root.mkdir()
    write_rows_csv(root / "rows.csv", 23, columns=3)
    image_data.copy_reference(str(root))
    image_data.write_corrupt_rec(str(root / "corrupt.rec"), 13, [4])
    logs = tmp_path / "logs"
    logs.mkdir()
    state = {"daemon": start_daemon(root, logs / "first.stderr")}

    def restart():
        state["daemon"].process.kill()  # SIGKILL: nothing is saved on the way out.
        state["daemon"].process.wait()
        state["daemon"] = start_daemon(root, logs / "second.stderr")
        return state["daemon"].address

    yield state["daemon"].address, restart
    stop_daemon(state["daemon"])


KINDS = {
    "ndarray_pad": lambda address: iterd.NDArrayIter(
        np.arange(23 * 3, dtype=np.float32).reshape(23, 3), np.arange(23, dtype=np.float32),
        batch_size=5, shuffle=True, last_batch_handle="pad", server=address),
    "ndarray_roll_over": lambda address: iterd.NDArrayIter(
        np.arange(23 * 3, dtype=np.float32).reshape(23, 3), np.arange(23, dtype=np.float32),
        batch_size=5, shuffle=True, last_batch_handle="roll_over", server=address),
    "ndarray_discard": lambda address: iterd.NDArrayIter(
        np.arange(23 * 3, dtype=np.float32).reshape(23, 3), np.arange(23, dtype=np.float32),
        batch_size=5, shuffle=True, last_batch_handle="discard", server=address),
    "csv_round_batch": lambda address: iterd.CSVIter(
        data_csv="rows.csv", data_shape=(3,), batch_size=5, server=address),
    "csv_no_round_batch": lambda address: iterd.CSVIter(
        data_csv="rows.csv", data_shape=(3,), batch_size=5, round_batch=False, server=address),
    "image_record_augmented": lambda address: iterd.ImageRecordIter(
        path_imgrec="f_images.rec", path_imgidx="f_images.idx", data_shape=(3, 16, 16),
        batch_size=6, shuffle=True, rand_crop=True, rand_mirror=True, max_rotate_angle=10,
        preprocess_threads=2, server=address),
    "image_record_skips_bad_records": lambda address: iterd.ImageRecordIter(
        path_imgrec="corrupt.rec", data_shape=(3, 16, 16), batch_size=4, rand_mirror=True,
        server=address),
    "image_iter_roll_over": lambda address: iterd.ImageIter(
        batch_size=6, data_shape=(3, 16, 16), path_imgrec="f_images.rec",
        path_imgidx="f_images.idx", shuffle=True, rand_crop=True, rand_mirror=True,
        brightness=0.2, last_batch_handle="roll_over", server=address),
    "image_iter_pad": lambda address: iterd.ImageIter(
        batch_size=6, data_shape=(3, 16, 16), path_imgrec="f_images.rec",
        path_imgidx="f_images.idx", shuffle=True, rand_mirror=True, last_batch_handle="pad",
        server=address),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_cut_resumes_on_a_new_daemon(two_daemons, kind):
    address, restart = two_daemons
    assert_every_cut_resumes(KINDS[kind], address, restart, (None,) * EPOCHS)


def test_resuming_at_the_end_reads_nothing_before(two_daemons):
    """Resuming at the last batch decodes only what follows (records_decoded)."""
    address, _ = two_daemons
    make = KINDS["image_record_augmented"]
    with make(address) as reference:
        count = len(list(reference))
    with make(address) as reference:
        for _ in range(count - 1):
            reference.next()
        last_state = reference.state_dict()
    with make(address) as resumed:
        resumed.load_state_dict(last_state)
        tail = list(resumed)
        decoded = resumed.stats().records_decoded
    assert len(tail) == 1
    # The last batch (6 records, plus the round_batch wrap) and nothing before it.
    assert decoded <= 2 * 6, decoded


def test_a_state_of_another_config_is_refused(two_daemons):
    address, _ = two_daemons
    with KINDS["ndarray_pad"](address) as it:
        it.next()
        state = it.state_dict()
    with iterd.NDArrayIter(np.zeros((23, 3), np.float32), batch_size=4, server=address) as other:
        with pytest.raises(iterd.FailedPrecondition, match="batch_size is 5, this config's is 4"):
            other.load_state_dict(state)
        assert other.next().data[0].shape == (4, 3)  # Still usable.
    with iterd.CSVIter(data_csv="rows.csv", data_shape=(3,), batch_size=5,
                       server=address) as csv_iter:
        with pytest.raises(iterd.FailedPrecondition, match="kind"):
            csv_iter.load_state_dict(state)


def test_damaged_states_are_refused_and_harm_nothing(two_daemons):
    address, _ = two_daemons
    with KINDS["ndarray_pad"](address) as it:
        it.next()
        good = it.state_dict()
        for damaged in [None, {}, {"format": "other", "state": good["state"]},
                        dict(good, state="!!!"), dict(good, state="AAAA"),
                        dict(good, state=good["state"][:-8] + "AAAAAAA=")]:
            with pytest.raises((iterd.InvalidArgument, iterd.FailedPrecondition)):
                it.load_state_dict(damaged)
        # Edited fields: the checksum no longer matches.
        proto = iterator_state.from_dict(good)
        proto.source.position += 1
        with pytest.raises(iterd.InvalidArgument, match="damaged or was edited"):
            it.load_state_dict(iterator_state.to_dict(proto))
        # Edited with the checksum recomputed: positions are still checked.
        for position in (10 ** 9, -3, 2 ** 63 - 1):
            proto.source.position = position
            with pytest.raises(iterd.InvalidArgument, match="position"):
                it.load_state_dict(iterator_state.to_dict(_resummed(proto)))
        # Counts near INT64_MAX (a reset would overflow them) are refused too.
        proto.source.position = 0
        proto.epoch = 2 ** 63 - 1
        with pytest.raises(iterd.InvalidArgument, match="2\\^53"):
            it.load_state_dict(iterator_state.to_dict(_resummed(proto)))
        # The iterator still works, from where it was.
        it.load_state_dict(good)
        assert it.next().data[0].shape == (5, 3)
