"""CSVIter: mx.io.CSVIter read and batched by the iterd daemon.

Like MXNet's native iterators it takes keyword arguments only and ignores unknown ones (with a
warning here). Paths are the daemon's: absolute, or relative to its first data root. Errors in
the data surface at construction (the daemon prepares the first batch before answering) or from
next().
"""
import numbers
import os
import re
import warnings

import numpy as np

from iterd import errors
from iterd.client import open_with_own_client
from iterd.client import resolve_max_batches
from iterd.remote_iter import RemoteIter
from iterd.v1 import pipeline_pb2
from iterd.v1 import tensor_pb2

_DTYPES = {
    "float32": tensor_pb2.FLOAT32,
    "int32": tensor_pb2.INT32,
    "int64": tensor_pb2.INT64,
}
# MXNet parameters that CSVIter accepts and that change nothing here.
_NO_EFFECT_PARAMETERS = ("ctx",)


def parse_shape(field, value):
    """A shape tuple from a tuple/list, an int, or MXNet's string form "(3, 28, 28)"."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,()\[\]]+", value) if p]
        try:
            value = tuple(int(p) for p in parts)
        except ValueError:
            raise errors.InvalidArgument("%s: cannot parse shape %r" % (field, value)) from None
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value),)
    try:
        shape = tuple(value)
    except TypeError:
        raise errors.InvalidArgument("%s must be a shape tuple, got %r" % (field, value)) from None
    if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0
                        for d in shape):
        raise errors.InvalidArgument("%s must be a non-empty tuple of positive integers, got %r" %
                                     (field, value))
    return tuple(int(d) for d in shape)


def parse_bool(field, value):
    """MXNet's bool parameters: True/False, 0/1, or their string spellings."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise errors.InvalidArgument("%s must be a bool, got %r" % (field, value))


def parse_dtype(value):
    """The wire dtype of CSVIter's dtype: None/float32 (default), int32 or int64."""
    if value is None:
        return tensor_pb2.FLOAT32
    try:
        name = np.dtype(value).name
    except TypeError:
        name = str(value)
    if name not in _DTYPES:
        raise errors.InvalidArgument("dtype must be one of float32, int32, int64, got %r" %
                                     (value,))
    return _DTYPES[name]


class CSVIter(RemoteIter):
    """mx.io.CSVIter served by iterd (keyword arguments only).

    Extra keywords: server (address, else $ITERD_ADDRESS), max_batches / in_flight (batches per
    Fetch window, default 2), delimiter (field separator, default ","), and the connection's
    security: root_certificates, certificate_chain, private_key, token (see iterd.Client; None:
    the ITERD_TLS_CA / ITERD_TLS_CERT / ITERD_TLS_KEY / ITERD_TOKEN environment variables).
    """

    def __init__(self, *, data_csv=None, data_shape=None, label_csv=None, label_shape=(1,),
                 batch_size=None, round_batch=True, dtype=None, prefetch_buffer=4,
                 data_name="data", label_name="softmax_label", server=None, max_batches=None,
                 in_flight=None, delimiter=None, root_certificates=None, certificate_chain=None,
                 private_key=None, token=None, **other_parameters):
        unknown = sorted(k for k in other_parameters if k not in _NO_EFFECT_PARAMETERS)
        if unknown:
            # MXNet silently ignores unknown keywords; say so, since it is often a typo.
            warnings.warn("iterd.CSVIter ignores unknown argument(s): %s" % ", ".join(unknown),
                          stacklevel=2)
        # Every check the client can make comes before any network traffic.
        if data_csv is None or data_csv == "":
            raise errors.InvalidArgument("CSVIter: data_csv is required")
        if data_shape is None:
            raise errors.InvalidArgument("CSVIter: data_shape is required")
        if batch_size is None:
            raise errors.InvalidArgument("CSVIter: batch_size is required")
        if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or
                batch_size <= 0):
            raise errors.InvalidArgument("CSVIter: batch_size must be a positive integer, got %r" %
                                         (batch_size,))
        if (isinstance(prefetch_buffer, bool) or
                not isinstance(prefetch_buffer, numbers.Integral) or prefetch_buffer < 0):
            raise errors.InvalidArgument("CSVIter: prefetch_buffer must be a non-negative "
                                         "integer, got %r" % (prefetch_buffer,))
        config = pipeline_pb2.PipelineConfig(data_name=data_name, label_name=label_name)
        csv = config.csv
        csv.data_csv = os.fspath(data_csv)
        csv.data_shape.extend(parse_shape("data_shape", data_shape))
        if label_csv is not None and os.fspath(label_csv) not in ("", "NULL"):
            csv.label_csv = os.fspath(label_csv)
        csv.label_shape.extend(parse_shape("label_shape", label_shape))
        csv.batch_size = int(batch_size)
        csv.round_batch = parse_bool("round_batch", round_batch)
        csv.dtype = parse_dtype(dtype)
        csv.prefetch_buffer = int(prefetch_buffer)
        if delimiter:
            csv.delimiter = delimiter
        window = resolve_max_batches(max_batches, in_flight)

        client, response, open_message = open_with_own_client(
            server, config, root_certificates=root_certificates,
            certificate_chain=certificate_chain, private_key=private_key, token=token)
        super(CSVIter, self).__init__(client, response, window, owns_client=True,
                                      open_message=open_message)
