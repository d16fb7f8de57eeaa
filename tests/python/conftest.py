"""Fixtures of the Python end-to-end tests: one real iterd daemon for the session.

The daemon binary comes from $ITERD_BIN (default bazel-bin/server/iterd of this checkout). It is started
with --listen=127.0.0.1:0, a temporary data root and a config declaring the named pipelines the
tests open, and stopped with SIGTERM at the end (it must exit within 10 s).
"""
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iterd  # noqa: E402
from helpers import write_rows_csv  # noqa: E402

DEFAULT_ITERD_BIN = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "bazel-bin", "server", "iterd")
STARTUP_TIMEOUT_SECONDS = 20

# Named pipelines of the test daemon's config (protobuf text format of iterd.v1.ServerConfig).
SERVER_CONFIG = """
pipelines {
  name: "rows10"
  description: "rows 0..9 of rows10.csv, two columns"
  config { csv { data_csv: "rows10.csv" data_shape: 2 batch_size: 3 } }
}
limits { idle_timeout_seconds: 120 }
"""


class Daemon(object):
    def __init__(self, address, data_root, process, log_path):
        self.address = address
        self.data_root = data_root
        self.process = process
        self.log_path = log_path

    def log(self):
        with open(self.log_path) as f:
            return f.read()


def _read_first_line(stream, timeout):
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else None


def iterd_binary():
    binary = os.environ.get("ITERD_BIN", DEFAULT_ITERD_BIN)
    if not os.access(binary, os.X_OK):
        pytest.fail("iterd binary %s not found: build it (bazel build //server:iterd) or set "
                    "ITERD_BIN" % binary)
    return binary


def start_daemon(data_root, log_path, extra_args=(), binary=None, user=None):
    """Starts iterd on 127.0.0.1 (a free port) serving data_root; returns a Daemon. `binary`
    replaces iterd_binary(); `user` (a uid, needs root) runs it as that user and group."""
    as_user = {} if user is None else dict(user=user, group=user, extra_groups=[])
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [binary or iterd_binary(), "--listen=127.0.0.1:0", "--data_root=%s" % data_root] +
            list(extra_args),
            stdout=subprocess.PIPE, stderr=log, text=True, **as_user)
    line = _read_first_line(process.stdout, STARTUP_TIMEOUT_SECONDS)
    match = re.match(r"iterd listening on (\S+:\d+)", line or "")
    if not match:
        process.kill()
        process.wait()
        pytest.fail("iterd did not announce its port (first stdout line %r); log:\n%s" %
                    (line, open(log_path).read()))
    # Keep draining stdout so that later output can never block the daemon.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return Daemon(match.group(1), data_root, process, log_path)


def stop_daemon(daemon, timeout=10):
    """SIGTERM, then waits; returns the exit code (fails the test if it does not stop)."""
    daemon.process.send_signal(signal.SIGTERM)
    try:
        return daemon.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        daemon.process.kill()
        daemon.process.wait()
        pytest.fail("iterd did not stop within %d s of SIGTERM" % timeout)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    data_root = tmp_path_factory.mktemp("data_root")
    write_rows_csv(data_root / "rows10.csv", 10)
    config_path = tmp_path_factory.mktemp("config") / "iterd.textproto"
    config_path.write_text(SERVER_CONFIG)
    log_path = tmp_path_factory.mktemp("log") / "iterd.stderr"
    running = start_daemon(data_root, log_path, ["--config=%s" % config_path])
    yield running
    stop_daemon(running)


@pytest.fixture
def address(daemon):
    return daemon.address


@pytest.fixture
def data_root(daemon):
    return daemon.data_root


@pytest.fixture
def client(daemon):
    with iterd.Client(daemon.address) as connection:
        yield connection
