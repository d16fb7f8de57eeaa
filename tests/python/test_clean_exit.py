"""A program that used iterd iterators and never closed them exits, promptly and with status 0.

It used to print its results and then hang for ever: at interpreter exit RemoteIter.__del__ called
Client.close(), whose channel.close() waits for gRPC threads that finalization has frozen. Each
script below runs in a subprocess with the venv's Python, prints "done <time.monotonic()>" as its
last statement, and must then exit with status 0 within EXIT_SECONDS (a hang is killed with
SIGABRT after HANG_GUARD_SECONDS, so that faulthandler shows where it hung). The daemons must not
keep the iterators open afterwards either: the atexit handler closes them.
"""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import iterd
import tutorial_snippets
from conftest import start_daemon
from conftest import stop_daemon
from helpers import write_rows_csv

HANG_GUARD_SECONDS = 15
TUTORIAL_GUARD_SECONDS = 120  # The tutorial itself runs im2rec and decodes images first.
EXIT_SECONDS = 5
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_IMAGES = os.path.join(REPO, "examples", "sample", "images")
DEFAULT_IM2REC_BIN = os.path.join(REPO, "bazel-bin", "tools", "im2rec", "im2rec")

# Iterators of every kind left open: RemoteIter mid-epoch (a Fetch stream open) and at the end of
# an epoch (none), CSVIter, a PrefetchingIter whose threads are reading ahead, a ShardedIter over
# two daemons whose part threads are fetching, and one dropped mid-program (__del__).
UNCLOSED_ITERATORS = """
import sys, time
import numpy as np
import iterd

one, two = sys.argv[1], sys.argv[2]
data = np.arange(300, dtype=np.float32).reshape(100, 3)
label = np.arange(100)

finished = iterd.NDArrayIter(data, label, batch_size=30, server=one)
print("ndarray", [int(b.pad) for b in finished])
mid_epoch = iterd.NDArrayIter(data, label, batch_size=10, server=one, shuffle=True)
print("mid-epoch", next(mid_epoch).data[0].shape)
csv = iterd.CSVIter(data_csv="rows10.csv", data_shape=(2,), batch_size=3, server=one)
print("csv", next(csv).data[0][:, 0].tolist())
prefetching = iterd.PrefetchingIter([iterd.NDArrayIter(data, label, batch_size=5, server=one),
                                     iterd.NDArrayIter(data, label, batch_size=5, server=two)])
print("prefetch", len(next(prefetching).data))
sharded = iterd.NDArrayIter(data, label, batch_size=4, server=[one, two], rank=0, world_size=1)
print("sharded", type(sharded).__name__, next(sharded).data[0].shape)
dropped = iterd.NDArrayIter(data, label, batch_size=10, server=two)
next(dropped)
del dropped
print("done", time.monotonic(), flush=True)
"""


def run_until_exit(arguments, guard_seconds, cwd=None, env=None):
    """Runs the venv's Python with `arguments`; returns (stdout, seconds from "done" to exit)."""
    process = subprocess.Popen([sys.executable, "-X", "faulthandler"] + arguments,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=cwd, env=env)
    try:
        stdout, stderr = process.communicate(timeout=guard_seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack.
        stdout, stderr = process.communicate()
        pytest.fail("still running after %d s; stdout:\n%s\nstderr:\n%s" %
                    (guard_seconds, stdout[-3000:], stderr[-6000:]))
    exited = time.monotonic()
    assert process.returncode == 0, "exit status %d; stdout:\n%s\nstderr:\n%s" % (
        process.returncode, stdout[-3000:], stderr[-6000:])
    done = [line for line in stdout.splitlines() if line.startswith("done ")]
    assert done, "the script did not finish; stdout:\n%s\nstderr:\n%s" % (stdout, stderr)
    return stdout, exited - float(done[-1].split()[1])


def open_iterators(address):
    with iterd.Client(address, shared_memory=False) as client:
        return client.stats().open_iterators


def wait_for_open_iterators(address, at_most=0, seconds=5):
    """The daemon's open iterators once they are down to `at_most`, or after `seconds`."""
    deadline = time.time() + seconds
    while open_iterators(address) > at_most and time.time() < deadline:
        time.sleep(0.05)
    return open_iterators(address)


@pytest.fixture(scope="module")
def two_daemons(tmp_path_factory):
    data_root = tmp_path_factory.mktemp("clean_exit_data")
    write_rows_csv(data_root / "rows10.csv", 10)
    logs = tmp_path_factory.mktemp("clean_exit_logs")
    running = [start_daemon(data_root, str(logs / ("iterd%d.stderr" % n))) for n in range(2)]
    yield running
    for daemon in running:
        stop_daemon(daemon)


@pytest.mark.parametrize("shared_memory", ["1", "0"])
def test_program_with_unclosed_iterators_exits(two_daemons, shared_memory):
    env = dict(os.environ, ITERD_SHARED_MEMORY=shared_memory)
    stdout, exit_seconds = run_until_exit(
        ["-c", UNCLOSED_ITERATORS] + [d.address for d in two_daemons], HANG_GUARD_SECONDS,
        env=env)
    assert "ndarray [0, 0, 0, 20]" in stdout and "sharded ShardedIter" in stdout
    assert exit_seconds < EXIT_SECONDS
    for daemon in two_daemons:
        assert wait_for_open_iterators(daemon.address) == 0, daemon.log()[-2000:]


def test_dropping_an_iterator_frees_it_on_the_daemon_without_waiting(two_daemons):
    address = two_daemons[0].address
    script = textwrap.dedent("""
        import sys, time
        import numpy as np
        import iterd
        it = iterd.NDArrayIter(np.zeros((50, 2), np.float32), batch_size=5, server=sys.argv[1])
        next(it)
        start = time.monotonic()
        del it
        assert time.monotonic() - start < 0.5, "__del__ waited"
        time.sleep(1)  # The reaper thread closes it meanwhile.
        with iterd.Client(sys.argv[1]) as client:
            print("open", client.stats().open_iterators)
        print("done", time.monotonic(), flush=True)
    """)
    stdout, exit_seconds = run_until_exit(["-c", script, address], HANG_GUARD_SECONDS)
    assert "open 0" in stdout
    assert exit_seconds < EXIT_SECONDS


def test_the_tutorial_exits(daemon, tmp_path):
    """tests/python/tutorial_snippets.py (MXNet's I/O tutorial, translated) as one script."""
    pytest.importorskip("matplotlib", reason="the tutorial draws with matplotlib")
    im2rec = os.environ.get("IM2REC_BIN", DEFAULT_IM2REC_BIN)
    if not os.access(im2rec, os.X_OK):
        pytest.fail("im2rec binary %s not found: bazel build //tools:im2rec or set IM2REC_BIN" %
                    im2rec)
    data_root = daemon.data_root
    shutil.rmtree(data_root / "data", ignore_errors=True)
    shutil.copytree(SAMPLE_IMAGES, data_root / "data" / "101_ObjectCategories")
    script = tmp_path / "tutorial.py"
    script.write_text("\n\n".join(code for _, _, code in tutorial_snippets.SECTIONS) +
                      "\nimport time\nprint('done', time.monotonic(), flush=True)\n")
    env = dict(os.environ, ITERD_ADDRESS=daemon.address, ITERD_IM2REC=im2rec, MPLBACKEND="Agg")
    before = open_iterators(daemon.address)  # Other tests' iterators may still be open.
    _, exit_seconds = run_until_exit([str(script)], TUTORIAL_GUARD_SECONDS, cwd=str(data_root),
                                     env=env)
    assert exit_seconds < EXIT_SECONDS
    assert wait_for_open_iterators(daemon.address, at_most=before) <= before
