"""Operating the daemon: the Prometheus /metrics endpoint, gRPC health and the drain on SIGTERM.

Each test starts its own daemon with --metrics_listen=127.0.0.1:0 (the metrics address is the
second stdout line) and talks to it over real sockets: HTTP for /metrics, the grpc.health.v1
protocol (called with raw bytes: the messages are tiny) for health.
"""
import http.client
import re
import signal
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest

import iterd
from conftest import _read_first_line, iterd_binary, stop_daemon, Daemon
from helpers import write_rows_csv
from image_data import write_corrupt_rec
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2

SERVICE_NAME = "iterd.v1.DataIterService"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
NOT_SERVING = b"\x08\x02"
CONFIG = """
pipelines {
  name: "rows10"
  config { csv { data_csv: "rows10.csv" data_shape: 2 batch_size: 3 } }
}
limits { default_prefetch_buffer: 4 }
"""
SMALL = (3, 32, 32)
CORRUPT_GOOD = 12
CORRUPT_BAD_POSITIONS = (2, 7, 13)


def start_daemon_with_metrics(data_root, extra_args=(), config=CONFIG):
    """Starts iterd with --metrics_listen=127.0.0.1:0 and `config` (text format); returns
    (Daemon, metrics HOST:PORT)."""
    write_rows_csv(data_root / "rows10.csv", 10)
    (data_root / "iterd.textproto").write_text(config)
    log_path = data_root / "iterd.stderr"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [iterd_binary(), "--listen=127.0.0.1:0", "--data_root=%s" % data_root,
             "--config=%s" % (data_root / "iterd.textproto"), "--metrics_listen=127.0.0.1:0"] +
            list(extra_args),
            stdout=subprocess.PIPE, stderr=log, text=True)
    lines = [_read_first_line(process.stdout, 20), _read_first_line(process.stdout, 5)]
    grpc_match = re.match(r"iterd listening on (\S+:\d+)", lines[0] or "")
    metrics_match = re.match(r"iterd metrics listening on (127\.0\.0\.1:\d+)", lines[1] or "")
    if not grpc_match or not metrics_match:
        process.kill()
        process.wait()
        pytest.fail("iterd did not announce both addresses (stdout %r); log:\n%s" %
                    (lines, open(log_path).read()))
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return Daemon(grpc_match.group(1), data_root, process, log_path), metrics_match.group(1)


@pytest.fixture
def running(tmp_path):
    daemon, metrics_address = start_daemon_with_metrics(tmp_path)
    yield daemon, metrics_address
    if daemon.process.poll() is None:
        assert stop_daemon(daemon) == 0


def http_request(address, method, path):
    """(status, content type, body) of one HTTP request."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode()
    finally:
        connection.close()


def scrape(address):
    """{(name, frozenset of label pairs): value} of every sample of GET /metrics."""
    status, content_type, body = http_request(address, "GET", "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert match, "not a Prometheus sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def health_check(address, service=""):
    """Raw grpc.health.v1.Health/Check: the serialized response, or the grpc.StatusCode."""
    encoded = service.encode()
    request = (b"\x0a" + bytes([len(encoded)]) + encoded) if encoded else b""
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda message: message,
                                    response_deserializer=lambda message: message)
        try:
            return check(request, timeout=5)
        except grpc.RpcError as error:
            return error.code()


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    return condition()


def test_metrics_counters_move_by_the_batches_bytes_and_records_served(running, tmp_path):
    daemon, metrics_address = running
    write_corrupt_rec(str(tmp_path / "corrupt.rec"), CORRUPT_GOOD, CORRUPT_BAD_POSITIONS)
    before = scrape(metrics_address)
    with iterd.ImageRecordIter(path_imgrec="corrupt.rec", data_shape=SMALL, batch_size=4,
                               resize=32, server=daemon.address) as it:
        batches = list(it)
        stats = it.stats()
        during = scrape(metrics_address)
    after = scrape(metrics_address)

    def moved(samples, name):
        return value(samples, name) - value(before, name)

    payload = sum(b.data[0].nbytes + b.label[0].nbytes for b in batches)
    assert len(batches) == 3
    assert moved(during, "iterd_batches_served_total") == 3
    assert moved(during, "iterd_bytes_served_total") == payload
    # The same counters as GetIteratorStats, also after the iterator was closed.
    assert stats.records_skipped >= len(CORRUPT_BAD_POSITIONS)
    for samples in (during, after):
        assert moved(samples, "iterd_records_decoded_total") == stats.records_decoded
        assert moved(samples, "iterd_records_skipped_total") == stats.records_skipped
        assert moved(samples, "iterd_batches_produced_total") == stats.batches_produced
        # Decoding took time, and no more than the wall time the iterator existed.
        assert 0 < moved(samples, "iterd_decode_seconds_total") < 60
    assert value(during, "iterd_iterators_open") == 1
    assert value(during, "iterd_clients_active") == 1
    assert value(after, "iterd_iterators_open") == 0
    assert moved(after, "iterd_iterators_opened_total") == 1
    assert value(after, "process_resident_memory_bytes") > 1 << 20
    assert value(after, "iterd_uptime_seconds") > 0
    assert value(after, "iterd_draining") == 0


def test_queue_depth_gauge_follows_each_iterator_by_id_and_pipeline(running):
    daemon, metrics_address = running
    client = iterd.Client(daemon.address)
    # rows10 has 4 batches of 3 rows; with a prefetch buffer of 4 all of them get queued.
    response = client.open_iterator_response(service_pb2.OpenIterator(name="rows10"))
    iterator_id = response.iterator_id  # The secret handle: /metrics shows the display id.

    def queued():
        return scrape(metrics_address).get(
            ("iterd_prefetch_queue_batches",
             frozenset({("iterator_id", response.display_id), ("pipeline", "rows10")})))

    assert wait_for(lambda: queued() == 4), "queue depth %r, wanted 4" % queued()
    assert len(list(client.fetch_stream(iterator_id, 1))) >= 2  # One header and its chunk.
    assert wait_for(lambda: queued() == 3), "queue depth %r, wanted 3" % queued()
    client.reset_iterator(iterator_id)
    assert wait_for(lambda: queued() == 4), "queue depth %r after reset" % queued()
    client.close_iterator(iterator_id)
    assert queued() is None
    client.close()


def test_metrics_server_answers_404_for_other_paths_and_405_for_other_methods(running):
    _, metrics_address = running
    assert http_request(metrics_address, "GET", "/")[0] == 404
    assert http_request(metrics_address, "GET", "/metrics/x")[0] == 404
    assert http_request(metrics_address, "POST", "/metrics")[0] == 405
    assert http_request(metrics_address, "GET", "/metrics?name=x")[0] == 200


def test_every_metric_has_help_and_type_and_counters_end_in_total(running):
    _, metrics_address = running
    body = http_request(metrics_address, "GET", "/metrics")[2]
    helped = set(re.findall(r"^# HELP (\S+) ", body, re.M))
    typed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    assert helped == set(typed)
    assert {"counter", "gauge"} >= set(typed.values())
    assert all(name.endswith("_total") for name, kind in typed.items() if kind == "counter")
    for name in ("iterd_build_info", "iterd_prefetch_queue_batches", "iterd_fetch_wait_seconds_total",
                 "iterd_fetch_streams_active", "process_cpu_seconds_total"):
        assert name in typed


def test_health_is_serving_for_the_server_and_the_service(running):
    daemon, _ = running
    assert health_check(daemon.address) == SERVING
    assert health_check(daemon.address, SERVICE_NAME) == SERVING
    assert health_check(daemon.address, "no.such.Service") == grpc.StatusCode.NOT_FOUND


def big_array_config(path, batch_size):
    config = pipeline_pb2.PipelineConfig()
    source = config.ndarray.data.add()
    source.name = "data"
    source.path = str(path)
    config.ndarray.batch_size = batch_size
    return config


def test_sigterm_drains_not_serving_refuses_opens_finishes_streams_and_exits_zero(tmp_path):
    # 16 batches of 4 MB: more than gRPC's flow-control window, so the stream is still being
    # written when SIGTERM arrives.
    np.save(tmp_path / "big.npy", np.zeros((64, 1024, 1024), dtype=np.float32) + 1)
    daemon, metrics_address = start_daemon_with_metrics(tmp_path, ["--drain_seconds=20"])
    try:
        client = iterd.Client(daemon.address)
        it = client.open_config(big_array_config(tmp_path / "big.npy", 4), max_batches=16)
        stream = iter(client.fetch_stream(it.iterator_id, 16))
        messages = [next(stream)]  # The stream is running.
        signalled = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)

        assert wait_for(lambda: health_check(daemon.address) == NOT_SERVING, 3)
        assert health_check(daemon.address, SERVICE_NAME) == NOT_SERVING
        with pytest.raises(iterd.errors.Unavailable, match="shutting down"):
            client.open_config(big_array_config(tmp_path / "big.npy", 4))
        samples = scrape(metrics_address)
        assert value(samples, "iterd_draining") == 1
        assert value(samples, "iterd_opens_refused_draining_total") == 1
        assert value(samples, "iterd_fetch_streams_active") == 1
        assert daemon.process.poll() is None, "exited before the running stream finished"

        # The stream in flight is delivered in full.
        messages.extend(stream)
        headers = [m for m in map(service_pb2.FetchResponse.FromString, messages)
                   if m.HasField("header")]
        assert len(headers) == 16
        # Then the drain ends early (no stream left) and the daemon exits cleanly.
        assert daemon.process.wait(timeout=10) == 0
        assert time.monotonic() - signalled < 15, "the drain did not end with the last stream"
        assert "shutting down" in daemon.log()
        client.close()
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def test_sigterm_with_a_stalled_stream_still_exits_zero_within_three_seconds(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((64, 1024, 1024), dtype=np.float32) + 1)
    daemon, _ = start_daemon_with_metrics(tmp_path)  # Default --drain_seconds.
    client = iterd.Client(daemon.address)
    it = client.open_config(big_array_config(tmp_path / "big.npy", 4), max_batches=16)
    stream = client.fetch_stream(it.iterator_id, 16)
    next(iter(stream))  # Running, and never read again.
    started = time.monotonic()
    assert stop_daemon(daemon, timeout=10) == 0
    assert time.monotonic() - started < 3.5
    client.close()


def test_unusable_metrics_address_stops_the_daemon_with_a_message(tmp_path):
    process = subprocess.run(
        [iterd_binary(), "--listen=127.0.0.1:0", "--data_root=%s" % tmp_path,
         "--metrics_listen=127.0.0.1"], capture_output=True, text=True, timeout=20)
    assert process.returncode == 2
    assert "--metrics_listen" in process.stderr and "127.0.0.1" in process.stderr
