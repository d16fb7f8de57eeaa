"""DataDesc and DataBatch as MXNet's mx.io defines them, plus wire dtype conversions.

DataDesc is a namedtuple('DataDesc', ['name', 'shape']) subclass with `dtype` (a NumPy type) and
`layout` attributes, so equality and unpacking only involve (name, shape), as in MXNet.
"""
from collections import namedtuple

import numpy as np

from iterd.v1 import tensor_pb2

# Wire DataType <-> NumPy scalar type. Values on the wire are little-endian.
_NUMPY_TYPE_OF_WIRE = {
    tensor_pb2.FLOAT32: np.float32,
    tensor_pb2.FLOAT64: np.float64,
    tensor_pb2.FLOAT16: np.float16,
    tensor_pb2.UINT8: np.uint8,
    tensor_pb2.INT8: np.int8,
    tensor_pb2.INT32: np.int32,
    tensor_pb2.INT64: np.int64,
}
_WIRE_OF_NUMPY_TYPE = {np.dtype(t): wire for wire, t in _NUMPY_TYPE_OF_WIRE.items()}


def numpy_type(wire_dtype):
    """The NumPy scalar type (e.g. numpy.float32) of a wire DataType; UNSPECIFIED is float32."""
    if wire_dtype == tensor_pb2.DATA_TYPE_UNSPECIFIED:
        return np.float32
    try:
        return _NUMPY_TYPE_OF_WIRE[wire_dtype]
    except KeyError:
        raise ValueError("unknown wire dtype %r" % wire_dtype) from None


def little_endian_dtype(wire_dtype):
    """The little-endian numpy.dtype used to view received bytes of a wire DataType."""
    return np.dtype(numpy_type(wire_dtype)).newbyteorder("<")


def wire_dtype(numpy_dtype):
    """The wire DataType of a NumPy dtype; ValueError if iterd cannot carry it."""
    dtype = np.dtype(numpy_dtype)
    try:
        return _WIRE_OF_NUMPY_TYPE[dtype.newbyteorder("=")]
    except KeyError:
        raise ValueError("dtype %s is not supported by iterd (use one of %s)" % (
            dtype, ", ".join(sorted(str(d) for d in _WIRE_OF_NUMPY_TYPE)))) from None


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name, shape, dtype and layout of one input or label of every batch (mx.io.DataDesc)."""

    def __new__(cls, name, shape, dtype=np.float32, layout="NCHW"):
        # A tuple shape, whatever sequence was given, so that DataDesc("d", [2, 3]) compares
        # equal to ("d", (2, 3)) and prints as MXNet prints its (tuple) shapes.
        desc = super(DataDesc, cls).__new__(cls, name, None if shape is None else tuple(shape))
        desc.dtype = dtype
        desc.layout = layout
        return desc

    def __repr__(self):
        return "DataDesc[%s,%s,%s,%s]" % (self.name, self.shape, self.dtype, self.layout)

    def _replace(self, **fields):
        """namedtuple's _replace, keeping dtype and layout (the inherited one bypasses __new__
        and would return a DataDesc without them)."""
        replaced = DataDesc(fields.pop("name", self.name), fields.pop("shape", self.shape),
                            fields.pop("dtype", self.dtype), fields.pop("layout", self.layout))
        if fields:
            raise ValueError("Got unexpected field names: %r" % sorted(fields))
        return replaced

    @staticmethod
    def get_batch_axis(layout):
        """0 when layout is None, else the position of 'N' in it (-1 if absent)."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types=None):
        """DataDescs from (name, shape) pairs and optional (name, dtype) pairs."""
        if types is not None:
            type_of_name = dict(types)
            return [DataDesc(name, shape, type_of_name[name]) for name, shape in shapes]
        return [DataDesc(name, shape) for name, shape in shapes]

    @classmethod
    def from_proto(cls, proto):
        return cls(proto.name, tuple(proto.shape), numpy_type(proto.dtype), proto.layout or "NCHW")


class DataBatch(object):
    """One batch (mx.io.DataBatch): lists of NumPy arrays plus pad and index.

    The arrays of a batch received from the daemon share one buffer that the client never reuses
    while any of them is referenced, so a batch stays valid after later next() calls.
    """

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None, provide_data=None,
                 provide_label=None):
        if data is not None:
            assert isinstance(data, (list, tuple)), "Data must be list of arrays"
        if label is not None:
            assert isinstance(label, (list, tuple)), "Label must be list of arrays"
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data] if self.data is not None else None
        label_shapes = [l.shape for l in self.label] if self.label else None
        return "{}: data shapes: {} label shapes: {}".format(
            self.__class__.__name__, data_shapes, label_shapes)
