"""Iterator lifecycle against a real daemon: resets, concurrency, dead clients, large batches."""
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np

import iterd
from helpers import assert_daemon_serves
from iterd.v1 import pipeline_pb2
from iterd.v1 import tensor_pb2

EXPECTED_PAD_EPOCH = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1]]


def test_reset_mid_window_drains_stream_and_restarts_epoch(address):
    # in_flight=4: after one batch, three more of this Fetch window are still on the wire.
    with iterd.NDArrayIter(np.arange(10).reshape(10, 1), batch_size=3, in_flight=4,
                           server=address) as it:
        assert next(it).data[0][:, 0].tolist() == [0, 1, 2]
        it.reset()
        assert [b.data[0][:, 0].tolist() for b in it] == EXPECTED_PAD_EPOCH
        it.reset()
        next_epoch_start = next(it).data[0][:, 0].tolist()
        it.reset()
        assert [b.data[0][:, 0].tolist() for b in it] == EXPECTED_PAD_EPOCH
    assert next_epoch_start == [0, 1, 2]


def test_reset_between_windows_restarts_epoch(address):
    with iterd.NDArrayIter(np.arange(10).reshape(10, 1), batch_size=3, in_flight=2,
                           server=address) as it:
        assert [next(it).data[0][0, 0] for _ in range(2)] == [0, 3]
        it.reset()
        assert [b.data[0][:, 0].tolist() for b in it] == EXPECTED_PAD_EPOCH


def test_two_clients_in_threads_each_get_their_own_values(address):
    failures = []
    barrier = threading.Barrier(2)

    def run(offset):
        try:
            data = offset + np.arange(50).reshape(50, 1)
            with iterd.NDArrayIter(data, data[:, 0] * 2, batch_size=7,
                                   server=address) as it:
                barrier.wait(timeout=10)
                for epoch in range(3):
                    if epoch:
                        it.reset()
                    values = np.concatenate([b.data[0][:, 0] for b in it])
                    expected = offset + np.concatenate([np.arange(50), np.arange(6)])
                    if not np.array_equal(values, expected):
                        failures.append((offset, epoch, values))
        except Exception as error:  # pylint: disable=broad-except
            failures.append((offset, error))

    threads = [threading.Thread(target=run, args=(offset,)) for offset in (0, 10000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []


KILLED_CLIENT_SCRIPT = r"""
import sys
import iterd
from iterd.v1 import pipeline_pb2, tensor_pb2
config = pipeline_pb2.PipelineConfig()
config.ndarray.data.add(name="data", path=sys.argv[2])
config.ndarray.batch_size = 8
config.ndarray.dtype = tensor_pb2.FLOAT32
client = iterd.Client(sys.argv[1])
it = client.open_config(config)
stream = client.fetch_stream(it.iterator_id, 2)
next(stream)  # The daemon is now streaming 2 batches of 32 MB that nobody reads.
print("streaming", flush=True)
sys.stdin.read()
"""


def open_iterators(client):
    return client.stats().open_iterators


def test_killed_client_mid_stream_frees_its_iterator(client, address, data_root):
    np.save(data_root / "killed.npy", np.ones((16, 1 << 20), dtype=np.float32))
    before = open_iterators(client)
    process = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT_SCRIPT, address,
                                "killed.npy"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "streaming"
        assert open_iterators(client) == before + 1
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while open_iterators(client) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_iterators(client) == before
    assert client.stats().iterators_expired >= 1
    assert_daemon_serves(address)


def test_closed_iterator_leaves_stats_and_rejects_calls(client, address):
    before = client.stats()
    it = iterd.NDArrayIter(np.zeros((4, 1)), batch_size=2, server=address)
    assert client.stats().open_iterators == before.open_iterators + 1
    next(it)
    it.close()
    it.close()  # Idempotent.
    after = client.stats()
    assert after.open_iterators == before.open_iterators
    assert after.iterators_opened == before.iterators_opened + 1
    assert after.batches_served >= before.batches_served + 1
    try:
        next(it)
        raise AssertionError("next() on a closed iterator returned")
    except iterd.IterdError as error:
        assert "closed" in error.message


def test_unknown_iterator_id_is_not_found(client):
    try:
        client.reset_iterator("no-such-iterator")
        raise AssertionError("reset of an unknown iterator succeeded")
    except iterd.NotFound as error:
        assert error.message


def test_large_inline_batch_arrives_intact(address):
    data = np.random.default_rng(7).random((128, 3, 224, 224), dtype=np.float32)
    label = np.arange(128, dtype=np.float32)
    with iterd.NDArrayIter(data, label, batch_size=64, server=address) as it:
        assert it.provide_data[0].shape == (64, 3, 224, 224)
        batches = list(it)
    assert len(batches) == 2
    for number, batch in enumerate(batches):
        part = data[number * 64:(number + 1) * 64]
        assert batch.data[0].shape == part.shape and batch.data[0].nbytes == 38535168
        assert hashlib.sha256(batch.data[0].tobytes()).hexdigest() == \
            hashlib.sha256(part.tobytes()).hexdigest()
        assert batch.label[0].tolist() == label[number * 64:(number + 1) * 64].tolist()


def test_npy_path_pipeline_keeps_file_dtype_and_values(client, data_root):
    array = np.arange(5 * 4, dtype=np.uint8).reshape(5, 4)
    np.save(data_root / "bytes.npy", array)
    config = pipeline_pb2.PipelineConfig()
    config.ndarray.data.add(name="data", path=os.path.join(str(data_root), "bytes.npy"))
    config.ndarray.batch_size = 5
    config.ndarray.dtype = tensor_pb2.UINT8
    with client.open_config(config) as it:
        assert it.provide_data[0].dtype is np.uint8
        batch = next(it)
    assert batch.data[0].dtype == np.uint8
    assert np.array_equal(batch.data[0], array)
