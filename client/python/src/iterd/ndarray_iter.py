"""NDArrayIter: mx.io.NDArrayIter over arrays uploaded to the iterd daemon.

The client applies MXNet's input rules (naming, sorting by name, float32 conversion), checks what
it can before any network traffic, and uploads the arrays inline in the OpenIterator stream. The
daemon batches them with MXNet's pad / discard / roll_over and shuffle semantics.
"""
import numbers

import numpy as np

from iterd import errors
from iterd.client import Client
from iterd.client import client_description
from iterd.client import resolve_max_batches
from iterd import sharded_iter
from iterd.remote_iter import RemoteIter
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from iterd.v1 import tensor_pb2

_LAST_BATCH_HANDLES = {
    "pad": pipeline_pb2.PAD,
    "discard": pipeline_pb2.DISCARD,
    "roll_over": pipeline_pb2.ROLL_OVER,
}


def _as_float32(name, value):
    """MXNet converts every NumPy (or array-like) input to float32, whatever its dtype."""
    if hasattr(value, "asnumpy"):  # An mx.nd.NDArray, should one be passed.
        value = value.asnumpy()
    try:
        array = np.ascontiguousarray(value, dtype="<f4")
    except (TypeError, ValueError) as error:
        raise TypeError("input %r cannot be converted to a float32 array: %s" % (name, error)) \
            from None
    if array.ndim == 0:
        raise errors.InvalidArgument("input %r is a scalar; it needs a sample axis" % name)
    return array


def named_arrays(value, allow_empty, default_name):
    """MXNet's _init_data: (name, float32 array) pairs sorted by name.

    One array -> default_name; a list of one -> default_name; a list of k > 1 -> _0_<name>,
    _1_<name>, ...; a dict -> its keys. Then sorted by plain string order.
    """
    if value is None:
        if not allow_empty:
            raise errors.InvalidArgument("%s must not be None" % default_name)
        value = []
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, (list, dict)):
        value = [value]
    if isinstance(value, list):
        if not value and not allow_empty:
            raise errors.InvalidArgument("%s must hold at least one array" % default_name)
        if len(value) == 1:
            value = {default_name: value[0]}
        else:
            value = {"_%d_%s" % (i, default_name): v for i, v in enumerate(value)}
    pairs = []
    for name, array in value.items():
        if not isinstance(name, str):
            raise TypeError("input names must be strings, got %r" % (name,))
        pairs.append((name, _as_float32(name, array)))
    return sorted(pairs, key=lambda pair: pair[0])


def ndarray_pipeline(data, label, batch_size, shuffle, last_batch_handle, data_name,
                     label_name, layout, seed, num_parts, part_index):
    """The PipelineConfig and inline arrays of NDArrayIter's arguments (checked)."""
    # Every check the client can make comes before any network traffic.
    if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or
            batch_size <= 0):
        raise errors.InvalidArgument("batch_size must be a positive integer, got %r" %
                                     (batch_size,))
    if last_batch_handle not in _LAST_BATCH_HANDLES:
        raise errors.InvalidArgument(
            "last_batch_handle must be one of 'pad', 'discard', 'roll_over', got %r" %
            (last_batch_handle,))
    if layout is not None and layout.find("N") > 0:
        raise errors.InvalidArgument("layout %r: iterd only batches along the first axis" %
                                     (layout,))
    data_pairs = named_arrays(data, allow_empty=False, default_name=data_name)
    label_pairs = named_arrays(label, allow_empty=True, default_name=label_name)
    num_samples = data_pairs[0][1].shape[0]
    for name, array in data_pairs + label_pairs:
        if array.shape[0] != num_samples:
            raise errors.InvalidArgument(
                "input %r has %d samples but %r has %d: every data and label array needs the "
                "same length" % (name, array.shape[0], data_pairs[0][0], num_samples))
    if num_samples == 0:
        raise errors.InvalidArgument("input %r has no samples" % data_pairs[0][0])
    if not isinstance(shuffle, (bool, np.bool_)):
        raise errors.InvalidArgument("shuffle must be a bool, got %r" % (shuffle,))

    config = pipeline_pb2.PipelineConfig(data_name=data_name, label_name=label_name)
    ndarray = config.ndarray
    for sources, pairs in ((ndarray.data, data_pairs), (ndarray.label, label_pairs)):
        for name, array in pairs:
            sources.add(name=name, inline=pipeline_pb2.InlineArray(
                dtype=tensor_pb2.FLOAT32, shape=array.shape))
    ndarray.batch_size = int(batch_size)
    ndarray.shuffle = bool(shuffle)
    ndarray.last_batch_handle = _LAST_BATCH_HANDLES[last_batch_handle]
    ndarray.seed = int(seed)
    ndarray.dtype = tensor_pb2.FLOAT32
    ndarray.num_parts = int(num_parts)
    ndarray.part_index = int(part_index)
    return config, [array for _, array in data_pairs + label_pairs]


class NDArrayIter(RemoteIter):
    """mx.io.NDArrayIter served by iterd.

    Extra keywords: server (address, else $ITERD_ADDRESS), max_batches / in_flight (batches per
    Fetch window, default 2), seed (shuffle seed; 0 lets the daemon draw one), num_parts and
    part_index (serve one contiguous shard of the samples), and the connection's security:
    root_certificates, certificate_chain, private_key, token (see iterd.Client; None: the
    ITERD_TLS_CA / ITERD_TLS_CERT / ITERD_TLS_KEY / ITERD_TOKEN environment variables).
    """

    def __new__(cls, *args, **kwargs):
        if sharded_iter.wants_sharding(kwargs.get("server"), kwargs.get("rank"),
                                       kwargs.get("world_size")):
            return sharded_ndarray_iter(*args, **kwargs)
        return super(NDArrayIter, cls).__new__(cls)

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", layout="NCHW", server=None,
                 max_batches=None, in_flight=None, seed=0, num_parts=1, part_index=0, *,
                 root_certificates=None, certificate_chain=None, private_key=None, token=None):
        config, arrays = ndarray_pipeline(data, label, batch_size, shuffle, last_batch_handle,
                                          data_name, label_name, layout, seed, num_parts,
                                          part_index)
        window = resolve_max_batches(max_batches, in_flight)

        client = Client(server, root_certificates=root_certificates,
                        certificate_chain=certificate_chain, private_key=private_key, token=token)
        open_message = service_pb2.OpenIterator(config=config, client=client_description())
        try:
            response = client.open_iterator_response(open_message, arrays)
        except BaseException:
            client.close()
            raise
        super(NDArrayIter, self).__init__(client, response, window, owns_client=True,
                                          open_message=open_message, arrays=arrays)
        self.shuffle = bool(shuffle)
        self.last_batch_handle = last_batch_handle
        self.num_data = self.num_samples
        self._sample_order = None

    @property
    def idx(self):
        """idx[i] = original position of the i-th sample of the current epoch (int64 array)."""
        if self._sample_order is None:
            self._check_open()
            self._sample_order = self._client.sample_order(self.iterator_id)
        return self._sample_order

    def _on_reset(self):
        self._sample_order = None


def sharded_ndarray_iter(data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                         data_name="data", label_name="softmax_label", layout="NCHW",
                         server=None, max_batches=None, in_flight=None, seed=0, num_parts=1,
                         part_index=0, rank=None, world_size=None, balance=None,
                         num_batches=None, on_daemon_failure="fail", *, root_certificates=None,
                         certificate_chain=None, private_key=None, token=None):
    """NDArrayIter over several daemons for trainer `rank` of `world_size` (sharded_iter).

    Each part is the daemon's NDArrayIter part (ceil(N / P) contiguous samples; the arrays are
    uploaded whole to each daemon, which serves its slice). balance defaults to 'discard' with
    last_batch_handle='discard', else 'pad'; roll_over is refused (it carries samples across
    epochs).
    """
    if num_parts != 1 or part_index != 0:
        raise errors.InvalidArgument(
            "num_parts / part_index are set by the many-daemon iterator from rank, world_size "
            "and the daemons; leave them unset (got num_parts=%r, part_index=%r)" %
            (num_parts, part_index))
    if last_batch_handle == "roll_over":
        raise errors.InvalidArgument(
            "last_batch_handle='roll_over' carries samples into the next epoch, which breaks "
            "once-per-epoch coverage over several daemons: use 'pad' or 'discard'")
    config, arrays = ndarray_pipeline(data, label, batch_size, shuffle, last_batch_handle,
                                      data_name, label_name, layout, seed, 1, 0)
    window = resolve_max_batches(max_batches, in_flight)
    total = arrays[0].shape[0]
    discard_short = last_batch_handle == "discard"
    if balance is None:
        balance = "discard" if discard_short else "pad"

    def open_part(client, part, parts, part_seed):
        part_config = pipeline_pb2.PipelineConfig()
        part_config.CopyFrom(config)
        part_config.ndarray.num_parts = parts
        part_config.ndarray.part_index = part
        if part_seed is not None:
            part_config.ndarray.seed = part_seed
        # The part keeps its OpenIterator message and arrays: load_state_dict() reopens it.
        return client.open_config(part_config, arrays, max_batches=window)

    def part_samples(clients, parts):
        del parts
        return sharded_iter.ceil_split_sizes(
            total, len(clients) * (1 if world_size is None else world_size))

    iterator = sharded_iter.ShardedIter(
        server, rank, world_size, open_part, part_samples=part_samples,
        discard_short=discard_short, balance=balance, num_batches=num_batches,
        fill_short=False, on_daemon_failure=on_daemon_failure,
        root_certificates=root_certificates, certificate_chain=certificate_chain,
        private_key=private_key, token=token)
    iterator.shuffle = bool(shuffle)
    iterator.last_batch_handle = last_batch_handle
    return iterator
