"""iterd.NDArrayIter against a real daemon: MXNet's values, pads, names, dtypes and shuffle."""
import numpy as np
import pytest

import iterd
from mxnet_model import ndarray_epochs


def samples_data(num_samples):
    """Sample i is [i, 1000 + i]: both columns tell which sample a row is."""
    return np.stack([np.arange(num_samples), 1000 + np.arange(num_samples)], axis=1)


def read_epochs(it, epochs):
    """Per epoch, (sample ids from data column 0, pad, label) for each batch."""
    result = []
    for epoch in range(epochs):
        if epoch:
            it.reset()
        result.append([(b.data[0][:, 0].astype(int).tolist(), b.pad, b.label[0].tolist())
                       for b in it])
    return result


@pytest.mark.parametrize("last_batch_handle", ["pad", "discard", "roll_over"])
def test_ten_samples_batch_three_follow_worked_example_over_four_epochs(address,
                                                                        last_batch_handle):
    data = samples_data(10)
    label = np.arange(10) * 2
    with iterd.NDArrayIter(data, label, batch_size=3, last_batch_handle=last_batch_handle,
                           server=address) as it:
        got = read_epochs(it, 4)
    expected = ndarray_epochs(10, 3, last_batch_handle, 4)
    assert [[(s, p) for s, p, _ in epoch] for epoch in got] == expected
    for epoch in got:
        for samples, _, labels in epoch:
            assert labels == [2.0 * s for s in samples]


def test_roll_over_worked_example_values_are_exact(address):
    with iterd.NDArrayIter(np.arange(10).reshape(10, 1), batch_size=3,
                           last_batch_handle="roll_over", server=address) as it:
        got = [[(b.data[0][:, 0].tolist(), b.pad) for b in _epoch(it, e)] for e in range(4)]
    assert got[1] == [([9, 0, 1], 1), ([2, 3, 4], 0), ([5, 6, 7], 0)]
    assert got[2] == [([8, 9, 0], 2), ([1, 2, 3], 0), ([4, 5, 6], 0), ([7, 8, 9], 0)]
    assert got[3] == got[0] == [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0)]


def _epoch(it, epoch):
    if epoch:
        it.reset()
    return list(it)


def test_pad_larger_than_data_tiles_whole_data(address):
    with iterd.NDArrayIter(np.arange(10).reshape(10, 1), batch_size=205, server=address) as it:
        for epoch in range(3):
            batches = _epoch(it, epoch)
            assert len(batches) == 1
            assert batches[0].pad == 195
            assert batches[0].data[0][:, 0].tolist() == list(range(10)) * 20 + [0, 1, 2, 3, 4]


@pytest.mark.parametrize("last_batch_handle", ["pad", "discard", "roll_over"])
def test_thousand_samples_batch_128_match_model_over_three_epochs(address, last_batch_handle):
    data = samples_data(1000)
    with iterd.NDArrayIter(data, np.arange(1000), batch_size=128,
                           last_batch_handle=last_batch_handle, server=address) as it:
        got = read_epochs(it, 3)
    expected = ndarray_epochs(1000, 128, last_batch_handle, 3)
    assert [[(s, p) for s, p, _ in epoch] for epoch in got] == expected
    if last_batch_handle == "roll_over":
        assert got[1][0][1] == 104 and got[1][0][0][:104] == list(range(896, 1000))


def test_label_of_shape_n_by_one_stays_b_by_one(address):
    with iterd.NDArrayIter(np.zeros((10, 4)), np.arange(10).reshape(10, 1), batch_size=3,
                           server=address) as it:
        assert it.provide_label[0].shape == (3, 1)
        batch = next(it)
    assert batch.label[0].shape == (3, 1)
    assert batch.label[0][:, 0].tolist() == [0, 1, 2]


def test_label_of_shape_n_stays_b(address):
    with iterd.NDArrayIter(np.zeros((10, 4)), np.arange(10), batch_size=3, server=address) as it:
        assert it.provide_label[0].shape == (3,)
        assert next(it).label[0].shape == (3,)


def test_dict_inputs_are_sorted_by_name(address):
    data = {"b": np.full((6, 2), 7.0), "a": np.arange(6).reshape(6, 1)}
    label = {"z_label": np.arange(6) * 3, "y_label": np.arange(6) * 5}
    with iterd.NDArrayIter(data, label, batch_size=2, server=address) as it:
        assert [d.name for d in it.provide_data] == ["a", "b"]
        assert [d.shape for d in it.provide_data] == [(2, 1), (2, 2)]
        assert [d.name for d in it.provide_label] == ["y_label", "z_label"]
        batch = next(it)
    assert batch.data[0][:, 0].tolist() == [0, 1]
    assert batch.data[1].tolist() == [[7, 7], [7, 7]]
    assert batch.label[0].tolist() == [0, 5] and batch.label[1].tolist() == [0, 3]


def test_list_of_eleven_inputs_is_named_and_sorted_as_strings(address):
    arrays = [np.full((4, 1), float(i)) for i in range(11)]
    with iterd.NDArrayIter(arrays, batch_size=4, server=address) as it:
        names = [d.name for d in it.provide_data]
        batch = next(it)
    assert names == sorted("_%d_data" % i for i in range(11))
    assert names[:3] == ["_0_data", "_10_data", "_1_data"]
    for name, array in zip(names, batch.data):
        assert array[:, 0].tolist() == [float(name.split("_")[1])] * 4


def test_list_of_one_input_takes_the_plain_names(address):
    with iterd.NDArrayIter([np.zeros((4, 2))], [np.zeros(4)], batch_size=2, data_name="x",
                           label_name="y", server=address) as it:
        assert [d.name for d in it.provide_data] == ["x"]
        assert [d.name for d in it.provide_label] == ["y"]


def test_int64_input_comes_back_float32(address):
    data = np.arange(12, dtype=np.int64).reshape(6, 2)
    with iterd.NDArrayIter(data, np.arange(6, dtype=np.int64), batch_size=3,
                           server=address) as it:
        assert it.provide_data[0].dtype is np.float32
        assert it.provide_label[0].dtype is np.float32
        batch = next(it)
    assert batch.data[0].dtype == np.float32 and batch.label[0].dtype == np.float32
    assert batch.data[0].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_no_label_gives_empty_label_lists(address):
    with iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2, server=address) as it:
        assert it.provide_label == []
        batch = next(it)
    assert batch.label == []
    assert batch.index is None
    assert str(batch) == "DataBatch: data shapes: [(2, 2)] label shapes: None"


def test_descriptors_and_batch_print_as_mxnet(address):
    with iterd.NDArrayIter(np.zeros((100, 3)), np.zeros(100), batch_size=30,
                           server=address) as it:
        assert repr(it.provide_data[0]) == "DataDesc[data,(30, 3),<class 'numpy.float32'>,NCHW]"
        assert it.provide_data == [("data", (30, 3))]
        assert it.provide_label[0].name == "softmax_label"
        assert it.batch_size == 30
        assert str(next(it)) == "DataBatch: data shapes: [(30, 3)] label shapes: [(30,)]"


def test_shuffle_gives_permutation_consistent_between_data_and_label(address):
    data = samples_data(12)
    label = np.arange(12) * 10
    with iterd.NDArrayIter(data, label, batch_size=4, shuffle=True, server=address) as it:
        orders = []
        for epoch in range(3):
            batches = _epoch(it, epoch)
            order = np.concatenate([b.data[0][:, 0] for b in batches]).astype(int)
            assert sorted(order.tolist()) == list(range(12))
            for b in batches:
                assert (b.data[0][:, 1] == 1000 + b.data[0][:, 0]).all()
                assert (b.label[0] == 10 * b.data[0][:, 0]).all()
            assert it.idx.tolist() == order.tolist()
            orders.append(order.tolist())
    assert orders[0] != orders[1] or orders[1] != orders[2]


def test_idx_without_shuffle_is_identity(address):
    with iterd.NDArrayIter(np.zeros((7, 1)), batch_size=2, server=address) as it:
        assert it.idx.tolist() == list(range(7))
        assert it.num_data == 7


def test_batches_stay_valid_after_later_next_calls(address):
    data = np.random.default_rng(1).random((40, 5)).astype(np.float32)
    with iterd.NDArrayIter(data, batch_size=4, server=address, max_batches=3) as it:
        for epoch in range(2):
            held = _epoch(it, epoch)
            assert np.array_equal(np.concatenate([b.data[0] for b in held]), data)


def test_next_keeps_raising_stop_iteration_until_reset(address):
    with iterd.NDArrayIter(np.arange(4).reshape(4, 1), batch_size=2, server=address) as it:
        assert len(list(it)) == 2
        for _ in range(3):
            with pytest.raises(StopIteration):
                it.next()
        it.reset()
        assert it.next().data[0][:, 0].tolist() == [0, 1]


@pytest.mark.parametrize("window", [1, 2, 5])
def test_fetch_window_size_does_not_change_batches(address, window):
    with iterd.NDArrayIter(np.arange(10).reshape(10, 1), batch_size=3, in_flight=window,
                           server=address) as it:
        got = [[(b.data[0][:, 0].tolist(), b.pad) for b in _epoch(it, e)] for e in range(2)]
    expected = [[([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0), ([9, 0, 1], 2)]] * 2
    assert got == expected
