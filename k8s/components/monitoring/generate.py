"""Build `prometheusrule.yaml` from `monitoring/alerts.yml`, so the alert rules are written once.

`monitoring/alerts.yml` is a plain Prometheus rules file (promtool checks it, Prometheus loads it
directly); the Prometheus Operator wants the same groups wrapped in a PrometheusRule. After editing the
alerts, run `uv run --frozen python k8s/components/monitoring/generate.py`; `--check` exits 1 when the
committed file is stale, and tests/deploy fail in that case too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
ALERTS = REPO / "monitoring" / "alerts.yml"
OUTPUT = Path(__file__).resolve().with_name("prometheusrule.yaml")
HEADER = (
    "# Generated from monitoring/alerts.yml by k8s/components/monitoring/generate.py: do not edit.\n"
    "# kube-prometheus-stack selects rules by label (`release: <its release name>` by default).\n"
)


class _BlockStyleDumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL, descriptions) as `|` blocks, as a person would."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def prometheus_rule(rules_file: Any, name: str = "aliasserve") -> dict[str, Any]:
    """The PrometheusRule resource holding the `groups` of a Prometheus rules file, unchanged."""
    groups = rules_file.get("groups") if isinstance(rules_file, dict) else None
    if not isinstance(groups, list) or not groups:
        raise ValueError("the rules file has no `groups` list")
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "aliasserve"}},
        "spec": {"groups": groups},
    }


def render(alerts: Path = ALERTS) -> str:
    """The text `prometheusrule.yaml` should have for the given rules file."""
    document = yaml.safe_load(alerts.read_text(encoding="utf-8"))
    body = yaml.dump(
        prometheus_rule(document),
        Dumper=_BlockStyleDumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
    )
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=Path, default=ALERTS, help="Prometheus rules file to wrap")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="PrometheusRule file to write")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output is out of date")
    args = parser.parse_args(argv)
    try:
        expected = render(args.alerts)
    except (OSError, yaml.YAMLError, ValueError) as error:
        print(f"generate.py: cannot read {args.alerts}: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != expected:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(expected, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
