"""The daemon's own behaviour: shutdown, leases, limits, start-up checks, health, .npz inputs.

Each test starts its own daemon (tests/python/conftest.py start_daemon) with the flags it needs.
"""
import subprocess
import time

import grpc
import numpy as np
import pytest

import iterd
from conftest import iterd_binary, start_daemon, stop_daemon
from helpers import write_rows_csv
from iterd.v1 import pipeline_pb2
from iterd.v1 import tensor_pb2


def big_array_config(path, batch_size):
    config = pipeline_pb2.PipelineConfig()
    source = config.ndarray.data.add()
    source.name = "data"
    source.path = str(path)
    config.ndarray.batch_size = batch_size
    return config


def test_sigterm_with_a_stalled_stream_in_flight_exits_zero_promptly(tmp_path):
    # 16 batches of 4 MB float32 that the client requests but never reads: the daemon's writes
    # block on flow control when SIGTERM arrives.
    np.save(tmp_path / "big.npy", np.zeros((64, 1024, 1024), dtype=np.float32) + 1)
    daemon = start_daemon(tmp_path, tmp_path / "log")
    client = iterd.Client(daemon.address)
    it = client.open_config(big_array_config(tmp_path / "big.npy", 4), max_batches=16)
    stream = client.fetch_stream(it.iterator_id, 16)
    next(iter(stream))  # The stream is running.
    started = time.monotonic()
    code = stop_daemon(daemon, timeout=10)
    assert code == 0
    assert time.monotonic() - started < 5, "shutdown took too long"
    assert "shutting down" in daemon.log()


def test_sigint_stops_the_daemon_with_code_zero(tmp_path):
    daemon = start_daemon(tmp_path, tmp_path / "log")
    daemon.process.send_signal(2)  # SIGINT
    assert daemon.process.wait(timeout=10) == 0


def test_idle_iterator_is_freed_after_the_idle_timeout(tmp_path):
    write_rows_csv(tmp_path / "rows.csv", 10)
    daemon = start_daemon(tmp_path, tmp_path / "log", ["--idle_timeout_seconds=1"])
    try:
        client = iterd.Client(daemon.address)
        it = iterd.CSVIter(data_csv="rows.csv", data_shape=(2,), batch_size=3,
                           server=daemon.address)
        assert client.stats().open_iterators == 1
        deadline = time.monotonic() + 5
        while client.stats().open_iterators and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = client.stats()
        assert stats.open_iterators == 0
        assert stats.iterators_expired == 1
        with pytest.raises(iterd.NotFound, match="idle"):
            it.next()
    finally:
        assert stop_daemon(daemon) == 0


def test_max_iterators_limit_is_resource_exhausted_and_recovers(tmp_path):
    write_rows_csv(tmp_path / "rows.csv", 10)
    daemon = start_daemon(tmp_path, tmp_path / "log", ["--max_iterators=2"])
    try:
        open_csv = lambda: iterd.CSVIter(data_csv="rows.csv", data_shape=(2,), batch_size=3,
                                         server=daemon.address)
        first, second = open_csv(), open_csv()
        with pytest.raises(iterd.ResourceExhausted, match="max_iterators"):
            open_csv()
        first.close()
        third = open_csv()  # A slot is free again.
        assert third.next().data[0].shape == (3, 2)
        second.close()
        third.close()
    finally:
        stop_daemon(daemon)


def test_invalid_config_stops_startup_naming_pipeline_and_field(tmp_path):
    config = tmp_path / "bad.pbtxt"
    config.write_text('pipelines { name: "train" config { csv { data_csv: "x.csv" '
                      'data_shape: 3 batch_size: 0 } } }\n')
    result = subprocess.run([iterd_binary(), "--listen=127.0.0.1:0", "--data_root=%s" % tmp_path,
                             "--config=%s" % config], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "pipelines[0] 'train'" in result.stderr
    assert "batch_size" in result.stderr


def test_config_naming_a_missing_file_stops_startup(tmp_path):
    config = tmp_path / "missing.pbtxt"
    config.write_text('pipelines { name: "train" config { csv { data_csv: "nope.csv" '
                      'data_shape: 3 batch_size: 2 } } }\n')
    result = subprocess.run([iterd_binary(), "--listen=127.0.0.1:0", "--data_root=%s" % tmp_path,
                             "--config=%s" % config], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "nope.csv" in result.stderr


def test_health_service_reports_serving(tmp_path):
    daemon = start_daemon(tmp_path, tmp_path / "log")
    try:
        with grpc.insecure_channel(daemon.address) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda request: request,
                                        response_deserializer=lambda response: response)
            # HealthCheckRequest{} is empty; HealthCheckResponse{status: SERVING} is 08 01.
            assert check(b"", timeout=5) == b"\x08\x01"
    finally:
        stop_daemon(daemon)


def test_npz_members_are_served_stored_and_compressed(tmp_path):
    features = np.arange(20, dtype=np.float32).reshape(10, 2)
    labels = np.arange(10, dtype=np.int64)
    np.savez(tmp_path / "stored.npz", features=features, labels=labels)
    np.savez_compressed(tmp_path / "compressed.npz", features=features, labels=labels)
    daemon = start_daemon(tmp_path, tmp_path / "log")
    try:
        client = iterd.Client(daemon.address)
        for archive in ("stored.npz", "compressed.npz"):
            config = pipeline_pb2.PipelineConfig()
            data = config.ndarray.data.add()
            data.name, data.path, data.npz_key = "data", archive, "features"
            label = config.ndarray.label.add()
            label.name, label.path, label.npz_key = "softmax_label", archive, "labels"
            config.ndarray.batch_size = 5
            it = client.open_config(config)
            batches = list(it)
            np.testing.assert_array_equal(np.concatenate([b.data[0] for b in batches]), features)
            np.testing.assert_array_equal(np.concatenate([b.label[0] for b in batches]),
                                          labels.astype(np.float32))
            it.close()
        missing = pipeline_pb2.PipelineConfig()
        source = missing.ndarray.data.add()
        source.name, source.path, source.npz_key = "data", "stored.npz", "nope"
        missing.ndarray.batch_size = 5
        with pytest.raises(iterd.NotFound, match="features"):
            client.open_config(missing)  # The message lists the archive's keys.
    finally:
        stop_daemon(daemon)


def inline_config(shape, dtype, batch_size):
    config = pipeline_pb2.PipelineConfig()
    source = config.ndarray.data.add()
    source.name = "data"
    source.inline.dtype = dtype
    source.inline.shape.extend(shape)
    config.ndarray.batch_size = batch_size
    return config


def test_overflowing_inline_shape_is_refused_and_the_daemon_survives(tmp_path):
    # 2^41 x 2^20 float64 elements = 2^64 bytes: must not wrap around to a tiny buffer.
    daemon = start_daemon(tmp_path, tmp_path / "log")
    try:
        client = iterd.Client(daemon.address)
        config = inline_config([1 << 41, 1 << 20], tensor_pb2.FLOAT64, 1)
        config.ndarray.num_parts = (1 << 31) - 1
        with pytest.raises(iterd.ResourceExhausted, match="data"):
            client.open_config(config)
        assert daemon.process.poll() is None
        assert client.stats().open_iterators == 0
    finally:
        assert stop_daemon(daemon) == 0


def test_absurd_batch_size_is_refused_and_the_daemon_survives(tmp_path):
    daemon = start_daemon(tmp_path, tmp_path / "log")
    try:
        client = iterd.Client(daemon.address)
        config = inline_config([1, 0], tensor_pb2.FLOAT32, 1 << 40)
        with pytest.raises(iterd.InvalidArgument, match="batch_size"):
            client.open_config(config)
        config = inline_config([4, 2], tensor_pb2.FLOAT32, 2)
        config.prefetch_buffer = 100000
        with pytest.raises(iterd.InvalidArgument, match="prefetch_buffer"):
            client.open_config(config, arrays=[np.zeros((4, 2), np.float32)])
        assert daemon.process.poll() is None
    finally:
        assert stop_daemon(daemon) == 0
