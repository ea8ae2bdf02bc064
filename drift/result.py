"""What a drift check found, and its JSON form (the last stdout line and `drift_report.json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift.capture_reader import Window
from drift.disagreement import ShadowReport
from drift.verdict import FeatureVerdict, Thresholds

INSUFFICIENT_DATA = "insufficient data"


@dataclass
class DriftResult:
    """Everything the report, the MLflow run, the metrics push and the JSON line are made from."""

    model: str
    model_version: str
    model_uri: str
    window: Window
    window_length: str
    thresholds: Thresholds
    min_rows: int
    reference_rows: int
    current_rows: int
    window_rows: int
    corrupt_files: list[str]
    mismatched_files: int
    features: list[FeatureVerdict] = field(default_factory=list)
    prediction: FeatureVerdict | None = None
    prediction_note: str | None = None
    include_prediction: bool = False
    run_id: str | None = None
    retrain: dict[str, Any] = field(default_factory=lambda: {"triggered": False, "reason": "not requested"})
    timings: dict[str, float] = field(default_factory=dict)
    shadow: ShadowReport | None = None
    """Where the shadow (challenger) disagreed with production, when captured rows carry shadow output."""

    @property
    def insufficient(self) -> bool:
        return self.current_rows < self.min_rows

    @property
    def counted(self) -> list[FeatureVerdict]:
        """The features the verdict is made of (the prediction only with --include-prediction)."""
        extra = [self.prediction] if self.include_prediction and self.prediction is not None else []
        return [*self.features, *extra]

    @property
    def drift_detected(self) -> bool | None:
        return None if self.insufficient else any(v.drifted for v in self.counted)

    @property
    def share_drifted(self) -> float | None:
        counted = self.counted
        if self.insufficient or not counted:
            return None
        return sum(v.drifted for v in counted) / len(counted)

    @property
    def drifted_features(self) -> list[str]:
        return [v.name for v in self.features if v.drifted]


def feature_json(verdict: FeatureVerdict) -> dict[str, Any]:
    """`{test, statistic, p_value, drifted}` (SPEC) plus the corrected p-value, distance and missing share."""
    comparison = verdict.comparison
    out: dict[str, Any] = {
        "test": comparison.distribution.test,
        "statistic": comparison.distribution.statistic,
        "p_value": comparison.distribution.p_value,
        "drifted": verdict.drifted,
        "p_value_corrected": verdict.p_value_corrected,
        "distance": comparison.distribution.distance,
        "kind": comparison.kind,
        "reference_missing_share": comparison.reference_missing_share,
        "current_missing_share": comparison.current_missing_share,
    }
    if comparison.missing is not None:
        out["missing"] = {
            "test": comparison.missing.test,
            "statistic": comparison.missing.statistic,
            "p_value": comparison.missing.p_value,
            "p_value_corrected": verdict.missing_p_value_corrected,
            "distance": comparison.missing.distance,
        }
    return out


def result_json(result: DriftResult) -> dict[str, Any]:
    """The SPEC's JSON object, with `window`, `corrupt_files` and the settings that shaped the verdict."""
    prediction: dict[str, Any] = {"counted": result.include_prediction}
    if result.prediction is not None:
        prediction.update(feature_json(result.prediction))
    if result.prediction_note is not None:
        prediction["note"] = result.prediction_note
    thresholds = result.thresholds
    return {
        "drift_detected": result.drift_detected,
        "reason": INSUFFICIENT_DATA if result.insufficient else None,
        "model": result.model,
        "model_version": result.model_version,
        "model_uri": result.model_uri,
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "window": {
            "length": result.window_length,
            "start": result.window.start.isoformat(),
            "end": result.window.end.isoformat(),
            "rows": result.window_rows,
        },
        "corrupt_files": len(result.corrupt_files),
        "mismatched_files": result.mismatched_files,
        "run_id": result.run_id,
        "retrain": result.retrain,
        "drift_share_of_drifted_features": result.share_drifted,
        "drifted_features": result.drifted_features,
        "alpha": thresholds.alpha,
        "correction": thresholds.correction,
        "ks_min_statistic": thresholds.ks_min_statistic,
        "min_distance": thresholds.min_distance,
        "min_rows": result.min_rows,
        "features": {v.name: feature_json(v) for v in result.features},
        "prediction": prediction,
        "shadow": None if result.shadow is None else result.shadow.as_dict(),
        "timings_s": {step: round(seconds, 3) for step, seconds in result.timings.items()},
    }
