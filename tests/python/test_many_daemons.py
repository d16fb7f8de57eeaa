"""Many daemons feeding many trainers (iterd/sharded_iter.py) against 3 real daemons.

Three daemons serve one data root holding small real-JPEG .rec files whose record i has label i;
two trainers (rank 0 and 1 of world_size 2, each in its own thread) read them through
ImageRecordIter / ImageIter with server=[the three addresses]. The tests check that every record
reaches exactly one trainer per epoch, that the trainers get equal batch counts, that the load is
spread evenly over the daemons, and what happens when a daemon is killed mid-epoch.
"""
import concurrent.futures
import random
import signal

import numpy as np
import pytest

import iterd
from conftest import start_daemon
from conftest import stop_daemon
from image_data import write_labelled_rec
from iterd import sharded_iter

DAEMONS = 3
WORLD_SIZE = 2
RECORDS = 50       # P = 6 parts of ceil(50 / 6) = 9 records: 9, 9, 9, 9, 9, 5.
BATCH = 4
BIG_RECORDS = 120  # For the failure tests: 20 records = 10 batches of 2 per part.
SMALL = (3, 32, 32)


def real_labels(batches):
    """The labels of the real samples of `batches` (pad rows excluded), in order, as ints."""
    labels = []
    for batch in batches:
        column = np.asarray(batch.label[0]).reshape(batch.label[0].shape[0], -1)[:, 0]
        labels.extend(int(round(v)) for v in column[:column.shape[0] - (batch.pad or 0)])
    return labels


def _start_daemons(tmp_path_factory, data_root, count):
    logs = tmp_path_factory.mktemp("logs")
    return [start_daemon(data_root, str(logs / ("iterd%d.stderr" % n))) for n in range(count)]


def _stop_all(daemons):
    for daemon in daemons:
        if daemon.process.poll() is None:
            stop_daemon(daemon)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("many_daemons_data")
    write_labelled_rec(str(root / "labelled.rec"), RECORDS)
    write_labelled_rec(str(root / "big.rec"), BIG_RECORDS)
    return root


@pytest.fixture(scope="module")
def daemons(tmp_path_factory, data_root):
    running = _start_daemons(tmp_path_factory, data_root, DAEMONS)
    yield running
    _stop_all(running)


@pytest.fixture
def fresh_daemons(tmp_path_factory, data_root):
    """Three daemons of the test's own: failure tests kill one."""
    running = _start_daemons(tmp_path_factory, data_root, DAEMONS)
    yield running
    _stop_all(running)


def _addresses(daemons):
    return [d.address for d in daemons]


def _record_iter(addresses, rank, **overrides):
    parameters = dict(path_imgrec="labelled.rec", path_imgidx="labelled.idx", data_shape=SMALL,
                      batch_size=BATCH, server=addresses, rank=rank, world_size=WORLD_SIZE)
    parameters.update(overrides)
    return iterd.ImageRecordIter(**parameters)


def _batches_served(daemons):
    served = []
    for address in _addresses(daemons):
        with iterd.Client(address) as client:
            served.append(client.stats().batches_served)
    return served


def _run_trainers(make_iterator, epochs=1):
    """Each trainer in its own thread: [[list of batches per epoch] per rank], iterators."""
    def train(rank):
        iterator = make_iterator(rank)
        batches_of_epochs = []
        for number in range(epochs):
            if number:
                iterator.reset()
            batches_of_epochs.append(list(iterator))
        return iterator, batches_of_epochs

    with concurrent.futures.ThreadPoolExecutor(max_workers=WORLD_SIZE) as pool:
        results = list(pool.map(train, range(WORLD_SIZE)))
    return [r[1] for r in results], [r[0] for r in results]


def _assert_exactly_once(label_lists, count):
    merged = [label for labels in label_lists for label in labels]
    assert sorted(merged) == list(range(count)), "duplicates or missing records"


def test_two_trainers_on_three_daemons_get_every_record_exactly_once(daemons):
    epochs, iterators = _run_trainers(lambda rank: _record_iter(_addresses(daemons), rank))
    try:
        _assert_exactly_once([real_labels(e[0]) for e in epochs], RECORDS)
        labels = [set(real_labels(e[0])) for e in epochs]
        assert not labels[0] & labels[1]
    finally:
        for iterator in iterators:
            iterator.close()


def test_pad_gives_both_trainers_the_largest_batch_count_with_real_filler(daemons):
    epochs, iterators = _run_trainers(lambda rank: _record_iter(_addresses(daemons), rank))
    try:
        counts = [len(e[0]) for e in epochs]
        # Parts 9,9,9 | 9,9,5 records: 3+3+3 = 9 and 3+3+2 = 8 batches; rank 1 pads to 9.
        assert counts == [9, 9]
        assert [it.batches_per_epoch for it in iterators] == [9, 9]
        filler = epochs[1][0][-1]
        assert filler.pad == BATCH
        # Filler rows and the pad rows of short batches hold real samples of that trainer.
        own = set(real_labels(epochs[1][0]))
        for batch in epochs[1][0]:
            labels = [int(round(v)) for v in batch.label[0]]
            assert set(labels) <= own, labels
    finally:
        for iterator in iterators:
            iterator.close()


def test_discard_gives_both_trainers_the_smallest_batch_count_and_no_duplicates(daemons):
    epochs, iterators = _run_trainers(
        lambda rank: _record_iter(_addresses(daemons), rank, balance="discard"))
    try:
        assert [len(e[0]) for e in epochs] == [8, 8]
        labels = [real_labels(e[0]) for e in epochs]
        merged = labels[0] + labels[1]
        assert len(merged) == len(set(merged))
        assert set(merged) <= set(range(RECORDS))
    finally:
        for iterator in iterators:
            iterator.close()


def test_each_daemon_serves_within_one_part_of_an_even_load(daemons):
    before = _batches_served(daemons)
    epochs, iterators = _run_trainers(lambda rank: _record_iter(_addresses(daemons), rank))
    try:
        per_daemon = {a: sum(it.daemon_batches[a] for it in iterators)
                      for a in _addresses(daemons)}
        # Daemon d serves parts d and d + 3: 3 + 3, 3 + 3, 3 + 2 batches.
        assert sorted(per_daemon.values()) == [5, 6, 6]
        part_batches = -(-9 // BATCH)
        assert max(per_daemon.values()) - min(per_daemon.values()) <= part_batches
        # The daemons' own counters agree (the probe that reads the sample count serves none).
        served = [a - b for a, b in zip(_batches_served(daemons), before)]
        assert served == [per_daemon[a] for a in _addresses(daemons)]
    finally:
        for iterator in iterators:
            iterator.close()


def test_two_shuffled_epochs_each_cover_every_record_once_in_new_orders(daemons):
    epochs, iterators = _run_trainers(
        lambda rank: _record_iter(_addresses(daemons), rank, shuffle=True), epochs=2)
    try:
        for number in range(2):
            _assert_exactly_once([real_labels(e[number]) for e in epochs], RECORDS)
            assert [len(e[number]) for e in epochs] == [9, 9]
        assert any(real_labels(e[0]) != real_labels(e[1]) for e in epochs)
        # A trainer keeps its parts: same record set, new order.
        for e in epochs:
            assert sorted(real_labels(e[0])) == sorted(real_labels(e[1]))
    finally:
        for iterator in iterators:
            iterator.close()


def test_daemon_order_is_the_same_whatever_order_or_names_the_trainer_was_given(daemons):
    addresses = _addresses(daemons)
    shuffled = list(addresses)
    random.Random(7).shuffle(shuffled)
    as_names = ",".join(a.replace("127.0.0.1", "localhost") for a in shuffled)
    assert sharded_iter.resolve_daemons(shuffled) == sharded_iter.resolve_daemons(as_names)
    assert sorted(sharded_iter.resolve_daemons(as_names)) == sorted(addresses)
    # A DNS name (here "localhost", one A record per daemon port) opens the same parts.
    epochs, iterators = _run_trainers(lambda rank: _record_iter(as_names, rank))
    try:
        _assert_exactly_once([real_labels(e[0]) for e in epochs], RECORDS)
        assert iterators[0].addresses == sharded_iter.resolve_daemons(addresses)
    finally:
        for iterator in iterators:
            iterator.close()


def test_image_iter_parts_split_n_div_p_keys_over_two_trainers_and_three_daemons(daemons):
    def make(rank):
        return iterd.ImageIter(BATCH, SMALL, path_imgrec="labelled.rec",
                               path_imgidx="labelled.idx", server=_addresses(daemons),
                               rank=rank, world_size=WORLD_SIZE)

    epochs, iterators = _run_trainers(make)
    try:
        # 50 // 6 = 8 keys per part: 2 batches each, 6 per trainer; keys 48 and 49 unused.
        assert [len(e[0]) for e in epochs] == [6, 6]
        _assert_exactly_once([real_labels(e[0]) for e in epochs], 48)
        assert iterators[0].provide_data == [("data", (BATCH,) + SMALL)]
    finally:
        for iterator in iterators:
            iterator.close()


def test_ndarray_iter_pads_a_trainer_with_an_empty_part_to_the_same_count(daemons):
    data = np.arange(20, dtype=np.float32).reshape(20, 1)

    def make(rank):
        return iterd.NDArrayIter(data, np.arange(20), batch_size=3,
                                 server=_addresses(daemons), rank=rank, world_size=WORLD_SIZE)

    epochs, iterators = _run_trainers(make, epochs=2)
    try:
        # ceil(20 / 6) = 4 per part: 4,4,4 | 4,4,0 samples, 2+2+2 | 2+2+0 batches.
        for number in range(2):
            assert [len(e[number]) for e in epochs] == [6, 6]
            _assert_exactly_once([real_labels(e[number]) for e in epochs], 20)
    finally:
        for iterator in iterators:
            iterator.close()


def test_one_trainer_on_three_daemons_without_an_index_reads_every_record_once(daemons):
    with iterd.ImageRecordIter(path_imgrec="labelled.rec", data_shape=SMALL, batch_size=BATCH,
                               server=_addresses(daemons)) as iterator:
        assert iterator.batches_per_epoch is None
        _assert_exactly_once([real_labels(list(iterator))], RECORDS)
        assert all(iterator.daemon_batches[a] > 0 for a in _addresses(daemons))


def test_addresses_parse_ipv6_names_and_lists_and_reject_malformed_ones():
    assert sharded_iter.resolve_daemons("[::1]:7, 127.0.0.1:9 ,127.0.0.1:8") == [
        "127.0.0.1:8", "127.0.0.1:9", "[::1]:7"]
    assert sharded_iter.resolve_daemons(["127.0.0.1:8", "127.0.0.1:8"]) == ["127.0.0.1:8"]
    with pytest.raises(iterd.InvalidArgument, match="HOST:PORT"):
        sharded_iter.resolve_daemons(["127.0.0.1"])
    with pytest.raises(iterd.Unavailable, match="does not resolve"):
        sharded_iter.resolve_daemons("no-such-host.invalid:1")
    assert sharded_iter.wants_sharding(["a:1"])
    assert sharded_iter.wants_sharding("a:1,b:2")
    assert sharded_iter.wants_sharding("a:1", rank=0, world_size=1)
    assert not sharded_iter.wants_sharding("a:1")


def test_bad_rank_balance_and_failure_mode_are_refused_before_any_traffic():
    for keywords, pattern in (({"rank": 2, "world_size": 2}, "rank"),
                              ({"rank": 0, "world_size": 2, "balance": "even"}, "balance"),
                              ({"rank": 0, "world_size": 2, "on_daemon_failure": "retry"},
                               "on_daemon_failure"),
                              ({"rank": 0, "world_size": 2, "num_parts": 3}, "num_parts")):
        with pytest.raises(iterd.InvalidArgument, match=pattern):
            iterd.ImageRecordIter(path_imgrec="x.rec", data_shape=SMALL, batch_size=2,
                                  server=["127.0.0.1:1"], **keywords)


def test_ceil_split_sizes_match_the_daemons_part_formula():
    assert sharded_iter.ceil_split_sizes(50, 6) == [9, 9, 9, 9, 9, 5]
    assert sharded_iter.ceil_split_sizes(7, 6) == [2, 2, 2, 1, 0, 0]
    assert sum(sharded_iter.ceil_split_sizes(1001, 12)) == 1001


def test_one_address_without_rank_keeps_the_plain_iterator(daemons):
    with iterd.ImageRecordIter(path_imgrec="labelled.rec", data_shape=SMALL, batch_size=BATCH,
                               server=daemons[0].address) as iterator:
        assert isinstance(iterator, iterd.RemoteIter)
        assert len(real_labels(list(iterator))) == RECORDS


def test_two_trainers_without_an_index_need_num_batches(daemons):
    with pytest.raises(iterd.InvalidArgument, match="path_imgidx, or num_batches"):
        iterd.ImageRecordIter(path_imgrec="labelled.rec", data_shape=SMALL, batch_size=BATCH,
                              server=_addresses(daemons), rank=0, world_size=2)
    # With num_batches the byte-range parts work; coverage is still exactly once when the
    # count is large enough (pad).
    epochs, iterators = _run_trainers(lambda rank: iterd.ImageRecordIter(
        path_imgrec="labelled.rec", data_shape=SMALL, batch_size=BATCH,
        server=_addresses(daemons), rank=rank, world_size=WORLD_SIZE, num_batches=12))
    try:
        assert [len(e[0]) for e in epochs] == [12, 12]
        _assert_exactly_once([real_labels(e[0]) for e in epochs], RECORDS)
    finally:
        for iterator in iterators:
            iterator.close()


def _big_iter(addresses, rank, **overrides):
    parameters = dict(path_imgrec="big.rec", path_imgidx="big.idx", data_shape=SMALL,
                      batch_size=2, server=addresses, rank=rank, world_size=WORLD_SIZE,
                      max_batches=1)
    parameters.update(overrides)
    return iterd.ImageRecordIter(**parameters)


def _kill(daemon):
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()


def test_killed_daemon_fails_the_epoch_naming_that_daemon_and_part(fresh_daemons):
    addresses = _addresses(fresh_daemons)
    iterators = [_big_iter(addresses, rank) for rank in range(WORLD_SIZE)]
    try:
        for iterator in iterators:
            for _ in range(DAEMONS):
                next(iterator)
        victim = fresh_daemons[1]
        _kill(victim)
        for rank, iterator in enumerate(iterators):
            with pytest.raises(sharded_iter.DaemonFailure) as failure:
                list(iterator)
            assert failure.value.address == victim.address
            assert victim.address in str(failure.value)
            # Trainer r reads part r * D + d from daemon d, daemons in address order.
            part = rank * DAEMONS + iterator.addresses.index(victim.address)
            assert failure.value.part_index == part
            assert "part %d of 6" % part in str(failure.value)
            # The epoch stays failed: no hang, the same error again.
            with pytest.raises(sharded_iter.DaemonFailure):
                next(iterator)
    finally:
        for iterator in iterators:
            iterator.close()


def test_reassign_rereads_the_dead_daemons_parts_and_the_epoch_stays_exactly_once(
        fresh_daemons):
    addresses = _addresses(fresh_daemons)
    iterators = [_big_iter(addresses, rank, shuffle=True, on_daemon_failure="reassign")
                 for rank in range(WORLD_SIZE)]
    try:
        first = [list(iterator) for iterator in iterators]
        _assert_exactly_once([real_labels(b) for b in first], BIG_RECORDS)
        # Epoch 2 (a new shuffle): a few batches from every daemon, then daemon 1 dies.
        second = []
        for iterator in iterators:
            iterator.reset()
            second.append([next(iterator) for _ in range(2 * DAEMONS)])
        victim = fresh_daemons[1]
        _kill(victim)
        for number, iterator in enumerate(iterators):
            second[number].extend(iterator)
        _assert_exactly_once([real_labels(b) for b in second], BIG_RECORDS)
        assert [len(b) for b in second] == [30, 30]
        for iterator in iterators:
            assert iterator.failed_daemons == {victim.address}
            assert victim.address not in iterator.part_addresses().values()
        # Epoch 3 runs on the survivors only.
        third = []
        for iterator in iterators:
            iterator.reset()
            third.append(list(iterator))
        _assert_exactly_once([real_labels(b) for b in third], BIG_RECORDS)
    finally:
        for iterator in iterators:
            iterator.close()
