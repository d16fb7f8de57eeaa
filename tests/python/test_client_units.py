"""Client-side pieces that need no daemon: descriptors, wire decoding, buffer reuse."""
import sys

import numpy as np

import iterd
from iterd.v1 import service_pb2
from iterd.wire import BufferPool
from iterd.wire import chunk_span


def test_data_desc_is_a_name_shape_tuple_with_dtype_and_layout():
    desc = iterd.DataDesc("data", (30, 3))
    assert desc == ("data", (30, 3))
    name, shape = desc
    assert (name, shape, desc.dtype, desc.layout) == ("data", (30, 3), np.float32, "NCHW")
    assert repr(desc) == "DataDesc[data,(30, 3),<class 'numpy.float32'>,NCHW]"
    assert iterd.DataDesc.get_batch_axis("TNC") == 1 and iterd.DataDesc.get_batch_axis(None) == 0


def test_data_batch_prints_as_mxnet():
    batch = iterd.DataBatch([np.zeros((30, 3))], [np.zeros(30)], pad=0)
    assert str(batch) == "DataBatch: data shapes: [(30, 3)] label shapes: [(30,)]"
    assert str(iterd.DataBatch([np.zeros((2, 3))], [])) == \
        "DataBatch: data shapes: [(2, 3)] label shapes: None"


def test_chunk_span_finds_payload_of_serialized_chunk_messages():
    for size in (0, 1, 127, 128, 300, 4 << 20):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        message = service_pb2.FetchResponse(chunk=payload).SerializeToString()
        start, length = chunk_span(message)
        assert length == size and message[start:start + length] == payload


def test_chunk_span_rejects_header_and_end_of_epoch_messages():
    header = service_pb2.FetchResponse(header=service_pb2.BatchHeader(pad=3, payload_bytes=9))
    end = service_pb2.FetchResponse(end_of_epoch=service_pb2.EpochEnd(epoch=2))
    assert chunk_span(header.SerializeToString()) is None
    assert chunk_span(end.SerializeToString()) is None
    assert chunk_span(b"\x12\x05abc") is None  # Truncated.


def test_buffer_pool_reuses_only_buffers_nobody_references():
    pool = BufferPool(capacity=2)
    first = pool.take(64)
    view = first[8:16].view(np.float32)
    pool.give(first)
    first_id = id(first)
    del first
    second = pool.take(64)
    assert id(second) != first_id  # `view` still points into the first buffer.
    pool.give(second)
    del second
    del view
    reused = pool.take(64)
    assert id(reused) == first_id
    assert sys.getrefcount(reused) == 2


def test_buffer_pool_keeps_only_newest_buffers():
    pool = BufferPool(capacity=1)
    old, new = pool.take(8), pool.take(8)
    new_id = id(new)
    pool.give(old)
    pool.give(new)
    del old, new
    assert id(pool.take(8)) == new_id
