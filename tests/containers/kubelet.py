"""Run a rendered workload's container the way the kubelet would, with `docker run`.

What is honoured, from the manifest only: `command`/`args` (Kubernetes' `command` replaces the image's
entrypoint and drops its CMD; `$(VAR)` expanded from the container's env), `env`/`envFrom` with ConfigMap
references resolved from the rendered ConfigMaps and Secret references from test values (a missing key
that is not `optional` refuses to start, like CreateContainerConfigError), the pod's and the container's
securityContext (user and group, fsGroup as a supplementary group, runAsNonRoot, read-only root,
capabilities, no privilege escalation, seccomp), `emptyDir` volumes as tmpfs (size from `sizeLimit`),
CPU and memory limits, `terminationGracePeriodSeconds`, the `preStop` hook, and the probes, polled at
their period against the pod's address with the kubelet's rules (HTTP 200-399 succeeds; startup first;
`failureThreshold` consecutive failures).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.containers.engine import LABEL, Engine, Network
from tests.deploy import manifests

Secrets = dict[str, dict[str, str]]
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FACTORS = {
    None: 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}


class ProbeFailed(AssertionError):
    """A probe failed `failureThreshold` times in a row: the kubelet would restart the container."""


def quantity(value: str | int) -> float:
    """A Kubernetes resource quantity: CPUs for `m`/plain numbers, bytes for the binary/decimal suffixes."""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"unsupported quantity {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number / 1000 if unit == "m" else number * _FACTORS[unit]


def run_arguments(pod: dict[str, Any], container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """`docker run` options for the pod's security context, volumes, limits, and the command line."""
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    uid, gid = security.get("runAsUser"), security.get("runAsGroup")
    assert not (security.get("runAsNonRoot") and uid in (None, 0)), "runAsNonRoot needs a numeric non-root runAsUser"
    options: list[str] = []
    if uid is not None:
        options += ["--user", f"{uid}:{gid if gid is not None else uid}"]
    fs_group = pod.get("securityContext", {}).get("fsGroup")
    if fs_group is not None:
        options += ["--group-add", str(fs_group)]
    if security.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    if security.get("privileged"):
        options.append("--privileged")
    for capability in security.get("capabilities", {}).get("drop", []):
        options += ["--cap-drop", capability]
    for capability in security.get("capabilities", {}).get("add", []):
        options += ["--cap-add", capability]
    if security.get("seccompProfile", {}).get("type", "RuntimeDefault") == "Unconfined":
        options += ["--security-opt", "seccomp=unconfined"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"volume {mount['name']}: only emptyDir is run here"
        # An emptyDir is a fresh directory anyone may write (0777, group fsGroup). Docker's tmpfs takes
        # the mode of the image's folder under it instead: owning it by the pod's user gives the same rights.
        size = volume["emptyDir"].get("sizeLimit")
        tmpfs = [f"uid={uid if uid is not None else 0}", f"gid={fs_group if fs_group is not None else 0}"]
        options += [
            "--tmpfs",
            f"{mount['mountPath']}:" + ",".join(tmpfs + ([f"size={int(quantity(size))}"] if size else [])),
        ]
    limits = container.get("resources", {}).get("limits", {})
    if "cpu" in limits:
        options += ["--cpus", str(quantity(limits["cpu"]))]
    if "memory" in limits:
        options += ["--memory", str(int(quantity(limits["memory"])))]
    for name, value in env.items():
        options += ["--env", f"{name}={value}"]
    command = [manifests.expand(a, dict(env)) for a in container.get("command", [])]
    args = [manifests.expand(a, dict(env)) for a in container.get("args", [])]
    if command:
        options += ["--entrypoint", command[0]]
    return [*options, container["image"], *command[1:], *args]


def container_env(resources: list[manifests.Resource], container: dict[str, Any], secrets: Secrets) -> dict[str, str]:
    """The environment the kubelet would give the container; `$(VAR)` in values refers to earlier ones."""
    resolved = manifests.env_values(resources, container, secrets)
    env: dict[str, str] = {}
    for name, value in resolved.items():
        if value is not None:
            env[name] = manifests.expand(value, dict(env))
    return env


@dataclass
class Pod:
    """One container of a workload, running under `docker` on the test's network."""

    engine: Engine
    name: str
    pod: dict[str, Any]
    container: dict[str, Any]
    ip: str = ""
    started_at: float = 0.0
    probe_log: list[str] = field(default_factory=list)

    @property
    def ports(self) -> dict[str, int]:
        return {p["name"]: p["containerPort"] for p in self.container.get("ports", []) if "name" in p}

    def url(self, port: str | int = "http") -> str:
        return f"http://{self.ip}:{self.ports.get(str(port), port)}"

    def probe(self, kind: str) -> bool:
        """One probe as the kubelet sends it; True on success."""
        spec = self.container[kind]
        timeout = float(spec.get("timeoutSeconds", 1))
        if "httpGet" in spec:
            get = spec["httpGet"]
            port = self.ports.get(str(get["port"]), get["port"])
            url = f"{get.get('scheme', 'HTTP').lower()}://{self.ip}:{port}{get.get('path', '/')}"
            try:
                status = httpx.get(url, timeout=timeout).status_code
            except httpx.HTTPError as error:
                self.probe_log.append(f"{kind} {url}: {type(error).__name__}")
                return False
            self.probe_log.append(f"{kind} {url}: {status}")
            return 200 <= status < 400
        if "exec" in spec:
            return (
                self.engine("exec", self.name, *spec["exec"]["command"], check=False, timeout=timeout).returncode == 0
            )
        raise AssertionError(f"{kind}: only httpGet and exec probes are run here")

    def wait_probe(self, kind: str, limit: float) -> float:
        """Poll a probe at its period until it succeeds; returns when. Raises ProbeFailed on
        `failureThreshold` consecutive failures (startup and liveness), or after `limit` seconds."""
        spec = self.container[kind]
        period = float(spec.get("periodSeconds", 10))
        threshold = int(spec.get("failureThreshold", 3))
        time.sleep(max(0.0, self.started_at + float(spec.get("initialDelaySeconds", 0)) - time.monotonic()))
        failures = 0
        deadline = time.monotonic() + limit
        while True:
            if not self.engine.running(self.name):
                raise ProbeFailed(f"{self.name} exited during {kind}:\n{self.engine.logs(self.name)[-3000:]}")
            if self.probe(kind):
                return time.monotonic()
            failures += 1
            if (kind != "readinessProbe" and failures >= threshold) or time.monotonic() > deadline:
                raise ProbeFailed(
                    f"{self.name}: {kind} failed {failures} times: {self.probe_log[-3:]}\n"
                    f"{self.engine.logs(self.name)[-3000:]}"
                )
            time.sleep(period)

    def wait_ready(self, limit: float = 300) -> float:
        """Startup probe, then readiness (and one liveness check); returns seconds from `docker run`."""
        if "startupProbe" in self.container:
            self.wait_probe("startupProbe", limit)
        if "livenessProbe" in self.container:
            self.wait_probe("livenessProbe", limit)
        ready = self.wait_probe("readinessProbe", limit) if "readinessProbe" in self.container else time.monotonic()
        return ready - self.started_at

    def delete(self) -> int:
        """`kubectl delete pod`: the preStop hook, then SIGTERM, SIGKILL after the grace period."""
        grace = int(self.pod.get("terminationGracePeriodSeconds", 30))
        started = time.monotonic()
        hook = self.container.get("lifecycle", {}).get("preStop", {}).get("exec")
        if hook:
            self.engine("exec", self.name, *hook["command"], check=False, timeout=grace)
        left = max(1, int(grace - (time.monotonic() - started)))
        self.engine("stop", "--time", str(left), self.name, timeout=left + 30)
        code = self.engine.exit_code(self.name)
        assert code is not None
        return code

    def wait_exit(self, limit: float) -> int:
        """A Job's container: its exit code, within `limit` seconds (activeDeadlineSeconds)."""
        deadline = time.monotonic() + limit
        while (code := self.engine.exit_code(self.name)) is None:
            if time.monotonic() > deadline:
                self.engine("kill", self.name, check=False)
                raise AssertionError(
                    f"{self.name} still running after {limit:.0f} s:\n{self.engine.logs(self.name)[-3000:]}"
                )
            time.sleep(0.5)
        return code


def start(
    engine: Engine,
    network: Network,
    resources: list[manifests.Resource],
    workload: manifests.Resource,
    name: str,
    *,
    secrets: Secrets,
    image: str,
    aliases: tuple[str, ...] = (),
    hosts: dict[str, str] | None = None,
) -> Pod:
    """`docker run -d` the workload's (single) container as `name`, its image replaced by the tested one.

    `aliases` are the DNS names other containers reach it by (a Service's names); `hosts` maps names
    to addresses (Services that the test runs on the host, at the network's gateway).
    """
    pod = manifests.pod_spec(workload)
    container = {**manifests.container(workload), "image": image}
    env = container_env(resources, container, secrets)
    options = ["--detach", "--name", name, "--label", f"{LABEL}={engine.session}", "--network", network.name]
    for alias in aliases:
        options += ["--network-alias", alias]
    for host, address in (hosts or {}).items():
        options += ["--add-host", f"{host}:{address}"]
    arguments = run_arguments(pod, container, env)
    started = Pod(engine, name, pod, container)
    started.started_at = time.monotonic()
    engine("run", *options, *arguments)
    started.ip = engine.ip(name, network.name)
    return started
