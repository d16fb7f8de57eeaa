"""iterd.ImageRecordIter and iterd.ImageIter against a real daemon on real JPEGs.

The photos are the 20 of the MXNet reference file f_images.rec; bigger and damaged .rec files are
built from them in the daemon's data root (image_data.py).
"""
import os
import warnings

import numpy as np
import pytest

import iterd
from helpers import assert_daemon_serves
from image_data import center_crop
from image_data import copy_reference
from image_data import decode_rgb
from image_data import read_list
from image_data import reference_records
from image_data import real_labels
from image_data import resize_short_and_center_crop
from image_data import write_corrupt_rec
from image_data import write_image_folder
from image_data import write_labelled_rec

LABELLED_COUNT = 61  # Not a multiple of 3 parts nor of the batch sizes used.
CORRUPT_GOOD = 12
CORRUPT_BAD_POSITIONS = (2, 7, 13)
SMALL = (3, 32, 32)


@pytest.fixture(scope="module")
def images(daemon):
    """Writes the image files once into the daemon's data root; returns their paths (relative
    to the data root, as clients pass them)."""
    root = str(daemon.data_root)
    copy_reference(os.path.join(root, "data"))
    write_labelled_rec(os.path.join(root, "labelled.rec"), LABELLED_COUNT)
    write_corrupt_rec(os.path.join(root, "corrupt.rec"), CORRUPT_GOOD, CORRUPT_BAD_POSITIONS)
    folder_entries = write_image_folder(os.path.join(root, "folder"),
                                        os.path.join(root, "folder.lst"))
    return {"root": root, "folder_entries": folder_entries}


class FakePyplot(object):
    """Stands in for matplotlib.pyplot in the tutorial snippets: keeps what imshow gets."""

    def __init__(self):
        self.shown = []

    def subplot(self, *args):
        pass

    def imshow(self, image):
        self.shown.append(image)

    def show(self):
        pass


def run_tutorial_snippet(text, prefix):
    """Runs a snippet of the mx.io tutorial with `prefix` replaced by `iterd.`, the caltech
    files replaced by the reference f_images files, and NumPy batches (no .asnumpy())."""
    plt = FakePyplot()
    namespace = {"iterd": iterd, "np": np, "plt": plt}
    text = (text.replace(prefix, "iterd.").replace("caltech.", "f_images.")
            .replace(".asnumpy()", ""))
    exec(text, namespace)  # pylint: disable=exec-used
    return namespace, plt


# The "Using ImageRecordIter" / "Using ImageIter" snippets of the tutorial, verbatim.
USING_IMAGE_RECORD_ITER = """
data_iter = mx.io.ImageRecordIter(
    path_imgrec="./data/caltech.rec", # the target record file
    data_shape=(3, 227, 227), # output data shape. An 227x227 region will be cropped from the original image.
    batch_size=4, # number of samples per batch
    resize=256 # resize the shorter edge to 256 before cropping
    # ... you can add more augumentation options as defined in ImageRecordIter.
    )
data_iter.reset()
batch = data_iter.next()
data = batch.data[0]
for i in range(4):
    plt.subplot(1,4,i+1)
    plt.imshow(data[i].asnumpy().astype(np.uint8).transpose((1,2,0)))
plt.show()
"""

USING_IMAGE_ITER = """
data_iter = mx.image.ImageIter(batch_size=4, data_shape=(3, 227, 227),
                              path_imgrec="./data/caltech.rec",
                              path_imgidx="./data/caltech.idx" )
data_iter.reset()
batch = data_iter.next()
data = batch.data[0]
for i in range(4):
    plt.subplot(1,4,i+1)
    plt.imshow(data[i].asnumpy().astype(np.uint8).transpose((1,2,0)))
plt.show()
"""


def test_tutorial_image_record_iter_snippet_gives_resized_centre_crops(images, address,
                                                                       monkeypatch):
    monkeypatch.setenv("ITERD_ADDRESS", address)
    namespace, plt = run_tutorial_snippet(USING_IMAGE_RECORD_ITER, "mx.io.")
    batch = namespace["batch"]
    assert batch.data[0].shape == (4, 3, 227, 227) and batch.data[0].dtype == np.float32
    assert batch.label[0].shape == (4,) and batch.label[0].dtype == np.float32
    assert [image.shape for image in plt.shown] == [(227, 227, 3)] * 4
    records = reference_records()
    assert batch.label[0].tolist() == [float(h.label) for h, _ in records[:4]]
    # Without random augmentation the pixels are OpenCV's decode + resize + centre crop (RGB),
    # up to the daemon's JPEG DCT-domain downscaling and interpolation rounding.
    for row, (_, payload) in enumerate(records[:4]):
        expected = resize_short_and_center_crop(decode_rgb(payload), 256, 227, 227)
        got = batch.data[0][row].transpose(1, 2, 0)
        difference = np.abs(got - expected.astype(np.float32))
        assert difference.mean() < 4.0, "record %d differs by %.2f" % (row, difference.mean())
    assert namespace["data_iter"].provide_data == [("data", (4, 3, 227, 227))]
    namespace["data_iter"].close()


def test_tutorial_image_iter_snippet_gives_centre_crops_in_index_order(images, address,
                                                                      monkeypatch):
    monkeypatch.setenv("ITERD_ADDRESS", address)
    namespace, plt = run_tutorial_snippet(USING_IMAGE_ITER, "mx.image.")
    batch = namespace["batch"]
    assert batch.data[0].shape == (4, 3, 227, 227) and batch.data[0].dtype == np.float32
    assert [image.shape for image in plt.shown] == [(227, 227, 3)] * 4
    records = reference_records()  # The .idx keys are in file order: 7, 15, 19, 0, ...
    assert batch.label[0].tolist() == [float(h.label) for h, _ in records[:4]]
    for row, (_, payload) in enumerate(records[:4]):
        expected = center_crop(decode_rgb(payload), 227, 227).astype(np.float32)
        got = batch.data[0][row].transpose(1, 2, 0)
        assert np.abs(got - expected).mean() < 1.0
    it = namespace["data_iter"]
    assert it.provide_data == [("data", (4, 3, 227, 227))]
    assert type(it.provide_data[0]) is tuple  # pylint: disable=unidiomatic-typecheck
    assert it.provide_label == [("softmax_label", (4,))]
    it.close()


def test_labels_come_from_the_lst_by_record_id_with_label_width_2(images, address):
    entries = read_list(os.path.join(images["root"], "data", "f_images.lst"))
    with open(os.path.join(images["root"], "data", "two_labels.lst"), "w") as f:
        for key in entries:
            f.write("%d\t%f\t%f\t%s\n" % (key, key * 10.0, key + 0.5, entries[key][1]))
    with iterd.ImageRecordIter(path_imgrec="data/f_images.rec", path_imglist="data/two_labels.lst",
                               label_width=2, data_shape=SMALL, batch_size=5, resize=32,
                               server=address) as it:
        assert it.provide_data == [iterd.DataDesc("data", (5,) + SMALL)]
        assert it.provide_data[0].dtype == np.float32
        assert it.provide_label == [iterd.DataDesc("softmax_label", (5, 2))]
        batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 0, 0]
    ids = [int(h.id) for h, _ in reference_records()]
    labels = np.concatenate([b.label[0] for b in batches])
    assert labels.dtype == np.float32
    assert labels.tolist() == [[key * 10.0, key + 0.5] for key in ids]
    assert all(b.data[0].shape == (5,) + SMALL for b in batches)


@pytest.mark.parametrize("indexed", [False, True], ids=["byte_ranges", "index_shuffled"])
def test_three_parts_cover_every_record_once_per_epoch(images, address, indexed):
    extra = {"path_imgidx": "labelled.idx", "shuffle": True, "seed": 5} if indexed else {}
    seen = []
    orders = []
    for part in range(3):
        with iterd.ImageRecordIter(path_imgrec="labelled.rec", data_shape=SMALL, batch_size=4,
                                   num_parts=3, part_index=part, preprocess_threads=2,
                                   server=address, **extra) as it:
            labels = real_labels(list(it))
        orders.append(labels)
        seen.extend(labels)
    assert sorted(seen) == list(range(LABELLED_COUNT))
    if indexed:  # A shuffle changes the order, not the set.
        assert any(order != sorted(order) for order in orders)
    else:
        assert all(order == sorted(order) for order in orders)


def test_image_iter_parts_take_n_div_parts_keys_each_and_shuffle_keeps_the_set(images, address):
    per_part = LABELLED_COUNT // 3  # MXNet's ImageIter never uses the N % num_parts last keys.
    for part in range(3):
        sets = []
        for shuffle in (False, True):
            with iterd.ImageIter(batch_size=5, data_shape=SMALL, path_imgrec="labelled.rec",
                                 path_imgidx="labelled.idx", num_parts=3, part_index=part,
                                 shuffle=shuffle, seed=9, last_batch_handle="discard",
                                 server=address) as it:
                labels = real_labels(list(it))
            expected = list(range(part * per_part, (part + 1) * per_part))
            assert labels == expected if not shuffle else labels != expected
            sets.append(sorted(labels))
        assert sets[0] == sets[1] == expected


def test_same_seed_gives_identical_batches_with_one_and_two_threads(images, address):
    augment = dict(path_imgrec="labelled.rec", path_imgidx="labelled.idx", shuffle=True, seed=3,
                   data_shape=SMALL, batch_size=8, resize=36, rand_crop=True, rand_mirror=True,
                   max_rotate_angle=15, brightness=0.3, pca_noise=0.1, seed_aug=11,
                   server=address)

    def two_epochs(**parameters):
        with iterd.ImageRecordIter(**parameters) as it:
            first = list(it)
            it.reset()
            return first + list(it)

    one = two_epochs(preprocess_threads=1, **augment)
    two = two_epochs(preprocess_threads=2, **augment)
    assert len(one) == len(two) == 16
    for a, b in zip(one, two):
        assert np.array_equal(a.data[0], b.data[0]) and np.array_equal(a.label[0], b.label[0])
        assert a.pad == b.pad
    other_seed = two_epochs(preprocess_threads=2, **dict(augment, seed_aug=12))
    assert not np.array_equal(one[0].data[0], other_seed[0].data[0])


def test_uint8_nhwc_is_the_transposed_uint8_nchw_and_the_raw_float32_pixels(images, address):
    common = dict(path_imgrec="data/f_images.rec", data_shape=(3, 48, 40), batch_size=10,
                  resize=48, server=address)
    with iterd.ImageRecordIter(dtype="uint8", layout="NHWC", **common) as it:
        assert it.provide_data[0].shape == (10, 48, 40, 3)
        assert it.provide_data[0].dtype == np.uint8 and it.provide_data[0].layout == "NHWC"
        nhwc = list(it)
    with iterd.ImageRecordIter(dtype="uint8", **common) as it:
        nchw = list(it)
    with iterd.ImageRecordIter(**common) as it:
        floats = list(it)
    assert len(nhwc) == len(nchw) == len(floats) == 2
    for a, b, c in zip(nhwc, nchw, floats):
        assert a.data[0].dtype == np.uint8 and a.data[0].shape == (10, 48, 40, 3)
        assert np.array_equal(a.data[0], b.data[0].transpose(0, 2, 3, 1))
        assert np.array_equal(b.data[0].astype(np.float32), c.data[0])
        assert a.label[0].dtype == np.float32


def test_mean_std_scale_normalise_after_the_rgb_swap(images, address):
    common = dict(path_imgrec="data/f_images.rec", data_shape=SMALL, batch_size=20, resize=32,
                  server=address)
    with iterd.ImageRecordIter(**common) as it:
        raw = it.next().data[0]
    mean, std, scale = (123.68, 116.28, 103.53), (58.395, 57.12, 57.375), 0.5
    with iterd.ImageRecordIter(mean_r=mean[0], mean_g=mean[1], mean_b=mean[2], std_r=std[0],
                               std_g=std[1], std_b=std[2], scale=scale, **common) as it:
        normalised = it.next().data[0]
    expected = (raw - np.array(mean, np.float32)[:, None, None]) * scale / \
        np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(normalised, expected, rtol=1e-5, atol=1e-5)


def test_values_given_as_mxnet_strings_equal_typed_values(images, address):
    typed = dict(path_imgrec="data/f_images.rec", data_shape=SMALL, batch_size=10, resize=40,
                 rand_crop=False, mean_r=10.0, round_batch=True, server=address)
    strings = dict(path_imgrec="data/f_images.rec", data_shape="(3, 32, 32)", batch_size="10",
                   resize="40", rand_crop="False", mean_r="10.0", round_batch="True",
                   server=address)
    with iterd.ImageRecordIter(**typed) as a, iterd.ImageRecordIter(**strings) as b:
        for x, y in zip(list(a), list(b)):
            assert np.array_equal(x.data[0], y.data[0])


def test_unknown_keyword_warns_and_is_ignored(images, address):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # MXNet's own test passes the typo `and_mirror`; MXNet ignores it silently.
        with iterd.ImageRecordIter(path_imgrec="data/f_images.rec", data_shape=SMALL,
                                   batch_size=20, and_mirror=True, verbose=False,
                                   server=address) as it:
            assert it.next().data[0].shape == (20,) + SMALL
    messages = [str(w.message) for w in caught]
    assert any("and_mirror" in m for m in messages)
    assert not any("verbose" in m for m in messages)


@pytest.mark.parametrize("use_image_iter", [False, True], ids=["ImageRecordIter", "ImageIter"])
def test_corrupt_records_are_skipped_counted_and_the_daemon_keeps_serving(images, address,
                                                                        use_image_iter):
    if use_image_iter:
        it = iterd.ImageIter(batch_size=4, data_shape=SMALL, path_imgrec="corrupt.rec",
                             path_imgidx="corrupt.idx", resize=32, server=address)
    else:
        it = iterd.ImageRecordIter(path_imgrec="corrupt.rec", data_shape=SMALL, batch_size=4,
                                   resize=32, server=address)
    with it:
        batches = list(it)
        stats = it.stats()
    # Every batch stays full: the bad records are replaced by the next good ones.
    assert [b.pad for b in batches] == [0, 0, 0]
    assert sorted(real_labels(batches)) == list(range(CORRUPT_GOOD))
    # ImageRecordIter reads the file sequentially and meets the truncated last record too.
    assert stats.records_skipped >= len(CORRUPT_BAD_POSITIONS) + (0 if use_image_iter else 1)
    assert stats.records_decoded >= CORRUPT_GOOD
    assert stats.batches_produced >= 3
    assert stats.skipped_examples and all("corrupt.rec" in e for e in stats.skipped_examples)
    assert_daemon_serves(address)


def test_fail_policy_raises_data_loss_naming_the_file(images, address):
    with pytest.raises(iterd.DataLoss) as raised:
        with iterd.ImageRecordIter(path_imgrec="corrupt.rec", data_shape=SMALL, batch_size=4,
                                   resize=32, bad_record_policy="fail", server=address) as it:
            list(it)
    assert "corrupt.rec" in raised.value.message
    with pytest.raises(iterd.DataLoss):
        with iterd.ImageIter(batch_size=4, data_shape=SMALL, path_imgrec="corrupt.rec",
                             resize=32, bad_record_policy="fail", server=address) as it:
            list(it)
    assert_daemon_serves(address)


@pytest.mark.parametrize("data_shape", [(227, 227), (2, 32, 32)], ids=["two_values", "c2"])
def test_bad_data_shape_is_invalid_argument_naming_the_field(images, address, data_shape):
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.ImageRecordIter(path_imgrec="data/f_images.rec", data_shape=data_shape,
                              batch_size=4, server=address)
    assert "data_shape" in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.ImageIter(4, data_shape, path_imgrec="data/f_images.rec", server=address)
    assert "data_shape" in raised.value.message


def test_bad_values_are_invalid_argument_naming_the_field(images, address):
    with pytest.raises(iterd.InvalidArgument, match="resize"):
        iterd.ImageRecordIter(path_imgrec="data/f_images.rec", data_shape=SMALL, batch_size=4,
                              resize="big", server=address)
    with pytest.raises(iterd.InvalidArgument, match="inter_method"):
        iterd.ImageRecordIter(path_imgrec="data/f_images.rec", data_shape=SMALL, batch_size=4,
                              inter_method=5, server=address)
    with pytest.raises(iterd.IterdError, match="missing.rec"):
        iterd.ImageRecordIter(path_imgrec="missing.rec", data_shape=SMALL, batch_size=4,
                              server=address)


def test_image_iter_refuses_python_augmenters_and_unknown_augmenter_keywords(address):
    with pytest.raises(iterd.InvalidArgument, match="CreateAugmenter"):
        iterd.ImageIter(4, SMALL, path_imgrec="data/f_images.rec", aug_list=[object()],
                        server=address)
    with pytest.raises(TypeError, match="rand_mirorr"):
        iterd.ImageIter(4, SMALL, path_imgrec="data/f_images.rec", rand_mirorr=True,
                        server=address)


def test_image_iter_reads_an_image_folder_with_its_list(images, address):
    entries = images["folder_entries"]
    with iterd.ImageIter(batch_size=6, data_shape=(3, 64, 64), path_imglist="folder.lst",
                         path_root="folder", resize=64, server=address) as it:
        batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 0, 4]
    assert all(b.index is None for b in batches)
    labels = np.concatenate([b.label[0] for b in batches])[:20]
    assert labels.tolist() == [entries[key][0][0] for key in entries]  # .lst line order
    with iterd.ImageIter(batch_size=6, data_shape=(3, 64, 64), path_imglist="folder.lst",
                         path_root="folder", resize=64, last_batch_handle="discard",
                         server=address) as it:
        assert len(list(it)) == 3
    imglist = [[7.0, entries[key][1]] for key in list(entries)[:3]]
    with iterd.ImageIter(batch_size=3, data_shape=(3, 64, 64), imglist=imglist,
                         path_root="folder", resize=64, server=address) as it:
        assert np.concatenate([b.label[0] for b in it]).tolist() == [7.0, 7.0, 7.0]


def test_image_iter_mean_and_std_true_use_mxnet_defaults(images, address):
    common = dict(batch_size=20, data_shape=SMALL, path_imgrec="data/f_images.rec", resize=32,
                  server=address)
    with iterd.ImageIter(**common) as it:
        raw = it.next().data[0]
    with iterd.ImageIter(mean=True, std=True, **common) as it:
        normalised = it.next().data[0]
    mean = np.array([123.68, 116.28, 103.53], np.float32)[:, None, None]
    std = np.array([58.395, 57.12, 57.375], np.float32)[:, None, None]
    np.testing.assert_allclose(normalised, (raw - mean) / std, rtol=1e-5, atol=1e-4)


# ----- Client-side conversion of keyword arguments (no daemon involved) -----

def _sample_value(descriptor):
    from google.protobuf.descriptor import FieldDescriptor  # pylint: disable=import-outside-toplevel
    if descriptor.name == "data_shape":
        return "(3,224,224)"
    if descriptor.type == FieldDescriptor.TYPE_ENUM:
        return {"dtype": "uint8", "layout": "NHWC", "bad_record_policy": "fail"}[descriptor.name]
    if descriptor.label == FieldDescriptor.LABEL_REPEATED:
        return "0,90"
    if descriptor.type == FieldDescriptor.TYPE_BOOL:
        return "True"
    if descriptor.type == FieldDescriptor.TYPE_STRING:
        return "x"
    if descriptor.type == FieldDescriptor.TYPE_FLOAT:
        return "0.25"
    return "7"


def test_every_image_record_config_field_is_a_keyword_and_takes_mxnet_strings():
    from iterd.image_record_iter import image_record_config  # pylint: disable=import-outside-toplevel
    from iterd.v1 import pipeline_pb2  # pylint: disable=import-outside-toplevel
    from iterd.v1 import tensor_pb2  # pylint: disable=import-outside-toplevel
    fields = pipeline_pb2.ImageRecordConfig.DESCRIPTOR.fields
    config = image_record_config({f.name: _sample_value(f) for f in fields})
    for field in fields:
        if field.label == field.LABEL_REPEATED:
            assert len(getattr(config, field.name)) > 0, field.name
        elif field.has_presence:
            assert config.HasField(field.name), field.name
        else:
            assert getattr(config, field.name), field.name
    assert list(config.data_shape) == [3, 224, 224] and list(config.rotate_list) == [0, 90]
    assert config.rand_crop is True and config.resize == 7 and config.brightness == 0.25
    assert config.dtype == tensor_pb2.UINT8 and config.layout == pipeline_pb2.NHWC
    unset = image_record_config({"min_aspect_ratio": None, "resize": None})
    assert not unset.HasField("min_aspect_ratio") and not unset.HasField("resize")
    with pytest.raises(iterd.InvalidArgument, match="num_parts"):
        image_record_config({"num_parts": 2**40})
    with pytest.raises(iterd.InvalidArgument, match="rand_crop"):
        image_record_config({"rand_crop": "maybe"})


@pytest.mark.parametrize("round_batch", [True, False])
def test_random_augmentation_differs_between_epochs(images, address, round_batch):
    # 20 records in batches of 3: with round_batch the epoch ends on a wrapped batch and the next
    # one continues after it. Augmentations are drawn per pass over the data, so no sample of
    # epoch 2 may repeat a crop/mirror of epoch 1 (nor a wrap's filler repeat the epoch's start).
    parameters = dict(path_imgrec="data/f_images.rec", data_shape=(3, 48, 48), batch_size=3,
                      resize=72, rand_crop=True, rand_mirror=True, seed_aug=5,
                      round_batch=round_batch, server=address)
    with iterd.ImageRecordIter(**parameters) as it:
        epochs = []
        for _ in range(2):
            rows = [batch.data[0][i].tobytes() for batch in it
                    for i in range(batch.data[0].shape[0] - batch.pad)]
            epochs.append(rows)
            it.reset()
    repeated = set(epochs[0]) & set(epochs[1])
    assert not repeated, "%d augmented samples repeated across epochs" % len(repeated)
