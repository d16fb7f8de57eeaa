"""Hostile-input suite: many clients at once, with random cancellations, against one real daemon.

A hundred clients open iterators (inline NDArrays of their own values, and the daemon's named CSV
pipeline), read them, and a random third of them walks away mid-stream (cancelled Fetch, channel
closed without Close). Every client that finishes must get exactly its own values; afterwards the
daemon must hold no iterator, its file descriptors and threads must come back to about where they
were, its RSS must not have grown without bound, and a well-behaved client must still be served.
"""
import os
import random
import threading

import grpc
import numpy as np
import pytest

import iterd
from iterd.ndarray_iter import ndarray_pipeline
from conftest import start_daemon, stop_daemon
from helpers import assert_daemon_serves, wait_for, write_rows_csv

NUM_CLIENTS = 100
SERVER_CONFIG = """
pipelines {
  name: "rows64"
  config { csv { data_csv: "rows64.csv" data_shape: 2 batch_size: 8 } }
}
limits { idle_timeout_seconds: 60 max_iterators: 256 }
"""


def process_figures(pid):
    """(open fds, threads, RSS in KiB) of a process, from /proc."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    threads = rss_kib = 0
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return fds, threads, rss_kib


@pytest.fixture(scope="module")
def load_daemon(tmp_path_factory):
    data_root = tmp_path_factory.mktemp("load_root")
    write_rows_csv(data_root / "rows64.csv", 64)
    config = tmp_path_factory.mktemp("load_config") / "iterd.textproto"
    config.write_text(SERVER_CONFIG)
    log = tmp_path_factory.mktemp("load_log") / "iterd.stderr"
    daemon = start_daemon(data_root, log, ["--config=%s" % config, "--worker_threads=2"])
    yield daemon
    assert stop_daemon(daemon) == 0


def run_client(address, index, walk_away, results):
    """One trainer: its own values through an inline NDArray, or the shared CSV pipeline."""
    rng = random.Random(index)
    try:
        client = iterd.Client(address, shared_memory=rng.random() < 0.5)
        if index % 2 == 0:
            values = np.arange(40, dtype=np.float32).reshape(40, 1) + 1000 * index
            config, arrays = ndarray_pipeline(values, None, rng.choice([3, 8, 16]), False, "pad",
                                              "data", "softmax_label", "NCHW", 0, 1, 0)
            it = client.open_config(config, arrays)
            expected = values[:, 0].tolist()
        else:
            it = client.open("rows64", batch_size=rng.choice([5, 8]))
            expected = [row * 10 for row in range(64)]
        seen = []
        stop_after = rng.randrange(1, 4) if walk_away else None
        for number, batch in enumerate(it):
            rows = batch.data[0][:batch.data[0].shape[0] - batch.pad, 0].tolist()
            seen.extend(rows)
            if stop_after is not None and number + 1 >= stop_after:
                # Walks away: no Close, no Reset; the channel goes with the client.
                client.close()
                results[index] = "walked away"
                return
        it.close()
        client.close()
        results[index] = "ok" if seen == expected else "wrong data: %r" % seen[:10]
    except Exception as error:  # noqa: BLE001 - any failure is the test's finding.
        if walk_away:
            results[index] = "walked away"
        else:
            results[index] = "error: %r" % (error,)


def test_hundred_clients_with_cancellations_get_their_own_data_and_leave_nothing(load_daemon):
    pid = load_daemon.process.pid
    assert_daemon_serves(load_daemon.address)  # Warm up: pools, channels, allocator.
    fds_before, threads_before, rss_before = process_figures(pid)

    rng = random.Random(2026)
    walk_away = [rng.random() < 0.33 for _ in range(NUM_CLIENTS)]
    results = [None] * NUM_CLIENTS
    threads = [threading.Thread(target=run_client,
                                args=(load_daemon.address, index, walk_away[index], results))
               for index in range(NUM_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "clients hung"

    failures = [(index, result) for index, result in enumerate(results)
                if not walk_away[index] and result != "ok"]
    assert not failures, failures[:5]

    # Walked-away clients' iterators go when the daemon notices (cancelled stream, closed channel)
    # or at the idle timeout; the config's 60 s bounds this wait.
    with iterd.Client(load_daemon.address) as client:
        assert wait_for(lambda: client.stats().open_iterators == 0, 70), \
            client.stats()
    fds_after, threads_after, rss_after = process_figures(pid)
    assert fds_after <= fds_before + 8, (fds_before, fds_after)
    assert threads_after <= threads_before + 8, (threads_before, threads_after)
    # Every batch here is a few hundred bytes: growth beyond allocator slack means a leak.
    assert rss_after <= rss_before + 64 * 1024, (rss_before, rss_after)
    assert_daemon_serves(load_daemon.address)


def test_cancelled_fetch_calls_from_raw_grpc_free_iterators(load_daemon):
    """A client that starts Fetch calls and cancels them at random points leaves nothing."""
    from iterd.v1 import service_pb2, service_pb2_grpc
    channel = grpc.insecure_channel(load_daemon.address)
    stub = service_pb2_grpc.DataIterServiceStub(channel)
    for attempt in range(20):
        response = stub.OpenIterator(iter([service_pb2.OpenIteratorRequest(
            open=service_pb2.OpenIterator(name="rows64", client="canceller"))]), timeout=10)
        call = stub.Fetch(service_pb2.FetchRequest(iterator_id=response.iterator_id,
                                                   max_batches=8), timeout=10)
        for _ in range(attempt % 3):
            next(call)
        call.cancel()
    channel.close()
    with iterd.Client(load_daemon.address) as client:
        assert wait_for(lambda: client.stats().open_iterators == 0, 70), \
            client.stats()
    assert_daemon_serves(load_daemon.address)
