"""ImageIter: mx.image.ImageIter whose decoding and augmentation run in the iterd daemon.

The constructor is MXNet's, with the augmentation given as CreateAugmenter keyword arguments
(resize, rand_crop, rand_resize, rand_mirror, mean, std, brightness, contrast, saturation, hue,
pca_noise, rand_gray, inter_method): the daemon builds the same augmenter list. Python augmenter
objects (`aug_list`) cannot run in the daemon and are refused. Paths are the daemon's.

    it = iterd.ImageIter(batch_size=4, data_shape=(3, 227, 227), path_imgrec="data/caltech.rec",
                         path_imgidx="data/caltech.idx", server="host:7070")
"""
import numbers
import os

import numpy as np

from iterd import errors
from iterd.client import open_with_own_client
from iterd.client import resolve_max_batches
from iterd.csv_iter import parse_shape
from iterd.image_record_iter import parse_float
from iterd.image_record_iter import set_config_field
from iterd import sharded_iter
from iterd.remote_iter import RemoteIter
from iterd.v1 import pipeline_pb2

_LAST_BATCH_HANDLES = {
    "pad": pipeline_pb2.PAD,
    "discard": pipeline_pb2.DISCARD,
    "roll_over": pipeline_pb2.ROLL_OVER,
}
_BAD_RECORD_POLICIES = {"skip": pipeline_pb2.SKIP, "fail": pipeline_pb2.FAIL}
# CreateAugmenter's keyword arguments besides data_shape, with the ImageIterConfig field of each.
_AUGMENTER_PARAMETERS = ("resize", "rand_crop", "rand_resize", "rand_mirror", "brightness",
                         "contrast", "saturation", "hue", "pca_noise", "rand_gray", "inter_method")
# mean=True / std=True in CreateAugmenter (ImageNet statistics, RGB).
DEFAULT_MEAN = (123.68, 116.28, 103.53)
DEFAULT_STD = (58.395, 57.12, 57.375)
_LABEL_DTYPES = ("int32", "float32", "int64", "float64")


def _normalisation(field, value, default):
    """CreateAugmenter's mean/std: None/False -> none, True -> MXNet's default, 1 or 3 values."""
    if value is None or value is False:
        return []
    if value is True:
        return list(default)
    if hasattr(value, "asnumpy"):  # An mx.nd.NDArray, should one be passed.
        value = value.asnumpy()
    try:
        values = [parse_float(field, v) for v in np.asarray(value, dtype=object).reshape(-1)]
    except errors.InvalidArgument:
        raise errors.InvalidArgument("%s must be True, None or 1 or 3 numbers, got %r" %
                                     (field, value)) from None
    if len(values) not in (1, 3):
        raise errors.InvalidArgument("%s must hold 1 or 3 values (RGB), got %d" %
                                     (field, len(values)))
    return values


def _image_list_entries(imglist):
    """ImageListEntry messages of MXNet's `imglist`: items [label, path] or [l1, ..., lk, path],
    where a single label may itself be a list or array of labels."""
    entries = []
    for number, item in enumerate(imglist):
        try:
            item = list(item)
        except TypeError:
            raise errors.InvalidArgument("imglist[%d] must be [label, ..., path], got %r" %
                                         (number, item)) from None
        if len(item) < 2:
            raise errors.InvalidArgument("imglist[%d] must be [label, ..., path], got %r" %
                                         (number, item))
        labels = item[:-1]
        if len(labels) == 1 and not isinstance(labels[0], (numbers.Number, np.number, str)):
            labels = list(np.asarray(labels[0]).reshape(-1))
        entry = pipeline_pb2.ImageListEntry(path=os.fspath(item[-1]))
        entry.labels.extend(parse_float("imglist[%d] label" % number, l) for l in labels)
        entries.append(entry)
    return entries


def image_iter_config(batch_size, data_shape, label_width, path_imgrec, path_imglist, path_root,
                      path_imgidx, shuffle, part_index, num_parts, imglist, last_batch_handle,
                      seed, bad_record_policy, augmenter):
    """The ImageIterConfig of ImageIter's arguments; InvalidArgument (a ValueError) when bad."""
    shape = parse_shape("data_shape", data_shape)
    if len(shape) != 3 or shape[0] != 3:
        # MXNet: ValueError('data_shape should have length 3, with dimensions CxHxW') / C == 3.
        raise errors.InvalidArgument("data_shape must be (3, H, W), got %r" % (data_shape,))
    if not (path_imgrec or path_imglist or imglist is not None):
        raise errors.InvalidArgument("ImageIter needs path_imgrec, path_imglist or imglist")
    if last_batch_handle not in _LAST_BATCH_HANDLES:
        raise errors.InvalidArgument("last_batch_handle must be one of %s, got %r" %
                                     (", ".join(_LAST_BATCH_HANDLES), last_batch_handle))
    config = pipeline_pb2.ImageIterConfig(data_shape=shape)
    for field, value in (("batch_size", batch_size), ("label_width", label_width),
                         ("path_imgrec", path_imgrec), ("path_imglist", path_imglist),
                         ("path_root", path_root), ("path_imgidx", path_imgidx),
                         ("shuffle", shuffle), ("part_index", part_index),
                         ("num_parts", num_parts), ("seed", seed)):
        set_config_field(config, field, value)
    if config.batch_size <= 0:
        raise errors.InvalidArgument("batch_size must be a positive integer, got %r" %
                                     (batch_size,))
    config.last_batch_handle = _LAST_BATCH_HANDLES[last_batch_handle]
    set_config_field(config, "bad_record_policy", bad_record_policy, _BAD_RECORD_POLICIES)
    if imglist is not None:
        config.imglist.extend(_image_list_entries(imglist))
    for field in _AUGMENTER_PARAMETERS:
        set_config_field(config, field, augmenter.get(field))
    config.mean.extend(_normalisation("mean", augmenter.get("mean"), DEFAULT_MEAN))
    config.std.extend(_normalisation("std", augmenter.get("std"), DEFAULT_STD))
    return config


class ShardedImageIter(sharded_iter.ShardedIter):
    """ImageIter over several daemons (sharded_iter.ShardedIter) with ImageIter's plain
    (name, shape) descriptors."""

    @property
    def provide_data(self):
        return [(desc.name, tuple(desc.shape)) for desc in self._provide_data]

    @property
    def provide_label(self):
        return [(desc.name, tuple(desc.shape)) for desc in self._provide_label]


def sharded_image_iter(batch_size, data_shape, label_width=1, path_imgrec=None,
                       path_imglist=None, path_root=None, path_imgidx=None, shuffle=False,
                       part_index=0, num_parts=1, aug_list=None, imglist=None, data_name="data",
                       label_name="softmax_label", dtype="float32", last_batch_handle="pad", *,
                       seed=None, bad_record_policy=None, server=None, max_batches=None,
                       in_flight=None, rank=None, world_size=None, balance=None,
                       num_batches=None, on_daemon_failure="fail", root_certificates=None,
                       certificate_chain=None, private_key=None, token=None, **kwargs):
    """ImageIter over several daemons for trainer `rank` of `world_size` (sharded_iter).

    MXNet's split gives every part N // P keys (P = world_size * daemons), so all parts, and
    all trainers, have the same batch count; the N % P last keys are unused, as in MXNet.
    balance defaults to 'discard' with last_batch_handle='discard', else 'pad'; roll_over
    carries samples across epochs and parts, and is refused here.
    """
    if aug_list is not None:
        raise errors.InvalidArgument("iterd.ImageIter cannot run Python augmenter objects "
                                     "(aug_list) in the daemon")
    if num_parts != 1 or part_index != 0:
        raise errors.InvalidArgument(
            "num_parts / part_index are set by the many-daemon iterator from rank, world_size "
            "and the daemons; leave them unset (got num_parts=%r, part_index=%r)" %
            (num_parts, part_index))
    if last_batch_handle == "roll_over":
        raise errors.InvalidArgument(
            "last_batch_handle='roll_over' carries samples into the next epoch, which breaks "
            "once-per-epoch coverage over several daemons: use 'pad' or 'discard'")
    unknown = sorted(set(kwargs) - set(_AUGMENTER_PARAMETERS) - {"mean", "std"})
    if unknown:
        raise TypeError("CreateAugmenter() got unexpected keyword argument(s): %s" %
                        ", ".join(unknown))
    config = pipeline_pb2.PipelineConfig(data_name=data_name, label_name=label_name)
    config.image_iter.CopyFrom(image_iter_config(
        batch_size, data_shape, label_width, path_imgrec, path_imglist, path_root,
        path_imgidx, shuffle, 0, 1, imglist, last_batch_handle, seed, bad_record_policy,
        kwargs))
    window = resolve_max_batches(max_batches, in_flight)
    discard_short = last_batch_handle == "discard"
    if balance is None:
        balance = "discard" if discard_short else "pad"

    def open_part(client, part, parts, part_seed):
        part_config = pipeline_pb2.PipelineConfig()
        part_config.CopyFrom(config)
        part_config.image_iter.num_parts = parts
        part_config.image_iter.part_index = part
        if part_seed is not None:
            part_config.image_iter.seed = part_seed
        return client.open_config(part_config, max_batches=window)

    def part_samples(clients, parts):
        # Every part holds N // P keys: this trainer's own parts tell the size of all.
        samples = parts[0].num_samples
        if samples < 0:
            return None
        return [samples] * (len(clients) * (1 if world_size is None else world_size))

    iterator = ShardedImageIter(
        server, rank, world_size, open_part, part_samples=part_samples,
        discard_short=discard_short, balance=balance, num_batches=num_batches,
        fill_short=False, on_daemon_failure=on_daemon_failure,
        root_certificates=root_certificates, certificate_chain=certificate_chain,
        private_key=private_key, token=token)
    iterator.data_shape = tuple(config.image_iter.data_shape)
    iterator.label_width = int(label_width)
    iterator.dtype = dtype
    iterator.last_batch_handle = last_batch_handle
    iterator.shuffle = bool(config.image_iter.shuffle)
    return iterator


class ImageIter(RemoteIter):
    """mx.image.ImageIter served by iterd.

    Besides MXNet's arguments: seed (shuffle and augmentation seed; 0 = drawn by the daemon),
    bad_record_policy ('skip' or 'fail'), server (address, else $ITERD_ADDRESS), max_batches /
    in_flight (batches per Fetch window), root_certificates, certificate_chain, private_key and
    token (the connection's security, see iterd.Client; None: the ITERD_TLS_CA / ITERD_TLS_CERT /
    ITERD_TLS_KEY / ITERD_TOKEN environment variables). provide_data / provide_label are plain
    (name, shape) tuples, as MXNet's ImageIter gives them; data and labels are float32.

    Many daemons: server=[addresses] or a DNS name of several, with rank= and world_size=
    (and balance=, num_batches=, on_daemon_failure='fail'|'reassign') returns a ShardedImageIter
    (see iterd/sharded_iter.py).
    """

    def __new__(cls, *args, **kwargs):
        if sharded_iter.wants_sharding(kwargs.get("server"), kwargs.get("rank"),
                                       kwargs.get("world_size")):
            return sharded_image_iter(*args, **kwargs)
        return super(ImageIter, cls).__new__(cls)

    def __init__(self, batch_size, data_shape, label_width=1, path_imgrec=None,
                 path_imglist=None, path_root=None, path_imgidx=None, shuffle=False,
                 part_index=0, num_parts=1, aug_list=None, imglist=None, data_name="data",
                 label_name="softmax_label", dtype="float32", last_batch_handle="pad", *,
                 seed=None, bad_record_policy=None, server=None, max_batches=None,
                 in_flight=None, root_certificates=None, certificate_chain=None,
                 private_key=None, token=None, **kwargs):
        if aug_list is not None:
            raise errors.InvalidArgument(
                "iterd.ImageIter cannot run Python augmenter objects (aug_list) in the daemon: "
                "leave aug_list=None and pass CreateAugmenter's keyword arguments instead "
                "(resize, rand_crop, rand_resize, rand_mirror, mean, std, brightness, contrast, "
                "saturation, hue, pca_noise, rand_gray, inter_method)")
        unknown = sorted(set(kwargs) - set(_AUGMENTER_PARAMETERS) - {"mean", "std"})
        if unknown:
            # MXNet passes **kwargs to CreateAugmenter, which raises TypeError for them.
            raise TypeError("CreateAugmenter() got unexpected keyword argument(s): %s" %
                            ", ".join(unknown))
        if str(np.dtype(dtype).name if not isinstance(dtype, str) else dtype) not in \
                _LABEL_DTYPES:
            raise errors.InvalidArgument("dtype %r label not supported (one of %s)" %
                                         (dtype, ", ".join(_LABEL_DTYPES)))
        config = pipeline_pb2.PipelineConfig(data_name=data_name, label_name=label_name)
        config.image_iter.CopyFrom(image_iter_config(
            batch_size, data_shape, label_width, path_imgrec, path_imglist, path_root,
            path_imgidx, shuffle, part_index, num_parts, imglist, last_batch_handle, seed,
            bad_record_policy, kwargs))
        window = resolve_max_batches(max_batches, in_flight)

        client, response, open_message = open_with_own_client(
            server, config, root_certificates=root_certificates,
            certificate_chain=certificate_chain, private_key=private_key, token=token)
        super(ImageIter, self).__init__(client, response, window, owns_client=True,
                                        open_message=open_message)
        self.data_shape = tuple(config.image_iter.data_shape)
        self.label_width = int(label_width)
        self.dtype = dtype
        self.last_batch_handle = last_batch_handle
        self.shuffle = bool(config.image_iter.shuffle)

    @property
    def provide_data(self):
        return [(desc.name, tuple(desc.shape)) for desc in self._provide_data]

    @property
    def provide_label(self):
        return [(desc.name, tuple(desc.shape)) for desc in self._provide_label]

    def hard_reset(self):
        """Restarts at the first sample, dropping samples roll_over held back (MXNet's
        hard_reset): the daemon is told no batch of this epoch was used."""
        self._batches_consumed = 0
        self.reset()
