"""A Service in front of predictor pods, and clients sending traffic through it.

Endpoints are the pods whose readiness probe passes, re-probed at the probe's period, as the endpoints
controller keeps them; a pod being deleted leaves the endpoints at once (kubectl delete marks it
terminating before its preStop hook runs). Each request goes to the next endpoint in turn and carries
its own X-Request-ID, so every answered request can be found in the capture afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter

import httpx

from tests.containers.kubelet import Pod
from tests.traffic import ClientThreads


class Service:
    """Round-robin over ready pods; `remove` is the pod leaving the endpoints."""

    def __init__(self, pods: list[Pod]) -> None:
        self._pods = list(pods)
        self._ready = {pod.name: True for pod in pods}
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._prober = threading.Thread(target=self._probe_loop, daemon=True)
        self._prober.start()

    def endpoint(self) -> Pod:
        with self._lock:
            ready = [pod for pod in self._pods if self._ready[pod.name]]
        if not ready:
            raise RuntimeError("no ready endpoint behind the Service")
        return ready[next(self._turn) % len(ready)]

    def remove(self, pod: Pod) -> None:
        with self._lock:
            self._pods.remove(pod)

    def close(self) -> None:
        self._stop.set()
        self._prober.join(timeout=30)

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pods = list(self._pods)
            for pod in pods:
                ready = pod.probe("readinessProbe")
                with self._lock:
                    self._ready[pod.name] = ready
            period = min((float(p.container["readinessProbe"].get("periodSeconds", 10)) for p in pods), default=1.0)
            self._stop.wait(period)


class Clients(ClientThreads):
    """`count` clients posting `bodies` through the Service until stopped; records every outcome."""

    def __init__(self, service: Service, bodies: list[bytes], count: int = 4) -> None:
        super().__init__(count)
        self.service = service
        self.bodies = bodies
        self.count = count
        self.answered: set[str] = set()
        self.failures: list[str] = []
        self.by_pod: Counter[str] = Counter()
        self.versions: dict[str, str] = {}
        """The version each pod answered with last."""
        self.switched_at: dict[str, float] = {}
        """When (time.time()) each pod first answered with the version it answers with now."""

    @property
    def total(self) -> int:
        with self._lock:
            return len(self.answered) + len(self.failures)

    def _client(self, offset: int) -> None:
        headers = {"Content-Type": "application/json"}
        with httpx.Client(timeout=60) as client:
            for i in itertools.count(offset, self.count):
                if self._stop.is_set():
                    return
                pod = self.service.endpoint()
                request_id = f"c-{uuid.uuid4().hex}"
                body = self.bodies[i % len(self.bodies)]
                try:
                    response = client.post(
                        f"{pod.url()}/invocations", content=body, headers={**headers, "X-Request-ID": request_id}
                    )
                except httpx.HTTPError as error:
                    with self._lock:
                        self.failures.append(f"{pod.name}: {type(error).__name__}: {error}")
                    continue
                with self._lock:
                    if response.status_code == 200:
                        self.answered.add(request_id)
                        self.by_pod[pod.name] += 1
                        version = response.headers["x-model-version"]
                        if self.versions.get(pod.name) != version:
                            self.switched_at[pod.name] = time.time()
                        self.versions[pod.name] = version
                    else:
                        self.failures.append(f"{pod.name}: {response.status_code}: {response.text[:200]}")

    def wait_versions(self, pods: list[Pod], version: str, limit: float) -> float:
        """Until every pod answers with `version`; returns when the last one switched to it (time.time())."""
        deadline = time.monotonic() + limit
        while True:
            with self._lock:
                if all(self.versions.get(pod.name) == version for pod in pods):
                    return max(self.switched_at[pod.name] for pod in pods)
                seen = dict(self.versions)
            if time.monotonic() > deadline:
                raise AssertionError(f"not every pod serves version {version} after {limit:.0f} s: {seen}")
            time.sleep(0.2)
