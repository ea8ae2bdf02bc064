# Everyday commands. `make demo` and `make test` work on a fresh machine: uv is bootstrapped when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION ?= 0.13.9
PYTHON3 ?= python3
# uv from PATH, else `python3 -m uv` where that works, else a private copy in .uv-bootstrap/ made on first
# use (`make uv-bootstrap`): a virtual environment of its own, because a system Python may refuse pip
# installs (PEP 668, "externally-managed-environment": Debian 12, Ubuntu 24.04).
UV_BOOTSTRAP := .uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || { $(PYTHON3) -m uv --version >/dev/null 2>&1 && echo $(PYTHON3) -m uv; } || echo $(UV_BOOTSTRAP)/bin/uv)
PY := .venv/bin/python
DEMO_PORT ?= 8000

.PHONY: help uv-bootstrap install demo demo-loop seed test lint format bench load monitor monitoring-tools k8s-rules image image-local system-deps clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

uv-bootstrap:  ## uv itself, when missing: into a private virtual environment .uv-bootstrap/ (never the system Python)
	@$(UV) --version >/dev/null 2>&1 || { echo ">> bootstrapping uv $(UV_VERSION) into $(UV_BOOTSTRAP)/"; \
		$(PYTHON3) -m venv $(UV_BOOTSTRAP) && $(UV_BOOTSTRAP)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	@$(UV) --version

.venv/.installed: pyproject.toml uv.lock
	@$(MAKE) --no-print-directory uv-bootstrap
	$(UV) sync --locked
	@touch $@

install: .venv/.installed  ## the locked environment in .venv (runtime + dev tools)

seed: install  ## register the demo model in the embedded registry (sqlite:///mlflow.db, ./mlartifacts)
	$(PY) -m training seed-demo

demo: seed  ## set everything up and serve the demo model on http://127.0.0.1:$(DEMO_PORT)
	@echo
	@echo ">> serving models:/demo@Production on http://127.0.0.1:$(DEMO_PORT)  (Ctrl-C stops)"
	@echo ">> try, in another terminal:"
	@echo "   curl -s http://127.0.0.1:$(DEMO_PORT)/invocations -H 'Content-Type: application/json' -d @demo/request.json"
	@echo "   curl -s http://127.0.0.1:$(DEMO_PORT)/model"
	@echo "   curl -s http://127.0.0.1:$(DEMO_PORT)/metrics | grep ^model_"
	@echo
	MODEL_URI=models:/demo@Production HOST=127.0.0.1 PORT=$(DEMO_PORT) LOG_FORMAT=text $(PY) -m service

BENCH_ARGS ?=
bench: install  ## throughput vs mlflow models serve and MLServer, reload latency, drift vs Evidently -> bench/*.md
	.ci/system-deps
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench --many-models $(filter --quick,$(BENCH_ARGS))
	$(PY) -m bench.drift.run

LOAD_ARGS ?=
load: install  ## locust, headless and bounded (60 s), against make demo's service; reports in loadtests/reports/
	$(PY) loadtests/run.py $(LOAD_ARGS)

MONITOR_ARGS ?=
monitor: install  ## Prometheus (alerts loaded) + Pushgateway on 127.0.0.1:9090/9091 scraping make demo's :8000
	$(PY) -m monitoring.run_local $(MONITOR_ARGS)

monitoring-tools:  ## Prometheus, promtool and the Pushgateway from Debian's packages (needs root)
	.ci/system-deps

k8s-rules: install  ## regenerate the PrometheusRule from monitoring/alerts.yml
	$(PY) k8s/components/monitoring/generate.py

# Debian's docker client has BuildKit built in (RUN --mount); a newer client without buildx does not.
DOCKER ?= $(shell test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)
image:  ## build the image from Docker Hub's python and ghcr.io's uv (where a registry is reachable)
	DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null) -t aliasserve:$(or $(TAG),dev) .

image-local:  ## build the image and the example MLflow server's image with base images made here (no registry)
	DOCKER=$(DOCKER) ALIASSERVE_IMAGE=aliasserve:$(or $(TAG),dev) .ci/images

demo-loop: seed  ## the whole loop in a couple of minutes: traffic, drift, retraining, promotion, the service switching
	$(PY) -m demo.loop

system-deps:  ## Debian packages the full suite uses: prometheus, pushgateway, postgresql, wrk (needs root)
	.ci/system-deps

test: install  ## the whole test suite
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

lint: install  ## ruff (lint + format check) and mypy --strict
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy service drift training monitoring k8s/components/monitoring/generate.py

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:  ## remove the demo registry, artifacts and capture
	rm -rf mlflow.db mlartifacts capture .monitor
