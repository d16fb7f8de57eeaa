"""The Kubernetes manifests (deploy/k8s): they render with `kubectl kustomize`, every object is
valid against the Kubernetes schemas (tools/lint/validate_k8s.sh, offline), the rendered objects
have what a deployment of daemons needs, and the daemon accepts the config they ship.

There is no cluster here: this stops at rendering, schema validation, property checks on the
rendered YAML and a real daemon started with the ConfigMap's config. Needs kubectl (Debian:
kubernetes-client), node and npm (nodejs, npm; the npm packages are installed on first use) and
PyYAML (python3-yaml); skips with the missing package's name otherwise. KUBECTL=/path/to/kubectl
picks another kubectl (the manifests render with 1.20 and 1.32).
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import iterd_binary, start_daemon, stop_daemon
import image_data
import iterd
import tls_certs

yaml = pytest.importorskip("yaml", reason="PyYAML missing: apt-get install python3-yaml")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S_DIR = os.path.join(REPO, "deploy", "k8s")
VALIDATE = os.path.join(REPO, "tools", "lint", "validate_k8s.sh")
KUBECTL = os.environ.get("KUBECTL", "kubectl")

# Kustomization directory -> (daemons, CPU cores per daemon).
TARGETS = {
    "base": (2, 2),
    "overlays/small": (1, 1),
    "overlays/large": (8, 8),
    "overlays/mtls": (2, 2),
}
GRPC_PORT = 50051
METRICS_PORT = 9090
def _require_tools():
    missing = []
    if shutil.which(KUBECTL) is None:
        missing.append("kubectl (apt-get install kubernetes-client)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    installed = os.path.isfile(os.path.join(REPO, "tools", "lint", "node_modules",
                                            "kubernetes-models", "package.json"))
    if not installed and shutil.which("npm") is None:
        missing.append("npm (apt-get install npm)")
    if missing:
        pytest.skip("Kubernetes manifest checks need " + ", ".join(missing))


def run_validator(*targets):
    """tools/lint/validate_k8s.sh on targets; returns (exit code, output). Skips on exit 3 (a tool
    missing, or npm could not install the schema packages)."""
    _require_tools()
    result = subprocess.run([VALIDATE] + list(targets), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, KUBECTL=KUBECTL), timeout=300)
    if result.returncode == 3:
        pytest.skip("validate_k8s.sh could not run: " + result.stdout.strip()[-500:])
    return result.returncode, result.stdout


_rendered = {}


def rendered(target):
    """The objects `kubectl kustomize deploy/k8s/<target>` produces, as {kind: [object, ...]}."""
    if target not in _rendered:
        _require_tools()
        result = subprocess.run([KUBECTL, "kustomize", os.path.join(K8S_DIR, target)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                timeout=120)
        assert result.returncode == 0, "kubectl kustomize %s failed:\n%s" % (target, result.stderr)
        objects = {}
        for document in yaml.safe_load_all(result.stdout):
            if document:
                objects.setdefault(document["kind"], []).append(document)
        _rendered[target] = objects
    return _rendered[target]


def the(target, kind):
    objects = rendered(target).get(kind, [])
    assert len(objects) == 1, "%s renders %d %s objects, expected 1" % (target, len(objects), kind)
    return objects[0]


def daemon_container(target):
    containers = the(target, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    named = [c for c in containers if c["name"] == "iterd"]
    assert len(named) == 1, "%s: no single container named iterd" % target
    return named[0]


def flag_values(container):
    """{flag name: value} of the container's `--name=value` arguments."""
    values = {}
    for argument in container["args"]:
        match = re.match(r"--([a-z_]+)=(.*)$", argument)
        assert match, "argument %r is not --flag=value" % argument
        values[match.group(1)] = match.group(2)
    return values


def example_objects(example, kind):
    """The objects of `kind` in deploy/k8s/examples/<example>."""
    with open(os.path.join(K8S_DIR, "examples", example)) as f:
        return [o for o in yaml.safe_load_all(f) if o and o["kind"] == kind]


def config_text(target):
    """The iterd.pbtxt the daemons of `target` read (the ConfigMap key behind --config)."""
    return the(target, "ConfigMap")["data"]["iterd.pbtxt"]


targets = pytest.mark.parametrize("target", sorted(TARGETS))


# ----- Schema validation (tools/lint/validate_k8s.sh) -----

@targets
def test_validator_renders_and_accepts_every_object(target):
    code, output = run_validator(os.path.join(K8S_DIR, target))
    assert code == 0, output
    assert "4 passed, 0 failed" in output, output


def test_validator_accepts_the_dataset_claim_example():
    code, output = run_validator(os.path.join(K8S_DIR, "examples", "dataset-nfs.yaml"))
    assert code == 0, output
    assert "2 passed, 0 failed" in output, output


@pytest.mark.parametrize("example,objects", [("cert-manager.yaml", 5), ("prometheus.yaml", 1)])
def test_validator_checks_the_custom_resource_examples_against_their_crds(example, objects):
    code, output = run_validator(os.path.join(K8S_DIR, "examples", example))
    assert code == 0, output
    assert "%d passed, 0 failed" % objects in output, output


def test_validator_reports_an_invalid_certificate_as_invalid(tmp_path):
    certificate = dict(example_objects("cert-manager.yaml", "Certificate")[0])
    certificate["spec"] = dict(certificate["spec"], isCA="yes")
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(certificate))
    code, output = run_validator(str(path))
    assert code == 1, output
    assert "spec/isCA must be boolean" in output, output


def test_validator_reports_replicas_as_a_string_as_invalid(tmp_path):
    statefulset = the("base", "StatefulSet")
    broken = dict(statefulset, spec=dict(statefulset["spec"], replicas="two"))
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all([the("base", "Service"), broken]))
    code, output = run_validator(str(path))
    assert code == 1, output
    assert "FAIL apps/v1 StatefulSet iterd" in output, output
    assert "spec/replicas must be integer" in output, output
    assert "1 passed, 1 failed" in output, output


def test_validator_reports_a_container_without_name_as_invalid(tmp_path):
    statefulset = the("base", "StatefulSet")
    container = {key: value for key, value in daemon_container("base").items() if key != "name"}
    pod_spec = dict(statefulset["spec"]["template"]["spec"], containers=[container])
    template = dict(statefulset["spec"]["template"], spec=pod_spec)
    broken = dict(statefulset, spec=dict(statefulset["spec"], template=template))
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    code, output = run_validator(str(path))
    assert code == 1, output
    assert "spec/template/spec/containers/0 must have required property name" in output, output


def test_validator_reports_a_kustomization_that_does_not_render(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    code, output = run_validator(str(tmp_path))
    assert code == 1, output
    assert "kubectl kustomize FAILED" in output, output


# ----- Properties of the rendered objects -----

@targets
def test_each_overlay_runs_its_number_of_daemons(target):
    assert the(target, "StatefulSet")["spec"]["replicas"] == TARGETS[target][0]


@targets
def test_headless_service_publishes_every_daemon_on_the_grpc_port(target):
    service = the(target, "Service")
    statefulset = the(target, "StatefulSet")
    assert service["spec"]["clusterIP"] == "None"
    assert not service["spec"].get("publishNotReadyAddresses", False)
    # Per-pod DNS names (iterd-0.iterd) need the StatefulSet to name this Service.
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert ports["grpc"]["port"] == GRPC_PORT
    assert ports["metrics"]["port"] == METRICS_PORT
    container_ports = {p["name"]: p["containerPort"] for p in daemon_container(target)["ports"]}
    assert container_ports == {"grpc": GRPC_PORT, "metrics": METRICS_PORT}
    assert ports["grpc"]["targetPort"] == "grpc"
    assert ports["metrics"]["targetPort"] == "metrics"


@targets
def test_daemon_flags_listen_on_the_declared_ports(target):
    flags = flag_values(daemon_container(target))
    assert flags["listen"] == "0.0.0.0:%d" % GRPC_PORT
    assert flags["metrics_listen"] == "0.0.0.0:%d" % METRICS_PORT
    assert flags["data_root"] == "/data"


@targets
def test_probes_ask_the_open_http_endpoints_and_liveness_outlasts_the_drain(target):
    container = daemon_container(target)
    # HTTP on the metrics port, not the native gRPC probe: the kubelet's gRPC probe cannot do TLS.
    # /readyz (503 while draining) for start-up and readiness, /healthz for liveness.
    paths = {"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    for probe, path in paths.items():
        assert "grpc" not in container[probe], probe
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path, probe
        assert http_get["port"] in ("metrics", METRICS_PORT), probe
        assert http_get.get("scheme", "HTTP") == "HTTP", probe
    assert flag_values(container)["metrics_listen"] == "0.0.0.0:%d" % METRICS_PORT
    drain_seconds = int(flag_values(container)["drain_seconds"])
    assert drain_seconds > 0
    liveness = container["livenessProbe"]
    # While draining, health answers NOT_SERVING: that must take the pod out of the Service
    # (readiness) long before liveness would restart it.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > drain_seconds
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] < drain_seconds
    pod_spec = the(target, "StatefulSet")["spec"]["template"]["spec"]
    # The drain, then 1 s for cancelled streams and the exit, before the kubelet's SIGKILL.
    assert pod_spec["terminationGracePeriodSeconds"] >= drain_seconds + 10


@targets
def test_pods_run_as_non_root_with_a_read_only_root_and_dataset(target):
    pod_spec = the(target, "StatefulSet")["spec"]["template"]["spec"]
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["runAsUser"] != 0
    container = daemon_container(target)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["dataset"]["mountPath"] == "/data"
    assert mounts["dataset"]["readOnly"] is True
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    assert volumes["dataset"]["persistentVolumeClaim"]["readOnly"] is True


@targets
def test_disruption_budget_selects_the_daemons_and_allows_draining_a_node(target):
    budget = the(target, "PodDisruptionBudget")
    statefulset = the(target, "StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector and selector.items() <= pod_labels.items()
    assert selector == statefulset["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]


@targets
def test_cpu_and_memory_are_guaranteed_and_decode_threads_follow_the_cpu_limit(target):
    container = daemon_container(target)
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]
    assert resources["limits"]["cpu"] == str(TARGETS[target][1])
    assert resources["limits"]["memory"].endswith("Gi")
    assert flag_values(container)["worker_threads"] == "$(ITERD_WORKER_THREADS)"
    env = {variable["name"]: variable for variable in container["env"]}
    field = env["ITERD_WORKER_THREADS"]["valueFrom"]["resourceFieldRef"]
    assert field["resource"] == "limits.cpu" and field["containerName"] == "iterd"


@targets
def test_daemons_serve_tls_and_require_tokens_from_read_only_secrets(target):
    container = daemon_container(target)
    flags = flag_values(container)
    assert "insecure" not in flags
    pod_spec = the(target, "StatefulSet")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    # flag -> (volume, Secret, key): cert-manager's layout for the certificate.
    expected = {"tls_cert_file": ("tls", "iterd-tls", "tls.crt"),
                "tls_key_file": ("tls", "iterd-tls", "tls.key"),
                "auth_token_file": ("tokens", "iterd-tokens", "tokens")}
    for flag, (volume, secret, key) in expected.items():
        assert flags[flag] == os.path.join(mounts[volume]["mountPath"], key), flag
        assert mounts[volume]["readOnly"] is True, volume
        # A subPath mount would not see the kubelet's updates (renewed certificate, revoked token).
        assert "subPath" not in mounts[volume], volume
        assert volumes[volume]["secret"]["secretName"] == secret, volume
        items = volumes[volume]["secret"].get("items")
        assert items is None or key in [item["key"] for item in items], volume
    # The operator creates the Secrets: no secret in the repository.
    assert "Secret" not in rendered(target)


def test_only_the_mtls_overlay_requires_client_certificates_from_the_secrets_ca():
    container = daemon_container("overlays/mtls")
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    flags = flag_values(container)
    assert flags["tls_client_ca_file"] == os.path.join(mounts["tls"], "ca.crt")
    assert "auth_token_file" in flags  # Tokens stay: they are revocable within seconds.
    for target in ("base", "overlays/small", "overlays/large"):
        assert "tls_client_ca_file" not in flag_values(daemon_container(target)), target


@targets
def test_no_generic_annotation_scraping_of_the_token_protected_metrics(target):
    metadata = the(target, "StatefulSet")["spec"]["template"]["metadata"]
    assert metadata.get("annotations", {}).get("prometheus.io/scrape") != "true"


def test_service_monitor_example_scrapes_the_metrics_port_with_a_bearer_token():
    (monitor,) = example_objects("prometheus.yaml", "ServiceMonitor")
    service = the("base", "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["type"] == "Bearer"
    assert endpoint["authorization"]["credentials"]["key"]


def test_cert_manager_example_issues_iterd_tls_for_the_service_and_pod_names():
    certificates = {c["spec"]["secretName"]: c
                    for c in example_objects("cert-manager.yaml", "Certificate")}
    server = certificates["iterd-tls"]["spec"]
    names = set(server["dnsNames"])
    service = the("base", "Service")["metadata"]["name"]
    assert the("base", "StatefulSet")["spec"]["serviceName"] == service
    # The headless Service's names and each pod's, iterd-N.iterd.NAMESPACE..., through wildcards
    # with two labels after the `*` (gRPC matches no shorter wildcard).
    for suffix in ("", ".svc", ".svc.cluster.local"):
        assert "%s.training%s" % (service, suffix) in names, suffix
        assert "*.%s.training%s" % (service, suffix) in names, suffix
    assert "server auth" in server["usages"]
    # The client certificate comes from the same CA, whose ca.crt overlays/mtls trusts.
    client = certificates["iterd-client-trainer-a"]["spec"]
    assert "client auth" in client["usages"]
    assert client["issuerRef"]["name"] == server["issuerRef"]["name"]


@targets
def test_generated_config_map_is_mounted_where_the_config_flag_points(target):
    config_map = the(target, "ConfigMap")
    pod_spec = the(target, "StatefulSet")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    # kustomize appends the content hash to the name and rewrites the reference.
    assert re.match(r"iterd-config-[a-z0-9]{10}$", config_map["metadata"]["name"])
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in daemon_container(target)["volumeMounts"]}
    assert flag_values(daemon_container(target))["config"] == os.path.join(
        mounts["config"], "iterd.pbtxt")
    assert list(config_map["data"]) == ["iterd.pbtxt"]


def test_large_overlay_spreads_daemons_across_nodes():
    pod_spec = the("overlays/large", "StatefulSet")["spec"]["template"]["spec"]
    terms = pod_spec["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    pod_labels = the("overlays/large", "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert any(term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname" and
               term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <=
               pod_labels.items() for term in terms)
    assert "affinity" not in the("base", "StatefulSet")["spec"]["template"]["spec"]


# ----- The daemon and the manifests agree -----

def daemon_help():
    return subprocess.run([iterd_binary(), "--helpfull"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=30).stdout


@targets
def test_every_flag_in_the_manifest_is_known_to_the_daemon(target):
    known = set(re.findall(r"^\s+--([a-z_]+) ", daemon_help(), re.MULTILINE))
    assert {"listen", "data_root", "config"} <= known
    unknown = set(flag_values(daemon_container(target))) - known
    assert not unknown, "the daemon would refuse these flags: %s" % unknown


@pytest.mark.parametrize("target", ["base", "overlays/large"])
def test_daemon_starts_with_the_config_map_and_serves_its_pipelines(target, tmp_path):
    """The ConfigMap's iterd.pbtxt, over a data root laid out as the config expects (.rec/.idx
    files of 128 real JPEGs each), passes the daemon's start-up check (every pipeline opened and
    its first batch decoded) and serves a batch of the declared shape to a sharded client."""
    config_path = tmp_path / "iterd.pbtxt"
    config_path.write_text(config_text(target))
    data_root = tmp_path / "data"
    paths = set(re.findall(r'path_img(?:rec|idx): "([^"]+)"', config_text(target)))
    for rec_path in sorted(p for p in paths if p.endswith(".rec")):
        os.makedirs(data_root / os.path.dirname(rec_path), exist_ok=True)
        image_data.write_labelled_rec(str(data_root / rec_path), 128, short_edge=64)
    assert all((data_root / p).is_file() for p in paths), paths
    flags = flag_values(daemon_container(target))
    cores = TARGETS[target][1]
    extra = ["--config=%s" % config_path, "--worker_threads=%d" % min(cores, 2)]
    if "max_iterators" in flags:
        extra.append("--max_iterators=%s" % flags["max_iterators"])
    daemon = start_daemon(data_root, tmp_path / "iterd.stderr", extra)
    try:
        with iterd.Client(daemon.address) as client:
            names = [pipeline.name for pipeline in client.list_pipelines()]
            assert names == ["imagenet-train", "imagenet-val"]
            with client.open("imagenet-train", num_parts=2, part_index=1) as iterator:
                batch = next(iter(iterator))
        assert batch.data[0].shape == (64, 3, 224, 224)
        assert batch.label[0].shape == (64,)
    finally:
        assert stop_daemon(daemon) == 0, daemon.log()


def test_shipped_access_rules_keep_the_metrics_token_out_of_the_grpc_port(tmp_path):
    """The base config's access rules with the daemon secured as the manifests run it (TLS, a
    token file with a trainer's and Prometheus' tokens): the trainer sees the pipelines, the
    `prometheus` token (sent in clear to /metrics) sees and opens nothing."""
    config_path = tmp_path / "iterd.pbtxt"
    config_path.write_text(config_text("base"))
    data_root = tmp_path / "data"
    for rec_path in sorted(set(re.findall(r'path_imgrec: "([^"]+)"', config_text("base")))):
        os.makedirs(data_root / os.path.dirname(rec_path), exist_ok=True)
        image_data.write_labelled_rec(str(data_root / rec_path), 64, short_edge=64)
    server = tls_certs.CertificateAuthority(tmp_path, "ca").issue(
        "server", sans=["IP:127.0.0.1", "DNS:localhost"])
    trainer_token, prometheus_token = "t" * 40, "p" * 40
    tokens = tmp_path / "tokens"
    tokens.write_text("trainer-a %s\nprometheus %s\n" % (trainer_token, prometheus_token))
    daemon = start_daemon(data_root, tmp_path / "iterd.stderr", [
        "--config=%s" % config_path, "--worker_threads=2", "--metrics_listen=127.0.0.1:0",
        "--tls_cert_file=%s" % server.cert, "--tls_key_file=%s" % server.key,
        "--auth_token_file=%s" % tokens])
    try:
        secure = dict(root_certificates=server.ca.cert, shared_memory=False)
        with iterd.Client(daemon.address, token=trainer_token, **secure) as client:
            names = [pipeline.name for pipeline in client.list_pipelines()]
            assert names == ["imagenet-train", "imagenet-val"]
        with iterd.Client(daemon.address, token=prometheus_token, **secure) as client:
            assert client.list_pipelines() == []
            with pytest.raises(iterd.PermissionDenied):
                client.open("imagenet-train")
    finally:
        assert stop_daemon(daemon) == 0, daemon.log()
