# One image for the predictor (`python -m service`, the default) and the drift job
# (`python -m drift run ...`, the CronJob's command).
#
# Base images are pinned by tag. A digest (`python:3.11-slim-bookworm@sha256:...`) pins harder, but
# a digest cannot be looked up or verified without a registry: add it where one is reachable
# (`docker buildx imagetools inspect python:3.11-slim-bookworm`) and let Renovate/Dependabot bump it.
# uv comes from Astral's own image (their documented pattern) at the version that wrote uv.lock: no pip
# in the build, no extra layer, and the exact binary, not whatever a pip mirror resolves.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies only (runtime group, exactly as locked): this layer survives code changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

FROM ${PYTHON_IMAGE} AS runtime
# A numeric user, so `runAsNonRoot` can be verified by the kubelet. The code stays root-owned and
# read-only to it; only the metrics and capture folders (emptyDirs in Kubernetes) are its own.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/aliasserve/metrics /var/lib/aliasserve/capture
# HOME and MPLCONFIGDIR point at /tmp because the root filesystem is read-only in Kubernetes; no git in
# the image, so GitPython (MLflow Projects asks it for a commit) stays quiet instead of printing a page.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GIT_PYTHON_REFRESH=quiet \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/aliasserve/metrics \
    CAPTURE_URI=/var/lib/aliasserve/capture
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY MLproject ./
COPY training ./training
COPY drift ./drift
COPY service ./service
ARG GIT_COMMIT
ENV ALIASSERVE_GIT_COMMIT=$GIT_COMMIT
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK: Kubernetes ignores it and uses the probes on /health/live and /health/ready.
CMD ["python", "-m", "service"]
