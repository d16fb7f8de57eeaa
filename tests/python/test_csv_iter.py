"""iterd.CSVIter against a real daemon: round_batch, pads, index, labels, dtype and shapes."""
import warnings

import numpy as np
import pytest

import iterd
from helpers import write_rows_csv
from mxnet_model import csv_epochs


def read_epochs(it, epochs):
    result = []
    for epoch in range(epochs):
        if epoch:
            it.reset()
        result.append(list(it))
    return result


@pytest.mark.parametrize("num_rows", [10, 4])
def test_round_batch_true_continues_after_wrapped_rows(address, data_root, num_rows):
    name = "round_true_%d.csv" % num_rows
    write_rows_csv(data_root / name, num_rows)
    with iterd.CSVIter(data_csv=name, data_shape=(2,), batch_size=3, server=address) as it:
        got = read_epochs(it, 4)
    expected = csv_epochs(num_rows, 3, True, 4)
    assert [[(b.data[0][:, 0] // 10).astype(int).tolist() for b in e] for e in got] == \
        [[rows for rows, _ in e] for e in expected]
    assert [[b.pad for b in e] for e in got] == [[pad for _, pad in e] for e in expected]
    for epoch in got:
        for batch in epoch:
            assert batch.index.dtype == np.uint64
            assert batch.index.tolist() == (batch.data[0][:, 0] // 10).astype(int).tolist()
            assert (batch.data[0][:, 1] == batch.data[0][:, 0] + 1).all()
            assert batch.label[0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("num_rows", [10, 4])
def test_round_batch_false_restarts_each_epoch_and_zeroes_filler(address, data_root, num_rows):
    name = "round_false_%d.csv" % num_rows
    write_rows_csv(data_root / name, num_rows)
    with iterd.CSVIter(data_csv=name, data_shape=(2,), batch_size=3, round_batch=False,
                       server=address) as it:
        got = read_epochs(it, 4)
    for epoch, expected in zip(got, csv_epochs(num_rows, 3, False, 4)):
        assert [b.pad for b in epoch] == [pad for _, pad in expected]
        for batch, (rows, pad) in zip(epoch, expected):
            assert batch.data[0].shape == (3, 2)
            real = batch.data[0][:3 - pad]
            assert real.tolist() == [[r * 10, r * 10 + 1] for r in rows]
            assert batch.index[:3 - pad].tolist() == rows
            assert (batch.data[0][3 - pad:] == 0).all()


def test_label_csv_labels_each_row_and_squeezes_width_one(address, data_root):
    write_rows_csv(data_root / "labelled.csv", 5)
    (data_root / "labels.csv").write_text("".join("%d\n" % (r * 7) for r in range(5)))
    with iterd.CSVIter(data_csv="labelled.csv", data_shape=(2,), label_csv="labels.csv",
                       batch_size=2, server=address) as it:
        assert it.provide_label[0].shape == (2,)
        batches = list(it)
    assert [b.label[0].tolist() for b in batches] == [[0, 7], [14, 21], [28, 0]]
    assert [b.pad for b in batches] == [0, 0, 1]


def test_label_csv_with_wide_labels_keeps_label_shape(address, data_root):
    write_rows_csv(data_root / "wide.csv", 4)
    write_rows_csv(data_root / "wide_labels.csv", 4, columns=3)
    with iterd.CSVIter(data_csv="wide.csv", data_shape=(2,), label_csv="wide_labels.csv",
                       label_shape=(3,), batch_size=2, server=address) as it:
        batch = next(it)
    assert batch.label[0].shape == (2, 3)
    assert batch.label[0].tolist() == [[0, 1, 2], [10, 11, 12]]


def test_dtype_int32_applies_to_data_and_label(address, data_root):
    write_rows_csv(data_root / "ints.csv", 3)
    (data_root / "int_labels.csv").write_text("5\n6\n7\n")
    with iterd.CSVIter(data_csv="ints.csv", data_shape=(2,), label_csv="int_labels.csv",
                       batch_size=3, dtype="int32", server=address) as it:
        assert it.provide_data[0].dtype is np.int32
        batch = next(it)
    assert batch.data[0].dtype == np.int32 and batch.label[0].dtype == np.int32
    assert batch.data[0].tolist() == [[0, 1], [10, 11], [20, 21]]
    assert batch.label[0].tolist() == [5, 6, 7]


def test_data_shape_reshapes_rows_row_major(address, data_root):
    (data_root / "six.csv").write_text("1,2,3,4,5,6\n7,8,9,10,11,12\n")
    with iterd.CSVIter(data_csv="six.csv", data_shape=(3, 2), batch_size=2,
                       server=address) as it:
        assert it.provide_data[0].shape == (2, 3, 2)
        batch = next(it)
    assert batch.data[0].tolist() == [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]


def test_names_and_descriptors_follow_keywords(address, data_root):
    write_rows_csv(data_root / "named.csv", 3)
    with iterd.CSVIter(data_csv="named.csv", data_shape=(2,), batch_size=3, data_name="x",
                       label_name="y", server=address) as it:
        assert it.provide_data == [("x", (3, 2))] and it.provide_label == [("y", (3,))]
        assert it.provide_data[0].layout == "NCHW" and it.batch_size == 3


def test_unknown_keywords_are_ignored_with_a_warning(address, data_root):
    write_rows_csv(data_root / "typo.csv", 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with iterd.CSVIter(data_csv="typo.csv", data_shape=(2,), batch_size=3, and_mirror=True,
                           ctx="cpu", server=address) as it:
            assert len(list(it)) == 1
    messages = [str(w.message) for w in caught]
    assert any("and_mirror" in m for m in messages)
    assert not any("ctx" in m for m in messages)


def test_positional_arguments_are_rejected():
    with pytest.raises(TypeError):
        iterd.CSVIter("data.csv", (2,), 3)


def test_reset_mid_epoch_rewinds_to_row_zero(address, data_root):
    write_rows_csv(data_root / "mid.csv", 10)
    with iterd.CSVIter(data_csv="mid.csv", data_shape=(2,), batch_size=3, in_flight=3,
                       server=address) as it:
        assert next(it).index.tolist() == [0, 1, 2]
        it.reset()
        assert [b.index.tolist() for b in it] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1]]


def test_named_pipeline_opens_with_overrides(client):
    assert "rows10" in [p.name for p in client.list_pipelines()]
    with client.open("rows10", batch_size=5) as it:
        assert it.batch_size == 5 and it.provide_data[0].shape == (5, 2)
        assert [b.index.tolist() for b in it] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
