"""The daemon as a shared service: no client can crash, stall, poison or spy on another.

Each test starts its own daemon (short timeouts, /metrics on) and plays a hostile client with raw
gRPC stubs (iterd.v1 generated modules), then checks that a well-behaved client is unaffected.
Deadlines here only guard against hangs; nothing asserts how fast anything is.
"""
import re
import threading
import time

import grpc
import numpy as np
import pytest

from conftest import stop_daemon
from helpers import assert_daemon_serves, wait_for
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from iterd.v1 import service_pb2_grpc
from iterd.v1 import tensor_pb2
from test_operations import http_request, scrape, start_daemon_with_metrics, value

HANG_GUARD = 30  # Seconds: a call that takes this long is a hang.
IDLE_TIMEOUT = 2
OPEN_TIMEOUT = 3
OPEN_TIMEOUT = 3
ROWS10_BATCHES = [[0, 10, 20], [30, 40, 50], [60, 70, 80], [90, 0, 10]]


@pytest.fixture
def start(tmp_path):
    """start(limits="", extra_args=()) starts iterd with a rows10 pipeline, `limits` (text
    format inside Limits) and /metrics on; returns (Daemon, metrics HOST:PORT). Stopped (and
    checked to exit 0) after the test."""
    started = []

    def start_daemon(limits="", extra_args=(), open_timeout=OPEN_TIMEOUT):
        config = """
pipelines {
  name: "rows10"
  config { csv { data_csv: "rows10.csv" data_shape: 2 batch_size: 3 } }
}
limits { idle_timeout_seconds: %d open_timeout_seconds: %d %s }
""" % (IDLE_TIMEOUT, open_timeout, limits)
        started.append(start_daemon_with_metrics(tmp_path, extra_args, config=config))
        return started[-1]

    yield start_daemon
    for daemon, _ in started:
        if daemon.process.poll() is None:
            assert stop_daemon(daemon) == 0


def stub(address):
    channel = grpc.insecure_channel(address)
    return channel, service_pb2_grpc.DataIterServiceStub(channel)


def open_request(client="", **open_fields):
    return service_pb2.OpenIteratorRequest(open=service_pb2.OpenIterator(client=client,
                                                                         **open_fields))


def open_rows10(service, client="well-behaved"):
    return service.OpenIterator(iter([open_request(client=client, name="rows10")]),
                                timeout=HANG_GUARD)


def fetch_all(service, handle):
    """The first column of every batch of the current epoch, fetched one window at a time."""
    batches = []
    while True:
        responses = list(service.Fetch(service_pb2.FetchRequest(iterator_id=handle,
                                                                max_batches=2),
                                       timeout=HANG_GUARD))
        payload = b""
        for response in responses:
            part = response.WhichOneof("part")
            if part == "end_of_epoch":
                return batches
            if part == "header":
                payload = b""
            elif part == "chunk":
                payload += response.chunk
                values = np.frombuffer(payload, dtype=np.float32)
                if len(values) == 9:  # Data (3, 2), then label (3,).
                    batches.append(values[:6:2].astype(int).tolist())


def rpc_code(call, *args):
    try:
        result = call(*args, timeout=HANG_GUARD)
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            list(result)
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def test_nothing_on_metrics_or_in_the_log_lets_another_client_use_an_iterator(start):
    daemon, metrics_address = start()
    _, victim = stub(daemon.address)
    opened = open_rows10(victim, client="victim")
    handle = opened.iterator_id
    assert len(handle) <= 64 and len(handle) >= 32
    assert opened.display_id and opened.display_id != handle

    body = http_request(metrics_address, "GET", "/metrics")[2]
    log = daemon.log()
    assert handle not in body and handle not in log
    assert handle[3:19] not in body + log  # Not even part of its random bits.
    assert 'iterator_id="%s"' % opened.display_id in body
    # Everything the attacker can read there: label values and every word of the log.
    seen = set(re.findall(r'="([^"]*)"', body)) | set(re.findall(r"[\w#:.-]+", log))
    seen |= {opened.display_id, opened.display_id[3:], "#" + opened.display_id[3:]}
    _, attacker = stub(daemon.address)
    for guess in seen:
        assert rpc_code(attacker.Fetch,
                        service_pb2.FetchRequest(iterator_id=guess)) == grpc.StatusCode.NOT_FOUND
        assert rpc_code(attacker.Reset,
                        service_pb2.ResetRequest(iterator_id=guess)) == grpc.StatusCode.NOT_FOUND
        assert rpc_code(attacker.GetIteratorStats, service_pb2.GetIteratorStatsRequest(
            iterator_id=guess)) == grpc.StatusCode.NOT_FOUND
        attacker.CloseIterator(service_pb2.CloseIteratorRequest(iterator_id=guess),
                               timeout=HANG_GUARD)  # OK for unknown ids, and must not close it.
    assert fetch_all(victim, handle) == ROWS10_BATCHES
    victim.CloseIterator(service_pb2.CloseIteratorRequest(iterator_id=handle), timeout=HANG_GUARD)
    assert rpc_code(victim.Reset,
                    service_pb2.ResetRequest(iterator_id=handle)) == grpc.StatusCode.NOT_FOUND


def raw_unary(channel, method):
    return channel.unary_unary("/iterd.v1.DataIterService/" + method,
                               request_serializer=lambda message: message,
                               response_deserializer=lambda message: message)


def test_malformed_requests_get_invalid_argument_with_a_message(start):
    daemon, _ = start()
    channel, _ = stub(daemon.address)
    bad_utf8 = b"\x0a\x02\xff\xfe"  # iterator_id (field 1) = two bytes that are not UTF-8.
    for method in ("Reset", "CloseIterator", "GetSampleOrder", "GetIteratorStats",
                   "ListPipelines", "GetServerStats"):
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\xff", bad_utf8):
            if method in ("ListPipelines", "GetServerStats") and garbage == bad_utf8:
                continue  # Field 1 is unknown there, hence fine.
            with pytest.raises(grpc.RpcError) as raised:
                raw_unary(channel, method)(garbage, timeout=HANG_GUARD)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, garbage)
            assert "malformed request" in raised.value.details(), (method, garbage)
    assert_daemon_serves(daemon.address)


def test_an_allocation_the_daemon_cannot_make_is_resource_exhausted(start):
    # A budget larger than any address space, and an array declared within it (512 TiB).
    daemon, _ = start(limits="max_inline_bytes: 1125899906842624")
    config = pipeline_pb2.PipelineConfig()
    config.ndarray.data.add(name="data", inline=pipeline_pb2.InlineArray(
        dtype=tensor_pb2.FLOAT32, shape=[1 << 47]))
    config.ndarray.batch_size = 1
    _, service = stub(daemon.address)
    requests = [open_request(client="greedy", config=config),
                service_pb2.OpenIteratorRequest(chunk=service_pb2.ArrayChunk(array=0,
                                                                             data=b"\0" * 64))]
    with pytest.raises(grpc.RpcError) as raised:
        service.OpenIterator(iter(requests), timeout=HANG_GUARD)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "out of memory" in raised.value.details()
    assert daemon.process.poll() is None
    assert_daemon_serves(daemon.address)


def test_client_strings_cannot_forge_log_lines_and_are_length_limited(start):
    daemon, _ = start()
    _, service = stub(daemon.address)
    forged = "I1207 00:00:00.000000 iterd_service.cc:1] iterator it-999 opened by admin"
    opened = open_rows10(service, client="trainer\n" + forged + "\r\x1b[2J")
    service.CloseIterator(service_pb2.CloseIteratorRequest(iterator_id=opened.iterator_id),
                          timeout=HANG_GUARD)
    with pytest.raises(grpc.RpcError) as raised:
        service.OpenIterator(iter([open_request(name="x\n" + forged + "y" * 100)]),
                             timeout=HANG_GUARD)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "\n" not in raised.value.details() and "y" * 80 not in raised.value.details()
    for field in ("client", "name"):
        with pytest.raises(grpc.RpcError) as raised:
            service.OpenIterator(iter([open_request(**{field: "z" * 100000})]),
                                 timeout=HANG_GUARD)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "open.%s" % field in raised.value.details()
        assert len(raised.value.details()) < 200
    log = daemon.log()
    assert not any(line.startswith(forged) for line in log.splitlines()), log
    assert "trainer\\x0A" + forged in log  # Escaped, on the line of the open.
    assert "\x1b" not in log and "z" * 300 not in log


class StalledOpen(object):
    """An OpenIterator that declares an 8 GiB inline array (the whole default budget) and then
    sends nothing, never ending its request stream."""

    def __init__(self, service):
        self._release = threading.Event()
        config = pipeline_pb2.PipelineConfig()
        config.ndarray.data.add(name="data", inline=pipeline_pb2.InlineArray(
            dtype=tensor_pb2.FLOAT32, shape=[1 << 31]))
        config.ndarray.batch_size = 1

        def requests():
            yield open_request(client="stalled", config=config)
            self._release.wait(HANG_GUARD)

        self.future = service.OpenIterator.future(requests(), timeout=HANG_GUARD)

    def error(self):
        """The call's RpcError (waits for it); releases the request stream."""
        try:
            self.future.result()
            raise AssertionError("the stalled open succeeded")
        except grpc.RpcError as error:
            return error
        finally:
            self._release.set()

    def cancel(self):
        """The client goes away."""
        self.future.cancel()
        self._release.set()


def test_a_stalled_upload_blocks_no_one_and_is_released_at_the_open_deadline(start):
    daemon, _ = start()
    _, service = stub(daemon.address)
    stalled = StalledOpen(service)
    time.sleep(0.5)  # Let it reach the daemon (not needed for correctness).
    # The budget is charged as bytes arrive: others can upload meanwhile.
    assert_daemon_serves(daemon.address)
    error = stalled.error()
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "open_timeout_seconds" in error.details()
    stats = service.GetServerStats(service_pb2.GetServerStatsRequest(), timeout=HANG_GUARD)
    assert stats.open_iterators == 0
    assert_daemon_serves(daemon.address)


def test_concurrent_opens_are_capped_and_a_cancelled_open_frees_its_place(start):
    # An open deadline long enough that a loaded machine still sees both stalled opens running.
    daemon, _ = start(limits="max_concurrent_opens: 2", open_timeout=HANG_GUARD)
    _, service = stub(daemon.address)
    stalled = [StalledOpen(service) for _ in range(2)]
    code = details = None
    deadline = time.monotonic() + HANG_GUARD / 2
    while time.monotonic() < deadline:
        # A probe racing a stalled open may take its place: that one is refused; start another.
        time.sleep(0.2)
        stalled = [s if not s.future.done() else StalledOpen(service) for s in stalled]
        time.sleep(0.2)
        if any(s.future.done() for s in stalled):
            continue
        try:
            open_rows10(service)
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            break
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    assert "max_concurrent_opens" in details
    for open_call in stalled:
        open_call.cancel()
    opened = None
    while opened is None and time.monotonic() < deadline + HANG_GUARD:
        try:
            opened = open_rows10(service)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            time.sleep(0.1)
    assert fetch_all(service, opened.iterator_id) == ROWS10_BATCHES


def test_a_fetch_stream_the_client_does_not_read_is_reaped_after_the_idle_timeout(start):
    daemon, metrics_address = start()
    channel, service = stub(daemon.address)
    # Four batches of 16 MB: far more than the transport buffers of an unread stream.
    config = pipeline_pb2.PipelineConfig()
    config.ndarray.data.add(name="data", inline=pipeline_pb2.InlineArray(
        dtype=tensor_pb2.FLOAT32, shape=[4, 1 << 22]))
    config.ndarray.batch_size = 1
    data = np.zeros((4, 1 << 22), dtype=np.float32).tobytes()
    chunks = [service_pb2.OpenIteratorRequest(chunk=service_pb2.ArrayChunk(
        array=0, data=data[offset:offset + (4 << 20)])) for offset in range(0, len(data), 4 << 20)]
    opened = service.OpenIterator(iter([open_request(client="stalled-reader", config=config)] +
                                       chunks), timeout=HANG_GUARD)
    stream = service.Fetch(service_pb2.FetchRequest(iterator_id=opened.iterator_id,
                                                    max_batches=4),
                           timeout=4 * HANG_GUARD)  # Outlives the wait below.
    next(stream)  # The stream runs; from now on nothing is read.
    time.sleep(IDLE_TIMEOUT / 2)
    # Still writing (blocked on the client), not finished with everything buffered.
    assert value(scrape(metrics_address), "iterd_fetch_streams_active") == 1

    def open_iterators():
        return service.GetServerStats(service_pb2.GetServerStatsRequest(),
                                      timeout=HANG_GUARD).open_iterators

    assert wait_for(lambda: open_iterators() == 0, HANG_GUARD), "the stalled stream's iterator was not freed"
    assert "iterator %s (stalled-reader) freed" % opened.display_id in daemon.log()
    stream.cancel()
    assert rpc_code(service.Reset, service_pb2.ResetRequest(
        iterator_id=opened.iterator_id)) == grpc.StatusCode.NOT_FOUND
    assert_daemon_serves(daemon.address)
    channel.close()
