"""Resumable ResizeIter, PrefetchingIter and many-daemon iterators against real daemons.

As test_resume.py does for the plain iterators: with shuffle and random augmentation on, an
uninterrupted run of three epochs (one of them reset half-way) records every batch byte for byte
and the iterator's state_dict() after every step (batch, end of epoch, reset). The daemons are then
killed with SIGKILL and new ones started; at every cut (the start, mid-epoch, the last batch, the
end of an epoch, after a reset) a freshly built iterator loads the JSON round-tripped state and must
produce the rest of the run exactly. The wrappers read ahead (PrefetchingIter's threads, the
sharded iterator's fetch threads), so a state of where the inner iterators are rather than of the
batch the user got would fail here.
"""
import json

import numpy as np
import pytest

import iterd
from conftest import start_daemon, stop_daemon
import image_data
from resume_checks import assert_every_cut_resumes, render

# Batches read per epoch (None: to the end of the epoch, then reset): the second epoch is reset
# after two batches, so cuts fall after a mid-epoch reset too.
PLAN = (None, 2, None)
SHARDED_RECORDS = 22  # 4 parts of ceil(22 / 4) = 6 records: 6, 6, 6, 4.
SMALL = (3, 32, 32)


class _Owning(object):
    """A wrapper with the iterators it wraps: closes all of them (wrappers own none)."""

    def __init__(self, wrapper, inner):
        self.wrapper = wrapper
        self.inner = inner

    def __enter__(self):
        return self.wrapper

    def __exit__(self, exc_type, exc_value, traceback):
        if hasattr(self.wrapper, "close"):
            self.wrapper.close()
        for iterator in self.inner:
            iterator.close()


def _image_records(address, batch_size):
    return iterd.ImageRecordIter(
        path_imgrec="f_images.rec", path_imgidx="f_images.idx", data_shape=(3, 16, 16),
        batch_size=batch_size, shuffle=True, rand_crop=True, rand_mirror=True,
        max_rotate_angle=10, preprocess_threads=2, server=address)


def _arrays(address, samples, batch_size, last_batch_handle="pad"):
    return iterd.NDArrayIter(
        np.arange(samples * 3, dtype=np.float32).reshape(samples, 3),
        np.arange(samples, dtype=np.float32), batch_size=batch_size, shuffle=True,
        last_batch_handle=last_batch_handle, server=address)


def _resize_wrapping_around(address):
    # 20 records in batches of 6: the inner epoch ends (and is reset) inside every resized one.
    inner = _image_records(address, 6)
    return _Owning(iterd.ResizeIter(inner, 6), [inner])


def _resize_continuing_the_inner_epoch(address):
    inner = _arrays(address, 23, 5, "roll_over")
    return _Owning(iterd.ResizeIter(inner, 3, reset_internal=False), [inner])


def _prefetching_two(address):
    # 20 samples in batches of 5 for both: equal batch counts and pads, as PrefetchingIter needs.
    inner = [_image_records(address, 5), _arrays(address, 20, 5)]
    return _Owning(iterd.PrefetchingIter(inner, rename_data=[{"data": "image"}, {}],
                                         rename_label=[{"softmax_label": "image_label"}, {}]),
                   inner)


def _prefetching_around_resize(address):
    inner = _image_records(address, 6)
    return _Owning(iterd.PrefetchingIter(iterd.ResizeIter(inner, 5)), [inner])


def _resize_around_prefetching(address):
    inner = _arrays(address, 23, 5)
    prefetching = iterd.PrefetchingIter(inner)
    return _Owning(iterd.ResizeIter(prefetching, 7), [prefetching, inner])


WRAPPERS = {
    "resize_wrapping_around": _resize_wrapping_around,
    "resize_continuing_the_inner_epoch": _resize_continuing_the_inner_epoch,
    "prefetching_two": _prefetching_two,
    "prefetching_around_resize": _prefetching_around_resize,
    "resize_around_prefetching": _resize_around_prefetching,
}


def _sharded_records(addresses, rank, **overrides):
    parameters = dict(path_imgrec="labelled.rec", path_imgidx="labelled.idx", data_shape=SMALL,
                      batch_size=4, shuffle=True, rand_crop=True, rand_mirror=True,
                      server=addresses, rank=rank, world_size=2)
    parameters.update(overrides)
    return iterd.ImageRecordIter(**parameters)


SHARDED = {
    # Parts 2 and 3 (6 and 4 records): a short batch filled with its part's first rows, a part
    # that ends first, and a filler batch (rank 0 has 4 batches, rank 1 3).
    "image_record_rank1": lambda addresses: _sharded_records(addresses, 1),
    "image_record_rank0": lambda addresses: _sharded_records(addresses, 0),
    "ndarray": lambda addresses: iterd.NDArrayIter(
        np.arange(23 * 3, dtype=np.float32).reshape(23, 3), np.arange(23, dtype=np.float32),
        batch_size=4, shuffle=True, server=addresses, rank=1, world_size=2),
    "image_iter": lambda addresses: iterd.ImageIter(
        4, SMALL, path_imgrec="labelled.rec", path_imgidx="labelled.idx", shuffle=True,
        rand_mirror=True, brightness=0.2, server=addresses, rank=0, world_size=2),
}


def _data_root(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    image_data.copy_reference(str(root))
    image_data.write_labelled_rec(str(root / "labelled.rec"), SHARDED_RECORDS)
    return root


@pytest.fixture
def restartable_daemons(tmp_path):
    """start(count) -> addresses of `count` daemons on one data root; restart() kills them all
    with SIGKILL and starts as many new ones, returning their addresses; start.kill(address)
    kills one with SIGKILL."""
    root = _data_root(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    running = []

    def start(count):
        for _ in range(count):
            running.append(start_daemon(root, logs / ("iterd%d.stderr" % len(running))))
        return [daemon.address for daemon in running[-count:]]

    def restart():
        alive = [daemon for daemon in running if daemon.process.poll() is None]
        for daemon in alive:
            daemon.process.kill()  # SIGKILL: nothing is saved on the way out.
            daemon.process.wait()
        return start(len(alive))

    def kill(address):
        for daemon in running:
            if daemon.address == address:
                daemon.process.kill()
                daemon.process.wait()

    start.kill = kill
    yield start, restart
    for daemon in running:
        if daemon.process.poll() is None:
            stop_daemon(daemon)


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
def test_every_cut_of_a_wrapper_resumes_on_a_new_daemon(restartable_daemons, kind):
    start, restart = restartable_daemons
    address = start(1)[0]
    assert_every_cut_resumes(WRAPPERS[kind], address, lambda: restart()[0], PLAN)


@pytest.mark.parametrize("kind", sorted(SHARDED))
def test_every_cut_of_a_sharded_iterator_resumes_on_two_new_daemons(restartable_daemons, kind):
    start, restart = restartable_daemons
    addresses = start(2)
    assert_every_cut_resumes(SHARDED[kind], addresses, restart, PLAN)


def test_the_sharded_runs_cover_their_short_batches_and_fillers(restartable_daemons):
    """The cuts above pass through what the sharded state has to rebuild: here, that they do."""
    start, _ = restartable_daemons
    addresses = start(2)
    with SHARDED["image_record_rank1"](addresses) as iterator:
        batches = list(iterator)
        assert iterator.batches_per_epoch == 4
    assert [batch.pad for batch in batches] == [0, 0, 2, 4]
    labels = [np.asarray(batch.label[0]).astype(int).tolist() for batch in batches]
    # The short batch of part 2 (records 12..17) ends with that part's first rows, and the
    # filler repeats the epoch's first batch.
    assert labels[2][2:] == labels[0][:2]
    assert labels[3] == labels[0]
    assert sorted(labels[0] + labels[2][:2]) == list(range(12, 18))
    assert sorted(labels[1]) == list(range(18, 22))


def test_loading_into_a_used_iterator_discards_what_it_read_ahead(restartable_daemons):
    start, _ = restartable_daemons
    addresses = start(2)
    makers = [SHARDED["image_record_rank1"], lambda a: WRAPPERS["prefetching_two"](a[0])]
    for make in makers:
        with make(addresses) as iterator:
            iterator.next()
            saved = iterator.state_dict()
            expected = [render(batch) for batch in iterator]
            iterator.reset()
            iterator.next()
            iterator.load_state_dict(saved)
            assert [render(batch) for batch in iterator] == expected


class _Counting(iterd.DataIter):
    """A user-written iterator without state_dict()."""

    def __init__(self, count):
        super(_Counting, self).__init__(batch_size=2)
        self.count = count
        self.position = 0
        self._provide_data = [("data", (2, 1))]

    def next(self):
        if self.position == self.count:
            raise StopIteration
        self.position += 1
        return iterd.DataBatch([np.full((2, 1), self.position, np.float32)], [], pad=0)

    def reset(self):
        self.position = 0


def test_wrapping_an_iterator_without_state_dict_fails_only_when_saving():
    resize = iterd.ResizeIter(_Counting(3), 2)
    assert len(list(resize)) == 2
    with pytest.raises(iterd.FailedPrecondition, match="ResizeIter wraps a _Counting"):
        resize.state_dict()
    with pytest.raises(iterd.FailedPrecondition, match="_Counting, which has no "
                                                       "load_state_dict"):
        resize.load_state_dict({"format": "iterd.ResizeIter/1", "size": 2, "batches": 0,
                                "inner": {}})
    with iterd.PrefetchingIter([_Counting(3)]) as prefetching:
        assert len(list(prefetching)) == 3
        with pytest.raises(iterd.FailedPrecondition, match=r"iterator 0\) wraps a _Counting"):
            prefetching.state_dict()


def test_states_of_other_iterators_are_refused_and_harm_nothing(restartable_daemons):
    start, _ = restartable_daemons
    address = start(1)[0]
    with _resize_wrapping_around(address) as resize:
        resize.next()
        state = resize.state_dict()
    with _prefetching_two(address) as prefetching:
        prefetching_state = prefetching.state_dict()
    inner = _image_records(address, 6)
    with _Owning(iterd.ResizeIter(inner, 5), [inner]) as other:
        other.next()
        with pytest.raises(iterd.FailedPrecondition, match="its size is 6, this iterator's is 5"):
            other.load_state_dict(state)
        with pytest.raises(iterd.InvalidArgument, match="format"):
            other.load_state_dict(prefetching_state)
        with pytest.raises(iterd.InvalidArgument, match="batches"):
            other.load_state_dict(dict(state, size=5, batches=9))
        assert other.cur == 1
    with _resize_wrapping_around(address) as resize:
        resize.next()
        expected = [render(batch) for batch in resize]
    with _resize_wrapping_around(address) as resize:
        resize.next()
        damaged = json.loads(json.dumps(state))
        damaged["inner"]["state"] = "AAAA"
        with pytest.raises(iterd.InvalidArgument):
            resize.load_state_dict(damaged)
        assert [render(batch) for batch in resize] == expected
    with _prefetching_two(address) as prefetching:
        with iterd.PrefetchingIter([prefetching]) as outer:
            with pytest.raises(iterd.FailedPrecondition, match="holds 2 inner states, this "
                                                               "iterator has 1"):
                outer.load_state_dict(prefetching_state)


def test_a_prefetching_load_refused_half_way_leaves_it_unusable_until_a_good_load(
        restartable_daemons):
    start, _ = restartable_daemons
    address = start(1)[0]
    with _prefetching_two(address) as prefetching:
        prefetching.next()
        good = prefetching.state_dict()
        expected = [render(batch) for batch in prefetching]
        prefetching.reset()
        # Refused by the first inner iterator: nothing moved, the run goes on.
        refused_first = json.loads(json.dumps(good))
        refused_first["iterators"][0] = good["iterators"][1]
        with pytest.raises(iterd.FailedPrecondition, match="kind"):
            prefetching.load_state_dict(refused_first)
        assert prefetching.next().pad == 0
        # Refused by the second after the first moved.
        refused_second = json.loads(json.dumps(good))
        refused_second["iterators"][1] = good["iterators"][0]
        with pytest.raises(iterd.FailedPrecondition, match="kind"):
            prefetching.load_state_dict(refused_second)
        for operation in (prefetching.next, prefetching.reset):
            with pytest.raises(iterd.FailedPrecondition, match="load a state again"):
                operation()
        prefetching.load_state_dict(good)
        assert [render(batch) for batch in prefetching] == expected


def test_a_sharded_state_of_another_rank_is_refused_and_harms_nothing(restartable_daemons):
    start, _ = restartable_daemons
    addresses = start(2)
    with SHARDED["image_record_rank0"](addresses) as rank0:
        rank0.next()
        state = rank0.state_dict()
    with SHARDED["image_record_rank1"](addresses) as reference:
        reference.next()
        expected = [render(batch) for batch in reference]
    with SHARDED["image_record_rank1"](addresses) as rank1:
        rank1.next()
        with pytest.raises(iterd.FailedPrecondition, match="its rank is 0, this iterator's is 1"):
            rank1.load_state_dict(state)
        own = rank1.state_dict()
        damaged = json.loads(json.dumps(own))
        damaged["parts"][1]["position"]["state"] = "AAAA"
        with pytest.raises(iterd.InvalidArgument):
            rank1.load_state_dict(damaged)
        other_part = json.loads(json.dumps(own))
        other_part["parts"][1]["position"] = state["parts"][1]["position"]
        with pytest.raises(iterd.FailedPrecondition, match="part_index"):
            rank1.load_state_dict(other_part)
        assert [render(batch) for batch in rank1] == expected


def test_a_sharded_state_saved_after_a_daemon_failed_resumes_on_new_daemons(
        restartable_daemons):
    """With on_daemon_failure="reassign" a dead daemon's part is reopened on a survivor; the
    states it gives from then on load into a part opened afresh (same configuration), and a load
    whose daemon is dead reopens the part on a survivor too."""
    start, _ = restartable_daemons

    def make(servers):
        return _sharded_records(servers, 1, batch_size=1, max_batches=1,
                                on_daemon_failure="reassign")

    with make(start(2)) as iterator:
        survivor, victim = iterator.addresses
        start.kill(victim)
        list(iterator)  # Part 3 (4 batches of 1) dies on the way and is reopened.
        assert iterator.failed_daemons == {victim}
        iterator.reset()
        for _ in range(3):
            iterator.next()
        saved = json.dumps(iterator.state_dict())
        expected = [render(batch) for batch in iterator]
    with make([survivor] + start(1)) as resumed:
        resumed.load_state_dict(json.loads(saved))
        assert [render(batch) for batch in resumed] == expected
    newcomer = start(1)[0]
    with make([survivor, newcomer]) as resumed:
        start.kill(newcomer)
        resumed.load_state_dict(json.loads(saved))
        assert resumed.failed_daemons == {newcomer}
        assert set(resumed.part_addresses().values()) == {survivor}
        assert [render(batch) for batch in resumed] == expected
