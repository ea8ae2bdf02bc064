"""Render `prometheus.yml.tmpl` into a Prometheus configuration, and find the Prometheus binaries."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from string import Template

MONITORING_DIR = Path(__file__).resolve().parent
TEMPLATE = MONITORING_DIR / "prometheus.yml.tmpl"
ALERTS = MONITORING_DIR / "alerts.yml"
INSTALL_HINT = "make monitoring-tools  (runs: apt-get install -y prometheus prometheus-pushgateway)"


def render_config(
    predictor_targets: Sequence[str],
    pushgateway_targets: Sequence[str] = (),
    rule_files: Sequence[Path] = (ALERTS,),
    scrape_interval: str = "15s",
    evaluation_interval: str | None = None,
) -> str:
    """The configuration text: predictors scraped as job `aliasserve`, Pushgateways with honor_labels.

    Lists are written as JSON flow sequences, which are valid YAML and need no quoting rules of their own.
    """
    return Template(TEMPLATE.read_text()).substitute(
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval or scrape_interval,
        rule_files=json.dumps([str(Path(path).resolve()) for path in rule_files]),
        predictor_targets=json.dumps(list(predictor_targets)),
        pushgateway_targets=json.dumps(list(pushgateway_targets)),
    )


def find_binary(name: str) -> Path | None:
    """`name` on PATH, else under /usr/bin where the Debian packages put it; None when missing."""
    found = shutil.which(name)
    if found:
        return Path(found)
    fallback = Path("/usr/bin") / name
    return fallback if fallback.is_file() else None
