"""Transport security and access control, end to end: real daemons, real gRPC, real certificates.

Certificates are made with the openssl command line (tls_certs.py) once per session: two CAs, a
server certificate for IP:127.0.0.1 and DNS:localhost from each, an expired one, one whose name
does not match, and client certificates (CN=trainer-a, a SAN-only admin, an unknown name, one from
the other CA). A few daemons are started for the module and shared by the tests:

  plain:   loopback plaintext, bearer tokens, access rules, /metrics;
  tls:     TLS (CA 1), bearer tokens, no access rules;
  mtls:    TLS requiring a client certificate from CA 1, access rules by certificate names;
  bad_certificate_daemons: TLS with the expired and the wrong-name certificate.

The certificate reload test (TLS files in a symlinked directory re-read every second) and the
non-loopback start-up checks start their own. The daemons' stdout and stderr are kept: the last
test checks that no token (used, wrong or revoked) ever appears in them.
"""
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest

import iterd
from conftest import Daemon
from conftest import STARTUP_TIMEOUT_SECONDS
from conftest import iterd_binary
from conftest import stop_daemon
from helpers import wait_for
from helpers import write_rows_csv
from iterd import security
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from iterd.v1 import service_pb2_grpc
import tls_certs

# Bounded waits: the daemon re-reads its token file about every second and its certificates
# every --tls_reload_seconds=1.
TOKEN_REVOCATION_SECONDS = 5
CERTIFICATE_RELOAD_SECONDS = 10
SECURITY_VARIABLES = ("ITERD_TLS_CA", "ITERD_TLS_CERT", "ITERD_TLS_KEY", "ITERD_TOKEN",
                      "ITERD_TOKEN_FILE", "ITERD_ADDRESS")


def _token(prefix):
    """A fresh 32+ character token; some punctuation, since any printable character may occur."""
    return "%s+/=~%s" % (prefix, secrets.token_urlsafe(30))


TOKEN_A = _token("a")
TOKEN_ADMIN = _token("adm")
TOKEN_STRANGER = _token("str")
TOKEN_TEMPORARY = _token("tmp")
WRONG_TOKEN = _token("wrong")
# Every token any test sends: none may appear in a daemon's output.
ALL_TOKENS = [TOKEN_A, TOKEN_ADMIN, TOKEN_STRANGER, TOKEN_TEMPORARY, WRONG_TOKEN]

TOKEN_FILE = """# iterd test tokens: NAME TOKEN
trainer-a {a}

admin {admin}
stranger {stranger}
temporary {temporary}
"""

PIPELINES = """
pipelines {
  name: "train"
  config { csv { data_csv: "rows10.csv" data_shape: 2 batch_size: 3 } }
}
pipelines {
  name: "eval"
  config { csv { data_csv: "rows10.csv" data_shape: 2 batch_size: 5 } }
}
limits { idle_timeout_seconds: 120 }
"""
# trainer-a (and the temporary token, which the revocation test removes) may open "train" only;
# admin everything; stranger's token is listed but no rule names it.
ACCESS_RULES = """
access { identities: "trainer-a" identities: "temporary" pipelines: "train" inline_configs: false }
access { identities: "admin" pipelines: "*" inline_configs: true }
"""
TRAIN_BATCHES = [[0, 10, 20], [30, 40, 50], [60, 70, 80], [90, 0, 10]]  # rows10.csv, batch 3.

_STARTED = []  # Every daemon of this module, for the log check.


# ----- Daemons -----

class LoggedDaemon(Daemon):
    """A Daemon whose stdout is kept too (log() = stderr then stdout)."""

    def __init__(self, address, data_root, process, log_path, stdout_lines, metrics=None):
        super(LoggedDaemon, self).__init__(address, data_root, process, log_path)
        self.stdout_lines = stdout_lines
        self.metrics = metrics

    def log(self):
        return super(LoggedDaemon, self).log() + "".join(self.stdout_lines)


def launch(directory, arguments, listen="127.0.0.1:0", metrics=False, expect_start=True):
    """Starts iterd with `arguments`, its data root directory/data; returns a LoggedDaemon whose
    address is connectable from this host (a wildcard listen address becomes 127.0.0.1).
    expect_start=False: returns (exit code, stderr) of a daemon that must refuse to start."""
    data_root = directory / "data"
    if not data_root.exists():
        data_root.mkdir(parents=True)
        write_rows_csv(data_root / "rows10.csv", 10)
    log_path = directory / ("iterd-%d.stderr" % len(_STARTED))
    command = [iterd_binary(), "--listen=%s" % listen, "--data_root=%s" % data_root] + list(
        arguments)
    if metrics:
        command.append("--metrics_listen=127.0.0.1:0")
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    if not expect_start:
        try:
            code = process.wait(timeout=STARTUP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("iterd %s started although it must refuse to" % " ".join(command[1:]))
        with open(log_path) as f:
            return code, f.read()
    lines = []
    announced = threading.Event()
    wanted = 2 if metrics else 1

    def read_stdout():
        for line in process.stdout:  # Until the daemon exits: it never blocks on stdout.
            lines.append(line)
            if len(lines) >= wanted:
                announced.set()
        announced.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    announced.wait(STARTUP_TIMEOUT_SECONDS)
    grpc_match = re.match(r"iterd listening on (\S+):(\d+)", lines[0] if lines else "")
    metrics_match = (re.match(r"iterd metrics listening on (\S+:\d+)", lines[1])
                     if metrics and len(lines) > 1 else None)
    if not grpc_match or (metrics and not metrics_match):
        process.kill()
        process.wait()
        pytest.fail("iterd %s did not announce its address (stdout %r); log:\n%s" %
                    (" ".join(command[1:]), lines, open(log_path).read()))
    host = grpc_match.group(1)
    if host in ("0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    daemon = LoggedDaemon("%s:%s" % (host, grpc_match.group(2)), data_root, process, log_path,
                          lines, metrics_match.group(1) if metrics_match else None)
    _STARTED.append(daemon)
    return daemon


def write_atomically(path, text):
    """Replaces `path` by a rename, so that a reader sees the old or the new file, whole."""
    staging = "%s.new" % path
    with open(staging, "w") as f:
        f.write(text)
    os.chmod(staging, 0o600)
    os.replace(staging, path)


def token_file_text(without=()):
    text = TOKEN_FILE.format(a=TOKEN_A, admin=TOKEN_ADMIN, stranger=TOKEN_STRANGER,
                             temporary=TOKEN_TEMPORARY)
    return "".join(line for line in text.splitlines(True)
                   if not any(line.startswith(name + " ") for name in without))


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test PKI (see the module docstring), as attributes of one object."""
    directory = tmp_path_factory.mktemp("pki")

    class Pki(object):
        pass

    pki = Pki()
    pki.ca1 = tls_certs.CertificateAuthority(directory, "ca1")
    pki.ca2 = tls_certs.CertificateAuthority(directory, "ca2")
    server_names = ["IP:127.0.0.1", "DNS:localhost"]
    pki.server1 = pki.ca1.issue("server", common_name="iterd", sans=server_names)
    pki.server2 = pki.ca2.issue("server", common_name="iterd", sans=server_names)
    pki.expired = pki.ca1.issue("expired", common_name="iterd", sans=server_names,
                                start="20200101000000Z", end="20200102000000Z")
    pki.wrong_name = pki.ca1.issue("wrong-name", common_name="other.example",
                                   sans=["DNS:other.example"])
    pki.trainer_a = pki.ca1.issue("trainer-a", common_name="trainer-a", client=True)
    # Its common name matches no rule: the SAN value "admin" is the identity that does.
    pki.robot_admin = pki.ca1.issue("robot", common_name="robot-7", sans=["DNS:admin"],
                                    client=True)
    pki.nobody = pki.ca1.issue("nobody", common_name="nobody", client=True)
    pki.foreign_trainer = pki.ca2.issue("trainer-a", common_name="trainer-a", client=True)
    return pki


@pytest.fixture(autouse=True)
def no_security_environment(monkeypatch):
    """Each test states its settings: none come from the environment of the test run."""
    for variable in SECURITY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """Loopback plaintext daemon: tokens, access rules, /metrics."""
    directory = tmp_path_factory.mktemp("plain")
    token_file = directory / "tokens"
    write_atomically(token_file, token_file_text())
    config = directory / "iterd.textproto"
    config.write_text(PIPELINES + ACCESS_RULES)
    daemon = launch(directory, ["--config=%s" % config, "--auth_token_file=%s" % token_file],
                    metrics=True)
    daemon.token_file = token_file
    yield daemon
    stop_daemon(daemon)


@pytest.fixture(scope="module")
def tls(tmp_path_factory, certs):
    """TLS daemon (CA 1's server certificate) with tokens and no access rules."""
    directory = tmp_path_factory.mktemp("tls")
    token_file = directory / "tokens"
    write_atomically(token_file, token_file_text())
    config = directory / "iterd.textproto"
    config.write_text(PIPELINES)
    daemon = launch(directory, ["--config=%s" % config, "--auth_token_file=%s" % token_file,
                                "--tls_cert_file=%s" % certs.server1.cert,
                                "--tls_key_file=%s" % certs.server1.key])
    yield daemon
    stop_daemon(daemon)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory, certs):
    """Mutual-TLS daemon (client certificates from CA 1), access rules, no tokens."""
    directory = tmp_path_factory.mktemp("mtls")
    config = directory / "iterd.textproto"
    config.write_text(PIPELINES + ACCESS_RULES)
    daemon = launch(directory, ["--config=%s" % config,
                                "--tls_cert_file=%s" % certs.server1.cert,
                                "--tls_key_file=%s" % certs.server1.key,
                                "--tls_client_ca_file=%s" % certs.ca1.cert])
    yield daemon
    stop_daemon(daemon)


def ndarray_batches(iterator):
    return [(b.data[0][:, 0].tolist(), b.label[0].tolist(), b.pad) for b in iterator]


def small_arrays():
    return np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6, dtype=np.float32)


EXPECTED_SMALL = [([0.0, 2.0, 4.0, 6.0], [0.0, 1.0, 2.0, 3.0], 0),
                  ([8.0, 10.0, 0.0, 2.0], [4.0, 5.0, 0.0, 1.0], 2)]


def train_batches(client, name="train"):
    with client.open(name) as iterator:
        return [b.data[0][:, 0].tolist() for b in iterator]


def csv_config():
    config = pipeline_pb2.PipelineConfig()
    config.csv.data_csv = "rows10.csv"
    config.csv.data_shape.append(2)
    config.csv.batch_size = 3
    return config


def assert_no_token_in(text):
    for token in ALL_TOKENS:
        assert token not in text
        # Nor a large piece of one (a truncated or split log line).
        for piece in (token[:16], token[-16:]):
            assert piece not in text


# ----- TLS -----

def test_plaintext_client_to_a_tls_daemon_fails_saying_tls_may_be_required(tls):
    with iterd.Client(tls.address, token=TOKEN_A) as client:
        assert not client.tls
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "may require TLS" in raised.value.message
    assert "ITERD_TLS_CA" in raised.value.message
    assert_no_token_in(str(raised.value))


def test_tls_client_trusting_the_ca_fetches_correct_batches_over_shared_memory(tls, certs):
    with iterd.Client(tls.address, root_certificates=certs.ca1.cert, token=TOKEN_A) as client:
        assert client.tls
        assert sorted(p.name for p in client.list_pipelines()) == ["eval", "train"]
        assert train_batches(client) == TRAIN_BATCHES
    # Loopback over TLS still hands the batches over in shared memory (the region's descriptor
    # goes through the daemon's local socket, not the TLS connection).
    data, label = small_arrays()
    with iterd.NDArrayIter(data, label, batch_size=4, server=tls.address,
                           root_certificates=certs.ca1.cert_pem(), token=TOKEN_A) as iterator:
        assert iterator.uses_shared_memory
        assert ndarray_batches(iterator) == EXPECTED_SMALL
        assert iterator.shared_memory_batches == 2


def test_tls_client_to_a_plaintext_daemon_fails_saying_the_daemon_has_no_tls(plain, certs):
    with iterd.Client(plain.address, root_certificates=certs.ca1.cert,
                      token=TOKEN_ADMIN) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "answered in plaintext" in raised.value.message


def test_server_certificate_of_another_ca_is_not_trusted(tls, certs):
    with iterd.Client(tls.address, root_certificates=certs.ca2.cert, token=TOKEN_A) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "certificate was not trusted" in raised.value.message
    assert "local issuer" in raised.value.message  # The reason, from the client's own check.


@pytest.fixture(scope="module")
def bad_certificate_daemons(tmp_path_factory, certs):
    started = {}
    for name, issued in (("expired", certs.expired), ("wrong_name", certs.wrong_name)):
        directory = tmp_path_factory.mktemp(name)
        started[name] = launch(directory, ["--tls_cert_file=%s" % issued.cert,
                                           "--tls_key_file=%s" % issued.key])
    yield started
    for daemon in started.values():
        stop_daemon(daemon)


def test_expired_server_certificate_fails(bad_certificate_daemons, certs):
    daemon = bad_certificate_daemons["expired"]
    with iterd.Client(daemon.address, root_certificates=certs.ca1.cert) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "certificate was not trusted" in raised.value.message
    assert "expired" in raised.value.message


def test_server_certificate_for_another_name_fails_unless_that_name_is_asked(
        bad_certificate_daemons, certs):
    daemon = bad_certificate_daemons["wrong_name"]
    with iterd.Client(daemon.address, root_certificates=certs.ca1.cert) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "not valid for the name" in raised.value.message
    assert "127.0.0.1" in raised.value.message
    # The certificate is good for other.example: checking that name instead connects.
    with iterd.Client(daemon.address, root_certificates=certs.ca1.cert,
                      server_name="other.example") as client:
        assert client.list_pipelines() == []
        assert train_batches_inline(client) == TRAIN_BATCHES


def train_batches_inline(client):
    with client.open_config(csv_config()) as iterator:
        return [b.data[0][:, 0].tolist() for b in iterator]


# ----- Mutual TLS and certificate identities -----

def test_mtls_daemon_refuses_a_client_without_certificate(mtls, certs):
    with iterd.Client(mtls.address, root_certificates=certs.ca1.cert) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "client certificate" in raised.value.message


def test_mtls_daemon_refuses_a_client_certificate_of_another_ca(mtls, certs):
    with iterd.Client(mtls.address, root_certificates=certs.ca1.cert,
                      certificate_chain=certs.foreign_trainer.cert,
                      private_key=certs.foreign_trainer.key) as client:
        with pytest.raises(iterd.Unavailable) as raised:
            client.list_pipelines()
    assert "client certificate" in raised.value.message


def test_mtls_certificate_common_name_is_the_rule_identity(mtls, certs):
    with iterd.Client(mtls.address, root_certificates=certs.ca1.cert,
                      certificate_chain=certs.trainer_a.cert,
                      private_key=certs.trainer_a.key) as client:
        assert [p.name for p in client.list_pipelines()] == ["train"]
        assert train_batches(client) == TRAIN_BATCHES
        with pytest.raises(iterd.PermissionDenied) as raised:
            client.open("eval")
        assert "trainer-a" in raised.value.message and "eval" in raised.value.message
        with pytest.raises(iterd.PermissionDenied):
            client.open_config(csv_config())
    # PEM bytes work as well as paths; inline arrays read no file and are always allowed.
    data, label = small_arrays()
    with iterd.NDArrayIter(data, label, batch_size=4, server=mtls.address,
                           root_certificates=certs.ca1.cert_pem(),
                           certificate_chain=certs.trainer_a.cert_pem(),
                           private_key=open(certs.trainer_a.key, "rb").read()) as iterator:
        assert ndarray_batches(iterator) == EXPECTED_SMALL


def test_mtls_certificate_subject_alternative_name_is_a_rule_identity(mtls, certs):
    with iterd.Client(mtls.address, root_certificates=certs.ca1.cert,
                      certificate_chain=certs.robot_admin.cert,
                      private_key=certs.robot_admin.key) as client:
        assert sorted(p.name for p in client.list_pipelines()) == ["eval", "train"]
        assert train_batches(client, "eval") == [[0, 10, 20, 30, 40], [50, 60, 70, 80, 90]]
        assert train_batches_inline(client) == TRAIN_BATCHES


def test_mtls_certificate_no_rule_names_may_do_nothing(mtls, certs):
    with iterd.Client(mtls.address, root_certificates=certs.ca1.cert,
                      certificate_chain=certs.nobody.cert, private_key=certs.nobody.key) as client:
        with pytest.raises(iterd.PermissionDenied):
            client.list_pipelines()
        with pytest.raises(iterd.PermissionDenied):
            client.open("train")


# ----- Bearer tokens on every call -----

@pytest.fixture(params=["plain", "tls"])
def token_daemon(request, certs):
    """(daemon, raw gRPC channel factory, the Client's TLS keywords) for the token daemons,
    without and with TLS."""
    daemon = request.getfixturevalue(request.param)
    if request.param == "tls":
        credentials = grpc.ssl_channel_credentials(certs.ca1.cert_pem())
        return (daemon, lambda: grpc.secure_channel(daemon.address, credentials),
                {"root_certificates": certs.ca1.cert})
    return daemon, lambda: grpc.insecure_channel(daemon.address), {}


BAD_AUTHORIZATIONS = [
    ("no token", ()),
    ("token refused", (("authorization", "Bearer " + WRONG_TOKEN),)),
    ("malformed authorization", (("authorization", "Basic " + WRONG_TOKEN),)),
]


def every_call(stub, iterator_id):
    """(name, call(metadata)) for every DataIterService method, on a real iterator."""
    def open_iterator(metadata):
        return stub.OpenIterator(iter([service_pb2.OpenIteratorRequest(
            open=service_pb2.OpenIterator(name="train"))]), metadata=metadata)

    def fetch(metadata):
        return list(stub.Fetch(service_pb2.FetchRequest(iterator_id=iterator_id, max_batches=1),
                               metadata=metadata))

    return [
        ("ListPipelines", lambda m: stub.ListPipelines(service_pb2.ListPipelinesRequest(),
                                                       metadata=m)),
        ("OpenIterator", open_iterator),
        ("Fetch", fetch),
        ("Reset", lambda m: stub.Reset(service_pb2.ResetRequest(iterator_id=iterator_id),
                                       metadata=m)),
        ("GetSampleOrder", lambda m: stub.GetSampleOrder(
            service_pb2.GetSampleOrderRequest(iterator_id=iterator_id), metadata=m)),
        ("GetIteratorStats", lambda m: stub.GetIteratorStats(
            service_pb2.GetIteratorStatsRequest(iterator_id=iterator_id), metadata=m)),
        ("GetServerStats", lambda m: stub.GetServerStats(service_pb2.GetServerStatsRequest(),
                                                         metadata=m)),
        ("CloseIterator", lambda m: stub.CloseIterator(
            service_pb2.CloseIteratorRequest(iterator_id=iterator_id), metadata=m)),
    ]


def test_every_rpc_without_a_listed_token_is_unauthenticated(token_daemon):
    daemon, channel_factory, _ = token_daemon
    good = (("authorization", "Bearer " + TOKEN_ADMIN),)
    channel = channel_factory()
    try:
        stub = service_pb2_grpc.DataIterServiceStub(channel)
        # A real iterator: the refused calls name an iterator that exists (a leaked id alone is
        # worth nothing without a token).
        opened = stub.OpenIterator(iter([service_pb2.OpenIteratorRequest(
            open=service_pb2.OpenIterator(name="train"))]), metadata=good)
        calls = every_call(stub, opened.iterator_id)
        assert len(calls) == len(service_pb2.DESCRIPTOR.services_by_name[
            "DataIterService"].methods)
        for expected_start, metadata in BAD_AUTHORIZATIONS:
            for name, call in calls:
                with pytest.raises(grpc.RpcError) as raised:
                    call(metadata)
                assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
                assert raised.value.details().startswith(expected_start), (
                    name, raised.value.details())
                assert_no_token_in(raised.value.details())
        # The refused calls did nothing: the iterator still starts at its first batch.
        fetched = dict(calls)["Fetch"](good)
        assert fetched[0].header.sequence == 0
        assert list(fetched[0].header.index) == [0, 1, 2]
        dict(calls)["CloseIterator"](good)
    finally:
        channel.close()


def test_right_token_works_for_every_call_through_the_client(token_daemon):
    daemon, _, tls_settings = token_daemon
    with iterd.Client(daemon.address, token=TOKEN_ADMIN, **tls_settings) as client:
        assert train_batches(client) == TRAIN_BATCHES  # OpenIterator, Fetch, CloseIterator.
        assert client.stats().iterators_opened >= 1   # GetServerStats.
    data, label = small_arrays()
    with iterd.NDArrayIter(data, label, batch_size=4, shuffle=True, seed=3,
                           server=daemon.address, token=TOKEN_ADMIN, **tls_settings) as iterator:
        first = ndarray_batches(iterator)
        order = iterator.idx.tolist()                # GetSampleOrder.
        assert sorted(order) == list(range(6))
        assert [row[1] for row in first][0] == [float(i) for i in order[:4]]
        assert iterator.stats().batches_produced >= 2  # GetIteratorStats.
        iterator.reset()                             # Reset.
        assert len(ndarray_batches(iterator)) == 2


def test_client_without_token_gets_the_daemons_message(plain):
    with iterd.Client(plain.address) as client:
        with pytest.raises(iterd.Unauthenticated) as raised:
            client.list_pipelines()
    assert raised.value.message.startswith("no token")
    with iterd.Client(plain.address, token=WRONG_TOKEN) as client:
        with pytest.raises(iterd.Unauthenticated) as raised:
            client.open("train")
        assert WRONG_TOKEN not in repr(client)
    assert raised.value.message.startswith("token refused")
    assert_no_token_in(str(raised.value))


def test_token_from_the_environment_or_a_token_file(plain, tmp_path, monkeypatch):
    monkeypatch.setenv("ITERD_TOKEN", TOKEN_A)
    with iterd.Client(plain.address) as client:
        assert [p.name for p in client.list_pipelines()] == ["train"]
    monkeypatch.delenv("ITERD_TOKEN")
    token_file = tmp_path / "token"
    token_file.write_text("\n  %s \n" % TOKEN_ADMIN)
    monkeypatch.setenv("ITERD_TOKEN_FILE", str(token_file))
    with iterd.Client(plain.address) as client:
        assert sorted(p.name for p in client.list_pipelines()) == ["eval", "train"]


# ----- Access rules by token name -----

def test_identity_may_open_only_its_pipelines_and_sees_only_them(plain):
    with iterd.Client(plain.address, token=TOKEN_A) as client:
        assert [p.name for p in client.list_pipelines()] == ["train"]
        assert train_batches(client) == TRAIN_BATCHES
        with pytest.raises(iterd.PermissionDenied) as raised:
            client.open("eval")
    assert "trainer-a" in raised.value.message
    assert "eval" in raised.value.message
    with iterd.Client(plain.address, token=TOKEN_ADMIN) as client:
        assert sorted(p.name for p in client.list_pipelines()) == ["eval", "train"]
        assert train_batches(client, "eval") == [[0, 10, 20, 30, 40], [50, 60, 70, 80, 90]]


def test_inline_configs_naming_files_need_inline_configs_true(plain):
    with pytest.raises(iterd.PermissionDenied) as raised:
        iterd.CSVIter(data_csv="rows10.csv", data_shape=(2,), batch_size=3,
                      server=plain.address, token=TOKEN_A)
    assert "trainer-a" in raised.value.message
    # Arrays uploaded inline read no file: allowed without inline_configs.
    data, label = small_arrays()
    with iterd.NDArrayIter(data, label, batch_size=4, server=plain.address,
                           token=TOKEN_A) as iterator:
        assert ndarray_batches(iterator) == EXPECTED_SMALL
    with iterd.CSVIter(data_csv="rows10.csv", data_shape=(2,), batch_size=3,
                       server=plain.address, token=TOKEN_ADMIN) as iterator:
        assert [b.data[0][:, 0].tolist() for b in iterator] == TRAIN_BATCHES


def test_listed_token_that_no_rule_names_may_do_nothing(plain, tls):
    with iterd.Client(plain.address, token=TOKEN_STRANGER) as client:
        with pytest.raises(iterd.PermissionDenied):
            client.list_pipelines()
    data, label = small_arrays()
    with pytest.raises(iterd.PermissionDenied):
        iterd.NDArrayIter(data, label, batch_size=4, server=plain.address, token=TOKEN_STRANGER)


def test_without_access_rules_every_authenticated_identity_may_do_everything(tls, certs):
    with iterd.Client(tls.address, root_certificates=certs.ca1.cert,
                      token=TOKEN_STRANGER) as client:
        assert sorted(p.name for p in client.list_pipelines()) == ["eval", "train"]
        assert train_batches_inline(client) == TRAIN_BATCHES


def test_removed_token_line_is_refused_within_seconds(plain):
    with iterd.Client(plain.address, token=TOKEN_TEMPORARY) as client:
        assert [p.name for p in client.list_pipelines()] == ["train"]

        def refused():
            try:
                client.list_pipelines()
                return False
            except iterd.Unauthenticated as error:
                return error.message.startswith("token refused")

        write_atomically(plain.token_file, token_file_text(without=("temporary",)))
        try:
            assert wait_for(refused, TOKEN_REVOCATION_SECONDS)
            # The other tokens of the file still work.
            with iterd.Client(plain.address, token=TOKEN_A) as other:
                assert [p.name for p in other.list_pipelines()] == ["train"]
        finally:
            write_atomically(plain.token_file, token_file_text())


# ----- Certificates replaced on disk -----

def test_replaced_certificate_is_served_to_new_connections_without_restart(tmp_path, certs):
    # --tls_cert_file / --tls_key_file name files in a symlinked directory; replacing the link
    # switches both files at once.
    for generation, issued in (("gen1", certs.server1), ("gen2", certs.server2)):
        (tmp_path / generation).mkdir()
        for source, name in ((issued.cert, "server.pem"), (issued.key, "server.key")):
            (tmp_path / generation / name).write_bytes(open(source, "rb").read())
    current = tmp_path / "current"
    os.symlink("gen1", current)
    daemon = launch(tmp_path, ["--tls_cert_file=%s" % (current / "server.pem"),
                               "--tls_key_file=%s" % (current / "server.key"),
                               "--tls_reload_seconds=1"])
    try:
        data = np.arange(40, dtype=np.float32).reshape(20, 2)
        label = np.arange(20, dtype=np.float32)
        with iterd.NDArrayIter(data, label, batch_size=2, server=daemon.address,
                               root_certificates=certs.ca1.cert, max_batches=1) as established:
            assert next(established).label[0].tolist() == [0.0, 1.0]

            def connects(ca):
                try:
                    with iterd.Client(daemon.address, root_certificates=ca) as client:
                        client.stats()
                    return True
                except iterd.Unavailable:
                    return False

            assert connects(certs.ca1.cert) and not connects(certs.ca2.cert)
            os.symlink("gen2", tmp_path / "next")
            os.replace(tmp_path / "next", current)
            assert wait_for(lambda: connects(certs.ca2.cert), CERTIFICATE_RELOAD_SECONDS)
            assert not connects(certs.ca1.cert)
            # The stream opened under the old certificate keeps its connection.
            rest = [b.label[0].tolist() for b in established]
            assert rest == [[float(2 * i), float(2 * i + 1)] for i in range(1, 10)]
            established.reset()
            assert len(list(established)) == 10
    finally:
        stop_daemon(daemon)


# ----- /metrics -----

def metrics_status(daemon, path="/metrics", token=None):
    request = urllib.request.Request("http://%s%s" % (daemon.metrics, path))
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_need_a_token_when_tokens_are_configured(plain):
    assert metrics_status(plain)[0] == 401
    status, body = metrics_status(plain, token=WRONG_TOKEN)
    assert status == 401
    assert_no_token_in(body)
    status, body = metrics_status(plain, token=TOKEN_ADMIN)
    assert status == 200
    assert "iterd_" in body
    assert metrics_status(plain, "/healthz")[0] == 200
    assert metrics_status(plain, "/readyz")[0] == 200


# ----- Secure by default -----

def test_non_loopback_listen_without_tls_or_tokens_is_refused(tmp_path):
    code, stderr = launch(tmp_path, [], listen="0.0.0.0:0", expect_start=False)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "--insecure" in lines[0]


def test_non_loopback_listen_starts_with_insecure_or_with_tokens(tmp_path):
    (tmp_path / "a").mkdir()
    daemon = launch(tmp_path / "a", ["--insecure"], listen="0.0.0.0:0")
    try:
        with iterd.Client(daemon.address) as client:
            assert train_batches_inline(client) == TRAIN_BATCHES
    finally:
        stop_daemon(daemon)
    (tmp_path / "b").mkdir()
    token_file = tmp_path / "b" / "tokens"
    write_atomically(token_file, token_file_text())
    daemon = launch(tmp_path / "b", ["--auth_token_file=%s" % token_file], listen="0.0.0.0:0")
    try:
        with iterd.Client(daemon.address, token=TOKEN_A) as client:
            assert train_batches_inline(client) == TRAIN_BATCHES
        with iterd.Client(daemon.address) as client:
            with pytest.raises(iterd.Unauthenticated):
                client.stats()
    finally:
        stop_daemon(daemon)


# ----- Environment defaults -----

TRAINING_SCRIPT = """
import json
import numpy as np
import iterd
data = np.arange(12, dtype=np.float32).reshape(6, 2)
with iterd.NDArrayIter(data, np.arange(6, dtype=np.float32), batch_size=4) as it:
    print(json.dumps([(b.data[0][:, 0].tolist(), b.label[0].tolist(), b.pad) for b in it]))
"""


def test_a_training_script_needs_only_environment_variables(tls, certs):
    environment = {k: v for k, v in os.environ.items() if k not in SECURITY_VARIABLES}
    environment.update(ITERD_ADDRESS=tls.address, ITERD_TLS_CA=certs.ca1.cert,
                       ITERD_TOKEN=TOKEN_A)
    result = subprocess.run([sys.executable, "-c", TRAINING_SCRIPT], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert [tuple(b) for b in json.loads(result.stdout)] == [
        (list(d), list(l), p) for d, l, p in EXPECTED_SMALL]
    assert_no_token_in(result.stderr)


def test_many_daemon_iterator_passes_the_settings_to_every_daemon(tls, certs):
    data, label = small_arrays()
    with iterd.NDArrayIter(data, label, batch_size=2, server=[tls.address], rank=0,
                           world_size=1, root_certificates=certs.ca1.cert,
                           token=TOKEN_A) as iterator:
        assert isinstance(iterator, iterd.ShardedIter)
        assert [b.label[0].tolist() for b in iterator] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(iterd.Unauthenticated):
        iterd.NDArrayIter(data, label, batch_size=2, server=[tls.address], rank=0,
                          world_size=1, root_certificates=certs.ca1.cert)


def test_sharded_addresses_remember_the_name_they_resolved_from():
    names = {}
    addresses = iterd.resolve_daemons(["localhost:7070", "127.0.0.2:7071"], names)
    assert "127.0.0.2:7071" in addresses and "127.0.0.2:7071" not in names
    assert names and set(names.values()) == {"localhost"}


# ----- Arguments checked before connecting -----

def test_bad_settings_are_invalid_arguments_naming_them(tmp_path, certs, monkeypatch):
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", root_certificates=missing)
    assert "root_certificates" in raised.value.message and missing in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", private_key=certs.trainer_a.key)
    assert "private_key" in raised.value.message and "certificate_chain" in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", certificate_chain=certs.trainer_a.cert)
    assert "private_key" in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", root_certificates=certs.ca1.key)  # A key, not a cert.
    assert "root_certificates" in raised.value.message and certs.ca1.key in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", certificate_chain=certs.trainer_a.cert,
                      private_key=certs.trainer_a.cert)
    assert "private_key" in raised.value.message
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", certificate_chain=certs.trainer_a.cert,
                     private_key=certs.nobody.key)  # Another certificate's key.
    assert "private_key is not the key of certificate_chain" in raised.value.message
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                       "-----END CERTIFICATE-----\n")
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", root_certificates=str(garbage))
    assert str(garbage) in raised.value.message
    spaced = "two words " + TOKEN_A
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1", token=spaced)
    assert TOKEN_A not in str(raised.value)
    monkeypatch.setenv("ITERD_TLS_CERT", certs.trainer_a.cert)
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.Client("127.0.0.1:1")
    assert "ITERD_TLS_KEY" in raised.value.message
    monkeypatch.delenv("ITERD_TLS_CERT")
    monkeypatch.setenv("ITERD_TOKEN_FILE", missing)
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.NDArrayIter(np.zeros((2, 1)), batch_size=1, server="127.0.0.1:1")
    assert "ITERD_TOKEN_FILE" in raised.value.message and missing in raised.value.message


def test_token_appears_in_no_repr(certs):
    client = iterd.Client("127.0.0.1:1", root_certificates=certs.ca1.cert, token=TOKEN_A)
    try:
        assert TOKEN_A not in repr(client)
        assert "token=set" in repr(client)
        assert TOKEN_A not in repr(security.resolve(token=TOKEN_A))
        assert TOKEN_A not in repr(vars(client))
    finally:
        client.close()


# ----- Logs (last: after every other test sent its tokens) -----

def test_no_token_appears_in_any_daemon_output(plain, tls, mtls):
    # Refused tokens of every kind once more, so that the check does not depend on test order.
    with iterd.Client(plain.address, token=WRONG_TOKEN) as client:
        with pytest.raises(iterd.Unauthenticated):
            client.list_pipelines()
    assert metrics_status(plain, token=WRONG_TOKEN)[0] == 401
    assert _STARTED
    for daemon in _STARTED:
        assert_no_token_in(daemon.log())
