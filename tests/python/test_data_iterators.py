"""User-built iterators: iterd.DataIter / DataBatch / DataDesc, ResizeIter and PrefetchingIter.

The tutorial's "Custom Iterator" SimpleIter runs as written (mx.io. -> iterd., mx.nd.array ->
np.array); the wrappers run over local DataIters and over real iterators of the test daemon.
"""
import gc
import os
import threading
import time

import numpy as np
import pytest

import iterd
from helpers import wait_for
from image_data import write_labelled_rec

# The tutorial's "Custom Iterator" snippet, verbatim but for mx.io. / mx.nd.array.
SIMPLE_ITER = """
class SimpleIter(mx.io.DataIter):
    def __init__(self, data_names, data_shapes, data_gen,
                 label_names, label_shapes, label_gen, num_batches=10):
        self._provide_data = zip(data_names, data_shapes)
        self._provide_label = zip(label_names, label_shapes)
        self.num_batches = num_batches
        self.data_gen = data_gen
        self.label_gen = label_gen
        self.cur_batch = 0

    def __iter__(self):
        return self

    def reset(self):
        self.cur_batch = 0

    def __next__(self):
        return self.next()

    @property
    def provide_data(self):
        return self._provide_data

    @property
    def provide_label(self):
        return self._provide_label

    def next(self):
        if self.cur_batch < self.num_batches:
            self.cur_batch += 1
            data = [mx.nd.array(g(d[1])) for d,g in zip(self._provide_data, self.data_gen)]
            label = [mx.nd.array(g(d[1])) for d,g in zip(self._provide_label, self.label_gen)]
            return mx.io.DataBatch(data, label)
        else:
            raise StopIteration
"""

# The tutorial's use of it (before mod.fit).
SIMPLE_ITER_USE = """
n = 32
data_iter = SimpleIter(['data'], [(n, 100)],
                  [lambda s: np.random.uniform(-1, 1, s)],
                  ['softmax_label'], [(n,)],
                  [lambda s: np.random.randint(0, num_classes, s)])
"""

PREFETCH_THREAD_PREFIX = "iterd-prefetch-"
CALL_TIMEOUT_SECONDS = 20


def simple_iter_class():
    namespace = {"iterd": iterd, "np": np}
    source = SIMPLE_ITER.replace("mx.io.", "iterd.").replace("mx.nd.array", "np.array")
    exec(source, namespace)  # pylint: disable=exec-used
    return namespace["SimpleIter"]


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith(PREFETCH_THREAD_PREFIX)]


def call_with_timeout(function, *args):
    """function(*args) in a thread: its result, or its exception re-raised; fails on a hang."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function(*args)
        except BaseException as error:  # pylint: disable=broad-except
            outcome["error"] = error

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(CALL_TIMEOUT_SECONDS)
    if runner.is_alive():
        pytest.fail("%s did not return within %d s" % (function, CALL_TIMEOUT_SECONDS))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def first_column(batch):
    return batch.data[0][:, 0].astype(int).tolist()


class CountingIter(iterd.DataIter):
    """Local iterator over the MXNet lower-level protocol: batch k is k (batch_size rows of it).

    Optionally raises `error` instead of batch `fail_at`, sleeps `delay` seconds per batch,
    or reports `last_pad` as the pad of its last batch. Counts next()/reset() calls.
    """

    def __init__(self, num_batches, batch_size=2, name="data", fail_at=None, error=None,
                 delay=0.0, last_pad=0):
        super(CountingIter, self).__init__(batch_size)
        self.num_batches = num_batches
        self.fail_at = fail_at
        self.error = error
        self.delay = delay
        self.last_pad = last_pad
        self.cursor = -1
        self.next_calls = 0
        self.reset_calls = 0
        self.provide_data = [iterd.DataDesc(name, (batch_size, 1))]
        self.provide_label = [iterd.DataDesc(name + "_label", (batch_size,))]

    def iter_next(self):
        self.next_calls += 1
        time.sleep(self.delay)
        if self.cursor + 1 == self.fail_at:
            self.fail_at = None  # Fails once: after reset() the iterator works again.
            raise self.error
        if self.cursor + 1 >= self.num_batches:
            return False
        self.cursor += 1
        return True

    def getdata(self):
        return [np.full((self.batch_size, 1), self.cursor, dtype=np.float32)]

    def getlabel(self):
        return [np.full((self.batch_size,), 10 * self.cursor, dtype=np.float32)]

    def getpad(self):
        return self.last_pad if self.cursor == self.num_batches - 1 else 0

    def reset(self):
        self.reset_calls += 1
        self.cursor = -1


# ----- DataIter -----


def test_tutorial_simple_iter_runs_as_written_and_describes_every_batch():
    simple_iter = simple_iter_class()
    namespace = {"SimpleIter": simple_iter, "np": np, "num_classes": 10}
    exec(SIMPLE_ITER_USE, namespace)  # pylint: disable=exec-used
    data_iter = namespace["data_iter"]
    assert isinstance(data_iter, iterd.DataIter)
    assert data_iter.provide_data == [("data", (32, 100))]
    assert data_iter.provide_label == [("softmax_label", (32,))]
    assert isinstance(data_iter.provide_data[0], iterd.DataDesc)
    assert data_iter.batch_size == 0  # SimpleIter never sets it; MXNet's default.
    for epoch in range(2):
        if epoch:
            data_iter.reset()
        batches = list(data_iter)
        assert len(batches) == 10
        for batch in batches:
            # Under Python 3 a bare zip would be empty from the second batch on.
            assert [d.shape for d in batch.data] == [(32, 100)]
            assert [l.shape for l in batch.label] == [(32,)]
            assert batch.label[0].min() >= 0 and batch.label[0].max() < 10
    with pytest.raises(StopIteration):
        next(data_iter)


def test_simple_iter_feeds_logistic_regression_whose_loss_falls():
    simple_iter = simple_iter_class()
    rng = np.random.RandomState(7)
    true_weights = rng.normal(size=20)
    last_data = {}

    def data_gen(shape):
        last_data["x"] = rng.uniform(-1, 1, shape)
        return last_data["x"]

    def label_gen(shape):  # SimpleIter draws data first, so labels can follow it.
        return (last_data["x"] @ true_weights > 0).astype(np.float64).reshape(shape)

    data_iter = simple_iter(["data"], [(64, 20)], [data_gen], ["softmax_label"], [(64,)],
                            [label_gen], num_batches=20)
    weights = np.zeros(20)
    epoch_losses = []
    for epoch in range(5):
        data_iter.reset()
        losses = []
        for batch in data_iter:
            x, y = batch.data[0], batch.label[0]
            p = 1.0 / (1.0 + np.exp(-(x @ weights)))
            losses.append(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
            weights -= 1.0 * x.T @ (p - y) / len(y)
        assert len(losses) == 20
        epoch_losses.append(np.mean(losses))
    assert all(b < a for a, b in zip(epoch_losses, epoch_losses[1:]))
    assert epoch_losses[-1] < 0.5 * epoch_losses[0]


def test_default_next_combines_iter_next_and_the_getters():
    it = CountingIter(3, batch_size=2, last_pad=1)
    batches = list(it)
    assert [b.data[0][:, 0].tolist() for b in batches] == [[0, 0], [1, 1], [2, 2]]
    assert [b.label[0].tolist() for b in batches] == [[0, 0], [10, 10], [20, 20]]
    assert [b.pad for b in batches] == [0, 0, 1]
    assert all(b.index is None for b in batches)
    with pytest.raises(StopIteration):
        it.next()
    it.reset()
    assert len(list(it)) == 3


def test_base_data_iter_without_iter_next_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="iter_next"):
        next(iterd.DataIter())
    plain = iterd.DataIter(batch_size=4)
    assert plain.batch_size == 4 and plain.provide_data == [] and plain.provide_label == []
    plain.reset()  # Nothing to rewind, no error.


def test_remote_iterators_are_data_iters(address):
    with iterd.NDArrayIter(np.arange(8).reshape(4, 2), batch_size=2, server=address) as it:
        assert isinstance(it, iterd.DataIter)
        assert it.provide_data == [("data", (2, 2))]
        assert it.iter_next() and it.getdata()[0].tolist() == [[0, 1], [2, 3]]
        assert it.getpad() == 0 and it.getindex() is None


class CaptionIter(iterd.DataIter):
    """The tutorial's captioning recipe: next() joins an image batch and a caption batch."""

    def __init__(self, image_iter, caption_iter):
        super(CaptionIter, self).__init__(image_iter.batch_size)
        self.image_iter = image_iter
        self.caption_iter = caption_iter
        self.provide_data = image_iter.provide_data
        self.provide_label = [iterd.DataDesc("caption", d.shape)
                              for d in caption_iter.provide_data]

    def reset(self):
        self.image_iter.reset()
        self.caption_iter.reset()

    def next(self):
        images = self.image_iter.next()
        captions = self.caption_iter.next()
        return iterd.DataBatch(images.data, captions.data, pad=images.pad, index=images.index,
                               provide_data=self.provide_data, provide_label=self.provide_label)


def test_caption_iterator_joins_remote_images_with_local_captions(daemon):
    write_labelled_rec(os.path.join(str(daemon.data_root), "captions.rec"), 12)
    captions = (np.arange(12)[:, None] * 100 + np.arange(5)[None, :]).astype(np.float32)
    class LocalCaptions(iterd.DataIter):
        def __init__(self):
            super(LocalCaptions, self).__init__(4)
            self.provide_data = [iterd.DataDesc("tokens", (4, 5))]
            self.cursor = 0

        def iter_next(self):
            self.cursor += 4
            return self.cursor <= len(captions)

        def getdata(self):
            return [captions[self.cursor - 4:self.cursor]]

        def getpad(self):
            return 0

        def reset(self):
            self.cursor = 0

    with iterd.ImageRecordIter(path_imgrec="captions.rec", data_shape=(3, 16, 16), batch_size=4,
                               server=daemon.address) as image_iter:
        it = CaptionIter(image_iter, LocalCaptions())
        assert it.provide_label == [("caption", (4, 5))]
        for epoch in range(2):
            if epoch:
                it.reset()
            batches = list(it)
            assert len(batches) == 3
            for k, batch in enumerate(batches):
                assert batch.data[0].shape == (4, 3, 16, 16)
                assert batch.label[0].tolist() == captions[4 * k:4 * k + 4].tolist()
                assert str(batch) == ("DataBatch: data shapes: [(4, 3, 16, 16)] "
                                      "label shapes: [(4, 5)]")


def test_caption_iterator_joins_two_remote_ndarray_iters(address):
    images = np.arange(6 * 3, dtype=np.float32).reshape(6, 3)
    captions = np.arange(6 * 2, dtype=np.float32).reshape(6, 2) + 1000
    with iterd.NDArrayIter(images, batch_size=3, server=address) as image_iter, \
            iterd.NDArrayIter(captions, batch_size=3, server=address) as caption_iter:
        batches = list(CaptionIter(image_iter, caption_iter))
    assert np.concatenate([b.data[0] for b in batches]).tolist() == images.tolist()
    assert np.concatenate([b.label[0] for b in batches]).tolist() == captions.tolist()


# ----- DataBatch and DataDesc -----


def test_data_batch_str_prints_shapes_as_mxnet():
    assert str(iterd.DataBatch([np.zeros((2, 3))])) == \
        "DataBatch: data shapes: [(2, 3)] label shapes: None"
    assert str(iterd.DataBatch([np.zeros((2, 3))], [])) == \
        "DataBatch: data shapes: [(2, 3)] label shapes: None"
    assert str(iterd.DataBatch([np.zeros((2, 3)), np.zeros((2,))], [np.zeros((2, 1))])) == \
        "DataBatch: data shapes: [(2, 3), (2,)] label shapes: [(2, 1)]"
    with pytest.raises(AssertionError, match="list of arrays"):
        iterd.DataBatch(np.zeros((2, 3)))


def test_data_batch_keeps_every_field():
    descs = [iterd.DataDesc("data", (2, 3))]
    batch = iterd.DataBatch([np.zeros((2, 3))], None, pad=1, index=np.arange(2, dtype=np.uint64),
                            bucket_key=7, provide_data=descs, provide_label=[])
    assert (batch.pad, batch.bucket_key, batch.provide_data, batch.provide_label) == \
        (1, 7, descs, [])
    assert batch.index.dtype == np.uint64 and batch.label is None


def test_data_desc_compares_as_name_and_shape_and_prints_all_four_fields():
    desc = iterd.DataDesc("data", [3, 2, 2])
    assert desc == ("data", (3, 2, 2)) == iterd.DataDesc("data", (3, 2, 2), np.uint8, "NHWC")
    name, shape = desc
    assert (name, shape) == ("data", (3, 2, 2))
    assert repr(desc) == "DataDesc[data,(3, 2, 2),<class 'numpy.float32'>,NCHW]"
    replaced = iterd.DataDesc("x", (2,), np.int32, "N")._replace(name="y")
    assert repr(replaced) == "DataDesc[y,(2,),<class 'numpy.int32'>,N]"
    assert iterd.DataDesc.get_batch_axis(None) == 0
    assert iterd.DataDesc.get_batch_axis("NCHW") == 0
    assert iterd.DataDesc.get_batch_axis("TNC") == 1
    assert iterd.DataDesc.get_batch_axis("CHW") == -1
    listed = iterd.DataDesc.get_list([("a", (1, 2)), ("b", (3,))], [("a", np.int32), ("b", "f2")])
    assert listed == [("a", (1, 2)), ("b", (3,))]
    assert [d.dtype for d in listed] == [np.int32, "f2"]
    assert [d.dtype for d in iterd.DataDesc.get_list([("a", (1,))], None)] == [np.float32]


# ----- ResizeIter -----


def test_resize_iter_doc_example_gives_two_batches_of_25_by_10(address):
    with iterd.NDArrayIter(np.ones((100, 10)), batch_size=25, server=address) as nd_iter:
        resize_iter = iterd.ResizeIter(nd_iter, 2)
        batches = list(resize_iter)
        assert [b.data[0].shape for b in batches] == [(25, 10), (25, 10)]
        assert np.all(batches[0].data[0] == 1)
        assert resize_iter.batch_size == 25
        assert resize_iter.provide_data == [("data", (25, 10))]
        resize_iter.reset()
        assert len(list(resize_iter)) == 2


def test_resize_iter_longer_than_the_epoch_wraps_around_with_reset(address):
    data = np.arange(40).reshape(20, 2)  # 4 batches of 5 per inner epoch.
    with iterd.NDArrayIter(data, batch_size=5, server=address) as nd_iter:
        resize_iter = iterd.ResizeIter(nd_iter, 6)
        firsts = [first_column(b)[0] for b in resize_iter]
        assert firsts == [0, 10, 20, 30, 0, 10]
        resize_iter.reset()  # reset_internal: the inner iterator restarts too.
        assert [first_column(b)[0] for b in resize_iter] == [0, 10, 20, 30, 0, 10]


def test_resize_iter_without_reset_internal_continues_the_inner_epoch():
    inner = CountingIter(4)
    resize_iter = iterd.ResizeIter(inner, 3, reset_internal=False)
    epochs = []
    for epoch in range(3):
        if epoch:
            resize_iter.reset()
        epochs.append([int(b.data[0][0, 0]) for b in resize_iter])
    assert epochs == [[0, 1, 2], [3, 0, 1], [2, 3, 0]]
    with pytest.raises(ValueError, match="size"):
        iterd.ResizeIter(inner, -1)


# ----- PrefetchingIter -----


def test_prefetching_iter_joins_two_remote_iters_with_renames(address):
    data_a = np.arange(20).reshape(10, 2)
    data_b = 100 + np.arange(30).reshape(10, 3)
    label_a = np.arange(10)
    label_b = 10 * np.arange(10)
    with iterd.NDArrayIter(data_a, label_a, batch_size=4, server=address) as it_a, \
            iterd.NDArrayIter(data_b, label_b, batch_size=4, server=address) as it_b:
        with iterd.PrefetchingIter([it_a, it_b],
                                   rename_data=[{"data": "data_a"}, {"data": "data_b"}],
                                   rename_label=[{"softmax_label": "label_a"},
                                                 {"softmax_label": "label_b"}]) as it:
            assert it.provide_data == [("data_a", (4, 2)), ("data_b", (4, 3))]
            assert it.provide_label == [("label_a", (4,)), ("label_b", (4,))]
            assert it.batch_size == 4
            for epoch in range(2):
                if epoch:
                    it.reset()
                batches = list(it)
                assert [b.pad for b in batches] == [0, 0, 2]
                for k, batch in enumerate(batches):
                    rows = [(4 * k + i) % 10 for i in range(4)]  # pad wraps to the start.
                    assert batch.data[0].tolist() == data_a[rows].tolist()
                    assert batch.data[1].tolist() == data_b[rows].tolist()
                    assert batch.label[0].tolist() == label_a[rows].tolist()
                    assert batch.label[1].tolist() == label_b[rows].tolist()
                    assert batch.provide_data == it.provide_data
                    assert batch.provide_label == it.provide_label
                    assert str(batch) == ("DataBatch: data shapes: [(4, 2), (4, 3)] "
                                          "label shapes: [(4,), (4,)]")


def test_prefetching_iter_reads_exactly_one_batch_ahead():
    inner = CountingIter(5)
    with iterd.PrefetchingIter(inner) as it:
        deadline = time.time() + CALL_TIMEOUT_SECONDS
        while inner.next_calls < 1 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert inner.next_calls == 1  # Bounded: one batch read ahead, no more.
        assert int(it.next().data[0][0, 0]) == 0
        time.sleep(0.2)
        assert inner.next_calls == 2
        assert it.provide_data == [("data", (2, 1))] and it.batch_size == 2


def test_prefetching_iter_reset_mid_epoch_restarts_every_inner_iter(address):
    data = np.arange(24).reshape(12, 2)
    with iterd.NDArrayIter(data, batch_size=3, server=address) as remote:
        local = CountingIter(4, batch_size=3)
        with iterd.PrefetchingIter([remote, local]) as it:
            first = it.next()
            assert first_column(first) == [0, 2, 4] and first.data[1][:, 0].tolist() == [0] * 3
            it.next()
            it.reset()
            batches = list(it)
            assert [first_column(b)[0] for b in batches] == [0, 6, 12, 18]
            assert [int(b.data[1][0, 0]) for b in batches] == [0, 1, 2, 3]
            assert local.reset_calls == 1
            with pytest.raises(StopIteration):
                it.next()  # Exhausted until reset().


def test_prefetching_iter_refuses_unequal_pads_naming_them(address):
    with iterd.NDArrayIter(np.zeros((10, 2)), batch_size=3, server=address) as ten, \
            iterd.NDArrayIter(np.zeros((11, 2)), batch_size=3, server=address) as eleven:
        with iterd.PrefetchingIter([ten, eleven]) as it:
            assert len([it.next() for _ in range(3)]) == 3
            with pytest.raises(AssertionError, match=r"pads \[2, 1\]"):
                call_with_timeout(it.next)
            with pytest.raises(AssertionError, match="pads"):
                call_with_timeout(it.next)  # Stays refused until reset().
            it.reset()
            assert call_with_timeout(it.next).pad == 0


def test_prefetching_iter_refuses_iterators_ending_at_different_batches():
    with iterd.PrefetchingIter([CountingIter(2), CountingIter(3)]) as it:
        it.next()
        it.next()
        with pytest.raises(AssertionError, match=r"iterator\(s\) \[0\] ended the epoch"):
            call_with_timeout(it.next)


def test_prefetching_iter_reraises_an_inner_error_in_next_and_recovers_after_reset(address):
    failing = CountingIter(4, fail_at=2, error=ValueError("record 2 is damaged"))
    with iterd.NDArrayIter(np.arange(16).reshape(8, 2), batch_size=2, server=address) as remote:
        with iterd.PrefetchingIter([remote, failing]) as it:
            assert [int(it.next().data[1][0, 0]) for _ in range(2)] == [0, 1]
            with pytest.raises(ValueError, match="record 2 is damaged"):
                call_with_timeout(it.next)
            with pytest.raises(ValueError, match="record 2 is damaged"):
                call_with_timeout(it.next)
            call_with_timeout(it.reset)
            batches = call_with_timeout(list, it)
            assert [int(b.data[1][0, 0]) for b in batches] == [0, 1, 2, 3]
            assert [first_column(b) for b in batches] == [[0, 2], [4, 6], [8, 10], [12, 14]]


def test_prefetching_iter_reraises_a_remote_error(address):
    with iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2, server=address) as remote:
        remote.close()  # Its next() now raises FailedPrecondition, in the prefetch thread.
        with iterd.PrefetchingIter(remote) as it:
            with pytest.raises(iterd.FailedPrecondition, match="closed"):
                call_with_timeout(it.next)


def test_no_prefetch_thread_outlives_close_or_garbage_collection(address):
    assert prefetch_threads() == []
    slow = CountingIter(10, delay=0.3)
    with iterd.NDArrayIter(np.zeros((9, 2)), batch_size=3, server=address) as remote:
        it = iterd.PrefetchingIter([remote, slow])
        assert len(prefetch_threads()) == 2
        it.next()  # The slow thread is now inside its next() call: close() waits for it.
        call_with_timeout(it.close)
        assert prefetch_threads() == []
        it.close()  # Idempotent.
        with pytest.raises(iterd.FailedPrecondition, match="closed"):
            it.next()

        abandoned = iterd.PrefetchingIter([CountingIter(3)])
        assert len(prefetch_threads()) == 1
        del abandoned
        gc.collect()
        # __del__ does not join (it may run on any thread): the idle thread sees the stop
        # request and exits on its own, promptly.
        assert wait_for(lambda: prefetch_threads() == [], timeout=10)
        # The inner iterators were not closed: their owner still reads them.
        remote.reset()
        assert [b.data[0].shape for b in remote] == [(3, 2)] * 3


def test_prefetching_iter_validates_rename_lists():
    with pytest.raises(ValueError, match="rename_data must be a list of 2 dicts"):
        iterd.PrefetchingIter([CountingIter(1), CountingIter(1)], rename_data=[{}])
    with pytest.raises(ValueError, match="at least one"):
        iterd.PrefetchingIter([])
    assert prefetch_threads() == []


def test_wrappers_compose_resize_inside_prefetching(address):
    with iterd.NDArrayIter(np.arange(12).reshape(6, 2), batch_size=3, server=address) as remote:
        with iterd.PrefetchingIter(iterd.ResizeIter(remote, 5)) as it:
            assert [first_column(b)[0] for b in it] == [0, 6, 0, 6, 0]
