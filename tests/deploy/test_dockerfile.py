"""The image: hadolint-clean, multi-stage with the locked runtime dependencies, non-root, and in step
with the Deployment that runs it (user, command, port, writable folders)."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy import manifests
from tests.deploy.dockerfile import Stage, parse

DOCKERFILES = [manifests.REPO / "Dockerfile", manifests.K8S / "examples" / "mlflow-server" / "Dockerfile"]
CODE_PACKAGES = ("service", "drift", "training")


def hadolint(path: Path) -> list[dict[str, str]]:
    result = subprocess.run(
        [str(manifests.tool("hadolint")), "--format", "json", "--no-fail", "--disable-ignore-pragma", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=manifests.REPO,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout or "[]"))


def final_stage() -> Stage:
    return parse(manifests.REPO / "Dockerfile")[1][-1]


def predictor() -> dict[str, object]:
    return manifests.container(manifests.one(manifests.render("base"), "Deployment", manifests.PREDICTOR))


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(manifests.REPO)))
def test_hadolint_reports_nothing_at_warning_or_above(path: Path) -> None:
    findings = [f for f in hadolint(path) if f["level"] in ("error", "warning")]
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python -m service\n")
    codes = {f["code"] for f in hadolint(bad) if f["level"] in ("error", "warning")}
    assert {"DL3007", "DL3008"} <= codes


def test_image_is_multi_stage_and_installs_only_the_locked_runtime_dependencies() -> None:
    _, stages = parse(manifests.REPO / "Dockerfile")
    assert len(stages) >= 2
    *build_stages, runtime = stages
    syncs = [i.arguments for s in build_stages for i in s.all("RUN") if "uv sync" in i.arguments]
    assert len(syncs) == 1, syncs
    assert {"--locked", "--no-dev", "--no-install-project"} <= set(syncs[0].split())
    assert not [i for i in runtime.all("RUN") if re.search(r"\b(uv|pip)\b", i.arguments)], "installs at runtime"
    builder_names = {s.name for s in build_stages if s.name}
    venv_copies = [i for i in runtime.all("COPY") if "/app/.venv" in i.arguments]
    assert venv_copies, "the runtime stage does not copy the virtual environment"
    assert any(f"--from={name}" in venv_copies[0].arguments for name in builder_names)


def test_base_images_are_pinned_and_the_venv_moves_between_identical_pythons() -> None:
    _, stages = parse(manifests.REPO / "Dockerfile")
    for stage in stages:
        image = stage.base
        if image in {s.name for s in stages}:
            continue
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image.split("/")[-1]), f"{image} has no tag"
        assert not image.endswith(":latest"), image
    builder = next(s for s in stages if s.all("RUN") and any("uv sync" in i.arguments for i in s.all("RUN")))
    assert builder.base == stages[-1].base, "the venv's interpreter links would point at another Python"


def test_runs_as_the_numeric_non_root_user_of_the_pod_security_context() -> None:
    user = final_stage().last("USER")
    assert user is not None
    match = re.fullmatch(r"(\d+)(?::(\d+))?", user.arguments)
    assert match, f"USER {user.arguments} is not numeric: runAsNonRoot cannot verify a name"
    assert int(match.group(1)) != 0
    pod = manifests.pod_spec(manifests.one(manifests.render("base"), "Deployment", manifests.PREDICTOR))
    assert pod["securityContext"]["runAsUser"] == int(match.group(1))
    if match.group(2):
        assert pod["securityContext"]["runAsGroup"] == int(match.group(2))


def test_cmd_is_exec_form_and_is_what_the_deployment_runs() -> None:
    cmd = final_stage().last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["python", "-m", "service"]
    assert predictor()["command"] == cmd.exec_form()


def test_environment_and_port_match_the_pod() -> None:
    stage = final_stage()
    env = stage.env()
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"
    exposed = [int(p.split("/")[0]) for i in stage.all("EXPOSE") for p in i.arguments.split()]
    http = next(p for p in predictor()["ports"] if p["name"] == "http")  # type: ignore[attr-defined]
    assert exposed == [http["containerPort"]]
    for resource in (
        manifests.one(manifests.render("base"), kind, name)
        for kind, name in (("Deployment", manifests.PREDICTOR), ("CronJob", manifests.DRIFT))
    ):
        volumes = {v["name"]: v for v in manifests.pod_spec(resource)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in manifests.container(resource)["volumeMounts"]}
        folder = env["PROMETHEUS_MULTIPROC_DIR"]
        assert folder in mounts, f"{resource['kind']}: PROMETHEUS_MULTIPROC_DIR {folder} is not a mounted volume"
        assert "emptyDir" in volumes[mounts[folder]]


def _imported_top_level(package: Path) -> set[str]:
    names: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_image_holds_every_local_package_the_code_imports_and_every_copy_source_exists() -> None:
    copied: set[str] = set()
    for instruction in final_stage().all("COPY"):
        if "--from=" in instruction.arguments:
            continue
        sources = instruction.arguments.split()[:-1]
        for source in sources:
            assert (manifests.REPO / source).exists(), f"COPY {source}: no such file in the repository"
        copied.update(s.rstrip("/") for s in sources)
    local = {p.name for p in manifests.REPO.iterdir() if (p / "__init__.py").exists()} - {"tests"}
    needed = set(CODE_PACKAGES)
    for package in CODE_PACKAGES:
        if (manifests.REPO / package).is_dir():
            needed |= _imported_top_level(manifests.REPO / package) & local
    assert needed <= copied, f"imported but not in the image: {sorted(needed - copied)}"


def test_dockerignore_keeps_the_clutter_out_and_the_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (manifests.REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    required = {
        "tests",
        "k8s",
        "bench",
        "loadtests",
        ".venv",
        "mlflow.db",
        "mlartifacts",
        "capture",
        ".git",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "**/__pycache__",
    }
    assert required <= set(patterns), f"missing from .dockerignore: {sorted(required - set(patterns))}"
    used = ["pyproject.toml", "uv.lock", "MLproject", *CODE_PACKAGES, *(f"{p}/__init__.py" for p in CODE_PACKAGES)]
    ignored = [path for path in used for pattern in patterns if fnmatch.fnmatch(path, pattern.lstrip("/"))]
    assert ignored == [], f"the build needs these but .dockerignore drops them: {ignored}"


def test_image_uses_the_uv_version_the_makefile_bootstraps() -> None:
    makefile = manifests.REPO / "Makefile"
    pinned = re.search(r"^UV_VERSION\s*\??=\s*(\S+)", makefile.read_text(encoding="utf-8"), re.MULTILINE)
    if pinned is None:
        pytest.skip("the Makefile pins no UV_VERSION")
    build_args, _ = parse(manifests.REPO / "Dockerfile")
    assert build_args["UV_IMAGE"].endswith(f":{pinned.group(1)}"), "one uv version writes and reads uv.lock"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(manifests.REPO)))
def test_bases_are_build_arguments_so_a_build_needs_no_registry(path: Path) -> None:
    """.ci/base-images makes the bases where no registry is reachable and passes them as build
    arguments: every FROM is an ARG, an earlier stage or scratch, and no `# syntax=` line makes BuildKit
    pull its frontend."""
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE)
    stages: list[str] = []
    for line in re.findall(r"^FROM\s+(.+)$", text, re.MULTILINE):
        words = [w for w in line.split() if not w.startswith("--")]
        assert re.fullmatch(r"\$\{\w+\}", words[0]) or words[0] in (*stages, "scratch"), line
        if len(words) >= 3:
            stages.append(words[2])
