"""The Docker engine the container tests drive, through Debian's client (`/usr/bin/docker`, BuildKit built in).

Outside CI a missing engine or image skips these tests with a loud reason; in CI (`CI=true`, where
`.ci/run` starts the daemon and builds the images) it fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from tests.helpers import not_installed

DOCKER = os.environ.get("ALIASSERVE_DOCKER", "/usr/bin/docker")
IMAGE = os.environ.get("ALIASSERVE_IMAGE", "aliasserve:dev")
MLFLOW_IMAGE = os.environ.get("ALIASSERVE_MLFLOW_IMAGE", "aliasserve-mlflow:3.17.2")
LABEL = "aliasserve-test"
"""Every container and network a test creates carries this label, valued with the session's id."""


def unavailable(reason: str) -> NoReturn:
    not_installed(
        f"container tests must run in CI: {reason}",
        f"SKIPPING container tests: {reason} (.ci/run starts dockerd and builds the images)",
    )


BUILD_DEADLINE_S = 1800.0
"""How long the tests wait for `.ci/with-docker`'s background build (a clean machine's debootstrap included)."""


def wait_for_the_build() -> None:
    """Under `.ci/with-docker` the images build while the suite runs: wait for its exit status (a file it
    writes when the build ends), then skip (fail in CI) with the build log's tail if it failed."""
    status_file = os.environ.get("ALIASSERVE_IMAGES_BUILT")
    if not status_file:
        return
    status = Path(status_file)
    deadline = time.monotonic() + BUILD_DEADLINE_S
    while not status.exists():
        if time.monotonic() > deadline:
            unavailable(f"the images' background build did not end in {BUILD_DEADLINE_S:.0f} s")
        time.sleep(1.0)  # polling a file another process writes once: no event to wait on
    if status.read_text().strip() != "0":
        log = Path(os.environ.get("ALIASSERVE_IMAGES_LOG", status_file + ".log"))
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        unavailable(f"the images' build failed ({status.read_text().strip()}): {tail}")


@dataclass(frozen=True)
class Network:
    """A user-defined bridge network, `--internal`: containers reach each other by name and the host
    through the gateway address (where the test binds its own services), nothing beyond."""

    name: str
    gateway: str


class Engine:
    """`docker` commands, each with a deadline; everything created is labelled for clean-up."""

    def __init__(self, binary: str = DOCKER) -> None:
        self.binary = binary
        self.session = uuid.uuid4().hex[:8]

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} ... failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def require(self, *images: str) -> None:
        """Skip (fail in CI) unless the daemon answers and every image is present (once built: below)."""
        wait_for_the_build()
        if not os.path.exists(self.binary):
            unavailable(f"no Docker client at {self.binary}")
        try:
            info = self("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
        except subprocess.TimeoutExpired:
            unavailable("the Docker daemon does not answer")
        if info.returncode != 0:
            unavailable(f"no Docker daemon: {info.stderr.strip()[:200]}")
        for image in images:
            if self("image", "inspect", image, check=False).returncode != 0:
                unavailable(f"image {image} is not built")

    def name(self, what: str) -> str:
        return f"i-{self.session}-{what}"

    @contextmanager
    def network(self) -> Iterator[Network]:
        name = self.name("net")
        self("network", "create", "--internal", "--label", f"{LABEL}={self.session}", name)
        try:
            config = json.loads(self("network", "inspect", name).stdout)[0]["IPAM"]["Config"][0]
            yield Network(name, config["Gateway"])
        finally:
            self.remove_all()
            self("network", "rm", name, check=False)

    def remove_all(self) -> None:
        """Remove every container this session started (running or not)."""
        found = self("ps", "-aq", "--filter", f"label={LABEL}={self.session}").stdout.split()
        if found:
            self("rm", "-f", *found, check=False, timeout=120)

    def ip(self, container: str, network: str) -> str:
        return self(
            "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', container
        ).stdout.strip()

    def running(self, container: str) -> bool:
        result = self("inspect", "-f", "{{.State.Running}}", container, check=False)
        return result.stdout.strip() == "true"

    def exit_code(self, container: str) -> int | None:
        """None while it runs."""
        state = json.loads(self("inspect", "-f", "{{json .State}}", container).stdout)
        return None if state["Running"] else int(state["ExitCode"])

    def logs(self, container: str) -> str:
        result = self("logs", container, check=False)
        return result.stdout + result.stderr

    def stdout(self, container: str) -> str:
        return self("logs", container, check=False).stdout

    def image_size(self, image: str) -> int:
        return int(self("image", "inspect", "-f", "{{.Size}}", image).stdout.strip())
