"""Pins the reference model to the worked examples of docs/mxnet-semantics.md (§7.4, §8)."""
from mxnet_model import csv_epochs
from mxnet_model import ndarray_epochs


def test_ndarray_model_matches_worked_example_pad():
    epochs = ndarray_epochs(10, 3, "pad", 4)
    for batches in epochs:
        assert batches == [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0), ([9, 0, 1], 2)]


def test_ndarray_model_matches_worked_example_discard():
    for batches in ndarray_epochs(10, 3, "discard", 4):
        assert batches == [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0)]


def test_ndarray_model_matches_worked_example_roll_over():
    assert ndarray_epochs(10, 3, "roll_over", 4) == [
        [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0)],
        [([9, 0, 1], 1), ([2, 3, 4], 0), ([5, 6, 7], 0)],
        [([8, 9, 0], 2), ([1, 2, 3], 0), ([4, 5, 6], 0), ([7, 8, 9], 0)],
        [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0)],
    ]


def test_ndarray_model_tiles_data_when_pad_exceeds_samples():
    [[(samples, pad)]] = ndarray_epochs(10, 205, "pad", 1)
    assert pad == 195
    assert samples == list(range(10)) * 20 + [0, 1, 2, 3, 4]


def test_ndarray_model_matches_test_derived_example():
    pad_epoch = ndarray_epochs(1000, 128, "pad", 1)[0]
    assert len(pad_epoch) == 8 and pad_epoch[-1][1] == 24
    assert pad_epoch[-1][0] == list(range(896, 1000)) + list(range(24))
    roll = ndarray_epochs(1000, 128, "roll_over", 2)
    assert len(roll[0]) == 7 and len(ndarray_epochs(1000, 128, "discard", 1)[0]) == 7
    assert roll[1][0] == (pad_epoch[-1][0], 104)


def test_csv_model_matches_worked_example_ten_rows():
    assert csv_epochs(10, 3, True, 4) == [
        [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0), ([9, 0, 1], 2)],
        [([2, 3, 4], 0), ([5, 6, 7], 0), ([8, 9, 0], 1)],
        [([1, 2, 3], 0), ([4, 5, 6], 0), ([7, 8, 9], 0)],
        [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0), ([9, 0, 1], 2)],
    ]
    for batches in csv_epochs(10, 3, False, 4):
        assert batches == [([0, 1, 2], 0), ([3, 4, 5], 0), ([6, 7, 8], 0), ([9], 2)]


def test_csv_model_matches_worked_example_four_rows():
    assert csv_epochs(4, 3, True, 4) == [
        [([0, 1, 2], 0), ([3, 0, 1], 2)],
        [([2, 3, 0], 1)],
        [([1, 2, 3], 0)],
        [([0, 1, 2], 0), ([3, 0, 1], 2)],
    ]
    for batches in csv_epochs(4, 3, False, 3):
        assert batches == [([0, 1, 2], 0), ([3], 2)]
