"""The drift metrics arrive at a real Pushgateway with the SPEC's names, labels and values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from drift.push import push
from tests.drift.pushgateway import Pushgateway
from tests.drift.results import drift_result


def _samples(gateway: Pushgateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(gateway.metrics_text()):
        if family.name.startswith("drift_"):
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k != "instance"}
                samples[(sample.name, frozenset(labels.items()))] = sample.value
    return samples


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset({"job": "drift", "model": "demo-push", "version": "3", **labels}.items())


def test_the_pushgateway_receives_every_drift_metric(start_pushgateway: Callable[[], Pushgateway]) -> None:
    gateway = start_pushgateway()
    result = drift_result()
    push(result, gateway.url)
    samples = _samples(gateway)
    radius = result.features[0].comparison.distribution
    assert samples[_key("drift_statistic", feature="mean_radius", test="ks")] == radius.statistic
    assert samples[_key("drift_p_value", feature="size_band", test="chi2")] == 1.0
    assert samples[_key("drift_feature_detected", feature="mean_radius")] == 1.0
    assert samples[_key("drift_feature_detected", feature="mean_texture")] == 0.0
    assert samples[_key("drift_detected")] == 1.0
    assert samples[_key("drift_share_of_drifted_features")] == 1 / 3
    assert samples[_key("drift_reference_rows")] == 2_000
    assert samples[_key("drift_current_rows")] == 2_000
    assert samples[_key("drift_retrain_triggered")] == 1.0
    assert abs(samples[_key("drift_last_run_timestamp_seconds")] - datetime.now(UTC).timestamp()) < 600


def test_a_check_without_enough_data_replaces_the_old_verdict_instead_of_keeping_it(
    start_pushgateway: Callable[[], Pushgateway],
) -> None:
    gateway = start_pushgateway()
    push(drift_result(), gateway.url)
    push(drift_result(current_rows=12), gateway.url)
    names = {name for name, _ in _samples(gateway)}
    assert _samples(gateway)[_key("drift_current_rows")] == 12
    assert "drift_detected" not in names
    assert "drift_statistic" not in names
