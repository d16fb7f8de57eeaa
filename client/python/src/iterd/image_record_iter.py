"""ImageRecordIter: mx.io.ImageRecordIter decoded, augmented and batched by the iterd daemon.

Like MXNet's native iterators it takes keyword arguments only, with MXNet's names and values
(tuples, bools, numbers, or the strings MXNet itself would pass: '(3,227,227)', 'True', '0.5').
Every field of iterd.v1.ImageRecordConfig is a keyword of the same name; unknown names are
ignored with a warning (MXNet ignores them silently). Paths are the daemon's: absolute, or
relative to its first data root. As in MXNet, the first batch is fetched at construction, so bad
arguments and bad data raise there.

    it = iterd.ImageRecordIter(path_imgrec="train.rec", data_shape=(3, 224, 224), batch_size=32,
                               resize=256, rand_crop=True, rand_mirror=True, server="host:7070")
"""
import numbers
import os
import re
import warnings

import numpy as np
from google.protobuf import descriptor as protobuf_descriptor

from iterd import errors
from iterd.client import open_with_own_client
from iterd.client import resolve_max_batches
from iterd.csv_iter import parse_bool
from iterd.csv_iter import parse_shape
from iterd import sharded_iter
from iterd.remote_iter import RemoteIter
from iterd.v1 import pipeline_pb2
from iterd.v1 import tensor_pb2

_FieldDescriptor = protobuf_descriptor.FieldDescriptor

_IMAGE_DTYPES = {
    "float32": tensor_pb2.FLOAT32,
    "uint8": tensor_pb2.UINT8,
    "int8": tensor_pb2.INT8,
}
_LAYOUTS = {"NCHW": pipeline_pb2.NCHW, "NHWC": pipeline_pb2.NHWC}
_BAD_RECORD_POLICIES = {"skip": pipeline_pb2.SKIP, "fail": pipeline_pb2.FAIL}

# MXNet parameters that change nothing on the daemon: output memory placement and threading
# strategy (ctx, device_id), logging (verbose), and the augmenter list, of which aug_default is
# the only member in MXNet too.
_NO_EFFECT_PARAMETERS = ("ctx", "device_id", "verbose", "aug_seq")

_INT_TYPES = (_FieldDescriptor.TYPE_INT32, _FieldDescriptor.TYPE_INT64,
              _FieldDescriptor.TYPE_UINT64)
_INT_RANGES = {
    _FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1),
    _FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
    _FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def parse_int(field, value):
    """An int from an int, an integral float, or its string form ('256', '256.0')."""
    if isinstance(value, (bool, np.bool_)):
        raise errors.InvalidArgument("%s must be an integer, got %r" % (field, value))
    if isinstance(value, numbers.Integral):
        return int(value)
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise errors.InvalidArgument("%s must be an integer, got %r" % (field, value)) from None
    if not number.is_integer():
        raise errors.InvalidArgument("%s must be an integer, got %r" % (field, value))
    return int(number)


def parse_float(field, value):
    """A float from a number or its string form ('0.5', '1e10')."""
    if isinstance(value, (bool, np.bool_)):
        raise errors.InvalidArgument("%s must be a number, got %r" % (field, value))
    try:
        return float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise errors.InvalidArgument("%s must be a number, got %r" % (field, value)) from None


def parse_number_list(field, value, parse):
    """A list from a sequence or a string such as '0,90,180' or '(0, 90)'."""
    if isinstance(value, str):
        value = [p for p in re.split(r"[\s,()\[\]]+", value) if p]
    elif isinstance(value, (numbers.Number, np.number)):
        value = [value]
    try:
        items = list(value)
    except TypeError:
        raise errors.InvalidArgument("%s must be a list of numbers, got %r" %
                                     (field, value)) from None
    return [parse(field, item) for item in items]


def parse_choice(field, value, choices):
    """The enum value of a name in `choices` (case-insensitive for the names' own case)."""
    key = value.name if isinstance(value, np.dtype) else value
    if isinstance(key, type):  # numpy.uint8 and friends.
        key = np.dtype(key).name
    if isinstance(key, str):
        for name, enum_value in choices.items():
            if key.strip().lower() == name.lower():
                return enum_value
    raise errors.InvalidArgument("%s must be one of %s, got %r" %
                                 (field, ", ".join(choices), value))


def set_config_field(config, field, value, choices=None):
    """Sets `config.<field>` from a user value, converted by the field's protobuf type.

    None leaves the field unset (MXNet's default). `choices` maps names to values of an enum
    field. Raises InvalidArgument naming the field when the value does not convert or fit.
    """
    if value is None:
        return
    descriptor = config.DESCRIPTOR.fields_by_name[field]
    field_type = descriptor.type
    if field_type == _FieldDescriptor.TYPE_ENUM:
        converted = parse_choice(field, value, choices)
    elif field_type in _INT_TYPES:
        if descriptor.label == _FieldDescriptor.LABEL_REPEATED:
            converted = (parse_shape(field, value) if field.endswith("shape")
                         else parse_number_list(field, value, parse_int))
        else:
            converted = parse_int(field, value)
        low, high = _INT_RANGES[field_type]
        for number in (converted if isinstance(converted, (list, tuple)) else [converted]):
            if not low <= number <= high:
                raise errors.InvalidArgument("%s: %d is out of range [%d, %d]" %
                                             (field, number, low, high))
    elif field_type == _FieldDescriptor.TYPE_FLOAT:
        if descriptor.label == _FieldDescriptor.LABEL_REPEATED:
            converted = parse_number_list(field, value, parse_float)
        else:
            converted = parse_float(field, value)
    elif field_type == _FieldDescriptor.TYPE_BOOL:
        converted = parse_bool(field, value)
    elif field_type == _FieldDescriptor.TYPE_STRING:
        converted = os.fspath(value)
    else:
        raise errors.InvalidArgument("%s cannot be set from a keyword" % field)
    if descriptor.label == _FieldDescriptor.LABEL_REPEATED:
        getattr(config, field).extend(converted)
    else:
        setattr(config, field, converted)


def _field_choices(field):
    return {"dtype": _IMAGE_DTYPES, "layout": _LAYOUTS,
            "bad_record_policy": _BAD_RECORD_POLICIES}.get(field)


def image_record_config(parameters):
    """The ImageRecordConfig of MXNet keyword arguments (a dict; unknown names were removed)."""
    config = pipeline_pb2.ImageRecordConfig()
    for field, value in parameters.items():
        if field == "seed_aug" and isinstance(value, numbers.Integral) and value < 0:
            value = int(value) & (2**64 - 1)  # MXNet's seed_aug is any int; the wire's is uint64.
        set_config_field(config, field, value, _field_choices(field))
    return config


def image_record_pipeline(data_name, label_name, prefetch_buffer, parameters, stacklevel=3):
    """The PipelineConfig of ImageRecordIter's keyword arguments (checks, unknown-name warning)."""
    fields = pipeline_pb2.ImageRecordConfig.DESCRIPTOR.fields_by_name
    unknown = sorted(k for k in parameters
                     if k not in fields and k not in _NO_EFFECT_PARAMETERS)
    if unknown:
        # MXNet silently ignores unknown keywords; say so, since it is often a typo.
        warnings.warn("iterd.ImageRecordIter ignores unknown argument(s): %s" %
                      ", ".join(unknown), stacklevel=stacklevel)
    aug_seq = parameters.get("aug_seq")
    if aug_seq is not None and str(aug_seq).strip() not in ("", "aug_default"):
        raise errors.InvalidArgument("aug_seq: only 'aug_default' exists, got %r" % (aug_seq,))
    # Every check the client can make comes before any network traffic.
    for required in ("path_imgrec", "data_shape", "batch_size"):
        if parameters.get(required) in (None, ""):
            raise errors.InvalidArgument("ImageRecordIter: %s is required" % required)
    known = {k: v for k, v in parameters.items() if k in fields}
    config = pipeline_pb2.PipelineConfig(data_name=data_name, label_name=label_name)
    config.image_record.CopyFrom(image_record_config(known))
    if prefetch_buffer is not None:
        config.prefetch_buffer = parse_int("prefetch_buffer", prefetch_buffer)
        if config.prefetch_buffer < 0:
            raise errors.InvalidArgument("prefetch_buffer must be >= 0, got %r" %
                                         (prefetch_buffer,))
    return config


def sharded_image_record_iter(data_name="data", label_name="softmax_label",
                              prefetch_buffer=None, server=None, max_batches=None,
                              in_flight=None, rank=None, world_size=None, balance="pad",
                              num_batches=None, on_daemon_failure="fail", root_certificates=None,
                              certificate_chain=None, private_key=None, token=None,
                              **parameters):
    """ImageRecordIter over several daemons for trainer `rank` of `world_size` (sharded_iter).

    Part k of P = world_size * daemons is opened with num_parts=P, part_index=k and
    round_batch=False (every epoch of a part starts at its first record, so an epoch covers each
    record once); round_batch=True (the default) is honoured by filling a part's short batch
    with that part's first rows on the client. With path_imgidx the sample count is read from
    one daemon (a batch_size 1 probe) to compute every trainer's batch count.
    """
    config = image_record_pipeline(data_name, label_name, prefetch_buffer, parameters,
                                   stacklevel=4)
    record = config.image_record
    if record.num_parts > 1 or record.part_index != 0:
        raise errors.InvalidArgument(
            "num_parts / part_index are set by the many-daemon iterator from rank, world_size "
            "and the daemons; leave them unset (got num_parts=%d, part_index=%d)" %
            (record.num_parts, record.part_index))
    user_round_batch = not record.HasField("round_batch") or record.round_batch
    balance = "pad" if balance is None else balance
    world_size_value = 1 if world_size is None else world_size
    window = resolve_max_batches(max_batches, in_flight)

    def open_part(client, part_index, num_parts, seed):
        part = pipeline_pb2.PipelineConfig()
        part.CopyFrom(config)
        part.image_record.num_parts = num_parts
        part.image_record.part_index = part_index
        part.image_record.round_batch = False
        # `seed` (the first open's seed_aug) is not set: an unset seed_aug is derived from the
        # config's seed, so the reopened part augments the same, and setting it would change the
        # config fingerprint, making the part's states unloadable into a part opened afresh.
        del seed
        return client.open_config(part, max_batches=window)

    def part_samples(clients, parts):
        del parts  # Byte-range parts know their count only after a pass.
        if not record.path_imgidx:
            return None
        probe = pipeline_pb2.PipelineConfig()
        probe.CopyFrom(config)
        probe.image_record.batch_size = 1
        probe.image_record.shuffle = False
        probe.image_record.round_batch = False
        probe.image_record.preprocess_threads = 1
        probe.prefetch_buffer = 1
        last_error = None
        for client in clients:
            try:
                with client.open_config(probe) as iterator:
                    total = iterator.num_samples
                break
            except errors.IterdError as error:
                if not sharded_iter.is_daemon_failure(error):
                    raise
                last_error = error
        else:
            raise last_error
        if total < 0:
            return None
        return sharded_iter.ceil_split_sizes(total, len(clients) * world_size_value)

    return sharded_iter.ShardedIter(
        server, rank, world_size, open_part, part_samples=part_samples, discard_short=False,
        balance=balance, num_batches=num_batches, fill_short=user_round_batch,
        on_daemon_failure=on_daemon_failure, root_certificates=root_certificates,
        certificate_chain=certificate_chain, private_key=private_key, token=token)


class ImageRecordIter(RemoteIter):
    """mx.io.ImageRecordIter served by iterd (keyword arguments only).

    Keywords: every ImageRecordConfig field with MXNet's names (path_imgrec, data_shape,
    batch_size, resize, rand_crop, rand_mirror, mean_r, std_r, ...), prefetch_buffer,
    data_name, label_name, and iterd's own: layout ('NCHW' or, with dtype='uint8', 'NHWC'),
    seed_aug, bad_record_policy ('skip' or 'fail'), server (address, else $ITERD_ADDRESS),
    max_batches / in_flight (batches per Fetch window, default 2), and the connection's security:
    root_certificates, certificate_chain, private_key, token (see iterd.Client; None: the
    ITERD_TLS_CA / ITERD_TLS_CERT / ITERD_TLS_KEY / ITERD_TOKEN environment variables).

    Many daemons: server=[addresses] or a DNS name of several, with rank= and world_size=
    (and balance='pad'|'discard', num_batches=, on_daemon_failure='fail'|'reassign') returns a
    sharded_iter.ShardedIter instead (see iterd/sharded_iter.py).
    """

    def __new__(cls, *args, **kwargs):
        if sharded_iter.wants_sharding(kwargs.get("server"), kwargs.get("rank"),
                                       kwargs.get("world_size")):
            return sharded_image_record_iter(*args, **kwargs)
        return super(ImageRecordIter, cls).__new__(cls)

    def __init__(self, *, data_name="data", label_name="softmax_label", prefetch_buffer=None,
                 server=None, max_batches=None, in_flight=None, root_certificates=None,
                 certificate_chain=None, private_key=None, token=None, **parameters):
        config = image_record_pipeline(data_name, label_name, prefetch_buffer, parameters)
        window = resolve_max_batches(max_batches, in_flight)

        client, response, open_message = open_with_own_client(
            server, config, root_certificates=root_certificates,
            certificate_chain=certificate_chain, private_key=private_key, token=token)
        super(ImageRecordIter, self).__init__(client, response, window, owns_client=True,
                                              open_message=open_message)
        # MXNet's MXDataIter fetches the first batch at construction: errors in the data (an
        # undecodable first record under the FAIL policy...) surface here, as there.
        # Until the user takes it, the position stays the one before it.
        self._first_batch = None
        opened_state = self._state
        try:
            self._first_batch = RemoteIter.next(self)
        except StopIteration:
            pass
        except BaseException:
            self.close()
            raise
        self._first_batch_state, self._state = self._state, opened_state

    def next(self):
        if self._first_batch is not None:
            batch, self._first_batch = self._first_batch, None
            self._state = self._first_batch_state
            return batch
        return super(ImageRecordIter, self).next()

    def _on_reset(self):
        self._first_batch = None


def ImageRecordUInt8Iter(**parameters):  # pylint: disable=invalid-name
    """MXNet's deprecated alias: ImageRecordIter with dtype='uint8'."""
    parameters["dtype"] = "uint8"
    return ImageRecordIter(**parameters)


def ImageRecordInt8Iter(**parameters):  # pylint: disable=invalid-name
    """MXNet's deprecated alias: ImageRecordIter with dtype='int8'."""
    parameters["dtype"] = "int8"
    return ImageRecordIter(**parameters)
