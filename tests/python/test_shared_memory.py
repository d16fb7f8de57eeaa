"""Same-host shared memory between the daemon and the Python client, against a real daemon.

With shared memory the daemon produces each payload in a slot of a per-iterator memfd and sends
only the header; the client receives the region's read-only descriptor from the daemon's hand-over
socket (presenting the token), maps it and copies the slot out. These tests check that batches are
identical to the byte stream's, that any unusable region falls back to the byte stream, and that
the region goes away with the iterator. tests/python/test_hostile_shm.py attacks it.
"""
import os

import numpy as np
import pytest

import iterd
from iterd import wire
from iterd.client import is_loopback_address
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from image_data import write_labelled_rec

SAMPLES = 53  # Not a multiple of the batch size: the last batch pads.
BATCH_SIZE = 8
SMALL = (3, 32, 32)
RECORDS = 21


@pytest.fixture(scope="module")
def labelled_rec(daemon):
    write_labelled_rec(os.path.join(str(daemon.data_root), "shm_labelled.rec"), RECORDS)
    return "shm_labelled.rec"


def arrays():
    data = np.arange(SAMPLES * 6, dtype=np.float32).reshape(SAMPLES, 2, 3)
    label = np.arange(SAMPLES, dtype=np.float32)
    return data, label


def batch_values(batch):
    """Everything a batch carries, as plain values to compare."""
    return ([a.tolist() for a in batch.data], [a.tolist() for a in batch.label], batch.pad,
            None if batch.index is None else batch.index.tolist())


def read_epochs(iterator, epochs=3, stop_early_in=1, stop_after=3):
    """`epochs` epochs; epoch `stop_early_in` is reset after `stop_after` batches (mid-epoch)."""
    epochs_read = []
    for epoch in range(epochs):
        batches = []
        for batch in iterator:
            batches.append(batch_values(batch))
            if epoch == stop_early_in and len(batches) == stop_after:
                break
        epochs_read.append(batches)
        iterator.reset()
    return epochs_read


def open_ndarray(monkeypatch, shared_memory, **keywords):
    monkeypatch.setenv("ITERD_SHARED_MEMORY", "1" if shared_memory else "0")
    data, label = arrays()
    return iterd.NDArrayIter(data, label, batch_size=BATCH_SIZE, last_batch_handle="pad",
                             **keywords)


def inline_config():
    config = pipeline_pb2.PipelineConfig()
    config.csv.data_csv = "rows10.csv"
    config.csv.data_shape.append(2)
    config.csv.batch_size = 3
    return config


@pytest.mark.parametrize("max_batches", [1, 2, 5])
def test_ndarray_batches_are_identical_with_and_without_shared_memory(address, monkeypatch,
                                                                       max_batches):
    with open_ndarray(monkeypatch, True, server=address, max_batches=max_batches) as shared:
        assert shared.uses_shared_memory
        from_shared = read_epochs(shared)
    with open_ndarray(monkeypatch, False, server=address, max_batches=max_batches) as streamed:
        assert not streamed.uses_shared_memory
        from_bytes = read_epochs(streamed)
    assert [len(epoch) for epoch in from_shared] == [7, 3, 7]
    assert from_shared == from_bytes
    first_data = np.array(from_shared[0][0][0][0])
    np.testing.assert_array_equal(first_data, arrays()[0][:BATCH_SIZE])


def test_image_record_batches_are_identical_with_and_without_shared_memory(
        address, monkeypatch, labelled_rec):
    parameters = dict(path_imgrec=labelled_rec, data_shape=SMALL, batch_size=4, shuffle=True,
                      seed=3, rand_mirror=True, seed_aug=11, server=address)
    epochs = []
    for shared_memory in (True, False):
        monkeypatch.setenv("ITERD_SHARED_MEMORY", "1" if shared_memory else "0")
        with iterd.ImageRecordIter(**parameters) as it:
            assert it.uses_shared_memory == shared_memory
            epochs.append(read_epochs(it, epochs=3, stop_early_in=2, stop_after=2))
    assert len(epochs[0][0]) == 6 and len(epochs[0][2]) == 2  # round_batch: 21 -> 6 batches.
    assert epochs[0] == epochs[1]


def test_window_larger_than_the_slots_is_capped_and_exact(address, monkeypatch):
    with open_ndarray(monkeypatch, True, server=address, max_batches=50) as shared:
        assert shared.uses_shared_memory
        from_shared = read_epochs(shared, epochs=2)
    with open_ndarray(monkeypatch, False, server=address) as streamed:
        assert read_epochs(streamed, epochs=2) == from_shared


def test_default_is_shared_memory_on_a_loopback_address(address, monkeypatch):
    monkeypatch.delenv("ITERD_SHARED_MEMORY", raising=False)
    with iterd.Client(address) as client:
        assert client.wants_shared_memory
        it = client.open_config(inline_config())
        assert it.uses_shared_memory
        # rows10.csv: row i starts with 10 i; the last batch wraps around (round_batch).
        assert [b.data[0][:, 0].tolist() for b in it] == [[0, 10, 20], [30, 40, 50],
                                                          [60, 70, 80], [90, 0, 10]]
        it.close()
    assert is_loopback_address("127.0.0.1:7070")
    assert is_loopback_address("localhost:7070")
    assert is_loopback_address("[::1]:7070")
    assert is_loopback_address("ipv4:127.0.0.2:7070")
    assert is_loopback_address("unix:/tmp/iterd.sock")
    assert not is_loopback_address("10.1.2.3:7070")
    assert not is_loopback_address("trainer-7:7070")


def test_shared_memory_false_asks_for_no_region(address):
    with iterd.Client(address, shared_memory=False) as client:
        response = client.open_iterator_response(
            service_pb2.OpenIterator(config=inline_config()))
        assert not response.HasField("shared_memory")
        client.close_iterator(response.iterator_id)


def test_failed_hand_over_falls_back_to_the_byte_stream(address, monkeypatch):
    def refuse(socket_name, token):
        raise ConnectionRefusedError(111, "Connection refused", socket_name)

    monkeypatch.setattr(wire, "_receive_region_fd", refuse)
    with open_ndarray(monkeypatch, True, server=address) as it:
        assert not it.uses_shared_memory
        epochs = read_epochs(it, epochs=2)
    with open_ndarray(monkeypatch, False, server=address) as streamed:
        assert read_epochs(streamed, epochs=2) == epochs


def test_bad_token_is_refused_and_falls_back(address):
    with iterd.Client(address, shared_memory=True) as client:
        response = client.open_iterator_response(service_pb2.OpenIterator(config=inline_config()))
        assert response.HasField("shared_memory")
        region = response.shared_memory
        assert len(region.token) == 16
        assert region.handover_socket.startswith("@iterd-")
        tampered = service_pb2.OpenIteratorResponse()
        tampered.CopyFrom(response)
        tampered.shared_memory.token = bytes(b ^ 0xFF for b in region.token)
        assert wire.SharedMemoryMapping.map(tampered.shared_memory) is None
        it = iterd.RemoteIter(client, tampered, 2)
        assert not it.uses_shared_memory
        assert len(list(it)) == 4
        it.close()


def test_region_is_handed_over_once(address):
    with iterd.Client(address, shared_memory=True) as client:
        response = client.open_iterator_response(service_pb2.OpenIterator(config=inline_config()))
        first = wire.SharedMemoryMapping.map(response.shared_memory)
        assert first is not None
        assert wire.SharedMemoryMapping.map(response.shared_memory) is None
        first.close()
        client.close_iterator(response.iterator_id)


def test_unreachable_or_malformed_hand_over_socket_is_refused(address):
    region = service_pb2.SharedMemoryRegion(handover_socket="@iterd-nobody-listens",
                                            token=b"x" * 16, slot_bytes=4096, slots=2)
    assert wire.SharedMemoryMapping.map(region) is None
    for name in ("", "@", "/tmp/iterd.sock", "iterd-no-at-sign"):
        region.handover_socket = name
        assert wire.SharedMemoryMapping.map(region) is None


def mapped_regions():
    """Mappings of iterd regions in this process (/proc/self/maps)."""
    with open("/proc/self/maps") as maps:
        return sum("memfd:iterd-batches" in line for line in maps)


def test_region_is_unmapped_at_close(address):
    with iterd.Client(address, shared_memory=True) as client:
        response = client.open_iterator_response(service_pb2.OpenIterator(config=inline_config()))
        before = mapped_regions()
        it = iterd.RemoteIter(client, response, 2)
        assert it.uses_shared_memory
        assert mapped_regions() == before + 1
        batch = next(it)
        it.close()
        assert mapped_regions() == before
        # The batch was copied out of its slot: still valid after the close.
        assert batch.data[0][:, 0].tolist() == [0, 10, 20]


def test_server_counts_bytes_served_through_shared_memory(address):
    with iterd.Client(address, shared_memory=True) as client:
        before = client.stats()
        it = client.open_config(inline_config())
        assert it.uses_shared_memory
        batches = list(it)
        it.close()
        after = client.stats()
    assert after.batches_served - before.batches_served >= len(batches) == 4
    assert after.bytes_served - before.bytes_served >= 4 * 3 * 2 * 4
