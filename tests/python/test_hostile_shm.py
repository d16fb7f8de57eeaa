"""Another local process must not read or write an iterator's shared-memory region.

The attack this guards against: a process found the region under /proc/<daemon>/fd/ (by its
magic), read it and overwrote the victim's batches. Now the region is handed over only to the
token holder, read-only, through the daemon's abstract socket, its file mode is 0 and the daemon
is not dumpable (docs/design.md, "Same-host shared memory").

The attacker runs in a subprocess with the daemon's uid and without root (root, with
CAP_DAC_OVERRIDE / CAP_SYS_PTRACE, can read any process's memory and is outside the threat
model). When the tests run as root the daemon is started as `nobody` and the attacker runs as
`nobody` too: the hardest case, a same-uid peer. The victim is this test process.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

import iterd
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from conftest import start_daemon
from conftest import stop_daemon
from conftest import iterd_binary

NOBODY = 65534
SAMPLES = 40
BATCH_SIZE = 4
FEATURES = 64
ATTACK_TIMEOUT_SECONDS = 30

# Runs as the attacker: argv = daemon pid, hex of bytes the victim's batches contain. Prints a
# JSON report of everything that worked.
ATTACKER = r"""
import json, os, socket, sys

pid, marker = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
report = {"uid": os.geteuid(), "listed": False, "opened": [], "chmodded": [], "found": [],
          "overwritten": [], "mem": False, "handover_sockets": [], "handover_fds": 0}
fd_dir = "/proc/%d/fd" % pid
try:
    names = os.listdir(fd_dir)
    report["listed"] = True
except OSError:
    names = [str(n) for n in range(512)]  # Guess the numbers instead.


def attack(path):
    for flags in (os.O_RDWR, os.O_RDONLY):
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        report["opened"].append(path)
        try:
            data = os.pread(fd, 1 << 24, 0)
            at = data.find(marker)
            if at >= 0:
                report["found"].append(path)
                if flags == os.O_RDWR and os.pwrite(fd, b"\xff" * len(marker), at) > 0:
                    report["overwritten"].append(path)
        except OSError:
            pass
        finally:
            os.close(fd)


for name in names:
    path = os.path.join(fd_dir, name)
    attack(path)
    try:
        os.chmod(path, 0o666)  # Follows the magic link to the region's inode.
        report["chmodded"].append(path)
        attack(path)
    except OSError:
        pass
try:
    with open("/proc/%d/mem" % pid, "rb"):
        report["mem"] = True
except OSError:
    pass
# Abstract socket names are public (/proc/net/unix): knock with tokens that are not the victim's.
with open("/proc/net/unix") as table:
    names = {line.split()[-1] for line in table if line.split()[-1].startswith("@iterd-")}
for name in sorted(names):
    report["handover_sockets"].append(name)
    for token in (os.urandom(16), b"\0" * 16, b"ITERDSHM" + b"\0" * 8):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(5)
                connection.connect("\0" + name[1:])
                connection.sendall(token)
                _, fds, _, _ = socket.recv_fds(connection, 1, 4)
                report["handover_fds"] += len(fds)
        except OSError:
            pass
print(json.dumps(report))
"""


def attacker_uid():
    """The uid the attacker runs as: the daemon's, never root."""
    return NOBODY if os.geteuid() == 0 else os.geteuid()


def run_attacker(daemon_pid, marker, uid):
    as_user = {} if uid == os.geteuid() else dict(user=uid, group=uid, extra_groups=[])
    finished = subprocess.run([sys.executable, "-c", ATTACKER, str(daemon_pid), marker.hex()],
                              capture_output=True, text=True, timeout=ATTACK_TIMEOUT_SECONDS,
                              cwd="/", **as_user)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


@pytest.fixture(scope="module")
def unprivileged_daemon(tmp_path_factory):
    """A daemon of the attacker's uid (`nobody` when the tests run as root), from a copy of the
    binary that uid can execute; its data root is a world-readable temporary directory."""
    home = tempfile.mkdtemp(prefix="iterd-hostile-")
    os.chmod(home, 0o755)
    binary = os.path.join(home, "iterd")
    shutil.copy(iterd_binary(), binary)
    os.chmod(binary, 0o755)
    data_root = os.path.join(home, "data")
    os.mkdir(data_root, 0o755)
    log_path = tmp_path_factory.mktemp("hostile_log") / "iterd.stderr"
    user = NOBODY if os.geteuid() == 0 else None
    running = start_daemon(data_root, log_path, binary=binary, user=user)
    yield running
    stop_daemon(running)
    shutil.rmtree(home, ignore_errors=True)


def victim_arrays():
    """Data whose every batch holds bytes that appear nowhere else (the attacker's needle)."""
    rng = np.random.default_rng(20261207)
    data = rng.standard_normal((SAMPLES, FEATURES)).astype(np.float32)
    label = np.arange(SAMPLES, dtype=np.float32)
    return data, label


def open_victim(address):
    data, label = victim_arrays()
    return iterd.NDArrayIter(data, label, batch_size=BATCH_SIZE, server=address, max_batches=2)


def expect_epoch(it, start_batch=0):
    """Reads the rest of an epoch and checks every batch against the arrays."""
    data, label = victim_arrays()
    count = 0
    for number, batch in enumerate(it, start=start_batch):
        rows = slice(number * BATCH_SIZE, (number + 1) * BATCH_SIZE)
        np.testing.assert_array_equal(batch.data[0], data[rows])
        np.testing.assert_array_equal(batch.label[0], label[rows])
        count += 1
    assert start_batch + count == SAMPLES // BATCH_SIZE


def can_look_into(pid):
    """Whether this process may read the (non-dumpable) daemon's descriptor links: root with
    CAP_SYS_PTRACE may; root in a container without that capability (podman's default) may not."""
    try:
        os.readlink("/proc/%d/fd/0" % pid)
        return True
    except OSError:
        return False


def region_links(pid):
    """The daemon's descriptors of regions, when this process may look (root or same uid)."""
    fd_dir = "/proc/%d/fd" % pid
    links = []
    for name in os.listdir(fd_dir):
        try:
            if "memfd:iterd-batches" in os.readlink(os.path.join(fd_dir, name)):
                links.append(name)
        except OSError:
            pass
    return links


def assert_attack_failed(report):
    assert report["uid"] != 0
    assert report["opened"] == []
    assert report["chmodded"] == []
    assert report["found"] == [] and report["overwritten"] == []
    assert not report["mem"]
    assert report["handover_fds"] == 0


def test_same_uid_process_cannot_reach_a_region(unprivileged_daemon, monkeypatch):
    monkeypatch.setenv("ITERD_SHARED_MEMORY", "1")
    data, _ = victim_arrays()
    with open_victim(unprivileged_daemon.address) as victim:
        assert victim.uses_shared_memory
        first = next(victim)
        np.testing.assert_array_equal(first.data[0], data[:BATCH_SIZE])
        # The daemon has produced the next batches into their slots by now: the needle is
        # the second batch's first row, which sits in the region.
        marker = data[BATCH_SIZE].tobytes()[:32]
        report = run_attacker(unprivileged_daemon.process.pid, marker, attacker_uid())
        assert_attack_failed(report)
        assert not report["listed"]  # Not dumpable: /proc/<daemon>/fd is root's.
        assert report["handover_sockets"], "the attacker should see the socket name"
        expect_epoch(victim, start_batch=1)
        assert victim.shared_memory_batches == SAMPLES // BATCH_SIZE
        victim.reset()
        expect_epoch(victim)
        assert victim.shared_memory_batches == 2 * SAMPLES // BATCH_SIZE


def test_other_uid_process_cannot_reach_a_region_of_the_test_daemon(address, daemon, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the attacker as another uid")
    monkeypatch.setenv("ITERD_SHARED_MEMORY", "1")
    data, _ = victim_arrays()
    with open_victim(address) as victim:
        assert victim.uses_shared_memory
        next(victim)
        report = run_attacker(daemon.process.pid, data[BATCH_SIZE].tobytes()[:32], NOBODY)
        assert_attack_failed(report)
        expect_epoch(victim, start_batch=1)
        assert victim.shared_memory_batches == SAMPLES // BATCH_SIZE


def knock(socket_name, token):
    """Connects to a hand-over socket, sends `token`; returns (bytes, descriptors) received."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect("\0" + socket_name[1:])
        connection.sendall(token)
        try:
            message, fds, _, _ = socket.recv_fds(connection, 1, 4)
        except ConnectionResetError:  # Closed with our surplus bytes unread.
            return b"", 0
    for fd in fds:
        os.close(fd)
    return message, len(fds)


def test_wrong_tokens_get_nothing_and_the_victim_keeps_its_region(daemon, monkeypatch):
    monkeypatch.setenv("ITERD_SHARED_MEMORY", "1")
    with iterd.Client(daemon.address) as client:
        config = pipeline_pb2.PipelineConfig()
        config.csv.data_csv = "rows10.csv"
        config.csv.data_shape.append(2)
        config.csv.batch_size = 3
        response = client.open_iterator_response(service_pb2.OpenIterator(config=config))
        region = response.shared_memory
        name = region.handover_socket
        assert name.startswith("@iterd-%d-" % daemon.process.pid)
        wrong = bytes(b ^ 0x01 for b in region.token)
        assert knock(name, wrong) == (b"", 0)
        assert knock(name, b"") == (b"", 0)               # Nothing at all (deadline).
        assert knock(name, region.token[:8]) == (b"", 0)  # Half a token.
        assert knock(name, b"x" * 4096) == (b"", 0)       # More than a token.
        it = iterd.RemoteIter(client, response, 2)
        assert it.uses_shared_memory
        assert [b.data[0][:, 0].tolist() for b in it] == [[0, 10, 20], [30, 40, 50],
                                                          [60, 70, 80], [90, 0, 10]]
        assert it.shared_memory_batches == 4
        # A token works once: replaying the victim's own token gets nothing either.
        assert knock(name, region.token) == (b"", 0)
        it.close()


def test_region_is_read_only_for_its_client_and_freed_at_close(daemon, monkeypatch):
    monkeypatch.setenv("ITERD_SHARED_MEMORY", "1")
    can_look = can_look_into(daemon.process.pid)
    before = len(region_links(daemon.process.pid)) if can_look else 0
    with open_victim(daemon.address) as victim:
        mapping = victim._shared_memory  # pylint: disable=protected-access
        assert mapping is not None
        with pytest.raises(TypeError):
            mapping._mmap[0] = 1  # pylint: disable=protected-access; PROT_READ only.
        next(victim)
        if can_look:  # The memfd and its read-only descriptor.
            assert len(region_links(daemon.process.pid)) == before + 2
    if can_look:
        deadline = time.time() + 5
        while len(region_links(daemon.process.pid)) > before and time.time() < deadline:
            time.sleep(0.02)
        assert len(region_links(daemon.process.pid)) == before
