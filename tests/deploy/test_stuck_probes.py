"""The probes and the app's stuck-model semantics fit: a stuck pod leaves the Service long before the
kubelet restarts it, and is restarted within a bounded time (STUCK_LIVENESS_S + the liveness failures)."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.deploy import manifests
from tests.deploy.test_policies import PREDICTOR_SETS, predictor

RESTART_WITHIN_S = 300
"""Longest a pod whose model calls are stuck may keep its slot before the kubelet restarts it."""


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_a_stuck_pod_leaves_the_service_then_is_restarted_in_bounded_time(name: str) -> None:
    container = manifests.container(predictor(name))
    configured = manifests.config_data(manifests.render(name)).get("STUCK_LIVENESS_S")
    stuck_liveness_s = float(configured or Settings.model_fields["stuck_liveness_s"].default)
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    unready_after = readiness["periodSeconds"] * readiness["failureThreshold"]
    restarted_after = stuck_liveness_s + liveness["periodSeconds"] * liveness["failureThreshold"]

    assert unready_after < stuck_liveness_s, "a stuck pod must leave the Service before /health/live fails"
    assert restarted_after <= RESTART_WITHIN_S
